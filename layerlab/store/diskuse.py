"""How much disk the same images take in each layout: the figure behind "containerd keeps
both the compressed blobs and the unpacked snapshots".

Bytes are apparent sizes (``st_size``) of regular files, so the figures are the same on
every filesystem and every run; a real disk also rounds each file up to its blocks.

* ``unpacked``: the layers' files as the kernel mounts them (``overlay2/<id>/diff``,
  ``aufs/diff/<id>``, ``snapshots/<n>/fs``); containers' upper and ``-init`` directories
  included.
* ``compressed``: layer blobs kept as pulled (containerd's content store only).
* ``metadata``: everything else Docker or containerd keeps: layerdb, imagedb, configs,
  manifests, indexes, ``meta.db``...
* ``kit_only``: what layerlab keeps and Docker does not: overlay2 and aufs stores keep each
  layer's exact tar stream under ``blobs/`` (Docker keeps small ``tar-split`` files to
  rebuild it); and the containerd layout's ``meta.db`` and ``metadata.db``, JSON stand-ins
  whose size says nothing about the bolt files they stand for (those grow in 4 KiB pages).
  Left out of :attr:`DiskUse.total`.

>>> from layerlab import Image, Layer
>>> images = {"a": Image.from_layers([Layer.from_dict({"/f": "x" * 1000})])}
>>> [(u.driver, u.unpacked) for u in compare_layouts(images)]
[('aufs', 1000), ('overlay2', 1000), ('containerd', 1000)]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..image import Image
    from .store import Store

__all__ = ["DiskUse", "compare_layouts", "disk_use"]

LAYOUTS = ("aufs", "overlay2", "containerd")


@dataclass(frozen=True)
class DiskUse:
    """Bytes a store keeps, by kind (see the module docstring)."""

    driver: str
    unpacked: int
    compressed: int
    metadata: int
    kit_only: int

    @property
    def total(self) -> int:
        """What Docker (or containerd) itself would keep: unpacked + compressed + metadata."""
        return self.unpacked + self.compressed + self.metadata


def _files(top: str) -> list[tuple[str, int]]:
    out = []
    for dirpath, _dirs, names in os.walk(top):
        for name in names:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if os.path.isfile(full) and not os.path.islink(full):
                out.append((os.path.relpath(full, top), st.st_size))
    return out


def disk_use(store: Store) -> DiskUse:
    """What ``store`` keeps on disk, by kind."""
    unpacked = compressed = metadata = kit = 0
    layer_blobs: set[str] = set()
    if store.driver == "containerd":
        from .containerd import ContainerdStore
        from .containerd_layout import UNCOMPRESSED

        assert isinstance(store, ContainerdStore)
        layer_blobs = {d.split(":", 1)[1] for d, rec in store.metadata().get(
            "content", {}).get("blob", {}).items() if UNCOMPRESSED in rec.get("labels", {})}
    for rel, size in _files(store.root):
        parts = rel.split(os.sep)
        if parts[0] in ("layerlab-store.json", ".lock"):
            continue
        if store.driver == "containerd":
            if parts[0] == "io.containerd.snapshotter.v1.overlayfs" and "fs" in parts[3:4]:
                unpacked += size
            elif parts[0] == "io.containerd.content.v1.content" and parts[-1] in layer_blobs:
                compressed += size
            elif parts[-1] in ("meta.db", "metadata.db"):
                kit += size
            else:
                metadata += size
        elif parts[0] == "blobs":
            kit += size
        elif (store.driver == "overlay2" and parts[0] == "overlay2" and len(parts) > 3
              and parts[2] == "diff") or (parts[:2] == ["aufs", "diff"] and len(parts) > 3):
            unpacked += size
        else:
            metadata += size
    return DiskUse(store.driver, unpacked, compressed, metadata, kit)


def compare_layouts(images: Mapping[str, Image]) -> list[DiskUse]:
    """The same images (``{tag: image}``) added to a fresh store of each layout."""
    from .store import Store

    rows = []
    for driver in LAYOUTS:
        store = Store.temporary(driver=driver)
        for tag, image in images.items():
            store.add(image, tag=tag)
        rows.append(disk_use(store))
    return rows
