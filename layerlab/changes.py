"""The change model: what changed between two views, and what a layer did to its parent.

One module answers "what changed" for every caller: :meth:`Container.diff`
(``docker diff``), the builder's per-step counts (:attr:`BuildStep.changes`), the
analysis rows behind ``changes_table`` and the layer explorer, and ``layerlab diff``.
The answer is Docker's.

Which Docker
------------
Docker Engine 29 (and every release since 18.06) computes ``docker diff`` by comparing
two *merged trees*, with ``archive.ChangesDirs`` (moby/go-archive ``changes.go``):

* with the containerd image store (the default since Engine 29),
  ``daemon/containerd/image_changes.go`` mounts the container's rootfs and a read-only
  view of its parent snapshot and compares the two;
* with the overlay2 graphdriver, ``Driver.Changes`` is the *naive* diff
  (``graphdriver.NaiveDiffDriver.Changes``): it mounts the layer and its parent and calls
  the same ``ChangesDirs``. The old ``archive.OverlayChanges`` walk of the upper
  directory (which reported opaque directories specially) was dropped in Docker 18.06
  (moby commit ac5d363e, "The archive changes function is not implemented correctly to
  handle opaque directories"); only the Windows and the old aufs/vfs paths walk a
  change set (``archive.Changes`` over ``.wh.`` names).

So on Engine 29 both stores give the same answer, and that answer is this module's. Its
rules, as ``FileInfo.addChanges`` applies them:

* ``A path``: nothing was at ``path``; everything under a new directory is ``A`` too;
* ``C path``: something is at ``path`` on both sides and its ``lstat`` differs: type and
  permission bits, owner, device numbers, and for a non-directory the mtime (to the
  second) or the size; or its ``security.capability`` xattr differs. A directory's mtime
  and size are *not* compared (moby issue 9874), so ``touch /etc`` alone is no change;
* ``C dir``: a directory with any change inside it is listed as changed even when its own
  stat is the same (moby PR 13590: ``docker commit`` must carry it);
* ``D path``: the path is gone. Only the top of a removed tree is listed (``rm -r /d``
  gives ``D /d``, not its children), and a directory replaced by a file is ``C`` with
  no ``D`` for its old children.

Hence ``rm -r /d; mkdir /d; echo > /d/a`` over an image with ``/d/a`` gives ``C /d``
(changes inside), ``C /d/a`` (a new mtime) and ``D`` for the other old children of
``/d``: the opaque directory the read-write layer holds does not make ``/d/a`` "added".
The union-semantics cases: a dir recreated over a whiteout (row 10) is ``C /d``, ``A``
for its new children, ``D`` for the old ones; a chmod/chown/touch of a lower file (row
11) is ``C`` of the file and its parents (a touch of a directory is no change); a
rename of a lower directory (row 12) is ``D /old``, ``A /new`` and ``A`` for
everything under it.

Where layerlab differs: layerlab also compares a regular file's content digest and a
symlink's target. Its deterministic layers give many files the same fixed mtime, where a
stat comparison would miss a change of content of the same length; on a real
filesystem a write moves the mtime, so the answers agree. Docker lists changes in Go map
order (a directory's ``C`` before its children); layerlab sorts them by path.

Every :class:`Change` carries ``why``: what differs (``"mode"``, ``"mtime, size,
content"``...), ``"new"``, ``"changes inside"``, or for a deletion what removed the path
when the change set is known (``"whiteout /d"``, ``"opaque /d"``; else ``"gone"``).

>>> from layerlab import Image, Layer
>>> img = Image.from_layers([Layer.from_dict({"/d/a": "1", "/d/b": "2"})])
>>> c = img.create_container()
>>> c.remove("/d", recursive=True); c.mkdir("/d"); c.write("/d/a", "new")
>>> [(str(ch), ch.why) for ch in c.diff()]
[('C /d', 'changes inside'), ('C /d/a', 'mtime, size, content'), ('D /d/b', 'opaque /d')]
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .entry import Entry, EntryKind
from .image import Image
from .paths import ROOT, ancestors, join

if TYPE_CHECKING:
    from .union import Node, View

__all__ = ["Change", "between", "deletion_why", "differences", "of_layer"]

#: the xattr Docker compares besides the stat fields
CAPABILITY_XATTR = "security.capability"


@dataclass(frozen=True)
class Change:
    """One line of ``docker diff``: ``A`` added, ``C`` changed, ``D`` deleted.

    ``why`` says what differs; it is left out of comparisons, so
    ``Change("C", "/etc") == Change("C", "/etc", "changes inside")``.

    >>> str(Change("A", "/happy.txt"))
    'A /happy.txt'
    """

    kind: str
    path: str
    why: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


def _kind(entry: Entry) -> EntryKind:
    # in a mounted tree a hardlink is a regular file sharing an inode
    return EntryKind.FILE if entry.kind is EntryKind.HARDLINK else entry.kind


def _size(entry: Entry) -> int:
    if entry.kind is EntryKind.SYMLINK:
        return len(entry.linkname.encode("utf-8", "surrogateescape"))
    return entry.size if entry.is_regular else 0


def differences(old: Entry, new: Entry) -> list[str]:
    """What ``docker diff`` sees differ between two entries at one path (empty: the same).

    Docker's ``statDifferent`` plus the capability xattr, plus layerlab's content digest
    and link target (see the module docstring).

    >>> a = Entry("/f", EntryKind.FILE, mode=0o644, mtime=5, size=1, digest="sha256:a")
    >>> differences(a, Entry("/f", EntryKind.FILE, mode=0o600, mtime=5, size=1,
    ...                      digest="sha256:a"))
    ['mode']
    >>> differences(Entry("/d", EntryKind.DIR, mtime=1), Entry("/d", EntryKind.DIR, mtime=2))
    []
    """
    out: list[str] = []
    kind = _kind(new)
    if _kind(old) is not kind:
        out.append("type")
    if old.mode & 0o7777 != new.mode & 0o7777:
        out.append("mode")
    if (old.uid, old.gid) != (new.uid, new.gid):
        out.append("owner")
    if kind in (EntryKind.CHAR, EntryKind.BLOCK) and \
            (old.devmajor, old.devminor) != (new.devmajor, new.devminor):
        out.append("device")
    if kind is not EntryKind.DIR and _kind(old) is not EntryKind.DIR:
        if int(old.mtime) != int(new.mtime):
            out.append("mtime")
        if _size(old) != _size(new):
            out.append("size")
        if kind is EntryKind.FILE and _kind(old) is EntryKind.FILE and old.digest != new.digest:
            out.append("content")
        if kind is EntryKind.SYMLINK and _kind(old) is kind and old.linkname != new.linkname:
            out.append("link target")
    if old.xattr_dict.get(CAPABILITY_XATTR) != new.xattr_dict.get(CAPABILITY_XATTR):
        out.append("capability")
    return out


def deletion_why(path: str, whiteouts: Collection[str], opaques: Collection[str]) -> str:
    """What in a change set removed ``path``: ``"whiteout P"``, ``"opaque P"`` or
    ``"gone"`` (a parent replaced by a non-directory, or no change set known).

    >>> deletion_why("/d/x", {"/d"}, set()), deletion_why("/d/x", set(), {"/d"})
    ('whiteout /d', 'opaque /d')
    """
    chain = [*ancestors(path), path] if path != ROOT else []
    for p in reversed(chain):
        if p in whiteouts:
            return f"whiteout {p}"
    for p in reversed([ROOT, *chain[:-1]]):
        if p in opaques:
            return f"opaque {p}"
    return "gone"


def between(old: View | None, new: View, *, touched: Iterable[str] | None = None,
            whiteouts: Collection[str] = (), opaques: Collection[str] = ()) -> list[Change]:
    """Docker's changes from ``old`` to ``new``, sorted by path (``old=None``: from an
    empty tree, so everything is ``A``).

    ``touched``: if given, every path where the two views may differ (a change set's
    entries, whiteouts and opaque directories). Paths outside it and its ancestors are
    taken to be the same on both sides (Docker prunes them by inode); the children of a
    touched directory are all compared. Without it both trees are walked whole.
    ``whiteouts`` and ``opaques`` only explain deletions (``why``).

    >>> from layerlab import Image, Layer, Whiteout
    >>> img = Image.from_layers([Layer.from_dict({"/etc/motd": "hi", "/tmp/x": "1"}),
    ...                          Layer.from_dict({"/tmp/x": Whiteout()})])
    >>> [str(c) for c in between(img.view(0), img.view(1))]
    ['C /tmp', 'D /tmp/x']
    """
    focus: set[str] | None = None
    full: set[str] = set()
    if touched is not None:
        full = set(touched)
        focus = set(full)
        for p in full:
            focus.update(ancestors(p))
    out: list[Change] = []

    def names(view: View | None, node: Node | None, path: str,
              every: bool) -> dict[str, Node]:
        if view is None or node is None or not (node.entry.is_dir or path == ROOT):
            return {}
        kids = {n.entry.name: n for n in view.children(path)}
        if every:
            return kids
        assert focus is not None
        return {name: n for name, n in kids.items() if join(path, name) in focus}

    # Docker's recursive addChanges as a loop (a tree 2,000 directories deep must not hit
    # the recursion limit); a frame is one directory being compared
    @dataclass
    class _Frame:
        path: str
        old_kids: dict[str, Node]
        new_kids: dict[str, Node]
        todo: Iterator[str]
        start: int
        reported: bool
        is_dir: bool

    def enter(path: str, old_node: Node | None, new_node: Node, reported: bool) -> _Frame:
        start = len(out)
        if old_node is None and path != ROOT:
            out.append(Change("A", path, "new"))
            reported = True
        is_dir = path == ROOT or new_node.entry.is_dir
        every = focus is None or path in full or old_node is None
        new_kids = names(new, new_node, path, every)
        old_kids = names(old, old_node, path, every) if is_dir else {}
        return _Frame(path, old_kids, new_kids, iter(sorted(new_kids)), start, reported, is_dir)

    root_new = new.lookup(ROOT)
    assert root_new is not None
    stack = [enter(ROOT, old.lookup(ROOT) if old is not None else None, root_new, True)]
    while stack:
        frame = stack[-1]
        name = next(frame.todo, None)
        if name is None:
            stack.pop()
            for gone in sorted(frame.old_kids):
                child = join(frame.path, gone)
                out.append(Change("D", child, deletion_why(child, whiteouts, opaques)))
            if len(out) > frame.start and frame.is_dir and not frame.reported \
                    and frame.path != ROOT:
                # a directory with changes inside is changed (its place: sorted below)
                out.append(Change("C", frame.path, "changes inside"))
            continue
        child = join(frame.path, name)
        old_child = frame.old_kids.pop(name, None)
        if old_child is not None and focus is not None and child not in focus:
            continue  # the same lower entry on both sides
        child_reported = False
        if old_child is not None:
            why = differences(old_child.entry, frame.new_kids[name].entry)
            if why:
                out.append(Change("C", child, ", ".join(why)))
                child_reported = True
        stack.append(enter(child, old_child, frame.new_kids[name], child_reported))
    return sorted(out, key=lambda c: c.path)


def of_layer(image: Image, k: int) -> list[Change]:
    """Docker's changes of layer ``k`` over the view below it (the graphdriver's
    ``Changes(layer, parent)``), sorted by path; deletions say which marker of layer
    ``k`` removed them.

    >>> from layerlab import Image, Layer, Whiteout
    >>> img = Image.from_layers([Layer.from_dict({"/d/a": "1"}),
    ...                          Layer.from_dict({"/d": Whiteout(), "/n": "2"})])
    >>> [(str(c), c.why) for c in of_layer(img, 1)]
    [('D /d', 'whiteout /d'), ('A /n', 'new')]
    """
    n = len(image.layers)
    if not -n <= k < n:
        raise IndexError(f"layer {k} is out of range for an image of {n} layers")
    k %= n
    layer = image.layers[k]
    touched = {e.path for e in layer.entries}
    touched |= set(layer.whiteouts) | set(layer.opaques)
    return between(image.view(k - 1) if k else None, image.view(k),
                   touched=touched, whiteouts=layer.whiteouts, opaques=layer.opaques)
