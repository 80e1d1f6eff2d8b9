"""view: scrub ``Image.view(upto=k)`` for k = 0, 1, ... over a 20-layer, 100,000-entry stack,
looking at the root and the busiest directory at each step, as the layer explorer does."""

from __future__ import annotations

import gc
import time
from pathlib import Path

from . import Row, Scale, benchmark, measured, percentile, release
from .data import make_stack

NAME = "view"
GOAL_P95 = 0.050  # seconds per scrubber step


def busiest_directory(layers: list) -> str:
    """The directory with the most children in the top view, among the first two levels:
    the one a learner opens in the explorer (chosen before any timing)."""
    from layerlab import Image

    view = Image.from_layers(layers).view()
    dirs = ["/"] + [n.entry.path for n in view.children("/") if n.entry.is_dir]
    dirs += [n.entry.path for d in dirs[1:] for n in view.children(d) if n.entry.is_dir]
    return max(dirs, key=lambda d: (len(view.children(d)), d))


def scrub(layers: list, runs: int, directory: str = "/") -> list[list[float]]:
    """Per step k, the seconds a scrubber step took, over ``runs`` scrubs, each on a fresh
    Image so no view is cached across scrubs. A step is what the layer explorer does:
    ``view(upto=k)``, then for the root and ``directory`` the children in this view and
    in the view below, and a lookup below of every child (to mark it added or modified)."""
    from layerlab import Image

    samples: list[list[float]] = [[] for _ in layers]
    for _ in range(runs):
        # A full collection of the ~1M objects the loaded layers hold takes 50-90 ms and
        # lands on whichever step happens to allocate past the threshold: start each scrub
        # from a collected heap so a step measures the merge (Python's timeit goes further
        # and turns the collector off).
        gc.collect()
        image = Image.from_layers(layers)
        for k in range(len(layers)):
            start = time.perf_counter()
            view = image.view(upto=k)
            below = image.view(upto=k - 1) if k else None
            for d in dict.fromkeys(("/", directory)):
                if not view.exists(d):
                    continue
                kids = view.children(d)
                if below is not None:
                    below.children(d)
                    for node in kids:
                        below.lookup(node.entry.path)
            samples[k].append(time.perf_counter() - start)
    return samples


@benchmark(NAME, "view(upto=k) per scrubber step on a fresh Image (goal p95 <= 50 ms)")
def run(scale: Scale, workdir: Path) -> list[Row]:
    from layerlab import Image, Layer

    stack = make_stack(workdir, scale.stack_paths, scale.stack_layers)
    layers = [Layer.from_tar(spec.path) for spec in stack.layers]
    directory = busiest_directory(layers)
    samples = scrub(layers, scale.view_runs, directory)
    sizes = [len(Image.from_layers(layers).view(upto=k)) for k in range(len(layers))]
    release(layers)
    rows = []
    for k, (spec, times) in enumerate(zip(stack.layers, samples, strict=True)):
        p50, p95 = percentile(times, 50), percentile(times, 95)
        rows.append(measured(
            NAME, f"view(upto={k}) p95", p95 * 1000, "ms", max_figure=GOAL_P95 * 1000,
            detail=f"p50 {p50 * 1000:.1f}; layer {spec.entries:,} entries; view {sizes[k]:,}; "
                   f"/ and {directory}",
        ))
    totals = [sum(run) for run in zip(*samples, strict=True)]
    rows.append(measured(
        NAME, f"scrub 0..{len(layers) - 1} total", percentile(totals, 50) * 1000, "ms",
        detail=f"p50 of {scale.view_runs} scrubs; {stack.total_entries:,} entries in "
               f"{len(layers)} layers",
    ))
    return rows
