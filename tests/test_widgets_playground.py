"""ContainerPlayground driven through its command line and buttons, no browser."""

from __future__ import annotations

import os

import pytest

from layerlab import Image, Layer
from layerlab.build import base_image
from layerlab.container import ContainerState
from layerlab.store import Store
from layerlab.widgets import ContainerPlayground


@pytest.fixture
def store() -> Store:
    store = Store.temporary()
    store.add(base_image("layerlab/tiny"), tag="tiny")
    return store


def test_a_command_runs_and_the_diff_updates(store: Store) -> None:
    play = ContainerPlayground(store.create_container("tiny", name="demo"))
    assert repr(play) == "<ContainerPlayground: demo created>"
    play.command.value = "echo hi > /happy.txt"  # what pressing Enter does
    assert play.command.value == ""
    assert play.container.state is ContainerState.RUNNING  # started by the first command
    assert play.diff_lines() == ["A /happy.txt"]
    assert "A /happy.txt" in play.diff.value
    assert "happy.txt" in play.rw_layer.value
    assert "exit status 0" in play.status.value
    assert "$ echo hi &gt; /happy.txt" in play.output.value


def test_output_and_failing_exit_status(store: Store) -> None:
    play = ContainerPlayground(store.create_container("tiny"))
    result = play.run("echo hello; nosuch")
    assert result is not None and result.exit_code == 127
    assert "hello" in play.output.value and "not found" in play.output.value
    assert "exit status 127" in play.status.value


def test_the_same_command_twice_runs_twice(store: Store) -> None:
    play = ContainerPlayground(store.create_container("tiny"))
    play.command.value = "echo x >> /log"
    play.command.value = "echo x >> /log"
    assert play.container.read_text("/log") == "x\nx\n"
    play.command.value = "cat /log"
    play.run_button.click()  # empty text after Enter: the button does nothing
    assert len(play.transcript) == 3


def test_copy_ups_flash_for_the_last_command_only(store: Store) -> None:
    play = ContainerPlayground(store.create_container("tiny"))
    play.run("echo more >> /etc/hostname")
    assert any("copy-up /etc/hostname" in e for e in play.new_copy_ups)
    assert "copy-up!" in play.copy_ups.value and "/etc/hostname" in play.copy_ups.value
    play.run("echo again >> /etc/hostname")  # already up: nothing new
    assert play.new_copy_ups == []
    assert "none" in play.copy_ups.value


def test_whiteouts_show_in_the_read_write_layer(store: Store) -> None:
    play = ContainerPlayground(store.create_container("tiny"))
    play.run("rm /etc/hostname")
    assert "D /etc/hostname" in play.diff_lines()
    assert "(whiteout)" in play.rw_layer.value


def test_lifecycle_buttons_processes_and_host_panel(store: Store) -> None:
    play = ContainerPlayground(store.create_container("tiny", name="life"))
    buttons = play.buttons
    assert not buttons["start"].disabled and buttons["stop"].disabled
    buttons["start"].click()
    assert play.container.state is ContainerState.RUNNING
    assert "running" in play.state.value
    pid1 = play.container.top()[0]
    assert f"<td style='padding:0 10px 0 0;text-align:left'>{pid1.host_pid}</td>" in (
        play.processes.value)
    assert pid1.pid == 1 and pid1.host_pid != 1
    play.run("echo hi > /happy.txt")
    buttons["pause"].click()
    assert "paused" in play.state.value and not buttons["unpause"].disabled
    play.run("ls")
    assert "paused: press unpause" in play.status.value
    buttons["unpause"].click()
    buttons["stop"].click()
    assert play.container.state is ContainerState.EXITED
    assert "no processes" in play.processes.value
    files = play.host_files()
    assert files is not None and "happy.txt" in files  # it stays on disk after stop
    assert "happy.txt" in play.host.value
    assert play.run("ls") is None
    assert "is stopped" in play.status.value and "press start" in play.status.value
    directory = store.container_dir(play.container)
    buttons["rm"].click()
    assert play.container.state is ContainerState.REMOVED
    assert not os.path.exists(directory)
    assert play.host_files() is None and "gone" in play.host.value
    assert all(b.disabled for b in buttons.values())
    assert play.diff_lines() == [] and "gone" in play.diff.value


def test_a_refused_lifecycle_action_is_shown(store: Store) -> None:
    play = ContainerPlayground(store.create_container("tiny"))
    play.lifecycle("stop")  # created, not running
    assert "cannot stop" in play.output.value
    with pytest.raises(ValueError, match="unknown lifecycle action"):
        play.lifecycle("explode")


def test_without_a_store_there_is_no_host_panel() -> None:
    c = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"})]).create_container()
    play = ContainerPlayground(c)
    assert play.store is None and play.host_files() is None
    assert "not in a Store" in play.host.value
    play.run("echo hi > /happy.txt")  # CMD defaults to /bin/sh, so it starts and runs
    assert play.diff_lines() == ["A /happy.txt"]


def test_static_html_is_the_container_repr(store: Store) -> None:
    play = ContainerPlayground(store.create_container("tiny"))
    play.run("echo hi > /happy.txt")
    bundle = play._repr_mimebundle_()
    assert bundle["text/html"] == play.container._repr_html_()
    assert "/happy.txt" in bundle["text/html"]


@pytest.mark.parametrize("form", ["native", "xattr"])
def test_the_host_panel_names_whiteouts_and_opaque_dirs_in_either_form(
    store: Store, form: str
) -> None:
    if form == "xattr":  # the unprivileged form, whoever runs the test
        store._as_root = False
    play = ContainerPlayground(store.create_container("tiny", name="wh"))
    play.run("rm /etc/hostname")
    play.run("rm -r /bin")
    play.run("mkdir /bin")  # a directory that replaces the image's: opaque
    lines = {line.split("</code>")[0].split("<code>")[-1]: line
             for line in play.host.value.split("<div>")[1:]}
    hostname = lines["etc/hostname"]
    if form == "xattr" or os.geteuid() != 0:
        assert "(whiteout: empty file with an overlay xattr)" in hostname
    else:
        assert "c 0/0 (whiteout)" in hostname
    assert "dir (opaque)" in lines["bin"]
    # /etc holds a whiteout but is not opaque (in the xattr form it is marked "x")
    assert "(opaque)" not in lines["etc"] and "whiteout" not in lines["etc"]
