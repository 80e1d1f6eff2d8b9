"""Container: an image plus one mutable read-write layer on top.

``container = image + read-write layer``. Every change a container makes lands in its
read-write layer, exactly as in an overlayfs upper directory:

* the first change to a file from a lower layer *copies it up* (the whole file, even for
  a chmod); each copy-up is recorded in :attr:`Container.copy_ups`;
* deleting a lower path leaves a *whiteout*; removing a lower directory and creating it
  again makes the new one *opaque*, so the old children do not come back;
* renaming a lower directory is a whiteout of the old name plus a full copy of the tree
  under the new name (overlayfs without ``redirect_dir`` refuses the rename, and ``mv``
  falls back to copy and delete);
* a file whose name starts with ``.wh.`` is refused: a layer could not tell it from a
  whiteout.

The read-write layer stays after :meth:`Container.stop` and goes with :meth:`Container.rm`.
:meth:`Container.commit` turns it into an immutable layer and returns a new image.

A *running* container adds a process space (see :mod:`layerlab.processes`); the
commands it runs go to an *executor* (:mod:`layerlab.executors`): layerlab's small
simulated shell, which never touches the host filesystem, or with ``real=True`` real
processes (namespaces, or ptrace where namespaces are refused).

>>> from layerlab import Image, Layer
>>> img = Image.from_layers([Layer.from_dict({"/etc/motd": "hello\\n"})])
>>> c = img.create_container(name="demo")
>>> c.write("/happy.txt", "I was here\\n")
>>> c.append("/etc/motd", "changed\\n")
>>> [str(change) for change in c.diff()]
['C /etc', 'C /etc/motd', 'A /happy.txt']
>>> c.copy_ups[0].path, c.copy_ups[0].from_layer
('/etc', 0)
"""

from __future__ import annotations

import enum
import hashlib
import re
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Protocol

from .blob import FileBlob
from .changes import Change, between
from .entry import Entry, EntryKind
from .errors import (
    ContainerStateError,
    DirectoryNotEmptyError,
    IsADirectoryError_,
    NotADirectoryError_,
    PathExistsError,
    PathLookupError,
    PathNotFoundError,
    UnsafePathError,
)
from .execution import ExecResult, Executor, default_runner
from .image import HistoryEntry, Image
from .paths import ROOT, ancestors, join, normalize, split
from .processes import DEFAULT_HOST, Host, Process
from .rwlayer import LiveView, ReadWriteLayer
from .union import View, is_reserved_name

__all__ = ["Change", "Container", "ContainerState", "ContainerStore", "CopyUp",
           "ReadWriteLayer"]

#: first tick of the logical clock that stamps mtimes (2026-01-01T00:00:00Z)
CLOCK_START = 1767225600
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MAX_HOPS = 40
_DAEMONS = frozenset({"sh", "bash", "ash", "dash", "sleep", "top", "tail", "nginx", "httpd",
                      "redis-server", "postgres", "init", "tini"})


class ContainerStore(Protocol):
    """What a container (and real mode, through it) knows of the store that keeps it on
    disk: :class:`layerlab.store.Store` is one. The store sets :attr:`Container.store` and
    listens to the container's events (:attr:`Container.listeners`)."""

    @property
    def xattr_namespace(self) -> str:
        """The overlay form of the store's directories (``"trusted"`` or ``"user"``)."""
        ...

    def real_mode_dirs(self, container: Container
                       ) -> AbstractContextManager[tuple[list[str], str, str]]:
        """The lower directories (base first), upper and work directory to mount."""
        ...


class ContainerState(str, enum.Enum):
    """Docker's lifecycle states."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    EXITED = "exited"
    REMOVED = "removed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CopyUp:
    """A lower file or directory copied into the read-write layer before its first change."""

    seq: int
    path: str
    kind: EntryKind
    from_layer: int
    operation: str

    def __str__(self) -> str:
        return (f"copy-up {self.path} ({self.kind}) from layer {self.from_layer} "
                f"for {self.operation}")


class Container:
    """An image plus a read-write layer; optionally running, with its own processes.

    Create with ``image.create_container(name=...)`` or ``Container(image)``.
    """

    _counter = 0

    def __init__(
        self,
        image: Image,
        *,
        name: str | None = None,
        host: Host | None = None,
        clock_start: int = CLOCK_START,
        real: bool = False,
        init: bool = False,
        executor: Executor | None = None,
    ) -> None:
        Container._counter += 1
        self.image = image
        self.name = name or f"container{Container._counter}"
        self.id = hashlib.sha256(f"{image.id} {self.name}".encode()).hexdigest()
        self.host = host or DEFAULT_HOST
        self._lower_count = len(image.layers)
        #: the image's merged view: what the read-write layer sits on (never changes)
        self._lower = image.view()
        self._rw = ReadWriteLayer()
        #: the live view over the read-write layer (internal: it changes under a reader)
        self._live = LiveView(self._lower, image.layers, self._rw)
        #: the last view handed out by view(), still good while the layer's version is equal
        self._snapshot: LiveView | None = None
        self.copy_ups: list[CopyUp] = []
        #: callables ``f(container, event)`` told of "change" (read-write layer), "state" and
        #: "remove"; the store uses them to keep its on-disk copy in step
        self.listeners: list[Callable[[Container, str], None]] = []
        self._state = ContainerState.CREATED
        self.exit_code: int | None = None
        self._clock = clock_start
        self._ns = self.host.namespace(self.name)
        self.env: dict[str, str] = {"PATH": DEFAULT_PATH, **image.config.env_dict()}
        self.workdir = image.config.workdir or ROOT
        #: run commands as real processes with the kernel's overlayfs (layerlab.realmode)
        self.real = real
        #: the Store keeping this container on disk, if any (set by the store)
        self.store: ContainerStore | None = None
        #: ``docker run --init``: tini is PID 1 and forwards signals to the command
        self.init = init
        #: why the last stop ended with its exit status (see :func:`processes.stop_outcome`)
        self.stop_reason = ""
        #: who runs this container's commands (:mod:`layerlab.executors`); ``None``: the
        #: mode rule picks one per command from ``real``
        self.executor = executor

    def __repr__(self) -> str:
        return (f"<Container {self.name} ({self.id[:12]}) {self.state}: "
                f"{len(self.rw)} paths in the read-write layer>")

    def _repr_html_(self) -> str:
        from .views.html import container_html

        return container_html(self)

    # --- state --------------------------------------------------------------------------
    @property
    def clock(self) -> int:
        """The logical clock (seconds since the epoch) that stamps this container's mtimes."""
        return self._clock

    def tick(self) -> int:
        """Advance the logical clock by one second and return it (the mtime of the next
        change; real mode stamps what the kernel wrote with it)."""
        self._clock += 1
        return self._clock

    _tick = tick

    def _require_alive(self, action: str) -> None:
        if self.state is ContainerState.REMOVED:
            raise ContainerStateError(f"container {self.name}: cannot {action}: it was removed")

    def notify_changed(self) -> None:
        """Tell the listeners (a store) that the read-write layer changed. The container's
        own operations call it; code that changes :attr:`rw` directly (real mode) too."""
        self._notify("change")

    _changed = notify_changed

    def _notify(self, event: str) -> None:
        for listener in self.listeners:
            listener(self, event)

    @property
    def state(self) -> ContainerState:
        """Where the container is in Docker's lifecycle."""
        return self._state

    @state.setter
    def state(self, value: ContainerState) -> None:
        self._state = value
        self._notify("remove" if value is ContainerState.REMOVED else "state")

    def restore(self, state: ContainerState, *, exit_code: int | None = None,
                clock: int | None = None) -> None:
        """Set the state, exit code and clock a store recorded, without telling the
        listeners (loading a container is not a change). A running or paused record
        comes back exited: processes do not outlive the session that ran them."""
        if state in (ContainerState.RUNNING, ContainerState.PAUSED):
            state = ContainerState.EXITED
        self._state = state
        self.exit_code = exit_code
        if clock is not None:
            self._clock = clock

    # --- the read-write layer and the live view -----------------------------------------
    @property
    def rw(self) -> ReadWriteLayer:
        """The read-write layer (the upper directory). Assigning a new one (real mode, a
        store reading the directory back) replaces it whole: listeners then rewrite it."""
        return self._rw

    @rw.setter
    def rw(self, value: ReadWriteLayer) -> None:
        self._rw = value
        value.mark_all_changed()
        self._live = LiveView(self._lower, self.image.layers, value)
        self._snapshot = None

    def view(self) -> View:
        """The container's merged filesystem: image layers plus the read-write layer.

        The view shows the container as it is when asked: a later change does not show in
        it (ask again). Nothing is merged in advance: a lookup asks the read-write layer,
        then the image's view (:class:`~layerlab.rwlayer.LiveView`)."""
        self._require_alive("look at its filesystem")
        snap = self._snapshot
        if snap is None or snap._rw.version != self._rw.version:
            snap = self._snapshot = LiveView(self._lower, self.image.layers, self._rw.copy())
        return snap

    def _fs(self, action: str = "look at its filesystem") -> LiveView:
        """The live view, for reads inside an operation (no copy; never handed out)."""
        self._require_alive(action)
        return self._live

    def _lookup(self, path: str) -> Entry | None:
        node = self._live.lookup_clean(path)
        return node.entry if node else None

    def layer_of(self, path: str) -> int:
        """The index of the layer that supplies the literal ``path`` now (the number of
        image layers for the read-write layer; -1: nothing is there)."""
        node = self._live.lookup(path)
        return node.layer if node else -1

    _layer_of = layer_of

    def lower_has(self, path: str) -> bool:
        """True if the image below shows something at ``path`` that the read-write layer
        has not hidden with an opaque directory above it (deleting it needs a whiteout)."""
        if not self._lower_count:
            return False
        if self._lower.lookup(path) is None:
            return False
        return not any(a in self.rw.opaques for a in (ROOT, *ancestors(path)))

    _lower_has = lower_has

    def _resolve(self, path: str, *, follow: bool) -> str:
        """The real path an operation acts on: intermediate symlinks followed, and the last
        component too when ``follow`` (a dangling last link names where to create)."""
        view = self._fs()
        # No lexical clean-up of '..': as in the kernel (and View._node), it is the parent of
        # where the walk stands after following symlinks ('/l/..' with l -> /a/b is '/a').
        norm = path if path.startswith("/") else join(normalize(self.workdir), path)
        for _ in range(_MAX_HOPS):
            parts = [p for p in norm.split("/") if p and p != "."]
            if not parts:
                return ROOT
            if parts[-1] == "..":
                return view.resolve(norm, follow=True)[0]
            parent, name = "/" + "/".join(parts[:-1]), parts[-1]
            real_parent, node = view.resolve(parent, follow=True)
            if not node.entry.is_dir:
                raise NotADirectoryError_(f"{path!r}: {real_parent!r} is not a directory")
            real = join(real_parent, name)
            entry = self._lookup(real)
            if follow and entry is not None and entry.kind is EntryKind.SYMLINK:
                target = entry.linkname
                norm = target if target.startswith("/") else join(real_parent, target)
                continue
            return real
        raise PathLookupError(f"{path!r}: too many levels of symbolic links")

    # --- copy-on-write ------------------------------------------------------------------
    def _copy_up(self, path: str, operation: str) -> None:
        """Bring a lower path (and its parent directories) into the read-write layer."""
        for anc in (*ancestors(path), path):
            if anc == ROOT or anc in self.rw.entries:
                continue
            entry = self._lookup(anc)
            if entry is None:
                raise PathNotFoundError(f"{anc!r}: no such file or directory")
            layer = self._layer_of(anc)
            if entry.is_regular:
                data = self._live.read(anc)
                self.rw.data[entry.digest or ""] = data
                entry = replace(entry, kind=EntryKind.FILE, linkname="")
            self.rw.entries[anc] = entry
            self.copy_ups.append(CopyUp(len(self.copy_ups) + 1, anc, entry.kind, layer,
                                        operation if anc == path else f"{operation} (parent)"))
        self._changed()

    def _ensure_parents(self, path: str, operation: str) -> None:
        parent = split(path)[0]
        if parent != ROOT and parent not in self.rw.entries:
            self._copy_up(parent, operation)

    def _inode(self, real: str) -> str:
        """Hardlinks made in this container share an inode: act on the first name."""
        entry = self.rw.entries.get(real)
        return entry.linkname if entry is not None and entry.kind is EntryKind.HARDLINK else real

    def _check_name(self, real: str) -> None:
        if is_reserved_name(split(real)[1]):
            raise UnsafePathError(
                f"{real!r}: a file whose name starts with '.wh.' is refused: in a layer it "
                "could not be told apart from a whiteout"
            )

    def _put(self, entry: Entry, data: bytes | FileBlob | None = None) -> None:
        if data is not None:
            digest = data.digest if isinstance(data, FileBlob) \
                else "sha256:" + hashlib.sha256(data).hexdigest()
            entry = replace(entry, kind=EntryKind.FILE, size=len(data), digest=digest, linkname="")
            self.rw.data[digest] = data
        self.rw.entries[entry.path] = entry
        self._changed()

    # --- file operations ------------------------------------------------------------------
    def read(self, path: str) -> bytes:
        return self._fs().read(self._resolve(path, follow=True))

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        return self.read(path).decode(encoding)

    def stat(self, path: str, *, follow_symlinks: bool = False) -> Entry:
        return self._fs().stat(self._resolve(path, follow=follow_symlinks))

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except PathLookupError:
            return False
        return True

    def listdir(self, path: str = ROOT) -> list[str]:
        return self._fs().listdir(self._resolve(path, follow=True))

    def walk(self, top: str = ROOT) -> Iterator[Entry]:
        return self.view().walk(self._resolve(top, follow=True))

    def write(self, path: str, data: bytes | str | FileBlob, *, append: bool = False,
              mode: int | None = None) -> None:
        """Write (or with ``append=True`` append to) a file, creating it if needed.

        ``data`` may be a :class:`~layerlab.blob.FileBlob`: big contents that stay on disk
        (builds use it for large context files)."""
        self._require_alive("write")
        if isinstance(data, str):
            data = data.encode("utf-8")
        if append and isinstance(data, FileBlob):
            data = data.read()
        real = self._inode(self._resolve(path, follow=True))
        self._check_name(real)
        entry = self._lookup(real)
        if entry is not None and entry.is_dir:
            raise IsADirectoryError_(f"{path!r}: is a directory")
        if entry is not None and not entry.is_regular:
            raise PathLookupError(f"{path!r}: cannot write to a {entry.kind}")
        if entry is not None:
            if append:
                assert not isinstance(data, FileBlob)
                data = self._live.read(real) + data
            if real not in self.rw.entries:
                self._copy_up(real, "append" if append else "write")
                entry = self.rw.entries[real]
            base = replace(entry, mtime=self._tick())
        else:
            parent = self._lookup(split(real)[0])
            if parent is None or not parent.is_dir:
                raise PathNotFoundError(f"{path!r}: no such directory {split(real)[0]!r}")
            self._ensure_parents(real, "create")
            self.rw.whiteouts.discard(real)
            base = Entry(real, EntryKind.FILE, mode=0o644, mtime=self._tick())
        if mode is not None:
            base = replace(base, mode=mode)
        self._put(base, data)

    def append(self, path: str, data: bytes | str) -> None:
        """Append to a file (copying it up first if it comes from the image)."""
        self.write(path, data, append=True)

    def mkdir(self, path: str, *, parents: bool = False, mode: int = 0o755) -> None:
        """Make a directory (``parents=True``: like ``mkdir -p``)."""
        self._require_alive("mkdir")
        if parents:
            # One component at a time: the missing ones cannot be resolved in advance.
            current = ROOT
            norm = path if path.startswith("/") else join(normalize(self.workdir), path)
            for name in [p for p in norm.split("/") if p and p != "."]:
                anc = self._resolve(join(current, name), follow=False)
                existing = self._lookup(anc)
                if existing is None:
                    self._mkdir_one(anc, mode)
                elif existing.kind is EntryKind.SYMLINK:
                    anc = self._resolve(anc, follow=True)
                    if not self.stat(anc).is_dir:
                        raise NotADirectoryError_(f"{path!r}: {anc!r} is not a directory")
                elif not existing.is_dir:
                    raise NotADirectoryError_(f"{path!r}: {anc!r} exists and is not a directory")
                current = anc
            return
        real = self._resolve(path, follow=False)
        if self._lookup(real) is not None:
            raise PathExistsError(f"{path!r}: file exists")
        parent = self._lookup(split(real)[0])
        if parent is None or not parent.is_dir:
            raise PathNotFoundError(f"{path!r}: no such directory {split(real)[0]!r}")
        self._mkdir_one(real, mode)

    def _mkdir_one(self, real: str, mode: int) -> None:
        self._check_name(real)
        self._ensure_parents(real, "mkdir")
        if real in self.rw.whiteouts:
            # overlayfs: a directory created over a whiteout is opaque, or the lower
            # children would come back.
            self.rw.whiteouts.discard(real)
            self.rw.opaques.add(real)
        self._put(Entry(real, EntryKind.DIR, mode=mode, mtime=self._tick()))

    def remove(self, path: str, *, recursive: bool = False, missing_ok: bool = False) -> None:
        """Delete a file, link or empty directory (``recursive=True``: like ``rm -r``)."""
        self._require_alive("remove")
        real = self._resolve(path, follow=False)
        if real == ROOT:
            raise PathLookupError("refusing to remove '/'")
        entry = self._lookup(real)
        if entry is None:
            if missing_ok:
                return
            raise PathNotFoundError(f"{path!r}: no such file or directory")
        if entry.is_dir and not recursive and self._live.listdir(real):
            raise DirectoryNotEmptyError(f"{path!r}: directory not empty")
        self._detach_links(real)
        lower = self._lower_has(real)
        self.rw.drop(real)
        if lower:
            self._ensure_parents(real, "delete")
            self.rw.whiteouts.add(real)
        self._changed()

    def _detach_links(self, top: str) -> None:
        """Names hardlinked to a file that is going away keep its content."""
        if not self.rw.has_hardlinks:
            return  # the common case: nothing to look for
        inside = [p for p in self.rw.entries if p == top or p.startswith(top + "/")]
        for path, entry in list(self.rw.entries.items()):
            if entry.kind is EntryKind.HARDLINK and entry.linkname in inside and path not in inside:
                target = self.rw.entries[entry.linkname]
                self.rw.entries[path] = replace(target, path=path)
                for other, e in list(self.rw.entries.items()):
                    same_inode = e.kind is EntryKind.HARDLINK and e.linkname == entry.linkname
                    if same_inode and other != path:
                        self.rw.entries[other] = replace(e, linkname=path)

    def rename(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst`` (``rename(2)`` semantics: ``dst`` is the new name)."""
        self._require_alive("rename")
        real_src = self._resolve(src, follow=False)
        real_dst = self._resolve(dst, follow=False)
        entry = self._lookup(real_src)
        if entry is None:
            raise PathNotFoundError(f"{src!r}: no such file or directory")
        if real_dst == real_src:
            return
        if real_dst.startswith(real_src + "/"):
            raise PathLookupError(f"cannot move {src!r} into itself ({dst!r})")
        target = self._lookup(real_dst)
        if target is not None:
            if entry.is_dir and not target.is_dir:
                raise NotADirectoryError_(f"{dst!r}: not a directory")
            if not entry.is_dir and target.is_dir:
                raise IsADirectoryError_(f"{dst!r}: is a directory")
            if target.is_dir and self._live.listdir(real_dst):
                raise DirectoryNotEmptyError(f"{dst!r}: directory not empty")
            self.remove(real_dst, recursive=True)
        self._copy_tree(real_src, real_dst, "rename", keep_meta=True)
        self.remove(real_src, recursive=True)

    def copy(self, src: str, dst: str, *, recursive: bool = False) -> None:
        """Copy a file (or with ``recursive=True`` a tree) to the new name ``dst``."""
        self._require_alive("copy")
        real_src = self._resolve(src, follow=not recursive)
        entry = self._lookup(real_src)
        if entry is None:
            raise PathNotFoundError(f"{src!r}: no such file or directory")
        if entry.is_dir and not recursive:
            raise IsADirectoryError_(f"{src!r}: is a directory (use recursive=True)")
        real_dst = self._resolve(dst, follow=False)
        if real_dst.startswith(real_src + "/"):
            raise PathLookupError(f"cannot copy {src!r} into itself ({dst!r})")
        if entry.is_regular:
            self.write(real_dst, self._live.read(real_src), mode=entry.mode)
            return
        self._copy_tree(real_src, real_dst, "copy", keep_meta=False)

    def _copy_tree(self, real_src: str, real_dst: str, operation: str, *, keep_meta: bool) -> None:
        view = self._live  # everything is read into lists before the first change
        top = view.stat(real_src)
        items = [top, *(view.walk(real_src) if top.is_dir else ())]
        reads = {e.path: view.read(e.path) for e in items if e.is_regular}
        for e in items:
            if self._layer_of(e.path) < self._lower_count and operation == "rename":
                self.copy_ups.append(CopyUp(len(self.copy_ups) + 1, e.path, e.kind,
                                            self._layer_of(e.path), operation))
        for e in items:
            new_path = real_dst + e.path[len(real_src):]
            self._check_name(new_path)
            existing = self._lookup(new_path)
            if existing is not None and not (existing.is_dir and e.is_dir):
                raise PathExistsError(f"{new_path!r}: file exists")
            if existing is not None and not keep_meta:
                continue  # like cp -r into an existing directory: its metadata stays
            self._ensure_parents(new_path, operation)
            meta = e if keep_meta else Entry(new_path, e.kind, mode=e.mode, linkname=e.linkname,
                                             devmajor=e.devmajor, devminor=e.devminor)
            meta = replace(meta, path=new_path, mtime=meta.mtime if keep_meta else self._tick())
            if e.is_dir:
                if new_path in self.rw.whiteouts:
                    self.rw.whiteouts.discard(new_path)
                    self.rw.opaques.add(new_path)
                self._put(meta)
            elif e.is_regular:
                self.rw.whiteouts.discard(new_path)
                self._put(meta, reads[e.path])
            else:
                self.rw.whiteouts.discard(new_path)
                self._put(meta)

    def chmod(self, path: str, mode: int) -> None:
        """Change permission bits (follows symlinks); a lower file is copied up whole."""
        self._metadata(path, "chmod", mode=mode & 0o7777)

    def chown(self, path: str, uid: int, gid: int | None = None) -> None:
        """Change owner (follows symlinks); a lower file is copied up whole."""
        entry = self.stat(path, follow_symlinks=True)
        self._metadata(path, "chown", uid=uid, gid=entry.gid if gid is None else gid)

    def touch(self, path: str) -> None:
        """Create an empty file, or bump the mtime (a lower file or dir is copied up)."""
        self._require_alive("touch")
        if self._lookup(self._resolve(path, follow=True)) is None:
            self.write(path, b"")
            return
        self._metadata(path, "touch")

    def _metadata(self, path: str, operation: str, *, mode: int | None = None,
                  uid: int | None = None, gid: int | None = None) -> None:
        self._require_alive(operation)
        real = self._inode(self._resolve(path, follow=True))
        if self._lookup(real) is None:
            raise PathNotFoundError(f"{path!r}: no such file or directory")
        if real == ROOT:
            raise PathLookupError(f"{operation} of '/' is not supported")
        if real not in self.rw.entries:
            self._copy_up(real, operation)
        old = self.rw.entries[real]
        self.rw.entries[real] = replace(
            old,
            mtime=self._tick(),
            mode=old.mode if mode is None else mode,
            uid=old.uid if uid is None else uid,
            gid=old.gid if gid is None else gid,
        )
        self._changed()

    def symlink(self, target: str, path: str) -> None:
        """Create a symlink at ``path`` pointing at ``target`` (stored as given)."""
        self._require_alive("symlink")
        real = self._resolve(path, follow=False)
        self._check_name(real)
        if self._lookup(real) is not None:
            raise PathExistsError(f"{path!r}: file exists")
        if self._lookup(split(real)[0]) is None:
            raise PathNotFoundError(f"{path!r}: no such directory {split(real)[0]!r}")
        self._ensure_parents(real, "symlink")
        self.rw.whiteouts.discard(real)
        self._put(Entry(real, EntryKind.SYMLINK, mode=0o777, linkname=target, mtime=self._tick()))

    def hardlink(self, target: str, path: str) -> None:
        """Create ``path`` as another name of the file ``target`` (copied up first, as
        overlayfs does)."""
        self._require_alive("hardlink")
        real_target = self._inode(self._resolve(target, follow=False))
        entry = self._lookup(real_target)
        if entry is None:
            raise PathNotFoundError(f"{target!r}: no such file or directory")
        if entry.is_dir:
            raise IsADirectoryError_(f"{target!r}: hard links to directories are not allowed")
        real = self._resolve(path, follow=False)
        self._check_name(real)
        if self._lookup(real) is not None:
            raise PathExistsError(f"{path!r}: file exists")
        if real_target not in self.rw.entries:
            self._copy_up(real_target, "hardlink")
        self._ensure_parents(real, "hardlink")
        self.rw.whiteouts.discard(real)
        self._put(Entry(real, EntryKind.HARDLINK, linkname=real_target))

    # --- what changed --------------------------------------------------------------------
    def diff(self) -> list[Change]:
        """Docker's ``docker diff``: A (added), C (changed), D (deleted), sorted by path.

        The image's view against the container's, as Docker Engine 29 compares them
        (see :mod:`layerlab.changes`): a directory with changes inside is ``C``, only the
        top of a removed tree is ``D``, and each change says ``why``.
        """
        self._require_alive("diff")
        rw = self.rw
        return between(self.image.view(), self.view(),
                       touched={*rw.paths(), *rw.opaques},
                       whiteouts=rw.whiteouts, opaques=rw.opaques)

    def commit(self, *, created_by: str | None = None, message: str = "",
               author: str = "", changes: Mapping[str, object] | None = None) -> Image:
        """A new image: this container's image plus the read-write layer as a new layer
        (like ``docker commit``). The container keeps running and keeps its layer."""
        self._require_alive("commit")
        if created_by is None:
            argv = self.default_argv()
            created_by = " ".join(argv)
        layer = self.rw.to_layer(created_by=created_by, comment=message)
        stamp = datetime.fromtimestamp(self._tick(), tz=timezone.utc)
        created = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        image = self.image._derive(
            layers=(*self.image.layers, layer),
            history=(*self.image.history,
                     HistoryEntry(created_by=created_by, created=created, comment=message,
                                  author=author)),
        )
        self._notify("commit")  # a durability point: a store makes the upper dir durable
        return image.with_config(**changes) if changes else image

    # --- running -------------------------------------------------------------------------
    def default_argv(self) -> list[str]:
        cfg = self.image.config
        argv = [*(cfg.entrypoint or ()), *(cfg.cmd or ())]
        return argv or ["/bin/sh"]

    def start(self, *, real: bool | None = None) -> Container:
        """Start PID 1 (the image's ENTRYPOINT + CMD). A command that does not keep
        running (``touch /happy.txt``) runs through the shell and the container exits
        with its status, like ``docker run``. ``real=True`` runs it as a real process
        (namespaces, else ptrace: :mod:`layerlab.executors`); a long-running CMD stays
        simulated there."""
        self._require_alive("start")
        if self.state in (ContainerState.RUNNING, ContainerState.PAUSED):
            raise ContainerStateError(f"container {self.name} is already {self.state}")
        argv = self.default_argv()
        self.state = ContainerState.RUNNING
        self.exit_code = None
        self._ns.spawn(argv)
        if not _is_daemon(argv):
            result = self._run(argv, real=real)
            self._ns.exit_all()
            self.state = ContainerState.EXITED
            self.exit_code = result.exit_code
        return self

    @property
    def handles_sigterm(self) -> bool:
        """Does PID 1 end on SIGTERM? Only with a handler (or ``init``): the kernel ignores
        a signal PID 1 of a namespace has no handler for (:mod:`layerlab.processes`)."""
        from .processes import handles_sigterm

        return self.init or handles_sigterm(self.default_argv())

    def stop(self) -> None:
        """``docker stop``: SIGTERM to PID 1, SIGKILL after the grace period. A PID 1 with
        no SIGTERM handler ignores SIGTERM, so it ends with 137 (128 + SIGKILL) after the
        grace period; one that handles it ends with 143 (128 + SIGTERM) at once; see
        ``stop_reason``. The read-write layer stays."""
        from .processes import stop_outcome

        status, why = stop_outcome(self.default_argv(), init=self.init)
        self._signal_exit("stop", status)
        self.stop_reason = why

    def kill(self) -> None:
        """Kill: PID 1 gets SIGKILL (status 137); the read-write layer stays."""
        self._signal_exit("kill", 137)
        self.stop_reason = "SIGKILL: 128 + 9"

    def _signal_exit(self, action: str, status: int) -> None:
        self._require_alive(action)
        if self.state not in (ContainerState.RUNNING, ContainerState.PAUSED):
            raise ContainerStateError(f"cannot {action} container {self.name}: it is {self.state}")
        self._ns.exit_all()
        self.state = ContainerState.EXITED
        self.exit_code = status

    def pause(self) -> None:
        if self.state is not ContainerState.RUNNING:
            raise ContainerStateError(f"cannot pause container {self.name}: it is {self.state}")
        self._ns.set_state("paused")
        self.state = ContainerState.PAUSED

    def unpause(self) -> None:
        if self.state is not ContainerState.PAUSED:
            raise ContainerStateError(f"cannot unpause container {self.name}: it is {self.state}")
        self._ns.set_state("running")
        self.state = ContainerState.RUNNING

    def rm(self, *, force: bool = False) -> None:
        """Remove the container and its read-write layer (``force`` stops it first)."""
        self._require_alive("rm")
        if self.state in (ContainerState.RUNNING, ContainerState.PAUSED):
            if not force:
                raise ContainerStateError(
                    f"cannot remove container {self.name}: it is {self.state}; stop it first "
                    "or use force=True")
            self.kill()
        self.rw = ReadWriteLayer()
        self.state = ContainerState.REMOVED

    def top(self) -> list[Process]:
        """The processes as the container sees them (PIDs from 1)."""
        return self._ns.processes()

    def exec(self, command: str | Sequence[str], *, detach: bool = False,
             real: bool | None = None) -> ExecResult:
        """Run a command in the running container through the simulated shell, or with
        ``real=True`` as a real process in the real layers (:mod:`layerlab.executors`).

        Like ``docker exec``, the command is run as it is, not wrapped in ``sh -c``: a
        string of plain words (``"sleep 100"``) is split into ``["sleep", "100"]``, so the
        process table shows ``sleep 100``. A string with shell syntax (a redirect, ``;``,
        ``&&``, ``|``, ``$``...) needs a shell; it runs as ``["sh", "-c", command]``, which
        is what you would type: ``docker exec c sh -c 'echo hi > /f'``.

        With ``detach=True`` the process stays in the process table until the container
        stops (``docker exec -d``)."""
        self._require_alive("exec")
        if self.state is not ContainerState.RUNNING:
            raise ContainerStateError(
                f"cannot exec in container {self.name}: it is {self.state} (start it first)")
        argv = _exec_argv(command)
        proc = self._ns.spawn(argv, ppid=0)
        try:
            return self._run(argv, real=real)
        finally:
            if not detach:
                self._ns.exit(proc.pid)

    def run_command(self, command: str, *, real: bool | None = None) -> ExecResult:
        """Run a shell command in the filesystem without the lifecycle (used by builds)."""
        self._require_alive("run a command")
        return self._run(["sh", "-c", command], real=real)

    def run_argv(self, argv: Sequence[str], *, real: bool | None = None) -> ExecResult:
        """Run ``argv`` (exec form, or a ``SHELL`` such as ``["/bin/bash", "-c", ...]``)
        in the filesystem without the lifecycle (used by builds)."""
        self._require_alive("run a command")
        return self._run(list(argv), real=real)

    def _run(self, argv: Sequence[str], *, real: bool | None = None) -> ExecResult:
        """Hand ``argv`` to the executor: the one given to the container, else the one the
        mode rule picks for ``real`` (:func:`layerlab.executors.choose`), through the
        runner :mod:`layerlab.executors` registers (:func:`layerlab.execution.default_runner`)."""
        use_real = real if real is not None else self.real
        run = default_runner()
        return run(self, list(argv), real=bool(use_real), executor=self.executor)


_SHELL_SYNTAX = re.compile(r"[|&;<>()$`\\*?\[\]#~{}\n]|^\s*[A-Za-z_][A-Za-z0-9_]*=")


def _exec_argv(command: str | Sequence[str]) -> list[str]:
    """The argv ``docker exec`` runs for ``command`` (see :meth:`Container.exec`).

    >>> _exec_argv("sleep 100"), _exec_argv("echo 'a b'")
    (['sleep', '100'], ['echo', 'a b'])
    >>> _exec_argv("echo hi > /f")
    ['sh', '-c', 'echo hi > /f']
    """
    if not isinstance(command, str):
        return list(command)
    if not _SHELL_SYNTAX.search(command):
        try:
            words = shlex.split(command)
        except ValueError:
            words = []
        if words:
            return words
    return ["sh", "-c", command]


def _is_daemon(argv: Sequence[str]) -> bool:
    name = argv[0].rsplit("/", 1)[-1]
    if name in {"sh", "bash", "ash", "dash"}:
        from .processes import handles_sigterm

        # a script that traps TERM and waits is a long-running PID 1 (the kit's handler example)
        return "-c" not in argv or (handles_sigterm(argv) and "wait" in argv[-1])
    return name in _DAEMONS
