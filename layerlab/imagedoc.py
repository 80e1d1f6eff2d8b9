"""An image's own JSON documents: from a config (and layer loader) to an
:class:`~layerlab.Image`, and from an image to its OCI manifest.

These sit beside :mod:`layerlab.image`, below the store and the formats, because both
need them: the store's image db reads configs back with :func:`image_from_config` and the
containerd layout writes :func:`manifest_bytes` into its content store, while
:mod:`layerlab.formats` (which re-exports these names) reads and writes archives with them.

>>> from layerlab import Image, Layer
>>> img = Image.from_layers([Layer.from_dict({"/a": "1\\n"})])
>>> doc = json.loads(manifest_bytes(img))
>>> doc["mediaType"] == OCI_MANIFEST, doc["config"]["digest"] == img.id
(True, True)
>>> again = image_from_config(json.loads(img.config_bytes()), 1,
...                           lambda i, diff_id, h: img.layers[i], where="demo")
>>> again.id == img.id
True
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .digest import is_digest
from .errors import InvalidImageError
from .image import EPOCH, HistoryEntry, Image, ImageConfig
from .layer import Layer

__all__ = ["OCI_CONFIG", "OCI_INDEX", "OCI_MANIFEST", "LayerLoader", "canonical_json",
           "config_diff_ids", "expect_object", "image_from_config", "manifest_bytes"]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def expect_object(doc: Any, where: str) -> dict[str, Any]:
    """``doc`` if it is a JSON object, else a clear error."""
    if not isinstance(doc, dict):
        raise InvalidImageError(f"{where}: expected a JSON object, found {type(doc).__name__}")
    return doc


def canonical_json(doc: Mapping[str, Any]) -> bytes:
    """``doc`` as compact JSON with sorted keys (the bytes layerlab hashes and writes)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def manifest_bytes(image: Image) -> bytes:
    """The OCI manifest of ``image`` (layer blobs as each layer stores them)."""
    config = image.config_bytes()
    config_desc = {"mediaType": OCI_CONFIG, "digest": image.id, "size": len(config)}
    layers = [{"mediaType": layer.media_type, "digest": layer.digest,
               "size": layer.compressed_size} for layer in image.layers]
    return canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": config_desc, "layers": layers})


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
