"""Image configs of the ``overlay2`` and ``aufs`` layouts: ``image/<driver>/imagedb``.

An image's id is the sha256 of its config JSON, and :class:`ImageDB` keeps each config
under that id in ``imagedb/content/sha256/<id>``; :meth:`ImageDB.load` reads one back as
an :class:`~layerlab.image.Image` whose layers come from the store's blobs (the loaders'
own rules, so what was recorded is what is read). It knows nothing of tags or containers.

>>> import tempfile
>>> from layerlab import Image, Layer
>>> from layerlab.store.layout import Layout
>>> db = ImageDB(Layout(tempfile.mkdtemp(), "overlay2"))
>>> image = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\\n"})])
>>> db.put(image); db.ids() == [image.id]
True
>>> db.config(image.id)["rootfs"]["diff_ids"] == [image.layers[0].diff_id]
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from ..digest import sha256_digest, short
from ..errors import InvalidImageError
from ..image import Image
from ..imagedoc import image_from_config
from ..layer import Layer
from .durable import TMP_MARK, atomic_write, fsync_dir
from .layout import Layout

__all__ = ["ImageDB"]


class ImageDB:
    """The image configs of one overlay2 or aufs store root (see the module docstring)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def path(self, image_id: str) -> str:
        """Where the config of ``image_id`` is kept."""
        return self.layout.imagedb(image_id)

    def ids(self) -> list[str]:
        """Every recorded image id, sorted (interrupted writes left out)."""
        try:
            names = os.listdir(self.layout.imagedb_root())
        except FileNotFoundError:
            return []
        return sorted("sha256:" + n for n in names if TMP_MARK not in n)

    def config(self, image_id: str) -> dict[str, Any]:
        """The config as a dict (``FileNotFoundError`` when the image is not recorded)."""
        with open(self.layout.imagedb(image_id), "rb") as f:
            data: dict[str, Any] = json.loads(f.read())
            return data

    def put(self, image: Image) -> None:
        """Record the image's config (atomically; a config already there is kept)."""
        path = self.layout.imagedb(image.id)
        if not os.path.exists(path):
            atomic_write(path, image.config_bytes())

    def remove(self, image_id: str) -> None:
        """Delete the config, durably."""
        os.unlink(self.layout.imagedb(image_id))
        fsync_dir(self.layout.imagedb_root())

    def load(self, image_id: str, blob: Callable[[str], str]) -> Image:
        """The image, its config checked against its id and its layers read from
        ``blob(diff_id)`` (a tar file's path)."""
        with open(self.layout.imagedb(image_id), "rb") as f:
            raw = f.read()
        if sha256_digest(raw) != image_id:
            raise InvalidImageError(f"image {short(image_id)}: config does not hash to its id")
        config = json.loads(raw)
        diff_ids = config["rootfs"]["diff_ids"]

        def load(i: int, diff_id: str, history: Any) -> Layer:
            return Layer.from_tar(blob(diff_id),
                                  created_by=str(history.get("created_by", "")),
                                  comment=str(history.get("comment", "")))

        # the loaders' own rules (a missing or short history is blank), so what add()
        # accepted, get() reads back
        return image_from_config(config, len(diff_ids), load, where=f"image {short(image_id)}",
                                 raw=raw)
