"""The layers several images share, told apart by chain_id as Docker's layer store does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..image import Image
    from ..layer import Layer

__all__ = ["SharedLayer", "sharing_rows"]


@dataclass(frozen=True)
class SharedLayer:
    """A layer (named by chain_id: the layer and everything below it) and who uses it."""

    chain_id: str
    diff_id: str
    created_by: str
    size: int
    used_by: tuple[str, ...]

    @property
    def shared(self) -> bool:
        return len(self.used_by) > 1


def sharing_rows(images: Mapping[str, Image]) -> list[SharedLayer]:
    """Distinct layers of several images, in first-seen order (images sorted by name).

    Layers are told apart by chain_id, as Docker's layer store does: the same diff over a
    different parent is a different layer on disk.
    """
    seen: dict[str, tuple[str, Layer, list[str]]] = {}
    for name in sorted(images):
        image = images[name]
        for chain, layer in zip(image.chain_ids, image.layers, strict=True):
            if chain not in seen:
                seen[chain] = (layer.diff_id, layer, [])
            if name not in seen[chain][2]:
                seen[chain][2].append(name)
    return [SharedLayer(chain, diff, layer.created_by, layer.size, tuple(users))
            for chain, (diff, layer, users) in seen.items()]
