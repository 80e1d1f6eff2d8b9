"""The real-mode launcher: set up the namespaces, mount the layers, drop privileges, exec.

Run as a separate program (``python -I -S _sandbox.py SPEC_JSON``) by :mod:`layerlab.realmode`;
it imports only the standard library so that it starts in a few milliseconds and never loads
anything from the image. What it builds, in this order:

* **As root** (``mode == "root"``): a private mount namespace owned by the host; a user
  namespace that maps the container's ids 0-65535 to the host's unprivileged ids
  ``ROOT_ID_BASE`` .. ``ROOT_ID_BASE + 65535`` (what Docker's ``userns-remap`` does with
  ``/etc/subuid``; no ``newuidmap`` is needed because root writes the map itself); each layer
  directory mounted *idmapped* into that user namespace (``mount_setattr(MOUNT_ATTR_IDMAP)``,
  Linux >= 5.19 for overlayfs), so a file owned by uid 0 on disk is owned by the container's
  root and by nobody on the host; the overlay itself mounted by the host's root with
  ``trusted.*`` xattrs and character-device whiteouts, the form of the store's own directories.
* **Unprivileged**: one user namespace mapping the container's root to the caller's own uid
  (a single id) and an overlay mounted inside it with ``userxattr``.

Then, in both cases: new mount, PID, network (loopback only), IPC and UTS namespaces owned by
the user namespace; PID 1 mounts ``/proc``, a small ``/dev`` tmpfs with ``/dev/null``,
pivots into the overlay and detaches the host's root; sets ``no_new_privs``; shrinks the
capability bounding set to Docker's default set (:data:`KEEP_CAPS`), so the command starts with
``CapEff`` = ``00000000a80425fb`` inside its user namespace and with no capability at all over
the host. The root overlay is mounted ``nodev``; device nodes made with ``mknod`` are refused
(that needs ``CAP_MKNOD`` in the host's user namespace) and would not open anyway.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import socket
import struct
import sys
from typing import Any

READY = "__layerlab_real_mode_ready__"
#: the container's uid/gid 0 is this host id when real mode runs as root
ROOT_ID_BASE = 100000
ID_RANGE = 65536
#: Docker's default capability set (moby/oci/caps/defaults.go), by number
KEEP_CAPS = (0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31)

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000
MNT_DETACH = 2
AT_FDCWD, AT_EMPTY_PATH, AT_RECURSIVE = -100, 0x1000, 0x8000
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC = 1, 0o2000000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_IDMAP = 0x00100000
#: the new mount API's syscalls have one number on every architecture
SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_MOUNT_SETATTR = 428, 429, 442
#: pivot_root has no libc wrapper; 41 on the generic table (arm64, riscv64)
_PIVOT_ROOT = {"x86_64": 155, "i686": 217, "ppc64le": 203, "s390x": 217}
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong]


class SetupError(Exception):
    """One step of the setup failed; the message names it."""


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)}")
    return result


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    _check(_libc.mount(source.encode() if source else None, target.encode(),
                       fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                       data.encode() if data else None), f"mount {fstype or 'bind'} on {target}")


def _unshare(flags: int, what: str) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare ({what})")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _userns_fd() -> int:
    """A user namespace mapping 0-65535 to ROOT_ID_BASE..; returns an fd for it."""
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(ready_r)
        os.close(hold_w)
        code = 0 if _libc.unshare(ctypes.c_int(CLONE_NEWUSER)) == 0 else 1
        os.write(ready_w, bytes([code]))
        os.read(hold_r, 1)
        os._exit(0)
    os.close(ready_w)
    os.close(hold_r)
    try:
        if os.read(ready_r, 1) != b"\0":
            raise SetupError("unshare (user namespace): refused")
        mapping = f"0 {ROOT_ID_BASE} {ID_RANGE}\n"
        _write(f"/proc/{pid}/uid_map", mapping)
        _write(f"/proc/{pid}/gid_map", mapping)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(hold_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def _idmap_in_place(path: str, userns: int) -> None:
    """Mount ``path`` over itself, idmapped through ``userns``."""
    fd = _check(_libc.syscall(SYS_OPEN_TREE, AT_FDCWD, path.encode(),
                              OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC), f"open_tree {path}")
    try:
        attr = struct.pack("QQQQ", MOUNT_ATTR_IDMAP, 0, 0, userns)
        buf = ctypes.create_string_buffer(attr, len(attr))
        _check(_libc.syscall(SYS_MOUNT_SETATTR, fd, b"", AT_EMPTY_PATH | AT_RECURSIVE, buf,
                             len(attr)), f"idmapped mount of {path}")
        _check(_libc.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, path.encode(),
                             MOVE_MOUNT_F_EMPTY_PATH), f"move_mount {path}")
    finally:
        os.close(fd)


def _raise_permitted_caps() -> None:
    """Make every permitted capability effective again (setfsuid cleared some)."""
    header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0), 8)
    data = ctypes.create_string_buffer(24)
    _check(_libc.capget(header, data), "capget")
    _, prm0, inh0, _, prm1, inh1 = struct.unpack("6I", data.raw)
    data = ctypes.create_string_buffer(struct.pack("6I", prm0, prm0, inh0, prm1, prm1, inh1), 24)
    _check(_libc.capset(header, data), "capset")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _drop_privileges() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        if cap not in KEEP_CAPS:
            _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"dropping capability {cap}")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)


def _pid_one(spec: dict[str, Any]) -> None:
    """In the new namespaces: finish the root file system and become the command."""
    # The working directory is the overlay (set before the namespaces were made; the
    # path to it may cross directories only the host's root may enter). That copy of the
    # mount is locked to the host's tree; pivot_root needs one made here: clone it and
    # attach the clone on top.
    fd = _check(_libc.syscall(SYS_OPEN_TREE, AT_FDCWD, b".",
                              OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE),
                "cloning the overlay mount")
    _check(_libc.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, b".", MOVE_MOUNT_F_EMPTY_PATH),
           "attaching the overlay mount")
    os.fchdir(fd)
    os.close(fd)
    _mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV)
    _mount("tmpfs", "dev", "tmpfs", MS_NOSUID, "mode=755,size=65536")
    with open("dev/null", "w"):
        pass
    _mount("/dev/null", "dev/null", None, MS_BIND)
    with contextlib.suppress(OSError):
        socket.sethostname(spec["name"])
    _loopback_up()
    _check(_libc.syscall(_PIVOT_ROOT.get(os.uname().machine, 41), b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detaching the host's root")
    try:
        os.chdir(spec["workdir"])
    except OSError:
        os.chdir("/")
    _drop_privileges()
    sys.stderr.write(READY + "\n")
    sys.stderr.flush()
    argv = spec["argv"]
    os.execvp(argv[0], argv)


def main(spec: dict[str, Any]) -> int:
    mount_data = (f"lowerdir={':'.join(spec['lowers'])},upperdir={spec['upper']},"
                  f"workdir={spec['work']}")
    if spec["mode"] == "root":
        _unshare(CLONE_NEWNS, "mount")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        userns = _userns_fd()
        for path in [*spec["lowers"], os.path.commonpath([spec["upper"], spec["work"]])]:
            _idmap_in_place(path, userns)
        # the overlay keeps its mounter's credentials for its own work in the upper layer:
        # through the idmapped mounts those must be the container's root (host uid
        # ROOT_ID_BASE), still with the host root's capabilities (trusted.* xattrs, whiteouts)
        _libc.setfsgid(ROOT_ID_BASE)
        _libc.setfsuid(ROOT_ID_BASE)
        _raise_permitted_caps()
        _mount("overlay", spec["merged"], "overlay", MS_NODEV, mount_data)
        os.chdir(spec["merged"])  # carried into the namespaces made below
        _check(_libc.setns(userns, CLONE_NEWUSER), "entering the user namespace")
        os.close(userns)
        os.setgroups([])
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        _unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS,
                 "mount, PID, network, IPC and UTS")
    else:
        uid, gid = os.getuid(), os.getgid()
        _unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
                 | CLONE_NEWUTS, "user, mount, PID, network, IPC and UTS")
        _write("/proc/self/uid_map", f"0 {uid} 1\n")
        _write("/proc/self/setgroups", "deny\n")
        _write("/proc/self/gid_map", f"0 {gid} 1\n")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount("overlay", spec["merged"], "overlay", MS_NODEV, mount_data + ",userxattr")
        os.chdir(spec["merged"])
    pid = os.fork()
    if pid == 0:  # pragma: no cover - PID 1 of the container
        try:
            _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
            _pid_one(spec)
        except (SetupError, OSError) as exc:
            sys.stderr.write(f"layerlab sandbox: {exc}\n")
            sys.stderr.flush()
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":  # pragma: no cover - run by realmode.run_real
    try:
        sys.exit(main(json.loads(sys.argv[1])))
    except (SetupError, OSError) as exc:
        sys.stderr.write(f"layerlab sandbox: {exc}\n")
        sys.exit(127)
