"""Materialize a merged view as a real directory, through a scoped writer.

The one directory writer of the engine: :func:`layerlab.formats.flatten.flatten` (the
user's ``flatten(image, "rootfs")``) and the ptrace executor's materialized root
(:mod:`layerlab.ptracemode`) both call :func:`materialize_view`; it sits in the union
layer, below both.

A real unpacker writes untrusted names onto the host, which is where container
escapes happen (docs/hostile-input.md). The writer here holds a file
descriptor for the destination root and creates every entry *relative to a
directory descriptor* (``os.open(name, ..., dir_fd=parent)``), opening each parent
component with ``O_NOFOLLOW | O_DIRECTORY``. It never follows a symlink at all: in a
merged view every parent of every path is a real directory (the union already made
it one), so meeting a symlink on the way down means something is wrong, and the
writer stops with :class:`~layerlab.errors.UnsafePathError` instead of following it.

* symlinks are created as they are (absolute and dangling targets included);
* ownership, mode and times are set on the open descriptor or with the no-follow
  forms (``fchownat(AT_SYMLINK_NOFOLLOW)``, ``utimensat(AT_SYMLINK_NOFOLLOW)``), and
  never on a symlink's target;
* device nodes are created only when asked (``create_devices=True``, root), FIFOs always;
* everything is written into a private staging directory renamed to DEST at the end;
* setuid/setgid bits on non-directories, and ``security.capability`` xattrs, are
  dropped unless ``allow_setuid=True``; overlayfs' own xattrs (``*.overlay.*``) never
  reach the disk, where they would turn into whiteouts in a later mount;
* a hardlink becomes a real link to the path materialized earlier, or a copy when
  its target was changed by a later layer (the link was broken in the view).

Everything the writer leaves out is listed in the :class:`FlattenResult`.

>>> import os, tempfile
>>> from layerlab import Image, Layer
>>> from layerlab.entry import CharDevice
>>> layer = Layer.from_dict({"/etc/motd": "hi\\n", "/dev/null": CharDevice(1, 3)})
>>> view = Image.from_layers([layer]).view()
>>> with tempfile.TemporaryDirectory() as tmp:
...     result = materialize_view(view, os.path.join(tmp, "rootfs"))
...     sorted(os.listdir(result.dest)), result.skipped_devices
(['dev', 'etc'], ['/dev/null'])
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from ._fsutil import remove_tree
from .entry import Entry, EntryKind
from .errors import LayerlabError, PathLookupError, UnsafePathError
from .layer import Layer
from .paths import ROOT, split
from .tarstream import RangeFile
from .union import View

__all__ = ["FlattenResult", "Opener", "layers_opener", "materialize_view"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PRIVILEGE_BITS = stat.S_ISUID | stat.S_ISGID
_CAPABILITY_XATTR = "security.capability"
_FD_CACHE = 64
_CHUNK = 1 << 20


@dataclass
class FlattenResult:
    """What :func:`flatten` made, and what it deliberately did not."""

    dest: str
    #: entries written (directories, files, links, nodes)
    entries: int = 0
    #: device nodes not created (no root, or ``create_devices=False``)
    skipped_devices: list[str] = field(default_factory=list)
    #: paths whose setuid/setgid bits or file capabilities were dropped
    dropped_privileges: list[str] = field(default_factory=list)
    #: ``(path, xattr name, why)`` for extended attributes not written
    skipped_xattrs: list[tuple[str, str, str]] = field(default_factory=list)
    #: hardlinks written as copies because their target changed in a later layer
    copied_hardlinks: list[str] = field(default_factory=list)
    #: whether owners were set (only root can give files away)
    owners_set: bool = False


Opener = Callable[[Entry], BinaryIO]


def layers_opener(view: View, layers: Sequence[Layer]) -> Opener:
    """How to open the content of an entry ``view.walk()`` yielded, with the view's
    ``layers`` at hand: walked paths are literal, so the node is looked up directly (no
    symlink resolution per file), as a stream (a big file is never read whole)."""

    def open_walked(entry: Entry) -> BinaryIO:
        node = view.lookup(entry.path)
        if node is None or not node.entry.is_regular:
            return view.open(entry.path)  # not expected; let the view raise its error
        return layers[node.content_layer].open_content(node.entry)

    return open_walked


def materialize_view(view: View, dest: str, open_content: Opener | None = None, *,
                     allow_setuid: bool = False, create_devices: bool = False,
                     bar: Any = None) -> FlattenResult:
    """Write ``view`` as a directory at ``dest`` (new, or empty), through the scoped
    writer; ``open_content`` opens a walked file (default: ``view.open``), ``bar`` is told
    ``update(1)`` per entry. See the module docstring for what is left out."""
    is_root = os.geteuid() == 0
    if create_devices and not is_root:
        raise LayerlabError("create_devices=True needs root: only root can make device nodes")
    opener = open_content if open_content is not None else (lambda e: view.open(e.path))
    writer = _ScopedWriter(dest, allow_setuid=allow_setuid,
                           create_devices=create_devices, set_owners=is_root)
    try:
        writer.materialize(view, opener, bar if bar is not None else _NoBar())
        writer.close()
        writer.publish()
    except BaseException:
        writer.close()
        writer.abort()
        raise
    return writer.result


class _NoBar:
    def update(self, n: int) -> None:
        pass


def _copy_into(content: BinaryIO, fd: int) -> None:
    """Write everything ``content`` holds to ``fd``: in the kernel (``sendfile``) for a
    range of a layer's spool file, else in bounded chunks."""
    if isinstance(content, RangeFile):
        content.copy_to_fd(fd)
        return
    while chunk := content.read(_CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


def _link_source(view: View, entry: Entry) -> Entry | None:
    """The regular file a view hardlink still shares its inode with, or ``None``.

    A later layer may have replaced or changed the target; then the link is broken in
    the view and the caller writes a copy instead.
    """
    current = entry
    for _ in range(40):
        try:
            target = view.stat(current.linkname)
        except PathLookupError:
            return None
        if target.path != current.linkname or target.kind not in (EntryKind.FILE,
                                                                  EntryKind.HARDLINK):
            return None
        if (target.digest, target.mode, target.uid, target.gid) != (
            entry.digest, entry.mode, entry.uid, entry.gid
        ):
            return None
        if target.kind is EntryKind.FILE:
            return target
        current = target
    return None


class _ScopedWriter:
    """Creates entries under one root directory descriptor, never following a symlink."""

    def __init__(self, dest: str, *, allow_setuid: bool, create_devices: bool,
                 set_owners: bool) -> None:
        self.dest = dest
        self.allow_setuid = allow_setuid
        self.create_devices = create_devices
        self.result = FlattenResult(dest, owners_set=set_owners)
        try:
            st = os.lstat(dest)
        except FileNotFoundError:
            st = None
        if st is not None:
            if not stat.S_ISDIR(st.st_mode):
                raise UnsafePathError(
                    f"{dest}: destination is not a directory (a symlink?); refusing to follow")
            if os.listdir(dest):
                raise LayerlabError(f"{dest}: destination directory is not empty")
        parent = os.path.dirname(os.path.abspath(dest))
        try:
            self.staging = tempfile.mkdtemp(prefix=".layerlab-flatten-", dir=parent)
        except FileNotFoundError as exc:
            raise LayerlabError(f"{dest}: the parent directory {parent} does not exist") from exc
        self.root_fd = os.open(self.staging, _DIR_FLAGS)
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._open = True

    # --- descriptors ---------------------------------------------------------------------
    def _dir_fd(self, path: str) -> int:
        """A descriptor for the directory ``path`` of the root, opened component by
        component with O_NOFOLLOW from the nearest one already open: a symlink anywhere
        on the way is refused. (A loop, not recursion: 2,000 nested directories are fine.)"""
        if path == ROOT:
            return self.root_fd
        fd = self._fds.get(path)
        if fd is not None:
            self._fds.move_to_end(path)
            return fd
        missing = [path]
        parent = split(path)[0]
        while parent != ROOT and parent not in self._fds:
            missing.append(parent)
            parent = split(parent)[0]
        parent_fd = self.root_fd if parent == ROOT else self._fds[parent]
        for here in reversed(missing):
            try:
                fd = os.open(split(here)[1], _DIR_FLAGS, dir_fd=parent_fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                    raise UnsafePathError(
                        f"entry {here!r}: is not a directory inside the root (a symlink?); "
                        "the writer never follows a link out of the root"
                    ) from exc
                raise
            self._fds[here] = fd
            if len(self._fds) > _FD_CACHE:
                old_path, old_fd = self._fds.popitem(last=False)
                if old_fd == parent_fd:  # still needed for the next step: keep it
                    self._fds[old_path] = old_fd
                    old_path, old_fd = self._fds.popitem(last=False)
                os.close(old_fd)
            parent_fd = fd
        return parent_fd

    def close(self) -> None:
        if not self._open:
            return
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        os.close(self.root_fd)
        self._open = False

    def publish(self) -> None:
        """Move the finished staging directory to ``dest`` (replacing an empty one)."""
        try:
            os.rename(self.staging, self.dest)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise LayerlabError(
                    f"{self.dest}: destination directory is not empty any more (another "
                    "writer?); nothing was written to it") from exc
            if exc.errno == errno.ENOTDIR:
                raise UnsafePathError(
                    f"{self.dest}: destination became a non-directory (a symlink?) during "
                    "the run; nothing was written to it") from exc
            raise

    def abort(self) -> None:
        """Remove the staging directory (never following a symlink)."""
        remove_tree(self.staging)

    # --- metadata ------------------------------------------------------------------------
    def _mode(self, entry: Entry) -> int:
        mode = entry.mode
        if mode & _PRIVILEGE_BITS and entry.kind is not EntryKind.DIR and not self.allow_setuid:
            self.result.dropped_privileges.append(entry.path)
            mode &= ~_PRIVILEGE_BITS
        return mode

    def _xattrs(self, fd: int, entry: Entry) -> None:
        for name, value in entry.xattrs:
            if ".overlay." in name:
                self.result.skipped_xattrs.append((entry.path, name, "overlayfs metadata"))
                continue
            if name == _CAPABILITY_XATTR and not self.allow_setuid:
                self.result.dropped_privileges.append(entry.path)
                continue
            try:
                os.setxattr(fd, name, value)
            except OSError as exc:
                self.result.skipped_xattrs.append((entry.path, name, exc.strerror or str(exc)))

    def _meta_fd(self, fd: int, entry: Entry) -> None:
        """Owner, xattrs, mode and times through an open descriptor (no path, no link)."""
        if self.result.owners_set:
            os.fchown(fd, entry.uid, entry.gid)
        self._xattrs(fd, entry)
        os.fchmod(fd, self._mode(entry))
        os.utime(fd, ns=(entry.mtime * 10**9, entry.mtime * 10**9))

    def _meta_node(self, parent_fd: int, name: str, entry: Entry) -> None:
        """Metadata for a symlink, FIFO or device node, never through a link."""
        if self.result.owners_set:
            os.chown(name, entry.uid, entry.gid, dir_fd=parent_fd, follow_symlinks=False)
        if entry.kind is not EntryKind.SYMLINK:
            # chmod has no no-follow form on Linux: open the node itself (O_PATH, no
            # follow), check what it is, and chmod it through its /proc descriptor.
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
            try:
                if stat.S_ISLNK(os.fstat(fd).st_mode):
                    raise UnsafePathError(f"entry {entry.path!r}: became a symlink while written")
                os.chmod(f"/proc/self/fd/{fd}", self._mode(entry))
            finally:
                os.close(fd)
        ns = entry.mtime * 10**9
        os.utime(name, ns=(ns, ns), dir_fd=parent_fd, follow_symlinks=False)

    # --- entries -------------------------------------------------------------------------
    def _write_file(self, parent_fd: int, name: str, entry: Entry, content: BinaryIO) -> None:
        """Create ``name`` and stream ``content`` into it (closing ``content``)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with content:
            fd = os.open(name, flags, 0o600, dir_fd=parent_fd)
            try:
                _copy_into(content, fd)
                self._meta_fd(fd, entry)
            finally:
                os.close(fd)

    def materialize(self, view: View, open_file: Opener, bar: Any) -> None:
        dirs: list[Entry] = []
        links: list[Entry] = []
        for entry in view.walk():
            bar.update(1)
            parent, name = split(entry.path)
            if entry.kind is EntryKind.HARDLINK:
                links.append(entry)
                continue
            parent_fd = self._dir_fd(parent)
            kind = entry.kind
            if kind is EntryKind.DIR:
                os.mkdir(name, 0o700, dir_fd=parent_fd)
                dirs.append(entry)
            elif kind is EntryKind.FILE:
                self._write_file(parent_fd, name, entry, open_file(entry))
            elif kind is EntryKind.SYMLINK:
                os.symlink(entry.linkname, name, dir_fd=parent_fd)
                self._meta_node(parent_fd, name, entry)
            elif kind is EntryKind.FIFO:
                os.mkfifo(name, 0o600, dir_fd=parent_fd)
                self._meta_node(parent_fd, name, entry)
            elif kind in (EntryKind.CHAR, EntryKind.BLOCK):
                if not self.create_devices:
                    self.result.skipped_devices.append(entry.path)
                    continue
                fmt = stat.S_IFCHR if kind is EntryKind.CHAR else stat.S_IFBLK
                os.mknod(name, fmt | 0o600, os.makedev(entry.devmajor, entry.devminor),
                         dir_fd=parent_fd)
                self._meta_node(parent_fd, name, entry)
            self.result.entries += 1
        for entry in links:
            self._hardlink(view, open_file, entry)
        # directories last, deepest first: creating children changes a directory's mtime,
        # and a read-only directory mode would stop its children being written
        for entry in reversed(dirs):
            self._meta_fd(self._dir_fd(entry.path), entry)
        self._meta_fd(self.root_fd, view.root)

    def _hardlink(self, view: View, open_file: Opener, entry: Entry) -> None:
        parent, name = split(entry.path)
        source = _link_source(view, entry)
        if source is None:
            self.result.copied_hardlinks.append(entry.path)
            copy = replace(entry, kind=EntryKind.FILE, linkname="")
            self._write_file(self._dir_fd(parent), name, copy, open_file(entry))
        else:
            src_parent, src_name = split(source.path)
            src_fd = self._dir_fd(src_parent)
            dst_fd = self._dir_fd(parent)
            os.link(src_name, name, src_dir_fd=src_fd, dst_dir_fd=dst_fd, follow_symlinks=False)
        self.result.entries += 1
