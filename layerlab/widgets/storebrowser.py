"""StoreBrowser: walk the host's side, the store directory laid out like /var/lib/docker.

The tree lists the store root (overlay2 or aufs layout); selecting a directory opens or
closes it, selecting a file shows it: JSON pretty-printed (``config.v2.json``, image
configs, ``repositories.json``), small text files as they are (``diff``, ``cache-id``,
``parent``, ``link``, ``lower``), anything else as hex; a directory shows its listing.
Whiteouts on disk are character devices 0/0 (as root) or empty files with an overlay
xattr. Press refresh after the store changed (a container wrote a file, ``rm``...).

For the containerd layout, ``meta.db`` and ``metadata.db`` are shown as the records they
hold and marked as what they are: a readable stand-in (JSON) for a bolt database.

:class:`LayoutComparison` puts one browser per layout side by side, each opened at the
container's upper directory, and :func:`layouts_diagram` draws the three layouts of the
same image and container as stacks of boxes labelled with their paths on disk.

>>> from layerlab import Image, Layer
>>> from layerlab.store import Store
>>> from layerlab.widgets import StoreBrowser
>>> store = Store.temporary()
>>> _ = store.add(Image.from_layers([Layer.from_dict({"/etc/motd": "hi\\n"})]), tag="tiny")
>>> browser = StoreBrowser(store)
>>> "image/" in browser.rows()[0] or any("image/" in r for r in browser.rows())
True
"""

from __future__ import annotations

import html
import json
import os
import stat
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..whiteout import is_overlay_whiteout, is_whiteout_device
from ._base import MONO, StaticFallback, content_html, layer_color, mono_css

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["LayoutComparison", "StoreBrowser", "layouts_diagram"]

MAX_CHILDREN = 500
_MAX_JSON = 200_000
_HIDDEN = {".lock"}
_STAND_INS = ("meta.db", "metadata.db")


class StoreBrowser(StaticFallback, W.VBox):  # type: ignore[misc]
    """Browse a :class:`~layerlab.store.Store` directory (see the module docstring)."""

    def __init__(self, store: Store, *, rows: int = 20) -> None:
        self.store = store
        self._open: set[str] = set()
        self._rows: list[tuple[str, str]] = []
        self.header = W.HTML()
        self.refresh_button = W.Button(description="refresh", tooltip="re-read the directory")
        self.tree = W.Select(options=[], rows=rows, layout=W.Layout(width="50%"))
        self.content = W.HTML(layout=W.Layout(width="50%"))
        self.refresh_button.on_click(lambda _: self.refresh())
        self.tree.observe(self._on_select, names="value")
        super().__init__([W.HTML(mono_css()), W.HBox([self.header, self.refresh_button]),
                          W.HBox([self.tree, self.content])])
        self.tree.add_class(MONO)
        self.add_class("layerlab-storebrowser")
        self.refresh()

    def __repr__(self) -> str:
        return f"<StoreBrowser: {self.store.root} ({self.store.driver})>"

    def static_html(self) -> str:
        from ..views.html import store_html

        return store_html(self.store)

    # --- actions -------------------------------------------------------------------------
    def rows(self) -> list[str]:
        """The tree's rows as text."""
        return [label for label, _ in self._rows]

    def refresh(self) -> None:
        """Re-read the directory tree (directories that vanished are closed)."""
        self._open = {p for p in self._open if os.path.isdir(self._full(p))}
        images = len(self.store.images())
        containers = len(self.store.containers())
        self.header.value = (f"<b>{html.escape(self.store.root)}</b> · driver "
                             f"<b>{html.escape(self.store.driver)}</b> · {images} images, "
                             f"{containers} containers")
        self._render()

    def open_dir(self, rel: str) -> None:
        """Open a directory (relative to the store root) and its parents."""
        rel = rel.strip("/")
        while rel:
            self._open.add(rel)
            rel = os.path.dirname(rel)
        self._render()

    def select(self, rel: str) -> None:
        """Show a file or directory (relative to the store root), as clicking it does."""
        rel = rel.strip("/")
        if not os.path.lexists(self._full(rel)):
            raise FileNotFoundError(f"{rel!r} is not in the store {self.store.root}")
        if os.path.dirname(rel):
            self.open_dir(os.path.dirname(rel))
        self.tree.value = rel

    def show(self, rel: str) -> str:
        """The HTML the content pane shows for ``rel`` (also sets it)."""
        self.content.value = self._describe(rel)
        return str(self.content.value)

    # --- rendering -----------------------------------------------------------------------
    def _full(self, rel: str) -> str:
        return os.path.join(self.store.root, rel) if rel else self.store.root

    def _render(self) -> None:
        rows: list[tuple[str, str]] = []
        self._walk("", 0, rows)
        self._rows = rows
        current = self.tree.value
        self.tree.unobserve(self._on_select, names="value")
        try:
            self.tree.options = [(label, value) for label, value in rows]
            self.tree.value = current if any(v == current for _, v in rows) else None
        finally:
            self.tree.observe(self._on_select, names="value")

    def _walk(self, rel: str, depth: int, rows: list[tuple[str, str]]) -> None:
        try:
            names = sorted(n for n in os.listdir(self._full(rel)) if n not in _HIDDEN)
        except OSError:
            return
        for name in names[:MAX_CHILDREN]:
            child = os.path.join(rel, name) if rel else name
            full = self._full(child)
            indent = "  " * depth
            if os.path.isdir(full) and not os.path.islink(full):
                is_open = child in self._open
                rows.append((f"{indent}{'▾' if is_open else '▸'} {name}/", child))
                if is_open:
                    self._walk(child, depth + 1, rows)
            else:
                rows.append((f"{indent}  {name}{_suffix(full)}", child))
        if len(names) > MAX_CHILDREN:
            rows.append((f"{'  ' * depth}  … {len(names) - MAX_CHILDREN:,} more",
                         "\0more/" + rel))

    def _on_select(self, change: dict[str, Any]) -> None:
        rel = change.get("new")
        if not isinstance(rel, str) or rel.startswith("\0"):
            return
        if os.path.isdir(self._full(rel)) and not os.path.islink(self._full(rel)):
            (self._open.discard if rel in self._open else self._open.add)(rel)
            self._render()
        self.show(rel)

    def _describe(self, rel: str) -> str:
        full = self._full(rel)
        head = f"<b><code>{html.escape(rel or '/')}</code></b>"
        try:
            st = os.lstat(full)
        except OSError as exc:
            return f"{head}<div>gone: {html.escape(exc.strerror or str(exc))}</div>"
        if stat.S_ISDIR(st.st_mode):
            names = sorted(os.listdir(full))
            items = "".join(f"<div><code>{html.escape(n)}{_suffix(os.path.join(full, n))}"
                            "</code></div>" for n in names[:MAX_CHILDREN])
            return f"{head}<div>directory, {len(names):,} entries</div>{items}"
        if stat.S_ISLNK(st.st_mode):
            return f"{head}<div>symlink to <code>{html.escape(os.readlink(full))}</code></div>"
        if stat.S_ISCHR(st.st_mode):
            what = ": an overlayfs whiteout" if is_whiteout_device(st) else ""
            return (f"{head}<div>character device {os.major(st.st_rdev)}/"
                    f"{os.minor(st.st_rdev)}{what}</div>")
        if not stat.S_ISREG(st.st_mode):
            return f"{head}<div>special file</div>"
        if is_overlay_whiteout(full):
            return (f"{head}<div>overlayfs whiteout (xattr form): an empty file marked "
                    "<code>overlay.whiteout</code></div>")
        with open(full, "rb") as f:
            data = f.read(_MAX_JSON + 1)
        if os.path.basename(rel) in _STAND_INS:
            head += ("<div><i>On a real host this is a bolt database (a binary B+tree file). "
                     "layerlab writes the same buckets and keys as JSON, a readable "
                     "stand-in.</i></div>")
        if rel.endswith(".json") or os.path.basename(rel) == "json" or data[:1] in (b"{", b"["):
            try:
                doc = json.loads(data)
            except ValueError:
                pass
            else:
                text = json.dumps(doc, indent=2, sort_keys=True)
                return (f"{head}<div>JSON, {st.st_size:,} bytes</div>"
                        f"<pre style='max-height:24em;overflow:auto;margin:2px 0'>"
                        f"{html.escape(text)}</pre>")
        return head + content_html(data)


def _suffix(full: str) -> str:
    try:
        st = os.lstat(full)
    except OSError:
        return ""
    if stat.S_ISLNK(st.st_mode):
        return f" -> {os.readlink(full)}"
    if stat.S_ISCHR(st.st_mode):
        what = " whiteout" if is_whiteout_device(st) else ""
        return f"  (c {os.major(st.st_rdev)}/{os.minor(st.st_rdev)}{what})"
    if stat.S_ISDIR(st.st_mode):
        return "/"
    if is_overlay_whiteout(full):
        return "  (whiteout, xattr form)"
    if os.path.basename(full) in _STAND_INS:
        return f"  {st.st_size:,} B (stand-in for a bolt database)"
    return f"  {st.st_size:,} B"


_ERA = {"aufs": "the source text's layout (aufs, around 2015)",
        "overlay2": "overlay2 + layer database (the graphdriver path)",
        "containerd": "containerd image store (Docker Engine 29+ fresh installs, "
                      "Docker Desktop 4.34+)"}


def layouts_diagram(stores: Sequence[Store], image: str, container: str) -> str:
    """The same image and container in each store, drawn as stacks: the container's upper
    directory on top, then its ``-init`` layer, then the image's layers top down, each box
    labelled with its path on disk (ids shown as ``<id>``, snapshot numbers as ``<n>``).
    For containerd a second column shows the compressed blobs it keeps as well."""
    from ..store.where import generic, places

    columns = []
    for store in stores:
        c = store.container(container)
        found = places(store, image, c)
        layers = [p for p in found if p.what.startswith("layer ") and "blob" not in p.what]
        blobs = [p for p in found if "compressed blob" in p.what]
        init = [p for p in found if "-init" in p.what]
        upper = [p for p in found if "upper" in p.what]

        def box(label: str, path: str, color: str, dashed: bool = False,
                store: Store = store) -> str:
            border = "dashed" if dashed else "solid"
            return (f"<div style='border:2px {border} {color};border-left-width:8px;"
                    f"margin:3px 0;padding:3px 6px;border-radius:3px'>"
                    f"<div style='font-weight:600'>{html.escape(label)}</div>"
                    f"<code style='font-size:85%;word-break:break-all'>"
                    f"{html.escape(generic(store, path))}</code>"
                    "</div>")

        stack = [box("upper: happy.txt lands here", upper[0].path, "#D55E00")]
        stack += [box("-init: /etc/hosts, /.dockerenv ... mount points", p.path, "#999999",
                      dashed=True) for p in init]
        n = len(layers)
        stack += [box(f"image layer {n - 1 - i}", p.path, layer_color(n - 1 - i))
                  for i, p in enumerate(reversed(layers))]
        if blobs:
            stack.append("<div style='margin-top:8px;opacity:0.75'>and, kept as well, the "
                         "compressed layers in the content store:</div>")
            stack += [box(f"layer {i}: compressed blob", p.path, layer_color(i), dashed=True)
                      for i, p in enumerate(blobs)]
        columns.append(
            "<div style='min-width:0'>"
            f"<div style='font-weight:700'>{html.escape(store.driver)}</div>"
            f"<div style='opacity:0.75;font-size:90%'>{html.escape(_ERA.get(store.driver, ''))}"
            f"</div>{''.join(stack)}</div>")
    return ("<div class='layerlab-layouts' style='display:grid;grid-template-columns:"
            f"repeat({len(columns)},minmax(0,1fr));gap:10px;align-items:start'>"
            + "".join(columns) + "</div>")


class LayoutComparison(StaticFallback, W.HBox):  # type: ignore[misc]
    """One :class:`StoreBrowser` per store, side by side, each showing the container's
    upper directory; without a kernel, :func:`layouts_diagram`."""

    def __init__(self, stores: Sequence[Store], image: str, container: str, *,
                 rows: int = 16) -> None:
        from ..store.where import happy_txt_home

        self.stores = list(stores)
        self.image, self.container_name = image, container
        self.browsers = [StoreBrowser(s, rows=rows) for s in self.stores]
        for store, browser in zip(self.stores, self.browsers, strict=True):
            browser.select(happy_txt_home(store, store.container(container)))
        super().__init__(self.browsers)
        self.add_class("layerlab-layoutcomparison")

    def static_html(self) -> str:
        return layouts_diagram(self.stores, self.image, self.container_name)
