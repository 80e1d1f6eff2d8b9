"""OCI layouts and oci-archives: round trips, platform choice, verification, hostile documents."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest
import zstandard
from _tars import plain_tar, sha

from layerlab import (
    DigestMismatchError,
    Image,
    ImageConfig,
    InvalidImageError,
    Layer,
    LayerlabError,
    LimitExceededError,
    Limits,
    Symlink,
    TruncatedError,
)
from layerlab.formats import descriptors as d
from layerlab.formats import load, read, save


class Layout:
    """Builds an OCI layout by hand, one blob at a time, so any part can be broken."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')

    def blob(self, data: bytes) -> str:
        digest = sha(data)
        (self.root / "blobs" / "sha256" / digest[7:]).write_bytes(data)
        return digest

    def json_blob(self, doc: Any, media_type: str, **extra: Any) -> dict[str, Any]:
        data = json.dumps(doc).encode()
        return {"mediaType": media_type, "digest": self.blob(data), "size": len(data), **extra}

    def image(self, layer_tars: list[bytes], *, arch: str = "amd64", compress: str = "gzip",
              diff_ids: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        layers = []
        for raw in layer_tars:
            blob = {"gzip": lambda b: gzip.compress(b, mtime=0),
                    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
                    "none": lambda b: b}[compress](raw)
            layers.append({"mediaType": d.OCI_LAYER_GZIP, "digest": self.blob(blob),
                           "size": len(blob)})
        config = {"architecture": arch, "os": "linux",
                  "rootfs": {"type": "layers",
                             "diff_ids": diff_ids or [sha(t) for t in layer_tars]},
                  "config": {"Env": ["A=1"], "Cmd": ["sh"]},
                  "history": [{"created_by": f"step {i}"} for i in range(len(layer_tars))]}
        manifest = {"schemaVersion": 2, "mediaType": d.OCI_MANIFEST,
                    "config": self.json_blob(config, d.OCI_CONFIG), "layers": layers}
        return self.json_blob(manifest, d.OCI_MANIFEST, **extra)

    def index(self, manifests: list[dict[str, Any]]) -> None:
        doc = {"schemaVersion": 2, "mediaType": d.OCI_INDEX, "manifests": manifests}
        (self.root / "index.json").write_text(json.dumps(doc))


def sample_image() -> Image:
    base = Layer.from_dict({"/etc/os-release": "ID=tiny\n", "/bin/sh": Symlink("busybox"),
                            "/bin/busybox": b"\x7fELF" * 100}, created_by="ADD rootfs /")
    top = Layer.from_dict({"/app/hello.txt": "hi\n"}, created_by="COPY hello.txt /app/",
                          compression="zstd")
    return Image.from_layers([base, top], config=ImageConfig(env=("PATH=/bin",), cmd=("sh",)))


def tree_bytes(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("fmt", ["oci", "oci-archive"])
def test_round_trip_keeps_layers_config_and_history(tmp_path: Path, fmt: str) -> None:
    img = sample_image()
    dest = tmp_path / ("out" if fmt == "oci" else "out.tar")
    save(img, dest, format=fmt, tag="v1")
    loaded = read(dest)
    assert loaded.format == fmt
    assert loaded.repo_tags == ("v1",)
    assert loaded.platform == "linux/amd64"
    assert loaded.image.diff_ids == img.diff_ids
    assert [lyr.digest for lyr in loaded.image.layers] == [lyr.digest for lyr in img.layers]
    assert loaded.image.config == img.config
    assert loaded.image.history == img.history
    assert loaded.image.id == img.id
    assert loaded.image.view().read("/app/hello.txt") == b"hi\n"
    assert load(f"{fmt}:{dest}").id == img.id  # skopeo-style prefix


def test_saving_twice_gives_identical_bytes(tmp_path: Path) -> None:
    img = sample_image()
    save(img, tmp_path / "a.tar", format="oci-archive")
    save(sample_image(), tmp_path / "b.tar", format="oci-archive")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    save(img, tmp_path / "a", format="oci")
    save(img, tmp_path / "b", format="oci")
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


def test_save_refuses_a_non_empty_directory_and_unknown_formats(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep")
    with pytest.raises(LayerlabError, match=r"not an empty directory"):
        save(sample_image(), tmp_path / "full", format="oci")
    assert (tmp_path / "full" / "x").read_text() == "keep"
    with pytest.raises(ValueError, match=r"unknown format 'zip'"):
        save(sample_image(), tmp_path / "z", format="zip")


@pytest.mark.parametrize("compress", ["gzip", "zstd", "none"])
def test_layers_plain_gzip_and_zstd(tmp_path: Path, compress: str) -> None:
    lay = Layout(tmp_path / "l")
    lay.index([lay.image([plain_tar({"a": b"1"}), plain_tar({"b": b"2"})], compress=compress)])
    img = load(tmp_path / "l")
    assert img.view().listdir("/") == ["a", "b"]
    assert [lyr.compression for lyr in img.layers] == [compress, compress]
    assert [h.created_by for h in img.history] == ["step 0", "step 1"]
    assert img.config.env == ("A=1",)


def multi_platform(tmp_path: Path) -> Layout:
    lay = Layout(tmp_path / "multi")
    inner = [
        lay.image([plain_tar({"arch": b"amd64"})], arch="amd64",
                  platform={"os": "linux", "architecture": "amd64"}),
        lay.image([plain_tar({"arch": b"arm64"})], arch="arm64",
                  platform={"os": "linux", "architecture": "arm64", "variant": "v8"}),
        lay.json_blob({"schemaVersion": 2, "layers": [], "config": {
            "mediaType": "application/vnd.in-toto+json", "digest": sha(b"x"), "size": 1}},
            d.OCI_MANIFEST, platform={"os": "unknown", "architecture": "unknown"}),
    ]
    nested = lay.json_blob({"schemaVersion": 2, "mediaType": d.OCI_INDEX, "manifests": inner},
                           d.OCI_INDEX, annotations={d.REF_NAME: "multi"})
    lay.index([nested])
    return lay


def test_multi_platform_index_chooses_by_platform(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    lay = multi_platform(tmp_path)
    assert load(lay.root, platform="linux/arm64").view().read("/arch") == b"arm64"
    assert read(lay.root, platform="linux/arm64/v8").platform == "linux/arm64"
    monkeypatch.setattr(d._platform, "machine", lambda: "x86_64")
    assert load(lay.root).view().read("/arch") == b"amd64"
    monkeypatch.setattr(d._platform, "machine", lambda: "aarch64")
    assert load(lay.root).view().read("/arch") == b"arm64"
    monkeypatch.setattr(d._platform, "machine", lambda: "s390x")
    with pytest.raises(InvalidImageError,
                       match=r"no image for platform linux/s390x; available: "
                             r"linux/amd64 \(multi\), linux/arm64/v8 \(multi\)"):
        load(lay.root)


def test_ambiguous_platforms_are_listed(tmp_path: Path) -> None:
    lay = Layout(tmp_path / "two")
    plat = {"os": "linux", "architecture": "amd64"}
    lay.index([lay.image([plain_tar({"a": b"1"})], platform=plat),
               lay.image([plain_tar({"b": b"2"})], platform=plat)])
    with pytest.raises(InvalidImageError, match=r"2 images match platform linux/amd64: "
                                                "linux/amd64, linux/amd64; choose"):
        load(lay.root, platform="linux/amd64")


def test_tag_chooses_among_images(tmp_path: Path) -> None:
    lay = Layout(tmp_path / "tags")
    lay.index([lay.image([plain_tar({"a": b"1"})], annotations={d.REF_NAME: "a"}),
               lay.image([plain_tar({"b": b"2"})], annotations={d.REF_NAME: "b"})])
    assert load(lay.root, tag="b").view().listdir("/") == ["b"]
    with pytest.raises(InvalidImageError, match=r"no image tagged 'c'"):
        load(lay.root, tag="c")


def test_unknown_media_types_do_not_fail_by_themselves(tmp_path: Path) -> None:
    lay = Layout(tmp_path / "unknown")
    artifact = lay.json_blob({"hello": "world"}, "application/vnd.example.sbom+json")
    missing = {"mediaType": "application/vnd.example.sig", "digest": sha(b"nope"), "size": 4}
    image = lay.image([plain_tar({"a": b"1"})])
    image["mediaType"] = "application/vnd.example.future-manifest+json"
    lay.index([artifact, missing, image])
    assert load(lay.root).view().listdir("/") == ["a"]


def test_a_manifest_that_is_also_an_index_is_refused(tmp_path: Path) -> None:
    lay = Layout(tmp_path / "amb")
    bad = lay.json_blob({"schemaVersion": 2, "manifests": [], "layers": [],
                         "config": {"digest": sha(b"x"), "size": 1}}, d.OCI_MANIFEST)
    lay.index([bad])
    with pytest.raises(InvalidImageError, match=r"ambiguous document"):
        load(lay.root)


def tamper(lay: Layout, digest: str, data: bytes) -> None:
    (lay.root / "blobs" / "sha256" / digest[7:]).write_bytes(data)


def manifest_of(lay: Layout, desc: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((lay.root / "blobs/sha256" / desc["digest"][7:]).read_bytes())
    return doc


def test_layer_digest_mismatch_names_blob_and_both_values(tmp_path: Path) -> None:
    lay = Layout(tmp_path / "t")
    desc = lay.image([plain_tar({"a": b"1"})], compress="none")
    lay.index([desc])
    layer_digest = manifest_of(lay, desc)["layers"][0]["digest"]
    forged = plain_tar({"a": b"2"})  # same size, other bytes
    tamper(lay, layer_digest, forged)
    with pytest.raises(DigestMismatchError) as err:
        load(lay.root)
    assert layer_digest in str(err.value) and sha(forged) in str(err.value)
    assert "layer 0" in str(err.value)


def test_layer_size_mismatch_is_reported_before_the_digest(tmp_path: Path) -> None:
    lay = Layout(tmp_path / "t")
    desc = lay.image([plain_tar({"a": b"1"})], compress="gzip")
    lay.index([desc])
    layer = manifest_of(lay, desc)["layers"][0]
    tamper(lay, layer["digest"], gzip.compress(plain_tar({"a": b"1" * 5000})))
    with pytest.raises(DigestMismatchError, match=f"size .*the descriptor says {layer['size']}"):
        load(lay.root)


def test_diff_id_mismatch_and_bytes_after_the_end_marker(tmp_path: Path) -> None:
    raw = plain_tar({"a": b"1"})
    lay = Layout(tmp_path / "t")
    lay.index([lay.image([raw + b"junk" * 128], diff_ids=[sha(raw)])])
    with pytest.raises(DigestMismatchError, match=f"rootfs.diff_ids says {sha(raw)}"):
        load(lay.root)


def test_missing_blob_and_malformed_config(tmp_path: Path) -> None:
    lay = Layout(tmp_path / "t")
    desc = lay.image([plain_tar({"a": b"1"})])
    lay.index([desc])
    layer_digest = manifest_of(lay, desc)["layers"][0]["digest"]
    (lay.root / "blobs/sha256" / layer_digest[7:]).unlink()
    with pytest.raises(InvalidImageError, match=f"layer 0 {layer_digest} is missing"):
        load(lay.root)

    lay2 = Layout(tmp_path / "t2")
    config = b"{not json"
    config_desc = {"mediaType": d.OCI_CONFIG, "digest": lay2.blob(config), "size": len(config)}
    manifest = {"schemaVersion": 2, "config": config_desc, "layers": []}
    lay2.index([lay2.json_blob(manifest, d.OCI_MANIFEST)])
    with pytest.raises(InvalidImageError, match=r"config sha256:.*not valid JSON"):
        load(lay2.root)


def test_truncated_layers_are_errors(tmp_path: Path) -> None:
    raw = plain_tar({"a": b"x" * 5000})
    lay = Layout(tmp_path / "t")
    lay.index([lay.image([raw[:2048]], compress="none", diff_ids=[sha(raw)])])
    with pytest.raises(TruncatedError, match=r"entry 'a'.* runs past the end of the stream"):
        load(lay.root)
    lay2 = Layout(tmp_path / "t2")
    blob = gzip.compress(raw)[:-20]
    layer = {"mediaType": d.OCI_LAYER_GZIP, "digest": lay2.blob(blob), "size": len(blob)}
    config = lay2.json_blob({"rootfs": {"diff_ids": [sha(raw)]}}, d.OCI_CONFIG)
    lay2.index([lay2.json_blob({"config": config, "layers": [layer]}, d.OCI_MANIFEST)])
    with pytest.raises(TruncatedError, match=r"gzip stream is truncated"):
        load(lay2.root)


def test_json_caps_apply_to_index_and_blobs(tmp_path: Path) -> None:
    lay = Layout(tmp_path / "t")
    lay.index([lay.image([plain_tar({"a": b"1"})])])
    size = (lay.root / "index.json").stat().st_size
    with pytest.raises(LimitExceededError, match=r"index.json.*max_json_bytes=100"):
        load(lay.root, limits=Limits(max_json_bytes=100))
    assert size > 100
    with pytest.raises(LimitExceededError, match=r"max_json_bytes=400"):
        load(lay.root, limits=Limits(max_json_bytes=400))  # the manifest is bigger


def test_oci_archive_truncated_and_not_an_image(tmp_path: Path) -> None:
    save(sample_image(), tmp_path / "a.tar", format="oci-archive")
    data = (tmp_path / "a.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: len(data) // 2])
    with pytest.raises(LayerlabError, match=r"truncated|unexpected end"):
        load(tmp_path / "cut.tar")
    (tmp_path / "other.tar").write_bytes(plain_tar({"README": b"hi"}))
    with pytest.raises(InvalidImageError, match=r"not an image"):
        load(tmp_path / "other.tar")


def test_layout_blob_that_is_a_symlink_out_of_the_layout_is_resolved_inside(
        tmp_path: Path) -> None:
    lay = Layout(tmp_path / "t")
    desc = lay.image([plain_tar({"a": b"1"})])
    lay.index([desc])
    layer_digest = manifest_of(lay, desc)["layers"][0]["digest"]
    outside = tmp_path / "outside"
    outside.mkdir()
    blob = lay.root / "blobs/sha256" / layer_digest[7:]
    os.rename(blob, outside / "blob")
    blob.symlink_to("../../../outside/blob")  # climbs out: clamped at the layout's top
    with pytest.raises(InvalidImageError, match=r"is missing"):
        load(lay.root)


def _nested_layout(root: Path) -> Path:
    from hostile.corpus import member, oci_layout, tar

    root = oci_layout(root, [tar(member("f", data=b"x"))])
    top = json.loads((root / "index.json").read_bytes())
    manifest = dict(top["manifests"][0])
    inner = {"schemaVersion": 2, "mediaType": d.OCI_INDEX, "manifests": [
        {**manifest, "annotations": {"org.opencontainers.image.ref.name": "inner"}}]}
    blob = json.dumps(inner).encode()
    (root / "blobs/sha256" / sha(blob)[7:]).write_bytes(blob)
    top["manifests"] = [
        {"mediaType": d.OCI_INDEX, "digest": sha(blob), "size": len(blob),
         "annotations": {"org.opencontainers.image.ref.name": "outer"}},
        manifest,  # the same manifest again, directly
    ]
    (root / "index.json").write_bytes(json.dumps(top).encode())
    return root


def test_top_level_ref_name_wins_and_one_manifest_is_one_image(tmp_path: Path) -> None:
    root = _nested_layout(tmp_path / "layout")
    loaded = read(root)  # one image, although reached twice
    assert loaded.repo_tags == ("outer",)
    assert read(root, tag="outer").image.id == loaded.image.id
    with pytest.raises(LayerlabError, match="no image tagged 'inner'"):
        read(root, tag="inner")
