"""The on-disk store: layouts, persistence, verify, prune, system_df."""

from __future__ import annotations

import json
import os
import pathlib

import pytest
from _images import store_image as _image

from layerlab import Image, Layer
from layerlab.container import ContainerState
from layerlab.errors import ContainerStateError, LayerlabError
from layerlab.store import Store, StoreError

DRIVERS = ["overlay2", "aufs"]


def _text(path: str) -> str:
    return pathlib.Path(path).read_text()


def _bytes(path: str) -> bytes:
    return pathlib.Path(path).read_bytes()


@pytest.fixture(params=DRIVERS)
def store(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Store:
    return Store(os.path.join(tmp_path, "store"), driver=request.param)


def _tree(view_like: Image) -> dict[str, tuple[str, int, str | None, str]]:
    view = view_like.view()
    return {e.path: (str(e.kind), e.mode, e.digest, e.linkname) for e in view.walk()}


def test_images_round_trip_in_both_layouts(store: Store) -> None:
    image = _image()
    assert store.add(image, tag="tiny") == image.id
    again = Store(store.root, driver=store.driver).get("tiny")
    assert again.id == image.id
    assert again.diff_ids == image.diff_ids
    assert [h.created_by for h in again.history] == ["ADD base /", "COPY . /app"]
    assert _tree(again) == _tree(image)
    # both layouts keep the layers uncompressed (the gzip blobs' digests are not kept), so a
    # layer read back is its tar: its digest is its diff id
    assert [(lyr.compression, lyr.digest) for lyr in again.layers] == [
        ("none", diff_id) for diff_id in image.diff_ids]
    assert image.layers[1].digest != image.diff_ids[1]  # what was added was gzip


def test_overlay2_layout_is_docker_shaped(tmp_path: os.PathLike[str]) -> None:
    store = Store(os.path.join(tmp_path, "s"), driver="overlay2")
    image = _image()
    store.add(image, tag="tiny")
    root = store.root
    for i, chain in enumerate(image.chain_ids):
        db = os.path.join(root, "image/overlay2/layerdb/sha256", chain.split(":")[1])
        assert _text(os.path.join(db, "diff")) == image.diff_ids[i]
        cache_id = _text(os.path.join(db, "cache-id"))
        assert os.path.isdir(os.path.join(root, "overlay2", cache_id, "diff"))
        if i:
            assert _text(os.path.join(db, "parent")) == image.chain_ids[i - 1]
        else:
            assert not os.path.exists(os.path.join(db, "parent"))
    config = os.path.join(root, "image/overlay2/imagedb/content/sha256", image.id.split(":")[1])
    assert _bytes(config) == image.config_bytes()
    repos = json.loads(_text(os.path.join(root, "image/overlay2/repositories.json")))
    assert repos == {"Repositories": {"tiny": {"tiny:latest": image.id}}}
    # the base layer's files are real files
    assert _text(store.layer_dir(image, 0) + "/etc/motd") == "hello\n"


def test_aufs_layout_has_graph_json_with_parent_pointers(tmp_path: os.PathLike[str]) -> None:
    store = Store(os.path.join(tmp_path, "s"), driver="aufs")
    image = _image()
    store.add(image)
    base_id, top_id = (c.split(":")[1] for c in image.chain_ids)
    top_json = json.loads(_text(os.path.join(store.root, "graph", top_id, "json")))
    assert top_json["id"] == top_id and top_json["parent"] == base_id
    assert "parent" not in json.loads(_text(os.path.join(store.root, "graph", base_id, "json")))
    assert _text(os.path.join(store.root, "aufs/layers", top_id)) == base_id + "\n"
    assert os.path.isfile(os.path.join(store.root, "aufs/diff", base_id, "etc/motd"))


def test_happy_txt_stays_after_stop_and_goes_with_rm(store: Store) -> None:
    store.add(_image(), tag="tiny")
    c = store.create_container("tiny", name="happy")
    c.start()
    c.write("/happy.txt", "I was here\n")
    c.stop()
    assert c.state is ContainerState.EXITED
    path = os.path.join(store.container_dir(c), "happy.txt")
    assert _text(path) == "I was here\n"
    # a new Store object (a new notebook kernel) sees the same container and file
    again = Store(store.root, driver=store.driver).container("happy")
    assert again.read("/happy.txt") == b"I was here\n"
    assert [str(ch) for ch in again.diff()] == ["A /happy.txt"]
    c.rm()
    assert not os.path.exists(path)
    assert not os.path.exists(os.path.join(store.root, "containers", c.id))
    with pytest.raises(ContainerStateError):
        c.read("/happy.txt")
    assert store.verify().ok


def test_container_deletions_are_whiteouts_on_disk(store: Store) -> None:
    c = store.create_container(_image(), name="del")
    c.remove("/etc/motd")
    c.remove("/d", recursive=True)
    c.mkdir("/d")
    again = Store(store.root, driver=store.driver).container("del")
    assert again.rw.whiteouts == {"/etc/motd"}
    assert again.rw.opaques == {"/d"}
    assert again.view().listdir("/d") == []


def test_names_are_unique_and_rm_of_running_needs_force(store: Store) -> None:
    store.add(_image(), tag="tiny")
    c = store.create_container("tiny", name="web")
    with pytest.raises(StoreError, match="already in use"):
        store.create_container("tiny", name="web")
    c.start()
    with pytest.raises(ContainerStateError, match="stop it first"):
        c.rm()
    c.rm(force=True)
    assert store.containers() == []


def test_tags_untag_and_lookup_by_prefix(store: Store) -> None:
    image = _image()
    store.add(image, tag="a:1")
    store.tag(image.id, "b")
    assert store.tags() == {"a:1": image.id, "b:latest": image.id}
    assert store.get(image.id.split(":")[1][:8]).id == image.id
    store.untag("a:1")
    assert store.tags() == {"b:latest": image.id}
    with pytest.raises(StoreError, match="no such image"):
        store.get("a:1")
    with pytest.raises(StoreError, match="no such tag"):
        store.untag("zzz")


def test_shared_layers_are_stored_once_and_system_df_counts_them(store: Store) -> None:
    one = _image()
    two = one.add_layer(Layer.from_dict({"/extra": "x" * 100}), created_by="RUN extra")
    store.add(one, tag="one")
    store.add(two, tag="two")
    chains = os.listdir(store.layout.layerdb_root())
    assert len(chains) == 3
    rows = {r.tags[0]: r for r in store.system_df()}
    base_size = one.layers[0].size + one.layers[1].size
    assert rows["one:latest"].size == base_size
    assert rows["one:latest"].shared_size == base_size and rows["one:latest"].unique_size == 0
    assert rows["two:latest"].size == base_size + 100
    assert rows["two:latest"].unique_size == 100


def test_remove_image_and_prune_reclaim_unused_layers(store: Store) -> None:
    one = _image()
    two = one.add_layer(Layer.from_dict({"/extra": "x" * 100}), created_by="RUN extra")
    store.add(one, tag="one")
    store.add(two, tag="two")
    c = store.create_container("two", name="user")
    with pytest.raises(StoreError, match="used by containers"):
        store.remove_image("two")
    c.rm()
    store.remove_image("two")
    assert len(os.listdir(store.layout.layerdb_root())) == 2
    assert not os.path.exists(store.layout.blob(two.diff_ids[2]))
    assert store.prune().layers_removed == ()
    assert store.verify().ok


def test_verify_catches_a_flipped_byte_in_a_blob(store: Store) -> None:
    image = _image()
    store.add(image)
    blob = store.layout.blob(image.diff_ids[0])
    data = bytearray(_bytes(blob))
    data[600] ^= 0x01
    pathlib.Path(blob).write_bytes(bytes(data))
    report = store.verify()
    assert not report.ok
    assert any(image.diff_ids[0] in p and "hashes to" in p for p in report.problems), report


def test_verify_catches_a_changed_and_a_missing_file_in_a_diff_dir(store: Store) -> None:
    image = _image()
    store.add(image)
    diff = store.layer_dir(image, 0)
    with open(os.path.join(diff, "etc/motd"), "w") as f:
        f.write("tampered\n")
    os.unlink(os.path.join(diff, "d/x"))
    problems = store.verify().problems
    assert any("/etc/motd" in p and "was changed" in p for p in problems), problems
    assert any("/d/x" in p and "missing" in p for p in problems), problems


def test_verify_catches_missing_records(store: Store) -> None:
    image = _image()
    store.add(image, tag="t")
    os.unlink(store.layout.blob(image.diff_ids[1]))
    os.unlink(os.path.join(store.layout.layerdb(image.chain_ids[0]), "size"))
    problems = store.verify().problems
    assert any("is missing" in p and image.diff_ids[1] in p for p in problems), problems
    assert any("layerdb record incomplete" in p for p in problems), problems


def test_leftovers_are_reported_not_corruption_and_prune_removes_them(store: Store) -> None:
    store.add(_image())
    junk = os.path.join(store.layout.blobs_root(), "abc.tmp-999-1")
    pathlib.Path(junk).write_bytes(b"half a blob")
    report = store.verify()
    assert report.ok and report.leftovers == [junk]
    assert store.prune().leftovers_removed == (junk,)
    assert not os.path.exists(junk)


def test_driver_is_fixed_per_root(store: Store) -> None:
    other = "aufs" if store.driver == "overlay2" else "overlay2"
    with pytest.raises(StoreError, match="uses driver"):
        Store(store.root, driver=other)
    with pytest.raises(ValueError):
        Store(store.root + "-x", driver="btrfs")


def test_default_root_is_per_user_and_overridable(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: os.PathLike[str]) -> None:
    from layerlab.store import default_root

    monkeypatch.delenv("LAYERLAB_STORE", raising=False)
    assert default_root().endswith(os.path.join("layerlab", "store"))
    monkeypatch.setenv("LAYERLAB_STORE", os.fspath(tmp_path))
    assert default_root() == os.fspath(tmp_path)


def test_temporary_store_is_removed_when_garbage() -> None:
    store = Store.temporary()
    root = store.root
    store.add(_image())
    del store
    import gc

    gc.collect()
    assert not os.path.exists(root)


def test_errors_are_layerlab_errors(store: Store) -> None:
    with pytest.raises(LayerlabError):
        store.get("nope")
    with pytest.raises(LayerlabError):
        store.container("nope")


def test_a_container_cut_before_its_config_is_a_leftover(store: Store) -> None:
    c = store.create_container(_image(), name="whole")
    # what a kill -9 inside create_container can leave: the directories, no config.v2.json
    cut = "f" * 64
    os.makedirs(os.path.join(store.layout.container_home(cut)))
    pathlib.Path(store.layout.container_home(cut), "config.v2.json.tmp-1-2").write_text("{")
    os.makedirs(store.layout.container_diff(cut))
    report = store.verify()
    assert report.ok, report
    assert store.layout.container_home(cut) in report.leftovers
    assert [x.name for x in Store(store.root, driver=store.driver).containers()] == ["whole"]
    store.prune()
    assert not os.path.exists(store.layout.container_home(cut))
    assert not os.path.exists(store.layout.container_diff(cut))
    assert os.path.isdir(store.container_dir(c))
    assert store.verify().leftovers == []


def _world_traversable_base() -> pathlib.Path:
    import tempfile

    base = pathlib.Path(tempfile.mkdtemp(prefix="layerlab-priv-",
                                         dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    base.chmod(0o755)
    return base


def _hostile_image() -> Image:
    from layerlab import BlockDevice, File

    return Image.from_layers([Layer.from_dict({
        "/bin/su": File(b"#!/bin/sh\nid\n", mode=0o4755),
        "/bin/sg": File(b"#!/bin/sh\nid\n", mode=0o2755),
        "/etc/shadow": File(b"root:secret\n", mode=0o600),
        "/dev/sda": BlockDevice(8, 0, mode=0o666),
    })])


@pytest.mark.parametrize("driver", ["overlay2", "aufs", "containerd"])
def test_store_root_is_private_and_setuid_devices_are_not_materialized(driver: str) -> None:
    import shutil
    import stat

    base = _world_traversable_base()
    try:
        store = Store(base / "store", driver=driver)
        assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700
        img = _hostile_image()
        store.add(img, tag="hostile")
        diff = pathlib.Path(store.layer_dir(img, 0))
        assert stat.S_IMODE(os.lstat(diff / "bin/su").st_mode) == 0o755
        assert stat.S_IMODE(os.lstat(diff / "bin/sg").st_mode) == 0o755
        assert not os.path.lexists(diff / "dev/sda")
        # the model and the blob still hold them: only the host copy is defused
        again = Store(base / "store", driver=driver).get("hostile")
        assert again.view().stat("/bin/su").mode == 0o4755
        assert str(again.view().stat("/dev/sda").kind) == "block"
        assert store.verify().ok
        kept = Store(base / "kept", driver=driver, allow_setuid=True, allow_devices=True)
        kept.add(img)
        kdiff = pathlib.Path(kept.layer_dir(img, 0))
        assert stat.S_IMODE(os.lstat(kdiff / "bin/su").st_mode) == 0o4755
        if os.geteuid() == 0:
            assert stat.S_ISBLK(os.lstat(kdiff / "dev/sda").st_mode)
    finally:
        shutil.rmtree(base)


@pytest.mark.reference
@pytest.mark.skipif(os.geteuid() != 0, reason="switches to nobody with setpriv (needs root)")
def test_nobody_cannot_reach_the_stores_setuid_file_or_root_only_file() -> None:
    import shutil
    import subprocess

    base = _world_traversable_base()
    try:
        store = Store(base / "store")
        img = _hostile_image()
        store.add(img)
        diff = pathlib.Path(store.layer_dir(img, 0))
        script = f"cat {diff}/etc/shadow; {diff}/bin/su; ls {diff}/bin"
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               "sh", "-c", script], capture_output=True, text=True, timeout=30,
                              check=False, cwd="/")
        assert "secret" not in done.stdout and "uid=" not in done.stdout, done
        assert done.stderr.count("Permission denied") >= 3, done.stderr
    finally:
        shutil.rmtree(base)
