"""notebooks: the nbval suite, each notebook timed and its kernel's peak memory measured.

Each notebook runs under strict nbval in its own ``pytest`` process, wrapped in a small
Python process that reports ``RUSAGE_CHILDREN.ru_maxrss``: the largest resident size of
any process below it, which is the notebook's kernel (pandas, matplotlib and layerlab
loaded) unless pytest itself was bigger, so the figure is an upper bound. At TINY scale
(the smoke test) only the start notebook runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from . import Row, Scale, benchmark, measured

NAME = "notebooks"
REPO = Path(__file__).resolve().parent.parent
SUITE_GOAL = 90.0  # seconds, the whole suite
EACH_GOAL = 20.0  # seconds, one notebook
MEMORY_GOAL = 300.0  # MB per kernel

_WRAPPER = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, stdin=subprocess.DEVNULL)\n"
    "sys.stderr.buffer.write(done.stdout[-4000:] + done.stderr[-2000:])\n"
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _environment(workdir: Path) -> dict[str, str]:
    """The caller's environment without what belongs to the pytest running *us*.

    Inside a test run (the smoke test, or the suite under ``-n``), ``PYTEST_ADDOPTS``,
    ``PYTEST_PLUGINS`` and xdist's ``PYTEST_XDIST_*`` would reach the inner pytest: ``-n``
    there splits one notebook's cells over workers, so strict nbval fails. Jupyter's
    runtime files (kernel connection files) go to the scratch directory too.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update({"TZ": "UTC", "IPYTHONDIR": str(workdir / "ipython"),
                "MPLCONFIGDIR": str(workdir / "matplotlib"),
                "JUPYTER_RUNTIME_DIR": str(workdir / "jupyter-runtime")})
    return env


def _run(notebook: Path | list[Path], workdir: Path) -> tuple[float, float]:
    paths = [str(p) for p in (notebook if isinstance(notebook, list) else [notebook])]
    argv = [sys.executable, "-m", "pytest", *paths, "--nbval", "--nbval-current-env",
            "--nbval-sanitize-with", str(REPO / "tests" / "nbval-sanitize.cfg"),
            "-p", "no:cacheprovider", "-q"]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], capture_output=True,
                          text=True, check=True, env=_environment(workdir), cwd=REPO,
                          stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    out = done.stdout.split()
    if out[0] != "0":
        raise RuntimeError(f"{' '.join(paths)} failed under nbval (exit {out[0]}):\n"
                           f"{done.stderr}")
    return seconds, int(out[1]) / 1024


@benchmark(NAME, "the nbval notebook suite: per notebook time and kernel memory")
def run(scale: Scale, workdir: Path) -> list[Row]:
    notebooks = sorted((REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    if scale.label == "tiny":
        notebooks = notebooks[:1]
    rows: list[Row] = []
    for nb in notebooks:
        seconds, mb = _run(nb, workdir)
        rows.append(measured(NAME, f"{nb.stem}: time", seconds, "s", max_figure=EACH_GOAL,
                             detail="one pytest --nbval process, kernel start included"))
        rows.append(measured(NAME, f"{nb.stem}: peak RSS", mb, "MB", max_figure=MEMORY_GOAL,
                             detail="largest process below the run (the kernel)"))
    total, _ = _run(notebooks, workdir)
    rows.append(measured(NAME, f"whole suite ({len(notebooks)} notebooks)", total, "s",
                         max_figure=SUITE_GOAL, detail="one pytest --nbval run, as make test"))
    return rows
