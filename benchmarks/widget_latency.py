"""widget: LayerExplorer slider step to refreshed tree on a 20-layer, 100,000-entry image.

What a learner feels when dragging the slider: setting ``slider.value`` runs the
explorer's observers synchronously (strip, layer summary, tree of the open directories),
so the time of that assignment is the time to an updated tree in the kernel. The front
end's own rendering is not included. Each run uses a fresh Image, so the first visit of
every layer also computes its merged view, as it would in a fresh notebook.
"""

from __future__ import annotations

import time
from pathlib import Path

from . import Row, Scale, benchmark, measured, percentile, release
from .data import make_stack

NAME = "widget"
GOAL_P95 = 0.100  # seconds per slider step


def scrub_explorer(layers: list, runs: int) -> tuple[list[float], list[float]]:
    """Seconds per slider step: (first visits on a fresh image, revisits of cached views).

    Each run opens the root and its first two directories, then steps the slider
    0 -> last -> 0 one layer at a time."""
    from layerlab import Image
    from layerlab.widgets import LayerExplorer

    first: list[float] = []
    again: list[float] = []
    last = len(layers) - 1
    for _ in range(runs):
        explorer = LayerExplorer(Image.from_layers(layers), upto=0)
        for node in explorer.image.view(0).children("/")[:2]:
            if node.entry.is_dir:
                explorer.open_dir(node.entry.path)
        for samples, order in ((first, range(1, last + 1)), (again, range(last - 1, -1, -1))):
            for k in order:
                start = time.perf_counter()
                explorer.slider.value = k
                samples.append(time.perf_counter() - start)
                if not explorer.rows():
                    raise AssertionError(f"empty tree at layer {k}")
    return first, again


@benchmark(NAME, "LayerExplorer slider step -> refreshed tree (goal p95 <= 100 ms)")
def run(scale: Scale, workdir: Path) -> list[Row]:
    from layerlab import Layer

    stack = make_stack(workdir, scale.stack_paths, scale.stack_layers)
    layers = [Layer.from_tar(spec.path) for spec in stack.layers]
    try:
        first, again = scrub_explorer(layers, max(1, scale.view_runs // 2))
    finally:
        release(layers)
    both = first + again
    detail = (f"{stack.total_entries:,} entries in {len(layers)} layers; "
              f"{len(both)} steps")
    return [
        measured(NAME, "LayerExplorer slider step -> refreshed tree, p95",
                 percentile(both, 95) * 1000, "ms", max_figure=GOAL_P95 * 1000,
                 detail=f"p50 {percentile(both, 50) * 1000:.1f}; {detail}"),
        measured(NAME, "slider step, first visit of a layer, p95",
                 percentile(first, 95) * 1000, "ms",
                 detail=f"p50 {percentile(first, 50) * 1000:.1f}; merged view computed"),
        measured(NAME, "slider step, view already computed, p95",
                 percentile(again, 95) * 1000, "ms",
                 detail=f"p50 {percentile(again, 50) * 1000:.1f}"),
    ]
