"""What each layer did to the view below it, and the files of a view.

* :func:`layer_changes` and :func:`layer_stats`: the change model
  (:func:`layerlab.changes.of_layer`, Docker's answer) as rows with sizes and counts;
* :func:`stored_bytes`: the bytes a layer stores that the final view still shows;
* :func:`file_rows`: one row per path of a view with its supplying layer and the lower
  versions it hides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..changes import of_layer
from ..entry import Entry, EntryKind

if TYPE_CHECKING:
    from ..image import Image
    from ..union import View

__all__ = ["ChangeRow", "FileRow", "LayerStats", "StoredBytes", "file_rows", "layer_changes",
           "layer_stats", "regular_size", "stored_bytes"]


def regular_size(entry: Entry) -> int:
    """The bytes an entry's content takes: its size for regular files, 0 for the rest."""
    return entry.size if entry.is_regular else 0


# --- changes of one layer against the view below -----------------------------------------


@dataclass(frozen=True)
class ChangeRow:
    """One change layer ``layer`` made to the view below it: Docker's answer
    (:func:`layerlab.changes.of_layer`, what ``docker diff`` would list).

    ``change`` is ``"A"`` (the path is new), ``"C"`` (it is there on both sides and
    differs, or it is a directory with changes inside) or ``"D"`` (it is gone; only the
    top of a removed tree is listed). ``kind`` and ``size`` describe the new version for
    A/C and the removed one for D, where ``size`` counts the regular-file bytes of the
    whole removed tree. ``how`` is the change's ``why``: what differs for C
    (``"changes inside"``, ``"mtime, size, content"``...), what removed a D path
    (``"whiteout /a"``, ``"opaque /d"``), empty for A.
    """

    layer: int
    path: str
    change: str
    kind: str
    size: int
    how: str = ""


def _index(view: View) -> dict[str, tuple[Entry, int]]:
    return {entry.path: (entry, layer) for entry, layer in view.nodes()}


def layer_changes(image: Image, k: int) -> list[ChangeRow]:
    """Every change layer ``k`` made to the view below it, by path (Docker's answer).

    >>> from layerlab import Image, Layer, Whiteout
    >>> img = Image.from_layers([Layer.from_dict({"/d/a": "1", "/d/b": "22", "/k": "k"}),
    ...                          Layer.from_dict({"/d": Whiteout(), "/k": "kk"})])
    >>> [(r.change, r.path, r.size, r.how) for r in layer_changes(img, 1)]
    [('D', '/d', 3, 'whiteout /d'), ('C', '/k', 2, 'size, content')]
    """
    changes = of_layer(image, k)
    k %= len(image.layers)
    after = image.view(k)
    below = image.view(k - 1) if k else None
    rows: list[ChangeRow] = []
    for change in changes:
        if change.kind == "D":
            assert below is not None
            node = below.lookup(change.path)
            assert node is not None
            entry = node.entry
            size = regular_size(entry)
            if entry.is_dir:  # never walk a deleted symlink: its target is not what went
                size += sum(regular_size(e) for e in below.walk(change.path))
            rows.append(ChangeRow(k, change.path, "D", entry.kind.value, size, change.why))
            continue
        node = after.lookup(change.path)
        assert node is not None
        rows.append(ChangeRow(k, change.path, change.kind, node.entry.kind.value,
                              regular_size(node.entry), "" if change.kind == "A" else change.why))
    return rows


@dataclass(frozen=True)
class LayerStats:
    """Per-layer counts against the view below (see :func:`layer_stats`)."""

    index: int
    size: int
    added: int
    modified: int
    deleted: int
    whiteouts: int
    opaque_dirs: int
    added_bytes: int
    modified_bytes: int
    deleted_bytes: int


def layer_stats(image: Image) -> list[LayerStats]:
    """For every layer: paths added / modified / deleted in the view below it (the
    A / C / D changes of :func:`layer_changes`, Docker's answer: ``modified`` counts the
    C rows, directories with changes inside included; ``deleted`` counts the top of each
    removed tree), the whiteout and opaque markers it carries, and the bytes of each kind
    of change.

    ``size`` is :attr:`Layer.size` (the regular-file bytes the layer stores);
    ``added_bytes + modified_bytes`` is what the layer's changes weigh in the view
    (hardlinks count the bytes of their target), ``deleted_bytes`` the bytes of
    lower files the layer hid -- they stay stored in the layers below.
    """
    out: list[LayerStats] = []
    for k, layer in enumerate(image.layers):
        rows = layer_changes(image, k)
        count = {c: 0 for c in "ACD"}
        weight = {c: 0 for c in "ACD"}
        for row in rows:
            count[row.change] += 1
            weight[row.change] += row.size
        out.append(LayerStats(
            k, layer.size, count["A"], count["C"], count["D"], len(layer.whiteouts),
            len(layer.opaques), weight["A"], weight["C"], weight["D"],
        ))
    return out


@dataclass(frozen=True)
class StoredBytes:
    """What one layer stores (``size``, :attr:`Layer.size`), split into the bytes the final
    view still shows (``visible``) and those a later layer hides (``hidden``: replaced,
    whited out or under an opaque directory; still stored, still pulled)."""

    index: int
    size: int
    visible: int
    hidden: int
    whiteouts: int


def stored_bytes(image: Image) -> list[StoredBytes]:
    """Per layer, :class:`StoredBytes`: a layer that only deletes stores 0 bytes, and the
    bytes it hides are counted as ``hidden`` in the layer that stores them.

    >>> from layerlab import Image, Layer, Whiteout
    >>> img = Image.from_layers([Layer.from_dict({"/big": "x" * 100, "/k": "kk"}),
    ...                          Layer.from_dict({"/big": Whiteout()})])
    >>> [(s.size, s.visible, s.hidden) for s in stored_bytes(img)]
    [(102, 2, 100), (0, 0, 0)]
    """

    view = image.view()
    out: list[StoredBytes] = []
    for k, layer in enumerate(image.layers):
        visible = 0
        for entry in layer.entries:
            if entry.kind is EntryKind.FILE and view.exists(entry.path) \
                    and view.provenance(entry.path) == k:
                visible += entry.size
        out.append(StoredBytes(k, layer.size, visible, layer.size - visible,
                               len(layer.whiteouts)))
    return out


# --- files of a view -----------------------------------------------------------------------


@dataclass(frozen=True)
class FileRow:
    """One path of a view: the entry, its supplying layer, and what it hides.

    ``change`` is ``"A"`` if the supplying layer added the path to the view below it,
    ``"M"`` if it replaced a lower version. ``hides`` counts the lower versions the view
    no longer shows (replaced, whited out or hidden by an opaque directory, see
    :meth:`View.shadowed`) and ``hidden_bytes`` their regular-file bytes.
    """

    entry: Entry
    layer: int
    change: str
    hides: int
    hidden_bytes: int


def file_rows(view: View, *, layer: int | None = None, change: str | None = None) -> list[FileRow]:
    """The rows of :func:`layerlab.views.files_table`, sorted by path."""
    if change is not None and change not in ("A", "M"):
        raise ValueError(
            f"change must be 'A' or 'M' (a view shows no deleted paths), not {change!r}")
    rows: list[FileRow] = []
    for entry, supplier in view.nodes():
        if layer is not None and supplier != layer:
            continue
        hidden = view.shadowed(entry.path)
        replaced = any(h.hidden_by == supplier for h in hidden)
        kind = "M" if replaced else "A"
        if change is not None and kind != change:
            continue
        rows.append(FileRow(entry, supplier, kind, len(hidden),
                            sum(regular_size(h.entry) for h in hidden)))
    return rows
