"""Where things go on disk: Docker's ``overlay2`` layout and the older ``aufs`` one.

A faithful *teaching* layout, not a store a Docker daemon could use. What matches Docker:

``overlay2`` (Docker >= 17.x)::

    overlay2/<cache-id>/diff/...          a layer's files (whiteouts in overlay form)
    overlay2/<cache-id>/link, lower       short name; the short names of the layers below
    overlay2/l/<short> -> ../<cache-id>/diff
    image/overlay2/layerdb/sha256/<chain-id>/{diff,parent,size,cache-id}
    image/overlay2/layerdb/mounts/<container-id>/{mount-id,parent}
    image/overlay2/imagedb/content/sha256/<image-id>   the config JSON
    image/overlay2/repositories.json      tags
    containers/<container-id>/config.v2.json
    overlay2/<mount-id>/diff              a container's read-write layer

``aufs`` (the source text's era)::

    aufs/diff/<id>/...                    a layer's files, or a container's read-write layer
    aufs/layers/<id>                      the ids of the layers below, nearest first
    graph/<id>/json                       legacy metadata with the ``parent`` pointer
    image/aufs/...                        as for overlay2
    containers/<container-id>/config.v2.json

What differs from Docker, on purpose: ids that Docker draws at random (cache-id, mount-id)
are derived from the chain id or container id so notebooks are reproducible; the ``aufs``
layer id is the chain id's hex (Docker < 1.10 drew it at random too); whiteouts use the
overlay form in both layouts, not aufs's ``.wh.`` files (as root the kernel's own: a
character device 0/0, opaque directories marked ``trusted.overlay.opaque = "y"``;
otherwise the unprivileged form overlayfs reads with ``userxattr``, kernel >= 6.7: a
zero-size file with ``user.overlay.whiteout``, its directory marked
``user.overlay.opaque = "x"``; the spellings are :mod:`layerlab.whiteout`'s, the writer
:func:`layerlab.overlaydir.write_overlay_dir`); and every layer's exact
tar stream is kept under ``blobs/sha256/<diff-id>`` (Docker keeps ``tar-split`` data to
rebuild it) so the store can verify and reload layers byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

__all__ = ["Layout"]

DRIVERS = ("overlay2", "aufs")


def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def _derived(kind: str, value: str) -> str:
    return hashlib.sha256(f"layerlab {kind} {value}".encode()).hexdigest()


@dataclass(frozen=True)
class Layout:
    """Paths of one store root for one driver."""

    root: str
    driver: str

    def __post_init__(self) -> None:
        if self.driver not in DRIVERS:
            raise ValueError(f"driver={self.driver!r}: use one of {DRIVERS}")

    def _p(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    # --- layers ----------------------------------------------------------------------------
    def layer_id(self, chain_id: str) -> str:
        """The directory name of a layer: overlay2's cache-id, or aufs's layer id."""
        return _derived("cache-id", chain_id) if self.driver == "overlay2" else _hex(chain_id)

    def short_link(self, layer_id: str) -> str:
        """overlay2's 26-character name under ``overlay2/l/``."""
        return base64.b32encode(hashlib.sha256(layer_id.encode()).digest())[:26].decode()

    def layer_diff(self, layer_id: str) -> str:
        return self._p(self.driver, layer_id if self.driver == "overlay2" else "diff",
                       "diff" if self.driver == "overlay2" else layer_id)

    def layer_home(self, layer_id: str) -> str:
        """The directory to remove with a layer (overlay2: ``<cache-id>``; aufs: its diff)."""
        return self._p("overlay2", layer_id) if self.driver == "overlay2" else self.layer_diff(
            layer_id)

    def layerdb(self, chain_id: str) -> str:
        return self._p("image", self.driver, "layerdb", "sha256", _hex(chain_id))

    def layerdb_root(self) -> str:
        return self._p("image", self.driver, "layerdb", "sha256")

    def aufs_layers(self, layer_id: str) -> str:
        return self._p("aufs", "layers", layer_id)

    def graph(self, layer_id: str) -> str:
        return self._p("graph", layer_id)

    def blob(self, diff_id: str) -> str:
        return self._p("blobs", "sha256", _hex(diff_id))

    def blobs_root(self) -> str:
        return self._p("blobs", "sha256")

    # --- images ----------------------------------------------------------------------------
    def imagedb(self, image_id: str) -> str:
        return self._p("image", self.driver, "imagedb", "content", "sha256", _hex(image_id))

    def imagedb_root(self) -> str:
        return self._p("image", self.driver, "imagedb", "content", "sha256")

    def repositories(self) -> str:
        return self._p("image", self.driver, "repositories.json")

    # --- containers ------------------------------------------------------------------------
    def container_home(self, container_id: str) -> str:
        return self._p("containers", container_id)

    def containers_root(self) -> str:
        return self._p("containers")

    def mount_id(self, container_id: str) -> str:
        return _derived("mount-id", container_id) if self.driver == "overlay2" else container_id

    def container_diff(self, container_id: str) -> str:
        """The container's read-write layer: the directory where ``happy.txt`` lands."""
        return self.layer_diff(self.mount_id(container_id))

    def container_layer_home(self, container_id: str) -> str:
        return self.layer_home(self.mount_id(container_id))

    def container_work(self, container_id: str) -> str:
        mid = self.mount_id(container_id)
        return self._p("overlay2", mid, "work") if self.driver == "overlay2" else self._p(
            "aufs", "work", mid)

    def container_merged(self, container_id: str) -> str:
        mid = self.mount_id(container_id)
        return self._p("overlay2", mid, "merged") if self.driver == "overlay2" else self._p(
            "aufs", "mnt", mid)

    def mounts(self, container_id: str) -> str:
        return self._p("image", self.driver, "layerdb", "mounts", container_id)
