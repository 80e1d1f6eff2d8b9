"""What COPY and ADD put into a build container: files, owners, modes, unpacked archives.

Sources come from the build context (:mod:`.context`), from another stage or image
(``COPY --from``, read from that image's merged view with owners kept, as BuildKit
does), or from a heredoc (``COPY <<EOF /etc/motd``). ``ADD`` of a local tar archive
(plain, gzip or zstd) unpacks it; the archive is spooled to disk, never held in memory,
and its uncompressed size is capped (``Limits.max_layer_bytes``), so a decompression
bomb stops with a :class:`~layerlab.errors.LimitExceededError`.

>>> parse_owner("1000:1000"), parse_owner("app")
(('1000', '1000'), ('app', ''))
"""

from __future__ import annotations

import fnmatch
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..blob import FileBlob
from ..container import Container
from ..entry import Entry, EntryKind
from ..errors import LayerlabError, PathLookupError
from ..image import Image
from ..layer import Layer
from ..limits import Limits
from ..paths import ROOT, ancestors, join, normalize
from ..tarstream import detect_compression
from .context import ContextItem, Source
from .errors import BuildError
from .parser import Instruction

if TYPE_CHECKING:
    from ..union import View

__all__ = ["MAX_ID", "copy_source", "image_sources", "parse_owner", "resolve_owner"]

#: the largest uid/gid Docker accepts (2^32 - 2; 2^32 - 1 is "no id")
MAX_ID = 2**32 - 2


def parse_owner(spec: str) -> tuple[str, str]:
    """``--chown=user[:group]`` split into its two parts (``''`` for no group)."""
    user, _, group = spec.partition(":")
    return user, group


def resolve_owner(image: Image, spec: str, ins: Instruction) -> tuple[int, int]:
    """``--chown=user[:group]`` to numbers, names looked up in the image's passwd/group.

    Ids above :data:`MAX_ID`, negative or malformed ones are a :class:`BuildError` that
    names the line (never an ``OverflowError`` later, when the layer is written).
    """
    user, group = parse_owner(spec)
    if not user or spec.count(":") > 1 or (":" in spec and not group):
        raise BuildError(f"--chown={spec}: use user, user:group, uid or uid:gid",
                         line=ins.line, instruction=ins.text)

    def lookup(name: str, table: str) -> int:
        if name.isdigit():
            number = int(name)
            if number > MAX_ID:
                raise BuildError(f"--chown={spec}: id {name} is above {MAX_ID}",
                                 line=ins.line, instruction=ins.text)
            return number
        try:
            text = image.view().read_text(table) if image.layers else ""
        except (LayerlabError, UnicodeDecodeError):
            text = ""
        for row in text.splitlines():
            fields = row.split(":")
            if len(fields) > 2 and fields[0] == name and fields[2].isdigit() \
                    and int(fields[2]) <= MAX_ID:
                return int(fields[2])
        raise BuildError(f"--chown={spec}: no {name!r} in {table} of the image",
                         line=ins.line, instruction=ins.text)

    uid = lookup(user, "/etc/passwd")
    return uid, lookup(group, "/etc/group") if group else uid


def image_sources(image: Image, unsafe_src: str, where: str) -> list[Source]:
    """``COPY --from``: the sources ``unsafe_src`` names in ``image``'s merged view.

    A wildcard is allowed in the last part (``/out/*.bin``). The named path itself is
    followed if it is a symlink; symlinks below it are copied as symlinks. Owners and
    modes are kept.
    """
    if not image.layers:
        raise BuildError(f"{unsafe_src!r}: not found in {where}: it is empty (scratch)")
    view = image.view()
    path = normalize("/" + unsafe_src.lstrip("/"))
    parent, _, name = path.rpartition("/")
    if any(ch in name for ch in "*?["):
        base = parent or ROOT
        names = sorted(n for n in (view.listdir(base) if view.exists(base) else [])
                       if fnmatch.fnmatchcase(n, name))
        paths = [join(base, n) for n in names]
        if not paths:
            raise BuildError(f"{unsafe_src!r}: no source files were specified (the pattern "
                             f"matched nothing in {where})")
    else:
        if not view.exists(path):
            raise BuildError(f"{unsafe_src!r}: not found in {where}")
        paths = [path]
    out: list[Source] = []
    for named in paths:
        p = _realpath(view, named)
        top = view.stat(p)
        rel = named.lstrip("/")
        if top.kind is EntryKind.DIR:
            items = [_image_item(view, top, rel, "")]
            for entry in view.walk(p):
                if entry.path == p:
                    continue
                sub = entry.path[len(p):].lstrip("/") if p != ROOT else entry.path.lstrip("/")
                item = _image_item(view, entry, f"{rel}/{sub}".lstrip("/"), sub)
                if item.kind:
                    items.append(item)
            out.append(Source(rel, True, tuple(items)))
        else:
            out.append(Source(rel, False, (_image_item(view, top, rel, ""),)))
    return out


def _realpath(view: View, path: str) -> str:
    """Follow symlinks in ``path`` inside the image's root (at most 40, as Linux does)."""
    parts = [p for p in path.split("/") if p]
    done = ROOT
    hops = 0
    while parts:
        candidate = join(done, parts.pop(0))
        entry = view.stat(candidate) if view.exists(candidate) else None
        if entry is not None and entry.kind is EntryKind.SYMLINK:
            hops += 1
            if hops > 40:
                raise BuildError(f"{path!r}: too many levels of symbolic links")
            target = entry.linkname
            base = ROOT if target.startswith("/") else done
            parts = [p for p in normalize(join(base, target)).split("/") if p] + parts
            done = ROOT
            continue
        done = candidate
    return done


def _image_item(view: object, entry: Entry, rel: str, sub: str) -> ContextItem:
    from ..union import View

    assert isinstance(view, View)
    kind = {EntryKind.FILE: "file", EntryKind.HARDLINK: "file", EntryKind.DIR: "dir",
            EntryKind.SYMLINK: "symlink"}.get(entry.kind, "")
    data = view.read(entry.path) if kind == "file" else b""
    return ContextItem(rel, sub, kind, entry.mode, content=data,
                       linkname=entry.linkname if kind == "symlink" else "",
                       uid=entry.uid, gid=entry.gid, size=len(data))


def copy_source(c: Container, source: Source, target: str, into_dir: bool,
                ids: tuple[int, int] | None, mode: int | None, *, unpack: bool,
                limits: Limits, note: Callable[[str], None]) -> None:
    """Put one source into the container at ``target`` (a directory when ``into_dir``)."""
    top = source.items[0]
    if source.is_dir:
        _mkdirs(c, target, ids)
        for item in source.items[1:]:
            _put(c, join(target, item.sub), item, ids, mode)
        return
    if not top.kind:
        note(f"skipped {top.rel!r}: a {top.linkname or 'special file'}; Docker does not "
             "copy FIFOs, sockets or devices from the context")
        return
    dest = join(target, top.rel.rsplit("/", 1)[-1]) if into_dir else target
    if unpack and top.kind == "file" and _is_archive(top):
        _mkdirs(c, target, ids)
        _unpack(c, top, target, ids, limits)
        return
    # directories COPY creates get the --chown owner too (Docker and buildah agree)
    _mkdirs(c, dest.rsplit("/", 1)[0] or ROOT, ids)
    _put(c, dest, top, ids, mode)


def _mkdirs(c: Container, path: str, ids: tuple[int, int] | None) -> None:
    missing = [p for p in (*ancestors(path), path) if p != ROOT and not c.exists(p)]
    if path != ROOT:
        c.mkdir(path, parents=True)
    for p in missing:
        if ids is not None:
            c.chown(p, *ids)


def _put(c: Container, path: str, item: ContextItem, ids: tuple[int, int] | None,
         mode: int | None) -> None:
    if c.exists(path) and item.kind != "dir":
        existing = c.stat(path)
        if existing.is_dir:
            raise BuildError(f"cannot copy {item.rel!r} over the directory {path!r}")
        c.remove(path)
    if item.kind == "dir":
        if not c.exists(path):
            c.mkdir(path)
        c.chmod(path, item.mode if mode is None else mode)
    elif item.kind == "symlink":
        c.symlink(item.linkname, path)
        owner = ids if ids is not None else (item.uid, item.gid)
        if owner != (0, 0):
            c.chown(path, *owner)
        return
    else:
        c.write(path, _content(item), mode=item.mode if mode is None else mode)
    owner = ids if ids is not None else (item.uid, item.gid)
    if owner != (0, 0):
        c.chown(path, *owner)


#: context files above this many bytes are copied through a FileBlob on disk
STREAM_ABOVE = 8 * 1024 * 1024


def _content(item: ContextItem) -> bytes | FileBlob:
    """A context file's bytes, or for a big one a private on-disk copy (never in memory)."""
    if item.host_path and item.size > STREAM_ABOVE:
        with item.open() as f:
            return FileBlob.copy_of(f)  # type: ignore[arg-type]
    return item.data


def _is_archive(item: ContextItem) -> bool:
    with item.open() as f:
        head = f.read(512)
    try:
        kind = detect_compression(head[:8])
    except LayerlabError:
        return False  # bzip2 or xz: Docker unpacks them, layerlab copies them as files
    return kind != "none" or head[257:262] == b"ustar"


def _unpack(c: Container, item: ContextItem, target: str,
            ids: tuple[int, int] | None, limits: Limits) -> None:
    """ADD of a local tar archive: its entries land below ``target`` (owners kept).

    The archive is read from the host path and spooled (decompressed) to a temporary
    file under ``limits``; each member is read from the spool when it is written.
    """
    source: str | io.BytesIO = item.host_path or io.BytesIO(item.content)
    archive = Layer.from_tar(source, limits=limits)
    # stream order, as tar extracts: a hardlink comes after its target ('/a' -> '/b/f')
    for entry in sorted(archive.content_entries, key=archive.stream_position):
        try:
            _unpack_entry(c, archive, entry, target, ids)
        except PathLookupError as exc:  # name the archive entry, not only the container path
            raise type(exc)(f"{item.rel}: entry {entry.path!r}: {exc}") from exc


def _unpack_entry(c: Container, archive: Layer, entry: Entry, target: str,
                  ids: tuple[int, int] | None) -> None:
    if entry.path == ROOT:
        return
    path = join(target, entry.path.lstrip("/")) if target != ROOT else entry.path
    uid, gid = ids if ids is not None else (entry.uid, entry.gid)
    parent = path.rsplit("/", 1)[0] or ROOT
    if not c.exists(parent):
        c.mkdir(parent, parents=True)
    if entry.kind is EntryKind.DIR:
        if c.exists(path) and not c.stat(path).is_dir:
            c.remove(path)  # a symlink there is replaced, as tar does: chmod would follow it
        if not c.exists(path):
            c.mkdir(path, parents=True)
        c.chmod(path, entry.mode)
    elif entry.kind is EntryKind.FILE:
        if c.exists(path):
            c.remove(path, recursive=True)
        c.write(path, archive.read_content(entry), mode=entry.mode)
    elif entry.kind is EntryKind.SYMLINK:
        if c.exists(path):
            c.remove(path, recursive=True)
        c.symlink(entry.linkname, path)
        return
    elif entry.kind is EntryKind.HARDLINK:
        c.hardlink(join(target, entry.linkname.lstrip("/")) if target != ROOT
                   else entry.linkname, path)
        return
    else:
        return  # devices and fifos: a container here cannot make them
    if (uid, gid) != (0, 0):
        c.chown(path, uid, gid)
