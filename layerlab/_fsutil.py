"""File-system helpers shared by the writers (flatten, the store)."""

from __future__ import annotations

import contextlib
import os
import shutil

__all__ = ["remove_tree"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(top: str) -> None:
    """``rm -rf top``, errors ignored, with a loop and one open directory at a time:
    ``shutil.rmtree`` recurses (before Python 3.12) and 2,000 nested directories hit the
    recursion limit. Never follows a symlink. It steps back up with ``..``, so it is for
    directories only we can enter (a staging directory, the private store)."""
    try:
        fd = os.open(top, _DIR_FLAGS)
    except OSError:
        return
    names: list[str] = []
    while True:
        sub = None
        with os.scandir(fd) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    sub = e.name
                    break
                with contextlib.suppress(OSError):
                    os.unlink(e.name, dir_fd=fd)
        if sub is not None:
            try:
                child = os.open(sub, _DIR_FLAGS, dir_fd=fd)
            except OSError:  # unreadable: give up on it
                with contextlib.suppress(OSError):
                    os.chmod(sub, 0o700, dir_fd=fd, follow_symlinks=False)
                try:
                    child = os.open(sub, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    break
            os.close(fd)
            fd = child
            names.append(sub)
            continue
        if not names:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.rmdir(top)
            return
        parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
        os.close(fd)
        fd = parent
        with contextlib.suppress(OSError):
            os.rmdir(names.pop(), dir_fd=fd)
    os.close(fd)
    shutil.rmtree(top, ignore_errors=True)
