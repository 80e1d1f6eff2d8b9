"""The container's mutable side: the read-write layer and the live view over it.

A container's filesystem is the image's merged view (immutable, computed once) plus one
read-write layer, the overlayfs *upper directory*. :class:`ReadWriteLayer` is that upper
directory as data: entries, whiteouts and opaque markers, with an index by parent
directory so that a change costs O(1) and a directory listing looks at one directory.
:class:`LiveView` answers every :class:`~layerlab.union.View` question over the two
without merging anything in advance: a lookup asks the read-write layer first (its
entries, whiteouts and opaque directories), then the lower view; ``listdir`` merges the
one directory asked about. No tar is made until the layer is frozen
(:meth:`ReadWriteLayer.to_layer`, on commit or export).

The answers are those of the union's merge applied to ``image layers + to_layer()``
(:func:`layerlab.union.apply_layer`): the read-write layer's entries win, a whiteout
hides the lower path and its subtree, an opaque directory hides every lower child,
a non-directory hides the lower subtree below it, a hardlink shows its target's entry,
and a parent that only the read-write layer's children imply is a directory of mode 0755.

>>> from layerlab import Image, Layer
>>> img = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\\n", "/etc/issue": "x"})])
>>> rw = ReadWriteLayer()
>>> rw.whiteouts.add("/etc/issue")
>>> rw.entries["/etc"] = img.view().stat("/etc")
>>> view = LiveView(img.view(), img.layers, rw)
>>> view.listdir("/etc"), view.provenance("/etc"), view.provenance("/etc/motd")
(['motd'], 1, 0)
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, BinaryIO

from .blob import FileBlob
from .entry import IMPLIED_DIR_MODE, Entry, EntryKind
from .errors import (
    BrokenHardlinkError,
    NotADirectoryError_,
    PathNotFoundError,
)
from .paths import ROOT, join, normalize, split
from .union import Node, Shadowed, Stack, View, link_parts, symlink_hop, why_hidden

if TYPE_CHECKING:
    from .layer import Layer

__all__ = ["LiveView", "ReadWriteLayer"]

_MAX_LINK_DEPTH = 40


class _Entries(dict[str, Entry]):
    """``path -> Entry`` that keeps its read-write layer's indexes in step."""

    __slots__ = ("_owner",)

    def __init__(self, owner: ReadWriteLayer) -> None:
        super().__init__()
        self._owner = owner

    def __setitem__(self, path: str, entry: Entry) -> None:
        old = dict.get(self, path)
        dict.__setitem__(self, path, entry)
        self._owner._entry_set(path, old, entry)

    def __delitem__(self, path: str) -> None:
        old = dict.pop(self, path)
        self._owner._entry_gone(path, old)

    def pop(self, path: str, *default: Any) -> Any:
        if path not in self:
            if default:
                return default[0]
            raise KeyError(path)
        old = dict.pop(self, path)
        self._owner._entry_gone(path, old)
        return old

    def popitem(self) -> tuple[str, Entry]:
        path, old = dict.popitem(self)
        self._owner._entry_gone(path, old)
        return path, old

    def clear(self) -> None:
        for path in list(self):
            del self[path]

    def setdefault(self, path: str, default: Entry) -> Entry:
        if path not in self:
            self[path] = default
        return dict.__getitem__(self, path)

    def update(self, *args: Any, **kwargs: Entry) -> None:
        for path, entry in dict(*args, **kwargs).items():
            self[path] = entry

    def __ior__(self, other: Any) -> Any:  # type: ignore[misc]
        self.update(other)
        return self


class _Markers(set[str]):
    """A set of marker paths (whiteouts or opaque directories) that records its changes."""

    __slots__ = ("_index", "_owner")

    def __init__(self, owner: ReadWriteLayer, items: Iterable[str] = (), *,
                 index: dict[str, set[str]] | None = None) -> None:
        super().__init__()
        self._owner = owner
        self._index = index
        for p in items:
            self.add(p)

    def add(self, path: str) -> None:
        if path not in self:
            set.add(self, path)
            if self._index is not None:
                parent, name = split(path)
                self._index.setdefault(parent, set()).add(name)
            self._owner._touch(path)

    def discard(self, path: Any) -> None:
        if path in self:
            set.discard(self, path)
            if self._index is not None:
                parent, name = split(path)
                names = self._index.get(parent)
                if names is not None:
                    names.discard(name)
                    if not names:
                        del self._index[parent]
            self._owner._touch(path)

    def remove(self, path: str) -> None:
        if path not in self:
            raise KeyError(path)
        self.discard(path)

    def pop(self) -> str:
        path = next(iter(self))
        self.discard(path)
        return path

    def clear(self) -> None:
        for path in list(self):
            self.discard(path)

    def update(self, *others: Iterable[str]) -> None:
        for other in others:
            for path in other:
                self.add(path)

    def difference_update(self, *others: Iterable[Any]) -> None:
        for other in others:
            for path in list(other):
                self.discard(path)

    def intersection_update(self, *others: Iterable[Any]) -> None:
        keep = set(self).intersection(*others)
        for path in list(self):
            if path not in keep:
                self.discard(path)

    def symmetric_difference_update(self, other: Iterable[str]) -> None:
        for path in set(other):
            if path in self:
                self.discard(path)
            else:
                self.add(path)

    def __ior__(self, other: Any) -> Any:  # type: ignore[misc]
        self.update(other)
        return self

    def __isub__(self, other: Any) -> Any:  # type: ignore[misc]
        self.difference_update(other)
        return self

    def __iand__(self, other: Any) -> Any:  # type: ignore[misc]
        self.intersection_update(other)
        return self

    def __ixor__(self, other: Any) -> Any:  # type: ignore[misc]
        self.symmetric_difference_update(other)
        return self


class ReadWriteLayer:
    """What is physically in the container's upper directory, whiteouts included.

    The one mutable thing in layerlab. Read it; change it through the container.
    ``entries`` (``path -> Entry``), ``data`` (file contents by digest),
    ``whiteouts`` and ``opaques`` (sets of paths) behave as a dict and sets; every change
    to them updates an index by parent directory (so a listing looks at one directory)
    and is recorded for :meth:`take_changes` (so a store writes through only what
    changed) and in :attr:`version`.

    >>> rw = ReadWriteLayer()
    >>> rw.entries["/d"] = Entry("/d", EntryKind.DIR)
    >>> rw.entries["/d/f"] = Entry("/d/f", EntryKind.FILE)
    >>> rw.children("/d"), sorted(rw.take_changes() or ())
    (['f'], ['/d', '/d/f'])
    """

    def __init__(self) -> None:
        #: parent directory -> names of children that are entries or hold entries below
        self._kids: dict[str, set[str]] = {}
        #: parent directory -> names whited out there
        self._wh_kids: dict[str, set[str]] = {}
        self._hardlinks = 0
        #: digest -> how many entries hold it: contents nobody holds any more are dropped
        self._uses: dict[str, int] = {}
        self._changes: set[str] = set()
        self._everything = False
        #: bumped on every change: a snapshot of the layer is still good while it is equal
        self.version = 0
        self._entries = _Entries(self)
        #: file contents by digest (a :class:`~layerlab.blob.FileBlob` for a big file
        #: kept on disk)
        self.data: dict[str, bytes | FileBlob] = {}
        self._whiteouts = _Markers(self, index=self._wh_kids)
        self._opaques = _Markers(self)

    # --- the three collections (assignable, as before) ---------------------------------
    @property
    def entries(self) -> dict[str, Entry]:
        """``path -> Entry`` of everything in the upper directory but the markers."""
        return self._entries

    @entries.setter
    def entries(self, value: Mapping[str, Entry]) -> None:
        self._entries.clear()
        for path, entry in value.items():
            self._entries[path] = entry

    @property
    def whiteouts(self) -> set[str]:
        """Paths deleted from the image below."""
        return self._whiteouts

    @whiteouts.setter
    def whiteouts(self, value: Iterable[str]) -> None:
        value = set(value)
        self._whiteouts.intersection_update(value)
        self._whiteouts.update(value)

    @property
    def opaques(self) -> set[str]:
        """Directories whose lower children are hidden."""
        return self._opaques

    @opaques.setter
    def opaques(self, value: Iterable[str]) -> None:
        value = set(value)
        self._opaques.intersection_update(value)
        self._opaques.update(value)

    # --- index upkeep (called by the collections) --------------------------------------
    def _touch(self, path: str) -> None:
        self._changes.add(path)
        self.version += 1

    def _entry_set(self, path: str, old: Entry | None, entry: Entry) -> None:
        self._touch(path)
        if entry.kind is EntryKind.HARDLINK:
            self._hardlinks += 1
        if entry.digest:
            self._uses[entry.digest] = self._uses.get(entry.digest, 0) + 1
        if old is None:
            self._register(path)
        else:
            self._release(old)

    def _entry_gone(self, path: str, old: Entry) -> None:
        self._touch(path)
        self._release(old)
        self._unregister(path)

    def _release(self, old: Entry) -> None:
        """``old`` left the layer: forget its content when no entry holds it any more
        (a file rewritten 1,000 times keeps one content, not 1,000)."""
        if old.kind is EntryKind.HARDLINK:
            self._hardlinks -= 1
        if old.digest:
            left = self._uses.get(old.digest, 0) - 1
            if left > 0:
                self._uses[old.digest] = left
            else:
                self._uses.pop(old.digest, None)
                self.data.pop(old.digest, None)

    def _register(self, path: str) -> None:
        while path != ROOT:
            parent, name = split(path)
            names = self._kids.get(parent)
            if names is None:
                names = self._kids[parent] = set()
            elif name in names:
                return
            names.add(name)
            if parent in self._entries:
                return
            path = parent

    def _unregister(self, path: str) -> None:
        while path != ROOT:
            if path in self._entries or self._kids.get(path):
                return
            self._kids.pop(path, None)
            parent, name = split(path)
            names = self._kids.get(parent)
            if names is None or name not in names:
                return
            names.discard(name)
            if names:
                return
            del self._kids[parent]
            path = parent

    # --- questions ---------------------------------------------------------------------
    def children(self, directory: str) -> list[str]:
        """Sorted names directly below ``directory`` that are entries of this layer or
        hold entries below them (not the whiteouts)."""
        return sorted(self._kids.get(directory, ()))

    def has_below(self, directory: str) -> bool:
        """True if some entry of this layer lies below ``directory``."""
        return bool(self._kids.get(directory))

    def whited_out_in(self, directory: str) -> list[str]:
        """Sorted names whited out directly in ``directory``."""
        return sorted(self._wh_kids.get(directory, ()))

    @property
    def has_hardlinks(self) -> bool:
        return self._hardlinks > 0

    def subtree(self, top: str) -> list[str]:
        """Every entry or whiteout path at ``top`` and below (unsorted), found through the
        index: the cost is the size of the subtree, not of the layer."""
        if top == ROOT:
            return [*self._entries, *self._whiteouts]
        out = [top] if top in self._entries or top in self._whiteouts else []
        stack = [top]
        while stack:
            d = stack.pop()
            for name in self._wh_kids.get(d, ()):
                out.append(join(d, name))
            for name in self._kids.get(d, ()):
                p = join(d, name)
                if p in self._entries:
                    out.append(p)
                stack.append(p)
        return out

    def take_changes(self) -> set[str] | None:
        """The paths changed since the last call (entries, whiteouts or opaque markers),
        and forget them; ``None`` means "everything": the layer was replaced whole."""
        if self._everything:
            self._everything = False
            self._changes = set()
            return None
        changes, self._changes = self._changes, set()
        return changes

    def mark_all_changed(self) -> None:
        """Say that the next :meth:`take_changes` is "everything" (a layer swapped in)."""
        self._everything = True
        self.version += 1

    def copy(self) -> ReadWriteLayer:
        """An independent copy with the same contents (for a snapshot view)."""
        twin = ReadWriteLayer()
        for path, entry in self._entries.items():
            dict.__setitem__(twin._entries, path, entry)
        twin._kids = {d: set(names) for d, names in self._kids.items()}
        twin._wh_kids = {d: set(names) for d, names in self._wh_kids.items()}
        set.update(twin._whiteouts, self._whiteouts)
        twin._whiteouts._index = twin._wh_kids
        set.update(twin._opaques, self._opaques)
        twin._hardlinks = self._hardlinks
        twin._uses = dict(self._uses)
        twin.data = dict(self.data)
        twin.version = self.version
        return twin

    # --- as before ---------------------------------------------------------------------
    @classmethod
    def from_layer(cls, layer: Layer) -> ReadWriteLayer:
        """A read-write layer holding what ``layer`` holds (an upper directory read back)."""
        rw = cls()
        for entry in layer.content_entries:
            rw.entries[entry.path] = entry
            if entry.kind is EntryKind.FILE and entry.digest:
                rw.data[entry.digest] = layer.read_content(entry)
        rw.whiteouts = set(layer.whiteouts)
        rw.opaques = set(layer.opaques)
        return rw

    def paths(self) -> list[str]:
        return sorted(set(self._entries) | self._whiteouts)

    def __len__(self) -> int:
        return len(self._entries) + len(self._whiteouts)

    def listing(self) -> list[Entry]:
        """Every entry in the upper directory, markers included, sorted by path."""
        marks = [Entry(p, EntryKind.WHITEOUT) for p in self._whiteouts]
        marks += [Entry(p, EntryKind.OPAQUE, mode=0o755) for p in self._opaques]
        return sorted([*self._entries.values(), *marks], key=lambda e: (e.path, e.kind.is_marker))

    def to_layer(self, *, created_by: str = "", comment: str = "") -> Layer:
        """Freeze the current contents into an immutable layer (deterministic tar)."""
        from .layer import Layer

        markers = [Entry(p, EntryKind.WHITEOUT) for p in self._whiteouts]
        markers += [Entry(p, EntryKind.OPAQUE, mode=0o755) for p in self._opaques]
        used = {e.digest for e in self._entries.values() if e.digest}
        return Layer.from_entries(
            [*self._entries.values(), *markers],
            {d: b for d, b in self.data.items() if d in used},
            created_by=created_by,
            comment=comment,
        )

    def drop(self, top: str) -> None:
        """Forget everything at ``top`` and below (entries, whiteouts, opaque markers)."""
        inside = self.subtree(top)
        for p in inside:
            if p in self._entries:
                del self._entries[p]
            self._whiteouts.discard(p)
            self._opaques.discard(p)
        for p in [p for p in self._opaques if p == top or p.startswith(top + "/")
                  or top == ROOT]:
            self._opaques.discard(p)


# --- the live view -----------------------------------------------------------------------


def _implied_dir(path: str) -> Entry:
    return Entry(path, EntryKind.DIR, mode=IMPLIED_DIR_MODE)


class LiveView(View):
    """A container's filesystem: the image's view plus the read-write layer, merged one
    lookup at a time. It has the :class:`~layerlab.union.View` API; ``upto`` is the
    read-write layer's index (the number of image layers), and :meth:`provenance` says
    ``upto`` for what the read-write layer supplies.

    It reads ``rw`` as it is now: :meth:`Container.view` hands out one over a copy, so
    that a view taken before a change keeps showing the state it was taken in.
    """

    def __init__(self, lower: View, layers: Sequence[Layer], rw: ReadWriteLayer) -> None:
        # View.__init__ is not called: nothing here is merged in advance.
        self._lower = lower
        self._layers = tuple(layers)
        self._rw = rw
        self.upto = len(self._layers)

    def __repr__(self) -> str:
        return f"<View upto={self.upto} of {self.upto + 1} layers, {len(self)} paths>"

    # -- one step of a lookup
    def _rw_node(self, entry: Entry, depth: int = 0) -> Node:
        top = self.upto
        if entry.kind is not EntryKind.HARDLINK:
            return Node(entry, top, top)
        if depth > _MAX_LINK_DEPTH:
            raise BrokenHardlinkError(
                f"read-write layer: hardlink {entry.path!r} -> {entry.linkname!r}: too many "
                "hardlinks in a chain")
        target = self._at(entry.linkname, depth + 1)[0]
        if target is None or target.entry.is_dir:
            why = "does not exist" if target is None else "is a directory"
            raise BrokenHardlinkError(
                f"layer {top} (the read-write layer): hardlink {entry.path!r} -> "
                f"{entry.linkname!r}: the target {why}")
        linked = target.entry
        if linked.is_regular:
            resolved = replace(linked, path=entry.path, kind=EntryKind.HARDLINK,
                               linkname=entry.linkname)
        else:
            resolved = replace(linked, path=entry.path)
        return Node(resolved, top, target.content_layer)

    def _root(self) -> tuple[Node, bool]:
        rw = self._rw
        entry = rw.entries.get(ROOT)
        if entry is not None:
            node = self._rw_node(entry)
        else:
            node = self._lower.lookup(ROOT)  # type: ignore[assignment]
            assert node is not None
        return node, ROOT not in rw.opaques

    def _step(self, parent_ok: bool, path: str, depth: int = 0) -> tuple[Node | None, bool]:
        """The node at ``path``, whose parent is a directory of this view;
        ``parent_ok``: the parent's lower children show. Returns the node and whether
        the lower children of ``path`` show."""
        rw = self._rw
        lower_here = parent_ok and path not in rw.whiteouts
        entry = rw.entries.get(path)
        node: Node | None
        if entry is not None:
            node = self._rw_node(entry, depth)
        else:
            node = self._lower.lookup(path) if lower_here else None
            if (node is None or not node.entry.is_dir) and rw.has_below(path):
                node = Node(_implied_dir(path), self.upto, self.upto)
        return node, lower_here and path not in rw.opaques

    def _at(self, path: str, depth: int = 0) -> tuple[Node | None, bool]:
        """The node at the clean literal ``path`` (no symlink followed)."""
        node, ok = self._root()
        if path == ROOT:
            return node, ok
        current = ""
        for part in path[1:].split("/"):
            if not node.entry.is_dir:
                return None, False
            current = f"{current}/{part}"
            found, ok = self._step(ok, current, depth)
            if found is None:
                return None, False
            node = found
        return node, ok

    def _walk_to(self, path: str, *, follow: bool) -> tuple[str, Node, bool]:
        """Resolve ``path`` like the kernel (see :class:`~layerlab.union.View`): the real
        path, its node, and whether the lower children of it show."""
        if not isinstance(path, str):
            raise TypeError(f"path must be a str, not {type(path).__name__}")
        # No lexical clean-up first: '..' is the parent of where the walk stands.
        pending = link_parts(path)
        pending.reverse()
        current = ROOT
        node, ok = self._root()
        hops = 0
        while pending:
            part = pending.pop()
            if part == "..":
                if not node.entry.is_dir:
                    raise NotADirectoryError_(f"{path!r}: {current!r} is not a directory")
                current = split(current)[0]
                found, ok = self._at(current)
                assert found is not None
                node = found
                continue
            if not node.entry.is_dir:
                raise NotADirectoryError_(f"{path!r}: {current!r} is not a directory")
            candidate = join(current, part)
            child, child_ok = self._step(ok, candidate)
            if child is None:
                raise PathNotFoundError(f"{path!r}: no such file or directory in view {self.upto}")
            if child.entry.kind is EntryKind.SYMLINK and (pending or follow):
                hops = symlink_hop(path, hops)
                target = child.entry.linkname
                pending.extend(reversed(link_parts(target)))
                if target.startswith("/"):
                    current = ROOT
                    node, ok = self._root()
                continue
            current, node, ok = candidate, child, child_ok
        return current, node, ok

    def resolve(self, path: str, *, follow: bool) -> tuple[str, Node]:
        """The real path ``path`` names (symlinks in intermediate components followed, the
        last one too when ``follow``) and its node; raises like :meth:`stat`."""
        real, node, _ = self._walk_to(path, follow=follow)
        return real, node

    def _dir_nodes(self, directory: str, ok: bool) -> dict[str, tuple[Node, bool]]:
        """``name -> (node, lower children show)`` for the merged directory ``directory``."""
        rw = self._rw
        names = set(rw.children(directory))
        if ok:
            names.update(n.entry.name for n in self._lower.children(directory))
        out = {}
        for name in names:
            node, child_ok = self._step(ok, join(directory, name))
            if node is not None:
                out[name] = (node, child_ok)
        return out

    def _walk_nodes(self, top: str) -> Iterator[Node]:
        real, node, ok = self._walk_to(top, follow=True)
        if not node.entry.is_dir:
            return
        kids = self._dir_nodes(real, ok)
        stack = [(real, kids, iter(sorted(kids)))]
        while stack:
            d, kids, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                continue
            child, child_ok = kids[name]
            yield child
            if child.entry.is_dir:
                path = join(d, name)
                below = self._dir_nodes(path, child_ok)
                stack.append((path, below, iter(sorted(below))))

    # -- the filesystem questions: View asks them through resolve and these
    def read_node(self, node: Node) -> bytes:
        """The bytes of a regular file's node of this view."""
        if node.content_layer == self.upto:
            blob = self._rw.data[str(node.entry.digest)]
            return blob.read() if isinstance(blob, FileBlob) else blob
        return self._layers[node.content_layer].read_content(node.entry)

    def open_node(self, node: Node) -> BinaryIO:
        """A read-only stream of a regular file's node of this view."""
        if node.content_layer == self.upto:
            blob = self._rw.data[str(node.entry.digest)]
            return blob.open() if isinstance(blob, FileBlob) else io.BytesIO(blob)
        return self._layers[node.content_layer].open_content(node.entry)

    def listdir(self, path: str = ROOT) -> list[str]:
        """Sorted names in the directory at ``path`` (symlinks followed)."""
        real, node, ok = self._walk_to(path, follow=True)
        if not node.entry.is_dir:
            raise NotADirectoryError_(f"{path!r}: not a directory")
        return sorted(self._dir_nodes(real, ok))

    def __len__(self) -> int:
        return sum(1 for _ in self._walk_nodes(ROOT))

    def lookup(self, path: str) -> Node | None:
        """The node at the literal ``path`` (no symlink followed), or ``None``."""
        return self._at(normalize(path))[0]

    def has_more_than(self, n: int) -> bool:
        """True if the view shows more than ``n`` paths; walks only until it knows."""
        return any(seen > n for seen, _ in enumerate(self._walk_nodes(ROOT), start=1))

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers this view merges, base first: the image's, then the read-write
        layer frozen as it is now (no tar is made until one is asked for)."""
        return (*self._layers, self._rw.to_layer())

    def with_layer(self, layer: Layer) -> View:
        """This view with ``layer`` applied on top (a merged, immutable view)."""
        return View(Stack((*self.layers, layer)), self.upto + 1)

    def lookup_clean(self, path: str) -> Node | None:
        """:meth:`lookup` for a path already clean and absolute (what a container's
        operations hold after resolving): no normalizing on the hot path."""
        return self._at(path)[0]

    def children(self, directory: str) -> list[Node]:
        """The nodes directly inside the literal ``directory``, sorted by name."""
        directory = normalize(directory)
        node, ok = self._at(directory)
        if node is None or not node.entry.is_dir:
            return []
        kids = self._dir_nodes(directory, ok)
        return [kids[name][0] for name in sorted(kids)]

    @property
    def root(self) -> Entry:
        return self._root()[0].entry

    def shadowed(self, path: str) -> list[Shadowed]:
        """Every lower version of ``path`` this view hides, oldest first (those the image
        hides itself, then the image's own version if the read-write layer hides it)."""
        path = normalize(path)
        out = list(self._lower.shadowed(path))
        below = self._lower.lookup(path)
        if below is None or below.layer < 0:
            return out
        current = self._at(path)[0]
        if current is not None and current.layer == below.layer:
            return out
        rw = self._rw
        reason, by = why_hidden(rw.entries.get, rw.whiteouts, rw.opaques, path)
        out.append(Shadowed(below.layer, below.entry, self.upto, reason, by))
        return out
