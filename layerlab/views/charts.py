"""matplotlib charts: the stack diagram, layer sizes, sharing and efficiency.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot and
without touching ``rcParams``; sizes are fixed, inputs sorted and nothing carries a
timestamp, so the same image draws the same picture. Change kinds differ by hatch and
letter as well as by color (:mod:`layerlab.views.palette`), the background is white so
the charts read in light and dark notebook themes, and fonts follow
:func:`layerlab.views.lecture_mode`: in lecture mode a chart is as wide as in normal mode
(JupyterLab shrinks wider images, which would undo the bigger fonts) and re-flows for its
1.6x text, with taller rows, wrapped labels, stacked panels and legends below the axes.

>>> from layerlab import Image, Layer
>>> from layerlab.views import stack_diagram
>>> img = Image.from_layers([Layer.from_dict({"/etc/motd": "hi"}, created_by="ADD motd /etc/")])
>>> fig = stack_diagram(img, trace="/etc/motd")
>>> fig.savefig(io.BytesIO(), format="png")  # doctest: +SKIP
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import analysis
from ..digest import short
from .lecture import font_scale
from .palette import CHANGE_HATCH, NEUTRAL, OKABE_ITO, change_color

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..container import Container
    from ..image import Image
    from ..union import View

__all__ = ["efficiency_chart", "layer_sizes", "sharing_chart", "stack_diagram"]

_BG = "white"
_TEXT = "#1a1a1a"
#: paths the unified-view panel lists before "… and N more"
VIEW_LINES = 14
#: paths the efficiency chart shows
EFFICIENCY_ROWS = 12


def _fs(points: float) -> float:
    return points * font_scale()


def _lecture() -> bool:
    return font_scale() > 1.0


#: the advance of one character of DejaVu Sans Mono, in em
_MONO_EM = 0.602


def _mono_chars(width_in: float, points: float) -> int:
    """How many monospace characters of ``points`` fit in ``width_in`` inches."""
    return max(int(width_in * 72 / (points * _MONO_EM)), 4)


def _line_in(points: float) -> float:
    """The height of one line of ``points`` text, in inches (with leading)."""
    return points * 1.4 / 72


def _figure(width: float, height: float, *, constrained: bool = True) -> Figure:
    """A Figure that also shows itself as PNG where no matplotlib display hook exists.

    Lecture mode keeps ``width``, so a chart is as many pixels wide as in normal mode and
    JupyterLab shrinks it no more than then: its 1.6x fonts reach the room at 1.6x. Each
    chart makes room for them itself (more height, wrapped labels, legends outside)."""
    from matplotlib.figure import Figure

    class LabFigure(Figure):
        def _repr_png_(self) -> bytes:
            buf = io.BytesIO()
            self.savefig(buf, format="png", metadata={"Software": None})
            return buf.getvalue()

    return LabFigure(figsize=(width, height), facecolor=_BG,
                     layout="constrained" if constrained else None)


def _style(ax: Axes, title: str) -> None:
    ax.set_facecolor(_BG)
    ax.set_title(title, fontsize=_fs(12), color=_TEXT)
    ax.tick_params(labelsize=_fs(9), colors=_TEXT)
    for spine in ax.spines.values():
        spine.set_color(NEUTRAL)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _clip_middle(text: str, width: int) -> str:
    """Cut the middle out, keeping the start up to a ``/`` and the end: paths that
    share a long directory differ at their end.

    >>> _clip_middle("/var/lib/apt/lists/deb.debian.org_debian_dists_main_Packages.lz4", 32)
    '/var/lib/…ists_main_Packages.lz4'
    """
    if len(text) <= width:
        return text
    cut = text.rfind("/", 0, width // 3)
    head = text[: cut + 1] if cut > 0 else text[: width // 4]
    return head + "…" + text[-(width - len(head) - 1):]


def _path_label(path: str, width: int = 44) -> str:
    """A whole path on up to two lines of ``width`` characters (the middle cut out of
    longer ones), so paths that differ only in the middle stay apart."""
    text = _clip_middle(path, 2 * width)
    return text if len(text) <= width else text[:width] + "\n" + text[width:]


def _human(n: float) -> str:
    """Human sizes for chart labels and axes (``505.0 kB``; humanize's decimal units)."""
    from .html import naturalsize

    return naturalsize(int(n))


def _human_axis(axis: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _pos: _human(v) if v >= 0 else ""))


def step_label(created_by: str, width: int = 16) -> str:
    r"""A short, two-line label for a history entry's ``created_by``: ``RUN``/the
    instruction first, then as much of the command as fits, so steps that start alike
    still read differently.

    >>> step_label("/bin/sh -c apt-get update && apt-get install -y git")
    'RUN apt-get\nupdate && apt-…'
    >>> step_label("/bin/sh -c #(nop)  CMD [\"sh\"]")
    'CMD ["sh"]'
    """
    import textwrap

    text = " ".join(created_by.split())
    if text.startswith("/bin/sh -c #(nop) "):
        text = text.removeprefix("/bin/sh -c #(nop) ")
    elif text.startswith("/bin/sh -c "):
        text = "RUN " + text.removeprefix("/bin/sh -c ")
    lines = textwrap.wrap(text, width, break_long_words=True, max_lines=2, placeholder="…")
    if len(lines) == 2 and len(text) > len(" ".join(lines)):
        lines[1] = _clip(lines[1], width)
    return "\n".join(lines) or "(no created_by)"


# --- the stack diagram ---------------------------------------------------------------------


def stack_diagram(image_or_container: Image | Container, *, trace: str | None = None) -> Figure:
    """The picture of the source text: read-only layers stacked base at the bottom, each
    with an arrow to its parent (legacy v1 ids), a container's read-write layer on top,
    and the unified view beside them.

    ``trace="/etc/motd"`` follows one path: the layer that supplies it is outlined and
    marked ``A``/``M`` in the view, the layers whose versions it hides are hatched and say
    why, and an arrow joins the supplying layer to the path in the unified view.

    The drawing is laid out in inches (one data unit is one inch), so text of any size
    gets the room it needs: each layer's box holds its lines (id and ``created_by``, the
    legacy ids, the "hides" note), and in lecture mode the boxes and lines are taller,
    not the figure wider.
    """
    from matplotlib.patches import FancyArrowPatch, Rectangle

    from ..container import Container

    container = image_or_container if isinstance(image_or_container, Container) else None
    image: Image = container.image if container is not None else image_or_container  # type: ignore[assignment]
    view: View = container.view() if container is not None else image.view()
    legacy = image.legacy_layers
    n_ro = len(image.layers)
    n = n_ro + (1 if container is not None else 0)
    lecture = _lecture()

    supplier: int | None = None
    hidden: dict[int, str] = {}
    replaced = False
    if trace is not None:
        if view.exists(trace):
            supplier = view.provenance(trace)
        for sh in view.shadowed(trace):
            hidden[sh.layer] = f"{sh.reason} by layer {sh.hidden_by}"
            replaced = replaced or sh.hidden_by == supplier

    # sizes (points) and geometry (inches)
    f_title, f_label, f_small, f_view, f_note = _fs(12), _fs(9), _fs(7.5), _fs(10), _fs(7)
    width = 11.0
    x0 = 1.0 if not lecture else 1.35          # left edge of the layer boxes
    bw = 5.1 if not lecture else 4.95          # their width
    vx = x0 + bw + 0.85                        # the unified view's left edge
    vw = width - vx - 0.15
    pad = 0.08
    label_chars = _mono_chars(bw - 2 * pad, f_label)
    small_chars = _mono_chars(bw - 2 * pad, f_small)

    def box_lines(k: int) -> list[tuple[str, float, str]]:
        """(text, size, role) top to bottom inside layer ``k``'s box."""
        if k == n_ro:
            rw = len(container.rw) if container else 0
            out = [(f"read-write layer · {rw} paths", f_label, "label"),
                   (_clip("container's upper dir: copy-up on first write", small_chars),
                    f_small, "sub")]
        else:
            layer = image.layers[k]
            made = layer.created_by or "(no created_by)"
            head = f"{k}  {short(layer.diff_id)}"
            one = f"{head}  {_clip(made, 34)}"
            out = ([(one, f_label, "label")] if not lecture and len(one) <= label_chars else
                   [(head, f_label, "label"), (_clip(made, label_chars), f_label, "made")])
            out.append((_clip(f"id {legacy[k].id[:12]}  parent "
                              f"{(legacy[k].parent or '—')[:12]}", small_chars), f_small, "sub"))
        if k in hidden:
            # sans-serif runs narrower than monospace: the mono count is a safe bound
            out.append((_clip(f"hides {trace}: {hidden[k]}", small_chars), f_small, "hides"))
        return out

    contents = [box_lines(k) for k in range(n)]
    f_gone = _fs(8)
    gone: list[str] = []
    if trace is not None and (supplier is None or not view.exists(trace)):
        import textwrap

        why = max(hidden.items())[1] if hidden else "it was never there"
        # a safe bound: sans-serif is narrower than monospace
        gone = textwrap.wrap(f"{trace} is not in the view: {why}",
                             _mono_chars(vw - 2 * pad, f_gone), max_lines=3, placeholder="…")
    box_h = max((sum(_line_in(size) for _, size, _ in lines) for lines in contents),
                default=0.0) + 2 * pad
    gap = 0.3 * (1.25 if lecture else 1.0)     # room for the parent arrows
    stack_h = max(n * box_h + (n - 1) * gap, 0.0)  # FROM scratch: no layer at all
    v_line = _line_in(f_small) * 1.05
    more_h = v_line                            # "… and N more"
    # the view needs room for a few lines even beside a short stack
    panel_h = max(stack_h, 6 * v_line + more_h + 2 * pad)
    # "parent pointers" under the stack, "not in the view" under the view
    bottom = max(2 * _line_in(f_note), len(gone) * _line_in(f_gone)) + 0.15
    view_title_h = _line_in(f_view) + 0.05
    title_h = _line_in(f_title) + 0.1
    # whole pixels at matplotlib's 100 dpi
    height = round(bottom + panel_h + view_title_h + title_h + 0.1, 2)

    fig = _figure(width, height, constrained=False)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    ax.set_facecolor(_BG)
    title = ("container = image layers + read-write layer" if container is not None
             else "image = a stack of read-only layers")
    ax.text(width / 2, height - 0.08, title, fontsize=f_title, color=_TEXT, ha="center",
            va="top", gid="title")

    def box_y(k: int) -> float:
        return bottom + k * (box_h + gap)

    for k in range(n):
        y = box_y(k)
        rw = k == n_ro
        color = OKABE_ITO["sky_blue"] if rw else OKABE_ITO["blue"]
        hatch = CHANGE_HATCH["RW"] if rw else ""
        edge, lw = NEUTRAL, 1.0
        if k in hidden:
            color, hatch = OKABE_ITO["grey"], CHANGE_HATCH["D"]
        if supplier == k:
            edge, lw = OKABE_ITO["vermillion"], 3.0
        ax.add_patch(Rectangle((x0, y), bw, box_h, facecolor=color, alpha=0.35, edgecolor=edge,
                               linewidth=lw, hatch=hatch, gid=f"layer-{k}"))
        line_top = y + box_h - pad
        for text, size, role in contents[k]:
            mid = line_top - _line_in(size) / 2
            ax.text(x0 + pad, mid, text, fontsize=size, color=_TEXT, va="center",
                    family="sans-serif" if role == "hides" else "monospace",
                    gid=f"{role}-{k}")
            line_top -= _line_in(size)
        if k > 0:
            # the parent pointer: this layer's json names the one below
            ax.add_patch(FancyArrowPatch((x0 - 0.25, y + box_h / 2),
                                         (x0 - 0.25, box_y(k - 1) + box_h / 2),
                                         arrowstyle="-|>", mutation_scale=12 * font_scale(),
                                         color=NEUTRAL, connectionstyle="arc3,rad=0.5",
                                         gid=f"parent-{k}"))
    ax.text(x0 / 2, bottom - 0.06, "parent\npointers", fontsize=f_note, color=_TEXT,
            ha="center", va="top", gid="parent-note")

    # the unified view
    top_y = bottom + panel_h
    ax.add_patch(Rectangle((vx, bottom), vw, panel_h, facecolor=OKABE_ITO["bluish_green"],
                           alpha=0.12, edgecolor=NEUTRAL, linewidth=1.0, gid="view"))
    ax.text(vx + vw / 2, top_y + 0.05, f"unified view · {len(view):,} paths",
            fontsize=f_view, color=_TEXT, ha="center", va="bottom", gid="view-title")
    lines: list[tuple[str, int]] = [(e.path, layer) for e, layer in view.nodes()]
    fit = max(int((panel_h - 2 * pad - more_h) / v_line), 1)
    limit = min(VIEW_LINES, fit if len(lines) > fit else len(lines))
    shown = lines[:limit]
    if trace is not None and supplier is not None and all(p != trace for p, _ in shown):
        shown = [*shown[: limit - 1], (trace, supplier)]
    who_w = 0.5 * font_scale()                 # "← rw" / "← 12" on the right
    path_chars = _mono_chars(vw - 2 * pad - who_w, f_small) - 2
    trace_y = None
    for i, (path, supplied_by) in enumerate(shown):
        line_y = top_y - pad - (i + 0.5) * v_line
        mark = ""
        if path == trace:
            mark = "M " if replaced else "A "
            trace_y = line_y
        who = "rw" if supplied_by == n_ro and container is not None else str(supplied_by)
        ax.text(vx + pad, line_y, f"{mark}{_clip(path, path_chars)}", fontsize=f_small,
                color=_TEXT, family="monospace", va="center",
                fontweight="bold" if path == trace else "normal", gid=f"path-{i}")
        ax.text(vx + vw - pad, line_y, f"← {who}", fontsize=f_small, color=_TEXT, ha="right",
                va="center", gid=f"who-{i}")
    if len(lines) > len(shown):
        ax.text(vx + pad, top_y - pad - (len(shown) + 0.5) * v_line,
                f"… and {len(lines) - len(shown):,} more", fontsize=f_small, color=_TEXT,
                style="italic", va="center", gid="more")
    if trace is not None and supplier is not None and trace_y is not None:
        ax.add_patch(FancyArrowPatch((x0 + bw, box_y(supplier) + box_h / 2), (vx, trace_y),
                                     arrowstyle="-|>", mutation_scale=14 * font_scale(),
                                     color=OKABE_ITO["vermillion"], linewidth=2, gid="trace"))
    elif gone:
        ax.text(vx + vw / 2, bottom - 0.06, "\n".join(gone), fontsize=f_gone, color=_TEXT,
                ha="center", va="top", linespacing=1.2, gid="gone")
    return fig


# --- layer sizes -------------------------------------------------------------------------


def layer_sizes(image: Image) -> Figure:
    """Per layer, a bar of the bytes it stores, split into what the final view still
    shows (solid) and what a later layer hides (hatched ``xx``: replaced or whited out,
    still stored and pulled), with the size written on each bar and a line of the
    cumulative image size. A layer that only deletes stores 0 B: its bar is empty and
    its label says how many whiteouts it carries. Sizes are human (kB, MB).

    In lecture mode the bars lie down (one row per layer, base on top), so the bigger
    step labels get a row's width instead of a column's, and the legend sits below."""
    stats = analysis.stored_bytes(image)
    total = 0
    cumulative = []
    for st in stats:
        total += st.size
        cumulative.append(total)
    top = max([*cumulative, 1])
    xs = [s.index for s in stats]
    visible = [s.visible for s in stats]
    hidden = [s.hidden for s in stats]
    lecture = _lecture()
    fig = _figure(8.0, max(4.8, 0.95 * len(stats) + 3.2) if lecture else 4.8)
    ax = fig.add_subplot()
    _style(ax, "bytes each layer stores")
    solid: dict[str, Any] = {"color": OKABE_ITO["blue"], "edgecolor": _TEXT, "linewidth": 0.6,
                             "alpha": 0.9, "label": "still in the final view"}
    hatched: dict[str, Any] = {"color": OKABE_ITO["grey"], "hatch": CHANGE_HATCH["D"],
                               "edgecolor": _TEXT, "linewidth": 0.6, "alpha": 0.9,
                               "label": "hidden by a later layer (still stored here)"}
    if lecture:
        ax.barh(xs, visible, **solid)
        ax.barh(xs, hidden, left=visible, **hatched)
    else:
        ax.bar(xs, visible, **solid)
        ax.bar(xs, hidden, bottom=visible, **hatched)
    if lecture:
        ax.plot(cumulative, xs, color=_TEXT, marker="o", linewidth=1.5,
                label="image size so far")
    else:
        ax.plot(xs, cumulative, color=_TEXT, marker="o", linewidth=1.5,
                label="image size so far")
    for st in stats:
        note = _human(st.size)
        if st.whiteouts:
            note += f"\n{st.whiteouts} whiteout{'s' if st.whiteouts != 1 else ''}"
        if lecture:
            ax.text(st.size + top * 0.02, st.index, note, ha="left", va="center",
                    fontsize=_fs(8), color=_TEXT, gid=f"size-{st.index}")
        else:
            ax.text(st.index, st.size + top * 0.02, note, ha="center", va="bottom",
                    fontsize=_fs(8), color=_TEXT, gid=f"size-{st.index}")
    ticks = [f"{i}\n{step_label(image.layers[i].created_by)}" for i in xs]
    if lecture:
        # room on the right for the size notes of the longest bars and the line's end
        ax.set_xlim(0, top * 1.6)
        ax.set_yticks(xs, [f"{i} {step_label(image.layers[i].created_by, 18)}" for i in xs])
        ax.set_ylim(len(xs) - 0.5, -0.5)
        ax.set_ylabel("layer (base first)", fontsize=_fs(10), color=_TEXT)
        ax.set_xlabel("stored", fontsize=_fs(10), color=_TEXT)
        _human_axis(ax.xaxis)
        _few_ticks(ax.xaxis, 4)
        fig.legend(fontsize=_fs(8), loc="outside lower center", ncol=1, frameon=False)
        return fig
    ax.set_ylim(0, top * 1.25)
    ax.set_xticks(xs, ticks)
    ax.set_xlabel("layer (base first)", fontsize=_fs(10), color=_TEXT)
    ax.set_ylabel("stored", fontsize=_fs(10), color=_TEXT)
    _human_axis(ax.yaxis)
    ax.legend(fontsize=_fs(8), loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=2,
              frameon=False)
    return fig


def _few_ticks(axis: Any, n: int) -> None:
    """At most ``n`` major ticks: big tick labels need the room."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=n, steps=[1, 2, 2.5, 5, 10]))


# --- sharing -------------------------------------------------------------------------------


def sharing_chart(images: Mapping[str, Image]) -> Figure:
    """Left: an images x layers matrix (a filled cell with ``x`` = the image uses the
    layer; shared layers' labels end in ``*``). Right: each image's shared vs unique
    bytes (unique hatched ``//``). In lecture mode the two panels are stacked, the matrix
    on top, each with the whole width."""
    from matplotlib.colors import ListedColormap

    names = sorted(images)
    layers = analysis.sharing_rows(images)
    lecture = _lecture()
    if lecture:
        fig = _figure(11.0, max(6.0, 1.3 * len(names) + 5.0))
        left, right = fig.subplots(2, 1, height_ratios=[3, 2])
    else:
        fig = _figure(11.0, max(3.0, 0.5 * len(names) + 2.2))
        left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    _style(left, "which image uses which layer")
    matrix = [[1 if name in s.used_by else 0 for s in layers] for name in names]
    cmap = ListedColormap(["#f2f2f2", OKABE_ITO["blue"]])
    left.imshow(matrix, cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i, row in enumerate(matrix):
        for j, used in enumerate(row):
            if used:
                left.text(j, i, "x", ha="center", va="center", color="white",
                          fontsize=_fs(9), fontweight="bold")
    left.set_yticks(range(len(names)), names)
    left.set_xticks(range(len(layers)),
                    [short(s.chain_id, 6) + ("*" if s.shared else "") for s in layers],
                    rotation=60, ha="right", rotation_mode="anchor")
    left.set_xlabel("layers by chain_id (* shared)", fontsize=_fs(9), color=_TEXT)

    _style(right, "shared vs unique bytes")
    shared = [sum(s.size for s in layers if n in s.used_by and s.shared) for n in names]
    unique = [sum(s.size for s in layers if n in s.used_by and not s.shared) for n in names]
    ys = list(range(len(names)))
    right.barh(ys, shared, color=OKABE_ITO["blue"], edgecolor=_TEXT, linewidth=0.6,
               label="shared")
    right.barh(ys, unique, left=shared, color=OKABE_ITO["orange"], hatch="//", edgecolor=_TEXT,
               linewidth=0.6, label="unique")
    right.set_yticks(ys, names)
    right.invert_yaxis()
    left.set_ylim(len(names) - 0.5, -0.5)
    right.set_xlabel("stored", fontsize=_fs(9), color=_TEXT)
    _human_axis(right.xaxis)
    _few_ticks(right.xaxis, 5 if lecture else 3)
    if lecture:
        fig.legend(fontsize=_fs(8), loc="outside lower center", ncol=2, frameon=False)
        return fig
    fig.legend(fontsize=_fs(8), loc="outside lower right", ncol=2, frameon=False)
    return fig


# --- efficiency ---------------------------------------------------------------------------


def efficiency_chart(image: Image) -> Figure:
    """Dive's "wasted" bytes next to the reclaimable bytes, per path (the largest
    :data:`EFFICIENCY_ROWS`), with dive's efficiency score and both totals in the title.
    Dive's figure is hatched ``xx``; reclaimable bytes are solid. In lecture mode the
    path labels wrap narrower, the rows are taller and the legend is one column."""
    report = analysis.efficiency(image)
    rows = report.inefficiencies[:EFFICIENCY_ROWS]
    lecture = _lecture()
    if lecture:
        fig = _figure(10.0, max(4.5, 0.85 * len(rows) + 3.4))
    else:
        fig = _figure(10.0, max(3.0, 0.55 * len(rows) + 2.0))
    ax = fig.add_subplot()
    _style(ax, f"efficiency {report.efficiency:.1%} (dive) · dive wasted "
               f"{_human(report.wasted_bytes)}\nreclaimable {_human(report.reclaimable_bytes)}")
    ys = list(range(len(rows)))
    hgt = 0.38
    ax.barh([y - hgt / 2 for y in ys], [r.dive_wasted for r in rows], height=hgt,
            color=change_color("D"), hatch=CHANGE_HATCH["D"], edgecolor=_TEXT, linewidth=0.6,
            label="dive's wasted (every copy)")
    ax.barh([y + hgt / 2 for y in ys], [r.reclaimable for r in rows], height=hgt,
            color=change_color("A"), edgecolor=_TEXT, linewidth=0.6,
            label="reclaimable (all but the kept copy)")
    ax.set_yticks(ys, [_path_label(r.path, 26 if lecture else 44) for r in rows],
                  family="monospace")
    ax.invert_yaxis()
    ax.set_xlabel("bytes", fontsize=_fs(10), color=_TEXT)
    _human_axis(ax.xaxis)
    if lecture:
        _few_ticks(ax.xaxis, 4)
    if rows and lecture:
        fig.legend(fontsize=_fs(8), loc="outside lower center", ncol=1, frameon=False)
    elif rows:
        ax.legend(fontsize=_fs(8), loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2,
                  frameon=False)
    else:
        ax.text(0.5, 0.5, "no duplicated or hidden bytes", transform=ax.transAxes,
                ha="center", fontsize=_fs(10), color=_TEXT)
    return fig
