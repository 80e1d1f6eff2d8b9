"""Tar and digest helpers shared by the format tests: hand-made blobs, so any part can be
broken on purpose."""

from __future__ import annotations

import hashlib
import io
import tarfile


def sha(data: bytes) -> str:
    """The ``sha256:<hex>`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def plain_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed PAX tar holding regular files ``{name: content}``."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()
