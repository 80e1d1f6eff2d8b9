"""LayerExplorer: scrub through an image's layers and watch the union view change.

A slider (and step buttons) picks layer ``k``. The tree shows the merged view after
layer ``k`` ("merged up to here") or only what layer ``k`` itself holds ("this layer
only", dive's two modes). Each row carries the layer that supplies the path (``L2``)
and what layer ``k`` did to it: ``A`` added, ``M`` modified (it hides a lower version),
``D`` deleted by a whiteout, ``O`` an opaque directory. Selecting a directory opens or
closes it; only open directories are rendered, so huge images stay responsive.
Selecting a file shows its content (text, or hex for binary) and every version of it
down the stack with the layer that hides it.

>>> from layerlab import Image, Layer, Whiteout
>>> from layerlab.widgets import LayerExplorer
>>> img = Image.from_layers([Layer.from_dict({"/a": "1"}), Layer.from_dict({"/a": Whiteout()})])
>>> explorer = LayerExplorer(img, upto=0)
>>> explorer.rows()
['A a  L0  1 B']
>>> explorer.slider.value = 1
>>> explorer.rows()
['D a  (deleted by layer 1)']
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as W

from ..entry import Entry, EntryKind
from ..image import Image
from ..paths import ROOT, split
from ..union import View

__all__ = ["LayerExplorer"]

_MERGED = "merged up to here"
_ONLY = "this layer only"
_MAX_SEARCH = 500
_MAX_TEXT = 4000
#: Okabe-Ito, colorblind-safe; one color per layer index (cycled)
_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")


@dataclass(frozen=True)
class _Row:
    label: str
    path: str
    is_dir: bool


def _layer_color(index: int) -> str:
    return _COLORS[index % len(_COLORS)] if index >= 0 else "#999999"


class LayerExplorer(W.VBox):  # type: ignore[misc]
    """Explore an image layer by layer (see the module docstring)."""

    def __init__(self, image: Image, *, upto: int | None = None, rows: int = 18) -> None:
        if not image.layers:
            raise ValueError("LayerExplorer needs an image with at least one layer")
        self.image = image
        self._open: set[str] = {ROOT}
        self._rows: list[_Row] = []
        last = len(image.layers) - 1
        self.slider = W.IntSlider(value=last if upto is None else upto, min=0, max=last,
                                  description="layer", continuous_update=True)
        self.prev_button = W.Button(description="◀", tooltip="previous layer",
                                    layout=W.Layout(width="3em"))
        self.next_button = W.Button(description="▶", tooltip="next layer",
                                    layout=W.Layout(width="3em"))
        self.mode = W.ToggleButtons(options=[_MERGED, _ONLY], value=_MERGED)
        self.search = W.Text(placeholder="search paths", description="search",
                             continuous_update=False)
        self.sort = W.Dropdown(options=["name", "size"], value="name", description="sort",
                               layout=W.Layout(width="12em"))
        self.tree = W.Select(options=[], rows=rows, layout=W.Layout(width="55%"),
                             style={"font_family": "monospace"})
        self.details = W.HTML(layout=W.Layout(width="45%"))
        self.layer_info = W.HTML()
        self.strip = W.HTML()
        self.prev_button.on_click(lambda _: self.step(-1))
        self.next_button.on_click(lambda _: self.step(+1))
        for control in (self.slider, self.mode, self.search, self.sort):
            control.observe(self._on_change, names="value")
        self.tree.observe(self._on_select, names="value")
        super().__init__([
            self.strip,
            W.HBox([self.prev_button, self.slider, self.next_button, self.mode]),
            W.HBox([self.search, self.sort]),
            self.layer_info,
            W.HBox([self.tree, self.details]),
        ])
        self._refresh()

    def __repr__(self) -> str:
        return f"<LayerExplorer: {len(self.image.layers)} layers, at layer {self.k}>"

    # --- public actions ------------------------------------------------------------------
    @property
    def k(self) -> int:
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

    # --- rendering -----------------------------------------------------------------------
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
            on = i <= self.k if self.mode.value == _MERGED else i == self.k
            style = (f"display:inline-block;padding:2px 6px;margin:1px;border-radius:3px;"
                     f"border:2px solid {_layer_color(i)};"
                     f"background:{_layer_color(i) if on else 'transparent'};"
                     f"color:{'#fff' if on else 'inherit'};font-family:monospace")
            title = html.escape(layer.created_by or layer.short_id)
            cells.append(f'<span style="{style}" title="{title}">L{i}</span>')
        self.strip.value = "".join(cells)

    def _render_layer_info(self) -> None:
        layer = self.image.layers[self.k]
        below = self._below()
        added = modified = 0
        for entry in layer.content_entries:
            if below is not None and below.lookup(entry.path) is not None:
                modified += 1
            else:
                added += 1
        deleted = sum(1 for p in layer.whiteouts if below is not None and below.exists(p))
        created_by = html.escape(layer.created_by or "(no created_by)")
        self.layer_info.value = (
            f"<b style='color:{_layer_color(self.k)}'>layer {self.k}</b> "
            f"<code>{html.escape(layer.short_id)}</code> {created_by}<br>"
            f"{added} added, {modified} modified, {deleted} deleted, "
            f"{len(layer.opaques)} opaque dirs, {layer.size:,} bytes"
        )

    def _render_tree(self) -> None:
        if self.search.value.strip():
            rows = self._search_rows(self.search.value.strip())
        elif self.mode.value == _ONLY:
            rows = self._layer_only_rows()
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

    def _mark(self, entry: Entry, layer: int, below: View | None) -> str:
        if layer != self.k:
            return " "
        if entry.is_dir and entry.path in self.image.layers[self.k].opaques:
            return "O"
        if below is not None and below.lookup(entry.path) is not None:
            return "M"
        return "A"

    def _sorted(self, entries: list[tuple[Entry, int]]) -> list[tuple[Entry, int]]:
        if self.sort.value == "size":
            return sorted(entries, key=lambda item: (not item[0].is_dir, -item[0].size,
                                                     item[0].name))
        return sorted(entries, key=lambda item: item[0].name)

    def _label(self, depth: int, mark: str, entry: Entry, layer: int) -> str:
        indent = "  " * depth
        if entry.is_dir:
            arrow = "▾ " if entry.path in self._open else "▸ "
            return f"{mark} {indent}{arrow}{entry.name}/  L{layer}"
        name = entry.name
        if entry.kind is EntryKind.SYMLINK:
            name += f" -> {entry.linkname}"
        size = f"  {entry.size:,} B" if entry.is_regular else ""
        return f"{mark} {indent}{name}  L{layer}{size}"

    def _merged_rows(self, directory: str, depth: int) -> list[_Row]:
        view, below = self._view(), self._below()
        rows: list[_Row] = []
        items = self._sorted([(node.entry, node.layer) for node in view.children(directory)])
        for entry, layer in items:
            rows.append(_Row(self._label(depth, self._mark(entry, layer, below), entry, layer),
                             entry.path, entry.is_dir))
            if entry.is_dir and entry.path in self._open:
                rows.extend(self._merged_rows(entry.path, depth + 1))
        layer_k = self.image.layers[self.k]
        for path in sorted(p for p in layer_k.whiteouts if split(p)[0] == directory):
            if below is not None and below.exists(path):
                rows.append(_Row(f"D {'  ' * depth}{split(path)[1]}  (deleted by layer {self.k})",
                                 path, False))
        return rows

    def _layer_only_rows(self) -> list[_Row]:
        layer = self.image.layers[self.k]
        rows = []
        for entry in layer.entries:
            depth = entry.path.count("/") - 1
            if entry.kind is EntryKind.WHITEOUT:
                label = f"D {'  ' * depth}{entry.name}  (whiteout)"
            elif entry.kind is EntryKind.OPAQUE:
                label = f"O {'  ' * depth}{entry.name or '/'}/  (opaque: lower children hidden)"
            else:
                label = self._label(depth, "·", entry, self.k)
            rows.append(_Row(label, entry.path + ("\0" if entry.kind.is_marker else ""),
                             entry.is_dir))
        return rows

    def _search_rows(self, needle: str) -> list[_Row]:
        rows = []
        for entry, layer in self._view().nodes():
            if needle in entry.path:
                rows.append(_Row(f"  {entry.path}  L{layer}", entry.path, entry.is_dir))
                if len(rows) >= _MAX_SEARCH:
                    rows.append(_Row(f"  … more than {_MAX_SEARCH} matches", "", False))
                    break
        return rows

    # --- selection -----------------------------------------------------------------------
    def _on_select(self, change: dict[str, object]) -> None:
        path = change.get("new")
        if not isinstance(path, str) or not path:
            return
        row = next((r for r in self._rows if r.path == path), None)
        searching = bool(self.search.value.strip())
        if row is not None and row.is_dir and not searching and self.mode.value == _MERGED:
            (self._open.discard if path in self._open else self._open.add)(path)
            self._render_tree()
        self._show_details(path.rstrip("\0"))

    def _show_details(self, path: str) -> None:
        view = self._view()
        parts = [f"<b><code>{html.escape(path)}</code></b>"]
        if view.exists(path):
            entry = view.stat(path)
            layer = view.provenance(path)
            parts.append(
                f"<div>{html.escape(entry.filemode)} {entry.uid}:{entry.gid} "
                f"{entry.size:,} B, from <b style='color:{_layer_color(layer)}'>layer {layer}</b>"
                f"</div>")
            if entry.is_regular:
                parts.append(_content_html(view.read(path)))
            elif entry.kind is EntryKind.SYMLINK:
                parts.append(f"<div>symlink to <code>{html.escape(entry.linkname)}</code></div>")
        else:
            parts.append(f"<div>not in the view after layer {self.k}</div>")
        hidden = view.shadowed(path)
        if hidden:
            items = "".join(
                f"<li><span style='color:{_layer_color(s.layer)}'>layer {s.layer}</span>: "
                f"{html.escape(str(s.entry.kind))}, {s.entry.size:,} B, hidden by layer "
                f"{s.hidden_by} ({html.escape(s.reason)} of <code>{html.escape(s.by_path)}"
                f"</code>)</li>" for s in hidden)
            parts.append(f"<div>lower versions:<ul>{items}</ul></div>")
        self.details.value = "".join(parts)


def _content_html(data: bytes) -> str:
    try:
        text = data[:_MAX_TEXT].decode("utf-8")
    except UnicodeDecodeError:
        text = " ".join(f"{b:02x}" for b in data[:256])
    more = f"<div>… {len(data) - _MAX_TEXT:,} more bytes</div>" if len(data) > _MAX_TEXT else ""
    return (f"<pre style='max-height:14em;overflow:auto;margin:4px 0'>{html.escape(text)}</pre>"
            f"{more}")

