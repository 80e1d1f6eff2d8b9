"""Dive's efficiency score and "wasted bytes", computed the way dive computes them
(``dive/filetree/efficiency.go`` and ``dive/image/analysis.go``), next to the bytes one
could really reclaim (dive issue #684).

>>> from layerlab import Image, Layer
>>> img = Image.from_layers([Layer.from_dict({"/f": "x" * 100}),
...                          Layer.from_dict({"/f": "x" * 100})])
>>> report = efficiency(img)
>>> report.efficiency, report.wasted_bytes, report.reclaimable_bytes
(0.5, 200, 100)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..entry import EntryKind
from ..paths import ROOT, ancestors
from ..whiteout import marker_member_name, whiteout_target
from .layers import _index

if TYPE_CHECKING:
    from ..image import Image
    from ..layer import Layer

__all__ = ["DiveNode", "EfficiencyReport", "PathEfficiency", "efficiency", "go_humanize_bytes",
           "join_layers"]


@dataclass(frozen=True)
class DiveNode:
    """One leaf node of one layer's tree, as dive visits it."""

    layer: int
    size: int
    whiteout: bool


@dataclass(frozen=True)
class PathEfficiency:
    """Dive's bookkeeping for one path, next to what could really be reclaimed.

    * ``nodes``: the leaf nodes dive found at this path, one per layer (a whiteout node
      counts the bytes of the directory subtree it hides, 0 for a file);
    * ``cumulative`` (dive's ``CumulativeSize``) and ``smallest`` (``minDiscoveredSize``);
    * ``dive_wasted``: what dive adds to its "wasted bytes": ``cumulative`` when the path
      has two nodes or more, else 0 -- every copy, the one that stays included (#684);
    * ``stored``: the bytes regular files at this path take in all layers;
    * ``kept``: the bytes of the version the final image shows (0 if it shows none);
    * ``reclaimable``: ``stored - kept``, what removing every other copy would free;
    * ``why``: the row in words.
    """

    path: str
    nodes: tuple[DiveNode, ...]
    cumulative: int
    smallest: int
    dive_wasted: int
    stored: int
    kept: int
    kept_layer: int | None
    reclaimable: int
    why: str

    @property
    def count(self) -> int:
        return len(self.nodes)


@dataclass(frozen=True)
class EfficiencyReport:
    """Dive's image summary plus the reclaimable figure. Fields:

    ``efficiency`` (sum of each path's smallest copy / sum of all copies; 1.0 when there
    are no bytes), ``size_bytes`` (all layers' :attr:`Layer.size`), ``user_size_bytes``
    (every layer but the base), ``wasted_bytes`` (dive: sum of ``cumulative`` over paths
    with 2+ nodes), ``user_wasted_percent`` (``wasted_bytes / user_size_bytes``, a
    fraction, computed like Go: ``inf`` or ``nan`` when there are no user bytes),
    ``reclaimable_bytes`` and ``reclaimable_user_percent`` (the same with reclaimable
    bytes), ``paths`` (every path dive saw, plus files the final image hides).
    """

    efficiency: float
    size_bytes: int
    user_size_bytes: int
    wasted_bytes: int
    user_wasted_percent: float
    reclaimable_bytes: int
    reclaimable_user_percent: float
    paths: tuple[PathEfficiency, ...] = field(repr=False)
    #: paths in the order dive's walk gave them a second node (layer by layer, children first)
    second_node_order: tuple[str, ...] = field(default=(), repr=False)

    @property
    def dive_inefficiencies(self) -> list[PathEfficiency]:
        """The rows of dive's CI report, in dive's order: the paths with 2+ nodes, in the
        order they got their second node, sorted by cumulative size with Go's
        ``sort.Sort`` (an insertion sort, so stable, for up to 12 rows) and printed from
        the last (largest) to the first; so ties come out in reverse discovery order. Then
        layerlab's own rows (reclaimable bytes dive does not list), largest first.
        (For more than 12 rows Go's pdqsort may order ties otherwise.)"""
        by_path = {p.path: p for p in self.paths}
        dive = [by_path[name] for name in self.second_node_order if name in by_path]
        dive.sort(key=lambda p: p.cumulative)  # stable, like Go's insertion sort
        dive.reverse()
        named = {p.path for p in dive}
        rest = [p for p in self.inefficiencies if p.path not in named]
        return dive + rest

    @property
    def inefficiencies(self) -> list[PathEfficiency]:
        """The rows worth a look: paths dive lists (2+ nodes), paths with reclaimable
        bytes, and directory whiteouts dive charges bytes to; largest dive figure first
        (the order of dive's CI report)."""
        rows = [p for p in self.paths if p.count >= 2 or p.reclaimable > 0
                or any(n.whiteout and n.size for n in p.nodes)]
        return sorted(rows, key=lambda p: (-p.dive_wasted, -p.reclaimable, p.path))


class _Node:
    """A node of dive's per-layer tree: its tar size, whether its tar header said
    directory (implied parents have an empty payload: size 0, not a directory)."""

    __slots__ = ("children", "is_dir", "size")

    def __init__(self) -> None:
        self.size = 0
        self.is_dir = False
        self.children: dict[str, _Node] = {}


def _dive_layer_tree(layer: Layer) -> _Node:
    """The layer as dive's tree: content entries with implied parents, whiteout nodes
    named ``.wh.<name>``; opaque markers add only their directory (dive skips
    ``.wh..wh.*`` names)."""
    root = _Node()
    for entry in layer.entries:
        # a whiteout node has the name its tar member has (``.wh.<name>``)
        spelled = marker_member_name(entry) if entry.kind is EntryKind.WHITEOUT else entry.path
        parts = [p for p in spelled.split("/") if p]
        if not parts:
            continue
        node = root
        for part in parts:
            node = node.children.setdefault(part, _Node())
        if entry.kind is not EntryKind.OPAQUE:
            node.size = entry.size if entry.kind is EntryKind.FILE else 0
            node.is_dir = entry.kind is EntryKind.DIR
    return root


def _child_first(node: _Node, prefix: str = "") -> Iterator[tuple[str, _Node]]:
    """Dive's VisitDepthChildFirst: sorted names, children before their parent, no root."""
    # a loop, not recursion: 2,000 nested directories must not hit the recursion limit
    stack: list[tuple[str, _Node, Iterator[str]]] = [(prefix, node, iter(sorted(node.children)))]
    while stack:
        path, current, names = stack[-1]
        name = next(names, None)
        if name is None:
            stack.pop()
            if stack:
                yield path, current
            continue
        child = current.children[name]
        stack.append((f"{path}/{name}", child, iter(sorted(child.children))))


class _Stacked:
    """Dive's StackTreeRange of the layers so far, kept incrementally:
    path -> (size, is_dir) of every node. Stacking replaces a node's payload (even with
    the empty payload of an implied parent) and keeps its children, as dive does."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[int, bool]] = {}

    def _subtree(self, path: str) -> list[str]:
        prefix = path + "/"
        return [p for p in self.nodes if p == path or p.startswith(prefix)]

    def whiteout_bytes(self, path: str) -> tuple[int, bool]:
        """What dive charges a whiteout of ``path``: (bytes, was a directory)."""
        node = self.nodes.get(path)
        if node is None or not node[1]:
            return 0, False
        return sum(self.nodes[p][0] for p in self._subtree(path)), True

    def stack(self, tree: _Node) -> None:
        for raw, node in _child_first(tree):
            path, whiteout = whiteout_target(raw)
            if whiteout:
                for p in self._subtree(path):
                    del self.nodes[p]
                continue
            for anc in ancestors(path):
                if anc != ROOT:
                    self.nodes.setdefault(anc, (0, False))
            self.nodes[path] = (node.size, node.is_dir)


def _layers_list(nums: Sequence[int]) -> str:
    return ", ".join(str(n) for n in nums)


def _why(p: PathEfficiency, dir_whiteouts: set[tuple[str, int]], final_missing: bool,
         hidden_by: int | None) -> str:
    files = [n for n in p.nodes if not n.whiteout]
    outs = [n for n in p.nodes if n.whiteout]
    parts: list[str] = []
    if p.count >= 2:
        parts.append(
            f"{p.count} nodes in layers {_layers_list([n.layer for n in p.nodes])}: dive counts "
            f"every one ({p.cumulative} B) as wasted"
        )
    for n in outs:
        if (p.path, n.layer) in dir_whiteouts:
            parts.append(
                f"whiteout of a directory in layer {n.layer}: dive charges the {n.size} B it "
                "hides to this path; the files themselves stay stored below (see their rows)"
            )
        else:
            parts.append(f"deleted by a whiteout in layer {n.layer} "
                         "(dive counts a file whiteout as 0 B)")
    if p.reclaimable:
        if p.kept:
            parts.append(
                f"the image shows the copy from layer {p.kept_layer} ({p.kept} B); the other "
                f"copies ({p.reclaimable} B) can be reclaimed"
            )
            if p.kept != p.smallest and p.count >= 2:
                parts.append(
                    f"dive's score assumes the smallest copy ({p.smallest} B) is the one kept"
                )
        else:
            where = f" (hidden from layer {hidden_by} on)" if hidden_by is not None else ""
            holders = sorted({n.layer for n in files if n.size})
            which = (f"layer {holders[0]} still stores" if len(holders) == 1
                     else f"layers {_layers_list(holders)} still store")
            parts.append(
                f"the final image does not show it{where}, yet {which} {p.stored} B: "
                "all reclaimable"
            )
            if p.count < 2:
                parts.append("dive lists only paths with two nodes or more, "
                             "so it misses these bytes")
    elif p.count >= 2 and not final_missing:
        parts.append("nothing to reclaim: the other copies hold no bytes")
    return "; ".join(parts) if parts else "one copy, kept"


def efficiency(image: Image) -> EfficiencyReport:
    """Dive's efficiency, wasted bytes and user-wasted percent for ``image``, plus the
    bytes that could really be reclaimed.

    Follows dive: every layer's tree is walked leaves only, children first; each leaf
    adds its size to its path (a whiteout leaf adds, for a directory, the sum of the
    subtree it hides in dive's stack of the layers below, and 0 for a file);
    ``efficiency = sum(smallest per path) / sum(cumulative per path)``; ``wasted_bytes``
    sums ``cumulative`` over paths with two nodes or more; user size is all layers but
    the base. As in dive, "a directory" means a node whose tar header said directory:
    a parent only implied by its children (or by a later layer's children) has an empty
    payload, so a whiteout of it counts 0; dive also ignores opaque markers. Where
    layerlab does not copy dive: dive aborts the rest of a layer when a whiteout names
    nothing below (a logged error); layerlab counts 0 and goes on.
    """
    by_path: dict[str, list[DiveNode]] = {}
    second: list[str] = []
    dir_whiteouts: set[tuple[str, int]] = set()
    stacked = _Stacked()
    for k, layer in enumerate(image.layers):
        tree = _dive_layer_tree(layer)
        for raw, node in _child_first(tree):
            if node.children:
                continue
            path, whiteout = whiteout_target(raw)
            size = node.size
            if whiteout:
                size, was_dir = stacked.whiteout_bytes(path)
                if was_dir:
                    dir_whiteouts.add((path, k))
            nodes_here = by_path.setdefault(path, [])
            nodes_here.append(DiveNode(k, size, whiteout))
            if len(nodes_here) == 2:
                second.append(path)
        stacked.stack(tree)

    final = _index(image.view()) if image.layers else {}
    stored: dict[str, int] = {}
    for layer in image.layers:
        for entry in layer.content_entries:
            if entry.kind is EntryKind.FILE:
                stored[entry.path] = stored.get(entry.path, 0) + entry.size
    for path in stored:
        by_path.setdefault(path, [])

    top_view = image.view() if image.layers else None
    rows: list[PathEfficiency] = []
    for path in sorted(by_path):
        nodes = tuple(by_path[path])
        cumulative = sum(n.size for n in nodes)
        smallest = min((n.size for n in nodes), default=0)
        shown = final.get(path)
        kept, kept_layer = 0, None
        if shown is not None and shown[0].kind is EntryKind.FILE:
            kept, kept_layer = shown[0].size, shown[1]
        have = stored.get(path, 0)
        hidden_by = None
        if shown is None and have and top_view is not None:
            hidden = top_view.shadowed(path)
            hidden_by = hidden[-1].hidden_by if hidden else None
        row = PathEfficiency(path, nodes, cumulative, smallest,
                             cumulative if len(nodes) >= 2 else 0, have, kept, kept_layer,
                             have - kept, "")
        why = _why(row, dir_whiteouts, shown is None, hidden_by)
        rows.append(replace(row, why=why))

    dive_rows = [r for r in rows if r.nodes]
    minimum = sum(r.smallest for r in dive_rows)
    discovered = sum(r.cumulative for r in dive_rows)
    score = 1.0 if discovered == 0 else minimum / discovered
    sizes = [layer.size for layer in image.layers]
    user = sum(sizes[1:])
    wasted = sum(r.dive_wasted for r in rows)
    reclaimable = sum(r.reclaimable for r in rows)
    return EfficiencyReport(score, sum(sizes), user, wasted, _go_div(wasted, user), reclaimable,
                            _go_div(reclaimable, user), tuple(rows), tuple(second))


def go_humanize_bytes(n: int) -> str:
    """Bytes as dive prints them (go-humanize's ``Bytes``: SI units, one decimal below 10).

    >>> [go_humanize_bytes(n) for n in (7, 999, 2000, 32_000, 1_500_000, 123_456_789)]
    ['7 B', '999 B', '2.0 kB', '32 kB', '1.5 MB', '124 MB']
    """
    if n < 10:
        return f"{n} B"
    sizes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    e = min(math.floor(math.log(n) / math.log(1000)), len(sizes) - 1)
    val = math.floor(n / 1000**e * 10 + 0.5) / 10
    return f"{val:.1f} {sizes[e]}" if val < 10 else f"{val:.0f} {sizes[e]}"


def _go_div(a: int, b: int) -> float:
    """float64(a) / float64(b) as Go computes it: no exception for b == 0."""
    if b:
        return a / b
    return math.nan if a == 0 else math.inf


def join_layers(nums: Iterable[int]) -> str:
    return _layers_list(list(nums))
