"""Issue 15's second round: every case of :mod:`tests.hostile.round2` through its entry points,
each in a child process with a timeout and an address-space limit (2 GiB, what Binder gives),
asserting the outcome, the time and the peak memory. A hang or a blow-up fails in bounded
time instead of taking the machine down.

``LAYERLAB_ROUND2_REPORT=path`` appends one JSON line per run (for RELIABILITY.md).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from layerlab._fsutil import remove_tree

from .round2 import CASES2

_RUNNER = Path(__file__).with_name("round2.py")
_AS_LIMIT = 2 * 1024**3
_BASE = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

RUNS = [(c, entry) for c in CASES2 for entry in c.outcomes]


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_AS_LIMIT, _AS_LIMIT))


@pytest.mark.parametrize(("case", "entry"), RUNS, ids=[f"{c.name}-{e}" for c, e in RUNS])
def test_round2_case(case, entry) -> None:  # type: ignore[no-untyped-def]
    work = Path(tempfile.mkdtemp(prefix="layerlab-round2-", dir=_BASE))
    try:
        made = subprocess.run([sys.executable, str(_RUNNER), "make", case.name, str(work)],
                              capture_output=True, text=True, timeout=300, check=True)
        source = made.stdout.strip().splitlines()[-1]
        done = subprocess.run(
            [sys.executable, str(_RUNNER), "run", case.name, entry, str(work), source],
            capture_output=True, text=True, timeout=case.seconds * 3 + 30, check=False,
            preexec_fn=_limit, env={**os.environ, "LAYERLAB_REAL_MODE": "off"})
    finally:
        remove_tree(str(work))  # shutil.rmtree recurses: 2,040 levels are too deep
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    report = os.environ.get("LAYERLAB_ROUND2_REPORT")
    if report:
        with open(report, "a") as f:
            f.write(json.dumps({"case": case.name, "kind": case.kind, "entry": entry,
                                **result}) + "\n")
    assert result["outcome"] == case.outcomes[entry], result
    assert result["seconds"] <= case.seconds, result
    assert result["peak_mib"] <= case.peak_mib, result
