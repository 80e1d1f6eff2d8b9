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
from typing import IO, Any

__all__ = ["GZIP_ENV", "GzipBackend", "GzipMembers", "gzip_backend", "gzip_backends"]

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
