"""The three modes side by side (layerlab.modes): live where allowed, recorded elsewhere,
and the same yes/no answers either way."""

from __future__ import annotations

import pytest

from layerlab import modes, ptracemode
from layerlab.views.modes import facts_text, side_by_side_text

EXPECTED = {
    "PID 1 is the container's own command": {"namespaces": True, "ptrace": False,
                                             "simulated": True},
    "ps shows processes that are not the container's": {"namespaces": False, "ptrace": True,
                                                        "simulated": False},
    "id says root": {"namespaces": True, "ptrace": True, "simulated": True},
    "/ is an overlay mount of the image's layers": {"namespaces": True, "ptrace": False,
                                                    "simulated": None},
    "/proc/1 is the container's own first process": {"namespaces": True, "ptrace": False,
                                                     "simulated": None},
    "the hostname is the container's name": {"namespaces": True, "ptrace": False,
                                             "simulated": True},
}


def test_the_recorded_outputs_give_the_lesson() -> None:
    runs = modes.side_by_side(None, live=False)
    assert dict(modes.facts(runs)) == EXPECTED
    assert all(not run.live and "recorded" in run.label for run in runs)


@pytest.mark.parametrize("forced", ["off", "namespaces", "ptrace"])
def test_forced_modes_are_recorded_with_the_reason(monkeypatch: pytest.MonkeyPatch,
                                                   forced: str) -> None:
    monkeypatch.setenv("LAYERLAB_REAL_MODE", forced)
    import layerlab.realmode as realmode

    # no image given: every column is recorded, each with why it is not live
    runs = {run.mode: run for run in modes.side_by_side(None)}
    assert runs["simulated"].why == "not run live"
    if forced != "namespaces":
        assert "LAYERLAB_REAL_MODE" in runs["namespaces"].why
    if forced != "ptrace":
        assert "LAYERLAB_REAL_MODE" in runs["ptrace"].why
    assert realmode.detect().available is (forced == "namespaces" and
                                           realmode._detect().available)


def test_the_simulated_column_is_live_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    from layerlab import Image, Layer, Symlink

    monkeypatch.setenv("LAYERLAB_REAL_MODE", "off")
    image = Image.from_layers([Layer.from_dict({"/bin/busybox": b"\x7fELF", "/bin/sh":
                                                Symlink("busybox")})])
    run = {r.mode: r for r in modes.side_by_side(image)}["simulated"]
    assert run.live
    assert run.outputs["hostname"] == (0, "probe\n")
    assert run.outputs["mount"][0] != 0  # it runs no programs: no answer, not "no"
    assert dict(modes.facts([run]))["/ is an overlay mount of the image's layers"] == {
        "simulated": None}


def test_long_outputs_are_cut() -> None:
    text = "".join(f"line {i}\n" for i in range(20))
    cut = modes._cut(text)
    assert cut.splitlines()[-1] == "... (14 more lines)"
    assert len(cut.splitlines()) == modes.MAX_LINES + 1


def test_renderings_label_every_column() -> None:
    runs = modes.side_by_side(None, live=False)
    text = side_by_side_text(runs)
    assert text.count("(recorded)") == len(runs) * len(modes.PROBES)
    table = facts_text(modes.facts(runs))
    assert table.splitlines()[0].split() == ["namespaces", "ptrace", "simulated"]
    assert "[exit status 126]" in text


@pytest.mark.reference
def test_live_columns_give_the_recorded_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from layerlab.busybox import busybox_image

    monkeypatch.delenv("LAYERLAB_REAL_MODE", raising=False)
    if not ptracemode.detect().available:
        pytest.skip(f"ptrace mode not possible here: {ptracemode.detect().reason}")
    runs = modes.side_by_side(busybox_image())
    live = [run.mode for run in runs if run.live]
    assert "ptrace" in live and "simulated" in live
    assert dict(modes.facts(runs)) == EXPECTED


def test_the_container_module_imports_no_executor_implementation() -> None:
    import ast
    from pathlib import Path

    import layerlab.container

    tree = ast.parse(Path(layerlab.container.__file__).read_text())
    top = [node for node in tree.body if isinstance(node, ast.ImportFrom)]
    names = {node.module for node in top}
    assert "execution" in names  # the protocol and the registered runner, below it
    assert not names & {"executors", "shell", "realmode", "ptracemode"}, names


def test_the_container_runs_with_the_runner_the_executors_register(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from layerlab import Image, Layer, execution, executors

    assert execution.default_runner() is executors.run_with
    c = Image.from_layers([Layer.from_dict({"/f": "x"})]).create_container()
    seen = []

    def runner(container: object, argv: object, *, real: bool,
               executor: object = None) -> execution.ExecResult:
        seen.append((container, argv, real, executor))
        return execution.ExecResult(0, "ran\n", "")

    monkeypatch.setattr(execution, "_DEFAULT", [runner])
    assert c.run_argv(["true"], real=True).stdout == "ran\n"
    assert seen == [(c, ["true"], True, None)]
    monkeypatch.setattr(execution, "_DEFAULT", [])
    with pytest.raises(execution.LayerlabError, match=r"import layerlab\.executors"):
        c.run_argv(["true"])


def test_the_old_busybox_name_still_works_with_a_warning() -> None:
    import layerlab.realmode as realmode
    from layerlab.busybox import busybox_image

    with pytest.warns(DeprecationWarning, match="moved to layerlab.busybox"):
        assert realmode.busybox_image is busybox_image
