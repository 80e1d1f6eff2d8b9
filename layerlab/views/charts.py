"""matplotlib charts: the stack diagram, layer sizes, sharing and efficiency.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot and
without touching ``rcParams``; sizes are fixed, inputs sorted and nothing carries a
timestamp, so the same image draws the same picture. Change kinds differ by hatch and
letter as well as by color (:mod:`layerlab.views.palette`), the background is white so
the charts read in light and dark notebook themes, and fonts follow
:func:`layerlab.views.lecture_mode`.

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

from ..analysis import efficiency, sharing_rows, stored_bytes
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


def _figure(width: float, height: float) -> Figure:
    """A Figure that also shows itself as PNG where no matplotlib display hook exists."""
    from matplotlib.figure import Figure

    class LabFigure(Figure):
        def _repr_png_(self) -> bytes:
            buf = io.BytesIO()
            self.savefig(buf, format="png", metadata={"Software": None})
            return buf.getvalue()

    # lecture mode scales the figure with its fonts, so the layout (and what does not
    # overlap) stays the same, only bigger
    scale = font_scale()
    return LabFigure(figsize=(width * scale, height * scale), facecolor=_BG,
                     layout="constrained")


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
    """
    from matplotlib.patches import FancyArrowPatch, Rectangle

    from ..container import Container

    container = image_or_container if isinstance(image_or_container, Container) else None
    image: Image = container.image if container is not None else image_or_container  # type: ignore[assignment]
    view: View = container.view() if container is not None else image.view()
    legacy = image.legacy_layers
    n_ro = len(image.layers)
    n = n_ro + (1 if container is not None else 0)
    height = max(3.0, 0.9 * n + 1.6)
    fig = _figure(11.0, height)
    ax = fig.add_subplot()
    ax.set_xlim(0, 11)
    ax.set_ylim(-0.6, n + 0.4)
    ax.axis("off")
    ax.set_facecolor(_BG)
    title = ("container = image layers + read-write layer" if container is not None
             else "image = a stack of read-only layers")
    ax.set_title(title, fontsize=_fs(12), color=_TEXT)

    supplier: int | None = None
    hidden: dict[int, str] = {}
    replaced = False
    if trace is not None:
        if view.exists(trace):
            supplier = view.provenance(trace)
        for s in view.shadowed(trace):
            hidden[s.layer] = f"{s.reason} by layer {s.hidden_by}"
            replaced = replaced or s.hidden_by == supplier

    x0, w, h = 0.9, 5.2, 0.7
    for k in range(n):
        y = k
        rw = k == n_ro
        color = OKABE_ITO["sky_blue"] if rw else OKABE_ITO["blue"]
        hatch = CHANGE_HATCH["RW"] if rw else ""
        edge, lw = NEUTRAL, 1.0
        if k in hidden:
            color, hatch = OKABE_ITO["grey"], CHANGE_HATCH["D"]
        if supplier == k:
            edge, lw = OKABE_ITO["vermillion"], 3.0
        ax.add_patch(Rectangle((x0, y), w, h, facecolor=color, alpha=0.35, edgecolor=edge,
                               linewidth=lw, hatch=hatch, gid=f"layer-{k}"))
        if rw:
            label = f"read-write layer · {len(container.rw) if container else 0} paths"
            sub = "container's upper dir: copy-up on first write"
        else:
            layer = image.layers[k]
            made = _clip(layer.created_by or "(no created_by)", 34)
            label = f"{k}  {short(layer.diff_id)}  {made}"
            sub = f"id {legacy[k].id[:12]}  parent {(legacy[k].parent or '—')[:12]}"
        ax.text(x0 + 0.1, y + 0.45, label, fontsize=_fs(9), color=_TEXT, va="center",
                family="monospace")
        ax.text(x0 + 0.1, y + 0.17, sub, fontsize=_fs(7.5), color=_TEXT, va="center",
                family="monospace")
        if k in hidden:
            ax.text(x0 + w - 0.1, y + 0.45, f"hides {trace}: {hidden[k]}", fontsize=_fs(7.5),
                    color=_TEXT, ha="right", va="center")
        if k > 0:
            # the parent pointer: this layer's json names the one below
            ax.add_patch(FancyArrowPatch((x0 - 0.25, y + 0.35), (x0 - 0.25, y - 0.3 + 0.05),
                                         arrowstyle="-|>", mutation_scale=12, color=NEUTRAL,
                                         connectionstyle="arc3,rad=0.5", gid=f"parent-{k}"))
    ax.text(x0 - 0.55, -0.45, "parent\npointers", fontsize=_fs(7), color=_TEXT, ha="center")

    # the unified view
    vx, vw = 7.0, 3.8
    ax.add_patch(Rectangle((vx, 0), vw, n - 1 + h, facecolor=OKABE_ITO["bluish_green"],
                           alpha=0.12, edgecolor=NEUTRAL, linewidth=1.0, gid="view"))
    ax.text(vx + vw / 2, n - 1 + h + 0.15, f"unified view · {len(view):,} paths",
            fontsize=_fs(10), color=_TEXT, ha="center")
    lines: list[tuple[str, int]] = [(e.path, layer) for e, layer in view.nodes()]
    shown = lines[:VIEW_LINES]
    if trace is not None and supplier is not None and all(p != trace for p, _ in shown):
        shown = [*shown[: VIEW_LINES - 1], (trace, supplier)]
    top = n - 1 + h - 0.25
    step = min(0.3, (n - 1 + h - 0.3) / max(len(shown) + 1, 1))
    trace_y = None
    for i, (path, supplied_by) in enumerate(shown):
        line_y = top - i * step
        mark = ""
        if path == trace:
            mark = "M " if replaced else "A "
            trace_y = line_y
        who = "rw" if supplied_by == n_ro and container is not None else str(supplied_by)
        ax.text(vx + 0.1, line_y, f"{mark}{_clip(path, 30)}", fontsize=_fs(7.5), color=_TEXT,
                family="monospace", va="center",
                fontweight="bold" if path == trace else "normal")
        ax.text(vx + vw - 0.1, line_y, f"← {who}", fontsize=_fs(7.5), color=_TEXT, ha="right",
                va="center")
    if len(lines) > len(shown):
        ax.text(vx + 0.1, top - len(shown) * step, f"… and {len(lines) - len(shown):,} more",
                fontsize=_fs(7.5), color=_TEXT, style="italic", va="center")
    if trace is not None and supplier is not None and trace_y is not None:
        ax.add_patch(FancyArrowPatch((x0 + w, supplier + h / 2), (vx, trace_y),
                                     arrowstyle="-|>", mutation_scale=14,
                                     color=OKABE_ITO["vermillion"], linewidth=2, gid="trace"))
    elif trace is not None:
        gone = max(hidden.items())[1] if hidden else "it was never there"
        ax.text(vx + vw / 2, -0.4, f"{trace} is not in the view: {gone}", fontsize=_fs(8),
                color=_TEXT, ha="center")
    return fig


# --- layer sizes -------------------------------------------------------------------------


def layer_sizes(image: Image) -> Figure:
    """Per layer, a bar of the bytes it stores, split into what the final view still
    shows (solid) and what a later layer hides (hatched ``xx``: replaced or whited out,
    still stored and pulled), with the size written on each bar and a line of the
    cumulative image size. A layer that only deletes stores 0 B: its bar is empty and
    its label says how many whiteouts it carries. Sizes are human (kB, MB)."""
    stats = stored_bytes(image)
    fig = _figure(8.0, 4.8)
    ax = fig.add_subplot()
    _style(ax, "bytes each layer stores")
    xs = [s.index for s in stats]
    visible = [s.visible for s in stats]
    hidden = [s.hidden for s in stats]
    ax.bar(xs, visible, color=OKABE_ITO["blue"], edgecolor=_TEXT, linewidth=0.6, alpha=0.9,
           label="still in the final view")
    ax.bar(xs, hidden, bottom=visible, color=OKABE_ITO["grey"], hatch=CHANGE_HATCH["D"],
           edgecolor=_TEXT, linewidth=0.6, alpha=0.9,
           label="hidden by a later layer (still stored here)")
    total = 0
    cumulative = []
    for st in stats:
        total += st.size
        cumulative.append(total)
    ax.plot(xs, cumulative, color=_TEXT, marker="o", linewidth=1.5, label="image size so far")
    top = max([*cumulative, 1])
    for st in stats:
        note = _human(st.size)
        if st.whiteouts:
            note += f"\n{st.whiteouts} whiteout{'s' if st.whiteouts != 1 else ''}"
        ax.text(st.index, st.size + top * 0.02, note, ha="center", va="bottom",
                fontsize=_fs(8), color=_TEXT, gid=f"size-{st.index}")
    ax.set_ylim(0, top * 1.25)
    ax.set_xticks(xs, [f"{i}\n{step_label(image.layers[i].created_by)}" for i in xs])
    ax.set_xlabel("layer (base first)", fontsize=_fs(10), color=_TEXT)
    ax.set_ylabel("stored", fontsize=_fs(10), color=_TEXT)
    _human_axis(ax.yaxis)
    ax.legend(fontsize=_fs(8), loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=2,
              frameon=False)
    return fig


# --- sharing -------------------------------------------------------------------------------


def sharing_chart(images: Mapping[str, Image]) -> Figure:
    """Left: an images x layers matrix (a filled cell with ``x`` = the image uses the
    layer; shared layers' labels end in ``*``). Right: each image's shared vs unique
    bytes (unique hatched ``//``)."""
    from matplotlib.colors import ListedColormap

    names = sorted(images)
    layers = sharing_rows(images)
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
                    rotation=60, ha="right")
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
    right.tick_params(axis="x", labelrotation=30)
    right.legend(fontsize=_fs(8), loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2,
                 frameon=False)
    return fig


# --- efficiency ---------------------------------------------------------------------------


def efficiency_chart(image: Image) -> Figure:
    """Dive's "wasted" bytes next to the reclaimable bytes, per path (the largest
    :data:`EFFICIENCY_ROWS`), with dive's efficiency score and both totals in the title.
    Dive's figure is hatched ``xx``; reclaimable bytes are solid."""
    report = efficiency(image)
    rows = report.inefficiencies[:EFFICIENCY_ROWS]
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
    ax.set_yticks(ys, [_path_label(r.path) for r in rows], family="monospace")
    ax.invert_yaxis()
    ax.set_xlabel("bytes", fontsize=_fs(10), color=_TEXT)
    _human_axis(ax.xaxis)
    if rows:
        ax.legend(fontsize=_fs(8), loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2,
                  frameon=False)
    else:
        ax.text(0.5, 0.5, "no duplicated or hidden bytes", transform=ax.transAxes,
                ha="center", fontsize=_fs(10), color=_TEXT)
    return fig

