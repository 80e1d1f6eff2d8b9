"""The read-write layer and the live view (layerlab.rwlayer).

The live view must answer exactly what the union's merge of ``image layers + the
read-write layer frozen`` answers (tests/test_container_property.py drives the random
operations); a write must not freeze the layer or merge anything; the indexes the layer
keeps must agree with its contents whatever order things change in.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from test_container_property import BASES, NAMES, OP_LISTS, Op, apply_op, base_image

from layerlab import Image, Layer
from layerlab.container import Container, ReadWriteLayer
from layerlab.entry import Entry, EntryKind
from layerlab.errors import PathLookupError
from layerlab.processes import Host
from layerlab.rwlayer import LiveView
from layerlab.union import View

#: every literal path the generators can reach, plus a few through symlinks and '..'
_ALL = ["/"] + [f"/{a}" for a in NAMES] + [f"/{a}/{b}" for a in NAMES for b in NAMES] + [
    f"/{a}/{b}/{c}" for a in NAMES for b in NAMES for c in NAMES]
_ODD = ["a/../b", "/a/b/..", "/../a", "b/c/../../a", "/a/./b/", "", "."]


def reference(c: Container) -> View:
    """The view the old code built: the image's layers plus the frozen read-write layer."""
    return Image.from_layers([*c.image.layers, c.rw.to_layer()]).view()


def _answer(call: Any) -> object:
    try:
        return ("ok", call())
    except PathLookupError as exc:
        return (type(exc).__name__, str(exc))


def assert_same(live: View, ref: View) -> None:
    assert isinstance(live, LiveView)
    assert live.upto == ref.upto
    assert len(live) == len(ref)
    assert list(live.nodes()) == list(ref.nodes())
    assert live.root == ref.root
    for path in _ALL:
        assert live.lookup(path) == ref.lookup(path), path
        assert live.children(path) == ref.children(path), path
        assert live.shadowed(path) == ref.shadowed(path), path
    for path in _ALL + _ODD:
        for question in ("stat", "listdir", "provenance", "read", "readlink", "exists"):
            got = _answer(lambda q=question, p=path: getattr(live, q)(p))
            want = _answer(lambda q=question, p=path: getattr(ref, q)(p))
            assert got == want, (question, path)
        assert _answer(lambda p=path: live.stat(p, follow_symlinks=True)) == \
            _answer(lambda p=path: ref.stat(p, follow_symlinks=True)), path
        assert _answer(lambda p=path: list(live.walk(p))) == \
            _answer(lambda p=path: list(ref.walk(p))), path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=BASES, ops=OP_LISTS)
def test_live_view_answers_what_the_merge_answers(specs: Any, ops: list[Op]) -> None:
    c = Container(base_image(specs), host=Host())
    for op in ops:
        apply_op(c, op)
        assert_same(c.view(), reference(c))


def test_hardlinks_and_their_targets_agree_with_the_merge() -> None:
    img = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n", "/etc/x": "x"})])
    c = img.create_container(name="links")
    c.hardlink("/etc/motd", "/m2")
    c.hardlink("/etc/motd", "/m3")
    c.append("/m2", "more\n")
    assert_same(c.view(), reference(c))
    assert c.read("/m3") == b"hi\nmore\n"
    c.remove("/etc/motd")  # the other names keep the content
    assert_same(c.view(), reference(c))
    assert c.read("/m3") == b"hi\nmore\n"


def test_a_view_shows_the_state_it_was_taken_in() -> None:
    img = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"})])
    c = img.create_container(name="snap")
    before = c.view()
    assert c.view() is before  # nothing changed: the same view
    c.write("/new", "1")
    c.remove("/etc/motd")
    assert before.listdir("/") == ["etc"] and before.read("/etc/motd") == b"hi\n"
    after = c.view()
    assert after is not before and after.listdir("/") == ["etc", "new"]
    assert not after.exists("/etc/motd")


def test_writes_neither_freeze_the_layer_nor_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    img = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"})])
    c = img.create_container(name="lazy")

    def refuse(*args: object, **kwargs: object) -> Layer:
        raise AssertionError("a write froze the read-write layer")

    monkeypatch.setattr(ReadWriteLayer, "to_layer", refuse)
    monkeypatch.setattr(Layer, "from_entries", classmethod(refuse))  # no layer to merge
    c.mkdir("/d")
    for i in range(1, 50):
        c.write(f"/d/f{i}", b"x")
        c.append("/etc/motd", f"{i}\n")
    c.remove("/d/f3")
    c.rename("/d/f4", "/d/g4")
    assert c.listdir("/d")[:3] == ["f1", "f10", "f11"] and "g4" in c.listdir("/d")
    assert c.view().read("/etc/motd").endswith(b"49\n")
    monkeypatch.undo()
    assert_same(c.view(), reference(c))


def test_the_indexes_follow_every_way_of_changing_the_layer() -> None:
    rw = ReadWriteLayer()
    rw.entries["/a"] = Entry("/a", EntryKind.DIR)
    rw.entries["/a/b/c"] = Entry("/a/b/c", EntryKind.FILE)  # /a/b is implied
    rw.whiteouts.add("/a/gone")
    assert rw.children("/") == ["a"] and rw.children("/a") == ["b"]
    assert rw.whited_out_in("/a") == ["gone"]
    assert sorted(rw.subtree("/a")) == ["/a", "/a/b/c", "/a/gone"]
    rw.entries.pop("/a/b/c")
    assert rw.children("/a") == [] and rw.children("/") == ["a"]
    rw.entries.update({"/x": Entry("/x", EntryKind.HARDLINK, linkname="/a")})
    assert rw.has_hardlinks
    del rw.entries["/x"]
    assert not rw.has_hardlinks
    rw.whiteouts = {"/y"}
    assert rw.whited_out_in("/a") == [] and rw.whited_out_in("/") == ["y"]
    rw.drop("/")
    assert len(rw) == 0 and rw.children("/") == []
    twin = rw.copy()
    twin.entries["/t"] = Entry("/t", EntryKind.FILE)
    assert "/t" not in rw.entries and rw.children("/") == [] and twin.children("/") == ["t"]


def test_changes_are_recorded_for_a_store() -> None:
    c = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"})]).create_container(name="chg")
    c.rw.take_changes()
    c.write("/etc/motd", "new\n")
    assert c.rw.take_changes() == {"/etc", "/etc/motd"}
    c.remove("/etc/motd")
    assert c.rw.take_changes() == {"/etc/motd"}  # the entry went, the whiteout came
    c.rw = ReadWriteLayer.from_layer(c.rw.to_layer())
    assert c.rw.take_changes() is None  # replaced whole: "everything"
    assert c.rw.take_changes() == set()


def test_live_view_reads_big_files_kept_on_disk(tmp_path: Any) -> None:
    from layerlab.blob import FileBlob

    blob = FileBlob.copy_of(io.BytesIO(b"z" * 5000), spool_dir=str(tmp_path))
    c = Image.from_layers([Layer.from_dict({"/a": "1"})]).create_container(name="blob")
    c.write("/big", blob)
    with c.view().open("/big") as f:
        assert f.read(3) == b"zzz"
    assert c.view().read("/big") == b"z" * 5000 == reference(c).read("/big")


def test_contents_nobody_holds_are_dropped() -> None:
    c = Image.from_layers([Layer.from_dict({"/log": "start\n"})]).create_container(name="gc")
    for i in range(200):
        c.append("/log", f"line {i}\n")
    c.write("/same1", "x")
    c.write("/same2", "x")
    assert len(c.rw.data) == 2  # the last /log and the one shared "x", not 200 versions
    c.remove("/same1")
    assert c.read("/same2") == b"x"
    old = c.view()
    c.remove("/log")
    assert old.read("/log").endswith(b"line 199\n")  # a view taken before keeps its bytes
    assert len(c.rw.data) == 1
    assert_same(c.view(), reference(c))


def test_layers_has_more_than_and_with_layer_answer_for_the_live_view() -> None:
    img = Image.from_layers([Layer.from_dict({"/a": "1", "/b": "2"})])
    c = img.create_container(name="more")
    c.write("/c", "3")
    view = c.view()
    assert isinstance(view, LiveView)
    assert len(view.layers) == 2 and view.layers[0] is img.layers[0]
    assert view.layers[1].get("/c") is not None
    assert view.has_more_than(2) and not view.has_more_than(3)
    from layerlab import Whiteout

    assert view.with_layer(Layer.from_dict({"/a": Whiteout()})).listdir("/") == ["b", "c"]
