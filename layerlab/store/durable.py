"""Durable writes and the store's lock.

Every file the store records goes through the same steps: write a temporary file in the
destination directory, ``fsync`` it, check its size and then its digest, ``os.replace`` it
into place and ``fsync`` the directory. A crash (even ``kill -9``) therefore leaves either
the old state or the new one, plus at most a temporary leftover whose name contains
:data:`TMP_MARK`; :meth:`layerlab.store.Store.prune` removes those.

Writers take an advisory ``flock`` on ``<root>/.lock`` so two processes (or two notebook
kernels) sharing a store cannot interleave their changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import IO

from .._fsutil import remove_tree
from ..errors import DigestMismatchError

__all__ = ["TMP_MARK", "StoreLock", "atomic_write", "discard_dir", "finish_swap", "fsync_dir",
           "hash_file", "read_text", "remove_paths", "replace_dir", "write_blob", "write_text"]

#: part of the name of every temporary file or directory the store makes
TMP_MARK = ".tmp-"


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tmp_name(path: str) -> str:
    head, tail = os.path.split(path)
    return os.path.join(head, f"{tail}{TMP_MARK}{os.getpid()}-{threading.get_ident()}")


def atomic_write(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once (temp file, fsync, rename, fsync dir)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = _tmp_name(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:  # a failed write (a full disk) leaves no temporary file behind
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir(os.path.dirname(path))


def write_blob(path: str, digest: str, size: int, produce: Callable[[IO[bytes]], object]) -> None:
    """Write a content-addressed blob: ``produce(file)`` writes the bytes; the size and then
    the sha256 are checked against ``size`` and ``digest`` before the blob is renamed into
    place. A blob already present is left alone."""
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = _tmp_name(path)
    try:
        with open(tmp, "w+b") as f:
            produce(f)
            f.flush()
            os.fsync(f.fileno())
            written = f.tell()
            if written != size:
                raise DigestMismatchError(
                    f"blob {digest}: wrote {written} bytes, expected {size}; nothing recorded")
            f.seek(0)
            h = hashlib.sha256()
            while chunk := f.read(1 << 20):
                h.update(chunk)
            if "sha256:" + h.hexdigest() != digest:
                raise DigestMismatchError(
                    f"blob {digest}: content hashes to sha256:{h.hexdigest()}; nothing recorded")
        os.replace(tmp, path)
        fsync_dir(os.path.dirname(path))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def replace_dir(build: Callable[[str], object], path: str) -> None:
    """Make the directory ``path`` by ``build(tmpdir)`` then one rename; keep an existing one."""
    if os.path.isdir(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = _tmp_name(path)
    remove_tree(tmp)
    try:
        build(tmp)
        os.rename(tmp, path)
    except OSError:
        if not os.path.isdir(path):
            raise
    finally:
        remove_tree(tmp)
    fsync_dir(os.path.dirname(path))


def write_text(path: str, text: str) -> None:
    """Write a small record file inside a directory that :func:`replace_dir` renames into
    place (no fsync of its own: the rename makes the whole directory appear at once)."""
    with open(path, "w") as f:
        f.write(text)


def read_text(path: str) -> str:
    """A small record file's text, stripped (``FileNotFoundError`` when it is absent)."""
    with open(path) as f:
        return f.read().strip()


def hash_file(path: str) -> str:
    """``sha256:<hex>`` of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def discard_dir(path: str) -> None:
    """Rename ``path`` to a leftover name (atomic), then delete it: a kill part-way leaves
    a leftover the next prune removes, never a half-deleted directory under its own name."""
    gone = f"{path}{TMP_MARK}gone"
    try:
        os.rename(path, gone)
    except FileNotFoundError:
        return
    remove_tree(gone)


def remove_paths(paths: list[str]) -> None:
    """Delete each path: a directory with all it holds, anything else unlinked; a path
    already gone is skipped."""
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            remove_tree(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def finish_swap(diff: str) -> None:
    """Complete a read-write layer swap that a kill interrupted between its two renames
    (``diff`` -> ``diff.tmp-old``, then ``diff.tmp-sync`` -> ``diff``). The new tree was
    whole before the first rename, so roll forward; without it, roll back."""
    tmp, old = diff + TMP_MARK + "sync", diff + TMP_MARK + "old"
    if not os.path.isdir(diff) and os.path.isdir(old):
        os.rename(tmp if os.path.isdir(tmp) else old, diff)


class StoreLock:
    """An advisory, process-wide exclusive lock on a store (re-entrant within a process)."""

    def __init__(self, root: str) -> None:
        self._path = os.path.join(root, ".lock")
        self._fd: int | None = None
        self._depth = 0
        self._thread_lock = threading.RLock()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    os.close(self._fd)
                    self._fd = None
