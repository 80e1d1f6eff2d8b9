"""The benchmarks at a tiny scale, so they cannot rot: rows well-formed, figures positive.

Nothing here asserts on speed; ``python -m benchmarks`` is where the goals are checked.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

# benchmarks/ is a top-level package of the repository, not installed with layerlab
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import TINY, Row, load_all, percentile, release, scratch_dir
from benchmarks.__main__ import format_table, main

REGISTRY = load_all()


def _check_row(row: Row, name: str) -> None:
    assert row.benchmark == name
    assert row.name and row.unit
    assert math.isfinite(row.figure) and row.figure > 0, row
    if row.reference is not None:
        assert row.reference > 0 and row.reference_name, row
        assert row.ratio == pytest.approx(row.figure / row.reference)
    if row.goal:
        assert row.passed in (True, False), row
    else:
        assert row.passed is None, row


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_benchmark_rows_are_well_formed(name: str) -> None:
    with scratch_dir() as workdir:
        rows = REGISTRY[name].fn(TINY, Path(workdir))
    assert rows
    for row in rows:
        _check_row(row, name)
    table = format_table(rows)
    assert len(table.splitlines()) == len(rows) + 2
    json.dumps([row.as_dict() for row in rows])


def test_the_notebook_benchmark_does_not_inherit_the_outer_pytest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # what a harness running this test passes on (pytest -n 6 sets PYTEST_XDIST_*, a CI
    # PYTEST_ADDOPTS): an option the inner pytest cannot take must not reach it
    from benchmarks import notebooks_bench

    monkeypatch.setenv("PYTEST_ADDOPTS", "--no-such-option-from-the-harness")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    with scratch_dir() as workdir:
        env = notebooks_bench._environment(Path(workdir))
        assert not [k for k in env if k.startswith("PYTEST_")]
        assert env["JUPYTER_RUNTIME_DIR"].startswith(workdir)
        [time_row, _, _] = notebooks_bench.run(TINY, Path(workdir))
    assert time_row.figure > 0


def test_registry_has_the_engine_benchmarks() -> None:
    assert {"index", "view", "import"} <= set(REGISTRY)


def test_percentile() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0], 95) == pytest.approx(1.95)
    assert percentile([5.0], 95) == 5.0


def test_stack_generator_makes_every_kind_of_change(tmp_path: Path) -> None:
    from benchmarks.data import make_stack
    from layerlab import Image, Layer

    stack = make_stack(tmp_path, 600, 4)
    assert len(stack.layers) == 4
    layers = [Layer.from_tar(spec.path) for spec in stack.layers]
    try:
        assert sum(len(layer.whiteouts) for layer in layers) > 0
        assert sum(len(layer.opaques) for layer in layers) > 0
        for spec in stack.layers[1:]:
            assert spec.counts["whiteout-dir"] and spec.counts["opaque"]
        assert sum(spec.counts.get("modify", 0) for spec in stack.layers) > 0
        assert len(Image.from_layers(layers).view()) > 0
    finally:
        release(layers)


def test_main_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import benchmarks.__main__ as cli

    monkeypatch.setattr(cli, "FULL", TINY)
    monkeypatch.setattr(sys, "argv", ["benchmarks"])
    main(["--only", "view", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["scale"] == "tiny" and doc["rows"]
