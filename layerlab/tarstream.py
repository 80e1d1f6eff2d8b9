"""Reading and writing layer tar streams.

Reading: the stream is decompressed (plain, gzip or zstd, told apart by magic bytes)
into a spool file while its sha256 is taken, so a layer's diff_id is the hash of every
uncompressed byte, trailing bytes after the end-of-archive marker included. Headers
are then indexed from the spool; file contents stay there and are read on demand,
so a layer never has to fit in memory.

Writing: :func:`write_tar` emits a deterministic stream (PAX format only where a
field needs it, numeric ids with empty user and group names, entries in the order
given). :func:`compress` makes deterministic gzip (no name, mtime 0) or zstd.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import queue
import tarfile
import tempfile
import threading
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO, cast

from ._codecs import ZSTD_MAGIC, GzipError, GzipMembers, ZstdFrames
from .entry import Entry, EntryKind
from .errors import InvalidImageError, InvalidLayerError, LimitExceededError, TruncatedError
from .fasttar import RawMember, TarIndexer
from .limits import DEFAULT_LIMITS, Limits

__all__ = [
    "ArchiveRange",
    "Compression",
    "RangeFile",
    "RawMember",
    "SpooledStream",
    "compress",
    "detect_compression",
    "index_stream",
    "spool_stream",
    "write_tar",
]

Compression = str  # "none" | "gzip" | "zstd"

_GZIP_MAGIC = b"\x1f\x8b"
_OTHER_MAGIC = {b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}
_CHUNK = 1 << 20
#: the expansion ratio is checked only past this many uncompressed bytes
_EXPANSION_FLOOR = 256 << 20


def detect_compression(head: bytes) -> Compression:
    """Tell plain, gzip and zstd streams apart by their first bytes."""
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    for magic, name in _OTHER_MAGIC.items():
        if head.startswith(magic):
            raise InvalidLayerError(
                f"{name} compressed layers are not supported (only plain tar, gzip and zstd)"
            )
    return "none"


class _HashingReader(io.RawIOBase):
    """Wraps a binary stream, hashing and counting every byte read through it
    (counting only, with ``hashing=False``: when another hash covers the same bytes)."""

    def __init__(self, raw: IO[bytes], copy_to: IO[bytes] | None = None, *,
                 hashing: bool = True) -> None:
        self._raw = raw
        self._copy_to = copy_to
        self.hash = hashlib.sha256()
        self._hashing = hashing
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if self._hashing:
            self.hash.update(data)
        self.count += n
        if self._copy_to is not None:
            self._copy_to.write(data)
        return n

    def drain_hashing(self) -> None:
        while chunk := self._raw.read(_CHUNK):
            if self._hashing:
                self.hash.update(chunk)
            self.count += len(chunk)
            if self._copy_to is not None:
                self._copy_to.write(chunk)


@dataclass
class SpooledStream:
    """An uncompressed layer stream on disk (or the caller's own plain file)."""

    file: BinaryIO
    length: int
    diff_id: str
    compression: Compression
    #: sha256 digest and size of the bytes as they came in (compressed form)
    blob_digest: str
    blob_size: int
    #: those bytes, when they differ from ``file`` (kept so the blob can be written again)
    blob_file: BinaryIO | None = None
    #: where the stream starts in ``file`` (not 0 for a layer read in place from an archive)
    offset: int = 0
    #: ``(st_size, st_mtime_ns)`` of ``file`` when it was read, for a file that is not
    #: layerlab's own (an archive read in place); ``None`` for a private spool
    stamp: tuple[int, int] | None = None
    #: how messages name ``file`` when it changed (the archive and its member)
    label: str = ""

    def __post_init__(self) -> None:
        # The files close when the last layer sharing this stream is gone (no ResourceWarning).
        weakref.finalize(self, _close_quietly, self.file, self.blob_file)

    def check_unchanged(self) -> None:
        """Refuse to read a stream whose file changed on disk since it was verified.

        A layer read in place keeps only a descriptor of the archive; if the archive is
        rewritten (its size or mtime differ), the bytes at the recorded offsets are no
        longer the ones hashed to the diff_id, and reading them is an error, not a wrong
        answer. (A file replaced by rename is safe: the descriptor keeps the old one. A
        rewrite that restores size and mtime is not detected.)
        """
        if self.stamp is None:
            return
        st = os.fstat(self.file.fileno())
        if (st.st_size, st.st_mtime_ns) != self.stamp:
            raise InvalidImageError(
                f"{self.label}: changed on disk after it was loaded (size {self.stamp[0]} -> "
                f"{st.st_size} bytes, or a new mtime); a layer read in place refuses to read "
                "bytes that were not the ones verified: load the image again")

    def range(self) -> RangeFile:
        """The uncompressed stream as a seekable file object (after :meth:`check_unchanged`)."""
        self.check_unchanged()
        return RangeFile(self.file, self.offset, self.length, self)

    def link_to(self, path: str | os.PathLike[str]) -> bool:
        """Give a private spool the name ``path`` (a hard link: no byte copied), after an
        fsync of its data. Returns False where that cannot be done: a stream that is not a
        whole private spool, a spool without a linkable inode (see :func:`_spool_file`),
        another filesystem, no ``/proc``. The caller then copies.
        """
        if self.offset or self.stamp is not None or self.compression == "none":
            return False
        fd = self.file.fileno()
        try:
            if os.fstat(fd).st_size != self.length:
                return False
            os.fsync(fd)
            # linkat(..., AT_SYMLINK_FOLLOW): a dir fd makes CPython call linkat (plain
            # link(2) would link the /proc symlink itself and fail with EXDEV)
            root = os.open("/", os.O_RDONLY)
            try:
                os.link(f"/proc/self/fd/{fd}", path, src_dir_fd=root, follow_symlinks=True)
            finally:
                os.close(root)
        except (OSError, NotImplementedError):
            return False
        return True


def _spool_file(spool_dir: str | None) -> BinaryIO:
    """A temporary file for a layer's uncompressed stream, gone when it is closed.

    On Linux it is an ``O_TMPFILE`` opened without ``O_EXCL`` (which
    ``tempfile.TemporaryFile`` adds), so that a store keeping the stream can link it into
    place (:meth:`SpooledStream.link_to`) instead of copying it: on a pull of a 1 GB image
    that copy was half the time. Elsewhere, ``tempfile.TemporaryFile``.
    """
    flag = getattr(os, "O_TMPFILE", 0)
    if flag:
        directory = spool_dir if spool_dir is not None else tempfile.gettempdir()
        try:
            fd = os.open(directory, os.O_RDWR | flag | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError:  # a filesystem without O_TMPFILE
            pass
        else:
            return cast(BinaryIO, os.fdopen(fd, "w+b"))
    return cast(BinaryIO, tempfile.TemporaryFile(dir=spool_dir))


def _close_quietly(*files: IO[bytes] | None) -> None:
    for f in files:
        if f is not None:
            f.close()


class RangeFile(io.RawIOBase):
    """A read-only, seekable file object over ``size`` bytes at ``offset`` of ``file``.

    Reads use ``os.pread``, so any number of these share one descriptor without
    disturbing each other, and only what is asked for is in memory. ``owner`` is kept
    referenced so the underlying file stays open while this object lives.
    """

    def __init__(self, file: IO[bytes], offset: int, size: int, owner: object = None) -> None:
        self._fd = file.fileno()
        self._file = file
        self._owner = owner
        self._start = offset
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def size(self) -> int:
        return self._size

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        left = max(self._size - self._pos, 0)
        want = left if size is None or size < 0 else min(size, left)
        if want == 0:
            return b""
        data = os.pread(self._fd, want, self._start + self._pos)
        if len(data) < want and not data:
            raise TruncatedError(f"content ends {left} bytes early (the file was truncated)")
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def copy_to_fd(self, out_fd: int) -> int:
        """Copy the rest of the range to the descriptor ``out_fd`` (in the kernel with
        ``sendfile`` when it can); returns the bytes copied."""
        copied = 0
        while self._pos < self._size:
            count = min(self._size - self._pos, 1 << 30)
            try:
                n = os.sendfile(out_fd, self._fd, self._start + self._pos, count)
            except OSError:
                chunk = self.read(min(count, _CHUNK))
                self._pos -= len(chunk)
                n = os.write(out_fd, chunk)
            if n == 0:
                raise TruncatedError(f"content ends {self._size - self._pos} bytes early")
            self._pos += n
            copied += n
        return copied


class ArchiveRange(RangeFile):
    """A :class:`RangeFile` that owns its file: a layer's bytes inside an archive (or a
    layout's blob file), to be read in place rather than copied to a spool.

    :func:`spool_stream` given one holding a plain tar keeps the file as the layer's
    stream (no copy); the file then closes with the layer. ``stamp`` is the file's
    ``(st_size, st_mtime_ns)`` when it is not a private copy (see
    :meth:`SpooledStream.check_unchanged`); ``label`` names it in messages.

    >>> import tempfile
    >>> with tempfile.TemporaryFile() as f:
    ...     _ = f.write(b"headLAYERtail"); f.flush()
    ...     ArchiveRange(f, 4, 5, None, "demo").read()
    b'LAYER'
    """

    def __init__(self, file: IO[bytes], offset: int, size: int,
                 stamp: tuple[int, int] | None, label: str) -> None:
        super().__init__(file, offset, size)
        self.stamp = stamp
        self.label = label

    @property
    def start(self) -> int:
        """Where the range starts in the file."""
        return self._start

    def fileno_of_file(self) -> int:
        """The descriptor of the owned file."""
        return self._file.fileno()

    def release(self) -> None:
        """Close the owned file (when the stream turned out bad or was copied)."""
        self._file.close()


def spool_stream(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    limits: Limits = DEFAULT_LIMITS,
    spool_dir: str | None = None,
    where: str = "layer",
    sink: Callable[[bytes], object] | None = None,
) -> SpooledStream:
    """Decompress ``source`` into a temporary file, hashing both forms.

    A plain tar given by path is not copied: its own file is used; nor is a plain tar in an
    :class:`ArchiveRange` (its bytes stay in the archive). ``sink``, when given,
    is fed every uncompressed chunk in order (the indexer reads the stream that way).

    Reading, decompressing, hashing the whole stream and writing the spool happen in one
    thread, ``sink`` in the caller's, so the two overlap on a machine with two cores
    (zlib, ISA-L, zstd, hashlib and file writes release the GIL on large buffers). Where
    threads cannot start (Pyodide) or the stream fits in one chunk, everything runs in
    the caller's thread; the bytes, digests and errors are the same either way.
    """
    by_path = isinstance(source, (str, os.PathLike))
    if isinstance(source, ArchiveRange):
        return _spool_range(source, limits=limits, spool_dir=spool_dir, where=where, sink=sink)
    # a file opened here stays open: the layer reads its contents from it later
    opened: IO[bytes] = (
        open(source, "rb")  # noqa: SIM115 - kept open: the layer reads its contents later
        if isinstance(source, (str, os.PathLike))
        else source
    )
    head = _peek(opened)
    try:
        compression = detect_compression(head)
    except InvalidLayerError:
        _discard(opened if by_path else None)
        raise
    blob_copy = None
    if compression != "none":
        # keep the compressed bytes too: a path is simply reopened, a stream is copied
        blob_copy = opened if by_path else tempfile.TemporaryFile(dir=spool_dir)  # noqa: SIM115
    # a plain stream read into the spool is hashed once, as the uncompressed stream (the
    # blob and the tar are the same bytes); every other case hashes the bytes as they come
    raw = _HashingReader(cast(IO[bytes], _Prefixed(head, opened)),
                         None if by_path else blob_copy,
                         hashing=by_path or compression != "none")
    if compression == "none" and by_path:
        try:
            _pump(_plain_chunks(raw, limits, where), sink)
        except BaseException:
            _discard(opened)
            raise
        digest = "sha256:" + raw.hash.hexdigest()
        opened.seek(0)
        return SpooledStream(cast(BinaryIO, opened), raw.count, digest, "none", digest, raw.count)

    spool = _spool_file(spool_dir)
    uncompressed = hashlib.sha256()
    reader: IO[bytes] | GzipMembers | ZstdFrames
    if compression == "gzip":
        reader = GzipMembers(cast(IO[bytes], raw))
    elif compression == "zstd":
        reader = ZstdFrames(cast(IO[bytes], raw))
    else:
        reader = io.BufferedReader(raw, _CHUNK)
    counted = [0]
    try:
        chunks = _inflated_chunks(reader, raw, spool, uncompressed, counted, compression,
                                  limits, where)
        _pump(chunks, sink)
    except (EOFError, zlib.error, GzipError) as exc:
        _discard(spool, blob_copy, opened if by_path else None)
        if isinstance(exc, EOFError) or "end-of-stream" in str(exc) or "truncated" in str(exc):
            raise TruncatedError(f"{where}: {compression} stream is truncated ({exc})") from exc
        raise InvalidLayerError(f"{where}: corrupt {compression} stream ({exc})") from exc
    except OSError:
        # not the stream's fault (a full disk, say), or a LayerlabError that is also an OSError
        _discard(spool, blob_copy, opened if by_path else None)
        raise
    except Exception as exc:  # zstandard raises its own ZstdError
        _discard(spool, blob_copy, opened if by_path else None)
        if type(exc).__name__ == "ZstdError":
            raise InvalidLayerError(f"{where}: corrupt zstd stream ({exc})") from exc
        raise
    except BaseException:
        _discard(spool, blob_copy, opened if by_path else None)
        raise
    total = counted[0]
    raw.drain_hashing()
    spool.flush()
    spool.seek(0)
    if blob_copy is not None:
        blob_copy.flush()
        blob_copy.seek(0)
    digest = "sha256:" + uncompressed.hexdigest()
    blob_digest = digest if compression == "none" else "sha256:" + raw.hash.hexdigest()
    return SpooledStream(
        spool, total, digest, compression, blob_digest, raw.count,
        cast("BinaryIO | None", blob_copy),
    )


def _spool_range(source: ArchiveRange, *, limits: Limits, spool_dir: str | None, where: str,
                 sink: Callable[[bytes], object] | None) -> SpooledStream:
    """:func:`spool_stream` of an :class:`ArchiveRange`: a plain tar is hashed once where it
    lies; a compressed one is inflated into a spool as any stream is, then released."""
    head = source.read(8)
    source.seek(0)
    try:
        compression = detect_compression(head)
        if compression != "none":
            plain_view = RangeFile(source._file, source._start, source.size)
            spooled = spool_stream(cast(IO[bytes], plain_view), limits=limits,
                                   spool_dir=spool_dir, where=where, sink=sink)
            source.release()  # the spool holds the inflated bytes, a copy the compressed ones
            return spooled
        raw = _HashingReader(cast(IO[bytes], source))
        _pump(_plain_chunks(raw, limits, where), sink)
        if raw.count != source.size:
            raise TruncatedError(f"{where}: {source.size - raw.count} bytes missing at the end")
    except BaseException:
        source.release()
        raise
    digest = "sha256:" + raw.hash.hexdigest()
    return SpooledStream(cast(BinaryIO, source._file), raw.count, digest, "none", digest,
                         raw.count, None, source._start, source.stamp, source.label)


def _plain_chunks(raw: _HashingReader, limits: Limits, where: str) -> Iterator[bytes]:
    """A plain tar read in place: every chunk hashed (by ``raw``) and size-checked."""
    while chunk := raw.read(_CHUNK):
        _check_layer_size(raw.count, limits, where)
        yield chunk


def _inflated_chunks(reader: IO[bytes] | GzipMembers | ZstdFrames, raw: _HashingReader,
                     spool: IO[bytes], uncompressed: hashlib._Hash, counted: list[int],
                     compression: Compression, limits: Limits, where: str) -> Iterator[bytes]:
    """Uncompressed chunks, each hashed, size- and bomb-checked and spooled before it is
    handed on; ``counted[0]`` is the running total."""
    total = 0
    while chunk := reader.read(_CHUNK):
        uncompressed.update(chunk)
        total += len(chunk)
        counted[0] = total
        _check_layer_size(total, limits, where)
        if total > _EXPANSION_FLOOR and total > limits.max_expansion * max(raw.count, 1):
            raise LimitExceededError(
                f"{where}: {compression} stream inflates more than max_expansion="
                f"{limits.max_expansion} times ({raw.count} bytes gave {total} so far; "
                "a decompression bomb?); raise Limits.max_expansion to accept it")
        spool.write(chunk)
        yield chunk


#: chunks in flight between the reading thread and the indexer (memory: this many MiB)
_QUEUE_DEPTH = 4
_DONE = object()


def _pump(chunks: Iterator[bytes], sink: Callable[[bytes], object] | None) -> None:
    """Run ``chunks`` (reading, inflating, hashing, spooling) in a second thread and feed
    each chunk to ``sink`` in this one, in order.

    An exception from either side surfaces here, at the chunk where it happened, as it
    would in a plain loop: the producer's error comes after every chunk made before it.
    """
    first = next(chunks, None)
    if first is None:
        return
    if sink is None or len(first) < _CHUNK or not _threads_work():
        if sink is not None:
            sink(first)
        for chunk in chunks:
            if sink is not None:
                sink(chunk)
        return
    handoff: queue.Queue[object] = queue.Queue(_QUEUE_DEPTH)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                handoff.put(chunk)
            handoff.put(_DONE)
        except BaseException as exc:  # handed to the consuming thread, raised there
            handoff.put(_Failure(exc))

    worker = threading.Thread(target=produce, name="layerlab-spool", daemon=True)
    worker.start()
    try:
        sink(first)
        while True:
            item = handoff.get()
            if item is _DONE:
                break
            if isinstance(item, _Failure):
                raise item.exc
            sink(cast(bytes, item))
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.01)
        worker.join()


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_THREADS: list[bool] = []


def _threads_work() -> bool:
    """Can this interpreter start a thread? (Not in Pyodide; ``LAYERLAB_THREADS=0`` says no.)"""
    if not _THREADS:
        ok = os.environ.get("LAYERLAB_THREADS", "1") != "0"
        if ok:
            try:
                probe = threading.Thread(target=int)
                probe.start()
                probe.join()
            except RuntimeError:
                ok = False
        _THREADS.append(ok)
    return _THREADS[0]


def _discard(*files: IO[bytes] | None) -> None:
    """Close the files this module opened for a stream that turned out to be bad."""
    for file in files:
        if file is not None:
            file.close()


def _check_layer_size(total: int, limits: Limits, where: str) -> None:
    if total > limits.max_layer_bytes:
        raise LimitExceededError(
            f"{where}: uncompressed stream is larger than max_layer_bytes="
            f"{limits.max_layer_bytes}; raise Limits.max_layer_bytes to accept it"
        )


def _peek(stream: IO[bytes]) -> bytes:
    return stream.read(8)


class _Prefixed(io.RawIOBase):
    """A stream with some already-read bytes put back in front of it."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            if len(data) < size:
                data += self._rest.read(size - len(data))
            return data
        return self._rest.read(size)


# --- indexing ------------------------------------------------------------------------


def index_stream(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    limits: Limits = DEFAULT_LIMITS,
    spool_dir: str | None = None,
    where: str = "layer",
) -> tuple[SpooledStream, list[RawMember]]:
    """Spool, hash and index a layer stream in one pass (see :mod:`layerlab.fasttar`).

    Returns the spooled stream and every member in stream order. Names are cleaned
    (escapes refused); whiteout names are *not* interpreted here. On any error the files
    opened for the stream are closed before the error propagates.
    """
    indexer = TarIndexer(limits=limits, where=where)
    spooled = spool_stream(source, limits=limits, spool_dir=spool_dir, where=where,
                           sink=indexer.feed)
    try:
        indexer.close()
    except BaseException:
        _discard(spooled.file, spooled.blob_file)
        raise
    return spooled, indexer.members


# --- writing -------------------------------------------------------------------------

_TAR_TYPES = {
    EntryKind.FILE: tarfile.REGTYPE,
    EntryKind.DIR: tarfile.DIRTYPE,
    EntryKind.SYMLINK: tarfile.SYMTYPE,
    EntryKind.HARDLINK: tarfile.LNKTYPE,
    EntryKind.CHAR: tarfile.CHRTYPE,
    EntryKind.BLOCK: tarfile.BLKTYPE,
    EntryKind.FIFO: tarfile.FIFOTYPE,
}


def write_tar(
    members: Iterable[tuple[str, Entry]],
    open_content: Callable[[Entry], BinaryIO],
    out: IO[bytes],
    *,
    mtime: int | None = None,
) -> None:
    """Write ``(member_name, entry)`` pairs as a deterministic tar stream to ``out``.

    Markers arrive here already spelled as their ``.wh.`` names with kind FILE and size 0.
    ``mtime``, when given, replaces every entry's mtime (like SOURCE_DATE_EPOCH).
    """
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as tf:
        for name, entry in members:
            info = tarfile.TarInfo(name)
            info.type = _TAR_TYPES[entry.kind]
            info.mode = entry.mode
            info.uid, info.gid = entry.uid, entry.gid
            info.uname = info.gname = ""
            info.mtime = entry.mtime if mtime is None else mtime
            if entry.kind is EntryKind.SYMLINK:
                info.linkname = entry.linkname
            elif entry.kind is EntryKind.HARDLINK:
                info.linkname = entry.linkname.lstrip("/")
            elif entry.kind in (EntryKind.CHAR, EntryKind.BLOCK):
                info.devmajor, info.devminor = entry.devmajor, entry.devminor
            if entry.xattrs:
                info.pax_headers = {
                    "SCHILY.xattr." + k: v.decode("utf-8", "surrogateescape")
                    for k, v in entry.xattrs
                }
            if entry.kind is EntryKind.FILE and entry.size:
                info.size = entry.size
                with open_content(entry) as content:
                    tf.addfile(info, content)
            else:
                tf.addfile(info)


def compress(data_source: BinaryIO, out: IO[bytes], compression: Compression) -> None:
    """Copy ``data_source`` to ``out``: deterministic gzip (mtime 0, no name), zstd, or as is."""
    if compression == "gzip":
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
            while chunk := data_source.read(_CHUNK):
                gz.write(chunk)
    elif compression == "zstd":
        import zstandard

        cctx = zstandard.ZstdCompressor(level=3, write_checksum=True)
        with cctx.stream_writer(out, closefd=False) as zw:
            while chunk := data_source.read(_CHUNK):
                zw.write(chunk)
    elif compression == "none":
        while chunk := data_source.read(_CHUNK):
            out.write(chunk)
    else:
        raise ValueError(f"unknown compression {compression!r} (use 'gzip', 'zstd' or 'none')")
