"""The kernel's overlay mount of a store's directories (``mount -t overlay``, needs root).

A container's root filesystem is an overlay of its lower directories (the ``-init`` layer
and the image's layers, nearest first, as ``lowerdir=`` lists them), its upper directory
(where ``happy.txt`` lands) and an empty work directory on the same file system. These
functions build the options and run ``mount``/``umount``; which directories a layout
uses is the store's business (:meth:`layerlab.store.Store.mount_options`).

>>> overlay_options(["/s/init", "/s/l1", "/s/l0"], "/s/c/diff", "/s/c/work")
'lowerdir=/s/init:/s/l1:/s/l0,upperdir=/s/c/diff,workdir=/s/c/work'
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from .._fsutil import remove_tree

__all__ = ["empty_dir", "mount_overlay", "overlay_options", "unmount_overlay"]


def overlay_options(lowers: Sequence[str], upper: str, work: str) -> str:
    """The ``-o`` options of ``mount -t overlay``: ``lowers`` nearest first."""
    return f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}"


def empty_dir(path: str) -> str:
    """``path`` as a new empty directory (whatever it held is removed): overlayfs wants its
    work directory empty."""
    remove_tree(path)
    os.makedirs(path)
    return path


def mount_overlay(options: str, merged: str) -> str | None:
    """Mount an overlay on ``merged`` (made if missing); ``None``, or what ``mount`` said
    when it failed."""
    os.makedirs(merged, exist_ok=True)
    result = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, merged],
                            capture_output=True, text=True, check=False)
    return None if result.returncode == 0 else result.stderr.strip()


def unmount_overlay(merged: str) -> str | None:
    """Unmount ``merged``; ``None``, or what ``umount`` said when it failed."""
    result = subprocess.run(["umount", merged], capture_output=True, text=True, check=False)
    return None if result.returncode == 0 else result.stderr.strip()
