"""Ptrace mode: real programs where namespaces are refused, under PRoot.

Real mode (:mod:`layerlab.realmode`) needs user namespaces that may mount overlayfs;
Binder, many JupyterHubs and most container platforms refuse them. Ptrace mode runs the
same real programs without any namespace, the way udocker runs images unprivileged:

1. the container's merged view is *materialized* into a private directory (mode 0700, on a
   tmpfs when ``/dev/shm`` is there) by :func:`layerlab.materialize.materialize_view`, the
   scoped writer that never follows a symlink, drops setuid/setgid bits and creates no
   device node: a full copy, as Docker's ``vfs`` storage driver keeps one per layer;
2. the command runs under PRoot (Debian's ``proot``) with that directory as its root:
   PRoot traces every system call with ``ptrace(2)`` and rewrites the paths in it, so the
   process sees the directory as ``/``; ``-0`` makes it see itself as root;
3. afterwards the tree is compared with what was materialized (one ``lstat`` per path: a
   changed inode, ctime or mtime marks a change) and the differences are applied to the
   container through its public write API: new paths are written, deleted ones removed
   (a whiteout when the image had them), a directory that was removed and made again (a
   new inode) is removed and made again, which makes it opaque. So ``diff()`` and
   ``commit()`` give what the simulated shell and real mode give for the same script.

The comparison relies on a removed-and-made-again directory getting a new inode number: true
on tmpfs (numbers only grow), which is why the tree goes there; on a disk file system that
reuses a freed number at once, such a directory may be taken for the old one changed, and
lose its opaque marker.

The tree stays for the container's next command (it is made again only when the container
was changed from Python in between), and goes with the container (``rm``, or when the
object is collected, or at exit).

What is missing, and why it matters (the lesson of notebook 04): there is **no PID
namespace** (``ps`` shows the host's processes: ``/proc`` is the host's), **no mount
namespace** (``mount`` lists the host's mounts), no network, IPC or UTS namespace (the
host's hostname), and no resource limits. ``id`` says root only because PRoot fakes it.

Isolation: symlinks in the image are resolved by PRoot inside the guest root, so links to
``/etc``, ``..`` chains and absolute targets stay inside the tree; setuid bits are dropped
when the tree is written and not honoured for a traced process anyway. Run as root, the
command runs as ``nobody`` (uid 65534) on a tree owned by ``nobody``, so it cannot use the
host root's privileges (nor read ``/proc/1/root``). A launcher that is the *subreaper* of
everything the command starts kills the whole process tree when the command ends or times
out (a ``setsid`` daemon included), and a timeout also removes the tree. PRoot is not a
security boundary against hostile programs (a process can make system calls PRoot does
not translate); ptrace mode is for teaching images, like real mode.

>>> support = detect()
>>> support.available in (True, False)
True
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from ._fsutil import remove_tree
from .executors import (
    RealModeError,
    RealModeUnavailable,
    check_runnable,
    forced_mode,
    launcher_interpreter,
    run_launcher,
)
from .executors import Support as _Support
from .materialize import layers_opener, materialize_view

if TYPE_CHECKING:
    from .container import Container
    from .shell import ExecResult

__all__ = ["NOBODY", "MaterializedTree", "Support", "detect", "materialized_root", "run_ptrace"]

#: the uid and gid a run as root drops to
NOBODY = 65534
#: host paths bound into the guest: the host's /proc (no PID namespace) and a few devices
BINDS = ("/proc", "/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")
_KILLED = "layerlab: ptrace: killed after"

#: the launcher: subreaper of everything the command starts; drops to nobody as root;
#: kills the whole tree when PRoot exits or the time is up. Standard library only.
_LAUNCHER = r"""
import ctypes, json, os, signal, sys, time
spec = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of the command come to us
main = os.fork()
if main == 0:
    try:
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG: SIGKILL when the launcher dies
        if spec["uid"] is not None:
            os.setgroups([])
            os.setresgid(spec["uid"], spec["uid"], spec["uid"])
            os.setresuid(spec["uid"], spec["uid"], spec["uid"])
        os.execve(spec["argv"][0], spec["argv"], spec["env"])
    except OSError as exc:
        sys.stderr.write(f"layerlab ptrace: cannot start proot: {exc}\n")
        os._exit(127)

def descendants():
    kids = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(name))
    found, todo = [], [os.getpid()]
    while todo:
        for pid in kids.get(todo.pop(), []):
            found.append(pid)
            todo.append(pid)
    return found

def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []

def ended(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True

def sweep(keep=None):
    while True:
        for pid in descendants():
            if pid == keep:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if keep is not None:
            return
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.005)

deadline = time.monotonic() + spec["timeout"]
status = None
me = os.getpid()
while status is None:
    try:
        pid, raw = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == main:
        status = os.waitstatus_to_exitcode(raw)
    elif pid == 0:
        # The command is PRoot's only child; everything else descends from it, and what
        # it leaves behind comes to us (the subreaper). PRoot has no live child while we
        # hold orphans: the command ended, and like the end of PID 1, the rest goes too.
        if not [k for k in children(main) if not ended(k)] and \
                [k for k in children(me) if k != main]:
            sweep(keep=main)
        if time.monotonic() > deadline:
            sweep()
            sys.stderr.write(f"layerlab: ptrace: killed after {spec['timeout']:g} s\n")
            sys.exit(137)
        time.sleep(0.004)
sweep()
sys.exit(status if status >= 0 else 128 - status)
"""


class Support(_Support):
    """What :func:`detect` found: ``how`` says as whom the command runs."""

    label = "ptrace mode"
    joiner = ", "


def _runner_uid() -> int | None:
    """The uid the command runs as: nobody when we are root, else ourselves (None)."""
    return NOBODY if os.geteuid() == 0 else None


@functools.cache
def _detect(kernel: str) -> Support:
    del kernel  # the cache key: detected once per kernel
    if not sys.platform.startswith("linux"):
        return Support(False, "", f"needs Linux (this is {sys.platform})")
    proot = shutil.which("proot")
    if proot is None:
        return Support(False, "", "the proot command is missing (Debian's proot package)")
    true = shutil.which("true") or "/bin/true"
    uid = _runner_uid()
    try:
        done = subprocess.run([proot, "-r", "/", true], capture_output=True, text=True,
                              timeout=20, check=False, user=uid, group=uid,
                              extra_groups=[] if uid is not None else None)
    except (OSError, subprocess.SubprocessError) as exc:
        return Support(False, "", f"proot cannot run here ({exc})")
    if done.returncode != 0:
        return Support(False, "", "proot cannot trace here (ptrace refused?): "
                       f"{done.stderr.strip()[-200:] or f'exit {done.returncode}'}")
    return Support(True, f"as uid {NOBODY} (nobody)" if uid is not None
                   else f"as uid {os.getuid()}", "")


def detect() -> Support:
    """Can this machine run ptrace mode? (Cached per kernel; ``LAYERLAB_REAL_MODE=off`` or
    ``=namespaces`` turns it off.)"""
    forced = forced_mode()
    if forced == "off":
        return Support(False, "", "turned off by LAYERLAB_REAL_MODE")
    if forced == "namespaces":
        return Support(False, "", "LAYERLAB_REAL_MODE=namespaces chooses namespaces instead")
    return _detect(os.uname().release)


# --- the materialized tree ----------------------------------------------------------------

class _Stat(NamedTuple):
    kind: str  # d f l o (other)
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    ctime: int
    ino: int
    nlink: int
    target: str


#: paths whose mode was changed so that they could be read back (the snapshot is retaken)
_REPAIRED: list[str] = []


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "d"
    if stat.S_ISREG(mode):
        return "f"
    return "l" if stat.S_ISLNK(mode) else "o"


def _scan(root: str, *, chown_to: int | None = None) -> dict[str, _Stat]:
    """Every path under ``root`` (as ``/a/b``) with its lstat; ``chown_to`` first gives
    each entry to that uid and gid (the tree a run as root hands to nobody)."""
    found: dict[str, _Stat] = {}
    todo = [("", root)]
    while todo:
        rel, real = todo.pop()
        try:
            entries = list(os.scandir(real))
        except PermissionError:  # the command made a directory unreadable to us
            os.chmod(real, 0o700)
            _REPAIRED.append(real)
            entries = list(os.scandir(real))
        for e in entries:
            path = f"{rel}/{e.name}"
            if chown_to is not None:
                os.lchown(e.path, chown_to, chown_to)
            st = e.stat(follow_symlinks=False)
            kind = _kind(st.st_mode)
            found[path] = _Stat(kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino,
                                st.st_nlink, os.readlink(e.path) if kind == "l" else "")
            if kind == "d":
                todo.append((path, e.path))
    return found


def _private_parent() -> str | None:
    """A tmpfs for the tree when there is one we may write (/dev/shm), else the default."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


class MaterializedTree:
    """One container's materialized root, and what it held after the last command.

    ``materialize(container)`` writes the merged view (and takes the snapshot);
    ``apply(container)`` compares the tree with the snapshot and applies the differences
    to the container, then takes a new snapshot. ``run_ptrace`` runs PRoot in between.
    """

    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix="layerlab-ptrace-", dir=_private_parent())
        self.root = os.path.join(self.base, "root")
        self.snapshot: dict[str, _Stat] = {}
        self.stale = True
        self.applying = False
        self.removed = False
        #: mount points made for PRoot's binds (not in the view): never part of a diff
        self.ignored: set[str] = set()
        #: the host paths bound into this tree (:data:`BINDS` the image leaves room for)
        self.binds: list[str] = []

    def materialize(self, container: Container) -> None:
        if os.path.lexists(self.root):
            remove_tree(self.root)
        # a container that changed nothing yet shows its image's view: materialize that
        # (its layers at hand, each file's content is opened without a lookup)
        if not len(container.rw):
            view = container.image.view()
            materialize_view(view, self.root, layers_opener(view, container.image.layers))
        else:
            materialize_view(container.view(), self.root)
        self.ignored = set()
        self.binds = [host for host in BINDS if os.path.exists(host) and self._mount_point(host)]
        uid = _runner_uid()
        if uid is not None:
            for path in (self.base, self.root):
                os.chown(path, uid, uid)
        self.snapshot = self.scan(chown_to=uid)
        self.stale = False

    def _mount_point(self, host: str) -> bool:
        """Make the mount point of a bind in the tree; False (no bind) when the image has
        something else there: a symlink (``/proc -> /``) would move the bind elsewhere."""
        parts = host.strip("/").split("/")
        is_dir = os.path.isdir(host)
        for i in range(1, len(parts) + 1):
            path = "/" + "/".join(parts[:i])
            full = self.root + path
            last = i == len(parts)
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                if not last or is_dir:
                    os.mkdir(full, 0o755)
                else:
                    os.close(os.open(full, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW,
                                     0o644))
                self.ignored.add(path)
                continue
            wanted = stat.S_ISDIR(st.st_mode) if (not last or is_dir) else \
                not stat.S_ISLNK(st.st_mode) and not stat.S_ISDIR(st.st_mode)
            if not wanted:
                return False
        return True

    def scan(self, *, chown_to: int | None = None) -> dict[str, _Stat]:
        found = _scan(self.root, chown_to=chown_to)
        for path in self.ignored:
            found.pop(path, None)
        return found

    def apply(self, container: Container) -> None:
        """Apply what changed in the tree since the snapshot to ``container``."""
        new = self.scan()
        self.applying = True
        _REPAIRED.clear()
        try:
            _apply(container, self.root, self.snapshot, new)
        finally:
            self.applying = False
        # reading the tree changes nothing in it, unless a mode had to be repaired to read
        self.snapshot = self.scan() if _REPAIRED else new

    def remove(self) -> None:
        self.removed = True
        remove_tree(self.base)


_TREES: weakref.WeakKeyDictionary[Container, MaterializedTree] = weakref.WeakKeyDictionary()


def _tree_for(container: Container) -> MaterializedTree:
    tree = _TREES.get(container)
    if tree is not None and not tree.removed:
        return tree
    tree = MaterializedTree()
    _TREES[container] = tree
    weakref.finalize(container, tree.remove)

    def listen(_: Container, event: str) -> None:
        if event == "remove":
            tree.remove()
        elif event == "change" and not tree.applying:
            tree.stale = True

    container.listeners.append(listen)
    return tree


def materialized_root(container: Container) -> str | None:
    """The directory ptrace mode runs ``container``'s commands in (None before the first)."""
    tree = _TREES.get(container)
    return tree.root if tree is not None and not tree.removed else None


# --- running ------------------------------------------------------------------------------

def run_ptrace(container: Container, argv: Sequence[str], *, timeout: float = 60.0) -> ExecResult:
    """Run ``argv`` under PRoot in ``container``'s materialized view (module docstring).

    Raises :class:`~layerlab.executors.RealModeUnavailable` when the machine or the image
    cannot, and :class:`~layerlab.executors.RealModeError` when the setup failed.
    """
    from .shell import ExecResult

    support = detect()
    check_runnable(container, support)
    proot = shutil.which("proot")
    if proot is None:
        raise RealModeUnavailable("the proot command is missing (Debian's proot package)")
    tree = _tree_for(container)
    if tree.stale:
        try:
            tree.materialize(container)
        except OSError as exc:
            tree.remove()
            raise RealModeError(f"ptrace mode: materializing the view failed: {exc}") from exc
    binds = [arg for path in tree.binds for arg in ("-b", path)]
    env = [f"{k}={v}" for k, v in sorted(container.env.items())]
    guest = ["env", "-i", "HOME=/root", f"HOSTNAME={container.name}", *env, *argv]
    spec = {
        "argv": [proot, "-0", "-r", tree.root, "-w", container.workdir, *binds, *guest],
        "env": {"PATH": container.env.get("PATH", "/usr/bin:/bin"), "PROOT_TMP_DIR": tree.base,
                "LANG": "C"},
        "uid": _runner_uid(),
        "timeout": timeout,
    }
    launcher = [launcher_interpreter(), "-I", "-S", "-c", _LAUNCHER, json.dumps(spec)]
    # the launcher kills the command at ``timeout`` itself; this is for a launcher that hangs
    status, out, err, _ = run_launcher(launcher, timeout=timeout + 30, errors="replace",
                                       newlines=False)
    err = "".join(line for line in err.splitlines(keepends=True)
                  if not line.startswith(("proot warning: can't chdir", "proot info: default")))
    killed = _KILLED in err
    tree.apply(container)
    if killed:
        tree.remove()  # a timeout leaves no directory behind
    return ExecResult(status, out, err)


def _owner(st: _Stat) -> tuple[int, int]:
    """Owner in the container: the uid the command ran as is the container's root."""
    runner = _runner_uid()
    me = (runner, runner) if runner is not None else (os.getuid(), os.getgid())
    return (0 if st.uid == me[0] else st.uid, 0 if st.gid == me[1] else st.gid)


def _read(root: str, path: str) -> bytes:
    full = root + path
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except PermissionError:  # made unreadable by the command (we are not root)
        os.chmod(full, 0o600, follow_symlinks=False)
        _REPAIRED.append(full)
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _depth_key(path: str) -> list[str]:
    return path.split("/")


def _apply(container: Container, root: str, old: dict[str, _Stat],
           new: dict[str, _Stat]) -> None:
    """Turn what changed in the tree (``old`` -> ``new``) into container operations.

    Removed first (top-most paths, recursively): a path that went, changed kind, a
    symlink with a new target, a directory with a new inode (removed and made again).
    Then, parents before children: new paths are created, changed ones updated.
    """
    gone: set[str] = set()
    tops: list[str] = []
    for path in sorted(old, key=_depth_key):
        parent = path.rsplit("/", 1)[0]
        if parent in gone:
            gone.add(path)
            continue
        was, after = old[path], new.get(path)
        if (after is None or after.kind != was.kind
                or (was.kind == "d" and after.ino != was.ino)
                or (was.kind == "l" and after.target != was.target)):
            gone.add(path)
            tops.append(path)
    for path in tops:
        container.remove(path, recursive=True, missing_ok=True)
    inodes: dict[int, str] = {}
    for path in sorted(new, key=_depth_key):
        st = new[path]
        before = None if path in gone else old.get(path)
        if before is None:
            _create(container, root, path, st, inodes)
        elif (st.ino, st.ctime, st.mtime) != (before.ino, before.ctime, before.mtime):
            _update(container, root, path, before, st)
        if st.kind == "f" and st.nlink > 1:
            inodes.setdefault(st.ino, path)


def _create(container: Container, root: str, path: str, st: _Stat,
            inodes: dict[int, str]) -> None:
    if st.kind == "d":
        container.mkdir(path, mode=st.mode)
    elif st.kind == "f":
        if st.nlink > 1 and st.ino in inodes:
            container.hardlink(inodes[st.ino], path)
            return
        container.write(path, _read(root, path), mode=st.mode)
    elif st.kind == "l":
        container.symlink(st.target, path)
        return
    else:
        return  # a FIFO or socket the command made: not kept (PRoot makes no devices)
    uid, gid = _owner(st)
    if (uid, gid) != (0, 0):
        container.chown(path, uid, gid)


def _update(container: Container, root: str, path: str, before: _Stat, st: _Stat) -> None:
    if st.kind == "l":
        return  # same target (else it was removed and made again): only its times moved
    touched = False
    if st.kind == "f" and (st.size, st.mtime, st.ino) != (before.size, before.mtime,
                                                         before.ino):
        data = _read(root, path)
        if data != container.read(path):
            container.write(path, data, mode=st.mode)
            touched = True
    if st.mode != before.mode:
        container.chmod(path, st.mode)
        touched = True
    if (st.uid, st.gid) != (before.uid, before.gid):
        container.chown(path, *_owner(st))
        touched = True
    if not touched:  # times only (a touch, a child added and removed): a copy-up all the same
        container.touch(path)
