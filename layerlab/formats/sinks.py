"""Where saved images go: a new directory, or a tar file written deterministically.

Both sinks take files in the order given, each as a name, a size and a function that
writes exactly that many bytes, so layer blobs stream from their spool files straight
to the destination. The tar sink writes every header with mode 0644/0755, owner 0:0,
mtime 0 and no user names, so saving the same image twice gives identical bytes. A
sink that fails removes what it made; a tar file appears under its final name only
when it is complete.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from typing import IO

from ..errors import LayerlabError

__all__ = ["DirSink", "Sink", "TarSink"]

WriteFn = Callable[[IO[bytes]], object]

_BLOCK = 512
_RECORD = 20 * _BLOCK  # GNU tar and Python's tarfile pad archives to 10240 bytes


class _Counter:
    """A write-only stream that counts what passes through to ``out``."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self.count = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.count += len(data)
        return len(data)

    def flush(self) -> None:
        self._out.flush()


def _check_count(name: str, wrote: int, size: int) -> None:
    if wrote != size:
        raise LayerlabError(f"{name}: wrote {wrote} bytes but promised {size}")


class Sink:
    """A destination for the files of an image layout."""

    def add_dir(self, name: str) -> None:
        raise NotImplementedError

    def add_file(self, name: str, size: int, write: WriteFn) -> None:
        raise NotImplementedError

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_file(name, len(data), lambda out: out.write(data))

    def add_symlink(self, name: str, target: str) -> None:
        """A symbolic link ``name -> target`` (a relative target inside the layout)."""
        raise NotImplementedError

    def commit(self) -> None:
        """Make the result visible under its final name."""

    def abort(self) -> None:
        """Remove whatever was written."""


class DirSink(Sink):
    """Write into a new (or empty) directory."""

    def __init__(self, dest: str | os.PathLike[str]) -> None:
        self.dest = os.fspath(dest)
        if os.path.islink(self.dest):
            raise LayerlabError(f"{self.dest}: destination is a symbolic link; refusing to follow")
        self._created = not os.path.exists(self.dest)
        if self._created:
            os.mkdir(self.dest, 0o755)
        elif not os.path.isdir(self.dest) or os.listdir(self.dest):
            raise LayerlabError(f"{self.dest}: destination exists and is not an empty directory")

    def _path(self, name: str) -> str:
        return os.path.join(self.dest, name)

    def add_dir(self, name: str) -> None:
        os.makedirs(self._path(name), 0o755, exist_ok=True)

    def add_symlink(self, name: str, target: str) -> None:
        os.symlink(target, self._path(name))

    def add_file(self, name: str, size: int, write: WriteFn) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(self._path(name), flags, 0o644), "wb") as out:
            counter = _Counter(out)
            write(counter)  # type: ignore[arg-type]
        _check_count(name, counter.count, size)

    def abort(self) -> None:
        if self._created:
            shutil.rmtree(self.dest, ignore_errors=True)
        else:
            for name in os.listdir(self.dest):
                path = self._path(name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)


class TarSink(Sink):
    """Write a deterministic tar file; it is renamed into place by :meth:`commit`."""

    def __init__(self, dest: str | os.PathLike[str]) -> None:
        self.dest = os.fspath(dest)
        if os.path.isdir(self.dest):
            raise LayerlabError(f"{self.dest}: destination is a directory, expected a file name")
        parent = os.path.dirname(os.path.abspath(self.dest))
        fd, self._tmp = tempfile.mkstemp(dir=parent, prefix=".layerlab-", suffix=".tmp")
        self._out = os.fdopen(fd, "wb")
        self._offset = 0

    def _header(self, name: str, kind: bytes, size: int, mode: int, linkname: str = "") -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.size = size
        info.mode = mode
        info.linkname = linkname
        info.mtime = 0
        info.uname = info.gname = ""
        self._write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._offset += len(data)

    def add_dir(self, name: str) -> None:
        self._header(name.rstrip("/") + "/", tarfile.DIRTYPE, 0, 0o755)

    def add_symlink(self, name: str, target: str) -> None:
        self._header(name, tarfile.SYMTYPE, 0, 0o777, target)

    def add_file(self, name: str, size: int, write: WriteFn) -> None:
        self._header(name, tarfile.REGTYPE, size, 0o644)
        counter = _Counter(self._out)
        write(counter)  # type: ignore[arg-type]
        _check_count(name, counter.count, size)
        self._offset += size
        self._write(b"\0" * (-size % _BLOCK))

    def commit(self) -> None:
        self._write(b"\0" * (2 * _BLOCK))
        self._write(b"\0" * (-self._offset % _RECORD))
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        os.chmod(self._tmp, 0o644)
        os.replace(self._tmp, self.dest)

    def abort(self) -> None:
        self._out.close()
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)
