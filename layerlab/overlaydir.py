"""The overlayfs on-disk form of a layer: a directory tree instead of a tar stream.

The kernel's overlayfs stacks plain directories (``lowerdir=L2:L1:L0``, top first). Such a
layer directory spells the two markers its own way (the spellings are in
:mod:`layerlab.whiteout`):

* a whiteout is a character device 0/0, or (the "xwhiteout" form, kernel >= 6.7, usable
  without privileges) a zero-size regular file with the xattr ``<ns>.overlay.whiteout``,
  whose parent directory carries ``<ns>.overlay.opaque = "x"`` so readdir knows to look;
* an opaque directory carries ``<ns>.overlay.opaque = "y"``.

``<ns>`` is ``trusted`` (real root) or ``user`` (mounts with ``userxattr``, inside a user
namespace); :data:`layerlab.whiteout.OVERLAY_XATTR_NAMESPACES` lists both. What the markers *do*
is decided in :mod:`layerlab.union`; this module only translates spellings.

>>> import tempfile
>>> from layerlab import Layer, Whiteout
>>> from layerlab.overlaydir import read_overlay_dir, write_overlay_dir
>>> layer = Layer.from_dict({"/etc/motd": "hi\\n", "/tmp": Whiteout()})
>>> with tempfile.TemporaryDirectory() as upper:
...     write_overlay_dir(layer, upper + "/l", xattr_namespace="user", whiteout_form="xattr")
...     sorted(read_overlay_dir(upper + "/l").whiteouts)
['/tmp']

Known limits, all of the overlay form itself:

* A layer directory cannot say "this directory is unchanged": a whiteout or entry below
  ``/a`` needs a real ``/a`` in the layer, and overlayfs takes a merged directory's mode and
  owner from the topmost layer that has it. Parents the layer does not list are written as
  ``mode 0755, uid 0, gid 0, mtime 0`` (what the union implies for a missing parent); over
  a lower ``/a`` with other metadata, the tar form and the overlay form then differ.
* A whiteout and an entry at the same path (allowed in a tar, OCI row 4) become the entry
  alone; over a directory, an opaque directory. Whiteouts that can change nothing (below an
  opaque, whited-out or non-directory ancestor of the same layer) are not written.
* A hardlink must point at a file of the same layer: a directory cannot link across layers.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Iterable
from dataclasses import replace
from typing import Literal

from .entry import IMPLIED_DIR_MODE, Entry, EntryKind
from .errors import (
    BrokenHardlinkError,
    DigestMismatchError,
    UnsafePathError,
    UnsupportedEntryError,
)
from .layer import Layer
from .paths import ROOT, ancestors, split
from .whiteout import (
    OVERLAY_HAS_XWHITEOUTS,
    OVERLAY_OPAQUE,
    OVERLAY_OPAQUE_XATTR,
    OVERLAY_WHITEOUT_XATTR,
    OVERLAY_XATTR_NAMESPACES,
    WHITEOUT_DEVICE,
    is_overlay_xattr,
    is_whiteout_device,
    overlay_xattr,
)

__all__ = ["read_overlay_dir", "write_overlay_dir"]


def _namespaces(xattr_namespace: str | None) -> tuple[str, ...]:
    if xattr_namespace is None:
        return OVERLAY_XATTR_NAMESPACES
    if xattr_namespace not in OVERLAY_XATTR_NAMESPACES:
        raise ValueError(
            f"xattr_namespace={xattr_namespace!r}: overlayfs uses one of {OVERLAY_XATTR_NAMESPACES}"
        )
    return (xattr_namespace,)


def _host_path(root: str, path: str) -> str:
    """``root`` joined with the clean absolute layer path ``path``; refuses anything else."""
    if path == ROOT:
        return root
    parts = path.split("/")[1:]
    if not path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UnsafePathError(f"entry {path!r}: not a clean absolute path")
    return os.path.join(root, *parts)


# --- reading -------------------------------------------------------------------------


def read_overlay_dir(path: str | os.PathLike[str], *, xattr_namespace: str | None = None) -> Layer:
    """Read an overlayfs upper or lower directory as a :class:`Layer`.

    Symlinks are never followed. Char devices 0/0 and zero-size files carrying
    ``<ns>.overlay.whiteout`` become whiteouts, directories with ``<ns>.overlay.opaque = "y"``
    become a directory plus an opaque marker; other ``<ns>.overlay.*`` xattrs are overlayfs
    bookkeeping and dropped, all other xattrs are kept. ``xattr_namespace=None`` accepts both
    ``trusted`` and ``user``. Regular files sharing an inode become hardlinks to the first of
    their paths (in canonical path order). The directory's own metadata is not recorded
    (there is no ``/`` entry), only its opaque marker if it has one.

    Contents are hashed now and read again on demand (:meth:`Layer.read_content`); if a
    file changed in between, that read raises :class:`DigestMismatchError`. Keep the
    directory as it is while the layer is in use.
    """
    root = os.fspath(path)
    namespaces = _namespaces(xattr_namespace)
    entries: list[Entry] = []
    sources: dict[str, str] = {}  # digest -> a host path holding those bytes
    inodes: dict[tuple[int, int], list[Entry]] = {}
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"{root!r}: an overlay layer is a directory")
    if _overlay_xattrs(root, namespaces).get(OVERLAY_OPAQUE_XATTR) == OVERLAY_OPAQUE:
        entries.append(Entry(ROOT, EntryKind.OPAQUE))
    pending = [ROOT]
    while pending:
        directory = pending.pop()
        with os.scandir(_host_path(root, directory)) as it:
            names = sorted(d.name for d in it)
        for name in names:
            layer_path = f"{directory.rstrip('/')}/{name}"
            host = _host_path(root, layer_path)
            entry = _read_entry(host, layer_path, os.lstat(host), namespaces, sources)
            entries.extend(entry)
            main = entry[0]
            if main.kind is EntryKind.DIR:
                pending.append(layer_path)
            elif main.kind is EntryKind.FILE:
                st = os.lstat(host)
                if st.st_nlink > 1:  # another name of this inode may be in the layer
                    inodes.setdefault((st.st_dev, st.st_ino), []).append(main)
    entries = _link_shared_inodes(entries, inodes.values())

    def contents(entry: Entry) -> bytes:
        with open(sources[str(entry.digest)], "rb") as f:
            data = f.read()
        if "sha256:" + hashlib.sha256(data).hexdigest() != entry.digest:
            raise DigestMismatchError(
                f"overlay dir {root!r}: {entry.path!r} changed since the layer was read"
            )
        return data

    return Layer.from_entries(entries, contents)


def _read_entry(
    host: str, path: str, st: os.stat_result, namespaces: tuple[str, ...], sources: dict[str, str]
) -> list[Entry]:
    """The entry (plus an opaque marker for an opaque directory) for one host object."""
    fmt = stat.S_IFMT(st.st_mode)
    ours = _overlay_xattrs(host, namespaces)
    if is_whiteout_device(st):
        return [Entry(path, EntryKind.WHITEOUT)]
    if fmt == stat.S_IFREG and st.st_size == 0 and OVERLAY_WHITEOUT_XATTR in ours:
        return [Entry(path, EntryKind.WHITEOUT)]
    base = Entry(path, EntryKind.DIR, mode=stat.S_IMODE(st.st_mode), uid=st.st_uid,
                 gid=st.st_gid, mtime=int(st.st_mtime), xattrs=_user_xattrs(host, namespaces))
    if fmt == stat.S_IFDIR:
        if ours.get(OVERLAY_OPAQUE_XATTR) == OVERLAY_OPAQUE:
            return [base, Entry(path, EntryKind.OPAQUE)]
        return [base]
    if fmt == stat.S_IFREG:
        digest, size = _hash_file(host)
        sources.setdefault(digest, host)
        return [replace(base, kind=EntryKind.FILE, size=size, digest=digest)]
    if fmt == stat.S_IFLNK:
        return [replace(base, kind=EntryKind.SYMLINK, linkname=os.readlink(host))]
    if fmt == stat.S_IFIFO:
        return [replace(base, kind=EntryKind.FIFO)]
    if fmt in (stat.S_IFCHR, stat.S_IFBLK):
        kind = EntryKind.CHAR if fmt == stat.S_IFCHR else EntryKind.BLOCK
        return [replace(base, kind=kind, devmajor=os.major(st.st_rdev),
                        devminor=os.minor(st.st_rdev))]
    raise UnsupportedEntryError(
        f"overlay dir: {path!r} is a socket (or another type a layer cannot hold)"
    )


def _hash_file(host: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(host, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size


def _link_shared_inodes(entries: list[Entry], groups: Iterable[list[Entry]]) -> list[Entry]:
    """Turn every file but the first of an inode group into a hardlink to the first."""
    links: dict[str, Entry] = {}
    for group in groups:
        first, *others = sorted(group, key=lambda e: e.path.split("/"))
        for other in others:
            links[other.path] = Entry(
                other.path, EntryKind.HARDLINK, mode=other.mode, uid=other.uid, gid=other.gid,
                mtime=other.mtime, linkname=first.path,
            )
    if not links:
        return entries
    return [links.get(e.path, e) if e.kind is EntryKind.FILE else e for e in entries]


def _listxattr(host: str) -> list[str]:
    try:
        return os.listxattr(host, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.EOPNOTSUPP:  # a filesystem without xattrs holds none
            return []
        raise


def _overlay_xattrs(host: str, namespaces: tuple[str, ...]) -> dict[str, bytes]:
    """overlayfs's own xattrs of ``host``, keyed without the namespace (``overlay.opaque``)."""
    out: dict[str, bytes] = {}
    for name in _listxattr(host):
        if is_overlay_xattr(name, namespaces):
            out[name.partition(".")[2]] = os.getxattr(host, name, follow_symlinks=False)
    return out


def _user_xattrs(host: str, namespaces: tuple[str, ...]) -> tuple[tuple[str, bytes], ...]:
    kept = []
    for name in _listxattr(host):
        if is_overlay_xattr(name, namespaces):
            continue
        kept.append((name, os.getxattr(host, name, follow_symlinks=False)))
    return tuple(sorted(kept))


def _is_real_dir(host: str) -> bool:
    """True for a directory (not a symlink to one); False if nothing is there."""
    try:
        return stat.S_ISDIR(os.lstat(host).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


# --- writing -------------------------------------------------------------------------


def write_overlay_dir(
    layer: Layer,
    path: str | os.PathLike[str],
    *,
    xattr_namespace: str = "trusted",
    whiteout_form: Literal["chardev", "xattr"] = "chardev",
    allow_setuid: bool = True,
    create_devices: bool = True,
) -> None:
    """Materialize ``layer`` as an overlayfs lower (or upper) directory at ``path``.

    ``path`` must not exist or be an empty directory. ``whiteout_form="chardev"`` writes
    whiteouts as character devices 0/0 (``mknod``: root, or a kernel that lets anyone make
    the 0/0 whiteout device); ``"xattr"`` writes zero-size files with
    ``<ns>.overlay.whiteout`` and marks their directory ``<ns>.overlay.opaque = "x"``, which
    works unprivileged (``xattr_namespace="user"``, mount with ``userxattr``; kernel >= 6.7).

    Owners are applied only when running as root; modes, mtimes and xattrs always, with
    calls that never follow symlinks. Device nodes need ``CAP_MKNOD``: without it they are
    left out of the directory (a user namespace cannot create them either).
    ``allow_setuid=False`` drops setuid/setgid bits of non-directories and
    ``security.capability`` xattrs; ``create_devices=False`` leaves device nodes out (what
    :class:`~layerlab.store.Store` does unless told otherwise). File contents are streamed,
    never held whole. See the module docstring for what the overlay form cannot express.
    """
    (ns,) = _namespaces(xattr_namespace)
    if whiteout_form not in ("chardev", "xattr"):
        raise ValueError(f"whiteout_form={whiteout_form!r}: use 'chardev' or 'xattr'")
    root = os.fspath(path)
    if os.path.lexists(root):
        if not os.path.isdir(root) or os.path.islink(root) or os.listdir(root):
            raise FileExistsError(f"{root!r}: write_overlay_dir needs a new or empty directory")
    else:
        os.mkdir(root, 0o755)
    _Writer(layer, root, ns, whiteout_form, allow_setuid=allow_setuid,
            create_devices=create_devices).write()


class OverlayTarget:
    """An overlay directory ``root`` being written: the one place for how an entry's
    pieces land on disk in overlayfs's form, shared by the whole-layer writer
    (:func:`write_overlay_dir`) and the path-by-path one
    (:class:`~layerlab.store.upperdir.UpperDir`).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as root:
    ...     t = OverlayTarget(root, ns="user", whiteout_form="xattr")
    ...     oct(t.make_whiteout("/gone")), os.getxattr(t.host("/gone"), "user.overlay.whiteout")
    ('0o644', b'y')
    """

    def __init__(self, root: str, *, ns: str, whiteout_form: str,
                 allow_setuid: bool = True, create_devices: bool = True) -> None:
        self.root = root
        self.ns = ns
        self.whiteout_form = whiteout_form
        self.allow_setuid = allow_setuid
        self.create_devices = create_devices
        self.as_root = os.geteuid() == 0

    def host(self, path: str) -> str:
        """The host path of the layer path ``path`` (refuses an unclean one)."""
        return _host_path(self.root, path)

    def make_whiteout(self, path: str) -> int:
        """Create the whiteout node at ``path`` (a 0/0 character device, or a zero-size
        file with ``<ns>.overlay.whiteout``) and return its mode; marking the parent
        directory is the caller's (when depends on the writer)."""
        host = self.host(path)
        if self.whiteout_form == "chardev":
            try:
                os.mknod(host, stat.S_IFCHR | 0o000, os.makedev(*WHITEOUT_DEVICE))
            except PermissionError as exc:
                raise PermissionError(
                    f"{host!r}: creating a 0/0 whiteout device is not permitted here; "
                    "use whiteout_form='xattr'"
                ) from exc
            return 0o000
        os.close(os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
        self.set_overlay_xattr(path, OVERLAY_WHITEOUT_XATTR, b"y")
        return 0o644

    def make_special(self, entry: Entry) -> bool:
        """Create the fifo or device node of ``entry``; False when it is left out (devices
        not wanted, or no ``CAP_MKNOD``)."""
        host = self.host(entry.path)
        if entry.kind is EntryKind.FIFO:
            os.mkfifo(host, 0o600)
            return True
        if not self.create_devices:
            return False  # not materialized (the store's default)
        kind = stat.S_IFCHR if entry.kind is EntryKind.CHAR else stat.S_IFBLK
        try:
            os.mknod(host, kind | 0o600, os.makedev(entry.devmajor, entry.devminor))
        except PermissionError:
            return False  # no CAP_MKNOD: the device is left out, as documented
        return True

    def set_overlay_xattr(self, path: str, name: str, value: bytes) -> None:
        """Set overlayfs's own ``<ns>.<name>`` (e.g. ``overlay.opaque``) on ``path``."""
        os.setxattr(self.host(path), overlay_xattr(self.ns, name), value,
                    follow_symlinks=False)

    def set_entry_xattr(self, path: str, name: str, value: bytes) -> bool:
        """Set one of the layer's own xattrs; False when the file system refuses it
        (``user.*`` on a symlink: EPERM, a namespace it does not know: EOPNOTSUPP), or
        for ``security.capability`` when setuid is not allowed."""
        if name == "security.capability" and not self.allow_setuid:
            return True  # dropped on purpose, not refused
        try:
            os.setxattr(self.host(path), name, value, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EINVAL, errno.EACCES):
                raise
            return False
        return True

    def apply_meta(self, entry: Entry) -> None:
        """Owner (as root), mode and mtime of ``entry``, never following a symlink; chmod
        after lchown because chown clears setuid bits."""
        host = self.host(entry.path)
        if self.as_root:
            os.lchown(host, entry.uid, entry.gid)
        if entry.kind is not EntryKind.SYMLINK:
            mode = entry.mode
            if not self.allow_setuid and not entry.is_dir:
                mode &= ~(stat.S_ISUID | stat.S_ISGID)
            os.chmod(host, mode)
        os.utime(host, ns=(entry.mtime * 10**9, entry.mtime * 10**9), follow_symlinks=False)


class _Writer(OverlayTarget):
    def __init__(self, layer: Layer, root: str, ns: str, whiteout_form: str, *,
                 allow_setuid: bool, create_devices: bool) -> None:
        super().__init__(root, ns=ns, whiteout_form=whiteout_form,
                         allow_setuid=allow_setuid, create_devices=create_devices)
        self.layer = layer
        #: layer path -> entry whose metadata is applied at the end (implied dirs included)
        self.made: dict[str, Entry] = {}
        self.opaque: set[str] = set()
        self.xwhiteout_dirs: set[str] = set()
        self.skipped_xattrs: list[tuple[str, str]] = []

    def write(self) -> None:
        layer = self.layer
        entries = {e.path: e for e in layer.content_entries}
        # A whiteout next to a directory of the same layer means "replace": an opaque dir.
        self.opaque = {
            p for p in layer.opaques
            if (p not in entries or entries[p].is_dir) and not self._below_nondir(p, entries)
        }
        self.opaque |= {p for p in layer.whiteouts if p in entries and entries[p].is_dir}
        hardlinks = []
        for entry in layer.content_entries:
            if entry.kind is EntryKind.HARDLINK:
                hardlinks.append(entry)
            elif entry.path == ROOT:
                self.made[ROOT] = entry
            else:
                self._create(entry)
        for entry in hardlinks:
            self._link(entry, entries)
        for p in sorted(self.opaque):
            self._dir(p)
        for p in sorted(layer.whiteouts):  # ancestors first: they may turn opaque
            if self._below_nondir(p, entries):
                continue  # under a file or symlink of this layer, which hides the lower p
            if _is_real_dir(_host_path(self.root, p)):
                self.opaque.add(p)  # a whiteout over a dir this layer needs: replace = opaque
            elif self._whiteout_matters(p, entries):
                self._whiteout(p)
            elif not any(a in layer.whiteouts for a in ancestors(p)):
                self._parents(p)  # its parents are directories of the layer all the same
        for p in self.opaque:
            self.set_overlay_xattr(p, OVERLAY_OPAQUE_XATTR, OVERLAY_OPAQUE)
        for p in self.xwhiteout_dirs - self.opaque:
            self.set_overlay_xattr(p, OVERLAY_OPAQUE_XATTR, OVERLAY_HAS_XWHITEOUTS)
        # Metadata last, children before parents: creating a child touches its dir's mtime,
        # and chmod after lchown because chown clears setuid bits.
        for p in sorted(self.made, key=lambda p: p.split("/"), reverse=True):
            self.apply_meta(self.made[p])

    def _whiteout_matters(self, path: str, entries: dict[str, Entry]) -> bool:
        """False for a whiteout its own layer overrides or makes pointless."""
        if path in entries:
            return False  # an entry at the same path replaces the lower one anyway
        for anc in (ROOT, *ancestors(path)):
            if anc in self.opaque or anc in self.layer.whiteouts:
                return False
        return not self._below_nondir(path, entries)

    @staticmethod
    def _below_nondir(path: str, entries: dict[str, Entry]) -> bool:
        """True if an ancestor of ``path`` is a non-directory of this layer (which wins)."""
        return any(anc in entries and not entries[anc].is_dir for anc in ancestors(path))

    # -- creating things
    def _parents(self, path: str) -> None:
        for anc in ancestors(path):
            self._dir(anc)

    def _dir(self, path: str) -> None:
        """Make ``path`` a real directory (implied unless the layer describes it)."""
        if path == ROOT:
            return
        made = self.made.get(path)
        if made is not None and made.is_dir:
            return  # made already (checked first: deep trees must not cost depth**2 stats)
        self._parents(path)
        host = _host_path(self.root, path)
        if _is_real_dir(host):
            return
        if os.path.lexists(host):
            # A non-directory of this layer, replaced (union row 19). It had already hidden
            # the lower subtree, so the directory that takes its place is opaque.
            os.unlink(host)
            self.made.pop(path, None)
            self.opaque.add(path)
        os.mkdir(host, 0o700)
        self.made[path] = Entry(path, EntryKind.DIR, mode=IMPLIED_DIR_MODE)

    def _create(self, entry: Entry) -> None:
        path = entry.path
        if entry.is_dir:
            self._dir(path)
            self.made[path] = entry
            self._xattrs(entry)
            return
        self._parents(path)
        host = _host_path(self.root, path)
        if entry.kind is EntryKind.FILE:
            fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f, self.layer.open_content(entry) as content:
                shutil.copyfileobj(content, f, 1 << 20)  # streamed: a 1.5 GiB file is fine
        elif entry.kind is EntryKind.SYMLINK:
            os.symlink(entry.linkname, host)
        elif entry.kind in (EntryKind.FIFO, EntryKind.CHAR, EntryKind.BLOCK):
            if not self.make_special(entry):
                return  # a device not materialized (the store's default, or no CAP_MKNOD)
        else:
            raise UnsupportedEntryError(f"entry {path!r}: cannot write a {entry.kind}")
        self.made[path] = entry
        self._xattrs(entry)

    def _link(self, entry: Entry, entries: dict[str, Entry]) -> None:
        target = entries.get(entry.linkname)
        seen = {entry.path}
        while target is not None and target.kind is EntryKind.HARDLINK and target.path not in seen:
            seen.add(target.path)
            target = entries.get(target.linkname)
        if target is None or target.kind is not EntryKind.FILE:
            raise UnsupportedEntryError(
                f"entry {entry.path!r}: hardlink to {entry.linkname!r}, which is not a regular "
                "file of this layer; an overlay layer directory cannot link across layers"
            )
        self._parents(entry.path)
        source, host = _host_path(self.root, target.path), _host_path(self.root, entry.path)
        if _is_real_dir(source):  # a later entry of the layer made it a parent directory
            raise BrokenHardlinkError(
                f"entry {entry.path!r}: hardlink to {entry.linkname!r}, which is a directory"
            )
        if not os.path.lexists(host):
            os.link(source, host, follow_symlinks=False)
            return
        # The union applies hardlinks after everything else, so this one replaces what the
        # layer put there, a directory with its subtree included (which may hold the target).
        spare = os.path.join(self.root, f".layerlab-link-{os.getpid()}")
        os.link(source, spare, follow_symlinks=False)
        if _is_real_dir(host):
            shutil.rmtree(host)
        else:
            os.unlink(host)
        os.rename(spare, host)
        for gone in [p for p in self.made if p == entry.path or p.startswith(entry.path + "/")]:
            del self.made[gone]

    def _whiteout(self, path: str) -> None:
        self._parents(path)
        mode = self.make_whiteout(path)
        if self.whiteout_form != "chardev":
            self.xwhiteout_dirs.add(split(path)[0])
        self.made[path] = Entry(path, EntryKind.WHITEOUT, mode=mode)

    # -- metadata
    def _xattrs(self, entry: Entry) -> None:
        for name, value in entry.xattrs:
            if name == "security.capability" and not self.allow_setuid:
                continue
            if is_overlay_xattr(name):
                raise UnsupportedEntryError(
                    f"entry {entry.path!r}: xattr {name!r} would be read by overlayfs as its "
                    "own bookkeeping"
                )
            if not self.set_entry_xattr(entry.path, name, value):
                # the layer's tar keeps the xattr, the directory cannot
                self.skipped_xattrs.append((entry.path, name))
