"""LayerExplorer: scrub through an image's layers and watch the union view change.

A slider (and step buttons) picks layer ``k``. The tree shows the merged view after
layer ``k`` ("merged up to here") or only what layer ``k`` itself holds ("this layer
only", dive's two modes). Each row carries the layer that supplies the path (a colored
square and ``L2``) and what layer ``k`` did to it, as ``docker diff`` says it
(:mod:`layerlab.changes`): ``A`` added, ``C`` changed (it differs from the lower
version), ``D`` deleted (by a whiteout or an opaque directory), ``O`` an opaque
directory; ``*`` marks a directory with a change somewhere below it (Docker's ``C``
"changes inside"), so a change shows even inside a collapsed directory. In "this layer
only" every entry of the tar is marked: ``A`` if the view below has no such path, ``C``
if it has. Selecting a
directory opens or closes it; only open directories are rendered, so a 100,000-file
image stays responsive. Selecting a file shows its content (text, or hex for binary) and
every version of it down the stack with the layer that hides it.

The marks follow :func:`layerlab.analysis.layer_changes` (the tests check they
agree) but are computed one open directory at a time: the full list costs seconds on a
big image, so it is only computed when asked for (:meth:`LayerExplorer.show_changes`).

>>> from layerlab import Image, Layer, Whiteout
>>> from layerlab.widgets import LayerExplorer
>>> img = Image.from_layers([Layer.from_dict({"/a": "1"}), Layer.from_dict({"/a": Whiteout()})])
>>> explorer = LayerExplorer(img, upto=0)
>>> explorer.rows()
['A a  🟦L0  1 B']
>>> explorer.slider.value = 1
>>> explorer.rows()
['D a  (whiteout in layer 1)']
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import ipywidgets as W

from .. import analysis
from ..changes import differences
from ..entry import Entry, EntryKind
from ..image import Image
from ..layer import Layer
from ..paths import ROOT, ancestors, join, split
from ..union import Node, View
from ..views.palette import readable_on
from ._base import MONO, StaticFallback, badge, content_html, layer_color, mono_css

__all__ = ["LayerExplorer"]

MERGED = "merged up to here"
LAYER_ONLY = "this layer only"
#: rows one directory shows before "… N more" (search finds the rest)
MAX_CHILDREN = 1000
MAX_SEARCH = 500
#: views up to this many paths get exact change counts (analysis.layer_changes) at once;
#: bigger ones on "list every change" (it walks two whole views: seconds at 100,000)
EXACT_COUNTS_UPTO = 2000
#: a colored square per layer, so the plain-text list box still shows colors
_SWATCHES = ("🟦", "🟧", "🟩", "🟪", "🟦", "🟥", "🟨", "⬜")


def swatch(layer: int) -> str:
    """The colored square of layer ``layer`` (matches :func:`layer_color`)."""
    return _SWATCHES[layer % len(_SWATCHES)] if layer >= 0 else "⬜"


@dataclass(frozen=True)
class Row:
    """One line of the tree: its label, the path it stands for, what it is."""

    label: str
    path: str
    is_dir: bool = False
    mark: str = " "


@dataclass
class _LayerNode:
    """A name in one layer: its entry (None when only implied by children) and markers."""

    entry: Entry | None = None
    whiteout: bool = False
    opaque: bool = False


def _layer_index(layer: Layer) -> dict[str, dict[str, _LayerNode]]:
    """directory -> {name: node} for one layer's own entries, implied parents included."""
    kids: dict[str, dict[str, _LayerNode]] = {ROOT: {}}

    def node(path: str) -> _LayerNode:
        parent, name = split(path)
        if parent not in kids:
            node(parent)
        kids.setdefault(path, {})
        return kids[parent].setdefault(name, _LayerNode())

    for entry in layer.entries:
        if entry.path == ROOT:
            continue
        n = node(entry.path)
        if entry.kind is EntryKind.WHITEOUT:
            n.whiteout = True
        elif entry.kind is EntryKind.OPAQUE:
            n.opaque = True
        else:
            n.entry = entry
    return kids


class LayerExplorer(StaticFallback, W.VBox):  # type: ignore[misc]
    """Explore an image layer by layer (see the module docstring)."""

    def __init__(self, image: Image, *, upto: int | None = None, rows: int = 18) -> None:
        if not image.layers:
            raise ValueError("LayerExplorer needs an image with at least one layer")
        self.image = image
        self._open: set[str] = {ROOT}
        self._rows: list[Row] = []
        self._layer_indexes: dict[int, dict[str, dict[str, _LayerNode]]] = {}
        self._changes: dict[int, list[analysis.ChangeRow]] = {}
        self._inside: dict[int, frozenset[str]] = {}
        self._infos: dict[tuple[int, bool], str] = {}
        last = len(image.layers) - 1
        self.slider = W.IntSlider(value=last if upto is None else upto, min=0, max=last,
                                  description="layer", continuous_update=True)
        self.prev_button = W.Button(description="◀", tooltip="previous layer",
                                    layout=W.Layout(width="3em"))
        self.next_button = W.Button(description="▶", tooltip="next layer",
                                    layout=W.Layout(width="3em"))
        self.mode = W.ToggleButtons(options=[MERGED, LAYER_ONLY], value=MERGED,
                                    tooltips=["the union view after this layer",
                                              "what this layer's tar holds"])
        self.search = W.Text(placeholder="part of a path", description="search",
                             continuous_update=False)
        self.sort = W.Dropdown(options=["name", "size"], value="name", description="sort",
                               layout=W.Layout(width="12em"))
        self.changes_button = W.Button(description="list every change",
                                       tooltip="every path this layer added, modified or "
                                               "deleted (slow on big images)")
        self.tree = W.Select(options=[], rows=rows, layout=W.Layout(width="55%"))
        self.details = W.HTML(layout=W.Layout(width="45%"))
        self.layer_info = W.HTML()
        self.strip = W.HTML()
        self.prev_button.on_click(lambda _: self.step(-1))
        self.next_button.on_click(lambda _: self.step(+1))
        self.changes_button.on_click(lambda _: self.show_changes())
        for control in (self.slider, self.mode, self.search, self.sort):
            control.observe(self._on_change, names="value")
        self.tree.observe(self._on_select, names="value")
        super().__init__([
            W.HTML(mono_css()),
            self.strip,
            W.HBox([self.prev_button, self.slider, self.next_button, self.mode]),
            W.HBox([self.search, self.sort, self.changes_button]),
            self.layer_info,
            W.HBox([self.tree, self.details]),
        ])
        self.tree.add_class(MONO)
        self.add_class("layerlab-explorer")
        self._refresh()

    def __repr__(self) -> str:
        return f"<LayerExplorer: {len(self.image.layers)} layers, at layer {self.k}>"

    def static_html(self) -> str:
        return self.image._repr_html_()

    # --- public actions ------------------------------------------------------------------
    @property
    def k(self) -> int:
        """The layer the slider is on."""
        return int(self.slider.value)

    def step(self, delta: int) -> None:
        """Move the slider by ``delta`` layers (clamped)."""
        self.slider.value = max(0, min(self.slider.max, self.k + delta))

    def open_dir(self, path: str) -> None:
        """Open a directory (and its parents) in the tree."""
        while path != ROOT:
            self._open.add(path)
            path = split(path)[0]
        self._render_tree()

    def close_dir(self, path: str) -> None:
        self._open.discard(path)
        self._render_tree()

    def select(self, path: str) -> None:
        """Show a path's details (as clicking its row does); opens its parents."""
        self.open_dir(split(path)[0])
        self.tree.value = path

    def rows(self) -> list[str]:
        """The tree's rows as text (what the list box shows)."""
        return [row.label for row in self._rows]

    def marks(self) -> dict[str, str]:
        """Path -> mark (A, C, D, O) of the rows shown that layer ``k`` changed."""
        return {row.path: row.mark for row in self._rows if row.mark.strip() not in ("", "*")}

    def inside_marks(self) -> list[str]:
        """The directories shown marked ``*``: layer ``k`` changed something below them."""
        return [row.path for row in self._rows if row.mark == "*"]

    def show_changes(self) -> list[analysis.ChangeRow]:
        """Every change of layer ``k`` (:func:`analysis.layer_changes`), listed in the
        details pane. Computed once per layer: it walks two whole views."""
        rows = self._layer_changes()
        self._render_layer_info()
        items = "".join(
            f"<div>{badge(r.change)} <code>{html.escape(r.path)}</code>"
            f"{' (' + html.escape(r.how) + ')' if r.how else ''}</div>"
            for r in rows[:MAX_CHILDREN])
        more = f"<div>… and {len(rows) - MAX_CHILDREN:,} more</div>" if len(
            rows) > MAX_CHILDREN else ""
        counts = {c: sum(1 for r in rows if r.change == c) for c in "ACD"}
        self.details.value = (
            f"<b>layer {self.k}: {counts['A']:,} added, {counts['C']:,} changed, "
            f"{counts['D']:,} deleted</b><div style='max-height:24em;overflow:auto'>"
            f"{items}{more}</div>")
        return rows

    # --- rendering -----------------------------------------------------------------------
    def _changed_inside(self) -> frozenset[str]:
        """The directories with something layer ``k`` changed below them (the ancestors
        of its entries and whiteouts), which the merged tree marks ``*``."""
        if self.k not in self._inside:
            layer = self.image.layers[self.k]
            paths = [*(e.path for e in layer.entries), *layer.whiteouts]
            self._inside[self.k] = frozenset(a for p in paths for a in ancestors(p)
                                             if a != ROOT)
        return self._inside[self.k]

    def _layer_changes(self) -> list[analysis.ChangeRow]:
        if self.k not in self._changes:
            self._changes[self.k] = analysis.layer_changes(self.image, self.k)
        return self._changes[self.k]

    def _view(self) -> View:
        return self.image.view(upto=self.k)

    def _below(self) -> View | None:
        return self.image.view(upto=self.k - 1) if self.k > 0 else None

    def _on_change(self, change: object) -> None:
        self._refresh()

    def _refresh(self) -> None:
        self._render_strip()
        self._render_layer_info()
        self._render_tree()

    def _render_strip(self) -> None:
        cells = []
        for i, layer in enumerate(self.image.layers):
            on = i <= self.k if self.mode.value == MERGED else i == self.k
            color = layer_color(i)
            style = (f"display:inline-block;padding:2px 6px;margin:1px;border-radius:3px;"
                     f"border:2px solid {color};background:{color if on else 'transparent'};"
                     f"color:{readable_on(color) if on else 'inherit'};font-family:monospace")
            title = html.escape(layer.created_by or layer.short_id)
            cells.append(f'<span style="{style}" title="{title}">{swatch(i)}L{i}</span>')
        self.strip.value = "".join(cells)

    def _render_layer_info(self) -> None:
        key = (self.k, self.k in self._changes)
        if key not in self._infos:  # the sums below walk the layer: once per layer
            self._infos[key] = self._layer_info_html()
        self.layer_info.value = self._infos[key]

    def _layer_info_html(self) -> str:
        layer = self.image.layers[self.k]
        created_by = html.escape(layer.created_by or "(no created_by)")
        head = (f"<b style='border-bottom:3px solid {layer_color(self.k)}'>{swatch(self.k)} "
                f"layer {self.k}</b> "
                f"<code>{html.escape(layer.short_id)}</code> {created_by}<br>")
        counts = ""
        if self.k in self._changes or len(self._view()) <= EXACT_COUNTS_UPTO:
            changes = self._layer_changes()
            a, m, d = (sum(1 for r in changes if r.change == c) for c in "ACD")
            counts = (f"{badge('A')} {a:,} added, {badge('C')} {m:,} changed, "
                      f"{badge('D')} {d:,} deleted; ")
        return (f"{head}{counts}{len(layer):,} entries in the tar, "
                f"{len(layer.whiteouts):,} whiteouts, {badge('O')} {len(layer.opaques):,} "
                f"opaque dirs; {layer.size:,} bytes of files")

    def _render_tree(self) -> None:
        needle = self.search.value.strip()
        if needle:
            rows = self._search_rows(needle)
        elif self.mode.value == LAYER_ONLY:
            rows = self._layer_rows(ROOT, 0)
        else:
            rows = self._merged_rows(ROOT, 0)
        self._rows = rows
        current = self.tree.value
        self.tree.unobserve(self._on_select, names="value")
        try:
            self.tree.options = [(row.label, row.path) for row in rows]
            self.tree.value = current if any(r.path == current for r in rows) else None
        finally:
            self.tree.observe(self._on_select, names="value")

    def _sorted(self, items: list[Any], entry_of: Any) -> list[Any]:
        if self.sort.value == "size":
            def key(item: Any) -> tuple[bool, int, str]:
                entry = entry_of(item)
                return (not entry.is_dir, -analysis.regular_size(entry), entry.name)
            return sorted(items, key=key)
        return items  # children come sorted by name

    @staticmethod
    def _label(depth: int, mark: str, entry: Entry, layer: int, is_open: bool,
               name: str | None = None) -> str:
        indent = "  " * depth
        name = name if name is not None else entry.name
        if entry.is_dir:
            arrow = "▾ " if is_open else "▸ "
            return f"{mark} {indent}{arrow}{name}/  {swatch(layer)}L{layer}"
        if entry.kind is EntryKind.SYMLINK:
            name += f" -> {entry.linkname}"
        elif entry.kind is EntryKind.HARDLINK:
            name += f" => {entry.linkname}"
        size = f"  {entry.size:,} B" if entry.is_regular else ""
        return f"{mark} {indent}{name}  {swatch(layer)}L{layer}{size}"

    def _merged_rows(self, directory: str, depth: int) -> list[Row]:
        view, below = self._view(), self._below()
        layer_k = self.image.layers[self.k]
        k = self.k
        groups: list[tuple[str, list[Row]]] = []
        kids = self._sorted(view.children(directory), lambda node: node.entry)
        for node in kids[:MAX_CHILDREN]:
            entry = node.entry
            mark = " "
            if entry.is_dir and entry.path in layer_k.opaques:
                mark = "O"
            elif node.layer == k and self._supplied_mark(below, entry):
                mark = self._supplied_mark(below, entry)
            elif entry.is_dir and entry.path in self._changed_inside():
                mark = "*"  # layer k changed something below: seen even when collapsed
            is_open = entry.is_dir and entry.path in self._open
            group = [Row(self._label(depth, mark, entry, node.layer, is_open),
                         entry.path, entry.is_dir, mark)]
            if is_open:
                group.extend(self._merged_rows(entry.path, depth + 1))
            groups.append((entry.name, group))
        deleted = self._deleted_rows(directory, depth, view, below, layer_k)
        if self.sort.value == "name":  # deleted names in their place, else at the end
            groups = sorted([*groups, *((split(r.path)[1], [r]) for r in deleted)],
                            key=lambda g: g[0])
        else:
            groups.extend((split(r.path)[1], [r]) for r in deleted)
        rows = [row for _, group in groups for row in group]
        if len(kids) > MAX_CHILDREN:
            rows.append(Row(f"  {'  ' * depth}… {len(kids) - MAX_CHILDREN:,} more (search finds "
                            "them)", "\0more" + directory))
        return rows

    @staticmethod
    def _supplied_mark(below: View | None, entry: Entry) -> str:
        """``A`` or ``C`` for a path layer ``k`` supplies, as docker diff sees it; ``""``
        when it is the same as the version below (no change)."""
        lower = below.lookup(entry.path) if below is not None else None
        if lower is None:
            return "A"
        return "C" if differences(lower.entry, entry) else ""

    def _deleted_rows(self, directory: str, depth: int, view: View, below: View | None,
                      layer_k: Layer) -> list[Row]:
        """Rows for what layer ``k`` removed from ``directory`` (present below, gone now)."""
        if below is None:
            return []
        here = view.lookup(directory)
        if here is None or not here.entry.is_dir:
            return []
        now = {node.entry.name for node in view.children(directory)}
        rows = []
        for node in below.children(directory):
            if node.entry.name in now:
                continue
            path = node.entry.path
            if path in layer_k.whiteouts:
                why = f"whiteout in layer {self.k}"
            elif directory in layer_k.opaques:
                why = f"opaque {directory} in layer {self.k}"
            else:
                why = f"replaced in layer {self.k}"
            slash = "/" if node.entry.is_dir else ""
            rows.append(Row(f"D {'  ' * depth}{node.entry.name}{slash}  ({why})", path,
                            False, "D"))
        return rows

    def _layer_kids(self) -> dict[str, dict[str, _LayerNode]]:
        if self.k not in self._layer_indexes:
            self._layer_indexes[self.k] = _layer_index(self.image.layers[self.k])
        return self._layer_indexes[self.k]

    def _layer_rows(self, directory: str, depth: int) -> list[Row]:
        kids = self._layer_kids()
        below = self._below()
        rows: list[Row] = []
        names = sorted(kids.get(directory, {}).items())
        implied_dir = Entry(ROOT, EntryKind.DIR)

        def entry_of(item: tuple[str, _LayerNode]) -> Entry:
            return item[1].entry or implied_dir

        for name, node in self._sorted(names, entry_of)[:MAX_CHILDREN]:
            path = join(directory, name)
            indent = "  " * depth
            if node.whiteout:
                gone = below is not None and below.lookup(path) is not None
                what = "whiteout: deletes the lower version" if gone else (
                    "whiteout: nothing below to delete")
                rows.append(Row(f"D {indent}{name}  ({what})", path + "\0", False, "D"))
            entry = node.entry
            if entry is None and (kids.get(path) or not node.whiteout):
                entry = Entry(path, EntryKind.DIR)  # a parent the tar only implies
            if entry is None:
                continue
            if node.opaque:
                mark = "O"
            elif node.entry is None:
                mark = "·"  # implied: the tar has no entry for it
            else:
                mark = "C" if below is not None and below.lookup(path) is not None else "A"
            is_open = entry.is_dir and path in self._open
            label = self._label(depth, mark, entry, self.k, is_open, name)
            if node.entry is None:
                label += "  (implied)"
            rows.append(Row(label, path, entry.is_dir, mark))
            if is_open:
                rows.extend(self._layer_rows(path, depth + 1))
        extra = len(names) - MAX_CHILDREN
        if extra > 0:
            rows.append(Row(f"  {'  ' * depth}… {extra:,} more (search finds them)",
                            "\0more" + directory))
        return rows

    def _search_rows(self, needle: str) -> list[Row]:
        rows: list[Row] = []
        if self.mode.value == LAYER_ONLY:
            found: Any = ((e, self.k) for e in self.image.layers[self.k].entries)
        else:
            found = self._view().nodes()
        for entry, layer in found:
            if needle in entry.path:
                marker = f" ({entry.kind})" if entry.kind.is_marker else ""
                value = entry.path + ("\0" if entry.kind.is_marker else "")
                rows.append(Row(f"  {entry.path}{marker}  {swatch(layer)}L{layer}", value,
                                entry.is_dir))
                if len(rows) >= MAX_SEARCH:
                    rows.append(Row(f"  … more than {MAX_SEARCH} matches", "\0more"))
                    break
        if not rows:
            rows.append(Row(f"  no path contains {needle!r}", "\0none"))
        return rows

    # --- selection -----------------------------------------------------------------------
    def _on_select(self, change: dict[str, object]) -> None:
        path = change.get("new")
        if not isinstance(path, str) or not path or path.startswith("\0"):
            return  # "… more" and "no match" rows
        row = next((r for r in self._rows if r.path == path), None)
        if row is not None and row.is_dir and not self.search.value.strip():
            (self._open.discard if path in self._open else self._open.add)(path)
            self._render_tree()
        self._show_details(path.rstrip("\0"))

    def _show_details(self, path: str) -> None:
        view = self._view()
        parts = [f"<b><code>{html.escape(path)}</code></b>"]
        node = view.lookup(path)
        if node is not None:
            parts.append(_node_html(view, node))
        else:
            parts.append(f"<div>not in the view after layer {self.k}</div>")
        hidden = view.shadowed(path)
        if hidden:
            items = "".join(
                f"<li><b style='border-bottom:3px solid {layer_color(s.layer)}'>"
                f"{swatch(s.layer)} layer "
                f"{s.layer}</b>: {html.escape(str(s.entry.kind))}, {s.entry.size:,} B"
                f"{_digest(s.entry)}, hidden by layer {s.hidden_by} ({html.escape(s.reason)} "
                f"of <code>{html.escape(s.by_path)}</code>)</li>" for s in reversed(hidden))
            parts.append(f"<div>lower versions, newest first:<ul style='margin:2px 0'>{items}"
                         "</ul></div>")
        elif node is not None:
            parts.append("<div style='opacity:0.75'>no lower version hidden</div>")
        self.details.value = "".join(parts)


def _digest(entry: Entry) -> str:
    return f", <code>{html.escape(entry.digest[:19])}</code>" if entry.digest else ""


def _node_html(view: View, node: Node) -> str:
    entry, layer = node.entry, node.layer
    who = "implied (no layer has an entry)" if layer < 0 else (
        f"from <b style='border-bottom:3px solid {layer_color(layer)}'>{swatch(layer)} "
        f"layer {layer}</b>")
    out = (f"<div>{html.escape(entry.filemode)} {entry.uid}:{entry.gid} "
           f"{entry.size:,} B{_digest(entry)}, {who}</div>")
    if entry.is_regular:
        out += content_html(view.read(entry.path))
    elif entry.kind is EntryKind.SYMLINK:
        out += f"<div>symlink to <code>{html.escape(entry.linkname)}</code></div>"
    elif entry.is_dir:
        out += f"<div>{len(view.children(entry.path)):,} entries</div>"
    return out
