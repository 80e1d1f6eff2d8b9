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

import contextlib
import os
import shutil
from typing import Any

from ..digest import sha256_digest
from ..entry import Entry, EntryKind
from ..layer import Layer
from ..overlaydir import write_overlay_dir
from .durable import atomic_write, replace_dir
from .layout import Layout

__all__ = ["INIT_PATHS", "init_layer", "overlay2_init_id", "remove_overlay2_init",
           "write_overlay2_init"]

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


def overlay2_init_id(layout: Layout, container_id: str) -> str:
    """The init layer's directory name under ``overlay2/``: ``<mount-id>-init``."""
    return layout.mount_id(container_id) + "-init"


def write_overlay2_init(layout: Layout, container_id: str, image_chains: list[str],
                        form: dict[str, Any]) -> None:
    """Make ``overlay2/<mount-id>-init/{diff,link,lower,work}`` (once, in one rename), its
    short link under ``overlay2/l/``, and the container layer's ``link`` and ``lower``
    files (the init layer first, then the image's layers from the top down), as Docker's
    overlay2 driver lays them out."""
    init_id = overlay2_init_id(layout, container_id)
    below = [f"l/{layout.short_link(layout.layer_id(ch))}" for ch in reversed(image_chains)]
    init_short = layout.short_link(init_id)

    def build(tmp: str) -> None:
        os.makedirs(os.path.join(tmp, "work"))
        write_overlay_dir(init_layer(), os.path.join(tmp, "diff"), **form)
        with open(os.path.join(tmp, "link"), "w") as f:
            f.write(init_short)
        if below:
            with open(os.path.join(tmp, "lower"), "w") as f:
                f.write(":".join(below))

    replace_dir(build, layout.layer_home(init_id))
    links = os.path.join(layout.root, "overlay2", "l")
    os.makedirs(links, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.symlink(f"../{init_id}/diff", os.path.join(links, init_short))
    home = layout.container_layer_home(container_id)
    os.makedirs(home, exist_ok=True)
    mount_id = layout.mount_id(container_id)
    atomic_write(os.path.join(home, "link"), layout.short_link(mount_id).encode())
    atomic_write(os.path.join(home, "lower"), ":".join([f"l/{init_short}", *below]).encode())
    with contextlib.suppress(FileExistsError):
        os.symlink(f"../{mount_id}/diff", os.path.join(links, layout.short_link(mount_id)))


def remove_overlay2_init(layout: Layout, container_id: str) -> None:
    """Take a container's init layer (and the two short links) out of the store."""
    init_id = overlay2_init_id(layout, container_id)
    for name in (init_id, layout.mount_id(container_id)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(layout.root, "overlay2", "l", layout.short_link(name)))
    shutil.rmtree(layout.layer_home(init_id), ignore_errors=True)
