"""The build context: the host directory COPY and ADD read from, and nothing outside it.

Names in COPY/ADD are untrusted (``unsafe_src``) until resolved inside the context:

* ``../x`` (or ``a/../../x``) climbs out of the context: refused;
* ``/app.py`` means ``<context>/app.py``, as in Docker;
* a symlink in the context that points outside it is refused when COPY names it (or a
  path through it); symlinks met while copying a directory are copied as symlinks.

Checksums cover each file's path, type, mode and content, never its mtime, so the same
files checked out at another time (or on another machine) give the same cache keys.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "app.py").write_text("print('hi')\\n")
>>> ctx = BuildContext(root)
>>> [item.rel for item in ctx.collect("app.py")[0].items]
['app.py']
>>> ctx.collect("../etc/passwd")
Traceback (most recent call last):
...
layerlab.errors.ContextEscapeError: forbidden path outside the build context: '../etc/passwd'
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import stat
from dataclasses import dataclass

from ..errors import UnsafePathError
from ..paths import clean_member_name
from .errors import BuildError, ContextEscapeError

__all__ = ["BuildContext", "ContextItem", "Source", "summary_digest"]


@dataclass(frozen=True)
class ContextItem:
    """One file, directory or symlink read from the context.

    ``rel`` is its path in the context (POSIX, no leading slash); ``sub`` is its path
    below the named source (``''`` for the source itself).
    """

    rel: str
    sub: str
    kind: str  # "file" | "dir" | "symlink"
    mode: int
    data: bytes = b""
    linkname: str = ""

    @property
    def checksum(self) -> str:
        """sha256 over path, type, mode and content (or link target); no mtime."""
        h = hashlib.sha256()
        h.update(f"{self.rel}\0{self.kind}\0{self.mode:o}\0{self.linkname}\0".encode())
        h.update(self.data)
        return "sha256:" + h.hexdigest()


@dataclass(frozen=True)
class Source:
    """One source path as matched in the context, with everything below it."""

    rel: str
    is_dir: bool
    items: tuple[ContextItem, ...]


def summary_digest(sources: list[Source]) -> str:
    """Docker-style ``file:<hex>``, ``dir:<hex>`` or ``multi:<hex>`` for ``created_by``."""
    sums = [[i.rel, i.checksum] for s in sources for i in s.items]
    hexdigest = hashlib.sha256(json.dumps(sums).encode()).hexdigest()
    if len(sources) == 1:
        return ("dir:" if sources[0].is_dir else "file:") + hexdigest
    return "multi:" + hexdigest


class BuildContext:
    """A build context directory on the host (read-only use)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.realpath(os.fspath(root))
        if not os.path.isdir(self.root):
            raise BuildError(f"build context {os.fspath(root)!r} is not a directory")

    def __repr__(self) -> str:
        return f"<BuildContext {self.root}>"

    def _inside(self, host_path: str) -> bool:
        return host_path == self.root or host_path.startswith(self.root + os.sep)

    def collect(self, unsafe_src: str) -> list[Source]:
        """Resolve one COPY/ADD source (wildcards allowed) into sources, sorted."""
        try:
            rel = clean_member_name(unsafe_src.lstrip("/") or ".").lstrip("/")
        except UnsafePathError:
            raise ContextEscapeError(
                f"forbidden path outside the build context: {unsafe_src!r}") from None
        if not any(ch in rel for ch in "*?["):
            matches = [os.path.join(self.root, rel)] if rel else [self.root]
            if not os.path.lexists(matches[0]):
                raise BuildError(f"{unsafe_src!r}: file not found in build context")
        else:
            matches = sorted(glob.glob(os.path.join(glob.escape(self.root), rel)))
            if not matches:
                raise BuildError(f"{unsafe_src!r}: no source files were specified "
                                 "(the pattern matched nothing)")
        return [self._source(m, unsafe_src) for m in matches]

    def _source(self, host_path: str, unsafe_src: str) -> Source:
        real = os.path.realpath(host_path)
        if not self._inside(real):
            raise ContextEscapeError(
                f"forbidden path outside the build context: {unsafe_src!r} resolves through a "
                f"symlink to {real!r}")
        rel = os.path.relpath(host_path, self.root).replace(os.sep, "/")
        rel = "" if rel == "." else rel
        if os.path.isdir(real):
            return Source(rel, True, tuple(self._walk(real, rel)))
        return Source(rel, False, (self._item(real, rel, ""),))

    def _walk(self, top: str, rel_top: str) -> list[ContextItem]:
        items = [self._item(top, rel_top, "")]
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            below = os.path.relpath(dirpath, top).replace(os.sep, "/")
            below = "" if below == "." else below
            for name in sorted([*dirnames, *filenames]):
                sub = f"{below}/{name}" if below else name
                rel = f"{rel_top}/{sub}" if rel_top else sub
                items.append(self._item(os.path.join(dirpath, name), rel, sub))
            # os.walk lists symlinks to directories in dirnames; do not descend into them
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        return [i for i in items if i.kind]

    def _item(self, host_path: str, rel: str, sub: str) -> ContextItem:
        st = os.lstat(host_path)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            return ContextItem(rel, sub, "symlink", 0o777, linkname=os.readlink(host_path))
        if stat.S_ISDIR(st.st_mode):
            return ContextItem(rel, sub, "dir", mode)
        if stat.S_ISREG(st.st_mode):
            with open(host_path, "rb") as f:
                return ContextItem(rel, sub, "file", mode, data=f.read())
        return ContextItem(rel, sub, "", mode)  # sockets, fifos: skipped, as Docker does
