"""docker save archives: both layouts, legacy json and parents, symlinks inside the archive."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from _tars import plain_tar as layer_tar
from _tars import sha

from layerlab import (
    DigestMismatchError,
    Image,
    InvalidImageError,
    Layer,
    LayerlabError,
    LimitExceededError,
    Limits,
    UnsafePathError,
)
from layerlab.formats import load, read, save


def archive(path: Path, members: list[tuple[str, Any]]) -> Path:
    """A tar of ``(name, bytes | ("symlink", target) | ("hardlink", target))`` members."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for name, value in members:
            info = tarfile.TarInfo(name)
            if isinstance(value, tuple):
                info.type = tarfile.SYMTYPE if value[0] == "symlink" else tarfile.LNKTYPE
                info.linkname = value[1]
                tf.addfile(info)
            else:
                info.size = len(value)
                tf.addfile(info, io.BytesIO(value))
    return path


def legacy_members(layers: list[bytes], *, parents: dict[int, str | None] | None = None,
                   tags: list[str] | None = None) -> list[tuple[str, Any]]:
    """A hand-written legacy ``docker save`` tree; ``parents`` overrides parent pointers."""
    ids = [f"{i:064x}" for i in range(1, len(layers) + 1)]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in layers]},
                         "history": [{"created_by": f"RUN {i}"} for i in range(len(layers))],
                         "config": {"Cmd": ["sh"]}}).encode()
    members: list[tuple[str, Any]] = []
    for i, raw in enumerate(layers):
        parent = ids[i - 1] if i else None
        if parents and i in parents:
            parent = parents[i]
        doc = {"id": ids[i], **({"parent": parent} if parent else {})}
        members += [(f"{ids[i]}/VERSION", b"1.0"), (f"{ids[i]}/json", json.dumps(doc).encode()),
                    (f"{ids[i]}/layer.tar", raw)]
    members.append((sha(config)[7:] + ".json", config))
    manifest = [{"Config": sha(config)[7:] + ".json", "RepoTags": tags,
                 "Layers": [f"{i}/layer.tar" for i in ids]}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    return members


def sample_image() -> Image:
    return Image.from_layers([
        Layer.from_dict({"/etc/hostname": "box\n"}, created_by="ADD host /etc/"),
        Layer.from_dict({"/app/x": "x", "/etc/hostname": "app\n"}, created_by="COPY x /app/"),
    ])


def test_round_trip_with_legacy_layers(tmp_path: Path) -> None:
    img = sample_image()
    save(img, tmp_path / "d.tar", format="docker-archive", tag="demo:1")
    loaded = read(tmp_path / "d.tar")
    assert loaded.format == "docker-archive"
    assert loaded.repo_tags == ("demo:1",)
    assert loaded.image.diff_ids == img.diff_ids
    assert loaded.image.id == img.id
    assert [lg.id for lg in loaded.legacy_layers] == [lg.id for lg in img.legacy_layers]
    assert loaded.legacy_layers[1].parent == loaded.legacy_layers[0].id
    with tarfile.open(tmp_path / "d.tar") as tf:
        names = tf.getnames()
        manifest = json.loads(tf.extractfile("manifest.json").read())  # type: ignore[union-attr]
        repositories = json.loads(tf.extractfile("repositories").read())  # type: ignore[union-attr]
    assert manifest[0]["RepoTags"] == ["demo:1"]
    assert repositories == {"demo": {"1": img.legacy_layers[-1].id}}
    assert f"{img.legacy_layers[0].id}/VERSION" in names
    save(img, tmp_path / "again.tar", format="docker-archive", tag="demo:1")
    assert (tmp_path / "d.tar").read_bytes() == (tmp_path / "again.tar").read_bytes()


def test_hand_written_legacy_archive_with_symlinked_layer(tmp_path: Path) -> None:
    same = layer_tar({"a": b"1"})
    members = legacy_members([same, layer_tar({"b": b"2"}), same])
    # docker save stores a repeated layer once and links the others to it
    third = f"{3:064x}/layer.tar"
    members = [(n, ("symlink", f"../{1:064x}/layer.tar") if n == third else v)
               for n, v in members]
    loaded = read(archive(tmp_path / "l.tar", members))
    assert [h.created_by for h in loaded.image.history] == ["RUN 0", "RUN 1", "RUN 2"]
    assert loaded.image.view().listdir("/") == ["a", "b"]
    assert [lg.parent for lg in loaded.legacy_layers] == [None, f"{1:064x}", f"{2:064x}"]
    assert loaded.legacy_layers[2].json["id"] == f"{3:064x}"


def test_symlinks_inside_the_archive_cannot_reach_the_host(tmp_path: Path) -> None:
    (tmp_path / "host-secret").write_bytes(layer_tar({"stolen": b"!"}))
    members = legacy_members([layer_tar({"a": b"1"})])
    first = f"{1:064x}/layer.tar"
    members = [(n, ("symlink", "../../../../host-secret") if n == first else v)
               for n, v in members]
    with pytest.raises(InvalidImageError, match=r"layer.tar' is missing"):
        load(archive(tmp_path / "escape.tar", members))
    members = [(n, ("symlink", "/" + first) if n == first else v) for n, v in members]
    with pytest.raises(InvalidImageError, match=r"too many levels of symbolic links"):
        load(archive(tmp_path / "loop.tar", members))


def test_a_member_name_that_escapes_is_refused(tmp_path: Path) -> None:
    members = [*legacy_members([layer_tar({"a": b"1"})]), ("../evil", b"x")]
    with pytest.raises(UnsafePathError, match=r"'../evil': path escapes the root"):
        load(archive(tmp_path / "e.tar", members))


@pytest.mark.parametrize(
    ("parents", "message"),
    [
        ({1: f"{1:064x}", 0: f"{2:064x}"}, "cyclic"),
        ({0: "f" * 64}, "dangling"),
        ({1: None}, "does not match the layer order"),
    ],
)
def test_bad_legacy_parent_chains(tmp_path: Path, parents: dict[int, str | None],
                                  message: str) -> None:
    members = legacy_members([layer_tar({"a": b"1"}), layer_tar({"b": b"2"})], parents=parents)
    with pytest.raises(InvalidImageError, match=f"legacy parent chain .*{message}"):
        load(archive(tmp_path / "p.tar", members))


def test_diff_id_mismatch_and_tampered_config(tmp_path: Path) -> None:
    members = legacy_members([layer_tar({"a": b"1"})])
    members = [(n, layer_tar({"a": b"2"}) if n.endswith("layer.tar") else v)
               for n, v in members]
    with pytest.raises(DigestMismatchError, match=r"layer 0 .*rootfs.diff_ids says"):
        load(archive(tmp_path / "m.tar", members))
    members = legacy_members([layer_tar({"a": b"1"})])
    members = [(n, v + b" " if n.endswith(".json") and "/" not in n else v)
               for n, v in members]
    with pytest.raises(DigestMismatchError, match=r"config .*sha256 is"):
        load(archive(tmp_path / "c.tar", members))


def test_missing_layer_and_malformed_manifest(tmp_path: Path) -> None:
    members = [m for m in legacy_members([layer_tar({"a": b"1"})])
               if not m[0].endswith("layer.tar")]
    with pytest.raises(InvalidImageError, match=r"layer.tar' is missing"):
        load(archive(tmp_path / "m.tar", members))
    members = [("manifest.json", b'{"Config": 1}')]
    with pytest.raises(InvalidImageError, match=r"expected a JSON list"):
        load(archive(tmp_path / "j.tar", members))
    members = [("manifest.json", b"[{")]
    with pytest.raises(InvalidImageError, match=r"manifest.json: not valid JSON"):
        load(archive(tmp_path / "k.tar", members))


def test_huge_manifest_is_capped(tmp_path: Path) -> None:
    members = [("manifest.json", b"[" + b" " * 5000 + b"]")]
    with pytest.raises(LimitExceededError, match=r"manifest.json.*max_json_bytes=1000"):
        load(archive(tmp_path / "big.tar", members), limits=Limits(max_json_bytes=1000))


def test_several_images_need_a_tag(tmp_path: Path) -> None:
    members = legacy_members([layer_tar({"a": b"1"})], tags=["one:1"])
    manifest = json.loads(dict(members)["manifest.json"])
    manifest.append(dict(manifest[0], RepoTags=["two:2"]))
    members = [(n, json.dumps(manifest).encode() if n == "manifest.json" else v)
               for n, v in members]
    path = archive(tmp_path / "two.tar", members)
    with pytest.raises(InvalidImageError, match=r"holds 2 images \(one:1, two:2\)"):
        load(path)
    assert read(path, tag="two:2").repo_tags == ("two:2",)


def test_docker_25_layout_and_compressed_archive(tmp_path: Path) -> None:
    """Docker >= 25 points manifest.json into blobs/sha256 (and ships an OCI layout)."""
    raw = layer_tar({"a": b"1"})
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [sha(raw)]},
                         "architecture": "arm64", "os": "linux"}).encode()
    manifest = [{"Config": f"blobs/sha256/{sha(config)[7:]}", "RepoTags": ["new:1"],
                 "Layers": [f"blobs/sha256/{sha(raw)[7:]}"]}]
    members = [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
               (f"blobs/sha256/{sha(raw)[7:]}", raw), (f"blobs/sha256/{sha(config)[7:]}", config),
               ("manifest.json", json.dumps(manifest).encode())]
    path = archive(tmp_path / "new.tar", members)
    loaded = read(path)
    assert (loaded.platform, loaded.legacy_layers) == ("linux/arm64", ())
    with pytest.raises(InvalidImageError, match=r"is for linux/arm64, not linux/amd64"):
        load(path, platform="linux/amd64")
    (tmp_path / "new.tar.gz").write_bytes(gzip.compress(path.read_bytes()))
    assert load(tmp_path / "new.tar.gz").diff_ids == [sha(raw)]
    tampered = [(n, b"x" + v[1:] if n == f"blobs/sha256/{sha(raw)[7:]}" else v)
                for n, v in members]
    with pytest.raises(DigestMismatchError, match=f"expected {sha(raw)}"):
        load(archive(tmp_path / "bad.tar", tampered))


def test_truncated_archive_is_an_error(tmp_path: Path) -> None:
    save(sample_image(), tmp_path / "d.tar", format="docker-archive")
    data = (tmp_path / "d.tar").read_bytes()
    for cut in (700, len(data) // 2):
        (tmp_path / "cut.tar").write_bytes(data[:cut])
        with pytest.raises(LayerlabError):
            load(tmp_path / "cut.tar")


def test_an_unpacked_docker_save_directory_loads_too(tmp_path: Path) -> None:
    save(sample_image(), tmp_path / "d.tar", format="docker-archive")
    with tarfile.open(tmp_path / "d.tar") as tf:
        tf.extractall(tmp_path / "unpacked", filter="data")
    assert load(tmp_path / "unpacked").id == sample_image().id


def test_docker_archive_carries_an_oci_layout_too(tmp_path: Path) -> None:
    """Like ``docker save`` >= 25: index.json, oci-layout and blobs/ next to manifest.json,
    with the legacy ``<id>/json`` kept and ``<id>/layer.tar`` linked into blobs/."""
    base = Layer.from_dict({"/a": "1"}, created_by="ADD a /")
    img = Image.from_layers([base, Layer.from_dict({"/b": "2"}), base])  # a repeated layer
    save(img, tmp_path / "d.tar", format="docker-archive", tag="demo:1")
    with tarfile.open(tmp_path / "d.tar") as tf:
        members = {m.name: m for m in tf.getmembers()}
        index = json.loads(tf.extractfile("index.json").read())  # type: ignore[union-attr]
        manifest = json.loads(tf.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert members["oci-layout"].isfile() and members["blobs/sha256"].isdir()
    blobs = sorted(n for n in members if n.startswith("blobs/sha256/") and members[n].isfile())
    # config, two distinct layers (stored once each), the OCI manifest
    assert len(blobs) == 4
    for diff_id in img.diff_ids:
        assert members[f"blobs/sha256/{diff_id[7:]}"].size == next(
            layer.tar_size for layer in img.layers if layer.diff_id == diff_id)
    legacy = img.legacy_layers
    for v1, layer in zip(legacy, img.layers, strict=True):
        link = members[f"{v1.id}/layer.tar"]
        assert link.issym() and link.linkname == f"../blobs/sha256/{layer.diff_id[7:]}"
        assert f"{v1.id}/json" in members
    # Layers name the real files (skopeo sizes a layer by its member's header)
    assert manifest[0]["Layers"] == [f"blobs/sha256/{d[7:]}" for d in img.diff_ids]
    assert manifest[0]["Config"] == f"blobs/sha256/{img.id[7:]}"
    desc = index["manifests"][0]
    assert desc["annotations"] == {"io.containerd.image.name": "docker.io/library/demo:1",
                                   "org.opencontainers.image.ref.name": "1"}
    # the same file read both ways
    as_docker = read(tmp_path / "d.tar")
    as_oci = read(f"oci-archive:{tmp_path / 'd.tar'}")
    assert (as_docker.format, as_oci.format) == ("docker-archive", "oci-archive")
    assert as_docker.image.id == as_oci.image.id == img.id
    assert as_docker.image.diff_ids == as_oci.image.diff_ids == img.diff_ids
    assert [lg.parent for lg in as_docker.legacy_layers] == [None, legacy[0].id, legacy[1].id]
    assert as_oci.legacy_layers == () and as_oci.repo_tags == ("1",)
    assert read(f"oci-archive:{tmp_path / 'd.tar'}", tag="docker.io/library/demo:1").image.id \
        == img.id
    save(img, tmp_path / "again.tar", format="docker-archive", tag="demo:1")
    assert (tmp_path / "d.tar").read_bytes() == (tmp_path / "again.tar").read_bytes()


@pytest.mark.parametrize(("tag", "reference"), [
    ("app", "docker.io/library/app:latest"),
    ("me/app:2", "docker.io/me/app:2"),
    ("ghcr.io/me/app:3", "ghcr.io/me/app:3"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
])
def test_docker_reference(tag: str, reference: str) -> None:
    from layerlab.formats.dockerarchive import docker_reference

    assert docker_reference(tag) == reference


def test_legacy_dirs_linked_to_the_layers_manifest_names(tmp_path: Path) -> None:
    """skopeo's layout: Layers name ``<hex>.tar``; ``<id>/layer.tar`` link to them."""
    same, other = layer_tar({"a": b"1"}), layer_tar({"b": b"2"})
    members = legacy_members([same, other, same], tags=["x:1"])
    real = {raw: f"{sha(raw)[7:]}.tar" for raw in (same, other)}
    out: list[tuple[str, Any]] = [(name, raw) for raw, name in real.items()]
    layers = []
    for name, value in members:
        if name.endswith("/layer.tar"):
            out.append((name, ("symlink", f"../{real[value]}")))
            layers.append(real[value])
        elif name != "manifest.json":
            out.append((name, value))
    manifest = json.loads(dict(members)["manifest.json"])
    manifest[0]["Layers"] = layers
    out.append(("manifest.json", json.dumps(manifest).encode()))
    loaded = read(archive(tmp_path / "s.tar", out))
    assert [lg.id for lg in loaded.legacy_layers] == [f"{i:064x}" for i in (1, 2, 3)]
    assert [lg.parent for lg in loaded.legacy_layers] == [None, f"{1:064x}", f"{2:064x}"]
    # a legacy directory that does not fit the chain is ignored, not an error
    broken = [(n, json.dumps({"id": f"{3:064x}", "parent": f"{9:064x}"}).encode()
               if n == f"{3:064x}/json" else v) for n, v in out]
    assert read(archive(tmp_path / "b.tar", broken)).legacy_layers == ()
