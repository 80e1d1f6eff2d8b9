"""Flatten: materialize a merged view as a real directory (or a tar).

The directory is written by the engine's one scoped writer,
:func:`layerlab.materialize.materialize_view` (its docstring says how it refuses to
follow a symlink out of the root, and what it leaves out, listed in the
:class:`FlattenResult`); a DEST ending in ``.tar`` gets one tar stream of the view.

>>> result = flatten(image, "rootfs")  # doctest: +SKIP
>>> result.skipped_devices  # doctest: +SKIP
['/dev/null']
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace

from ..entry import Entry, EntryKind
from ..image import Image
from ..materialize import _PRIVILEGE_BITS, FlattenResult, Opener, _link_source, layers_opener
from ..materialize import materialize_view as _materialize_view
from ..tarstream import write_tar
from ..union import View
from .verify import progress_bar

__all__ = ["FlattenResult", "flatten"]


def flatten(
    source: Image | View,
    dest: str | os.PathLike[str],
    *,
    allow_setuid: bool = False,
    create_devices: bool | None = None,
    progress: bool | None = None,
) -> FlattenResult:
    """Write the merged filesystem of ``source`` to ``dest``.

    ``dest`` ending in ``.tar`` gets one tar stream of the view (the ``docker export``
    of it); anything else is a directory that must not exist yet or be empty.
    Device nodes are not created unless ``create_devices=True`` (which needs root): a
    block device an image ships (``/dev/sda`` mode 0666) would give whoever can reach the
    tree the raw disk. ``None`` (the default) and ``False`` list them in
    ``skipped_devices``.

    The tree is written into a private staging directory (mode 0700, beside ``dest``) and
    renamed to ``dest`` at the end, so a second writer that moves directories out of
    ``dest`` while this runs (the CVE-2018-15664 shape) finds nothing to move and never
    receives a file; an empty ``dest`` that gained entries meanwhile is an error.
    """
    view = source.view() if isinstance(source, Image) else source
    if not isinstance(view, View):
        raise TypeError(f"flatten needs an Image or a View, not {type(source).__name__}")
    target = os.fspath(dest)
    if target.endswith(".tar"):
        return _flatten_tar(view, _opener(source, view), target, allow_setuid=allow_setuid)
    with progress_bar(len(view), "flattening", progress) as bar:
        return _materialize_view(view, target, _opener(source, view), allow_setuid=allow_setuid,
                                 create_devices=bool(create_devices), bar=bar)


def _opener(source: Image | View, view: View) -> Opener:
    """How to open the content of an entry ``view.walk()`` yielded (the image's layers
    at hand when there is an image: no symlink resolution per file)."""
    if not isinstance(source, Image):
        return lambda entry: view.open(entry.path)
    return layers_opener(view, source.layers)


def _tar_members(view: View, result: FlattenResult,
                 allow_setuid: bool) -> Iterator[tuple[str, Entry]]:
    links: list[tuple[str, Entry]] = []
    for entry in view.walk():
        result.entries += 1
        mode = entry.mode
        if mode & _PRIVILEGE_BITS and not entry.is_dir and not allow_setuid:
            result.dropped_privileges.append(entry.path)
            entry = replace(entry, mode=mode & ~_PRIVILEGE_BITS)
        if entry.kind is EntryKind.HARDLINK:
            source = _link_source(view, entry)
            if source is not None:
                links.append((entry.path[1:], replace(entry, linkname=source.path)))
                continue
            result.copied_hardlinks.append(entry.path)
            entry = replace(entry, kind=EntryKind.FILE, linkname="")
        yield entry.path[1:], entry
    yield from links  # after every target they name


def _flatten_tar(view: View, open_content: Opener, dest: str, *,
                 allow_setuid: bool) -> FlattenResult:
    result = FlattenResult(dest, owners_set=True)
    parent = os.path.dirname(os.path.abspath(dest))
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".layerlab-", suffix=".tmp")

    try:
        with os.fdopen(fd, "wb") as out:
            write_tar(_tar_members(view, result, allow_setuid), open_content, out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return result
