"""The container benchmark at a tiny scale: both rows come back with their ratios worked
out against the reference measured in the same run (the goals themselves are checked by
``python -m benchmarks``, not here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import TINY, load_all, scratch_dir


def test_container_rows_compute_their_ratios() -> None:
    bench = load_all()["container"]
    with scratch_dir() as workdir:
        rows = bench.fn(TINY, Path(workdir))
    linear, stored = rows
    assert linear.name == "1,000 writes" and linear.reference_name == "100 writes"
    assert linear.goal == "<= 12x" and linear.passed in (True, False)
    assert linear.ratio == pytest.approx(linear.figure / linear.reference)
    assert stored.reference_name == "open/write/fsync" and stored.goal == "<= 3x"
    assert stored.figure > 0 and stored.reference is not None and stored.reference > 0
    assert stored.ratio == pytest.approx(stored.figure / stored.reference)
    assert stored.detail.startswith("10 new files, ")  # and the file system they were on
