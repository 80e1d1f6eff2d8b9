"""``python -m benchmarks [--quick] [--only NAME ...] [--json]``: one table of figures."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import FULL, QUICK, Row, load_all, scratch_dir


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


def format_table(rows: Sequence[Row]) -> str:
    """Rows as one plain fixed-width table."""
    header = ("benchmark", "figure", "value", "unit", "reference", "ref value", "ratio", "goal",
              "ok", "detail")
    lines = [header]
    for r in rows:
        ok = "-" if r.passed is None else ("PASS" if r.passed else "FAIL")
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        lines.append((r.benchmark, r.name, _fmt(r.figure), r.unit, r.reference_name or "-",
                      _fmt(r.reference), ratio, r.goal or "-", ok, r.detail))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    right = {2, 5, 6}
    out = []
    for n, line in enumerate(lines):
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(line, widths, strict=False))]
        out.append("  ".join([*cells, line[-1]]).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    registry = load_all()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small data, few runs")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(registry),
                        help="run only these benchmarks: " + ", ".join(registry))
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    rows: list[Row] = []
    started = time.perf_counter()
    for name, bench in registry.items():
        if args.only and name not in args.only:
            continue
        print(f"[{name}] {bench.description} ...", file=sys.stderr, flush=True)
        with scratch_dir() as workdir:
            rows.extend(bench.fn(scale, Path(workdir)))
    elapsed = time.perf_counter() - started
    if args.json:
        json.dump({"scale": scale.label, "python": platform.python_version(),
                   "cpus": os.cpu_count(), "loadavg": os.getloadavg(),
                   "seconds": round(elapsed, 1), "rows": [r.as_dict() for r in rows]},
                  sys.stdout, indent=2)
        print()
    else:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"layerlab benchmarks, scale={scale.label}, python {platform.python_version()}, "
              f"{os.cpu_count()} CPUs, load average {load}, {elapsed:.0f} s")
        print(format_table(rows))
    return 0 if all(r.passed is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
