"""The containerd layout: content store, snapshots, meta.db records, containers, gc, verify."""

from __future__ import annotations

import gzip
import json
import os
import pathlib

import pytest
from _images import store_image as _image

from layerlab import Image, Layer
from layerlab.digest import sha256_digest
from layerlab.errors import LayerlabError
from layerlab.store import Store, StoreError
from layerlab.store.containerd import ContainerdStore, full_name
from layerlab.store.initlayer import INIT_PATHS

CONTENT = "io.containerd.content.v1.content"
SNAPS = "io.containerd.snapshotter.v1.overlayfs"


@pytest.fixture
def store(tmp_path: os.PathLike[str]) -> ContainerdStore:
    s = Store(os.path.join(tmp_path, "store"), driver="containerd")
    assert isinstance(s, ContainerdStore)
    return s


def _meta(store: Store) -> dict:  # type: ignore[type-arg]
    return json.loads(pathlib.Path(store.root, "io.containerd.metadata.v1.bolt",
                                   "meta.db").read_text())["v1"]["moby"]


def _tree(image: Image) -> dict[str, tuple[str, int, str | None, str]]:
    return {e.path: (str(e.kind), e.mode, e.digest, e.linkname) for e in image.view().walk()}


def test_blobs_are_stored_byte_for_byte_with_their_gc_labels(store: ContainerdStore) -> None:
    image = _image()
    store.add(image, tag="tiny")
    blobs = pathlib.Path(store.root, CONTENT, "blobs", "sha256")
    for layer in image.layers:  # compressed, as pulled or saved
        data = (blobs / layer.digest.split(":")[1]).read_bytes()
        assert data == layer.blob() and data[:2] == b"\x1f\x8b"
        assert sha256_digest(gzip.decompress(data)) == layer.diff_id
    assert (blobs / image.id.split(":")[1]).read_bytes() == image.config_bytes()
    meta = _meta(store)
    record = meta["image"]["docker.io/library/tiny:latest"]
    target = record["target"]["digest"]
    index = json.loads((blobs / target.split(":")[1]).read_bytes())
    assert record["target"]["mediatype"] == index["mediaType"]
    manifest_digest = index["manifests"][0]["digest"]
    manifest = json.loads((blobs / manifest_digest.split(":")[1]).read_bytes())
    assert manifest["config"]["digest"] == image.id
    labels = meta["content"]["blob"]
    assert labels[target]["labels"] == {"containerd.io/gc.ref.content.m.0": manifest_digest}
    assert labels[manifest_digest]["labels"] == {
        "containerd.io/gc.ref.content.config": image.id,
        "containerd.io/gc.ref.content.l.0": image.layers[0].digest,
        "containerd.io/gc.ref.content.l.1": image.layers[1].digest}
    assert labels[image.id]["labels"] == {
        "containerd.io/gc.ref.snapshot.overlayfs": image.chain_ids[-1]}
    for layer in image.layers:
        assert labels[layer.digest]["labels"] == {"containerd.io/uncompressed": layer.diff_id}
    assert meta["leases"] == {}  # the import's lease is gone once the image is recorded


def test_one_committed_snapshot_per_chain_id_with_the_parent_chain(
        store: ContainerdStore) -> None:
    image = _image()
    store.add(image, tag="tiny")
    rows = store.snapshot_records()
    assert [(r["key"], r["kind"], r["number"], r["parent"]) for r in rows] == [
        (image.chain_ids[0], "committed", 1, ""),
        (image.chain_ids[1], "committed", 2, image.chain_ids[0])]
    fs = pathlib.Path(store.root, SNAPS, "snapshots", "2", "fs")
    assert store.layer_dir(image, 1) == str(fs)
    assert sorted(os.listdir(fs)) == ["app", "d", "etc"]
    assert (pathlib.Path(store.root, SNAPS, "snapshots", "1", "work")).is_dir()
    # a second image on the same base adds one snapshot, it does not copy the base
    other = image.add_layer(Layer.from_dict({"/other": "o"}))
    store.add(other, tag="other")
    assert [r["number"] for r in store.snapshot_records()] == [1, 2, 3]
    assert len(list(store.content.digests())) == 3 + 3 + 3  # 3 layers, 2x(config, manifest, index)


def test_images_round_trip_through_the_content_store(store: ContainerdStore) -> None:
    image = _image()
    assert store.add(image, tag="tiny") == image.id
    again = Store(store.root, driver="containerd").get("tiny")
    assert again.id == image.id and again.diff_ids == image.diff_ids
    assert [layer.digest for layer in again.layers] == [layer.digest for layer in image.layers]
    assert [h.created_by for h in again.history] == ["ADD base /", "COPY . /app"]
    assert _tree(again) == _tree(image)
    assert store.get(image.id[7:19]).id == image.id


def test_names_are_full_references_and_untagged_images_dangle(store: ContainerdStore) -> None:
    image = _image()
    store.add(image)
    (name,) = _meta(store)["image"]
    assert name.startswith("moby-dangling@sha256:")
    assert store.tags() == {} and [r.id for r in store.images()] == [image.id]
    store.tag(image, "me/app:1")
    assert list(_meta(store)["image"]) == ["docker.io/me/app:1"]
    assert store.tags() == {"me/app:1": image.id}
    store.untag("me/app:1")
    assert next(iter(_meta(store)["image"])).startswith("moby-dangling@")
    with pytest.raises(StoreError, match="no such tag"):
        store.untag("me/app:1")
    assert full_name("registry.example:5000/x") == "registry.example:5000/x:latest"


def test_a_container_is_an_active_snapshot_over_its_init_snapshot(
        store: ContainerdStore) -> None:
    image = _image()
    store.add(image, tag="tiny")
    c = store.create_container("tiny", name="web")
    rows = {r["key"]: r for r in store.snapshot_records()}
    init = rows[f"{c.id}-init"]
    active = rows[c.id]
    assert (init["kind"], init["parent"]) == ("committed", image.chain_ids[-1])
    assert (active["kind"], active["parent"]) == ("active", f"{c.id}-init")
    init_fs = pathlib.Path(store.root, SNAPS, "snapshots", str(init["number"]), "fs")
    for path, kind in INIT_PATHS.items():
        p = init_fs / path.lstrip("/")
        assert p.is_symlink() if kind.startswith("/") else (
            p.is_dir() if kind == "dir" else p.is_file() and p.stat().st_size == 0), path
    assert os.readlink(init_fs / "etc" / "mtab") == "/proc/mounts"
    meta = _meta(store)
    assert meta["containers"][c.id]["snapshotKey"] == c.id
    assert meta["containers"][c.id]["image"] == "docker.io/library/tiny:latest"
    assert meta["leases"][c.id]["snapshots"]["overlayfs"] == sorted([c.id, f"{c.id}-init"])
    assert "lowerdir=" + str(init_fs) + ":" in store.mount_options(c)


def test_happy_txt_lands_in_the_active_snapshot_and_stays_after_stop(
        store: ContainerdStore) -> None:
    store.add(_image(), tag="tiny")
    c = store.create_container("tiny", name="web")
    c.write("/happy.txt", "I was here\n")
    c.start()
    c.stop()
    fs = store.container_dir(c)
    assert os.path.relpath(fs, store.root).startswith(f"{SNAPS}/snapshots/")
    assert pathlib.Path(fs, "happy.txt").read_text() == "I was here\n"
    again = Store(store.root, driver="containerd").container("web")
    assert again.read("/happy.txt") == b"I was here\n"
    assert str(again.state) == str(c.state)
    c.rm()
    assert not os.path.exists(fs)
    assert {r["key"] for r in store.snapshot_records()} == set(_image().chain_ids)
    assert _meta(store)["containers"] == {} and _meta(store)["leases"] == {}
    report = store.verify()
    assert report.ok and report.leftovers == [], report


def test_commit_makes_a_new_layer_blob_and_snapshot(store: ContainerdStore) -> None:
    image = _image()
    store.add(image, tag="tiny")
    c = store.create_container("tiny", name="web")
    c.write("/happy.txt", "I was here\n")
    c.remove("/etc/motd")
    committed = c.commit(message="checkpoint")
    store.add(committed, tag="happy")
    new = committed.layers[-1]
    assert store.content.has(new.digest)
    assert _meta(store)["content"]["blob"][new.digest]["labels"] == {
        "containerd.io/uncompressed": new.diff_id}
    rows = {r["key"]: r for r in store.snapshot_records()}
    assert rows[committed.chain_ids[-1]]["parent"] == image.chain_ids[-1]
    top = store.layer_dir(committed, 2)
    assert sorted(os.listdir(top)) == ["etc", "happy.txt"]
    assert Store(store.root, driver="containerd").get("happy").view().read("/happy.txt") == (
        b"I was here\n")
    assert store.verify().ok


def _two_images_one_container(store: ContainerdStore) -> tuple[Image, Image]:
    """``a`` (the store image) with the container ``c1``, and ``b``: ``a`` plus a
    5-byte layer."""
    image = _image()
    other = image.add_layer(Layer.from_dict({"/other": "other"}))
    store.add(image, tag="a")
    store.add(other, tag="b")
    store.create_container("a", name="c1")
    return image, other


def test_shared_snapshots_and_system_df(store: ContainerdStore) -> None:
    image, _ = _two_images_one_container(store)
    rows = {r.tags[0]: r for r in store.system_df()}
    assert rows["a:latest"].shared_size == image.layers[0].size + image.layers[1].size
    assert rows["b:latest"].unique_size == 5
    assert rows["a:latest"].containers == 1


def test_remove_image_collects_its_blobs_and_snapshots(store: ContainerdStore) -> None:
    image, other = _two_images_one_container(store)
    with pytest.raises(StoreError, match="used by containers"):
        store.remove_image("a")
    store.remove_image("b")
    assert not store.content.has(other.layers[-1].digest)
    assert not store.content.has(other.id)
    assert other.chain_ids[-1] not in {r["key"] for r in store.snapshot_records()}
    assert not os.path.exists(pathlib.Path(store.root, SNAPS, "snapshots", "3"))
    assert store.content.has(image.layers[0].digest)
    report = store.verify()
    assert report.ok and report.leftovers == [], report


def test_verify_catches_a_flipped_byte_and_tampered_snapshots(store: ContainerdStore) -> None:
    image = _image()
    store.add(image, tag="t")
    blob = store.layout.blob(image.layers[1].digest)
    data = bytearray(pathlib.Path(blob).read_bytes())
    data[len(data) // 2] ^= 0x01
    pathlib.Path(blob).write_bytes(bytes(data))
    fs = store.layer_dir(image, 0)
    pathlib.Path(fs, "etc", "motd").write_text("tampered\n")
    os.unlink(os.path.join(fs, "d", "x"))
    problems = store.verify().problems
    assert any(image.layers[1].digest in p and "hashes to" in p for p in problems), problems
    assert any("/etc/motd" in p and "was changed" in p for p in problems), problems
    assert any("/d/x" in p and "missing" in p for p in problems), problems


def test_verify_catches_missing_records_and_directories(store: ContainerdStore) -> None:
    image = _image()
    store.add(image, tag="t")
    c = store.create_container("t", name="web")
    os.unlink(store.layout.blob(image.id))
    import shutil

    shutil.rmtree(os.path.dirname(store.container_dir(c)))
    problems = store.verify().problems
    assert any("index, manifest or config unreadable" in p for p in problems), problems
    assert any(f"container {c.id[:12]}" in p and "missing" in p for p in problems), problems


def test_interrupted_writes_are_leftovers_and_prune_collects_them(
        store: ContainerdStore) -> None:
    image = _image()
    store.add(image, tag="t")
    # what a kill -9 in the middle of an import can leave: its lease, a blob, an
    # active extract- snapshot with files, and a directory nobody recorded
    orphan = Layer.from_dict({"/half": "half"})
    meta = store._meta()
    meta.leases["layerlab-import-0123456789ab"] = {"content": [], "snapshots": {}}
    meta.save()
    store._put_blob(store._meta(), None, orphan.digest, orphan.compressed_size, {}, orphan)
    number = store._prepare("extract-0123456789ab-1", image.chain_ids[-1])
    store._fill(number, orphan)
    os.makedirs(pathlib.Path(store.root, SNAPS, "snapshots", "99", "fs"))
    report = store.verify()
    assert report.ok, report
    assert "lease layerlab-import-0123456789ab" in report.leftovers
    after = store.prune()
    assert after.leftovers_removed
    report = store.verify()
    assert report.ok and report.leftovers == [], report
    assert not store.content.has(orphan.digest)
    assert sorted(os.listdir(pathlib.Path(store.root, SNAPS, "snapshots"))) == ["1", "2"]
    assert store.get("t").id == image.id


def test_tree_says_which_files_are_readable_stand_ins(store: ContainerdStore) -> None:
    store.add(_image(), tag="t")
    text = store.tree(max_depth=3)
    assert "meta.db  (readable stand-in for a bolt database)" in text
    assert "metadata.db  (readable stand-in for a bolt database)" in text
    assert "blobs/" in text  # the content store is the point of this layout
    assert "stand-in" in repr(store) and "faithful" in repr(store)


def test_driver_is_fixed_per_root_and_hostile_metadata_is_refused(
        store: ContainerdStore) -> None:
    with pytest.raises(StoreError, match="uses driver"):
        Store(store.root, driver="overlay2")
    store.add(_image(), tag="t")
    path = pathlib.Path(store.root, SNAPS, "metadata.db")
    doc = json.loads(path.read_text())
    for record in doc["v1"]["snapshots"].values():
        record["id"] = "../../../../etc"
    path.write_text(json.dumps(doc))
    with pytest.raises(LayerlabError):
        store.layer_dir("t", 0)
    assert not store.verify().ok
    pathlib.Path(store.root, "io.containerd.metadata.v1.bolt", "meta.db").write_text("[1]")
    report = store.verify()
    assert not report.ok and "no v1 bucket" in str(report), report
    with pytest.raises(LayerlabError):
        store.layout.container_diff("../" * 3)  # type: ignore[attr-defined]


def test_metadata_of_the_wrong_shape_is_reported_not_crashed_on(store: ContainerdStore) -> None:
    store.add(_image(), tag="t")
    path = pathlib.Path(store.root, "io.containerd.metadata.v1.bolt", "meta.db")
    doc = json.loads(path.read_text())
    doc["v1"]["moby"]["image"]["docker.io/library/x:latest"] = 5
    doc["v1"]["moby"]["snapshots"]["overlayfs"]["k"] = ["not", "a", "record"]
    path.write_text(json.dumps(doc))
    report = store.verify()
    assert not report.ok and any("wrong shape" in p for p in report.problems), report
    with pytest.raises(LayerlabError, match="wrong shape"):
        store.prune()


def test_an_interrupted_layer_write_is_an_ingest_the_next_import_resumes(
        store: ContainerdStore) -> None:
    image = _image()
    layer = image.layers[0]
    blob = layer.blob()
    assert blob is not None
    ref = f"moby/import/{layer.digest}"
    with pytest.raises(RuntimeError), store.content.ingest(
            ref, expected_digest=layer.digest, expected_size=len(blob)) as ing:
        ing.write(blob[: len(blob) // 2])
        raise RuntimeError("killed")  # what a kill -9 leaves: half the bytes in ingest/
    ingest = pathlib.Path(store.root, CONTENT, "ingest")
    assert len(os.listdir(ingest)) == 1
    report = store.verify()
    assert report.ok and report.leftovers, report  # a download in progress, not corruption
    store.add(image, tag="t")
    assert pathlib.Path(store.layout.blob(layer.digest)).read_bytes() == blob
    assert os.listdir(ingest) == []
    report = store.verify()
    assert report.ok and report.leftovers == [], report


@pytest.mark.parametrize("cut", ["after-init", "after-active-record"])
def test_a_container_cut_during_creation_is_a_leftover(store: ContainerdStore, cut: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from layerlab import Container

    image = _image()
    store.add(image, tag="t")
    c = Container(image, name="c")
    store._prepare_container(c)  # lease, -init snapshot, active snapshot: no record yet
    if cut == "after-active-record":  # the kill landed before the upper directory existed
        shutil.rmtree(os.path.dirname(store.layout.container_diff(c.id)))  # type: ignore[attr-defined]
    report = store.verify()
    assert report.ok and f"lease {c.id}" in report.leftovers, report
    again = store.create_container("t", name="c")  # the same name makes the same id
    assert again.id == c.id
    again.write("/happy.txt", "x")
    store.prune()
    report = store.verify()
    assert report.ok and report.leftovers == [], report
    assert Store(store.root, driver="containerd").container("c").read("/happy.txt") == b"x"
