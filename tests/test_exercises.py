"""Every check of layerlab.exercises, with a right answer, a wrong one and no answer."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

import layerlab as ll
from layerlab import exercises as ex
from layerlab.build import BuildCache, Builder
from layerlab.processes import Host
from layerlab.store import Store


def _right(verdict: ex.Verdict) -> None:
    assert verdict.correct and bool(verdict)
    assert repr(verdict).startswith("Correct: ")
    assert "Correct" in verdict._repr_html_()


def _wrong(verdict: ex.Verdict, *hint_words: str) -> None:
    assert not verdict.correct and verdict.answered
    text = repr(verdict)
    assert text.startswith("Not quite: ") and "\nHint: " in text
    for word in hint_words:
        assert word in text, (word, text)


def _unanswered(verdict: ex.Verdict) -> None:
    assert not verdict.correct and not verdict.answered
    assert repr(verdict).startswith("Not answered yet")


@pytest.fixture(scope="module")
def stack() -> ll.Image:
    base = ll.Layer.from_dict({"/etc/motd": "hi\n", "/etc/conf.d/a": "a", "/tmp/x": "x" * 50,
                               "/bin/busybox": "b" * 20}, created_by="ADD / /")
    mid = ll.Layer.from_dict({"/etc/motd": "v2\n", "/etc/conf.d/b": "b"}, created_by="COPY")
    top = ll.Layer.from_dict({"/tmp/x": ll.Whiteout(), "/etc/conf.d": ll.Opaque(),
                              "/etc/conf.d/c": "c"}, created_by="RUN rm")
    return ll.Image.from_layers([base, mid, top])


# --- 01 -----------------------------------------------------------------------------------


def test_changed_chain_ids(stack: ll.Image) -> None:
    other = ll.Image.from_layers([ll.Layer.from_dict({"/etc/motd": "other\n"}),
                                  *stack.layers[1:]])
    _right(ex.check_changed_chain_ids([0, 1, 2], stack, other))
    _right(ex.check_changed_chain_ids((2, 1, 0), stack, other))
    _wrong(ex.check_changed_chain_ids([0], stack, other), "diff_id changed", "chain_id below")
    _wrong(ex.check_changed_chain_ids([1, 3], stack, other), "missing", "not expected ['3']")
    _wrong(ex.check_changed_chain_ids("0", stack, other), "list")
    _unanswered(ex.check_changed_chain_ids(..., stack, other))


def test_same_ids(stack: ll.Image) -> None:
    relabeled = ll.Image.from_layers([*stack.layers[:2],
                                      stack.layers[2].with_created_by("RUN other")])
    right = {"diff_id": True, "legacy_id": False, "image_id": False}
    _right(ex.check_same_ids(right, stack, relabeled))
    _wrong(ex.check_same_ids({**right, "diff_id": False}, stack, relabeled), "tar stream")
    _wrong(ex.check_same_ids({**right, "legacy_id": True}, stack, relabeled), "v1 id")
    _wrong(ex.check_same_ids({**right, "image_id": True}, stack, relabeled), "config JSON")
    _wrong(ex.check_same_ids({"diff_id": True}, stack, relabeled), "keys")
    _unanswered(ex.check_same_ids(..., stack, relabeled))


def test_layer_count() -> None:
    image = ll.Image.from_layers([ll.Layer.from_dict({"/a": "1"})]).with_history(
        ll.HistoryEntry(created_by="CMD x"))
    _right(ex.check_layer_count(1, image))
    _wrong(ex.check_layer_count(2, image), "history entries", "empty_layer")
    _wrong(ex.check_layer_count(5, image), "metadata steps")
    _unanswered(ex.check_layer_count(..., image))


# --- 02 -----------------------------------------------------------------------------------


def test_listdir(stack: ll.Image) -> None:
    view = stack.view()
    _right(ex.check_listdir(["c"], view, "/etc/conf.d"))
    _wrong(ex.check_listdir(["a", "c"], view, "/etc/conf.d"), "not expected ['a']",
           "opaque by layer 2 (/etc/conf.d)")
    _wrong(ex.check_listdir(["x"], view, "/tmp"), "whiteout by layer 2")
    _wrong(ex.check_listdir([], view, "/etc/conf.d"), "missing ['c']")
    _wrong(ex.check_listdir("c", view, "/etc/conf.d"), "list of names")
    _right(ex.check_listdir([], view, "/tmp"))
    _unanswered(ex.check_listdir(..., view, "/tmp"))


def test_provenance(stack: ll.Image) -> None:
    view = stack.view()
    _right(ex.check_provenance(1, view, "/etc/motd"))
    _wrong(ex.check_provenance(0, view, "/etc/motd"), "hidden", "topmost")
    _wrong(ex.check_provenance(2, view, "/etc/motd"), "does not supply")
    _unanswered(ex.check_provenance(..., view, "/etc/motd"))


# --- 03 -----------------------------------------------------------------------------------


def test_copy_ups(stack: ll.Image) -> None:
    c = stack.create_container(name="t-copyups")
    c.write("/new.txt", "new")
    before = len(c.copy_ups)
    c.append("/etc/motd", "more\n")
    _right(ex.check_copy_ups(["/etc/motd", "/etc"], c, since=before))
    _wrong(ex.check_copy_ups(["/etc/motd"], c, since=before), "missing ['/etc']",
           "parent directories")
    _wrong(ex.check_copy_ups(["/etc", "/etc/motd", "/new.txt"], c, since=before),
           "not expected ['/new.txt']")
    _wrong(ex.check_copy_ups(None, c), "list of paths")
    _unanswered(ex.check_copy_ups(..., c))


def test_diff(stack: ll.Image) -> None:
    c = stack.create_container(name="t-diff")
    c.write("/etc/new", "n")
    c.remove("/bin/busybox")
    _right(ex.check_diff(["C /bin", "D /bin/busybox", "C /etc", "A /etc/new"], c))
    _right(ex.check_diff(["C  /bin", "D /bin/busybox", "C /etc", "A /etc/new"], c))
    _wrong(ex.check_diff(["D /bin/busybox", "A /etc/new"], c), "missing", "C if the image")
    _wrong(ex.check_diff(42, c), "not a list")
    _unanswered(ex.check_diff(..., c))


def test_lifecycle(stack: ll.Image) -> None:
    c = stack.create_container(name="t-life")
    c.write("/happy.txt", "hi\n")
    c.start()
    q = ex.Lifecycle(c)
    _right(q.check({"stop": True, "rm": False}))
    _wrong(q.check({"stop": False, "rm": False}), "stopping only ends")
    _wrong(q.check({"stop": True, "rm": True}), "only commit")
    _wrong(q.check({"stop": True}), "keys")
    _unanswered(q.check(...))
    # the question ran its experiment on a twin: the container itself is untouched
    assert c.state is ll.ContainerState.RUNNING and c.exists("/happy.txt")
    c.stop()
    c.rm()
    _right(q.check({"stop": True, "rm": False}))  # judged against the snapshot
    with pytest.raises(ValueError, match="not in its read-write layer"):
        ex.Lifecycle(stack.create_container(name="t-life2"))


def test_a_question_judges_the_state_when_it_was_asked(stack: ll.Image) -> None:
    c = stack.create_container(name="t-snap")
    before = len(c.copy_ups)
    c.append("/etc/motd", "more\n")
    q = ex.CopyUps(c, since=before)
    d = ex.Diff(c)
    c.chmod("/bin/busybox", 0o700)  # a later cell: more copy-ups, a longer diff
    _right(q.check(["/etc", "/etc/motd"]))
    _right(d.check(["C /etc", "C /etc/motd"]))
    # the one-call form reads the live state instead
    _wrong(ex.check_copy_ups(["/etc", "/etc/motd"], c, since=before), "missing")


def test_predict() -> None:
    q = ex.Predict(3, "the number of layers", hints={4: "history entries"}, hint="count",
                   why="CMD makes none")
    _right(q.check(3))
    assert "CMD makes none" in repr(q.check(3))
    _wrong(q.check(4), "history entries")
    _wrong(q.check([4]), "count")
    _unanswered(q.check(...))
    assert "3" not in repr(q)  # the question does not show its answer


def test_stop_status() -> None:
    plain = ll.Image.from_layers([ll.Layer.from_dict({"/a": "1"})],
                                 config={"cmd": ["sleep", "infinity"]})
    c = ll.Container(plain, name="s", host=Host())
    q = ex.StopStatus(c)
    _right(q.check(137))
    _wrong(q.check(143), "ignores a signal", "137")
    _wrong(q.check(0), "128 + N")
    handler = ll.Image.from_layers([ll.Layer.from_dict({"/a": "1"})],
                                   config={"cmd": ["sh", "-c", "trap 'exit 143' TERM; "
                                                   "sleep infinity & wait"]})
    q2 = ex.StopStatus(ll.Container(handler, name="h", host=Host()))
    _right(q2.check(143))
    _wrong(q2.check(137), "SIGTERM handler")
    assert c.state is ll.ContainerState.CREATED  # asked on a twin


# --- 04 -----------------------------------------------------------------------------------


def test_host_processes() -> None:
    host = Host()
    image = ll.Image.from_layers([ll.Layer.from_dict({"/a": "1"})],
                                 config={"cmd": ["sleep", "infinity"]})
    a = ll.Container(image, name="a", host=host)
    b = ll.Container(image, name="b", host=host)
    a.start()
    b.start()
    b.exec("sleep 5", detach=True)
    _right(ex.check_host_processes(([1, 2], 3), host, b))
    assert len(host.processes()) == 3 + len(host.own)  # the host's own processes too
    _wrong(ex.check_host_processes(([4003, 4004], 3), host, b), "container PIDs",
           "from PID 1")
    _wrong(ex.check_host_processes(([1, 2], 2), host, b), "on the host", "every running")
    _wrong(ex.check_host_processes(([1, 2], 6), host, b), "on the host")
    _wrong(ex.check_host_processes(3, host, b), "pair")
    _unanswered(ex.check_host_processes(..., host, b))


# --- 05 -----------------------------------------------------------------------------------


def test_cache_hits(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("1\n")
    dockerfile = "FROM layerlab/tiny\nENV A=1\nCOPY app.py /\nCMD [\"sh\"]\n"
    cache = BuildCache()
    Builder(dockerfile, tmp_path, cache=cache).run()
    (tmp_path / "app.py").write_text("2\n")
    edited = Builder(dockerfile, tmp_path, cache=cache)
    edited.run()
    _right(ex.check_cache_hits([2], edited.results))
    _wrong(ex.check_cache_hits([2, 4], edited.results), "not expected ['4']",
           "first miss is step 3", "app.py")
    _wrong(ex.check_cache_hits("2", edited.results), "step numbers")
    _unanswered(ex.check_cache_hits(..., edited.results))


# --- 06 -----------------------------------------------------------------------------------


def test_smaller_image() -> None:
    base = ll.Layer.from_dict({"/a": "1"})
    big = ll.Image.from_layers([base, ll.Layer.from_dict({"/junk": "x" * 100}),
                                ll.Layer.from_dict({"/junk": ll.Whiteout()})])
    small = ll.Image.from_layers([base])
    images = {"big": big, "small": small}
    _right(ex.check_smaller_image("small", images))
    _wrong(ex.check_smaller_image("big", images), "big: 101 bytes", "same RUN")
    _wrong(ex.check_smaller_image("huge", images), "not one of")
    _unanswered(ex.check_smaller_image(..., images))


def test_shared_layers() -> None:
    base = ll.Layer.from_dict({"/a": "1"})
    one = ll.Image.from_layers([base, ll.Layer.from_dict({"/b": "2"})])
    two = ll.Image.from_layers([base, ll.Layer.from_dict({"/c": "3"})])
    images = {"one": one, "two": two}
    _right(ex.check_shared_layers(1, images))
    _wrong(ex.check_shared_layers(3, images), "3 distinct layers", "chain_id")
    _unanswered(ex.check_shared_layers(..., images))


# --- 07 -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stores(stack: ll.Image) -> dict[str, Store]:
    out = {}
    for driver in ("aufs", "overlay2"):
        store = Store.temporary(driver=driver)
        store.add(stack, tag="stack")
        store.create_container("stack", name="c")
        out[driver] = store
    return out


def test_store_entries(stores: dict[str, Store]) -> None:
    _right(ex.check_store_entries(4, stores["aufs"], "aufs/diff"))
    _wrong(ex.check_store_entries(3, stores["aufs"], "aufs/diff"), "has 4 entries",
           "read-write layer")
    _unanswered(ex.check_store_entries(..., stores["aufs"], "aufs/diff"))


def test_layerdb_key(stack: ll.Image, stores: dict[str, Store]) -> None:
    for store in stores.values():
        _right(ex.check_layerdb_key("chain_id", store, stack))
        _wrong(ex.check_layerdb_key("diff_id", store, stack), "not named by diff_id",
               "different parent")
        _wrong(ex.check_layerdb_key("id", store, stack), "not one of")
        _unanswered(ex.check_layerdb_key(..., store, stack))


# --- tar readers ----------------------------------------------------------------------------


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", **kw: object) -> None:
    info = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(info, k, v)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def test_tar_listing_and_json(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tar:
        _add(tar, "manifest.json", json.dumps([{"Config": "c.json"}]).encode())
        _add(tar, "abc", type=tarfile.DIRTYPE)
        _add(tar, "abc/json", b'{"id": "abc"}')
        _add(tar, "abc/link.json", type=tarfile.SYMTYPE, linkname="json")
        _add(tar, "./b.tar", b"x")
    assert ex.tar_listing(path) == ["abc/", "abc/json", "abc/link.json -> json", "b.tar",
                                    "manifest.json"]
    assert ex.tar_json(path, "manifest.json") == [{"Config": "c.json"}]
    assert ex.tar_json(path, "abc/link.json") == {"id": "abc"}
    with pytest.raises(KeyError):
        ex.tar_json(path, "missing.json")
    with pytest.raises(ValueError, match="not a regular file"):
        ex.tar_json(path, "abc")


def test_sample_archive_is_small_and_made_by_real_tools() -> None:
    sample = Path(__file__).resolve().parent.parent / "notebooks" / "data" / "sample.tar"
    assert sample.stat().st_size < 200_000
    names = ex.tar_listing(sample)
    assert "manifest.json" in names and "repositories" in names  # skopeo's docker-archive
    from layerlab import formats

    image = formats.load(sample, progress=False)
    assert len(image.layers) == 3
    assert image.view().listdir("/app") == ["data.txt", "hello.sh"]
