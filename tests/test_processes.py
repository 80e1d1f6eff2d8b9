"""Process spaces: PIDs from 1 inside each container, every process on the host."""

from __future__ import annotations

import pytest

from layerlab import Image, Layer
from layerlab.container import Container
from layerlab.errors import ContainerStateError
from layerlab.processes import Host

IMAGE = Image.from_layers(
    [Layer.from_dict({"/etc/motd": "hi\n"})], config={"cmd": ["sleep", "infinity"]}
)
NGINX = IMAGE.with_config(cmd=["nginx", "-g", "daemon off;"])


def running(host: Host, image: Image = IMAGE, name: str | None = None) -> Container:
    return Container(image, host=host, name=name).start()


def test_pid_1_is_the_image_command() -> None:
    host = Host()
    c = running(host)
    (pid1,) = c.top()
    assert (pid1.pid, pid1.ppid, pid1.argv, pid1.command) == (1, 0, ("sleep", "infinity"),
                                                              "sleep infinity")
    assert pid1.container == c.name and pid1.state == "running"
    assert host.container_processes() == [pid1]


def test_a_created_container_has_no_processes() -> None:
    host = Host()
    c = Container(IMAGE, host=host)
    assert c.top() == [] and host.container_processes() == []


def test_host_sees_every_container_under_distinct_host_pids() -> None:
    host = Host(first_pid=100)
    a = running(host, name="a")
    b = running(host, NGINX, name="b")
    assert [p.pid for p in a.top()] == [1] and [p.pid for p in b.top()] == [1]
    on_host = host.container_processes()
    assert [(p.host_pid, p.container, p.pid) for p in on_host] == [(100, "a", 1), (101, "b", 1)]
    assert on_host[1].command == "nginx -g 'daemon off;'"


def test_one_container_never_sees_anothers_processes() -> None:
    host = Host()
    a, b = running(host, name="a"), running(host, NGINX, name="b")
    assert {p.container for p in a.top()} == {"a"}
    assert {p.container for p in b.top()} == {"b"}
    a.stop()
    assert a.top() == [] and [p.container for p in b.top()] == ["b"]
    assert [p.container for p in host.container_processes()] == ["b"]


def test_stop_and_kill_end_every_process_and_restart_begins_at_pid_1() -> None:
    host = Host()
    c = running(host)
    c.stop()
    assert c.top() == [] and host.container_processes() == []
    c.start()
    assert [p.pid for p in c.top()] == [1]
    assert c.top()[0].host_pid != 4001  # host PIDs are never reused
    c.kill()
    assert c.top() == [] and host.container_processes() == []


def test_pause_marks_every_process_paused() -> None:
    host = Host()
    c = running(host)
    other = running(host, NGINX)
    c.pause()
    assert [p.state for p in c.top()] == ["paused"]
    assert {p.container: p.state for p in host.container_processes()} == {c.name: "paused",
                                                                other.name: "running"}
    c.unpause()
    assert [p.state for p in c.top()] == ["running"]
    assert all(p.state == "running" for p in host.container_processes())


def test_hosts_are_independent() -> None:
    one, two = Host(), Host()
    running(one)
    assert two.container_processes() == []


def test_exec_adds_a_process_while_it_runs() -> None:
    host = Host()
    c = running(host)
    result = c.exec("echo hi")
    assert result.exit_code == 0
    assert [p.pid for p in c.top()] == [1]  # a foreground exec has finished
    c.exec(["sleep", "1000"], detach=True)
    c.exec("echo again", detach=True)
    assert [(p.pid, p.command) for p in c.top()] == [
        (1, "sleep infinity"), (3, "sleep 1000"), (4, "echo again")]  # no sh -c
    assert len(host.container_processes()) == 3
    assert len({p.host_pid for p in host.container_processes()}) == 3
    c.pause()
    assert {p.state for p in c.top()} == {"paused"}
    c.unpause()
    c.stop()
    assert c.top() == [] and host.container_processes() == []


def test_exec_needs_a_running_container() -> None:
    host = Host()
    c = running(host)
    c.stop()
    with pytest.raises(ContainerStateError, match="start it first"):
        c.exec(["sleep", "1"], detach=True)
    assert c.top() == [] and host.container_processes() == []


def test_the_host_runs_processes_of_its_own() -> None:
    host = Host()
    assert [p.pid for p in host.own] == [1, 2, 3] and all(p.container == "" for p in host.own)
    c = Container(Image.from_layers([Layer.from_dict({"/a": "1"})],
                                    config={"cmd": ["sleep", "infinity"]}), host=host)
    c.start()
    assert host.processes() == [*host.own, *host.container_processes()]
    assert [p.container for p in host.container_processes()] == [c.name]
    assert Host(own=()).processes() == []


def test_docker_exec_runs_its_command_without_a_shell() -> None:
    host = Host()
    c = Container(Image.from_layers([Layer.from_dict({"/a": "1"})],
                                    config={"cmd": ["sleep", "infinity"]}), host=host)
    c.start()
    c.exec("sleep 100", detach=True)
    c.exec(["sh", "-c", "sleep 200"], detach=True)
    assert [p.command for p in c.top()] == ["sleep infinity", "sleep 100", "sh -c 'sleep 200'"]
    assert c.exec("ps").stdout.splitlines()[-1].split(None, 1) == ["4", "ps"]
    # shell syntax needs a shell: the string runs as sh -c would
    assert c.exec("echo hi > /f && cat /f").stdout == "hi\n"
