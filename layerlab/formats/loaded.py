"""From a config document and layer blobs to an :class:`~layerlab.Image`.

Shared by every reader: the config's ``rootfs.diff_ids`` decide how many layers there
must be and what each must hash to; the config's ``history`` gives each layer its
``created_by``. :class:`LoadedImage` carries what a file said beyond the image itself
(its format, tags, platform, and the legacy per-layer ``json`` of ``docker save``).
:func:`image_from_config` itself lives in :mod:`layerlab.imagedoc`, below the store,
which reads its image db with it too; this module re-exports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import DigestMismatchError, InvalidImageError
from ..image import Image, LegacyLayer
from ..imagedoc import LayerLoader, config_diff_ids, image_from_config
from ..layer import Layer

__all__ = ["LayerLoader", "LoadedImage", "config_diff_ids", "image_from_config"]


@dataclass(frozen=True)
class LoadedImage:
    """An image read from a file, with what the file said about it.

    ``legacy_layers`` holds the per-layer ``<id>/json`` documents of a legacy
    ``docker save`` archive (base first, each with its ``id`` and ``parent``), or is
    empty when the file had none. ``repo_tags`` are the names the file gave the image.
    """

    image: Image
    format: str
    repo_tags: tuple[str, ...] = ()
    platform: str = ""
    legacy_layers: tuple[LegacyLayer, ...] = ()


def legacy_chain(
    docs: Sequence[Mapping[str, Any]], *, where: str
) -> tuple[LegacyLayer, ...]:
    """Check the legacy ``parent`` pointers of base-first layer ``json`` documents.

    Walking from the top layer down must visit exactly these layers, in order, and end
    at a layer with no parent. A parent that names no layer (dangling) or a walk that
    comes back to a layer it has seen (a cycle) is an error.
    """
    by_id: dict[str, Mapping[str, Any]] = {}
    for i, doc in enumerate(docs):
        v1_id = doc.get("id")
        if not isinstance(v1_id, str) or not v1_id:
            raise InvalidImageError(f"{where}: layer {i}: legacy json has no 'id'")
        by_id[v1_id] = doc
    seen: list[str] = []
    current: str | None = str(docs[-1]["id"]) if docs else None
    while current is not None:
        if current in seen:
            raise InvalidImageError(
                f"{where}: legacy parent chain is cyclic: {' -> '.join([*seen, current])}"
            )
        found = by_id.get(current)
        if found is None:
            raise InvalidImageError(
                f"{where}: legacy parent chain is dangling: {seen[-1] if seen else '?'} names "
                f"parent {current}, which is not in the archive"
            )
        seen.append(current)
        parent = found.get("parent")
        current = str(parent) if parent else None
    expected = [str(d["id"]) for d in reversed(docs)]
    if seen != expected:
        raise InvalidImageError(
            f"{where}: legacy parent chain {' -> '.join(seen)} does not match the layer order "
            f"of manifest.json ({' -> '.join(expected)})"
        )
    return tuple(
        LegacyLayer(i, str(d["id"]), str(d["parent"]) if d.get("parent") else None, dict(d))
        for i, d in enumerate(docs)
    )


def layer_listed_again(again: Layer, diff_id: str, history: Mapping[str, Any], *,
                       where: str) -> Layer:
    """A layer the manifest lists again, read once: it must be the diff_id the config
    names at this place, and it takes this place's history."""
    if again.diff_id != diff_id:
        raise DigestMismatchError(f"{where}: diff_id is {again.diff_id}, the config's "
                                  f"rootfs.diff_ids says {diff_id}")
    return again.with_created_by(str(history.get("created_by", "")),
                                 str(history.get("comment", "")))
