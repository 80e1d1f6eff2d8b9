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
    """One path that layer ``layer`` changed in the view below it.

    ``change`` is ``"A"`` (the path is new), ``"M"`` (the layer supplies the path again:
    new content or metadata) or ``"D"`` (the path is gone). ``kind`` and ``size`` describe
    the new version for A/M and the removed version for D. ``how`` says what removed a
    D path (``"whiteout /a"``, ``"opaque /d"``, ``"parent replaced /p"``) and is empty
    for A/M.
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
    """Every path layer ``k`` added, modified or deleted in the view below it, by path.

    Deleted paths include whole subtrees (a whiteout of ``/d`` lists ``/d`` and every
    path under it), since each of them disappears from the merged view.
    """
    n = len(image.layers)
    if not -n <= k < n:
        raise IndexError(f"layer {k} is out of range for an image of {n} layers")
    k %= n
    after_view = image.view(k)
    after = _index(after_view)
    below = _index(image.view(k - 1)) if k else {}
    rows: list[ChangeRow] = []
    for path, (entry, layer) in after.items():
        if path not in below:
            rows.append(ChangeRow(k, path, "A", entry.kind.value, regular_size(entry)))
        elif layer == k:
            rows.append(ChangeRow(k, path, "M", entry.kind.value, regular_size(entry)))
    for path, (entry, _layer) in below.items():
        if path not in after:
            how = ""
            for hidden in after_view.shadowed(path):
                if hidden.hidden_by == k:
                    how = f"{hidden.reason} {hidden.by_path}"
            rows.append(ChangeRow(k, path, "D", entry.kind.value, regular_size(entry), how))
    return sorted(rows, key=lambda r: r.path)


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
    """For every layer: paths added / modified / deleted in the view below it, the
    whiteout and opaque markers it carries, and the bytes of each kind of change.

    ``size`` is :attr:`Layer.size` (the regular-file bytes the layer stores);
    ``added_bytes + modified_bytes`` is what the layer's changes weigh in the view
    (hardlinks count the bytes of their target), ``deleted_bytes`` the bytes of
    lower files the layer hid -- they stay stored in the layers below.
    """
    out: list[LayerStats] = []
    for k, layer in enumerate(image.layers):
        rows = layer_changes(image, k)
        count = {c: 0 for c in "AMD"}
        weight = {c: 0 for c in "AMD"}
        for row in rows:
            count[row.change] += 1
            weight[row.change] += row.size
        out.append(LayerStats(
            k, layer.size, count["A"], count["M"], count["D"], len(layer.whiteouts),
            len(layer.opaques), weight["A"], weight["M"], weight["D"],
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
