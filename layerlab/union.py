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
* The parents of every path a layer names (entries, whiteouts, opaque markers) are
  directories of that layer, whatever is below: a layer is extracted into its own empty
  directory, as Docker's overlay2 does and as the store writes every layout it mounts
  (overlay2, aufs, containerd). So ``link/file`` (or ``link/.wh.x``) over a lower
  symlink ``link -> d`` shows a directory ``link`` and leaves ``d`` alone; an extractor
  working through a mount of the layers below (umoci) would write ``d/file`` instead.
* A hardlink names a target in the merged view as it stands when its layer is applied;
  changing either name later breaks the link.
* A whiteout of something that does not exist deletes nothing (its parents are still
  directories of its layer, by the rule above).

How the two markers are spelled (``.wh.`` names in a tar, a 0/0 character device or
``<ns>.overlay.*`` xattrs in an overlayfs directory) is :mod:`layerlab.whiteout`'s business;
this module sees only :class:`~layerlab.entry.Entry` markers and keeps the merge.

Views are lazy: a directory is merged when it is first looked at, from the same directory
one layer down and what layer *k* does in it (found by bisecting the layer's sorted
entries), and kept per directory per depth; a directory layer *k* does not touch is the
same object as below. Looking at a directory at every depth costs one small step per
layer, whatever the size of the layers.
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, BinaryIO, NamedTuple, overload

from ._perf import paused_gc
from .entry import IMPLIED_DIR_MODE, Entry, EntryKind
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

_MAX_SYMLINK_HOPS = 40


# --- the merge -------------------------------------------------------------------------


class Node(NamedTuple):
    """A path in a merged view: the entry seen, the layer that supplies it, the layer
    whose bytes it reads (differs from ``layer`` for a hardlink to a lower file)."""

    entry: Entry
    layer: int
    content_layer: int


_EMPTY_ROOT = Node(Entry(ROOT, EntryKind.DIR, mode=IMPLIED_DIR_MODE), -1, -1)

#: a directory's children, name -> node; shared between depths, never mutated once made
Kids = dict[str, Node]

# what a layer does to one path, before anything below is known (see _Plan)
_GONE, _REPLACE, _DIR = 0, 1, 2


class _Status(NamedTuple):
    kind: int  # _GONE: removed; _REPLACE: a non-directory; _DIR: a directory
    entry: Entry | None  # the layer's own entry; None for a directory nobody described
    fresh: bool  # _DIR: the lower children are hidden (opaque, or made anew)
    keep: bool  # _DIR without entry: a lower directory there keeps its node


_IMPLIED = _Status(_DIR, None, False, True)


def _implied_dir(path: str) -> Entry:
    return Entry(path, EntryKind.DIR, mode=IMPLIED_DIR_MODE)


def _path_key(entry: Entry) -> list[str]:
    return entry.path.split("/")  # the order of Layer.content_entries


class _Plan:
    """What one layer does, per directory, whatever lies below it.

    The layer's own entries are found per directory when a directory is first merged,
    by bisecting :attr:`Layer.content_entries` (sorted by path components), so nothing
    here walks the whole layer except one pass for its hardlinks. ``status`` holds the
    paths a marker decides (whiteouts, opaque directories and what they imply), with the
    layer's entry at the same path folded in; ``fresh`` the directories whose lower
    children this layer hides (it grows as directories are looked at: a non-directory of
    the layer that has entries below it becomes a new, empty directory, union row 19).
    """

    __slots__ = ("_children", "entries", "fresh", "hardlinks", "layer", "root_entry", "status")

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        self.entries = layer.content_entries
        hardlink = EntryKind.HARDLINK
        self.hardlinks = sorted((e for e in self.entries if e.kind is hardlink),
                                key=layer.stream_position)
        self.root_entry = layer.get(ROOT)
        self._children: dict[str, list[tuple[str, Entry | None, bool]]] = {}
        fresh: set[str] = set()
        # 1. markers act first: whiteouts, then opaque directories (sorted)
        whiteouts = layer.whiteouts
        pre: dict[str, _Status] = {p: _Status(_GONE, None, False, False) for p in whiteouts}
        for p in whiteouts:  # a whiteout's parents are directories of its layer (as Docker's
            parents = list(ancestors(p))  # overlay2 extracts it); not below another whiteout
            if any(a in whiteouts for a in parents):
                continue
            for a in parents:
                pre.setdefault(a, _IMPLIED)
        for p in sorted(layer.opaques):
            if p == ROOT:
                fresh.add(ROOT)
                continue
            for a in ancestors(p):
                above = pre.get(a)
                if above is None:
                    pre[a] = _Status(_DIR, None, False, True)
                elif above.kind != _DIR:
                    pre[a] = _Status(_DIR, None, True, False)
            was = pre.get(p)
            pre[p] = _Status(_DIR, None, True, was is None or (was.kind == _DIR and was.keep))
        # 2. then the layer's entries at those paths; a path with entries below it
        #    ends up a directory, replacing a non-directory of this layer (row 19)
        final: dict[str, _Status] = {}
        for p, pre_status in pre.items():
            e = self._own(p)
            ensured = self._has_below(p)
            s = pre_status
            if e is not None:
                if e.is_dir:
                    s = _Status(_DIR, e, pre_status.kind != _DIR or pre_status.fresh, False)
                else:
                    s = _Status(_REPLACE, e, False, False)
            if ensured and s.kind != _DIR:
                s = _Status(_DIR, None, True, False)
            if not ensured and e is None and self._under_replaced(p):
                continue  # went with that non-directory's subtree
            final[p] = s
        self.status: dict[str, dict[str, _Status]] = {}
        for p, s in final.items():
            parent, name = split(p)
            self.status.setdefault(parent, {})[name] = s
            if s.kind == _DIR and s.fresh:
                fresh.add(p)
        self.fresh = fresh

    def _own(self, path: str) -> Entry | None:
        """The layer's entry at ``path`` that takes part in the merge of its directory."""
        e = self.layer.get(path)
        return None if e is None or e.kind is EntryKind.HARDLINK else e

    def _has_below(self, path: str) -> bool:
        """True if the layer has an entry (not a hardlink) strictly below ``path``."""
        entries = self.entries
        prefix = path + "/"
        i = bisect_left(entries, path.split("/"), key=_path_key)
        while i < len(entries) and entries[i].path == path:
            i += 1
        while i < len(entries) and entries[i].path.startswith(prefix):
            if entries[i].kind is not EntryKind.HARDLINK:
                return True
            i += 1
        return False

    def _under_replaced(self, path: str) -> bool:
        """True if an ancestor of ``path`` is a non-directory of this layer that entries
        below it turn into a new directory (so what markers made below it is gone)."""
        for a in ancestors(path):
            e = self._own(a)
            if e is not None and not e.is_dir and self._has_below(a):
                return True
        return False

    def children(self, d: str) -> list[tuple[str, Entry | None, bool]]:
        """``(name, the layer's entry or None, has entries below)`` for every name the
        layer has directly in ``d`` (hardlinks aside), sorted by name; kept."""
        got = self._children.get(d)
        if got is not None:
            return got
        entries = self.entries
        n = len(entries)
        parts = [""] if d == ROOT else d.split("/")
        prefix = "/" if d == ROOT else d + "/"
        cut = len(prefix)
        hardlink = EntryKind.HARDLINK
        out: list[tuple[str, Entry | None, bool]] = []
        i = bisect_left(entries, parts, key=_path_key)
        while i < n:
            entry = entries[i]
            path = entry.path
            if path == d:
                i += 1
                continue
            if not path.startswith(prefix):
                break
            name, sep, _ = path[cut:].partition("/")
            own: Entry | None = None
            if not sep:
                own = entry if entry.kind is not hardlink else None
                i += 1
            below = False
            if i < n and entries[i].path.startswith(f"{prefix}{name}/"):
                end = bisect_left(entries, [*parts, name + "\0"], lo=i, key=_path_key)
                below = any(entries[j].kind is not hardlink for j in range(i, end))
                i = end
            if below and own is not None and not own.is_dir:
                self.fresh.add(join(d, name))  # a new directory replaces the non-directory
            if own is not None or below:
                out.append((name, own, below))
        self._children[d] = out
        return out

    def hides_lower(self, d: str) -> bool:
        """True if this layer hides what the layers below hold in the directory ``d``."""
        fresh = self.fresh
        if not fresh:
            return False
        if d in fresh or ROOT in fresh:
            return True
        return any(a in fresh for a in ancestors(d))


class _Linked:
    """Layer ``k``'s hardlinks, applied in stream order over the merged state without
    them: the few directories they change, and the subtrees they removed."""

    __slots__ = ("dropped", "k", "patch", "stack")

    def __init__(self, stack: Stack, k: int, layer: Layer, hardlinks: list[Entry]) -> None:
        self.stack, self.k = stack, k
        self.patch: dict[str, Kids | None] = {}
        self.dropped: set[str] = set()
        for entry in hardlinks:
            target = self.lookup(entry.linkname)
            if target is None or target.entry.is_dir:
                why = "does not exist below it" if target is None else "is a directory"
                raise BrokenHardlinkError(
                    f"layer {k} ({layer.short_id}): hardlink {entry.path!r} -> "
                    f"{entry.linkname!r}: the target {why}"
                )
            linked = target.entry
            if linked.is_regular:
                resolved = replace(linked, path=entry.path, kind=EntryKind.HARDLINK,
                                   linkname=entry.linkname)
            else:
                resolved = replace(linked, path=entry.path)
            self._ensure_parents(entry.path)
            self._remove(entry.path)
            parent, name = split(entry.path)
            self._own(parent)[name] = Node(resolved, k, target.content_layer)

    def kids(self, d: str) -> Kids | None:
        got = self.own_answer(d)
        return self.stack._pre_kids(d, self.k) if got is _UNSET else got

    def own_answer(self, d: str) -> Kids | None:
        """What the hardlinks made of ``d``, or ``_UNSET``: the same as without them."""
        if d in self.patch:
            return self.patch[d]
        if self.dropped and (d in self.dropped or any(a in self.dropped for a in ancestors(d))):
            return None
        return _UNSET

    def lookup(self, path: str) -> Node | None:
        if path == ROOT:
            return self.stack.root(self.k)
        parent, name = split(path)
        kids = self.kids(parent)
        return kids.get(name) if kids is not None else None

    def _own(self, d: str) -> Kids:
        kids = self.patch.get(d)
        if kids is None:
            kids = self.patch[d] = dict(self.kids(d) or {})
        return kids

    def _drop(self, top: str) -> None:
        below = top + "/"
        for gone in [p for p in self.patch if p == top or p.startswith(below)]:
            del self.patch[gone]
        self.dropped.add(top)

    def _remove(self, path: str) -> None:
        parent, name = split(path)
        kids = self.kids(parent)
        if kids is None or name not in kids:
            return
        node = self._own(parent).pop(name)
        if node.entry.is_dir:
            self._drop(path)

    def _ensure_parents(self, path: str) -> None:
        for anc in ancestors(path):
            node = self.lookup(anc)
            if node is not None and node.entry.is_dir:
                continue
            parent, name = split(anc)
            if node is not None:
                self._own(parent).pop(name)
            self._own(parent)[name] = Node(_implied_dir(anc), self.k, self.k)
            self.patch[anc] = {}


_UNSET: Kids = {}  # a sentinel: "not computed yet" (never returned)


class _Tree:
    """The merged state after layer ``k`` of a stack, merged one directory at a time."""

    __slots__ = ("dirs", "k", "stack")

    def __init__(self, stack: Stack, k: int) -> None:
        self.stack, self.k = stack, k
        self.dirs = _Dirs(stack, k)

    @property
    def root(self) -> Node:
        return self.stack.root(self.k)

    def kids(self, d: str) -> Kids | None:
        """The children of the directory ``d`` (a clean path), ``None`` if ``d`` is not one."""
        return self.stack.kids(d, self.k)

    def lookup(self, path: str) -> Node | None:
        if path == ROOT:
            return self.stack.root(self.k)
        parent, name = split(path)
        kids = self.stack.kids(parent, self.k)
        return kids.get(name) if kids is not None else None


class _Dirs:
    """``directory path -> children`` of one merged state, as a read-only mapping that
    merges each directory when it is first asked for."""

    __slots__ = ("k", "stack")

    def __init__(self, stack: Stack, k: int) -> None:
        self.stack, self.k = stack, k

    @overload
    def get(self, d: str) -> Kids | None: ...
    @overload
    def get(self, d: str, default: Kids) -> Kids: ...
    def get(self, d: str, default: Kids | None = None) -> Kids | None:
        kids = self.stack.kids(d, self.k)
        return default if kids is None else kids

    def __getitem__(self, d: str) -> Kids:
        kids = self.stack.kids(d, self.k)
        if kids is None:
            raise KeyError(d)
        return kids

    def __contains__(self, d: object) -> bool:
        return isinstance(d, str) and self.stack.kids(d, self.k) is not None


class Stack:
    """The merged states of a base-first stack of layers, computed lazily and kept.

    Nothing is merged up front: the children of directory ``d`` after layer ``k`` are
    computed when first asked for, from the children of ``d`` after layer ``k - 1`` (the
    same dict when layer ``k`` does not touch ``d``) and what layer ``k`` does there, and
    then kept. Looking at one directory at every depth costs one small step per layer,
    whatever the size of the layers.
    """

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = tuple(layers)
        n = len(self.layers)
        self._plans: list[_Plan | None] = [None] * n
        self._roots: list[Node | None] = [None] * n
        #: per depth: directory -> children (None: not a directory) before the hardlinks
        self._pre: list[dict[str, Kids | None]] = [{} for _ in range(n)]
        #: per depth: the same after the hardlinks (the same dict for a layer without any)
        self._final: list[dict[str, Kids | None] | None] = [None] * n
        self._linked: list[_Linked | None] = [None] * n
        self._sizes: list[int | None] = [None] * n

    def extended(self, layer: Layer) -> Stack:
        """This stack with one more layer on top, sharing every merged state computed so far."""
        return self._share(Stack((*self.layers, layer)), len(self.layers))

    def prefix(self, n: int) -> Stack:
        """The stack of the first ``n`` layers, sharing what is merged already."""
        if n == len(self.layers):
            return self
        return self._share(Stack(self.layers[:n]), n)

    def _share(self, twin: Stack, n: int) -> Stack:
        # the merged states of depths below n depend on layers 0..n-1 only: the same objects
        twin._plans[:n] = self._plans[:n]
        twin._roots[:n] = self._roots[:n]
        twin._pre[:n] = self._pre[:n]
        twin._final[:n] = self._final[:n]
        twin._linked[:n] = self._linked[:n]
        twin._sizes[:n] = self._sizes[:n]
        return twin

    def tree(self, upto: int) -> _Tree:
        """The merged state after layer ``upto`` (-1: before the first layer).

        Raises :class:`BrokenHardlinkError` now, as a full merge would, if a hardlink of
        one of these layers names nothing (each layer's hardlinks are resolved once)."""
        if upto >= len(self.layers):
            raise IndexError(f"upto={upto}: the stack has {len(self.layers)} layers")
        for k in range(upto + 1):
            if self._linked[k] is None and self.plan(k).hardlinks:
                self.kids(ROOT, k)
        return _Tree(self, upto)

    # -- per layer
    def plan(self, k: int) -> _Plan:
        plan = self._plans[k]
        if plan is None:
            with paused_gc():
                plan = self._plans[k] = _Plan(self.layers[k])
        return plan

    def root(self, k: int) -> Node:
        """The root's node after layer ``k``."""
        if k < 0:
            return _EMPTY_ROOT
        node = self._roots[k]
        if node is None:
            low = k  # the nearest depth below that knows (a loop: stacks may be tall)
            while low >= 0 and self._roots[low] is None:
                low -= 1
            node = self._roots[low] if low >= 0 else _EMPTY_ROOT
            for j in range(low + 1, k + 1):
                entry = self.plan(j).root_entry
                if entry is not None:
                    node = Node(entry, j, j)
                self._roots[j] = node
        return node  # type: ignore[return-value]

    def size(self, k: int) -> int:
        """How many paths the merged state after layer ``k`` holds (merges it all, once)."""
        if k < 0:
            return 0
        size = self._sizes[k]
        if size is None:
            size = 0
            pending = [ROOT]
            while pending:
                kids = self.kids(pending.pop(), k) or {}
                size += len(kids)
                pending.extend(n.entry.path for n in kids.values() if n.entry.is_dir)
            self._sizes[k] = size
        return size

    # -- per directory
    def kids(self, d: str, k: int) -> Kids | None:
        """The children of the clean directory path ``d`` after layer ``k`` (``None``:
        ``d`` is not a directory there)."""
        if k < 0:
            return {} if d == ROOT else None
        final = self._final[k]
        if final is not None:
            kids = final.get(d, _UNSET)
            if kids is not _UNSET:
                return kids
        plan = self.plan(k)
        if not plan.hardlinks:
            self._final[k] = self._pre[k]
            return self._pre_kids(d, k)
        linked = self._linked[k]
        if linked is None:
            with paused_gc():
                linked = self._linked[k] = _Linked(self, k, self.layers[k], plan.hardlinks)
            self._final[k] = {}
        kids = linked.kids(d)
        self._final[k][d] = kids  # type: ignore[index]
        return kids

    def _pre_kids(self, d: str, k: int) -> Kids | None:
        """Children of ``d`` after layer ``k`` without its hardlinks: an explicit stack of
        (directory, depth) to compute, so deep trees and tall stacks need no recursion."""
        memo = self._pre[k]
        kids = memo.get(d, _UNSET)
        if kids is not _UNSET:
            return kids
        with paused_gc():  # many small acyclic objects: no collector passes over them
            return self._compute(d, k)

    def _compute(self, d: str, k: int) -> Kids | None:
        todo = [(d, k)]
        while todo:
            path, depth = todo[-1]
            memo = self._pre[depth]
            if path in memo:
                todo.pop()
                continue
            if path != ROOT:  # is it a directory at this depth at all?
                parent, name = split(path)
                above = memo.get(parent, _UNSET)
                if above is _UNSET:
                    todo.append((parent, depth))
                    continue
                node = above.get(name) if above is not None else None
                if node is None or node.entry.kind is not EntryKind.DIR:
                    memo[path] = None
                    todo.pop()
                    continue
            plan = self.plan(depth)
            if plan.hides_lower(path) or depth == 0:
                base: Kids = {}
            else:
                below_memo = self._final[depth - 1]
                got = below_memo.get(path, _UNSET) if below_memo is not None else _UNSET
                if got is _UNSET:
                    linked = self._linked[depth - 1]
                    if linked is not None:  # that layer's hardlinks are resolved already
                        got = linked.own_answer(path)
                        if got is _UNSET:
                            got = self._pre[depth - 1].get(path, _UNSET)
                            if got is _UNSET:
                                todo.append((path, depth - 1))
                                continue
                        self._final[depth - 1][path] = got  # type: ignore[index]
                    elif self.plan(depth - 1).hardlinks:
                        got = self.kids(path, depth - 1)  # nested: resolves that layer's links
                    else:
                        self._final[depth - 1] = self._pre[depth - 1]
                        todo.append((path, depth - 1))
                        continue
                base = got if got is not None else {}
            memo[path] = _merge_dir(path, depth, plan, base)
            todo.pop()
        return self._pre[k][d]


def _merge_dir(d: str, k: int, plan: _Plan, base: Kids) -> Kids:
    """The children of ``d`` after layer ``k``, from those the layers below show (``base``,
    empty when the layer hides them) and what ``plan`` says the layer does in ``d``."""
    own = plan.children(d)
    status = plan.status.get(d)
    if not own and status is None:
        return base  # untouched: the same dict as below
    out = dict(base)
    dir_kind = EntryKind.DIR
    for name, entry, below in own:
        if entry is not None and (entry.kind is dir_kind or not below):
            out[name] = Node(entry, k, k)
        else:  # a directory the layer implies (over a non-directory of its own, row 19)
            low = base.get(name)
            if entry is not None or low is None or low.entry.kind is not dir_kind:
                out[name] = Node(_implied_dir(join(d, name)), k, k)
    if status is not None:
        for name, s in status.items():
            if s.kind == _GONE:
                out.pop(name, None)
            elif s.entry is not None:
                out[name] = Node(s.entry, k, k)
            else:
                low = base.get(name)
                if not (s.keep and low is not None and low.entry.kind is dir_kind):
                    out[name] = Node(_implied_dir(join(d, name)), k, k)
                else:
                    out[name] = low
    return out


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


def symlink_hop(path: str, hops: int) -> int:
    """One more symlink followed while resolving ``path``: the new count (raises past
    the kernel's limit of 40, ``ELOOP``)."""
    hops += 1
    if hops > _MAX_SYMLINK_HOPS:
        raise PathLookupError(f"{path!r}: too many levels of symbolic links")
    return hops


def link_parts(target: str) -> list[str]:
    """The components a symlink's ``target`` adds to the walk (empty names and ``.``
    dropped; ``..`` kept: it is resolved where the walk stands)."""
    return [p for p in target.split("/") if p and p != "."]


#: a node's entry (C speed on the walk's hot path)
_ENTRY_OF = operator.attrgetter("entry")


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
        self._tree = stack.tree(upto)

    def _repr_html_(self) -> str:
        from .views.html import view_html

        return view_html(self)

    def __repr__(self) -> str:
        return f"<View upto={self.upto} of {len(self._stack.layers)} layers, {len(self)} paths>"

    # -- resolution: what a subclass (the container's LiveView) answers its own way are
    # resolve, read_node/open_node, listdir, _walk_nodes and the merged-structure methods;
    # the filesystem questions below are asked through them, one implementation for both
    def resolve(self, path: str, *, follow: bool) -> tuple[str, Node]:
        """The real path ``path`` names (symlinks in intermediate components followed like
        the kernel, the last one too when ``follow``) and its node; raises like
        :meth:`stat`."""
        if not isinstance(path, str):
            raise TypeError(f"path must be a str, not {type(path).__name__}")
        # No lexical clean-up first: like the kernel, '..' is the parent of where the walk
        # stands after following symlinks ('/lib/..' with /lib -> usr/lib is /usr); '/..' is '/'.
        pending = link_parts(path)
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
                hops = symlink_hop(path, hops)
                target = child.entry.linkname
                pending = link_parts(target) + pending
                if target.startswith("/"):
                    current = ROOT
                continue
            current = candidate
        node = self._tree.lookup(current)
        assert node is not None
        return current, node

    # -- the filesystem questions
    def exists(self, path: str) -> bool:
        """True if something is at ``path`` (a dangling symlink counts)."""
        try:
            self.resolve(path, follow=False)
        except PathLookupError:
            return False
        return True

    __contains__ = exists

    def stat(self, path: str, *, follow_symlinks: bool = False) -> Entry:
        """The entry at ``path``: kind, mode, owner, size, digest, link target, xattrs."""
        return self.resolve(path, follow=follow_symlinks)[1].entry

    def readlink(self, path: str) -> str:
        entry = self.stat(path)
        if entry.kind is not EntryKind.SYMLINK:
            raise PathLookupError(f"{path!r}: not a symbolic link (it is a {entry.kind})")
        return entry.linkname

    def _regular(self, path: str) -> Node:
        node = self.resolve(path, follow=True)[1]
        if node.entry.is_dir:
            raise IsADirectoryError_(f"{path!r}: is a directory")
        if not node.entry.is_regular:
            raise PathLookupError(f"{path!r}: not a regular file (it is a {node.entry.kind})")
        return node

    def read_node(self, node: Node) -> bytes:
        """The bytes of a regular file's node of this view."""
        return self._stack.layers[node.content_layer].read_content(node.entry)

    def open_node(self, node: Node) -> BinaryIO:
        """A read-only stream of a regular file's node of this view."""
        return self._stack.layers[node.content_layer].open_content(node.entry)

    def read(self, path: str) -> bytes:
        """The content of the regular file at ``path`` (symlinks followed)."""
        return self.read_node(self._regular(path))

    def open(self, path: str) -> BinaryIO:
        """A read-only file object streaming the regular file at ``path`` (symlinks
        followed), for files too big to :meth:`read` whole; close it when done."""
        return self.open_node(self._regular(path))

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        return self.read(path).decode(encoding)

    def listdir(self, path: str = ROOT) -> list[str]:
        """Sorted names in the directory at ``path`` (symlinks followed)."""
        real, node = self.resolve(path, follow=True)
        if not node.entry.is_dir:
            raise NotADirectoryError_(f"{path!r}: not a directory")
        return sorted(self._tree.dirs.get(real, {}))

    def _walk_nodes(self, top: str) -> Iterator[Node]:
        """The node of every path below ``top``, depth first, sorted by name."""
        real, node = self.resolve(top, follow=True)
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
            child = dirs[d][name]
            yield child
            if child.entry.is_dir:
                stack.append((child.entry.path, iter(sorted(dirs.get(child.entry.path, {})))))

    def walk(self, top: str = ROOT) -> Iterator[Entry]:
        """Every entry below ``top`` (not ``top`` itself), depth first, sorted by name."""
        return map(_ENTRY_OF, self._walk_nodes(top))  # lazy, as the walk is

    def paths(self) -> list[str]:
        return [e.path for e in self.walk()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths())

    def __len__(self) -> int:
        """How many paths the view shows (the root aside). The first call merges every
        directory; :meth:`has_more_than` answers "is it big?" without doing so."""
        return self._stack.size(self.upto)

    def has_more_than(self, n: int) -> bool:
        """True if the view shows more than ``n`` paths; merges only until it knows.

        >>> from layerlab import Image, Layer
        >>> view = Image.from_layers([Layer.from_dict({"/a": "1", "/d/b": "2"})]).view()
        >>> view.has_more_than(2), view.has_more_than(3)
        (True, False)
        """
        seen = 0
        pending = [ROOT]
        while pending:
            kids = self._tree.kids(pending.pop()) or {}
            seen += len(kids)
            if seen > n:
                return True
            pending.extend(node.entry.path for node in kids.values() if node.entry.is_dir)
        return False

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers this view merges, base first (``upto + 1`` of them)."""
        return self._stack.layers[: self.upto + 1]

    def with_layer(self, layer: Layer) -> View:
        """This view with ``layer`` applied on top (what a container's read-write layer
        does), sharing every directory merged so far.

        >>> from layerlab import Image, Layer, Whiteout
        >>> base = Image.from_layers([Layer.from_dict({"/a": "1", "/b": "2"})]).view()
        >>> base.with_layer(Layer.from_dict({"/a": Whiteout()})).listdir("/")
        ['b']
        """
        return View(self._stack.prefix(self.upto + 1).extended(layer), self.upto + 1)

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
        return self.resolve(path, follow=False)[1].layer

    def nodes(self, top: str = ROOT) -> Iterator[tuple[Entry, int]]:
        """``(entry, supplying layer)`` for every path below ``top``, sorted."""
        for node in self._walk_nodes(top):
            yield node.entry, node.layer

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
                    layer = self._stack.layers[j]
                    reason, by = why_hidden(layer.get, layer.whiteouts, layer.opaques, path)
                    out.append(Shadowed(i, node.entry, j, reason, by))
                    break
        return out


def why_hidden(get: Callable[[str], Entry | None], whiteouts: Collection[str],
               opaques: Collection[str], path: str) -> tuple[str, str]:
    """Why the layer that ``get`` looks entries up in (with its ``whiteouts`` and
    ``opaques``) hides the lower ``path``: ``(reason, the path that does it)``, the reason
    one of ``replaced``, ``whiteout``, ``opaque``, ``parent replaced``. An image layer
    and a container's read-write layer answer with the same rules.

    >>> from layerlab import Layer, Whiteout
    >>> upper = Layer.from_dict({"/etc": Whiteout()})
    >>> why_hidden(upper.get, upper.whiteouts, upper.opaques, "/etc/motd")
    ('whiteout', '/etc')
    """
    if get(path) is not None:
        return "replaced", path
    for anc in (path, *reversed(list(ancestors(path)))):
        if anc in whiteouts:
            return "whiteout", anc
    for anc in (*reversed(list(ancestors(path))), ROOT):
        if anc in opaques:
            return "opaque", anc
    for anc in ancestors(path):
        entry = get(anc)
        if entry is not None and not entry.is_dir:
            return "parent replaced", anc
    return "replaced", path

