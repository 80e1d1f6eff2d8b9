"""A container's upper directory kept in step with its read-write layer, path by path.

When a container in a :class:`~layerlab.store.Store` changes a file, the file lands in
its upper directory at once, as on a Docker host (the kernel's overlayfs writes into the
upper directory): :class:`UpperDir` rewrites only the paths the read-write layer reports
changed (:meth:`~layerlab.rwlayer.ReadWriteLayer.take_changes`), in the layout's on-disk
spelling, the same tree :func:`~layerlab.overlaydir.write_overlay_dir` would write for
the whole layer: a whiteout is a character device 0/0 (as root) or a zero-size file with
``<ns>.overlay.whiteout`` in a directory marked ``<ns>.overlay.opaque = "x"``; an opaque
directory carries ``<ns>.overlay.opaque = "y"``; directory metadata is set after the
children are made, so an mtime stays what the layer says.

Nothing is fsynced on a change: :meth:`UpperDir.flush` makes what was written since the
last flush durable, and the store calls it at the durability points, ``stop`` (every
state change) and ``commit``, like the page cache of a real host. A ``kill -9`` between
two changes leaves a directory holding every change that finished (and a half-written
file for one that did not, as on a host); it reads back as a layer.

>>> import pathlib, tempfile
>>> from layerlab import Image, Layer
>>> c = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\\n"})]).create_container()
>>> with tempfile.TemporaryDirectory() as root:
...     upper = UpperDir(root, xattr_namespace="user", whiteout_form="xattr")
...     c.write("/etc/motd", "changed\\n")
...     upper.apply(c.rw, c.rw.take_changes() or ())
...     pathlib.Path(root, "etc", "motd").read_text()
'changed\\n'
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterable
from typing import Literal

from .._fsutil import remove_tree
from ..blob import FileBlob
from ..entry import IMPLIED_DIR_MODE, Entry, EntryKind
from ..overlaydir import OverlayTarget
from ..paths import ROOT, ancestors, split
from ..rwlayer import ReadWriteLayer
from ..whiteout import OVERLAY_HAS_XWHITEOUTS as _HAS_XWHITEOUTS  # the overlayfs spellings
from ..whiteout import OVERLAY_OPAQUE as _OPAQUE
from ..whiteout import OVERLAY_OPAQUE_XATTR as _OPAQUE_XATTR
from ..whiteout import overlay_xattr

__all__ = ["UpperDir"]



class UpperDir(OverlayTarget):
    """The on-disk upper directory ``root`` of one container.

    ``on_disk`` records what was last written at each path (an entry, or a whiteout
    marker), so that a metadata change (``chmod``) does not rewrite the content. How an
    entry's node, xattrs and metadata land on disk is :class:`~layerlab.overlaydir.
    OverlayTarget`'s, the same code as the whole-layer writer's.
    """

    def __init__(self, root: str, *, xattr_namespace: str = "trusted",
                 whiteout_form: Literal["chardev", "xattr"] = "chardev",
                 allow_setuid: bool = True, create_devices: bool = True) -> None:
        super().__init__(root, ns=xattr_namespace, whiteout_form=whiteout_form,
                         allow_setuid=allow_setuid, create_devices=create_devices)
        self.on_disk: dict[str, Entry] = {}
        self.opaque: set[str] = set()
        #: host paths changed since the last flush (files written, directories whose
        #: names changed)
        self.unsynced: set[str] = set()

    def reset(self, rw: ReadWriteLayer) -> None:
        """Say the directory holds ``rw`` exactly (just written whole, or read back)."""
        self.on_disk = dict(rw.entries)
        for p in rw.whiteouts:
            self.on_disk.setdefault(p, Entry(p, EntryKind.WHITEOUT))
        self.opaque = set(rw.opaques)

    # --- writing ------------------------------------------------------------------------
    def apply(self, rw: ReadWriteLayer, paths: Iterable[str]) -> None:
        """Bring every path of ``paths`` on disk in step with ``rw`` (parents first,
        hardlinks after the files, directory metadata last)."""
        touched: set[str] = set()  # directories whose metadata must be set again
        links: list[Entry] = []
        for p in sorted(paths, key=lambda p: p.split("/")):
            entry = rw.entries.get(p)
            if p == ROOT:
                self._opaque(ROOT, ROOT in rw.opaques)
            elif entry is not None and entry.kind is EntryKind.HARDLINK:
                links.append(entry)
            elif entry is not None:
                self._put(rw, entry, touched)
            elif p in rw.whiteouts:
                self._whiteout(rw, p, touched)
            else:
                self._remove(p, touched)
        for entry in links:
            self._link(rw, entry, touched)
        for d in sorted(touched, key=lambda p: p.split("/"), reverse=True):
            self._dir_meta(rw, d)

    def _lstat(self, path: str) -> os.stat_result | None:
        try:
            return os.lstat(self.host(path))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _clear(self, path: str, touched: set[str]) -> None:
        """Remove whatever is at ``path`` on disk (a whole subtree for a directory)."""
        st = self._lstat(path)
        old = self.on_disk.pop(path, None)
        if old is not None and old.is_dir:
            prefix = path + "/"
            for p in [p for p in self.on_disk if p.startswith(prefix)]:
                del self.on_disk[p]
            self.opaque = {p for p in self.opaque if p != path and not p.startswith(prefix)}
        self.opaque.discard(path)
        if st is None:
            return
        host = self.host(path)
        self._writable(split(path)[0], touched)
        if stat.S_ISDIR(st.st_mode):
            remove_tree(host)
        else:
            os.unlink(host)
        self._name_changed(path, touched)

    def _name_changed(self, path: str, touched: set[str]) -> None:
        parent = split(path)[0]
        touched.add(parent)
        self.unsynced.add(self.host(parent))

    def _parents(self, rw: ReadWriteLayer, path: str, touched: set[str]) -> None:
        """Make the parents of ``path`` real directories (implied ones the layer does not
        list, as the whole-layer writer does)."""
        for anc in ancestors(path):
            st = self._lstat(anc)
            if st is not None and stat.S_ISDIR(st.st_mode):
                continue
            if st is not None:
                self._clear(anc, touched)
            self._writable(split(anc)[0], touched)
            os.mkdir(self.host(anc), 0o700)
            self._name_changed(anc, touched)
            touched.add(anc)

    def _writable(self, directory: str, touched: set[str]) -> None:
        """Let us create and remove names in ``directory`` whatever mode the layer gives
        it (its metadata is set again at the end)."""
        if self.as_root:
            return
        host = self.host(directory)
        try:
            mode = stat.S_IMODE(os.lstat(host).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return
        if mode & 0o700 != 0o700:
            os.chmod(host, mode | 0o700)
            touched.add(directory)

    def _put(self, rw: ReadWriteLayer, entry: Entry, touched: set[str]) -> None:
        path = entry.path
        old = self.on_disk.get(path)
        self._parents(rw, path, touched)
        st = self._lstat(path)
        host = self.host(path)
        if entry.is_dir:
            if st is None or not stat.S_ISDIR(st.st_mode):
                if st is not None:
                    self._clear(path, touched)
                self._writable(split(path)[0], touched)
                os.mkdir(host, 0o700)
                self._name_changed(path, touched)
            self._xattrs(host, old if old is not None and old.is_dir else None, entry)
            self.on_disk[path] = entry
            self._opaque(path, path in rw.opaques)
            touched.add(path)
            return
        same_kind = st is not None and old is not None and old.kind is entry.kind
        if entry.kind is EntryKind.FILE:
            in_place = (st is not None and stat.S_ISREG(st.st_mode) and old is not None
                        and old.kind is EntryKind.FILE)
            if not (in_place and old is not None and old.digest == entry.digest):
                if not in_place and st is not None:
                    self._clear(path, touched)
                self._write_file(rw, entry, host, fresh=not in_place, touched=touched)
        elif entry.kind is EntryKind.SYMLINK:
            if not (same_kind and old is not None and old.linkname == entry.linkname):
                if st is not None:
                    self._clear(path, touched)
                self._writable(split(path)[0], touched)
                os.symlink(entry.linkname, host)
                self._name_changed(path, touched)
        else:  # fifo, devices: made again
            if st is not None:
                self._clear(path, touched)
            if not self.make_special(entry):
                return  # a device not materialized (the store's default), as in a full write
            self._name_changed(path, touched)
        self._xattrs(host, old if same_kind else None, entry)
        self.apply_meta(entry)
        self.on_disk[path] = entry

    def _write_file(self, rw: ReadWriteLayer, entry: Entry, host: str, *, fresh: bool,
                    touched: set[str]) -> None:
        if fresh:
            self._writable(split(entry.path)[0], touched)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            self._name_changed(entry.path, touched)
        else:  # in place: another name of the inode (a hardlink) sees the new bytes
            flags = os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW
            if not self.as_root:
                os.chmod(host, 0o600, follow_symlinks=False)
        fd = os.open(host, flags, 0o600)
        blob = rw.data[str(entry.digest)]
        with os.fdopen(fd, "wb") as f:
            if isinstance(blob, FileBlob):
                with blob.open() as content:
                    shutil.copyfileobj(content, f, 1 << 20)
            else:
                f.write(blob)
        self.unsynced.add(host)

    def _link(self, rw: ReadWriteLayer, entry: Entry, touched: set[str]) -> None:
        target = entry.linkname
        seen = {entry.path}
        while (t := rw.entries.get(target)) is not None and t.kind is EntryKind.HARDLINK \
                and target not in seen:
            seen.add(target)
            target = t.linkname
        path, host, source = entry.path, self.host(entry.path), self.host(target)
        old = self.on_disk.get(path)
        st, src = self._lstat(path), self._lstat(target)
        if src is None or not stat.S_ISREG(src.st_mode):
            return  # nothing to link to on disk (a full write would refuse the layer)
        if st is not None and old is not None and old.kind is EntryKind.HARDLINK \
                and (st.st_dev, st.st_ino) == (src.st_dev, src.st_ino):
            self.on_disk[path] = entry
            return
        self._parents(rw, path, touched)
        if st is not None:
            self._clear(path, touched)
        self._writable(split(path)[0], touched)
        os.link(source, host, follow_symlinks=False)
        self._name_changed(path, touched)
        self.on_disk[path] = entry

    def _whiteout(self, rw: ReadWriteLayer, path: str, touched: set[str]) -> None:
        old = self.on_disk.get(path)
        if old is not None and old.kind is EntryKind.WHITEOUT and self._lstat(path) is not None:
            return
        if any(a in rw.whiteouts or a in rw.opaques for a in (ROOT, *ancestors(path))) or \
                any((e := rw.entries.get(a)) is not None and not e.is_dir
                    for a in ancestors(path)):
            self._clear(path, touched)  # hidden by the layer itself: not written
            return
        self._parents(rw, path, touched)
        self._clear(path, touched)
        parent = split(path)[0]
        self._writable(parent, touched)
        mode = self.make_whiteout(path)
        if self.whiteout_form != "chardev" and parent not in self.opaque:
            self.set_overlay_xattr(parent, _OPAQUE_XATTR, _HAS_XWHITEOUTS)
        self.apply_meta(Entry(path, EntryKind.WHITEOUT, mode=mode))
        self._name_changed(path, touched)
        self.on_disk[path] = Entry(path, EntryKind.WHITEOUT)

    def _remove(self, path: str, touched: set[str]) -> None:
        if path in self.on_disk or self._lstat(path) is not None:
            self._clear(path, touched)

    # --- metadata -----------------------------------------------------------------------
    def _opaque(self, path: str, opaque: bool) -> None:
        host, name = self.host(path), overlay_xattr(self.ns, _OPAQUE_XATTR)
        if opaque and path not in self.opaque:
            self.set_overlay_xattr(path, _OPAQUE_XATTR, _OPAQUE)
            self.opaque.add(path)
        elif not opaque and path in self.opaque:
            # still a directory that may hold xattr whiteouts: say so, as the full writer
            if self.whiteout_form == "xattr":
                self.set_overlay_xattr(path, _OPAQUE_XATTR, _HAS_XWHITEOUTS)
            else:
                with contextlib.suppress(OSError):
                    os.removexattr(host, name, follow_symlinks=False)
            self.opaque.discard(path)

    def _xattrs(self, host: str, old: Entry | None, entry: Entry) -> None:
        before = dict(old.xattrs) if old is not None else {}
        after = dict(entry.xattrs)
        if before == after and old is not None:
            return
        for name in before.keys() - after.keys():
            with contextlib.suppress(OSError):
                os.removexattr(host, name, follow_symlinks=False)
        for name, value in after.items():
            self.set_entry_xattr(entry.path, name, value)  # what the fs refuses is left out

    def _dir_meta(self, rw: ReadWriteLayer, directory: str) -> None:
        if directory == ROOT:
            return  # the upper directory's own metadata is not part of the layer
        st = self._lstat(directory)
        if st is None or not stat.S_ISDIR(st.st_mode):
            return
        entry = rw.entries.get(directory)
        if entry is None or not entry.is_dir:
            entry = Entry(directory, EntryKind.DIR, mode=IMPLIED_DIR_MODE)
        self.apply_meta(entry)

    # --- durability ---------------------------------------------------------------------
    def flush(self) -> None:
        """fsync every file written and every directory whose names changed since the
        last flush (the durability point: stop, commit)."""
        for host in sorted(self.unsynced, key=len, reverse=True):
            try:
                st = os.lstat(host)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                continue
            try:
                fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except PermissionError:  # a mode 0 file of the layer: root could; skip
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self.unsynced.clear()
