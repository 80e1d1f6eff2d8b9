"""A content-addressed blob store: ``<root>/blobs/sha256/<hex>``, partial writes in ``ingest/``.

This is the shape of containerd's ``io.containerd.content.v1.content`` directory and of an OCI
image layout's ``blobs/``: a blob's file name is the sha256 of its bytes, so a name can be
checked by re-hashing, and two images that share a layer share one file. The registry client
caches every blob it downloads here; the containerd layout keeps its content here.

Writes are atomic: bytes go to a temporary file, are ``fsync``-ed, checked (size, then digest),
and only then renamed into ``blobs/``; a crash leaves the old state plus a temporary file that
:meth:`ContentStore.verify` reports. A download in progress is an *ingest*: its partial bytes
stay in ``ingest/<sha256 of the ref>/data`` after an error, so the next attempt can resume from
:attr:`Ingest.offset` with an HTTP ``Range`` request.

Digests come from manifests, which come from the network, so every digest is checked against
``sha256:<64 lowercase hex>`` before it is used in a path (``sha256:../../etc`` is refused).

>>> import tempfile, pathlib
>>> cs = ContentStore(pathlib.Path(tempfile.mkdtemp()))
>>> d = cs.write(b"hello")
>>> d
'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
>>> cs.has(d), cs.size(d), cs.path(d).read_bytes()
(True, 5, b'hello')
>>> with cs.ingest("layer-1", expected_digest=d, expected_size=5) as ing:
...     ing.offset
5
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from ..errors import BlobNotFoundError, DigestMismatchError, InvalidDigestError
from .durable import TMP_MARK, fsync_dir

__all__ = ["ContentStore", "Ingest", "check_digest"]

_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
_HEX_RE = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


def check_digest(digest: object) -> str:
    """Return ``digest`` if it is ``sha256:<64 lowercase hex>``, else raise InvalidDigestError.

    >>> check_digest("sha256:../../etc/passwd")
    Traceback (most recent call last):
    ...
    layerlab.errors.InvalidDigestError: digest 'sha256:../../etc/passwd': not sha256:<64 ... hex>
    """
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        shown = str(digest) if len(str(digest)) <= 100 else f"{str(digest)[:100]}..."
        raise InvalidDigestError(f"digest {shown!r}: not sha256:<64 lowercase hex>")
    return digest


def _tmp_suffix() -> str:
    return f"{TMP_MARK}{os.getpid()}-{threading.get_ident()}"


class ContentStore:
    """Blobs by digest under ``root``. Safe for several threads and processes at once."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._blobs = self.root / "blobs" / "sha256"
        self._ingest = self.root / "ingest"

    def __repr__(self) -> str:
        return f"ContentStore({str(self.root)!r})"

    def _blob_path(self, digest: str) -> Path:
        return self._blobs / check_digest(digest)[len("sha256:"):]

    def has(self, digest: str) -> bool:
        """True when the blob is present (a malformed digest raises InvalidDigestError)."""
        return self._blob_path(digest).is_file()

    def path(self, digest: str) -> Path:
        """The blob's file; raises BlobNotFoundError when it is absent."""
        p = self._blob_path(digest)
        if not p.is_file():
            raise BlobNotFoundError(f"content store {self.root}: no blob {digest}")
        return p

    def open(self, digest: str) -> BinaryIO:
        """The blob, opened for reading in binary mode (the caller closes it)."""
        p = self.path(digest)
        try:
            return p.open("rb")
        except FileNotFoundError:  # deleted between the check and the open
            raise BlobNotFoundError(f"content store {self.root}: no blob {digest}") from None

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def digests(self) -> Iterator[str]:
        """Every blob's digest, sorted; files whose names are not digests are skipped
        (:meth:`verify` reports them)."""
        try:
            names = sorted(os.listdir(self._blobs))
        except FileNotFoundError:
            return
        for name in names:
            if _HEX_RE.fullmatch(name) and (self._blobs / name).is_file():
                yield "sha256:" + name

    def write(self, data: bytes | BinaryIO, *, expected_digest: str | None = None,
              expected_size: int | None = None) -> str:
        """Store ``data`` (bytes or a binary file read to its end) and return its digest.

        With ``expected_digest`` / ``expected_size`` the bytes are checked (size first, then
        digest) before anything is renamed into place; a mismatch raises DigestMismatchError and
        leaves the store as it was. A blob already present is not written again.
        """
        if expected_digest is not None:
            check_digest(expected_digest)
            if self.has(expected_digest) and (
                    expected_size is None or self.size(expected_digest) == expected_size):
                return expected_digest
        src: BinaryIO = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) \
            else data
        self._blobs.mkdir(parents=True, exist_ok=True)
        tmp = self._blobs / f"write{_tmp_suffix()}"
        h = hashlib.sha256()
        written = 0
        try:
            with open(tmp, "wb") as f:
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    f.write(chunk)
                    written += len(chunk)
                    if expected_size is not None and written > expected_size:
                        break
                f.flush()
                os.fsync(f.fileno())
            digest = "sha256:" + h.hexdigest()
            _check(expected_digest or digest, expected_size, written, digest, "blob")
            os.replace(tmp, self._blobs / digest[len("sha256:"):])
            fsync_dir(str(self._blobs))
            return digest
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def ingest(self, ref: str, *, expected_digest: str,
               expected_size: int | None = None) -> Ingest:
        """A resumable write of one blob; use it as a context manager.

        ``ref`` names the download (any string: it is hashed for the directory name). Inside the
        ``with``, :attr:`Ingest.offset` is the number of bytes already there (ask the server for
        ``Range: bytes=<offset>-``); :meth:`Ingest.write` appends. A clean exit checks the size
        then the digest and renames the blob into place; an exception keeps the partial bytes
        for the next attempt (unless they can no longer be right, which discards them).
        """
        check_digest(expected_digest)
        if expected_size is not None and expected_size < 0:
            raise DigestMismatchError(f"blob {expected_digest}: negative expected size "
                                      f"{expected_size}")
        return Ingest(self, ref, expected_digest, expected_size)

    def delete(self, digest: str, *, missing_ok: bool = False) -> None:
        """Remove a blob; absent raises BlobNotFoundError unless ``missing_ok``."""
        p = self._blob_path(digest)
        try:
            p.unlink()
        except FileNotFoundError:
            if not missing_ok:
                raise BlobNotFoundError(f"content store {self.root}: no blob {digest}") from None
            return
        fsync_dir(str(self._blobs))

    def ingests(self) -> list[str]:
        """The refs of the partial downloads kept for resume, sorted."""
        out = []
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self._ingest):
                with contextlib.suppress(OSError, ValueError):
                    out.append(json.loads((self._ingest / name / "ref").read_text())["ref"])
        return sorted(out)

    def verify(self) -> list[str]:
        """Re-hash every blob; return the problems found, each naming the blob (empty: healthy)."""
        problems: list[str] = []
        try:
            names = sorted(os.listdir(self._blobs))
        except FileNotFoundError:
            return problems
        for name in names:
            p = self._blobs / name
            if TMP_MARK in name:
                problems.append(f"blobs/sha256/{name}: leftover temporary file of an interrupted "
                                f"write")
                continue
            if not _HEX_RE.fullmatch(name):
                problems.append(f"blobs/sha256/{name}: file name is not a sha256 digest")
                continue
            if p.is_symlink() or not p.is_file():
                problems.append(f"blob sha256:{name}: not a regular file")
                continue
            h = hashlib.sha256()
            with open(p, "rb") as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
            if h.hexdigest() != name:
                problems.append(f"blob sha256:{name}: content hashes to sha256:{h.hexdigest()}")
        return problems


def _check(digest: str, expected_size: int | None, written: int, actual: str, what: str) -> None:
    if expected_size is not None and written != expected_size:
        raise DigestMismatchError(f"{what} {digest}: got {written} bytes, expected "
                                  f"{expected_size}; nothing recorded")
    if actual != digest:
        raise DigestMismatchError(f"{what} {digest}: content hashes to {actual}; nothing recorded")


class Ingest:
    """One resumable blob write (see :meth:`ContentStore.ingest`).

    ``offset``: bytes already held; ``complete``: the blob was already in the store (write
    nothing). :meth:`restart` throws away the partial bytes (for a server that ignored Range).
    """

    def __init__(self, store: ContentStore, ref: str, digest: str, size: int | None) -> None:
        self.store = store
        self.ref = ref
        self.digest = digest
        self.expected_size = size
        self.offset = 0
        self.complete = False
        key = hashlib.sha256(ref.encode("utf-8", "surrogateescape")).hexdigest()
        self._dir = store._ingest / key
        self._data = self._dir / "data"
        self._lock_fd: int | None = None
        self._file: BinaryIO | None = None
        self._hash = hashlib.sha256()

    def __enter__(self) -> Ingest:
        if self.store.has(self.digest):
            self.complete = True
            self.offset = self.store.size(self.digest)
            return self
        self._dir.mkdir(parents=True, exist_ok=True)
        # one writer per ref: a second process waits here, then finds the blob done or resumes
        self._lock_fd = os.open(self._dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        if self.store.has(self.digest):
            self.complete = True
            self.offset = self.store.size(self.digest)
            return self
        meta = {"ref": self.ref, "digest": self.digest, "size": self.expected_size}
        meta_path = self._dir / "ref"
        try:
            same = json.loads(meta_path.read_text()) == meta
        except (OSError, ValueError):
            same = False
        if not same:  # partial bytes of something else (or no record of them): start over
            with contextlib.suppress(FileNotFoundError):
                self._data.unlink()
            meta_path.write_text(json.dumps(meta, sort_keys=True))
        self._file = open(self._data, "a+b")  # closed in __exit__
        self._file.seek(0)
        while chunk := self._file.read(_CHUNK):
            self._hash.update(chunk)
            self.offset += len(chunk)
        if self.expected_size is not None and self.offset > self.expected_size:
            self.restart()
        return self

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``; going past the expected size drops the partial bytes and raises."""
        if self.complete:
            raise DigestMismatchError(f"blob {self.digest}: already in the store; nothing to write")
        assert self._file is not None, "Ingest.write outside its with block"
        if self.expected_size is not None and self.offset + len(chunk) > self.expected_size:
            self.restart()
            raise DigestMismatchError(
                f"blob {self.digest}: more than the expected {self.expected_size} bytes; "
                f"nothing recorded")
        self._file.write(chunk)
        self._hash.update(chunk)
        self.offset += len(chunk)

    def restart(self) -> None:
        """Discard the partial bytes and start again from offset 0."""
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
        self._hash = hashlib.sha256()
        self.offset = 0

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self.complete or self._file is None:
                return
            self._file.flush()
            os.fsync(self._file.fileno())
            if exc_type is not None:  # keep what arrived, for resume
                return
            actual = "sha256:" + self._hash.hexdigest()
            if self.expected_size is not None and self.offset < self.expected_size:
                raise DigestMismatchError(
                    f"blob {self.digest}: got {self.offset} bytes, expected {self.expected_size}; "
                    f"kept the partial download for resume, nothing recorded")
            if actual != self.digest:
                self._discard()
                raise DigestMismatchError(
                    f"blob {self.digest}: content hashes to {actual}; nothing recorded")
            self.store._blobs.mkdir(parents=True, exist_ok=True)
            self._file.close()
            self._file = None
            os.replace(self._data, self.store._blobs / self.digest[len("sha256:"):])
            fsync_dir(str(self.store._blobs))
            self._discard()
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        shutil.rmtree(self._dir, ignore_errors=True)
