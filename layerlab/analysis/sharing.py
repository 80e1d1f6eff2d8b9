"""The layers several images share, told apart by chain_id as Docker's layer store does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .efficiency import efficiency, go_humanize_bytes

if TYPE_CHECKING:
    from ..image import Image
    from ..layer import Layer

__all__ = ["SharedLayer", "compare_images", "compare_images_text", "sharing_rows"]


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


def compare_images(images: Mapping[str, Image]) -> list[dict[str, Any]]:
    """Per image: layers, bytes to download (compressed), size on disk (uncompressed), dive's
    efficiency and wasted bytes, and the layers it shares with the others (by chain_id)."""
    chains = {name: set(img.chain_ids) for name, img in images.items()}
    rows = []
    for name, img in images.items():
        report = efficiency(img)
        others = set().union(*(c for n, c in chains.items() if n != name))
        rows.append({"image": name, "layers": len(img.layers),
                     "download_bytes": sum(layer.compressed_size for layer in img.layers),
                     "size_bytes": sum(layer.size for layer in img.layers),
                     "efficiency": report.efficiency, "wasted_bytes": report.wasted_bytes,
                     "shared_layers": len(chains[name] & others)})
    return rows


def compare_images_text(images: Mapping[str, Image]) -> str:
    """:func:`compare_images` as an aligned table (sizes as dive and docker print them)."""
    head = f"{'IMAGE':<18} {'LAYERS':>6} {'DOWNLOAD':>9} {'SIZE':>9} {'EFFICIENCY':>10} " \
           f"{'WASTED':>9} {'SHARED':>6}"
    lines = [head]
    for r in compare_images(images):
        size = go_humanize_bytes
        lines.append(f"{r['image']:<18} {r['layers']:>6} {size(r['download_bytes']):>9}"
                     f" {size(r['size_bytes']):>9} {r['efficiency'] * 100:>9.1f}%"
                     f" {size(r['wasted_bytes']):>9} {r['shared_layers']:>6}")
    return "\n".join(lines)
