"""Every hostile case through every entry point that reads it, with a sentinel beside DEST.

For each (case, entry point): the expected :class:`LayerlabError` subclass and a message
naming the entry and the rule (or, for legal content, success), and then the proof that
nothing outside the destination changed: the ``victim/`` directory beside it is not
removed, changed, added to or *read* (its atime is set to a known old value first; with
relatime any read moves it), no new name appeared beside it, and the store in the same
arena still verifies, holding exactly the images it held (no half-recorded image).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from layerlab import EntryKind, Image, Layer, LayerlabError
from layerlab.build import BuildCache, Builder, BuildError
from layerlab.formats import flatten, load
from layerlab.store import Store

from .corpus import CASES, Accept, Case, Reject, docker_archive, oci_layout, sha

#: tmpfs when there is one: the store fsyncs, and thousands of small files are slow on disk
_BASE = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

KEEP = Image.from_layers([Layer.from_dict({"/etc/keep": "kept\n"}, created_by="kept")])

Snapshot = dict[str, tuple[int, ...]]


@pytest.fixture
def arena() -> Iterator[Path]:
    """A fresh directory: ``victim/f`` (atime older than ctime) and a store holding one image."""
    base = Path(tempfile.mkdtemp(prefix="layerlab-hostile-", dir=_BASE))
    victim = base / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "f").write_bytes(b"secret")
    for path in (victim / "f", victim / "sub", victim):
        os.utime(path, (1000, 2000))
    Store(base / "store").add(KEEP, tag="keep")
    try:
        yield base
    finally:
        shutil.rmtree(base)


def snapshot(victim: Path) -> Snapshot:
    """Type, mode, owner, links, size and all three times of everything under ``victim``;
    reads no content (that would move the atime we watch)."""
    out: Snapshot = {}
    for path in [victim, *sorted(victim.rglob("*"))]:
        st = os.lstat(path)
        out[str(path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_nlink, st.st_size,
                          st.st_mtime_ns, st.st_atime_ns, st.st_ctime_ns)
    return out


def test_the_sentinel_notices_a_read_and_a_chmod(arena: Path) -> None:
    before = snapshot(arena / "victim")
    (arena / "victim" / "f").read_bytes()
    assert snapshot(arena / "victim") != before
    before = snapshot(arena / "victim")
    os.chmod(arena / "victim" / "f", 0o644)  # same mode: only the ctime moves
    assert snapshot(arena / "victim") != before


# --- running one entry point ---------------------------------------------------------------

def _layer_files(case: Case, src: Path) -> list[Path]:
    paths = []
    for i, data in enumerate(case.layers):
        path = src / f"layer{i}.tar"
        path.write_bytes(data)
        paths.append(path)
    return paths


def _diff_ids(case: Case) -> list[str] | None:
    return list(case.diff_ids) if case.diff_ids is not None else None


def run_entry(case: Case, entry: str, arena: Path) -> Any:
    src = arena / "src"
    src.mkdir()
    limits = case.limits
    if case.image is not None:
        image_path = case.image(src)
        image = load(image_path, limits=limits)
        if entry == "load":
            return image
        if entry == "flatten":
            return image, flatten(image, arena / "dest")
        Store(arena / "store").add(image, tag="hostile:1")
        return image
    layers = list(case.layers)
    if entry == "from_tar":
        return [Layer.from_tar(path, limits=limits) for path in _layer_files(case, src)]
    if entry == "load:docker-archive":
        return load(docker_archive(src / "image.tar", layers, diff_ids=_diff_ids(case)),
                    limits=limits)
    if entry == "load:oci":
        return load(oci_layout(src / "oci", layers, diff_ids=_diff_ids(case)), limits=limits)
    if entry == "flatten":
        image = load(oci_layout(src / "oci", layers, diff_ids=_diff_ids(case)), limits=limits)
        return image, flatten(image, arena / "dest")
    if entry == "store":
        image = load(docker_archive(src / "image.tar", layers, diff_ids=_diff_ids(case)),
                     limits=limits)
        Store(arena / "store").add(image, tag="hostile:1")
        return image
    assert entry == "build:ADD"
    names = [p.name for p in _layer_files(case, src)]
    dockerfile = "FROM scratch\n" + "".join(f"ADD {n} /\n" for n in names)
    return Builder(dockerfile, src, cache=BuildCache()).run()


# --- checking what it did --------------------------------------------------------------------

def check_rejected(case: Case, entry: str, expected: Reject, exc: LayerlabError) -> None:
    message = str(exc)
    if entry == "build:ADD":
        # a build names the step; the engine's own error is the cause
        assert isinstance(exc, BuildError), f"{type(exc).__name__}: {message}"
        assert "ADD layer" in message, message
        assert isinstance(exc.__cause__, expected.error), repr(exc.__cause__)
    else:
        assert isinstance(exc, expected.error), f"{type(exc).__name__}: {message}"
    assert re.search(expected.pattern, message, re.S), (
        f"message {message!r} does not match {expected.pattern!r}")


def check_flattened(image: Image, dest: Path) -> None:
    """``dest`` holds the view, no more: symlinks as they are, no privilege bits, no overlay
    xattrs, no device nodes (not without ``create_devices=True``)."""
    view = image.view()
    wanted = {e.path: e for e in view.walk()}
    on_disk = {"/" + str(p.relative_to(dest)) for p in dest.rglob("*")}
    expected_on_disk = {p for p, e in wanted.items()
                        if e.kind not in (EntryKind.CHAR, EntryKind.BLOCK)}  # not by default
    assert on_disk == expected_on_disk
    for path, entry in wanted.items():
        host = dest / path[1:]
        if not os.path.lexists(host):
            continue
        st = os.lstat(host)
        if entry.kind is EntryKind.SYMLINK:
            assert os.readlink(host) == entry.linkname
            continue
        if not stat.S_ISDIR(st.st_mode):
            assert st.st_mode & (stat.S_ISUID | stat.S_ISGID) == 0, path
        assert not [x for x in os.listxattr(host, follow_symlinks=False)
                    if ".overlay." in x or x == "security.capability"], path


def check_store(arena: Path, before: set[str], added: Image | None) -> None:
    store = Store(arena / "store")
    report = store.verify()
    assert report.ok and report.leftovers == [], str(report)
    ids = {r.id for r in store.images()}
    if added is None:
        assert ids == before, "an image was recorded although the import failed"
        assert set(store.tags()) == {"keep:latest"}
        return
    assert ids == before | {added.id}
    again = store.get("hostile:1")
    assert again.diff_ids == added.diff_ids
    for layer in again.layers:  # whole: every file's bytes are there
        for entry in layer.content_entries:
            if entry.kind is EntryKind.FILE:
                layer.read_content(entry)


RUNS = [(name, entry) for name, case in CASES.items() for entry in case.entry_points]


@pytest.mark.parametrize(("name", "entry"), RUNS, ids=[f"{n}@{e}" for n, e in RUNS])
def test_case_through_entry_point(arena: Path, name: str, entry: str) -> None:
    case = CASES[name]
    expected = case.outcome(entry)
    store_before = {r.id for r in Store(arena / "store").images()}
    names_before = set(os.listdir(arena)) | {"src"}
    victim_before = snapshot(arena / "victim")

    result: Any = None
    if isinstance(expected, Reject):
        with pytest.raises(LayerlabError) as info:
            run_entry(case, entry, arena)
        check_rejected(case, entry, expected, info.value)
    else:
        result = run_entry(case, entry, arena)

    assert snapshot(arena / "victim") == victim_before, "the victim was touched"
    made = set(os.listdir(arena)) - names_before
    if entry == "flatten" and isinstance(expected, Accept):
        assert made == {"dest"}
        image, _ = result
        check_flattened(image, arena / "dest")
    else:
        assert made == set(), f"new names beside the destination: {made}"
    assert (arena / "victim" / "f").read_bytes() == b"secret"
    added = result if entry == "store" and isinstance(expected, Accept) else None
    check_store(arena, store_before, added)


def test_every_class_reaches_every_entry_point() -> None:
    """The corpus covers classes 1-12, and each layer-level class reaches all six entries."""
    assert sorted({c.klass for c in CASES.values()}) == list(range(1, 13))
    for case in CASES.values():
        assert case.outcomes.get("*") is not None, case.name
    assert sum(len(c.entry_points) for c in CASES.values()) == len(RUNS)


def test_trailing_bytes_change_the_diff_id_seen_by_from_tar(tmp_path: Path) -> None:
    """from_tar accepts bytes after the end marker but never hides them: the diff_id moves."""
    case = CASES["8-bytes-after-end-marker"]
    (layer,) = [Layer.from_tar(p) for p in _layer_files(case, tmp_path)]
    assert case.diff_ids is not None and layer.diff_id != case.diff_ids[0]
    assert layer.diff_id == sha(case.layers[0])
