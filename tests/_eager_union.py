"""The union's merge as it was before views became lazy: every layer applied eagerly
to a full copy of the tree below. Kept as the oracle that tests/test_view_lazy.py checks
the per-directory merge against (same nodes at every depth, same errors). One rule was
added since, in both: a whiteout's parent directories are directories of its layer."""

from __future__ import annotations

from dataclasses import replace

from layerlab.entry import Entry, EntryKind
from layerlab.errors import BrokenHardlinkError
from layerlab.layer import Layer
from layerlab.paths import ROOT, ancestors, join, split
from layerlab.union import _EMPTY_ROOT, IMPLIED_DIR_MODE, Node


def _implied_dir(path: str) -> Entry:
    return Entry(path, EntryKind.DIR, mode=IMPLIED_DIR_MODE)


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

    for path in sorted(layer.whiteouts):  # a whiteout's parents are directories of its layer
        if not any(a in layer.whiteouts for a in ancestors(path)):
            ensure_parents(path)
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




def eager_states(layers: list[Layer]) -> list[dict[str, Node]]:
    """``{path: node}`` of every path (the root included) after each layer."""
    out = []
    tree: _Tree | None = None
    for k, layer in enumerate(layers):
        tree = apply_layer(tree, layer, k)
        flat = {ROOT: tree.root}
        for d, kids in tree.dirs.items():
            for name, node in kids.items():
                flat[join(d, name)] = node
        out.append(flat)
    return out
