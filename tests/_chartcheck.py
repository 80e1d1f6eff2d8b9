"""What a chart draws, measured after rendering: every text, overlaps, clipping, sizes.

Shared by tests/test_views_charts.py and the browser test of lecture mode.
"""

from __future__ import annotations

from typing import Any


def _drawn(fig: Any) -> tuple[Any, list[Any]]:
    """(renderer, every text the figure draws): texts, titles, axis and tick labels of
    the ticks in view, legends."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    found: list[Any] = []
    for ax in fig.axes:
        found += ax.texts
        found += [ax.title, ax._left_title, ax._right_title]
        for axis in (ax.xaxis, ax.yaxis) if ax.axison else ():
            found.append(axis.label)
            found += [t.label1 for t in axis._update_ticks() if t.label1.get_visible()]
        if ax.get_legend() is not None:
            found += ax.get_legend().get_texts()
    for legend in fig.legends:
        found += legend.get_texts()
    return renderer, [t for t in found if t.get_visible() and t.get_text().strip()]


def _shrunk(box: Any, px: float = 0.5) -> Any:
    from matplotlib.transforms import Bbox

    return Bbox.from_extents(box.x0 + px, box.y0 + px, box.x1 - px, box.y1 - px)


def _overlaps(fig: Any) -> list[tuple[str, str]]:
    renderer, texts = _drawn(fig)
    boxes = [(t.get_text(), _shrunk(t.get_window_extent(renderer))) for t in texts]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:]
            if box_a.overlaps(box_b)]


def _clipped(fig: Any) -> list[str]:
    """Texts that cross the figure's edge, stack-diagram texts that leave their box, and
    legends drawn over a bar."""
    from matplotlib.patches import Rectangle

    renderer, texts = _drawn(fig)
    width, height = fig.canvas.get_width_height()
    out = []
    for t in texts:
        box = _shrunk(t.get_window_extent(renderer))
        if box.x0 < 0 or box.y0 < 0 or box.x1 > width or box.y1 > height:
            out.append(f"outside the figure: {t.get_text()!r}")
    for ax in fig.axes:
        rects = {p.get_gid(): p for p in ax.patches if p.get_gid()}
        for t in ax.texts:
            role, _, k = (t.get_gid() or "").rpartition("-")
            owner = rects.get(f"layer-{k}") if role in ("label", "made", "sub", "hides") \
                else None
            if owner is None:
                continue
            outer = owner.get_window_extent(renderer)
            inner = _shrunk(t.get_window_extent(renderer))
            if not (outer.x0 <= inner.x0 and inner.x1 <= outer.x1 and outer.y0 <= inner.y0
                    and inner.y1 <= outer.y1):
                out.append(f"out of its box: {t.get_text()!r}")
        bars = [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_gid()
                and p.get_width() and p.get_height()]
        legends = [lg for lg in [ax.get_legend(), *fig.legends] if lg is not None]
        for legend in legends:
            frame = _shrunk(legend.get_window_extent(renderer), 1)
            out += [f"legend over a bar of {ax.get_title()!r}" for p in bars
                    if frame.overlaps(p.get_window_extent(renderer))]
    return out


def _sizes(fig: Any) -> list[float]:
    return sorted(t.get_fontsize() for t in _drawn(fig)[1])




def _rendered_px(fig: Any) -> list[float]:
    """Sorted: for every text the figure draws, the height in pixels the renderer gives
    ``Hg`` in that text's font (its size as drawn, whatever the text says)."""
    renderer, texts = _drawn(fig)
    return sorted(renderer.get_text_width_height_descent("Hg", t.get_fontproperties(),
                                                         ismath=False)[1] for t in texts)
