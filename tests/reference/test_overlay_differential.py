"""Differential test: layerlab's union against the kernel's overlayfs.

hypothesis builds random stacks of 1-5 layers (files, dirs, symlinks, fifos, hardlinks,
whiteouts, opaque dirs, type changes, re-creations, odd modes). Each stack is written with
:func:`write_overlay_dir`, mounted read-only (``lowerdir=Ln:...:L0``) and walked; every path's
type, mode, mtime, size, content and link target (owners too, as root) must equal
``Image.from_layers(layers).view()``. Every mid-stack view ``view(upto=k)`` is checked against
a mount of layers 0..k as well.

Mounts are the slow part, so one hypothesis example is a *batch* of stacks: stack ``j`` lives
in subdirectory ``s<j>`` of every layer directory, and one mount answers for all of them.

Two expectations per stack:

* the engine over the layers *read back* from the overlay directories must match the kernel
  exactly (this also round-trips :func:`read_overlay_dir` on random layers);
* the engine over the *original* layers must match too, except for directory metadata when
  a layer leaves out a parent that exists below (the overlay form has to write that parent,
  and overlayfs takes a merged directory's mode from the top layer holding it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from layerlab import Image, Layer
from layerlab.entry import Entry, EntryKind
from layerlab.overlaydir import read_overlay_dir, write_overlay_dir
from layerlab.paths import ancestors

from .overlay import Mounter, Node, compare, engine_nodes

NAMES = ("a", "b", "c")
FILE_MODES = (0o644, 0o600, 0o755, 0o4755, 0o2711, 0o444, 0o000)
DIR_MODES = (0o755, 0o700, 0o1777, 0o555, 0o2775)
LINK_TARGETS = ("a", "b/c", "../a", "/a/b", "/nowhere", ".", "a/../b", "/")
MTIMES = (0, 1_000_000_000)
OPS = ("file", "file", "file", "dir", "dir", "symlink", "fifo", "hardlink", "whiteout",
       "whiteout", "opaque", "recreate", "retype", "opaque_root", "bare_whiteout")

paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(lambda p: "/" + "/".join(p))


class _LayerBuilder:
    """Collects one random layer; ``below`` is the merged view under it, by literal path."""

    def __init__(self, draw: st.DrawFn, below: dict[str, Entry], owners: bool) -> None:
        self.draw = draw
        self.below = below
        self.owners = owners
        # Sometimes leave out parents that already are directories below (the tar form can).
        self.omit_parents = draw(st.integers(0, 3)) == 0
        self.entries: dict[str, Entry] = {}
        self.blobs: dict[str, bytes] = {}
        self.markers: list[Entry] = []

    def meta(self) -> dict[str, int]:
        ids = st.sampled_from((0, 0, 1000)) if self.owners else st.just(0)
        return {"uid": self.draw(ids), "gid": self.draw(ids),
                "mtime": self.draw(st.sampled_from(MTIMES))}

    def existing(self) -> str:
        """A path that exists below (if anything does), else any path."""
        if self.below and self.draw(st.integers(0, 4)) > 0:
            return self.draw(st.sampled_from(sorted(self.below)))
        return self.draw(paths)

    def blocked(self, path: str) -> bool:
        """Under a non-directory of this layer (a later entry would replace it)."""
        return any(a in self.entries and not self.entries[a].is_dir for a in ancestors(path))

    def parents(self, path: str) -> None:
        for anc in ancestors(path):
            if anc in self.entries:
                continue
            below = self.below.get(anc)
            if self.omit_parents and below is not None and below.is_dir:
                continue
            mode = self.draw(st.sampled_from(DIR_MODES))
            self.entries[anc] = Entry(anc, EntryKind.DIR, mode=mode, **self.meta())

    def add(self, entry: Entry, data: bytes | None = None) -> None:
        if entry.path in self.entries or self.blocked(entry.path):
            return
        if not entry.is_dir and any(p.startswith(entry.path + "/") for p in self.entries):
            return  # a non-dir over this layer's own subtree: see test_overlaydir instead
        self.parents(entry.path)
        self.entries[entry.path] = entry
        if data is not None:
            self.blobs[str(entry.digest)] = data

    def file(self, path: str) -> None:
        data = self.draw(st.binary(max_size=8))
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.add(Entry(path, EntryKind.FILE, mode=self.draw(st.sampled_from(FILE_MODES)),
                       size=len(data), digest=digest, **self.meta()), data)

    def dir(self, path: str) -> None:
        self.add(Entry(path, EntryKind.DIR, mode=self.draw(st.sampled_from(DIR_MODES)),
                       **self.meta()))

    def marker(self, path: str, kind: EntryKind) -> None:
        if self.blocked(path):
            return
        self.parents(path)
        self.markers.append(Entry(path, kind))

    def step(self) -> None:
        op = self.draw(st.sampled_from(OPS))
        if op == "file":
            self.file(self.draw(paths))
        elif op == "dir":
            self.dir(self.draw(paths))
        elif op == "symlink":
            target = self.draw(st.sampled_from(LINK_TARGETS))
            self.add(Entry(self.draw(paths), EntryKind.SYMLINK, mode=0o777, linkname=target,
                           **self.meta()))
        elif op == "fifo":
            self.add(Entry(self.draw(paths), EntryKind.FIFO,
                           mode=self.draw(st.sampled_from(FILE_MODES)), **self.meta()))
        elif op == "hardlink":
            files = sorted(p for p, e in self.entries.items() if e.kind is EntryKind.FILE)
            if files:
                target = self.draw(st.sampled_from(files))
                self.add(Entry(self.draw(paths), EntryKind.HARDLINK, linkname=target))
        elif op == "whiteout":
            self.marker(self.existing(), EntryKind.WHITEOUT)
        elif op == "opaque":
            path = self.existing()
            if not (self.omit_parents and path in self.below and self.below[path].is_dir):
                self.dir(path)  # else: a bare marker, the directory itself left as it is
            if path not in self.entries or self.entries[path].is_dir:
                self.marker(path, EntryKind.OPAQUE)
        elif op == "bare_whiteout":  # parents left implied, over whatever is below (issue 15)
            path = self.existing() + "/" + self.draw(st.sampled_from(NAMES))
            if not self.blocked(path):
                self.markers.append(Entry(path, EntryKind.WHITEOUT))
        elif op == "opaque_root":
            self.markers.append(Entry("/", EntryKind.OPAQUE))
        elif op == "recreate":  # rm -rf p; then p again, in the same layer (union rows 4, 10)
            path = self.existing()
            self.marker(path, EntryKind.WHITEOUT)
            if self.draw(st.booleans()):
                self.dir(path)
                self.file(path + "/" + self.draw(st.sampled_from(NAMES)))
            else:
                self.file(path)
        else:  # "retype": file <-> dir over what is below
            path = self.existing()
            if path in self.below and self.below[path].is_dir:
                self.file(path)
            else:
                self.dir(path)
                self.file(path + "/" + self.draw(st.sampled_from(NAMES)))

    def layer(self) -> Layer:
        return Layer.from_entries([*self.entries.values(), *self.markers], self.blobs)


@st.composite
def stacks(draw: st.DrawFn, owners: bool) -> list[Layer]:
    layers: list[Layer] = []
    for _ in range(draw(st.integers(1, 5))):
        below = {e.path: e for e in Image.from_layers(layers).view().walk()} if layers else {}
        builder = _LayerBuilder(draw, below, owners)
        for _ in range(draw(st.integers(0, 6))):
            builder.step()
        layers.append(builder.layer())
    return layers


def describe(stack: list[Layer]) -> str:
    lines = []
    for i, layer in enumerate(stack):
        lines.append(f"  layer {i}:")
        for e in layer.entries:
            extra = f" -> {e.linkname}" if e.linkname else ""
            lines.append(f"    {e.kind.letter} {e.mode:04o} {e.uid}:{e.gid} {e.path}{extra}")
    return "\n".join(lines)


def _paths(layer: Layer) -> set[str]:
    return {e.path for e in layer.content_entries}


def check_batch(
    mounter: Mounter, base: Path, batch: list[list[Layer]], whiteout_form: str
) -> tuple[list[str], int]:
    """Mount every stack of ``batch`` and each of its prefixes once; (problems, views checked)."""
    jobs: list[tuple[str, list[Layer], Image, int]] = []  # (label, layers 0..upto, image, upto)
    for i, layers in enumerate(batch):
        image = Image.from_layers(layers)
        jobs += [(f"stack {i} view(upto={k})", layers[: k + 1], image, k)
                 for k in range(len(layers))]
    work = Path(tempfile.mkdtemp(prefix="b", dir=base))
    try:
        # overlayfs wants two lowers at least for a read-only mount: an empty one at the bottom
        lowers = [str(work / f"L{k}") for k in range(-1, max(len(j[1]) for j in jobs))]
        for lower in lowers:
            os.mkdir(lower)
        ns = mounter.xattr_namespace
        read_back = []
        for j, (_, layers, _, _) in enumerate(jobs):
            rt = []
            for k, layer in enumerate(layers):
                where = os.path.join(lowers[k + 1], f"s{j}")
                write_overlay_dir(layer, where, xattr_namespace=ns, whiteout_form=whiteout_form)
                rt.append(read_overlay_dir(where, xattr_namespace=ns))
            read_back.append(rt)
        (work / "m").mkdir()
        seen = mounter.mount_and_walk(lowers, str(work / "m"))
        # the read-back layers read their contents from ``work``: compare before removing it
        return _compare_jobs(jobs, read_back, seen, owners=mounter.compares_owners), len(jobs)
    finally:
        shutil.rmtree(work)


def _compare_jobs(
    jobs: list[tuple[str, list[Layer], Image, int]],
    read_back: list[list[Layer]],
    seen: dict[str, Node],
    *,
    owners: bool,
) -> list[str]:
    per_job: list[dict[str, Node]] = [{} for _ in jobs]
    for path, node in seen.items():
        top, _, rest = path[1:].partition("/")
        if rest:
            per_job[int(top[1:])]["/" + rest] = node
    problems = []
    for j, (label, layers, image, upto) in enumerate(jobs):
        kernel = per_job[j]
        rt_view = Image.from_layers(read_back[j]).view()
        problems += [f"{label}, layers as read back: {p}"
                     for p in compare(kernel, engine_nodes(rt_view), owners=owners)]
        exact = all(_paths(a) == _paths(b) for a, b in zip(layers, read_back[j], strict=True))
        problems += [f"{label}: {p}" for p in compare(kernel, engine_nodes(image.view(upto=upto)),
                                                      owners=owners, dir_meta=exact)]
    return problems


def _run(mounter: Mounter, base: Path, data: st.DataObject) -> None:
    batch = data.draw(st.lists(stacks(owners=mounter.compares_owners), min_size=1, max_size=4),
                      label="batch")
    forms = ("chardev", "xattr") if os.geteuid() == 0 else ("xattr",)
    form = data.draw(st.sampled_from(forms), label="whiteout_form")
    for i, stack in enumerate(batch):
        note(f"stack {i}:\n{describe(stack)}")
    problems, _ = check_batch(mounter, base, batch, form)
    assert not problems, "\n".join(problems[:40])


_QUIET = settings(deadline=None, database=None, report_multiple_bugs=False,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.reference
@settings(_QUIET, max_examples=1000)
@given(data=st.data())
def test_overlay_mount_matches_engine(
    native_mounter: Mounter, reference_tmpfs: Path, data: st.DataObject
) -> None:
    _run(native_mounter, reference_tmpfs, data)


@pytest.mark.reference
@settings(_QUIET, max_examples=150)
@given(data=st.data())
def test_overlay_userns_mount_matches_engine(
    userns_mounter: Mounter, reference_tmpfs: Path, data: st.DataObject
) -> None:
    """The unprivileged path: ``user.overlay.*`` xattrs, xattr whiteouts, ``userxattr``."""
    _run(userns_mounter, reference_tmpfs, data)
