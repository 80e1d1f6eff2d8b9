"""From a config document and layer blobs to an :class:`~layerlab.Image`.

Shared by every reader: the config's ``rootfs.diff_ids`` decide how many layers there
must be and what each must hash to; the config's ``history`` gives each layer its
``created_by``. :class:`LoadedImage` carries what a file said beyond the image itself
(its format, tags, platform, and the legacy per-layer ``json`` of ``docker save``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..digest import is_digest
from ..errors import DigestMismatchError, InvalidImageError
from ..image import EPOCH, HistoryEntry, Image, ImageConfig, LegacyLayer
from ..layer import Layer
from .descriptors import expect_object

__all__ = ["LoadedImage", "image_from_config"]


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


LayerLoader = Callable[[int, str, Mapping[str, Any]], Layer]
"""``(index, expected diff_id, history entry) -> Layer``"""


def config_diff_ids(config: Mapping[str, Any], *, where: str) -> list[str]:
    """The ``rootfs.diff_ids`` of a config, checked to be a list of digests."""
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, Mapping) else None
    if not isinstance(diff_ids, list) or not all(
        isinstance(d, str) and is_digest(d) for d in diff_ids
    ):
        raise InvalidImageError(f"{where}: rootfs.diff_ids is missing or not a list of digests")
    return diff_ids


def image_from_config(
    config_doc: Any, layer_count: int, load: LayerLoader, *, where: str,
    raw: bytes | None = None,
) -> Image:
    """Build the image a config describes, loading layer ``i`` with ``load``.

    ``layer_count`` is how many layers the manifest lists; it must agree with the
    config's ``rootfs.diff_ids``.
    """
    config = expect_object(config_doc, where)
    diff_ids = config_diff_ids(config, where=where)
    if len(diff_ids) != layer_count:
        raise InvalidImageError(
            f"{where}: the manifest lists {layer_count} layers but rootfs.diff_ids has "
            f"{len(diff_ids)}"
        )
    raw_history = config.get("history") or []
    if not isinstance(raw_history, list) or not all(isinstance(h, Mapping) for h in raw_history):
        raise InvalidImageError(f"{where}: history is not a list of objects")
    history = [HistoryEntry.from_json(h) for h in raw_history]
    made = [h for h in raw_history if not h.get("empty_layer")]
    if len(made) > layer_count:
        raise InvalidImageError(
            f"{where}: history has {len(made)} entries that made a layer, but there are "
            f"{layer_count} layers"
        )
    # Some tools write no history (or too little); the missing entries are blank.
    history += [HistoryEntry() for _ in range(layer_count - len(made))]
    made += [{} for _ in range(layer_count - len(made))]
    layers = [load(i, diff_id, made[i]) for i, diff_id in enumerate(diff_ids)]
    try:
        image_config = ImageConfig.from_dict(config.get("config"))
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidImageError(f"{where}: the 'config' object is malformed ({exc})") from exc
    meta = {key: config.get(key) for key in ("architecture", "os", "created", "author")}
    return Image(
        layers,
        config=image_config,
        history=history,
        architecture=str(meta["architecture"] or "amd64"),
        os=str(meta["os"] or "linux"),
        created=str(meta["created"] or EPOCH),
        author=str(meta["author"] or ""),
        raw_config=raw,
    )


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
