"""Kernel reference for the change model: ``Container.diff()`` against Docker's own algorithm
run on real trees.

The random operation sequences of tests/test_container_property.py run in a
:class:`Container` and, with real system calls, on a kernel overlay mount of the image's
layers with an empty upper dir (tests/reference/test_container_overlay.py). The image's own
view is a second, read-only overlay mount of the same lower dirs. Between the two mounted
trees :func:`changes_dirs` computes what ``docker diff`` prints on Docker Engine 29: it is a
line-by-line transcription of moby/go-archive ``ChangesDirs`` (``changes.go``:
``addChanges``; ``changes_unix.go``: ``statDifferent``; ``sameFsTime``), which both the
containerd image store (``daemon/containerd/image_changes.go``) and the overlay2
graphdriver's naive diff call. Its answer must be the engine's, line for line.

Operation lists with chmod or chown are left out: layerlab's container stamps a new mtime
on a chmod/chown (the kernel changes only ctime), so a chmod to the same mode is a change
there and none in Docker; tests/test_changes.py covers a real chmod/chown.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from test_container_property import BASES, OP_LISTS, Op, apply_op, base_image

from layerlab.container import Container
from layerlab.overlaydir import write_overlay_dir
from layerlab.processes import Host

from . import test_container_overlay as kernel
from .test_container_overlay import (
    _check,
    _libc,
    _mount_overlay,
    _umount,
    kernel_safe,
    run_in_mount,
)

#: the tmpfs where this process may mount overlayfs with an upper dir (a fixture)
overlay_base = kernel.overlay_base

MS_RDONLY = 1


class _Info:
    """go-archive's FileInfo: a name, its lstat, its capability xattr, its children."""

    def __init__(self, path: str, st: os.stat_result | None, capability: bytes | None) -> None:
        self.path = path
        self.stat = st
        self.capability = capability
        self.children: dict[str, _Info] = {}
        self.added = False

    def is_dir(self) -> bool:
        return self.stat is None or stat.S_ISDIR(self.stat.st_mode)


def _collect(root: str) -> _Info:
    top = _Info("/", None, None)
    pending = [top]
    while pending:
        info = pending.pop()
        real = os.path.join(root, info.path.lstrip("/"))
        for name in sorted(os.listdir(real)):
            full = os.path.join(real, name)
            st = os.lstat(full)
            try:
                cap: bytes | None = os.getxattr(full, "security.capability",
                                                follow_symlinks=False)
            except OSError:
                cap = None
            child = _Info(os.path.join(info.path, name), st, cap)
            info.children[name] = child
            if stat.S_ISDIR(st.st_mode):
                pending.append(child)
    return top


def _same_fs_time(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_mtime_ns == b.st_mtime_ns or (
        a.st_mtime_ns // 10**9 == b.st_mtime_ns // 10**9
        and (a.st_mtime_ns % 10**9 == 0 or b.st_mtime_ns % 10**9 == 0))


def _stat_different(old: os.stat_result, new: os.stat_result) -> bool:
    return (old.st_mode != new.st_mode or old.st_uid != new.st_uid or old.st_gid != new.st_gid
            or old.st_rdev != new.st_rdev
            or (not stat.S_ISDIR(old.st_mode)
                and (not _same_fs_time(old, new) or old.st_size != new.st_size)))


def _add_changes(info: _Info, old: _Info | None, changes: list[tuple[str, str]]) -> None:
    size_at_entry = len(changes)
    if old is None:
        changes.append(("A", info.path))
        info.added = True
    old_children = dict(old.children) if old is not None and info.is_dir() else {}
    for name, new_child in info.children.items():
        old_child = old_children.get(name)
        if old_child is not None:
            assert old_child.stat is not None and new_child.stat is not None
            if _stat_different(old_child.stat, new_child.stat) or \
                    old_child.capability != new_child.capability:
                changes.append(("C", new_child.path))
                new_child.added = True
            del old_children[name]
        _add_changes(new_child, old_child, changes)
    for old_child in old_children.values():
        changes.append(("D", old_child.path))
    if len(changes) > size_at_entry and info.is_dir() and not info.added and info.path != "/":
        changes.insert(size_at_entry, ("C", info.path))


def changes_dirs(new_dir: str, old_dir: str) -> list[str]:
    """go-archive ``ChangesDirs(newDir, oldDir)``, printed as ``docker diff`` prints it,
    sorted by path (Docker's order is Go map order)."""
    changes: list[tuple[str, str]] = []
    _add_changes(_collect(new_dir), _collect(old_dir), changes)
    return [f"{kind} {path}" for kind, path in sorted(changes, key=lambda c: c[1])]


def _mount_lowers(lowers: list[str], empty: str, target: str) -> None:
    # overlayfs without an upper dir needs two lower dirs: an empty one goes at the bottom
    opts = f"lowerdir={':'.join([*reversed(lowers), empty])}"
    _check(_libc.mount(b"overlay", target.encode(), b"overlay", MS_RDONLY, opts.encode()),
           f"mount -t overlay -o ro,{opts} {target}")


def docker_diff_on_the_kernel(image: Any, ops: list[Op], where: Path) -> tuple[list[str],
                                                                              list[bool]]:
    lowers = []
    for i, layer in enumerate(image.layers):
        lowers.append(str(where / f"L{i}"))
        write_overlay_dir(layer, lowers[-1], xattr_namespace="trusted", whiteout_form="chardev")
    upper, work, merged, empty, lower_view = (where / n for n in
                                              ("upper", "work", "merged", "empty", "image"))
    for d in (upper, work, merged, empty, lower_view):
        d.mkdir()
    _mount_overlay(lowers, str(upper), str(work), str(merged))
    try:
        done = run_in_mount(str(merged), ops)
        _mount_lowers(lowers, str(empty), str(lower_view))
        try:
            return changes_dirs(str(merged), str(lower_view)), done
        finally:
            _umount(str(lower_view))
    finally:
        _umount(str(merged))


def test_the_transcription_on_plain_directories(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    for root in (old, new):
        (root / "d").mkdir(parents=True)
        (root / "keep").write_text("k")
        os.utime(root / "keep", (1, 1))
    (old / "d" / "a").write_text("1")
    (old / "gone").mkdir()
    (old / "gone" / "x").write_text("x")
    (new / "d" / "n").write_text("2")
    assert changes_dirs(str(new), str(old)) == ["C /d", "D /d/a", "A /d/n", "D /gone"]


@pytest.mark.reference
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(specs=BASES, ops=OP_LISTS)
def test_container_diff_is_dockers_walk_of_the_kernel_trees(overlay_base: Path, specs,
                                                            ops: list[Op]) -> None:
    assume(not any(op[0] in ("chmod", "chown") for op in ops))
    image = base_image(kernel_safe(specs))
    c = Container(image, host=Host())
    engine_done = [apply_op(c, op) for op in ops]
    engine = [str(change) for change in c.diff()]
    where = Path(tempfile.mkdtemp(dir=overlay_base))
    try:
        kernel, kernel_done = docker_diff_on_the_kernel(image, ops, where)
    finally:
        shutil.rmtree(where, ignore_errors=True)
    assume(engine_done == kernel_done)  # test_container_overlay checks the outcomes agree
    assert engine == kernel
