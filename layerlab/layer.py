"""Layer: an immutable change set, as a tar stream with OCI/Docker whiteouts.

A layer records what changed relative to the layers below it: files, directories,
links and devices it adds or replaces, and markers for what it deletes (whiteouts)
or hides (opaque directories). It never knows what is below it; :mod:`layerlab.union`
does the merging.

Two ways to get one::

    >>> from layerlab import Layer, Dir, Symlink, Whiteout
    >>> layer = Layer.from_dict({
    ...     "/etc": Dir(),
    ...     "/etc/hostname": "box\\n",
    ...     "/bin/sh": Symlink("busybox"),
    ...     "/tmp/old": Whiteout(),
    ... }, created_by="hand-made")
    >>> layer.diff_id == Layer.from_tar(io.BytesIO(layer.to_tar())).diff_id
    True

``Layer.from_tar`` reads plain, gzip or zstd streams (told apart by magic bytes) and
keeps the stream exactly as it came, so its ``diff_id`` and ``digest`` are the ones a
registry or ``docker save`` reported. Layers made by hand are written deterministically
(sorted entries, markers before their siblings, numeric ids, gzip without name or
time), so the same changes give the same digests on every machine.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import IO, BinaryIO, Protocol, cast, overload

from ._perf import paused_gc
from .blob import FileBlob
from .digest import short
from .entry import (
    BlockDevice,
    CharDevice,
    Dir,
    Entry,
    EntryKind,
    Fifo,
    File,
    Hardlink,
    Opaque,
    Spec,
    Symlink,
    Whiteout,
    sorted_xattrs,
)
from .errors import InvalidLayerError, MalformedWhiteoutError, TruncatedError, UnsafePathError
from .limits import DEFAULT_LIMITS, Limits
from .paths import ROOT, ancestors, clean_member_name
from .tarstream import (
    Compression,
    RangeFile,
    SpooledStream,
    compress,
    index_stream,
    write_tar,
)
from .whiteout import (
    OPAQUE_MARKER,
    canonical_key,
    classify_name,
    is_aufs_metadata,
    is_reserved_name,
    marker_member_name,
)

__all__ = ["Layer", "TarIndex"]

#: every marker's tar spelling contains it (whiteouts, the opaque marker, AUFS metadata):
#: a path without it is an ordinary entry, and the marker checks are skipped
_MARKER_PREFIX = "/.wh."

_MEDIA_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


class Writer(Protocol):
    """Anything with ``write(bytes)``: a file, a socket's file, a hashing or resuming writer."""

    def write(self, data: bytes, /) -> object: ...


class _Content:
    """Where the bytes of a layer's regular files live."""

    def open(self, entry: Entry) -> BinaryIO:
        raise NotImplementedError


class _MemoryContent(_Content):
    def __init__(self, blobs: Mapping[str, bytes | FileBlob]) -> None:
        self._blobs = dict(blobs)

    def open(self, entry: Entry) -> BinaryIO:
        blob = self._blobs[cast(str, entry.digest)]
        if isinstance(blob, FileBlob):  # a big file kept on disk: read in chunks
            return blob.open()
        return io.BytesIO(blob)


class _CallableContent(_Content):
    def __init__(self, fetch: Callable[[Entry], bytes]) -> None:
        self._fetch = fetch

    def open(self, entry: Entry) -> BinaryIO:
        return io.BytesIO(self._fetch(entry))


class _SpoolContent(_Content):
    """File contents read in place from an uncompressed tar stream on disk."""

    def __init__(self, spooled: SpooledStream, ranges: dict[str, tuple[int, int]]) -> None:
        self._spooled = spooled
        self._ranges = ranges

    @property
    def ranges(self) -> dict[str, tuple[int, int]]:
        """Each content digest's ``(offset, size)`` in the stream (a copy)."""
        return dict(self._ranges)

    def open(self, entry: Entry) -> BinaryIO:
        offset, size = self._ranges[cast(str, entry.digest)]
        spooled = self._spooled
        spooled.check_unchanged()
        # a bounded view of the spool, not a copy: big files never sit in memory whole
        return cast(BinaryIO, RangeFile(spooled.file, spooled.offset + offset, size, spooled))


@dataclass(frozen=True)
class TarIndex:
    """What a layer read from a tar found in it: with the same stream, enough to make the
    same layer again without reading the tar (:mod:`layerlab.store.layerindex` caches it
    beside a pulled blob). From :meth:`Layer.tar_index`; back with
    :meth:`Layer.from_tar_index`.

    ``ranges`` maps each content digest to ``(offset, size)`` in the uncompressed stream;
    ``positions`` each path to its place in the stream.
    """

    stream: SpooledStream
    entries: tuple[Entry, ...]
    whiteouts: frozenset[str]
    opaques: frozenset[str]
    positions: Mapping[str, int]
    ranges: Mapping[str, tuple[int, int]]


class Layer:
    """An immutable change set. Build with :meth:`from_dict`, :meth:`from_tar` or
    :meth:`from_entries`; never mutate.

    ``entries`` lists everything in canonical order, markers included
    (kinds ``WHITEOUT``/``OPAQUE``); ``content_entries`` leaves the markers out;
    ``whiteouts`` and ``opaques`` are the marker paths as sets.
    """

    __slots__ = (
        "_blob",
        "_by_path",
        "_comment",
        "_compression",
        "_content",
        "_content_entries",
        "_created_by",
        "_entries",
        "_groups",
        "_opaques",
        "_positions",
        "_tar",
        "_whiteouts",
    )

    def __init__(
        self,
        *,
        content_entries: Mapping[str, Entry],
        whiteouts: Iterable[str],
        opaques: Iterable[str],
        content: _Content,
        positions: Mapping[str, int] | None = None,
        created_by: str = "",
        comment: str = "",
        compression: Compression = "gzip",
        tar: SpooledStream | None = None,
    ) -> None:
        """Internal: use the ``from_*`` constructors."""
        self._by_path = dict(content_entries)
        self._content_entries = tuple(sorted(self._by_path.values(), key=_path_key))
        self._whiteouts = frozenset(whiteouts)
        self._opaques = frozenset(opaques)
        self._content = content
        self._positions = dict(positions or {})
        self._created_by = created_by
        self._comment = comment
        self._compression = compression
        self._tar = tar
        # (digest, size, the stream holding the blob's bytes in .blob_file or .file)
        self._blob: tuple[str, int, SpooledStream] | None = None
        if tar is not None and tar.compression != "none":
            self._blob = (tar.blob_digest, tar.blob_size, tar)
        elif tar is not None and tar.compression == compression:
            self._blob = (tar.diff_id, tar.length, tar)
        self._entries: tuple[Entry, ...] | None = None
        self._groups: tuple[list[tuple[str, list[tuple[str, Entry]]]], list[Entry]] | None = None

    # --- constructors ------------------------------------------------------------------

    @classmethod
    def from_tar_index(cls, index: TarIndex, *, created_by: str = "",
                       comment: str = "") -> Layer:
        """The layer :meth:`tar_index` described, its contents read from ``index.stream``.
        The caller vouches that the index belongs to that stream (the layer index checks
        sizes, ranges and digests before it calls this)."""
        return cls(
            content_entries={e.path: e for e in index.entries},
            whiteouts=index.whiteouts,
            opaques=index.opaques,
            content=_SpoolContent(index.stream, dict(index.ranges)),
            positions=index.positions,
            created_by=created_by,
            comment=comment,
            compression=index.stream.compression,
            tar=index.stream,
        )

    @classmethod
    def from_dict(
        cls,
        spec: Mapping[str, Spec],
        *,
        created_by: str = "",
        comment: str = "",
        compression: Compression = "gzip",
    ) -> Layer:
        """A layer described by hand: ``{path: content | File | Dir | Symlink | Hardlink |
        CharDevice | BlockDevice | Fifo | Whiteout | Opaque}``.

        A ``str`` or ``bytes`` value is a regular file with that content (mode 0644).
        Parent directories need not be listed; the union implies them (mode 0755).
        """
        entries: list[Entry] = []
        blobs: dict[str, bytes] = {}
        for unsafe_path, value in spec.items():
            path = clean_member_name(unsafe_path, where="from_dict")
            entry, data = _entry_from_spec(path, value)
            if data is not None:
                blobs[cast(str, entry.digest)] = data
            entries.append(entry)
        return cls.from_entries(
            entries, blobs, created_by=created_by, comment=comment, compression=compression
        )

    @classmethod
    def from_entries(
        cls,
        entries: Iterable[Entry],
        contents: Mapping[str, bytes | FileBlob] | Callable[[Entry], bytes],
        *,
        created_by: str = "",
        comment: str = "",
        compression: Compression = "gzip",
    ) -> Layer:
        """A layer from :class:`Entry` objects (markers included) and their file contents,
        given as ``{digest: bytes}`` or a function of the entry."""
        content: _Content = (
            _CallableContent(contents) if callable(contents) else _MemoryContent(contents)
        )
        by_path: dict[str, Entry] = {}
        whiteouts: set[str] = set()
        opaques: set[str] = set()
        for entry in entries:
            if entry.kind is EntryKind.WHITEOUT:
                if entry.path == ROOT:
                    raise MalformedWhiteoutError("entry '/': the root cannot be whited out")
                if is_reserved_name(entry.name):
                    # its tar spelling '.wh..wh.…' would be read back as AUFS metadata
                    raise MalformedWhiteoutError(
                        f"entry {entry.path!r}: a whiteout of a name starting with '.wh.' "
                        "cannot be spelled in a layer"
                    )
                whiteouts.add(entry.path)
            elif entry.kind is EntryKind.OPAQUE:
                opaques.add(entry.path)
            else:
                if is_reserved_name(entry.name) or is_aufs_metadata(entry.path):
                    raise UnsafePathError(
                        f"entry {entry.path!r}: a file whose name starts with '.wh.' cannot be "
                        "stored in a layer: it could not be told apart from a whiteout"
                    )
                _check_root(entry, "from_entries")
                by_path[entry.path] = entry
        return cls(
            content_entries=by_path,
            whiteouts=whiteouts,
            opaques=opaques,
            content=content,
            created_by=created_by,
            comment=comment,
            compression=compression,
        )

    @classmethod
    def from_tar(
        cls,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        created_by: str = "",
        comment: str = "",
        limits: Limits = DEFAULT_LIMITS,
        spool_dir: str | None = None,
    ) -> Layer:
        """Read a layer from a tar stream (a path or a binary file object).

        Plain, gzip and zstd are told apart by magic bytes. The uncompressed stream is
        spooled to a temporary file (in ``spool_dir``) and file contents are read from
        there on demand; a plain tar given by path is read in place.
        """
        where = f"layer {source}" if isinstance(source, (str, os.PathLike)) else "layer"
        with paused_gc():
            return cls._from_stream(source, created_by, comment, limits, spool_dir, where)

    @classmethod
    def _from_stream(cls, source: str | os.PathLike[str] | IO[bytes], created_by: str,
                     comment: str, limits: Limits, spool_dir: str | None, where: str) -> Layer:
        spooled, members = index_stream(source, limits=limits, spool_dir=spool_dir, where=where)
        where = f"layer {short(spooled.diff_id)}"
        by_path: dict[str, Entry] = {}
        whiteouts: set[str] = set()
        opaques: set[str] = set()
        positions: dict[str, int] = {}
        ranges: dict[str, tuple[int, int]] = {}
        parents: set[str] = set()
        dir_kind = EntryKind.DIR
        try:
            for position, (entry, offset, _name) in enumerate(members):
                path = entry.path
                if _MARKER_PREFIX in path:  # markers, AUFS metadata and what is below them
                    if is_aufs_metadata(path):
                        continue
                    marker = classify_name(path, where=where)
                    if marker is not None:
                        if entry.kind is EntryKind.DIR:
                            raise MalformedWhiteoutError(
                                f"{where}: entry {path!r}: a directory with the reserved "
                                f"name of a {marker[0]} marker (markers are empty files)")
                        (whiteouts if marker[0] == "whiteout" else opaques).add(marker[1])
                        continue
                    if f"/{OPAQUE_MARKER}/" in path:
                        raise MalformedWhiteoutError(
                            f"{where}: entry {path!r}: {OPAQUE_MARKER!r} is the opaque "
                            "marker's reserved name; nothing can live below it")
                if path == ROOT:
                    _check_root(entry, where)
                digest = entry.digest
                if digest is not None and digest not in ranges:
                    ranges[digest] = (offset, entry.size)
                by_path.pop(path, None)  # a repeated path: the later entry wins
                if entry.kind is not dir_kind and path in parents:
                    # a non-directory after entries below the same path (``a/b``, then ``a``):
                    # the later entry wins here too, as it would when extracting
                    below = path + "/"
                    for stale in [p for p in by_path if p.startswith(below)]:
                        del by_path[stale]
                parent = path.rpartition("/")[0]
                if parent and parent not in parents:  # else its ancestors are in already
                    parents.update(ancestors(path))
                by_path[path] = entry
                positions[path] = position
        except BaseException:
            # a bad stream: close the spool (and kept blob) rather than leak them
            spooled.file.close()
            if spooled.blob_file is not None:
                spooled.blob_file.close()
            raise
        return cls(
            content_entries=by_path,
            whiteouts=whiteouts,
            opaques=opaques,
            content=_SpoolContent(spooled, ranges),
            positions=positions,
            created_by=created_by,
            comment=comment,
            compression=spooled.compression,
            tar=spooled,
        )

    def tar_index(self) -> TarIndex | None:
        """What this layer found in the tar it was read from (``None`` for a layer made
        in memory: it has no stream to point into)."""
        content = self._content
        if self._tar is None or not isinstance(content, _SpoolContent):
            return None
        return TarIndex(self._tar, self._content_entries, self._whiteouts, self._opaques,
                        dict(self._positions), content.ranges)

    # --- what is in it -----------------------------------------------------------------

    @property
    def entries(self) -> tuple[Entry, ...]:
        """Every entry, markers included, in canonical order (parents first, markers
        before their siblings)."""
        if self._entries is None:
            markers = [Entry(p, EntryKind.WHITEOUT) for p in self._whiteouts]
            markers += [Entry(p, EntryKind.OPAQUE, mode=0o755) for p in self._opaques]
            self._entries = tuple(sorted([*self._content_entries, *markers], key=canonical_key))
        return self._entries

    @property
    def content_entries(self) -> tuple[Entry, ...]:
        """Entries that add something (no markers), parents before children."""
        return self._content_entries

    def grouped_entries(
        self,
    ) -> tuple[list[tuple[str, list[tuple[str, Entry]]]], list[Entry]]:
        """Entries by parent directory, parents first, as ``[(parent, [(name, entry)])]``
        (the root and hardlinks left out), and the hardlinks in stream order. Cached: the
        union merges a layer once per view and this is its hot path."""
        if self._groups is None:
            groups: dict[str, list[tuple[str, Entry]]] = {}
            hardlinks = []
            for entry in self._content_entries:
                if entry.kind is EntryKind.HARDLINK:
                    hardlinks.append(entry)
                elif entry.path != ROOT:
                    parent, _, name = entry.path.rpartition("/")
                    groups.setdefault(parent or ROOT, []).append((name, entry))
            hardlinks.sort(key=self.stream_position)
            self._groups = (list(groups.items()), hardlinks)
        return self._groups

    @property
    def whiteouts(self) -> frozenset[str]:
        """Paths this layer deletes from the layers below."""
        return self._whiteouts

    @property
    def opaques(self) -> frozenset[str]:
        """Directories whose lower children this layer hides."""
        return self._opaques

    def get(self, path: str) -> Entry | None:
        """The non-marker entry at ``path`` in this layer, or ``None``."""
        return self._by_path.get(path)

    def __contains__(self, path: object) -> bool:
        return path in self._by_path

    def __len__(self) -> int:
        return len(self._by_path) + len(self._whiteouts) + len(self._opaques)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def stream_position(self, entry: Entry) -> int:
        """Where ``entry`` stood in the stream it was read from (0 for made layers)."""
        return self._positions.get(entry.path, 0)

    @property
    def created_by(self) -> str:
        return self._created_by

    @property
    def comment(self) -> str:
        return self._comment

    @property
    def size(self) -> int:
        """Bytes of regular-file content, what ``docker history`` reports as SIZE."""
        return sum(e.size for e in self._content_entries if e.kind is EntryKind.FILE)

    def read_content(self, entry: Entry) -> bytes:
        """The bytes of a regular file entry of this layer (or one with the same digest)."""
        with self.open_content(entry) as f:
            return f.read()

    def open_content(self, entry: Entry) -> BinaryIO:
        """A read-only file object streaming the bytes of a regular file entry of this
        layer (or one with the same digest); close it when done.

        Unlike :meth:`read_content` it does not load the whole file: a layer read from a
        tar reads its spool file in place, chunk by chunk, as the caller asks.

        >>> layer = Layer.from_dict({"/big": "x" * 10})
        >>> with layer.open_content(layer.get("/big")) as f:
        ...     f.read(4), f.read()
        (b'xxxx', b'xxxxxx')
        """
        if entry.digest is None:
            raise InvalidLayerError(f"entry {entry.path!r}: a {entry.kind} has no content")
        return self._content.open(entry)

    def read(self, path: str) -> bytes:
        """The bytes of the regular file at ``path`` in this layer alone."""
        entry = self._by_path.get(clean_member_name(path))
        if entry is None or entry.digest is None:
            raise InvalidLayerError(f"{self!r}: no regular file {path!r} in this layer")
        return self.read_content(entry)

    # --- the stream and its digests ------------------------------------------------------

    def _stream(self) -> SpooledStream:
        if self._tar is None:
            spool = tempfile.TemporaryFile()  # noqa: SIM115 - kept by the layer
            hashing = _HashingWriter(spool)
            members = [
                (marker_member_name(e), Entry(e.path, EntryKind.FILE, mode=0o644))
                if e.kind.is_marker
                else ("." if e.path == ROOT else e.path[1:], e)
                for e in self.entries
            ]
            write_tar(members, self.open_content, cast(IO[bytes], hashing))
            spool.flush()
            digest = "sha256:" + hashing.hash.hexdigest()
            self._tar = SpooledStream(spool, hashing.count, digest, "none", digest, hashing.count)
        return self._tar

    @overload
    def to_tar(self, out: None = None) -> bytes: ...

    @overload
    def to_tar(self, out: Writer) -> None: ...

    def to_tar(self, out: Writer | None = None) -> bytes | None:
        """The uncompressed tar stream (its sha256 is :attr:`diff_id`).

        Returns bytes, or writes to ``out`` and returns ``None`` (the type checker knows
        which from the call).
        """
        stream = self._stream()
        stream.check_unchanged()
        return _copy_out(stream.file, out, stream.offset, stream.length)

    @property
    def diff_id(self) -> str:
        """``sha256:`` digest of the uncompressed tar stream."""
        return self._stream().diff_id

    @property
    def tar_size(self) -> int:
        """Length of the uncompressed tar stream in bytes."""
        return self._stream().length

    @property
    def compression(self) -> Compression:
        return self._compression

    @property
    def media_type(self) -> str:
        """The OCI media type of :meth:`blob`."""
        return _MEDIA_TYPES[self._compression]

    def _blob_info(self) -> tuple[str, int, SpooledStream]:
        if self._blob is None:
            stream = self._stream()
            if self._compression == "none":
                self._blob = (stream.diff_id, stream.length, stream)
            else:
                spool = tempfile.TemporaryFile()  # noqa: SIM115 - kept by the layer
                hashing = _HashingWriter(spool)
                compress(cast(BinaryIO, stream.range()), cast(IO[bytes], hashing),
                         self._compression)
                spool.flush()
                digest = "sha256:" + hashing.hash.hexdigest()
                holder = SpooledStream(spool, hashing.count, digest, self._compression, digest,
                                       hashing.count)
                self._blob = (digest, hashing.count, holder)
        return self._blob

    @property
    def digest(self) -> str:
        """``sha256:`` digest of the blob as stored (compressed with :attr:`compression`)."""
        return self._blob_info()[0]

    @property
    def compressed_size(self) -> int:
        """Length of the blob as stored, in bytes."""
        return self._blob_info()[1]

    @overload
    def blob(self, out: None = None) -> bytes: ...

    @overload
    def blob(self, out: Writer) -> None: ...

    def blob(self, out: Writer | None = None) -> bytes | None:
        """The blob as stored (compressed); its sha256 is :attr:`digest`.

        Returns bytes, or writes to ``out`` and returns ``None``, as :meth:`to_tar`.
        """
        _, _, holder = self._blob_info()
        if self._compression == "none":
            stream = self._stream()
            stream.check_unchanged()
            return _copy_out(stream.file, out, stream.offset, stream.length)
        return _copy_out(holder.blob_file or holder.file, out)

    def with_compression(self, compression: Compression) -> Layer:
        """The same changes (same diff_id) stored with another compression."""
        if compression not in _MEDIA_TYPES:
            raise ValueError(f"unknown compression {compression!r} (use 'gzip', 'zstd' or 'none')")
        twin = Layer(
            content_entries=self._by_path,
            whiteouts=self._whiteouts,
            opaques=self._opaques,
            content=self._content,
            positions=self._positions,
            created_by=self._created_by,
            comment=self._comment,
            compression=compression,
        )
        twin._tar = self._stream()
        if compression == "none":
            twin._blob = (twin._tar.diff_id, twin._tar.length, twin._tar)
        return twin

    def with_created_by(self, created_by: str, comment: str | None = None) -> Layer:
        """The same layer with another ``created_by`` (and comment)."""
        twin = self.with_compression(self._compression)
        twin._blob = self._blob
        twin._created_by = created_by
        twin._comment = self._comment if comment is None else comment
        return twin

    @property
    def short_id(self) -> str:
        """The first 12 hex digits of :attr:`diff_id`."""
        return short(self.diff_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layer) and other.diff_id == self.diff_id

    def __hash__(self) -> int:
        return hash(self.diff_id)

    def _repr_html_(self) -> str:
        from .views.html import layer_html

        return layer_html(self)

    def __repr__(self) -> str:
        parts = [f"{len(self._by_path)} entries"]
        if self._whiteouts:
            parts.append(f"{len(self._whiteouts)} whiteouts")
        if self._opaques:
            parts.append(f"{len(self._opaques)} opaque")
        parts.append(f"{self.size} bytes")
        label = f" {self._created_by!r}" if self._created_by else ""
        return f"<Layer {self.short_id}{label}: {', '.join(parts)}>"


def _path_key(entry: Entry) -> str:
    """Order by path components (``/a/b`` before ``/a-b``, parents first): the path with
    each ``/`` turned into NUL, which sorts below every character a clean path holds and
    compares like the list of components, at a fraction of the cost of splitting."""
    return entry.path.replace("/", "\0")


def _check_root(entry: Entry, where: str) -> None:
    if entry.path == ROOT and entry.kind is not EntryKind.DIR:
        raise UnsafePathError(
            f"{where}: entry '.' is a {entry.kind}: the root must be a directory "
            "(changing its type let later layers land outside the root, CVE-2021-29136)"
        )


@overload
def _copy_out(file: IO[bytes], out: None, start: int = 0, length: int | None = None) -> bytes: ...


@overload
def _copy_out(file: IO[bytes], out: Writer, start: int = 0, length: int | None = None) -> None: ...


def _copy_out(file: IO[bytes], out: Writer | None, start: int = 0,
              length: int | None = None) -> bytes | None:
    """``length`` bytes of ``file`` from ``start`` (to its end when ``None``)."""
    fd = file.fileno()
    end = None if length is None else start + length
    chunks: list[bytes] = []
    offset = start
    while True:
        want = 1 << 20 if end is None else min(1 << 20, end - offset)
        if want <= 0:
            break
        chunk = os.pread(fd, want, offset)
        if not chunk:
            if end is not None:
                raise TruncatedError(f"layer stream ends {end - offset} bytes early")
            break
        offset += len(chunk)
        if out is None:
            chunks.append(chunk)
        else:
            out.write(chunk)
    return b"".join(chunks) if out is None else None


class _HashingWriter(io.RawIOBase):
    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self.hash = hashlib.sha256()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.hash.update(data)
        self.count += len(data)
        self._out.write(data)
        return len(data)


def _entry_from_spec(path: str, value: Spec) -> tuple[Entry, bytes | None]:
    if isinstance(value, (str, bytes)):
        value = File(value)
    if isinstance(value, Whiteout):
        return Entry(path, EntryKind.WHITEOUT), None
    if isinstance(value, Opaque):
        return Entry(path, EntryKind.OPAQUE, mode=0o755), None
    if not isinstance(value, (File, Dir, Symlink, Hardlink, CharDevice, Fifo)):
        raise TypeError(f"{path!r}: cannot make an entry from {type(value).__name__}")
    base = Entry(path, EntryKind.FILE, uid=value.uid, gid=value.gid, mtime=value.mtime,
                 xattrs=sorted_xattrs(value.xattrs))
    if isinstance(value, File):
        data = value.data
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        mode = 0o644 if value.mode is None else value.mode
        return replace(base, mode=mode, size=len(data), digest=digest), data
    if isinstance(value, Dir):
        return replace(base, kind=EntryKind.DIR,
                       mode=0o755 if value.mode is None else value.mode), None
    if isinstance(value, Symlink):
        return replace(base, kind=EntryKind.SYMLINK, mode=0o777, linkname=value.target), None
    if isinstance(value, Hardlink):
        target = clean_member_name(value.target, where=f"hardlink {path!r} ->")
        return replace(base, kind=EntryKind.HARDLINK, linkname=target), None
    if isinstance(value, CharDevice):
        kind = EntryKind.BLOCK if isinstance(value, BlockDevice) else EntryKind.CHAR
        mode = 0o666 if value.mode is None else value.mode
        return replace(base, kind=kind, mode=mode, devmajor=value.major,
                       devminor=value.minor), None
    mode = 0o644 if value.mode is None else value.mode
    return replace(base, kind=EntryKind.FIFO, mode=mode), None

