"""What the images take: the rows of ``docker images`` and ``docker system df -v``.

Both are computed from a few questions any layout answers (its tags, its image ids, an
image's config, a layer's size by chain id), so every layout lists its images the same
way. A layer counts once per image, and as *shared* when another image uses it too.

>>> sizes = {"c1": 100, "c2": 5, "c3": 7}
>>> rows = df_rows([ImageRecord("i1", ("a:latest",), 2, 105, ""),
...                 ImageRecord("i2", (), 2, 107, "")],
...                {"i1": ["c1", "c2"], "i2": ["c1", "c3"]}, sizes.__getitem__, ["i1"])
>>> [(r.shared_size, r.unique_size, r.containers) for r in rows]
[(100, 5, 1), (100, 7, 0)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..digest import chain_ids
from .records import DfRow, ImageRecord

__all__ = ["df_rows", "image_records"]


def image_records(tags: Mapping[str, str], image_ids: Iterable[str],
                  config: Callable[[str], dict[str, Any]],
                  layer_size: Callable[[str], int]) -> list[ImageRecord]:
    """One :class:`ImageRecord` per image id, its tags sorted; an image whose config is
    gone (removed by another process since the listing) is left out."""
    by_image: dict[str, list[str]] = {}
    for t, i in sorted(tags.items()):
        by_image.setdefault(i, []).append(t)
    out = []
    for image_id in image_ids:
        try:
            doc = config(image_id)
        except FileNotFoundError:
            continue
        diff_ids = doc["rootfs"]["diff_ids"]
        size = sum(layer_size(c) for c in chain_ids(diff_ids))
        out.append(ImageRecord(image_id, tuple(by_image.get(image_id, ())), len(diff_ids),
                               size, str(doc.get("created", ""))))
    return out


def df_rows(records: Sequence[ImageRecord], chains_of: Mapping[str, Sequence[str]],
            layer_size: Callable[[str], int], container_images: Iterable[str]) -> list[DfRow]:
    """``docker system df -v`` rows: ``chains_of`` maps an image id to its chain ids,
    ``container_images`` has one image id per container."""
    users: dict[str, int] = {}
    for chains in chains_of.values():
        for ch in set(chains):
            users[ch] = users.get(ch, 0) + 1
    containers: dict[str, int] = {}
    for image_id in container_images:
        containers[image_id] = containers.get(image_id, 0) + 1
    rows = []
    for record in records:
        shared = sum(layer_size(ch) for ch in chains_of[record.id] if users[ch] > 1)
        rows.append(DfRow(record.id, record.tags, record.size, shared,
                          record.size - shared, containers.get(record.id, 0)))
    return rows
