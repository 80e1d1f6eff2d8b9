"""layerlab benchmarks: ``python -m benchmarks [--quick] [--only NAME ...] [--json]``.

Every benchmark generates its own synthetic data (no downloads) in a scratch directory on
a tmpfs, measures layerlab and a reference side by side in the same run, and returns
:class:`Row` objects: a figure, its unit, the reference figure, their ratio, the goal and
whether it was met. ``__main__`` prints them all as one fixed-width table (or JSON).

Adding a benchmark: write a function ``fn(scale: Scale, workdir: Path) -> list[Row]`` in a
module of this package, decorate it with ``@benchmark("name", "what it measures")`` and
add the module to :data:`MODULES`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "FULL",
    "QUICK",
    "REGISTRY",
    "TINY",
    "Benchmark",
    "Row",
    "Scale",
    "benchmark",
    "load_all",
    "median",
    "percentile",
    "release",
    "scratch_dir",
]


@dataclass(frozen=True)
class Row:
    """One measured figure, side by side with its reference and goal.

    ``goal`` is ``"<= 3x"`` (on ``ratio``) or ``"<= 0.05 s"`` (on ``figure``), ``""`` for
    none; ``passed`` is ``None`` when there is no goal.
    """

    benchmark: str
    name: str
    figure: float
    unit: str
    reference: float | None = None
    reference_name: str = ""
    ratio: float | None = None
    goal: str = ""
    passed: bool | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def measured(
    benchmark: str,
    name: str,
    figure: float,
    unit: str,
    *,
    reference: float | None = None,
    reference_name: str = "",
    max_ratio: float | None = None,
    max_figure: float | None = None,
    detail: str = "",
) -> Row:
    """A :class:`Row` with its ratio and pass/fail worked out from one goal."""
    ratio = figure / reference if reference else None
    goal = ""
    passed: bool | None = None
    if max_ratio is not None:
        goal = f"<= {max_ratio:g}x"
        passed = ratio is not None and ratio <= max_ratio
    elif max_figure is not None:
        goal = f"<= {max_figure:g} {unit}"
        passed = figure <= max_figure
    return Row(benchmark, name, figure, unit, reference, reference_name, ratio, goal, passed,
               detail)


@dataclass(frozen=True)
class Scale:
    """How big and how often: FULL is the real benchmark, QUICK a fast look, TINY for tests."""

    label: str
    tar_entries: int  # entries in the layer tar that ``index`` reads
    index_runs: int
    stack_paths: int  # entries summed over all layers of the ``view`` stack
    stack_layers: int
    view_runs: int  # full scrubs (fresh Image each) per step sample
    import_runs: int


FULL = Scale("full", tar_entries=50_000, index_runs=5, stack_paths=100_000, stack_layers=20,
             view_runs=7, import_runs=7)
QUICK = Scale("quick", tar_entries=5_000, index_runs=3, stack_paths=10_000, stack_layers=20,
              view_runs=3, import_runs=3)
TINY = Scale("tiny", tar_entries=300, index_runs=1, stack_paths=600, stack_layers=4,
             view_runs=1, import_runs=1)

BenchFn = Callable[[Scale, Path], "list[Row]"]


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    fn: BenchFn


REGISTRY: dict[str, Benchmark] = {}

#: benchmark modules, in the order their rows appear; add new ones here
MODULES = ("bench_index", "bench_view", "bench_import", "formats_bench", "widget_latency",
           "notebooks_bench", "registry_bench", "bench_container", "ptrace_bench",
           "read_bench")


def benchmark(name: str, description: str) -> Callable[[BenchFn], BenchFn]:
    """Register ``fn`` under ``name`` (the ``--only`` key), in definition order."""

    def register(fn: BenchFn) -> BenchFn:
        if name in REGISTRY:
            raise ValueError(f"benchmark {name!r} registered twice")
        REGISTRY[name] = Benchmark(name, description, fn)
        return fn

    return register


def load_all() -> dict[str, Benchmark]:
    """Import every benchmark module (registration happens on import), in table order."""
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return REGISTRY


@contextlib.contextmanager
def spools_in(workdir: Path) -> Iterator[None]:
    """Spool files (a compressed layer's inflated tar) in ``workdir``, on the same tmpfs as
    the data and the floor's reads, as the load-rss and pull benchmarks do for their
    subprocesses: a disk's writeback, which on a VM comes and goes, then times nothing."""
    saved = tempfile.tempdir
    tempfile.tempdir = str(workdir)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def spooling(fn: BenchFn) -> BenchFn:
    """Run the benchmark ``fn`` inside :func:`spools_in` its workdir."""

    @functools.wraps(fn)
    def wrapped(scale: Scale, workdir: Path) -> list[Row]:
        with spools_in(workdir):
            return fn(scale, workdir)

    return wrapped


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    """A temporary directory on a tmpfs (/dev/shm when there is one)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return tempfile.TemporaryDirectory(prefix="layerlab-bench-", dir=base)


def release(layers: Iterable[object]) -> None:
    """Close the files that layers read from a tar keep open.

    Layer has no ``close()`` yet: a layer read from a path keeps that file open until it
    is garbage collected, which warns (ResourceWarning) and is an error under pytest.
    """
    for layer in layers:
        tar = getattr(layer, "_tar", None)
        if tar is not None:
            for f in (tar.file, tar.blob_file):
                if f is not None:
                    f.close()


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)
