"""File contents kept on disk instead of in memory (for big files a build copies).

A :class:`FileBlob` is a private copy of some bytes in a temporary file, made once in
chunks while hashing, so a 1.5 GiB file from a build context never sits in memory: the
container's read-write layer holds the blob, and the layer reads it back in chunks when
it is written as a tar. The copy is private, so a later change to the source cannot
change a layer whose digest was already computed. The file is removed when the blob is
garbage-collected.

>>> import io
>>> blob = FileBlob.copy_of(io.BytesIO(b"hello"))
>>> len(blob), blob.digest[:15], blob.read()
(5, 'sha256:2cf24dba', b'hello')
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import weakref
from typing import BinaryIO

__all__ = ["FileBlob"]

_CHUNK = 1024 * 1024


class FileBlob:
    """Bytes in a private temporary file: ``len(blob)``, ``blob.digest``, ``blob.open()``."""

    __slots__ = ("__weakref__", "_finalizer", "digest", "path", "size")

    def __init__(self, path: str, size: int, digest: str) -> None:
        self.path = path
        self.size = size
        self.digest = digest
        self._finalizer = weakref.finalize(self, _unlink, path)

    @classmethod
    def copy_of(cls, source: BinaryIO, *, spool_dir: str | None = None) -> FileBlob:
        """Copy ``source`` to a new temporary file, hashing as it goes."""
        h = hashlib.sha256()
        size = 0
        fd, path = tempfile.mkstemp(prefix="layerlab-blob-", dir=spool_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        except BaseException:
            _unlink(path)
            raise
        return cls(path, size, "sha256:" + h.hexdigest())

    def open(self) -> BinaryIO:
        return open(self.path, "rb")

    def read(self) -> bytes:
        with self.open() as f:
            return f.read()

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"<FileBlob {self.digest[:19]} {self.size} bytes>"


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
