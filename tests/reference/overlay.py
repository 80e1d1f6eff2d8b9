"""Test helper: mount stacks of overlay layer directories with the kernel and walk the result.

Two mounters, one interface (``mount_and_walk(lowers, target) -> {path: Node}``):

* :class:`DirectMounter` (real root): ``mount(2)`` through ctypes in this process; layer
  directories use ``trusted.overlay.*`` xattrs; owners can be compared.
* :class:`UsernsMounter` (anyone): one helper process started with ``unshare -Urm`` that
  mounts with ``userxattr`` (so ``user.overlay.*`` xattrs) and walks the mount, answering
  over a pipe. Owners outside the namespace's map read as 65534, so they are not compared.

This file is also the helper's program (``python overlay.py --serve``), so the mounting and
walking half imports only the standard library.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import stat
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # the helper process runs this file without importing layerlab
    from layerlab import View

MS_RDONLY = 1


class Node(NamedTuple):
    """What ``lstat`` (plus readlink / read) says about one path."""

    kind: str  # "f" regular, "d" dir, "l" symlink, "p" fifo, "c" char, "b" block
    mode: int  # permission bits
    uid: int
    gid: int
    mtime: int
    size: int  # regular files only (0 otherwise)
    content: bytes | None  # regular files only
    target: str | None  # symlinks only


_KINDS = {
    stat.S_IFREG: "f",
    stat.S_IFDIR: "d",
    stat.S_IFLNK: "l",
    stat.S_IFIFO: "p",
    stat.S_IFCHR: "c",
    stat.S_IFBLK: "b",
}


def walk(top: str) -> dict[str, Node]:
    """Every path below ``top`` (as ``/a/b``), never following symlinks."""
    out: dict[str, Node] = {}
    pending = [("", top)]
    while pending:
        rel, host = pending.pop()
        with os.scandir(host) as it:
            names = [d.name for d in it]
        for name in names:
            path, real = f"{rel}/{name}", os.path.join(host, name)
            try:
                st = os.lstat(real)
            except FileNotFoundError:
                # Kernel quirk: readdir of a directory that only one layer has is passed
                # through unfiltered, so a whiteout there is listed; lookup hides it. What
                # exists is what lookup finds.
                continue
            kind = _KINDS.get(stat.S_IFMT(st.st_mode), "?")
            content = target = None
            if kind == "f":
                with open(real, "rb") as f:
                    content = f.read()
            elif kind == "l":
                target = os.readlink(real)
            elif kind == "d":
                pending.append((path, real))
            out[path] = Node(kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                             int(st.st_mtime), st.st_size if kind == "f" else 0, content, target)
    return out


# --- mounting --------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount_overlay(lowers: Sequence[str], target: str, *, userxattr: bool) -> None:
    """Read-only overlay of ``lowers`` (given base first; the kernel wants top first)."""
    opts = "lowerdir=" + ":".join(reversed(lowers)) + (",userxattr" if userxattr else "")
    _check(_libc.mount(b"overlay", target.encode(), b"overlay", MS_RDONLY, opts.encode()),
           f"mount -t overlay -o {opts} {target}")


def umount(target: str) -> None:
    _check(_libc.umount2(target.encode(), 0), f"umount {target}")


def mount_tmpfs(target: str) -> None:
    _check(_libc.mount(b"tmpfs", target.encode(), b"tmpfs", 0, b"mode=0755"),
           f"mount -t tmpfs {target}")


def _mount_and_walk(lowers: Sequence[str], target: str, *, userxattr: bool) -> dict[str, Node]:
    mount_overlay(lowers, target, userxattr=userxattr)
    try:
        return walk(target)
    finally:
        umount(target)


class DirectMounter:
    """Mounts in this process (needs CAP_SYS_ADMIN): ``trusted.*`` xattrs, owners comparable."""

    xattr_namespace = "trusted"
    compares_owners = True
    name = "direct (root)"

    def mount_and_walk(self, lowers: Sequence[str], target: str) -> dict[str, Node]:
        return _mount_and_walk(lowers, target, userxattr=False)

    def close(self) -> None:
        pass


class UsernsMounter:
    """Mounts inside ``unshare -Urm`` (a helper process): ``user.*`` xattrs, ``userxattr``."""

    xattr_namespace = "user"
    compares_owners = False
    name = "user namespace (unshare -Urm, userxattr)"

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            ["unshare", "-Urm", sys.executable, os.path.abspath(__file__), "--serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )

    def mount_and_walk(self, lowers: Sequence[str], target: str) -> dict[str, Node]:
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps({"lowers": list(lowers), "target": target}).encode() + b"\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            err = self._proc.stderr.read().decode() if self._proc.stderr else ""
            raise OSError(f"the unshare -Urm helper died: {err.strip()}")
        answer = json.loads(line)
        if "error" in answer:
            raise OSError(answer["errno"], answer["error"])
        return {p: _decode(n) for p, n in answer["nodes"].items()}

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=10)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()


Mounter = DirectMounter | UsernsMounter


def _encode(node: Node) -> list[object]:
    content = None if node.content is None else base64.b64encode(node.content).decode()
    return [node.kind, node.mode, node.uid, node.gid, node.mtime, node.size, content, node.target]


def _decode(raw: list[object]) -> Node:
    kind, mode, uid, gid, mtime, size, content, target = raw
    data = None if content is None else base64.b64decode(str(content))
    return Node(str(kind), int(str(mode)), int(str(uid)), int(str(gid)), int(str(mtime)),
                int(str(size)), data, None if target is None else str(target))


def serve(stdin: IO[str], stdout: IO[str]) -> None:
    """The helper's loop: one JSON request per line, one JSON answer per line."""
    for line in stdin:
        request = json.loads(line)
        try:
            nodes = _mount_and_walk(request["lowers"], request["target"], userxattr=True)
        except OSError as exc:
            answer: dict[str, object] = {"error": str(exc), "errno": exc.errno or 0}
        else:
            answer = {"nodes": {p: _encode(n) for p, n in nodes.items()}}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


# --- comparing ---------------------------------------------------------------------------

_ENGINE_KINDS = {"file": "f", "hardlink": "f", "dir": "d", "symlink": "l", "fifo": "p",
                 "char": "c", "block": "b"}


def engine_nodes(view: View) -> dict[str, Node]:
    """The same description of a :class:`layerlab.View` (hardlinks are regular files)."""
    out = {}
    for entry in view.walk():
        kind = _ENGINE_KINDS[entry.kind.value]
        content = view.read(entry.path) if kind == "f" else None
        target = entry.linkname if kind == "l" else None
        out[entry.path] = Node(kind, entry.mode, entry.uid, entry.gid, entry.mtime,
                               entry.size if kind == "f" else 0, content, target)
    return out



def compare(
    kernel: Mapping[str, Node],
    engine: Mapping[str, Node],
    *,
    owners: bool,
    dir_meta: bool = True,
    mtimes: bool = True,
) -> list[str]:
    """Every difference, one line each, sorted by path.

    ``dir_meta=False`` leaves out directories' mode, owner and mtime (for stacks the
    overlay form cannot express exactly, see :mod:`layerlab.overlaydir`); ``mtimes=False``
    leaves out all mtimes.
    """
    problems = []
    for path in sorted(kernel.keys() | engine.keys()):
        k, e = kernel.get(path), engine.get(path)
        if k is None or e is None:
            where = "engine only" if k is None else "kernel only"
            problems.append(f"{path}: {where}: {e or k}")
            continue
        fields = ["kind", "size", "content", "target"]
        if k.kind != "d" or dir_meta:
            fields += ["mode"] + (["mtime"] if mtimes else []) + (["uid", "gid"] if owners else [])
        for name in fields:
            kv, ev = getattr(k, name), getattr(e, name)
            if kv != ev:
                if name == "mode":
                    kv, ev = oct(kv), oct(ev)
                problems.append(f"{path}: {name}: kernel {kv!r} != engine {ev!r}")
    return problems


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    serve(sys.stdin, sys.stdout)
