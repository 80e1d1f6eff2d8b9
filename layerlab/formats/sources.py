"""Where an image's files come from: a directory or a tar archive, read without escaping it.

Both an OCI layout and a ``docker save`` archive are small file trees; they arrive
either as a directory or as one tar file. A :class:`Source` answers "does this name
exist" and "give me a stream of this file" for both, and resolves names the same way:

* a name that climbs above the top (``../x``) is refused outright;
* a symlink inside the tree is followed with chroot semantics: an absolute target
  means the top of the tree, ``..`` stops at the top. ``docker save`` links repeated
  ``layer.tar`` files this way (``<id>/layer.tar -> ../<other>/layer.tar``);
* a hardlink member of a tar reads the bytes of the member it names.

Nothing is extracted: a tar source reads a member's bytes in place (``os.pread`` on
the archive), a directory source opens the final file with ``O_NOFOLLOW`` after
every parent was checked not to be a symlink. :meth:`Source.open_layer` hands a
layer's bytes on as an :class:`~layerlab.tarstream.ArchiveRange`, so a plain layer is
indexed where it lies and never copied; the layer keeps its own descriptor of the
archive and checks the archive's size and mtime before every later read (a compressed
archive is decompressed once to a private temporary file, which nothing else changes).
(A directory that another process rewrites while it is read is outside what this
guards against.)
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable
from typing import IO, Any, BinaryIO, cast

from ..errors import InvalidImageError, InvalidLayerError, LimitExceededError, TruncatedError
from ..limits import DEFAULT_LIMITS, Limits
from ..paths import ROOT, ancestors, clean_member_name
from ..tarstream import ArchiveRange, detect_compression, spool_stream

__all__ = ["DirSource", "RangeReader", "Source", "TarSource", "open_source"]

_MAX_HOPS = 40

#: (kind, link target) for a name, or None when nothing is there;
#: kinds: "dir", "file", "symlink", "hardlink", "other"
Stat = tuple[str, str] | None


class _LinearPaxTarInfo(tarfile.TarInfo):
    """``tarfile``'s member with a linear PAX parser.

    Python before 3.11.10 / 3.12.6 parses PAX records with regular expressions that take
    quadratic time on crafted headers (CVE-2024-6232: 300 KiB, two minutes). This parses
    them with :func:`layerlab.fasttar._pax_records` (one pass) and caps the header at
    ``max_json_bytes``; the rest is what ``tarfile`` does.
    """

    max_pax_bytes = DEFAULT_LIMITS.max_json_bytes
    label = "archive"

    def _proc_pax(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        from ..fasttar import _pax_records

        if self.size < 0 or self.size > self.max_pax_bytes:
            raise LimitExceededError(
                f"{self.label}: a PAX header of {self.size} bytes, more than "
                f"max_json_bytes={self.max_pax_bytes}; raise Limits.max_json_bytes")
        tf: Any = tarfile_
        buf = tf.fileobj.read(self._block(self.size))  # type: ignore[attr-defined]
        try:
            records = _pax_records(buf[: self.size], self.label)
        except InvalidLayerError as exc:
            raise InvalidImageError(str(exc)) from None
        pax_headers: Any = tf.pax_headers if self.type == tarfile.XGLTYPE else dict(
            tf.pax_headers)
        binary = records.get("hdrcharset", b"") == b"BINARY" or pax_headers.get(
            "hdrcharset") == "BINARY"
        for key, value in records.items():
            if key in tarfile.PAX_NAME_FIELDS and binary:
                pax_headers[key] = value.decode(tarfile_.encoding or "utf-8",
                                                tarfile_.errors or "surrogateescape")
            else:
                pax_headers[key] = value.decode("utf-8", tarfile_.errors or "surrogateescape")
        if any(k.startswith("GNU.sparse.") for k in pax_headers):
            raise InvalidImageError(f"{self.label}: a sparse member (GNU.sparse PAX records)")
        try:
            following = self.fromtarfile(tarfile_)
        except tarfile.HeaderError as exc:
            raise tarfile.ReadError(str(exc)) from None
        if self.type in (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE):
            following._apply_pax_info(  # type: ignore[attr-defined]
                pax_headers, tarfile_.encoding, tarfile_.errors)
            following.offset = self.offset
            if "size" in pax_headers:
                offset = following.offset_data
                if following.isreg() or following.type not in tarfile.SUPPORTED_TYPES:
                    offset += following._block(following.size)  # type: ignore[attr-defined]
                tarfile_.offset = offset
        return following


class RangeReader(io.RawIOBase):
    """A read-only stream over ``size`` bytes at ``offset`` of a file descriptor."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        self._fd = fd
        self._offset = offset
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._left)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._offset)
        n = len(data)
        buffer[:n] = data
        self._offset += n
        self._left -= n
        return n


def _components(name: str) -> list[str]:
    return [p for p in name.split("/") if p and p != "."]


class Source:
    """A file tree holding an image (base class of :class:`DirSource` and :class:`TarSource`)."""

    #: how messages name this source
    label: str = ""

    def _lstat(self, path: str) -> Stat:
        raise NotImplementedError

    def _open_resolved(self, path: str, info: tuple[str, str]) -> tuple[BinaryIO, int]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds open."""

    def resolve(self, unsafe_name: str) -> str | None:
        """The clean, symlink-free path that ``unsafe_name`` reaches inside the tree, or
        ``None`` if nothing is there. A name that escapes the top is an error."""
        clean = clean_member_name(unsafe_name, where=self.label)
        pending = _components(clean)
        current: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                if current:
                    current.pop()
                continue
            candidate = "/" + "/".join([*current, part])
            info = self._lstat(candidate)
            if info is None:
                return None
            kind, target = info
            if kind == "symlink":
                hops += 1
                if hops > _MAX_HOPS:
                    raise InvalidImageError(
                        f"{self.label}: {unsafe_name!r}: too many levels of symbolic links"
                    )
                pending = _components(target) + pending
                if target.startswith("/"):
                    current = []
                continue
            if pending and kind != "dir":
                return None
            current.append(part)
        return "/" + "/".join(current)

    def exists(self, unsafe_name: str) -> bool:
        return self.resolve(unsafe_name) is not None

    def top_level(self) -> list[str]:
        """The names at the top of the tree, sorted."""
        raise NotImplementedError

    def open(self, unsafe_name: str) -> tuple[BinaryIO, int]:
        """A stream of the regular file ``unsafe_name`` and its size in bytes."""
        path = self.resolve(unsafe_name)
        info = self._lstat(path) if path is not None else None
        if path is None or info is None:
            raise InvalidImageError(f"{self.label}: {unsafe_name!r} is missing")
        if info[0] not in ("file", "hardlink"):
            raise InvalidImageError(f"{self.label}: {unsafe_name!r} is not a regular file")
        return self._open_resolved(path, info)

    def open_layer(self, unsafe_name: str) -> tuple[BinaryIO, int]:
        """Like :meth:`open`, for a layer: the stream is an
        :class:`~layerlab.tarstream.ArchiveRange` where the bytes can be read in place
        (it owns a descriptor of its own, so it outlives :meth:`close`)."""
        return self.open(unsafe_name)

    def read_bytes(self, unsafe_name: str, *, cap: int, cap_name: str) -> bytes:
        """The whole file, refusing one larger than ``cap`` (named ``cap_name`` in errors)."""
        stream, size = self.open(unsafe_name)
        with stream:
            if size > cap:
                raise LimitExceededError(
                    f"{self.label}: {unsafe_name!r} is {size} bytes, larger than {cap_name}={cap}; "
                    f"raise Limits.{cap_name} to accept it"
                )
            return stream.read(cap + 1)

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DirSource(Source):
    """An image laid out in a directory (an OCI layout, or an unpacked ``docker save``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self.label = self.root

    def _full(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def _lstat(self, path: str) -> Stat:
        try:
            st = os.lstat(self._full(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISLNK(st.st_mode):
            return ("symlink", os.readlink(self._full(path)))
        if stat.S_ISDIR(st.st_mode):
            return ("dir", "")
        return ("file", "") if stat.S_ISREG(st.st_mode) else ("other", "")

    def top_level(self) -> list[str]:
        return sorted(os.listdir(self.root))

    def _open_resolved(self, path: str, info: tuple[str, str]) -> tuple[BinaryIO, int]:
        fd = os.open(self._full(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise InvalidImageError(f"{self.label}: {path!r} is not a regular file")
        return os.fdopen(fd, "rb"), st.st_size

    def open_layer(self, unsafe_name: str) -> tuple[BinaryIO, int]:
        stream, size = self.open(unsafe_name)
        st = os.fstat(stream.fileno())
        return cast(BinaryIO, ArchiveRange(
            stream, 0, size, (st.st_size, st.st_mtime_ns),
            f"{self.label}: {unsafe_name!r}")), size


class TarSource(Source):
    """An image packed in a tar file (``docker save`` output, an oci-archive).

    The member index holds names, kinds and offsets only; contents are read in place.
    A gzip or zstd compressed archive (``docker save | gzip``) is first decompressed
    to a temporary file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        limits: Limits = DEFAULT_LIMITS,
        spool_dir: str | None = None,
    ) -> None:
        self.label = os.fspath(path)
        self._file: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._private = False  # True once the bytes are in a temporary file of our own
        if detect_compression(self._file.read(8)) != "none":
            self._file.seek(0)
            spooled = spool_stream(self._file, limits=limits, spool_dir=spool_dir,
                                   where=self.label)
            self._file.close()
            self._spooled = spooled  # its files close when it is collected
            self._file = spooled.file
            self._private = True
        self._file.seek(0, os.SEEK_END)
        length = self._file.tell()
        self._file.seek(0)
        self._members: dict[str, tarfile.TarInfo] = {}
        self._dirs: set[str] = {ROOT}
        try:
            self._index(length, limits)
        except BaseException:
            self._file.close()
            raise

    def _index(self, length: int, limits: Limits) -> None:
        try:
            info_class = type("_CappedTarInfo", (_LinearPaxTarInfo,),
                              {"max_pax_bytes": limits.max_json_bytes, "label": self.label})
            tf = tarfile.open(  # noqa: SIM115 - the archive file is closed by close()
                fileobj=self._file, mode="r:", encoding="utf-8", errors="surrogateescape",
                tarinfo=info_class,
            )
            for count, info in enumerate(tf, start=1):
                if count > limits.max_entries:
                    raise LimitExceededError(
                        f"{self.label}: more than max_entries={limits.max_entries} members; "
                        "raise Limits.max_entries to accept it"
                    )
                path = clean_member_name(info.name, where=self.label,
                                         max_bytes=limits.max_path_bytes)
                if info.isreg() and info.offset_data + info.size > length:
                    raise TruncatedError(
                        f"{self.label}: member {info.name!r} runs past the end of the archive "
                        f"({info.size} bytes at byte {info.offset_data} of {length}); "
                        "the archive is truncated"
                    )
                self._members[path] = info
                self._dirs.update(ancestors(path))
                if info.isdir():
                    self._dirs.add(path)
            tf.members = []  # type: ignore[attr-defined]  # drop tarfile's own index
        except tarfile.ReadError as exc:
            if not self._members and "empty file" in str(exc):
                raise TruncatedError(f"{self.label}: empty file, not a tar archive") from exc
            raise InvalidImageError(f"{self.label}: not a readable tar archive ({exc})") from exc

    def close(self) -> None:
        self._file.close()

    def top_level(self) -> list[str]:
        return sorted({p.split("/")[1] for p in (*self._members, *self._dirs) if p != ROOT})

    def _lstat(self, path: str) -> Stat:
        info = self._members.get(path)
        if info is None:
            return ("dir", "") if path in self._dirs else None
        if info.issym():
            return ("symlink", info.linkname)
        if info.islnk():
            return ("hardlink", info.linkname)
        if info.isdir():
            return ("dir", "")
        return ("file", "") if info.isreg() else ("other", "")

    def _open_resolved(self, path: str, info: tuple[str, str]) -> tuple[BinaryIO, int]:
        member = self._member_data(path)
        reader = RangeReader(self._file.fileno(), member.offset_data, member.size)
        return io.BufferedReader(reader, 1 << 20), member.size

    def open_layer(self, unsafe_name: str) -> tuple[BinaryIO, int]:
        path = self.resolve(unsafe_name)
        info = self._lstat(path) if path is not None else None
        if path is None or info is None or info[0] not in ("file", "hardlink"):
            return self.open(unsafe_name)  # raises the error open() gives
        member = self._member_data(path)
        st = os.fstat(self._file.fileno())
        if not stat.S_ISREG(st.st_mode):
            return self.open(unsafe_name)
        # a descriptor of its own: the layer outlives this source
        own = os.fdopen(os.dup(self._file.fileno()), "rb")
        stamp = None if self._private else (st.st_size, st.st_mtime_ns)
        return cast(BinaryIO, ArchiveRange(own, member.offset_data, member.size, stamp,
                                           f"{self.label}: {unsafe_name!r}")), member.size

    def _member_data(self, path: str) -> tarfile.TarInfo:
        """The regular member whose bytes ``path`` reads (hardlinks followed)."""
        member = self._members[path]
        hops = 0
        while member.islnk():
            hops += 1
            target = self._members.get(clean_member_name(member.linkname, where=self.label))
            if target is None or hops > _MAX_HOPS or not (target.isreg() or target.islnk()):
                raise InvalidImageError(
                    f"{self.label}: hardlink {path!r} -> {member.linkname!r} names no regular file"
                )
            member = target
        return member


def open_source(
    path: str | os.PathLike[str],
    *,
    limits: Limits = DEFAULT_LIMITS,
    spool_dir: str | None = None,
) -> Source:
    """A :class:`DirSource` for a directory, a :class:`TarSource` for anything else."""
    if os.path.isdir(path):
        return DirSource(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{os.fspath(path)}: no such file or directory")
    return TarSource(path, limits=limits, spool_dir=spool_dir)


OpenBlob = Callable[[], tuple[BinaryIO, int]]
