"""The union: whiteout rules and the merge of a base-first stack of layers.

This module is the only place that knows how layers combine. The rules, as the OCI
image spec (layer.md), Docker's AUFS conventions and the kernel's overlayfs agree:

* Layers apply base first; index 0 is the bottom.
* A whiteout ``.wh.<name>`` deletes ``<name>`` (and its whole subtree) from the layers
  *below*; an entry of the same layer with that name survives. Only the basename counts:
  ``.wh.etc/somefile`` is a file in a directory called ``.wh.etc``.
* An opaque marker ``<dir>/.wh..wh..opq`` hides every lower child of ``<dir>``,
  wherever it stands in the stream; the layer's own children of ``<dir>`` stay.
* ``.wh..wh.<anything else>`` (``.wh..wh.plnk``, ``.wh..wh.aufs``) is AUFS bookkeeping:
  skipped.
* ``.wh.``, ``.wh..`` and ``.wh...`` name nothing and are errors.
* A directory over a directory merges their children; the upper metadata wins.
  Anything else over anything replaces it, subtree included (a file over a directory,
  a directory over a file). Missing parents are implied as directories (mode 0755),
  replacing a lower non-directory; symlinks are not followed (overlayfs semantics).
* A hardlink names a target in the merged view as it stands when its layer is applied;
  changing either name later breaks the link.
* A whiteout of something that does not exist is a no-op.

How the two markers are spelled (``.wh.`` names in a tar, a 0/0 character device or
``<ns>.overlay.*`` xattrs in an overlayfs directory) is :mod:`layerlab.whiteout`'s business;
this module sees only :class:`~layerlab.entry.Entry` markers and keeps the merge.

Views are computed incrementally: the view after layer *k* copies only the directories
that layer *k* touches from the view after layer *k - 1*, so scrubbing through every
depth of a stack never redoes the whole merge.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from ._perf import paused_gc
from .entry import Entry, EntryKind
from .errors import (
    BrokenHardlinkError,
    IsADirectoryError_,
    NotADirectoryError_,
    PathLookupError,
    PathNotFoundError,
)
from .paths import ROOT, ancestors, join, normalize, split

# Spellings live in :mod:`layerlab.whiteout`; these names stay importable from here.
from .whiteout import (
    AUFS_META_PREFIX,
    OPAQUE_MARKER,
    OVERLAY_XATTR_NAMESPACES,
    WHITEOUT_PREFIX,
    canonical_key,
    classify_name,
    is_aufs_metadata,
    is_reserved_name,
    marker_member_name,
)

if TYPE_CHECKING:
    from .layer import Layer

# The marker spellings are re-exported from layerlab.whiteout, where new code imports them.
__all__ = [
    "AUFS_META_PREFIX",
    "OPAQUE_MARKER",
    "OVERLAY_XATTR_NAMESPACES",
    "WHITEOUT_PREFIX",
    "Shadowed",
    "View",
    "canonical_key",
    "classify_name",
    "is_aufs_metadata",
    "is_reserved_name",
    "marker_member_name",
]

#: metadata of a directory nobody described: what ``mkdir -p`` in an unpacker makes
IMPLIED_DIR_MODE = 0o755
_MAX_SYMLINK_HOPS = 40


# --- the merge -------------------------------------------------------------------------


class Node(NamedTuple):
    """A path in a merged view: the entry seen, the layer that supplies it, the layer
    whose bytes it reads (differs from ``layer`` for a hardlink to a lower file)."""

    entry: Entry
    layer: int
    content_layer: int


class _Tree:
    """One merged state: directory path -> {name: Node}, plus the root's own node."""

    __slots__ = ("dirs", "root")

    def __init__(self, dirs: dict[str, dict[str, Node]], root: Node) -> None:
        self.dirs = dirs
        self.root = root

    def lookup(self, path: str) -> Node | None:
        if path == ROOT:
            return self.root
        parent, name = split(path)
        kids = self.dirs.get(parent)
        return kids.get(name) if kids is not None else None


_EMPTY_ROOT = Node(Entry(ROOT, EntryKind.DIR, mode=IMPLIED_DIR_MODE), -1, -1)


def _implied_dir(path: str) -> Entry:
    return Entry(path, EntryKind.DIR, mode=IMPLIED_DIR_MODE)


def apply_layer(below: _Tree | None, layer: Layer, index: int) -> _Tree:
    """The merged state after ``layer`` (at ``index``) is applied over ``below``."""
    dirs: dict[str, dict[str, Node]] = dict(below.dirs) if below else {ROOT: {}}
    root = below.root if below else _EMPTY_ROOT
    owned: set[str] = set()

    def kids_of(d: str) -> dict[str, Node]:
        if d not in owned:
            dirs[d] = dict(dirs[d])
            owned.add(d)
        return dirs[d]

    def drop_subtree(top: str) -> None:
        stack = [top]
        while stack:
            d = stack.pop()
            owned.discard(d)
            kids = dirs.pop(d, None)
            if kids:
                stack.extend(join(d, n) for n, node in kids.items() if node.entry.is_dir)

    def lookup(path: str) -> Node | None:
        parent, name = split(path)
        kids = dirs.get(parent)
        return kids.get(name) if kids is not None else None

    def remove(path: str) -> None:
        parent, name = split(path)
        if parent not in dirs or name not in dirs[parent]:
            return
        node = kids_of(parent).pop(name)
        if node.entry.is_dir:
            drop_subtree(path)

    def ensure_dir(path: str, entry: Entry | None) -> None:
        """Make ``path`` a directory of this layer; keep lower children if it was one."""
        nonlocal root
        if path == ROOT:
            if entry is not None:
                root = Node(entry, index, index)
            return
        parent, name = split(path)
        node = dirs[parent].get(name)
        if node is not None and node.entry.is_dir:
            if entry is not None:
                kids_of(parent)[name] = Node(entry, index, index)
            return
        if node is not None:
            kids_of(parent).pop(name)
        kids_of(parent)[name] = Node(entry or _implied_dir(path), index, index)
        dirs[path] = {}
        owned.add(path)

    def ensure_parents(path: str) -> None:
        # ``dirs`` holds exactly the directories of the tree, and a directory's ancestors
        # are directories too: a parent already in ``dirs`` means nothing to do.
        if (path.rpartition("/")[0] or ROOT) in dirs:
            return
        for anc in ancestors(path):
            node = lookup(anc)
            if node is None or not node.entry.is_dir:
                ensure_dir(anc, None)

    # 1. whiteouts and opaque markers act on the layers below only
    for path in sorted(layer.whiteouts):
        remove(path)
    for path in sorted(layer.opaques):
        node = root if path == ROOT else lookup(path)
        if node is not None and node.entry.is_dir:
            for name, child in list(dirs[path].items()):
                if child.entry.is_dir:
                    drop_subtree(join(path, name))
            dirs[path] = {}
            owned.add(path)
        else:
            ensure_parents(path)
            ensure_dir(path, None)

    # 2. the layer's own entries, one directory at a time, parents first (this loop is
    #    the hot path of scrubbing through a big image); hardlinks last, in stream order
    groups, hardlinks = layer.grouped_entries()
    root_entry = layer.get(ROOT)
    if root_entry is not None:
        ensure_dir(ROOT, root_entry)
    dir_kind = EntryKind.DIR
    for parent, children in groups:
        if parent not in dirs:  # missing, or not a directory: it becomes one (row 19)
            ensure_parents(parent)
            ensure_dir(parent, None)
        kids = kids_of(parent)
        for name, entry in children:
            old = kids.get(name)
            if entry.kind is dir_kind:
                if old is None or old.entry.kind is not dir_kind:
                    dirs[entry.path] = {}
                    owned.add(entry.path)
            elif old is not None and old.entry.kind is dir_kind:
                drop_subtree(entry.path)
            kids[name] = Node(entry, index, index)
    for entry in hardlinks:
        target = lookup(entry.linkname) if entry.linkname != ROOT else root
        if target is None or target.entry.is_dir:
            why = "does not exist below it" if target is None else "is a directory"
            raise BrokenHardlinkError(
                f"layer {index} ({layer.short_id}): hardlink {entry.path!r} -> "
                f"{entry.linkname!r}: the target {why}"
            )
        linked = target.entry
        if linked.is_regular:
            resolved = replace(linked, path=entry.path, kind=EntryKind.HARDLINK,
                               linkname=entry.linkname)
        else:
            resolved = replace(linked, path=entry.path)
        ensure_parents(entry.path)
        remove(entry.path)
        parent, name = split(entry.path)
        kids_of(parent)[name] = Node(resolved, index, target.content_layer)
    return _Tree(dirs, root)


class Stack:
    """The merged states of a base-first stack of layers, computed lazily and kept."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = tuple(layers)
        self._trees: list[_Tree] = []

    def extended(self, layer: Layer) -> Stack:
        """This stack with one more layer on top, sharing every merged state computed so far."""
        twin = Stack((*self.layers, layer))
        if self.layers:
            self.tree(len(self.layers) - 1)
        twin._trees = list(self._trees)
        return twin

    def tree(self, upto: int) -> _Tree:
        if len(self._trees) <= upto:
            with paused_gc():
                while len(self._trees) <= upto:
                    k = len(self._trees)
                    below = self._trees[-1] if k else None
                    self._trees.append(apply_layer(below, self.layers[k], k))
        return self._trees[upto]


# --- views -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Shadowed:
    """A lower version of a path that a view no longer shows, and what hid it.

    ``reason`` is one of ``"replaced"`` (a higher layer supplied the path again),
    ``"whiteout"`` (``by_path`` was whited out), ``"opaque"`` (``by_path`` became an opaque
    directory) or ``"parent replaced"`` (``by_path``, an ancestor, stopped being a directory).
    """

    layer: int
    entry: Entry
    hidden_by: int
    reason: str
    by_path: str


class View:
    """The merged filesystem after layer ``upto`` of an image: read-only, like a mount.

    Lookups take absolute or relative paths and resolve symlinks in intermediate
    components with chroot semantics (an absolute link target means root-relative).
    :meth:`stat`, :meth:`exists`, :meth:`readlink`, :meth:`provenance` and
    :meth:`shadowed` do not follow a symlink in the last component; :meth:`read` and
    :meth:`listdir` do.

    >>> from layerlab import Image, Layer, Whiteout
    >>> img = Image.from_layers([Layer.from_dict({"/a": "1", "/b": "2"}),
    ...                          Layer.from_dict({"/a": Whiteout(), "/c": "3"})])
    >>> img.view().listdir("/")
    ['b', 'c']
    >>> img.view(upto=0).read("/a")
    b'1'
    >>> img.view().shadowed("/a")[0].reason
    'whiteout'
    """

    def __init__(self, stack: Stack, upto: int) -> None:
        self._stack = stack
        self.upto = upto
        self._tree = stack.tree(upto) if upto >= 0 else _Tree({ROOT: {}}, _EMPTY_ROOT)

    def _repr_html_(self) -> str:
        from .views.html import view_html

        return view_html(self)

    def __repr__(self) -> str:
        return f"<View upto={self.upto} of {len(self._stack.layers)} layers, {len(self)} paths>"

    # -- resolution
    def _node(self, path: str, *, follow: bool) -> tuple[str, Node]:
        """Resolve ``path`` to (real path, node), following symlinks like the kernel."""
        if not isinstance(path, str):
            raise TypeError(f"path must be a str, not {type(path).__name__}")
        # No lexical clean-up first: like the kernel, '..' is the parent of where the walk
        # stands after following symlinks ('/lib/..' with /lib -> usr/lib is /usr); '/..' is '/'.
        pending = [p for p in path.split("/") if p and p != "."]
        current = ROOT
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                here = self._tree.lookup(current)
                if here is not None and not here.entry.is_dir:
                    raise NotADirectoryError_(f"{path!r}: {current!r} is not a directory")
                current = split(current)[0]
                continue
            node = self._tree.lookup(current)
            if node is None:
                raise PathNotFoundError(f"{path!r}: no such file or directory in view {self.upto}")
            if not node.entry.is_dir:
                raise NotADirectoryError_(f"{path!r}: {current!r} is not a directory")
            candidate = join(current, part)
            child = self._tree.lookup(candidate)
            if child is None:
                raise PathNotFoundError(f"{path!r}: no such file or directory in view {self.upto}")
            if child.entry.kind is EntryKind.SYMLINK and (pending or follow):
                hops += 1
                if hops > _MAX_SYMLINK_HOPS:
                    raise PathLookupError(f"{path!r}: too many levels of symbolic links")
                target = child.entry.linkname
                pending = [p for p in target.split("/") if p and p != "."] + pending
                if target.startswith("/"):
                    current = ROOT
                continue
            current = candidate
        node = self._tree.lookup(current)
        assert node is not None
        return current, node

    def _literal(self, path: str) -> Node:
        node = self._tree.lookup(normalize(path))
        if node is None:
            raise PathNotFoundError(f"{path!r}: no such file or directory in view {self.upto}")
        return node

    # -- the filesystem questions
    def exists(self, path: str) -> bool:
        """True if something is at ``path`` (a dangling symlink counts)."""
        try:
            self._node(path, follow=False)
        except PathLookupError:
            return False
        return True

    __contains__ = exists

    def stat(self, path: str, *, follow_symlinks: bool = False) -> Entry:
        """The entry at ``path``: kind, mode, owner, size, digest, link target, xattrs."""
        return self._node(path, follow=follow_symlinks)[1].entry

    def readlink(self, path: str) -> str:
        entry = self.stat(path)
        if entry.kind is not EntryKind.SYMLINK:
            raise PathLookupError(f"{path!r}: not a symbolic link (it is a {entry.kind})")
        return entry.linkname

    def _regular(self, path: str) -> Node:
        _, node = self._node(path, follow=True)
        if node.entry.is_dir:
            raise IsADirectoryError_(f"{path!r}: is a directory")
        if not node.entry.is_regular:
            raise PathLookupError(f"{path!r}: not a regular file (it is a {node.entry.kind})")
        return node

    def read(self, path: str) -> bytes:
        """The content of the regular file at ``path`` (symlinks followed)."""
        node = self._regular(path)
        return self._stack.layers[node.content_layer].read_content(node.entry)

    def open(self, path: str) -> BinaryIO:
        """A read-only file object streaming the regular file at ``path`` (symlinks
        followed), for files too big to :meth:`read` whole; close it when done."""
        node = self._regular(path)
        return self._stack.layers[node.content_layer].open_content(node.entry)

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        return self.read(path).decode(encoding)

    def listdir(self, path: str = ROOT) -> list[str]:
        """Sorted names in the directory at ``path`` (symlinks followed)."""
        real, node = self._node(path, follow=True)
        if not node.entry.is_dir:
            raise NotADirectoryError_(f"{path!r}: not a directory")
        return sorted(self._tree.dirs.get(real, {}))

    def walk(self, top: str = ROOT) -> Iterator[Entry]:
        """Every entry below ``top`` (not ``top`` itself), depth first, sorted by name."""
        real, node = self._node(top, follow=True)
        if not node.entry.is_dir:
            return
        dirs = self._tree.dirs
        stack = [(real, iter(sorted(dirs.get(real, {}))))]
        while stack:
            d, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                continue
            entry = dirs[d][name].entry
            yield entry
            if entry.is_dir:
                stack.append((entry.path, iter(sorted(dirs.get(entry.path, {})))))

    def paths(self) -> list[str]:
        return [e.path for e in self.walk()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths())

    def __len__(self) -> int:
        return sum(len(kids) for kids in self._tree.dirs.values())

    def lookup(self, path: str) -> Node | None:
        """The node at the literal ``path`` (no symlink followed): entry, supplying layer,
        layer holding its bytes; ``None`` when nothing is there."""
        return self._tree.lookup(normalize(path))

    def children(self, directory: str) -> list[Node]:
        """The nodes directly inside the literal ``directory``, sorted by name."""
        kids = self._tree.dirs.get(normalize(directory), {})
        return [kids[name] for name in sorted(kids)]

    @property
    def root(self) -> Entry:
        return self._tree.root.entry

    # -- teaching questions
    def provenance(self, path: str) -> int:
        """The index of the layer that supplies ``path`` in this view (-1: nobody did)."""
        return self._node(path, follow=False)[1].layer

    def nodes(self, top: str = ROOT) -> Iterator[tuple[Entry, int]]:
        """``(entry, supplying layer)`` for every path below ``top``, sorted."""
        for entry in self.walk(top):
            yield entry, self._tree.lookup(entry.path).layer  # type: ignore[union-attr]

    def shadowed(self, path: str) -> list[Shadowed]:
        """Every lower version of ``path`` this view hides, oldest first.

        Includes versions removed by a whiteout or an opaque directory, so it also
        answers "where did my file go?" for a path the view no longer shows.
        """
        path = normalize(path)
        current = self._tree.lookup(path)
        out: list[Shadowed] = []
        trees = [self._stack.tree(i) for i in range(self.upto + 1)]
        for i, tree in enumerate(trees):
            node = tree.lookup(path)
            if node is None or node.layer != i or (current is not None and current.layer == i):
                continue
            for j in range(i + 1, self.upto + 1):
                later = trees[j].lookup(path)
                if later is None or later.layer != i:
                    reason, by = _why_hidden(self._stack.layers[j], path)
                    out.append(Shadowed(i, node.entry, j, reason, by))
                    break
        return out


def _why_hidden(layer: Layer, path: str) -> tuple[str, str]:
    if layer.get(path) is not None:
        return "replaced", path
    for anc in (path, *reversed(list(ancestors(path)))):
        if anc in layer.whiteouts:
            return "whiteout", anc
    for anc in (*reversed(list(ancestors(path))), ROOT):
        if anc in layer.opaques:
            return "opaque", anc
    for anc in ancestors(path):
        entry = layer.get(anc)
        if entry is not None and not entry.is_dir:
            return "parent replaced", anc
    return "replaced", path

