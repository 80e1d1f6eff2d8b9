"""The build context: the host directory COPY and ADD read from, and nothing outside it.

Names in COPY/ADD are untrusted (``unsafe_src``) until resolved inside the context:

* ``../x`` (or ``a/../../x``) climbs out of the context: refused;
* ``/app.py`` means ``<context>/app.py``, as in Docker;
* a symlink in the context that points outside it is refused when COPY names it (or a
  path through it); symlinks met while copying a directory are copied as symlinks.

Checksums cover each file's path, type, mode and content, never its mtime, so the same
files checked out at another time (or on another machine) give the same cache keys.
File contents are read when needed and hashed in chunks, never held whole for a checksum.

A ``.dockerignore`` at the top of the context (or ``<Dockerfile>.dockerignore`` next to
the Dockerfile, which BuildKit prefers) keeps paths out, with Docker's rules
(:mod:`.ignore`). FIFOs, sockets and devices in the context are skipped, as Docker
skips them; :attr:`BuildContext.skipped` lists them so the step can say so.

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
import io
import json
import os
import stat
from dataclasses import dataclass, field

from ..errors import UnsafePathError
from ..paths import clean_member_name
from .errors import BuildError, ContextEscapeError
from .ignore import IgnoreMatcher

_CHUNK = 1024 * 1024

__all__ = ["BuildContext", "ContextItem", "Source", "summary_digest"]


@dataclass(frozen=True)
class ContextItem:
    """One file, directory or symlink read from the context.

    ``rel`` is its path in the context (POSIX, no leading slash); ``sub`` is its path
    below the named source (``''`` for the source itself).
    """

    rel: str
    sub: str
    kind: str  # "file" | "dir" | "symlink" | "" (a fifo, socket or device: skipped)
    mode: int
    content: bytes = b""
    linkname: str = ""
    uid: int = 0
    gid: int = 0
    #: a file on the host whose bytes are read on demand (instead of ``content``)
    host_path: str = ""
    size: int = 0
    _sum: list[str] = field(default_factory=list, compare=False, repr=False)

    @property
    def data(self) -> bytes:
        """The file's bytes (read from the host when needed)."""
        if self.host_path:
            with open(self.host_path, "rb") as f:
                return f.read()
        return self.content

    def open(self) -> io.BufferedIOBase:
        """The file's bytes as a stream (big files are never read whole)."""
        if self.host_path:
            return open(self.host_path, "rb")  # the caller closes it
        return io.BytesIO(self.content)

    @property
    def checksum(self) -> str:
        """sha256 over path, type, mode and content (or link target); no mtime."""
        if not self._sum:
            h = hashlib.sha256()
            h.update(f"{self.rel}\0{self.kind}\0{self.mode:o}\0{self.linkname}\0".encode())
            if self.uid or self.gid:
                h.update(f"{self.uid}:{self.gid}\0".encode())
            with self.open() as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
            self._sum.append("sha256:" + h.hexdigest())
        return self._sum[0]


@dataclass(frozen=True)
class Source:
    """One source path as matched in the context, with everything below it."""

    rel: str
    is_dir: bool
    items: tuple[ContextItem, ...]
    #: paths below it that were skipped: fifos, sockets and devices, as Docker skips them
    skipped: tuple[str, ...] = ()


def summary_digest(sources: list[Source]) -> str:
    """Docker-style ``file:<hex>``, ``dir:<hex>`` or ``multi:<hex>`` for ``created_by``."""
    sums = [[i.rel, i.checksum] for s in sources for i in s.items]
    hexdigest = hashlib.sha256(json.dumps(sums).encode()).hexdigest()
    if len(sources) == 1:
        return ("dir:" if sources[0].is_dir else "file:") + hexdigest
    return "multi:" + hexdigest


class BuildContext:
    """A build context directory on the host (read-only use).

    ``ignore`` is the ``.dockerignore`` text to apply; by default the context's own
    ``.dockerignore`` (or ``<dockerfile>.dockerignore`` when ``dockerfile`` is given and
    that file exists, as BuildKit reads it). ``ignore=""`` applies none.
    """

    def __init__(self, root: str | os.PathLike[str], *, ignore: str | None = None,
                 dockerfile: str | os.PathLike[str] | None = None) -> None:
        self.root = os.path.realpath(os.fspath(root))
        if not os.path.isdir(self.root):
            raise BuildError(f"build context {os.fspath(root)!r} is not a directory")
        #: where the ignore rules came from ('' when none)
        self.ignore_file = ""
        if ignore is None:
            candidates = [os.fspath(dockerfile) + ".dockerignore"] if dockerfile else []
            candidates.append(os.path.join(self.root, ".dockerignore"))
            for candidate in candidates:
                if os.path.isfile(candidate):
                    with open(candidate, encoding="utf-8", errors="replace") as f:
                        ignore = f.read()
                    self.ignore_file = candidate
                    break
        try:
            self.ignore = IgnoreMatcher.parse(ignore or "")
        except ValueError as exc:
            raise BuildError(f"{self.ignore_file or '.dockerignore'}: {exc}") from None
        #: context paths skipped because they are not files, dirs or symlinks (fifos...)
        self.skipped: list[str] = []

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
            if rel and self.ignore.excluded(rel):
                raise BuildError(f"{unsafe_src!r}: file not found in build context or "
                                 f"excluded by .dockerignore (line "
                                 f"{self._deciding_line(rel)})")
        else:
            matches = sorted(glob.glob(os.path.join(glob.escape(self.root), rel)))
            matches = [m for m in matches if not self.ignore.excluded(self._rel(m))]
            if not matches:
                raise BuildError(f"{unsafe_src!r}: no source files were specified "
                                 "(the pattern matched nothing)")
        return [self._source(m, unsafe_src) for m in matches]

    def _rel(self, host_path: str) -> str:
        rel = os.path.relpath(host_path, self.root).replace(os.sep, "/")
        return "" if rel == "." else rel

    def _deciding_line(self, rel: str) -> int:
        line = 0
        for p in self.ignore.patterns:
            if IgnoreMatcher([p]).excluded(rel) or p.exclusion:
                line = p.line if not p.exclusion else line
        return line

    def files(self) -> list[str]:
        """Every path of the context COPY . . would see, sorted (ignored ones left out)."""
        return [i.rel for i in self._walk(self.root, "") if i.rel]

    def _source(self, host_path: str, unsafe_src: str) -> Source:
        real = os.path.realpath(host_path)
        if not self._inside(real):
            raise ContextEscapeError(
                f"forbidden path outside the build context: {unsafe_src!r} resolves through a "
                f"symlink to {real!r}")
        rel = os.path.relpath(host_path, self.root).replace(os.sep, "/")
        rel = "" if rel == "." else rel
        if os.path.isdir(real):
            items = self._walk(real, rel)
            below = tuple(p for p in self.skipped if p == rel or p.startswith(rel + "/")
                          or not rel)
            return Source(rel, True, tuple(items), below)
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
                if self.ignore and self.ignore.excluded(rel):
                    continue
                items.append(self._item(os.path.join(dirpath, name), rel, sub))
            # os.walk lists symlinks to directories in dirnames; do not descend into them;
            # an excluded directory is still walked when an exception may reach inside it
            exceptions = any(p.exclusion for p in self.ignore.patterns)
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))
                           and (exceptions or not self.ignore.excluded(
                               self._rel(os.path.join(dirpath, d))))]
        kept = [i for i in items if i.kind]
        if self.ignore:
            # a directory left out but with files let back in by '!': keep it as a parent
            present = {i.rel for i in kept}
            for item in list(kept):
                parent = item.rel.rpartition("/")[0]
                while parent and parent not in present and parent.startswith(rel_top):
                    present.add(parent)
                    host = os.path.join(self.root, parent)
                    kept.append(self._item(host, parent, parent[len(rel_top):].lstrip("/")))
                    parent = parent.rpartition("/")[0]
            kept.sort(key=lambda i: i.rel.split("/"))
        return kept

    def _item(self, host_path: str, rel: str, sub: str) -> ContextItem:
        st = os.lstat(host_path)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            return ContextItem(rel, sub, "symlink", 0o777, linkname=os.readlink(host_path))
        if stat.S_ISDIR(st.st_mode):
            return ContextItem(rel, sub, "dir", mode)
        if stat.S_ISREG(st.st_mode):
            return ContextItem(rel, sub, "file", mode, host_path=host_path, size=st.st_size)
        # a fifo, socket or device: Docker skips it (reading a fifo would block)
        kind = "fifo" if stat.S_ISFIFO(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode) \
            else "device"
        if rel not in self.skipped:
            self.skipped.append(rel)
        return ContextItem(rel, sub, "", mode, linkname=kind)
