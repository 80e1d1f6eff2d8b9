"""A content-addressed blob store: ``<root>/blobs/sha256/<hex>``, partial writes in ``ingest/``.

The interface agreed for :mod:`layerlab.store.content` (owned by the registry work); the
containerd layout uses whichever is present. Blobs are written verified and atomically
(temporary file, ``fsync``, size then digest checked, rename, ``fsync`` of the directory).

>>> import tempfile
>>> cs = ContentStore(tempfile.mkdtemp())
>>> d = cs.write(b"hello")
>>> d
'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
>>> cs.has(d), cs.size(d), list(cs.digests()) == [d]
(True, 5, True)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from ..errors import DigestMismatchError, LayerlabError
from .durable import TMP_MARK, fsync_dir

__all__ = ["BlobNotFoundError", "ContentStore", "Ingest"]

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class BlobNotFoundError(LayerlabError):
    """The content store has no blob with that digest."""


def _check(digest: str) -> str:
    if not _DIGEST.fullmatch(digest):
        raise DigestMismatchError(f"content store: {digest!r} is not a sha256 digest "
                                  "(sha256: and 64 lower-case hex digits)")
    return digest.split(":", 1)[1]


class Ingest:
    """A download in progress: ``ingest/<sha256 of ref>/data`` (see ``ContentStore.ingest``)."""

    def __init__(self, store: ContentStore, ref: str, digest: str, size: int | None) -> None:
        self.store, self.ref, self.digest, self.size = store, ref, digest, size
        self.dir = store.root / "ingest" / hashlib.sha256(ref.encode()).hexdigest()
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "ref").write_text(ref)
        self._data = self.dir / "data"
        self._hash = hashlib.sha256()
        self.offset = 0
        if self._data.exists():  # resume: hash what is already there
            with open(self._data, "rb") as f:
                while chunk := f.read(1 << 20):
                    self._hash.update(chunk)
                    self.offset += len(chunk)
        self._f: BinaryIO | None = None

    def __enter__(self) -> Ingest:
        self._f = open(self._data, "ab")
        return self

    def write(self, chunk: bytes) -> None:
        assert self._f is not None, "use the ingest as a context manager"
        self._f.write(chunk)
        self._hash.update(chunk)
        self.offset += len(chunk)
        if self.size is not None and self.offset > self.size:
            raise DigestMismatchError(f"ingest {self.ref}: more than the expected {self.size} "
                                      f"bytes for {self.digest}")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._f is not None
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        if kind is not None:
            if isinstance(exc, DigestMismatchError):
                self.discard()
            return
        if self.size is not None and self.offset != self.size:
            self.discard()
            raise DigestMismatchError(f"ingest {self.ref}: got {self.offset} bytes, expected "
                                      f"{self.size} for {self.digest}")
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self.digest:
            self.discard()
            raise DigestMismatchError(f"ingest {self.ref}: content hashes to {actual}, "
                                      f"expected {self.digest}; nothing recorded")
        target = self.store._blob(self.digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._data, target)
        fsync_dir(str(target.parent))
        self.discard()

    def discard(self) -> None:
        for name in ("data", "ref"):
            with contextlib.suppress(FileNotFoundError):
                (self.dir / name).unlink()
        with contextlib.suppress(OSError):
            self.dir.rmdir()


class ContentStore:
    """Blobs by digest under ``root`` (see the module docstring)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _blob(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / _check(digest)

    def has(self, digest: str) -> bool:
        return self._blob(digest).is_file()

    def path(self, digest: str) -> Path:
        p = self._blob(digest)
        if not p.is_file():
            raise BlobNotFoundError(f"content store {self.root}: no blob {digest}")
        return p

    def open(self, digest: str) -> BinaryIO:
        return open(self.path(digest), "rb")

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def digests(self) -> Iterator[str]:
        top = self.root / "blobs" / "sha256"
        with contextlib.suppress(FileNotFoundError):
            for name in sorted(os.listdir(top)):
                if TMP_MARK not in name and re.fullmatch(r"[0-9a-f]{64}", name):
                    yield "sha256:" + name

    def write(self, data: bytes | BinaryIO, *, expected_digest: str | None = None,
              expected_size: int | None = None) -> str:
        """Store ``data`` (bytes or a readable file); returns its digest. A blob already
        present is kept; a digest or size that does not match records nothing."""
        h = hashlib.sha256()
        top = self.root / "blobs" / "sha256"
        top.mkdir(parents=True, exist_ok=True)
        tmp = top / f"write{TMP_MARK}{os.getpid()}-{id(data)}"
        count = 0
        try:
            with open(tmp, "wb") as out:
                if isinstance(data, bytes | bytearray | memoryview):
                    out.write(data)
                    h.update(data)
                    count = len(data)
                else:
                    while chunk := data.read(1 << 20):
                        out.write(chunk)
                        h.update(chunk)
                        count += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = "sha256:" + h.hexdigest()
            if expected_size is not None and count != expected_size:
                raise DigestMismatchError(f"blob {expected_digest or digest}: got {count} bytes, "
                                          f"expected {expected_size}; nothing recorded")
            if expected_digest is not None and digest != expected_digest:
                raise DigestMismatchError(f"blob {expected_digest}: content hashes to {digest}; "
                                          "nothing recorded")
            if not self.has(digest):
                os.replace(tmp, self._blob(digest))
                fsync_dir(str(top))
            return digest
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def ingest(self, ref: str, *, expected_digest: str, expected_size: int | None = None
               ) -> Ingest:
        _check(expected_digest)
        return Ingest(self, ref, expected_digest, expected_size)

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._blob(digest).unlink()

    def verify(self) -> list[str]:
        problems = []
        for digest in self.digests():
            h = hashlib.sha256()
            with open(self._blob(digest), "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            if "sha256:" + h.hexdigest() != digest:
                problems.append(f"blob {digest}: content hashes to sha256:{h.hexdigest()}")
        return problems
