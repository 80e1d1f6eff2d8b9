"""The per-container ``-init`` layer Docker puts between the image and the container.

Before a container's read-write layer is made, Docker creates a small read-only layer with
empty *mount points* for the files it bind-mounts into every container (``/etc/hosts``,
``/etc/resolv.conf``, ``/etc/hostname``), the marker ``/.dockerenv``, ``/dev/console`` and
the directories it mounts filesystems on (Docker's ``daemon/initlayer``). With overlay2 it
is ``overlay2/<mount-id>-init/diff`` (the container's ``lower`` file names it first, and
``layerdb/mounts/<id>/init-id`` records it); with the containerd image store it is the
committed snapshot ``<container-id>-init`` that the container's active snapshot sits on.

>>> sorted(e.path for e in init_layer().entries)[:4]
['/.dockerenv', '/dev', '/dev/console', '/dev/pts']
"""

from __future__ import annotations

from ..digest import sha256_digest
from ..entry import Entry, EntryKind
from ..layer import Layer

__all__ = ["INIT_PATHS", "init_layer"]

#: what Docker's init layer holds: path -> "dir", "file", or a symlink target
INIT_PATHS: dict[str, str] = {
    "/dev/pts": "dir",
    "/dev/shm": "dir",
    "/proc": "dir",
    "/sys": "dir",
    "/.dockerenv": "file",
    "/etc/resolv.conf": "file",
    "/etc/hosts": "file",
    "/etc/hostname": "file",
    "/dev/console": "file",
    "/etc/mtab": "/proc/mounts",
}

_EMPTY = sha256_digest(b"")
_MTIME = 1767225600  # 2026-01-01: fixed, so the init layer's digest is the same everywhere


def init_layer() -> Layer:
    """The init layer as a :class:`~layerlab.Layer`: empty files (mode 0755, as Docker
    makes them), directories 0755 and ``/etc/mtab -> /proc/mounts``."""
    entries: list[Entry] = []
    dirs = {"/dev", "/etc"} | {p for p, kind in INIT_PATHS.items() if kind == "dir"}
    for d in sorted(dirs):
        entries.append(Entry(path=d, kind=EntryKind.DIR, mode=0o755, mtime=_MTIME))
    for path, kind in sorted(INIT_PATHS.items()):
        if kind == "file":
            entries.append(Entry(path=path, kind=EntryKind.FILE, mode=0o755, mtime=_MTIME,
                                 size=0, digest=_EMPTY))
        elif kind != "dir":
            entries.append(Entry(path=path, kind=EntryKind.SYMLINK, mode=0o777,
                                 mtime=_MTIME, linkname=kind))
    return Layer.from_entries(entries, {_EMPTY: b""}, created_by="docker init layer")
