"""view: scrub ``Image.view(upto=k)`` for k = 0, 1, ... over a 20-layer, 100,000-entry stack."""

from __future__ import annotations

import time
from pathlib import Path

from . import Row, Scale, benchmark, measured, percentile, release
from .data import make_stack

NAME = "view"
GOAL_P95 = 0.050  # seconds per scrubber step


def scrub(layers: list, runs: int) -> list[list[float]]:
    """Per step k, the seconds ``view(upto=k)`` (and a root listing) took, over ``runs``
    scrubs, each on a fresh Image so no view is cached across scrubs."""
    from layerlab import Image

    samples: list[list[float]] = [[] for _ in layers]
    for _ in range(runs):
        image = Image.from_layers(layers)
        for k in range(len(layers)):
            start = time.perf_counter()
            view = image.view(upto=k)
            view.listdir("/")
            samples[k].append(time.perf_counter() - start)
    return samples


@benchmark(NAME, "view(upto=k) per scrubber step on a fresh Image (goal p95 <= 50 ms)")
def run(scale: Scale, workdir: Path) -> list[Row]:
    from layerlab import Image, Layer

    stack = make_stack(workdir, scale.stack_paths, scale.stack_layers)
    layers = [Layer.from_tar(spec.path) for spec in stack.layers]
    samples = scrub(layers, scale.view_runs)
    sizes = [len(Image.from_layers(layers).view(upto=k)) for k in range(len(layers))]
    release(layers)
    rows = []
    for k, (spec, times) in enumerate(zip(stack.layers, samples, strict=True)):
        p50, p95 = percentile(times, 50), percentile(times, 95)
        rows.append(measured(
            NAME, f"view(upto={k}) p95", p95 * 1000, "ms", max_figure=GOAL_P95 * 1000,
            detail=f"p50 {p50 * 1000:.1f}; layer {spec.entries:,} entries; view {sizes[k]:,}",
        ))
    totals = [sum(run) for run in zip(*samples, strict=True)]
    rows.append(measured(
        NAME, f"scrub 0..{len(layers) - 1} total", percentile(totals, 50) * 1000, "ms",
        detail=f"p50 of {scale.view_runs} scrubs; {stack.total_entries:,} entries in "
               f"{len(layers)} layers",
    ))
    return rows
