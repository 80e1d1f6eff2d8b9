"""Looking at the host: the store directory as ``tree`` would print it.

:func:`tree` walks a directory (names sorted, some hidden) and marks what a plain listing
would not show: a symlink's target, and overlay whiteouts on disk (:func:`whiteout_note`).
The first line is ``.``, not the directory's name, so a temporary root's random name never
reaches a notebook's output.

>>> import os, tempfile
>>> top = tempfile.mkdtemp(); os.makedirs(os.path.join(top, "a", "b"))
>>> os.symlink("a/b", os.path.join(top, "l"))
>>> print(tree(top))
.
├── a/
│   └── b/
└── l -> a/b
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Collection

__all__ = ["tree", "whiteout_note"]


def whiteout_note(path: str) -> str:
    """How ``tree`` output marks an overlay whiteout on disk. Both forms (a character
    device 0/0 as root, a file with ``user.overlay.whiteout`` otherwise) print the same,
    so the output does not depend on who runs it."""
    st = os.lstat(path)
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return "  (whiteout)"
    for ns in ("trusted", "user"):
        with contextlib.suppress(OSError):
            os.getxattr(path, f"{ns}.overlay.whiteout", follow_symlinks=False)
            return "  (whiteout)"
    return ""


def tree(start: str, *, hidden: Collection[str] = (),
         note: Callable[[str], str] = whiteout_note, max_depth: int = 4,
         max_entries: int = 400) -> str:
    """``start`` as ``tree`` prints it: names in ``hidden`` left out, ``note(path)``
    after each file's name, at most ``max_depth`` levels and ``max_entries`` entries."""
    lines = ["."]
    count = 0

    def walk(path: str, prefix: str, depth: int) -> None:
        nonlocal count
        try:
            names = sorted(n for n in os.listdir(path) if n not in hidden)
        except OSError:
            return
        for i, name in enumerate(names):
            if count >= max_entries:
                return
            count += 1
            last = i == len(names) - 1
            full = os.path.join(path, name)
            is_dir = os.path.isdir(full) and not os.path.islink(full)
            suffix = "/" if is_dir else (f" -> {os.readlink(full)}"
                                         if os.path.islink(full) else note(full))
            lines.append(f"{prefix}{'└── ' if last else '├── '}{name}{suffix}")
            if is_dir and depth < max_depth:
                walk(full, prefix + ("    " if last else "│   "), depth + 1)

    walk(start, "", 1)
    if count >= max_entries:
        lines.append(f"... (stopped after {max_entries} entries)")
    return "\n".join(lines)
