"""Checking blobs as they are read: size first, then digest, then diff_ids.

A descriptor promises a size and a digest. :class:`VerifyingReader` counts and hashes
the bytes as they stream past and raises the moment the size is exceeded, or at the
end of the stream when the size falls short or the digest differs, so a tampered
blob is reported as a :class:`~layerlab.errors.DigestMismatchError` before anything
in it is interpreted. A layer's diff_id (the digest of its *uncompressed* stream) is
then compared with the image config's ``rootfs.diff_ids``.

Messages name the blob and both values::

    layer 2: blob sha256:ab12...: sha256 is sha256:cd34..., descriptor says sha256:ab12...
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any, BinaryIO, Protocol, cast

from ..errors import DigestMismatchError, LayerlabError, LimitExceededError
from ..layer import Layer
from ..limits import DEFAULT_LIMITS, Limits
from ..tarstream import ArchiveRange
from .descriptors import parse_json

__all__ = ["Progress", "VerifyingReader", "load_layer", "progress_bar", "read_verified_json"]


class VerifyingReader(io.RawIOBase):
    """Pass bytes through, checking their count and sha256 against what was promised.

    ``size`` or ``digest`` may be ``None`` (not promised, not checked).
    """

    def __init__(self, raw: IO[bytes], *, size: int | None, digest: str | None, what: str) -> None:
        self._raw = raw
        self._size = size
        self._digest = digest
        self._what = what
        self._hash = hashlib.sha256()
        self.count = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = len(buffer)
        if self._size is not None:
            # read one byte past the promise, so an oversized blob is caught right here
            want = min(want, self._size - self.count + 1)
        data = self._raw.read(max(want, 1))
        n = len(data)
        buffer[:n] = data
        if self._digest is not None:  # nothing to compare with: no pass of sha256 for it
            self._hash.update(data)
        self.count += n
        if self._size is not None and self.count > self._size:
            raise DigestMismatchError(
                f"{self._what}: size is more than {self._size} bytes, the descriptor says "
                f"{self._size}"
            )
        if n == 0:
            self.finish()
        return n

    def finish(self) -> None:
        """Check the totals (called at end of stream; safe to call again)."""
        if self._done:
            return
        self._done = True
        if self._size is not None and self.count != self._size:
            raise DigestMismatchError(
                f"{self._what}: size is {self.count} bytes, the descriptor says {self._size}"
            )
        actual = "sha256:" + self._hash.hexdigest()
        if self._digest is not None and actual != self._digest:
            raise DigestMismatchError(
                f"{self._what}: sha256 is {actual}, expected {self._digest}"
            )


def read_verified_json(
    stream: BinaryIO,
    stored_size: int,
    *,
    size: int | None,
    digest: str | None,
    what: str,
    limits: Limits = DEFAULT_LIMITS,
) -> Any:
    """Read a small JSON blob (config, manifest, index), checking cap, size and digest."""
    with stream:
        if size is not None and size != stored_size:
            raise DigestMismatchError(
                f"{what}: size is {stored_size} bytes, the descriptor says {size}"
            )
        if stored_size > limits.max_json_bytes:
            raise LimitExceededError(
                f"{what}: JSON document of {stored_size} bytes is larger than max_json_bytes="
                f"{limits.max_json_bytes}; raise Limits.max_json_bytes to accept it"
            )
        reader = VerifyingReader(stream, size=size, digest=digest, what=what)
        data = io.BufferedReader(reader).read()
        reader.finish()
    return parse_json(data, where=what, limits=limits)


def load_layer(
    stream: BinaryIO,
    stored_size: int,
    *,
    size: int | None,
    digest: str | None,
    diff_id: str | None,
    what: str,
    history: Mapping[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    spool_dir: str | None = None,
) -> Layer:
    """Read one layer blob into a :class:`Layer`, verifying size, digest and diff_id.

    The blob streams through a temporary spool file (see :meth:`Layer.from_tar`), so
    a layer never has to fit in memory. An :class:`~layerlab.tarstream.ArchiveRange`
    (from :meth:`Source.open_layer <layerlab.formats.sources.Source.open_layer>`) is
    read in place instead: a plain layer is not copied, and its bytes are hashed once,
    the one sha256 pass serving as both blob digest and diff_id (they are the same bytes).
    """
    if isinstance(stream, ArchiveRange):
        return _load_in_place(stream, stored_size, size=size, digest=digest, diff_id=diff_id,
                              what=what, history=history, limits=limits, spool_dir=spool_dir)
    with stream:
        if size is not None and size != stored_size:
            raise DigestMismatchError(
                f"{what}: size is {stored_size} bytes, the descriptor says {size}"
            )
        reader = VerifyingReader(stream, size=size, digest=digest, what=what)
        layer = Layer.from_tar(
            io.BufferedReader(reader, 1 << 20),
            created_by=str((history or {}).get("created_by", "")),
            comment=str((history or {}).get("comment", "")),
            limits=limits,
            spool_dir=spool_dir,
        )
        reader.finish()
    if diff_id is not None and layer.diff_id != diff_id:
        raise DigestMismatchError(
            f"{what}: diff_id (sha256 of the uncompressed tar) is {layer.diff_id}, "
            f"the config's rootfs.diff_ids says {diff_id}"
        )
    return layer


def _load_in_place(
    stream: ArchiveRange,
    stored_size: int,
    *,
    size: int | None,
    digest: str | None,
    diff_id: str | None,
    what: str,
    history: Mapping[str, Any] | None,
    limits: Limits,
    spool_dir: str | None,
) -> Layer:
    if size is not None and size != stored_size:
        stream.release()
        raise DigestMismatchError(
            f"{what}: size is {stored_size} bytes, the descriptor says {size}"
        )
    # the layer gets a descriptor of its own; this one stays to tell a tampered blob from
    # a malformed one when the tar does not parse
    own = ArchiveRange(os.fdopen(os.dup(stream.fileno_of_file()), "rb"), stream.start,
                       stream.size, stream.stamp, stream.label)
    try:
        layer = Layer.from_tar(
            cast(IO[bytes], own),
            created_by=str((history or {}).get("created_by", "")),
            comment=str((history or {}).get("comment", "")),
            limits=limits,
            spool_dir=spool_dir,
        )
    except LayerlabError:
        if digest is not None:
            actual = _sha256_of(stream)
            if actual != digest:  # a tampered blob is reported as one, not as its symptom
                raise DigestMismatchError(
                    f"{what}: sha256 is {actual}, expected {digest}") from None
        raise
    finally:
        stream.release()
    # the blob's own digest: the diff_id for a plain layer, the hash taken of the
    # compressed bytes as they were inflated otherwise (no second pass either way)
    if digest is not None and layer.digest != digest:
        raise DigestMismatchError(f"{what}: sha256 is {layer.digest}, expected {digest}")
    if diff_id is not None and layer.diff_id != diff_id:
        raise DigestMismatchError(
            f"{what}: diff_id (sha256 of the uncompressed tar) is {layer.diff_id}, "
            f"the config's rootfs.diff_ids says {diff_id}"
        )
    return layer


def _sha256_of(stream: ArchiveRange) -> str:
    stream.seek(0)
    h = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        h.update(chunk)
    return "sha256:" + h.hexdigest()


class Progress(Protocol):
    """What layerlab needs from a progress bar."""

    def update(self, n: int) -> object: ...


class _NoProgress:
    def update(self, n: int) -> None:
        pass


def _interactive() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if getattr(shell, "kernel", None) is not None:  # a Jupyter kernel: tqdm.auto draws a widget
        return True
    try:
        return os.isatty(sys.stderr.fileno())
    except (AttributeError, ValueError, OSError):
        return False


@contextmanager
def progress_bar(total: int, desc: str, enabled: bool | None) -> Iterator[Progress]:
    """A byte-count progress bar (``tqdm.auto``: a widget in Jupyter, a bar in a terminal).

    ``enabled=None`` shows it only when someone is watching (a tty or a notebook).
    """
    if not (_interactive() if enabled is None else enabled):
        yield _NoProgress()
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False)
    try:
        yield bar
    finally:
        bar.close()
