"""import: ``import layerlab`` in a fresh interpreter, minus bare interpreter startup."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from . import Row, Scale, benchmark, measured, median

NAME = "import"
GOAL = 0.3  # seconds


def _env(workdir: Path) -> dict[str, str]:
    """Byte-code cached in ``workdir`` (this environment may set PYTHONDONTWRITEBYTECODE,
    which would make every run compile every module: not what a user's import costs)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def _wall(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - start


def importtime(
    module: str = "layerlab", env: dict[str, str] | None = None
) -> tuple[float, list[tuple[str, float]]]:
    """``python -X importtime``: (cumulative seconds of ``module``, [(top package, self
    seconds)] largest first, grouped by top-level package)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          check=True, capture_output=True, text=True, env=env)
    total = 0.0
    by_package: dict[str, float] = defaultdict(float)
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = (f.strip() for f in line[len("import time:"):].split("|"))
        by_package[name.split(".")[0]] += int(self_us) / 1e6
        if name == module:
            total = int(cumulative_us) / 1e6
    top = sorted(by_package.items(), key=lambda kv: -kv[1])
    return total, top


@benchmark(NAME, "import layerlab cold in a fresh interpreter (goal <= 0.3 s)")
def run(scale: Scale, workdir: Path) -> list[Row]:
    env = _env(workdir)
    _wall("import layerlab", env)  # write the .pyc files first
    bare: list[float] = []
    full: list[float] = []
    for _ in range(scale.import_runs):
        bare.append(_wall("pass", env))
        full.append(_wall("import layerlab", env))
    cumulative, top = importtime(env=env)
    top3 = ", ".join(f"{name} {sec * 1000:.0f}" for name, sec in top[:3])
    net = max(median(full) - median(bare), 1e-6)
    return [
        measured(NAME, "import layerlab (wall - bare)", net, "s", reference=median(bare),
                 reference_name="python -c pass", max_figure=GOAL,
                 detail=f"median of {scale.import_runs}; bare python {median(bare):.3f} s"),
        measured(NAME, "import layerlab (-X importtime)", cumulative, "s", max_figure=GOAL,
                 detail=f"top self ms by package: {top3}"),
    ]
