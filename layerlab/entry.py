"""Entries: one filesystem object in a layer, with the metadata a tar header carries.

An :class:`Entry` is immutable. Its ``path`` is a clean absolute path (``/etc/hostname``).
Whiteouts and opaque markers are entries too: ``Entry(path="/a", kind=WHITEOUT)``
deletes ``/a`` from the layers below; ``Entry(path="/d", kind=OPAQUE)`` hides every
lower child of the directory ``/d``. How they are spelled in a tar stream
(``.wh.a``, ``d/.wh..wh..opq``) is decided in :mod:`layerlab.whiteout`.

The small spec classes (:class:`File`, :class:`Dir`, :class:`Symlink`, ...) are how
notebooks and tests describe a layer by hand, see :meth:`layerlab.Layer.from_dict`.
"""

from __future__ import annotations

import enum
import stat as _stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

__all__ = [
    "BlockDevice",
    "CharDevice",
    "Dir",
    "Entry",
    "EntryKind",
    "Fifo",
    "File",
    "Hardlink",
    "Opaque",
    "Spec",
    "Symlink",
    "Whiteout",
]


#: the mode of a directory nobody described (a layer's implied parent): what ``mkdir -p``
#: in an unpacker makes
IMPLIED_DIR_MODE = 0o755


class EntryKind(str, enum.Enum):
    """What an entry is. The values are what tables and reprs show."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHAR = "char"
    BLOCK = "block"
    FIFO = "fifo"
    WHITEOUT = "whiteout"
    OPAQUE = "opaque"

    def __str__(self) -> str:
        return self.value

    @property
    def letter(self) -> str:
        """The type letter ``ls -l`` shows (``w`` and ``o`` for the two markers)."""
        return _LETTERS[self]

    @property
    def is_marker(self) -> bool:
        """True for whiteouts and opaque markers, which delete rather than add."""
        return self in (EntryKind.WHITEOUT, EntryKind.OPAQUE)


_LETTERS = {
    EntryKind.FILE: "-",
    EntryKind.DIR: "d",
    EntryKind.SYMLINK: "l",
    EntryKind.HARDLINK: "h",
    EntryKind.CHAR: "c",
    EntryKind.BLOCK: "b",
    EntryKind.FIFO: "p",
    EntryKind.WHITEOUT: "w",
    EntryKind.OPAQUE: "o",
}

_S_IFMT = {
    EntryKind.FILE: _stat.S_IFREG,
    EntryKind.HARDLINK: _stat.S_IFREG,
    EntryKind.DIR: _stat.S_IFDIR,
    EntryKind.SYMLINK: _stat.S_IFLNK,
    EntryKind.CHAR: _stat.S_IFCHR,
    EntryKind.BLOCK: _stat.S_IFBLK,
    EntryKind.FIFO: _stat.S_IFIFO,
    EntryKind.WHITEOUT: _stat.S_IFCHR,
    EntryKind.OPAQUE: _stat.S_IFDIR,
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One filesystem object as a layer records it.

    ``mode`` holds the permission bits only (``0o7777``, setuid/setgid/sticky
    included); the type is ``kind``. ``size`` and ``digest`` describe the content of
    regular files (``digest`` is ``sha256:<hex>``, ``None`` for everything else).
    ``linkname`` is the target of a symlink (as stored) or of a hardlink (a clean
    absolute path, resolved inside the root). ``xattrs`` is a sorted tuple of
    ``(name, value)`` pairs; use :attr:`xattr_dict` for a dict.
    """

    path: str
    kind: EntryKind
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    size: int = 0
    digest: str | None = None
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: tuple[tuple[str, bytes], ...] = ()

    @property
    def name(self) -> str:
        """The last component of the path (``''`` for the root)."""
        return self.path.rpartition("/")[2]

    @property
    def is_dir(self) -> bool:
        return self.kind is EntryKind.DIR

    @property
    def is_regular(self) -> bool:
        """True for regular files and hardlinks (which are regular files with a shared inode)."""
        return self.kind is EntryKind.FILE or self.kind is EntryKind.HARDLINK

    @property
    def st_mode(self) -> int:
        """Type and permission bits together, as ``os.stat`` reports them."""
        return _S_IFMT[self.kind] | self.mode

    @property
    def filemode(self) -> str:
        """``ls -l`` style mode string, for example ``-rwxr-xr-x``."""
        text = _stat.filemode(self.st_mode)
        return self.kind.letter + text[1:]

    @property
    def xattr_dict(self) -> dict[str, bytes]:
        return dict(self.xattrs)

    def with_path(self, path: str) -> Entry:
        return replace(self, path=path)


def sorted_xattrs(xattrs: Mapping[str, bytes | str] | None) -> tuple[tuple[str, bytes], ...]:
    """Normalize an xattr mapping into the sorted tuple :class:`Entry` stores."""
    if not xattrs:
        return ()
    return tuple(
        sorted(
            (k, v.encode("utf-8") if isinstance(v, str) else bytes(v)) for k, v in xattrs.items()
        )
    )


# --- specs: how a layer is described by hand ------------------------------------------


@dataclass(frozen=True)
class _Meta:
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    xattrs: Mapping[str, bytes | str] = field(default_factory=dict)


@dataclass(frozen=True)
class File(_Meta):
    """A regular file: ``File(b"data", mode=0o755)``. A bare ``str``/``bytes`` is a File too."""

    content: bytes | str = b""

    def __init__(
        self,
        content: bytes | str = b"",
        *,
        mode: int | None = None,
        uid: int = 0,
        gid: int = 0,
        mtime: int = 0,
        xattrs: Mapping[str, bytes | str] | None = None,
    ) -> None:
        object.__setattr__(self, "content", content)
        _init_meta(self, mode, uid, gid, mtime, xattrs)

    @property
    def data(self) -> bytes:
        return self.content.encode("utf-8") if isinstance(self.content, str) else self.content


@dataclass(frozen=True)
class Dir(_Meta):
    """A directory (mode 0o755 unless given)."""

    def __init__(
        self,
        *,
        mode: int | None = None,
        uid: int = 0,
        gid: int = 0,
        mtime: int = 0,
        xattrs: Mapping[str, bytes | str] | None = None,
    ) -> None:
        _init_meta(self, mode, uid, gid, mtime, xattrs)


@dataclass(frozen=True)
class Symlink(_Meta):
    """A symbolic link; the target is stored as given (absolute and dangling are legal)."""

    target: str = ""

    def __init__(self, target: str, *, uid: int = 0, gid: int = 0, mtime: int = 0) -> None:
        object.__setattr__(self, "target", target)
        _init_meta(self, 0o777, uid, gid, mtime, None)


@dataclass(frozen=True)
class Hardlink(_Meta):
    """A hardlink to ``target``, a path resolved inside the root (``/usr/bin/perl``)."""

    target: str = ""

    def __init__(self, target: str) -> None:
        object.__setattr__(self, "target", target)
        _init_meta(self, None, 0, 0, 0, None)


@dataclass(frozen=True)
class CharDevice(_Meta):
    """A character device node, kept as metadata only."""

    major: int = 0
    minor: int = 0

    def __init__(self, major: int, minor: int, *, mode: int | None = None) -> None:
        object.__setattr__(self, "major", major)
        object.__setattr__(self, "minor", minor)
        _init_meta(self, mode, 0, 0, 0, None)


# init=False: a generated __init__ would take (mode, uid, ..., major, minor) positionally.
@dataclass(frozen=True, init=False)
class BlockDevice(CharDevice):
    """A block device node, kept as metadata only."""


@dataclass(frozen=True)
class Fifo(_Meta):
    """A named pipe, kept as metadata only."""

    def __init__(self, *, mode: int | None = None) -> None:
        _init_meta(self, mode, 0, 0, 0, None)


@dataclass(frozen=True)
class Whiteout:
    """Delete this path (and everything below it) from the layers underneath."""


@dataclass(frozen=True)
class Opaque:
    """Hide every lower child of this directory; the directory itself stays."""


def _init_meta(
    obj: object,
    mode: int | None,
    uid: int,
    gid: int,
    mtime: int,
    xattrs: Mapping[str, bytes | str] | None,
) -> None:
    object.__setattr__(obj, "mode", mode)
    object.__setattr__(obj, "uid", uid)
    object.__setattr__(obj, "gid", gid)
    object.__setattr__(obj, "mtime", mtime)
    object.__setattr__(obj, "xattrs", dict(xattrs or {}))


Spec = File | Dir | Symlink | Hardlink | CharDevice | Fifo | Whiteout | Opaque | bytes | str
