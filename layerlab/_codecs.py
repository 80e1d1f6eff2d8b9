"""Decompressors for layer streams: the fastest gzip inflater installed, zstd frame by frame.

gzip: ``isal`` (Intel ISA-L's igzip) inflates layer tars about twice as fast as CPython's
``zlib``, ``zlib-ng`` about 1.7x; both are optional (``pip install layerlab[fast]``) and
have wheels for the common platforms but not everywhere (Pyodide), so the standard
``zlib`` is always the fallback. Every inflater produces the same bytes, so digests never
depend on which one ran; ``LAYERLAB_GZIP=zlib`` (or ``isal``, ``zlib-ng``) forces one.
Compression (:func:`layerlab.tarstream.compress`) always uses ``zlib``: its output, and so
a made layer's digest, must be the same on every machine.

>>> gzip_backend(None).name in ("isal", "zlib-ng", "zlib")
True
>>> gzip_backend("zlib").name
'zlib'
"""

from __future__ import annotations

import importlib
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, cast

__all__ = ["GZIP_ENV", "ZSTD_MAGIC", "GzipBackend", "GzipMembers", "ZstdFrameWalker",
           "ZstdFrames", "gzip_backend", "gzip_backends"]

GZIP_ENV = "LAYERLAB_GZIP"
_CHUNK = 1 << 20
_GZIP_WBITS = 31  # a gzip wrapper: the library checks the header, the CRC-32 and ISIZE
#: fastest first: (name, module, attribute holding the zlib-compatible module)
_CANDIDATES = (("isal", "isal", "isal_zlib"), ("zlib-ng", "zlib_ng", "zlib_ng"))


@dataclass(frozen=True)
class GzipBackend:
    """A zlib-compatible inflater: ``decompressobj(wbits)`` and the ``error`` it raises."""

    name: str
    decompressobj: Callable[[int], Any]
    error: type[Exception]


_ZLIB = GzipBackend("zlib", zlib.decompressobj, zlib.error)


def gzip_backends() -> dict[str, GzipBackend]:
    """Every inflater importable here, fastest first (``zlib`` always last)."""
    found: dict[str, GzipBackend] = {}
    for name, package, attr in _CANDIDATES:
        try:
            module = getattr(importlib.import_module(package), attr, None)
            if module is None:
                module = importlib.import_module(f"{package}.{attr}")
        except ImportError:
            continue
        found[name] = GzipBackend(name, module.decompressobj, module.error)
    found["zlib"] = _ZLIB
    return found


_CACHE: dict[str, GzipBackend] = {}


def gzip_backend(name: str | None = None) -> GzipBackend:
    """The inflater called ``name``, or (``None``) the one ``$LAYERLAB_GZIP`` names, or the
    fastest installed. An unknown or missing name raises ValueError."""
    wanted = name if name is not None else os.environ.get(GZIP_ENV, "").strip() or "auto"
    cached = _CACHE.get(wanted)
    if cached is not None:
        return cached
    backends = gzip_backends()
    if wanted == "auto":
        chosen = next(iter(backends.values()))
    elif wanted in backends:
        chosen = backends[wanted]
    else:
        raise ValueError(f"{GZIP_ENV}={wanted!r}: not an installed gzip inflater (installed: "
                         f"{', '.join(backends)}; 'auto' picks the fastest)")
    _CACHE[wanted] = chosen
    return chosen


class GzipError(Exception):
    """A gzip stream that is not well formed (the caller names the layer)."""


class GzipMembers:
    """Inflate a gzip stream (one member or several, as ``gzip.GzipFile`` reads them).

    :meth:`read` returns at most ``size`` bytes: the inflater is called with
    ``max_length``, so a bomb never inflates more than one chunk ahead of the size checks.
    A stream cut short raises EOFError; a corrupt one raises :class:`GzipError` (with
    ``CRC`` in the message when the trailer's check fails). Zero bytes after a member are
    padding and skipped, as Python's ``gzip`` module does.
    """

    def __init__(self, raw: IO[bytes], backend: GzipBackend | None = None) -> None:
        self._raw = raw
        self._backend = backend or gzip_backend()
        self._d: Any = self._backend.decompressobj(_GZIP_WBITS)
        self._in_member = False
        self._pending = b""
        self._done = False

    def read(self, size: int = _CHUNK) -> bytes:
        want = _CHUNK if size < 0 else size
        while not self._done:
            if not self._pending:
                self._pending = self._raw.read(_CHUNK)
                if not self._pending:
                    if self._in_member:
                        raise EOFError("Compressed file ended before the end-of-stream marker "
                                       "was reached")
                    self._done = True
                    break
            if not self._in_member:
                stripped = self._pending.lstrip(b"\0")
                if not stripped:  # padding only, so far
                    self._pending = b""
                    continue
                if not self._started_ok(stripped):
                    raise GzipError(f"Not a gzipped file ({stripped[:2]!r})")
                self._pending = stripped
                self._in_member = True
            try:
                data = self._d.decompress(self._pending, want)
            except self._backend.error as exc:
                text = str(exc)
                if "check" in text or "checksum" in text.lower():
                    raise GzipError(f"CRC or length check failed ({text})") from exc
                raise GzipError(text) from exc
            if self._d.eof:
                self._pending = self._d.unused_data
                self._d = self._backend.decompressobj(_GZIP_WBITS)
                self._in_member = False
            else:
                self._pending = self._d.unconsumed_tail
            if data:
                return bytes(data)
        return b""

    @staticmethod
    def _started_ok(data: bytes) -> bool:
        # after zero padding, a member starts with the magic (a read may end inside it)
        return data.startswith(b"\x1f\x8b"[: min(len(data), 2)])


#: RFC 8878: a zstd frame's magic number (tarstream.detect_compression looks for it too),
#: and the tail of a skippable frame's (0x184D2A5?, little-endian)
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_SKIPPABLE_TAIL = b"\x2a\x4d\x18"
_MAGIC, _DESCRIPTOR, _BLOCK_HEADER, _SKIP_SIZE = range(4)


class ZstdFrameWalker:
    """Follow the frame structure of a zstd stream (RFC 8878, section 3.1) as its bytes pass,
    so that the end of the input can be told from the end of a frame.

    zstandard's stream reader inflates with bounded output and in C, but at the end of its
    input it says nothing about a frame left unfinished; this reads the few headers
    around the data (the magic, the frame header's length, each block's 3-byte header,
    the checksum) and skips the rest, about one header per 128 KiB of output. It
    validates nothing: a stream it does not recognise (:attr:`lost`) is left to the
    decompressor, which reports it as corrupt.

    >>> import zstandard
    >>> frame = zstandard.ZstdCompressor(write_checksum=True).compress(b"layer" * 100)
    >>> walker = ZstdFrameWalker()
    >>> walker.feed(frame[:-1]); walker.inside_frame
    True
    >>> walker.feed(frame[-1:]); walker.inside_frame
    False
    """

    def __init__(self) -> None:
        self._state = _MAGIC
        self._want = 4  # header bytes to gather before the next step
        self._head = b""
        self._skip = 0  # bytes to pass over (block data, frame header fields, a checksum)
        self._checksum = False
        self.lost = False

    @property
    def inside_frame(self) -> bool:
        """Has the stream so far stopped inside a frame (cut short, if it ends here)?"""
        return not self.lost and bool(self._state != _MAGIC or self._head or self._skip)

    def feed(self, data: bytes) -> None:
        i, n = 0, len(data)
        while i < n and not self.lost:
            if self._skip:
                take = min(self._skip, n - i)
                self._skip -= take
                i += take
                continue
            need = self._want - len(self._head)
            self._head += data[i:i + need]
            i += need
            if len(self._head) < self._want:
                return
            head, self._head = self._head, b""
            self._step(head)

    def _step(self, head: bytes) -> None:
        state = self._state
        if state == _MAGIC:
            if head == ZSTD_MAGIC:
                self._state, self._want = _DESCRIPTOR, 1
            elif head[1:] == _SKIPPABLE_TAIL and head[0] & 0xF0 == 0x50:
                self._state, self._want = _SKIP_SIZE, 4
            else:
                self.lost = True
        elif state == _DESCRIPTOR:
            descriptor = head[0]
            single_segment = descriptor >> 5 & 1
            self._checksum = bool(descriptor >> 2 & 1)
            self._skip = ((0 if single_segment else 1)  # the window descriptor
                          + (0, 1, 2, 4)[descriptor & 3]  # the dictionary id
                          + (single_segment, 2, 4, 8)[descriptor >> 6])  # the content size
            self._state, self._want = _BLOCK_HEADER, 3
        elif state == _BLOCK_HEADER:
            header = int.from_bytes(head, "little")
            kind, size = header >> 1 & 3, header >> 3
            if kind == 3:  # reserved: not a stream this can follow
                self.lost = True
                return
            self._skip = 1 if kind == 1 else size  # an RLE block holds one byte
            if header & 1:  # the frame's last block
                self._skip += 4 if self._checksum else 0
                self._state, self._want = _MAGIC, 4
        else:  # _SKIP_SIZE
            self._skip = int.from_bytes(head, "little")
            self._state, self._want = _MAGIC, 4


class _Watched:
    """``raw``, every byte read from it also shown to ``walker``."""

    def __init__(self, raw: IO[bytes], walker: ZstdFrameWalker) -> None:
        self._raw = raw
        self._walker = walker

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._walker.feed(data)
        return data


class ZstdFrames:
    """Inflate a zstd stream (one frame or several, skippable frames passed over).

    :meth:`read` returns at most ``size`` bytes (zstandard's stream reader fills a bounded
    output buffer, in C), so a bomb never inflates more than one chunk ahead of the size
    checks. A stream cut short inside a frame raises EOFError (told by
    :class:`ZstdFrameWalker`); a corrupt one raises ``zstandard.ZstdError``.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        import zstandard

        self._walker = ZstdFrameWalker()
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], _Watched(raw, self._walker)), read_size=_CHUNK, read_across_frames=True,
            closefd=False)

    def read(self, size: int = _CHUNK) -> bytes:
        data: bytes = self._reader.read(_CHUNK if size < 0 else size)
        if not data and self._walker.inside_frame:
            raise EOFError("zstd stream ends inside a frame")
        return data
