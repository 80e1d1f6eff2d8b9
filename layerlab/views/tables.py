"""pandas tables of layers, files, changes, history, cache, sharing and efficiency.

One function per table; each docstring lists the columns. The numbers come from
:mod:`layerlab.analysis`, which the CLI shares. pandas is imported when a table
is asked for, never when :mod:`layerlab` is.

>>> from layerlab import Image, Layer
>>> from layerlab.views import layers_table
>>> img = Image.from_layers([Layer.from_dict({"/a": "1"}, created_by="ADD a /")])
>>> layers_table(img)[["index", "created_by", "added"]].to_dict("records")
[{'index': 0, 'created_by': 'ADD a /', 'added': 1}]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .. import analysis
from ..digest import short

if TYPE_CHECKING:
    import pandas as pd

    from ..container import Container
    from ..image import Image
    from ..store import Store
    from ..union import View

__all__ = [
    "builders_table",
    "cache_table",
    "changes_table",
    "diff_table",
    "efficiency_table",
    "files_table",
    "history_table",
    "layers_table",
    "sharing_summary",
    "sharing_table",
    "system_df_table",
]


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


_LAYER_COLUMNS = [
    "index", "digest", "diff_id", "chain_id", "legacy_id", "legacy_parent", "created_by",
    "size", "added", "modified", "deleted", "whiteouts", "opaque_dirs",
]


def layers_table(image: Image) -> pd.DataFrame:
    """One row per layer, base first.

    Columns: ``index`` (0 = base), ``digest`` (short digest of the compressed blob),
    ``diff_id`` and ``chain_id`` (full ``sha256:`` digests of the uncompressed tar, and of
    the layer with everything below it), ``legacy_id`` and ``legacy_parent`` (the v1 ids
    and parent pointers of :attr:`Image.legacy_layers`; the base has no parent: ``None``),
    ``created_by``, ``size`` (regular-file bytes the layer stores), then counts against
    the view below: ``added`` / ``modified`` / ``deleted`` paths (the A / C / D rows of
    :func:`changes_table`: a deleted directory counts once), and the ``whiteouts`` /
    ``opaque_dirs`` markers the layer carries (a whiteout of a missing path deletes
    nothing but still counts here).
    """
    legacy = image.legacy_layers
    chains = image.chain_ids
    rows = []
    for stats, layer in zip(analysis.layer_stats(image), image.layers, strict=True):
        k = stats.index
        rows.append({
            "index": k, "digest": short(layer.digest), "diff_id": layer.diff_id,
            "chain_id": chains[k], "legacy_id": legacy[k].id, "legacy_parent": legacy[k].parent,
            "created_by": layer.created_by, "size": stats.size, "added": stats.added,
            "modified": stats.modified, "deleted": stats.deleted, "whiteouts": stats.whiteouts,
            "opaque_dirs": stats.opaque_dirs,
        })
    frame = _frame(rows, _LAYER_COLUMNS)
    # keep the base's missing parent as None (pandas would make it NaN)
    frame["legacy_parent"] = frame["legacy_parent"].astype(object)
    frame.loc[frame["legacy_parent"].isna(), "legacy_parent"] = None
    return frame


_FILE_COLUMNS = ["path", "type", "size", "mode", "uid", "gid", "layer", "change", "hides",
                 "hidden_bytes"]


def files_table(view: View, *, layer: int | None = None, change: str | None = None) -> pd.DataFrame:
    """One row per path of a view, sorted by path.

    Columns: ``path``, ``type`` (``file``, ``dir``, ``symlink``, ``hardlink``...),
    ``size`` (bytes of regular files and hardlinks, 0 otherwise), ``mode`` (as ``ls -l``:
    ``-rw-r--r--``), ``uid``, ``gid``, ``layer`` (the index of the layer that supplies the
    path), ``change`` (``A``: that layer added the path, ``M``: it replaced a lower
    version), ``hides`` (how many lower versions the view no longer shows) and
    ``hidden_bytes`` (their bytes, still stored in the lower layers).

    ``layer=k`` keeps the paths layer ``k`` supplies; ``change="A"`` or ``"M"`` keeps one
    kind (deleted paths are not in a view: see :func:`changes_table`).
    """
    rows = [
        {"path": r.entry.path, "type": r.entry.kind.value, "size": analysis.regular_size(r.entry),
         "mode": r.entry.filemode, "uid": r.entry.uid, "gid": r.entry.gid, "layer": r.layer,
         "change": r.change, "hides": r.hides, "hidden_bytes": r.hidden_bytes}
        for r in analysis.file_rows(view, layer=layer, change=change)
    ]
    return _frame(rows, _FILE_COLUMNS)


def changes_table(image: Image, k: int) -> pd.DataFrame:
    """What layer ``k`` changed in the view below it, sorted by path.

    The rows are Docker's answer (:func:`layerlab.analysis.layer_changes`, from
    :mod:`layerlab.changes`). Columns: ``path``, ``change`` (``A`` added, ``C`` changed:
    it differs from the version below, or it is a directory with changes inside, ``D``
    deleted: the top of a removed tree), ``kind`` (entry type of the new version, or of the
    removed one for ``D``), ``size`` (its regular-file bytes; for ``D`` those of the whole
    removed tree) and ``how`` (what differs for ``C``; for ``D`` what removed it:
    ``whiteout /x`` or ``opaque /d``).
    """
    rows = [dataclasses.asdict(r) for r in analysis.layer_changes(image, k)]
    for row in rows:
        del row["layer"]
    return _frame(rows, ["path", "change", "kind", "size", "how"])


def diff_table(container: Container) -> pd.DataFrame:
    """``docker diff`` of a container as a table, sorted by path.

    Columns: ``change`` (``A`` added, ``C`` changed, ``D`` deleted), ``path``, ``type`` and
    ``size`` (of what the container shows now; empty for ``D``), and ``copied_up_from``
    (the image layer a changed path was copied up from, ``None`` if it was not copied up).
    """
    view = container.view()
    copied = {c.path: c.from_layer for c in container.copy_ups}
    rows = []
    for change in container.diff():
        kind, size = "", None
        if change.kind != "D":
            entry = view.stat(change.path)
            kind, size = entry.kind.value, analysis.regular_size(entry)
        rows.append({"change": change.kind, "path": change.path, "type": kind, "size": size,
                     "copied_up_from": copied.get(change.path)})
    frame = _frame(rows, ["change", "path", "type", "size", "copied_up_from"])
    return frame.astype({"size": "Int64", "copied_up_from": "Int64"})


def _as_dict(row: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
    if isinstance(row, Mapping):
        return dict(row)
    return dict(vars(row))


def history_table(image: Image) -> pd.DataFrame:
    """The image's history as ``docker history`` prints it: newest step first.

    The rows are the engine's (:func:`layerlab.build.history`, :meth:`Image.history_rows`);
    columns: ``image`` (the short image ID on the top row, ``<missing>`` below it),
    ``created``, ``created_by``, ``size`` (the layer's bytes; 0 for a step that made no
    layer), ``comment``, ``layer`` (layer index, empty for metadata-only steps such as
    ``ENV``), ``empty_layer`` and ``why`` (why the IMAGE column says what it says).
    """
    rows = [{"image": r.image_id_column, "created": r.created, "created_by": r.created_by,
             "size": r.size, "comment": r.comment, "layer": r.layer,
             "empty_layer": r.empty_layer, "why": r.why}
            for r in image.history_rows()]
    frame = _frame(rows, ["image", "created", "created_by", "size", "comment", "layer",
                          "empty_layer", "why"])
    return frame.astype({"layer": "Int64"})


def cache_table(cache: Any) -> pd.DataFrame:
    """A build cache's entries (:class:`layerlab.build.cache.BuildCache`), oldest first.

    Columns are those of :meth:`BuildCache.entries`: ``key`` (short cache key: parent
    image + instruction + source checksums), ``instruction``, ``parent`` (short parent
    image id), ``result`` (the layer's diff_id, or ``empty layer``) and ``hits``.
    """
    import pandas as pd

    rows = [_as_dict(r) for r in cache.entries()]
    if not rows:
        return pd.DataFrame(columns=["key", "instruction", "parent", "result", "hits"])
    return pd.DataFrame(rows)


def builders_table(rows: Iterable[Any]) -> pd.DataFrame:
    """The classic builder and BuildKit side by side, from
    :func:`layerlab.build.compare_builders`: one row per Dockerfile step with each
    builder's IMAGE column, ``created_by`` and layer (or ``skipped``)."""
    columns = ["line", "stage", "instruction", "in_final_image", "classic_image",
               "classic_created_by", "classic_layer", "buildkit_image",
               "buildkit_created_by", "buildkit_layer"]
    return _frame([_as_dict(r) for r in rows], columns)


def sharing_table(images: Mapping[str, Image]) -> pd.DataFrame:
    """Which layers several images use; one row per distinct layer (by chain_id).

    Columns: ``chain_id`` and ``diff_id`` (short), ``created_by``, ``size``, one boolean
    column per image name (sorted) saying whether that image uses the layer, ``used_by``
    (how many of the images do) and ``shared`` (more than one). A layer is told apart by
    chain_id, as Docker's layer store does: the same change on another parent is a
    different layer on disk.
    """
    names = sorted(images)
    rows = []
    for shared in analysis.sharing_rows(images):
        row: dict[str, Any] = {"chain_id": short(shared.chain_id), "diff_id": short(shared.diff_id),
                               "created_by": shared.created_by, "size": shared.size}
        for name in names:
            row[name] = name in shared.used_by
        row["used_by"] = len(shared.used_by)
        row["shared"] = shared.shared
        rows.append(row)
    return _frame(rows, ["chain_id", "diff_id", "created_by", "size", *names, "used_by", "shared"])


def sharing_summary(images: Mapping[str, Image]) -> pd.DataFrame:
    """Per image: shared vs unique bytes. Columns: ``image``, ``layers``, ``size`` (all
    its layers), ``shared_bytes`` (in layers another image also uses) and
    ``unique_bytes`` (in layers only it uses). The sum of ``unique_bytes`` plus each
    shared layer once is what the images take on disk together."""
    layers = analysis.sharing_rows(images)
    rows = []
    for name in sorted(images):
        mine = [s for s in layers if name in s.used_by]
        shared = sum(s.size for s in mine if s.shared)
        unique = sum(s.size for s in mine if not s.shared)
        rows.append({"image": name, "layers": len(images[name].layers),
                     "size": shared + unique, "shared_bytes": shared, "unique_bytes": unique})
    return _frame(rows, ["image", "layers", "size", "shared_bytes", "unique_bytes"])


_EFFICIENCY_COLUMNS = ["path", "count", "layers", "dive_wasted", "smallest", "kept",
                       "kept_layer", "reclaimable", "why"]


def efficiency_table(image: Image) -> pd.DataFrame:
    """Dive's inefficient files next to the bytes one could really reclaim.

    One row per path that dive lists (two nodes or more), that holds reclaimable bytes,
    or that a directory whiteout is charged to; largest dive figure first. Columns:
    ``path``, ``count`` (dive's node count: one per layer that has it as a leaf, whiteouts
    included), ``layers`` (which, e.g. ``"0, 1, 2"``), ``dive_wasted`` (dive's "Wasted
    Space": every copy, the one that stays included -- dive issue #684), ``smallest``
    (the smallest copy, the one dive's efficiency score assumes is kept), ``kept`` and
    ``kept_layer`` (the copy the final image shows; 0 / empty if none), ``reclaimable``
    (bytes of every stored copy but the kept one) and ``why``.
    Summary figures: :func:`layerlab.views.efficiency`.
    """
    report = analysis.efficiency(image)
    rows = [
        {"path": p.path, "count": p.count, "layers": analysis.join_layers(n.layer for n in p.nodes),
         "dive_wasted": p.dive_wasted, "smallest": p.smallest, "kept": p.kept,
         "kept_layer": p.kept_layer, "reclaimable": p.reclaimable, "why": p.why}
        for p in report.inefficiencies
    ]
    return _frame(rows, _EFFICIENCY_COLUMNS).astype({"kept_layer": "Int64"})


def system_df_table(store: Store) -> pd.DataFrame:
    """``docker system df -v`` for a store: one row per image (:meth:`Store.system_df`).

    Columns: ``image`` (short id), ``tags`` (comma-separated), ``size`` (all its layers),
    ``shared_size`` (bytes in layers another image of the store also uses),
    ``unique_size`` (the rest: what removing the image would free) and ``containers``
    (how many containers use it).
    """
    rows = [{"image": short(r.image), "tags": ", ".join(r.tags), "size": r.size,
             "shared_size": r.shared_size, "unique_size": r.unique_size,
             "containers": r.containers} for r in store.system_df()]
    return _frame(rows, ["image", "tags", "size", "shared_size", "unique_size", "containers"])
