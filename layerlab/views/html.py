"""Static HTML for ``_repr_html_``: Layer, Image, View and Container show themselves.

Plain tables with inline styles only: no JavaScript, no external CSS, so the output
renders the same in JupyterLab (light and dark), VS Code and on GitHub/nbviewer without
a kernel. Colors are semi-transparent or mid-tone so they read on both backgrounds, and
text keeps the page's own color. Every string from the engine is escaped; long
listings stop after :data:`MAX_ROWS` rows with a count of the rest.

The engine classes attach these with one-line methods, importing lazily::

    def _repr_html_(self) -> str:
        from .views.html import layer_html
        return layer_html(self)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING

from ..analysis import regular_size
from ..digest import short
from .lecture import font_scale
from .palette import NEUTRAL, change_color, pill_style

if TYPE_CHECKING:
    from ..container import Container
    from ..entry import Entry
    from ..image import Image
    from ..layer import Layer
    from ..store import Store
    from ..union import View

__all__ = ["MAX_ROWS", "container_html", "image_html", "layer_html", "naturalsize", "store_html",
           "view_html"]

#: rows a listing shows before "… and N more"
MAX_ROWS = 25


def naturalsize(n: int) -> str:
    """``1.2 kB``-style sizes (humanize, imported when first needed)."""
    import humanize

    return str(humanize.naturalsize(n))


def _box(title: str, body: str) -> str:
    scale = font_scale()
    return (
        f'<div style="font-family:var(--jp-ui-font-family,system-ui,sans-serif);'
        f'font-size:{13 * scale:.0f}px;line-height:1.4;border:1px solid {NEUTRAL};'
        f'border-radius:4px;padding:6px 8px;margin:2px 0;max-width:60em">'
        f'<div style="font-weight:600;margin-bottom:4px">{title}</div>{body}</div>'
    )


def _code(text: str) -> str:
    return f'<code style="font-size:95%">{escape(text)}</code>'


def _badge(letter: str, title: str) -> str:
    color = change_color(letter)
    return (f'<span title="{escape(title)}" style="display:inline-block;min-width:1.2em;'
            f'text-align:center;font-weight:700;{pill_style(color)};'
            f'border-radius:3px;padding:0 2px">{escape(letter)}</span>')


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], total: int) -> str:
    """A table of already-escaped cells, truncated to MAX_ROWS with a count."""
    cell = f'style="padding:1px 8px 1px 0;text-align:left;border-bottom:1px solid {NEUTRAL}40"'
    head = "".join(f"<th {cell}>{escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        if i >= MAX_ROWS:
            break
        body.append("<tr>" + "".join(f"<td {cell}>{c}</td>" for c in row) + "</tr>")
    more = ""
    if total > MAX_ROWS:
        more = (f'<div style="opacity:0.75;font-style:italic">… and {total - MAX_ROWS:,} '
                "more</div>")
    return (f'<table style="border-collapse:collapse;font-size:inherit;margin:0">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}")


def _kv(pairs: Sequence[tuple[str, str]]) -> str:
    """Key/value lines; values already escaped."""
    return "".join(f'<div><span style="opacity:0.75">{escape(k)}:</span> {v}</div>'
                   for k, v in pairs)


def _entry_cells(entry: Entry) -> list[str]:
    target = f" → {escape(entry.linkname)}" if entry.linkname else ""
    return [_code(entry.filemode), _code(entry.path) + target,
            escape(naturalsize(regular_size(entry)))]


def layer_html(layer: Layer) -> str:
    """A layer: id, created_by, sizes, and its entries (markers marked W / O)."""
    entries = layer.entries
    title = f"Layer {escape(layer.short_id)}"
    if layer.created_by:
        title += f" · {_code(layer.created_by)}"
    info = _kv([
        ("diff_id", _code(layer.diff_id)),
        ("size", escape(f"{naturalsize(layer.size)} in files, {len(entries):,} entries, "
                        f"{len(layer.whiteouts)} whiteouts, {len(layer.opaques)} opaque dirs")),
    ])

    def rows() -> Iterable[list[str]]:
        for e in entries:
            if e.kind.is_marker:
                letter, word = ("D", "whiteout") if e.kind.value == "whiteout" else ("O", "opaque")
                yield [_badge(letter, word), _code(e.path), escape(word)]
            else:
                mode, path, size = _entry_cells(e)
                yield [mode, path, size]

    return _box(title, info + _table(["mode", "path", "size"], rows(), len(entries)))


def image_html(image: Image) -> str:
    """An image: id, config, and its layers (top first, as ``docker history``)."""
    layers = image.layers
    cfg = image.config
    argv = [*(cfg.entrypoint or ()), *(cfg.cmd or ())]
    pairs = [("id", _code(image.id)),
             ("size", escape(f"{naturalsize(sum(layer.size for layer in layers))} in "
                             f"{len(layers)} layers"))]
    if argv:
        pairs.append(("runs", _code(" ".join(argv))))
    if cfg.env:
        pairs.append(("env", ", ".join(_code(e) for e in cfg.env[:5])
                      + (f" … and {len(cfg.env) - 5} more" if len(cfg.env) > 5 else "")))
    legacy = image.legacy_layers

    def rows() -> Iterable[list[str]]:
        for k in range(len(layers) - 1, -1, -1):
            layer = layers[k]
            parent = legacy[k].parent
            yield [str(k), _code(layer.short_id), _code(layer.created_by or "—"),
                   escape(naturalsize(layer.size)),
                   _code(short(legacy[k].id, 12)) + (f" → {_code(parent[:12])}" if parent else "")]

    table = _table(["#", "diff_id", "created_by", "size", "legacy id → parent"], rows(),
                   len(layers))
    return _box(f"Image {escape(short(image.id))}", _kv(pairs) + table)


def view_html(view: View) -> str:
    """A merged view: its paths with the layer that supplies each one."""
    total = len(view)
    head = f"View after layer {view.upto} · {total:,} paths"

    def rows() -> Iterable[list[str]]:
        for entry, layer in view.nodes():
            mode, path, size = _entry_cells(entry)
            yield [mode, path, size, "implied" if layer < 0 else str(layer)]

    return _box(escape(head), _table(["mode", "path", "size", "layer"], rows(), total))


def container_html(container: Container) -> str:
    """A container: state, image, and ``docker diff`` of its read-write layer."""
    # a removed container has no filesystem left to diff
    changes = [] if str(container.state) == "removed" else container.diff()
    pairs = [("image", _code(short(container.image.id))),
             ("state", escape(str(container.state))),
             ("read-write layer", escape(f"{len(container.rw):,} paths, "
                                         f"{len(container.copy_ups):,} copy-ups"))]
    words = {"A": "added", "C": "changed", "D": "deleted"}
    rows = ([_badge(c.kind, words.get(c.kind, c.kind)), _code(c.path)] for c in changes)
    body = _kv(pairs)
    body += (_table(["", "docker diff"], rows, len(changes)) if changes
             else '<div style="opacity:0.75">no changes yet</div>')
    title = f"Container {escape(container.name)} ({escape(container.id[:12])})"
    return _box(title, body)


def store_html(store: Store) -> str:
    """A store: root and driver, its images (``docker system df -v``), its containers and
    the host directory as ``tree`` prints it (three levels)."""
    df = store.system_df()
    pairs = [("root", _code(store.root)), ("driver", escape(store.driver)),
             ("images", escape(f"{len(df)}, {naturalsize(sum(r.size for r in df))} "
                               f"({naturalsize(sum(r.unique_size for r in df))} unique)"))]
    images = _table(
        ["image", "tags", "size", "shared", "unique", "containers"],
        ([_code(short(r.image)), escape(", ".join(r.tags) or "<none>"),
          escape(naturalsize(r.size)), escape(naturalsize(r.shared_size)),
          escape(naturalsize(r.unique_size)), str(r.containers)] for r in df), len(df))
    containers = store.containers()
    body = _kv(pairs) + images
    if containers:
        body += _table(["container", "id", "state", "read-write layer"],
                       ([escape(c.name), _code(c.id[:12]), escape(str(c.state)),
                         escape(f"{len(c.rw):,} paths")] for c in containers), len(containers))
    tree = escape(store.tree(max_depth=3, max_entries=120))
    body += (f'<pre style="max-height:24em;overflow:auto;margin:4px 0;font-size:95%">{tree}'
             "</pre>")
    return _box(f"Store {escape(store.driver)}", body)
