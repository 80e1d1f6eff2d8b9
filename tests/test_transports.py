"""skopeo's transports in every command, docker-archive RepoTags normalized, and configs
whose file name is not their digest."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from layerlab import Image, Layer
from layerlab.cli import main
from layerlab.errors import DigestMismatchError, InvalidImageError
from layerlab.formats import load, read, save, split_transport


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image(name: str) -> Image:
    return Image.from_layers([Layer.from_dict({f"/{name}": name})])


def layer_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("hello")
        info.size = 2
        info.mtime = 0
        tf.addfile(info, io.BytesIO(b"hi"))
    return buf.getvalue()


def archive(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def ggcr_style(path: Path, config_name: str, config: bytes, tags: list[str],
               extra: list[tuple[str, bytes]] = ()) -> Path:  # type: ignore[assignment]
    raw = layer_tar()
    manifest = [{"Config": config_name, "RepoTags": tags, "Layers": ["layer.tar"]}]
    return archive(path, [(config_name, config), ("layer.tar", raw), *extra,
                          ("manifest.json", json.dumps(manifest).encode())])


def config_bytes(arch: str = "amd64") -> bytes:
    return json.dumps({"architecture": arch, "os": "linux",
                       "rootfs": {"type": "layers", "diff_ids": [sha(layer_tar())]}}).encode()


@pytest.mark.parametrize(("text", "parts"), [
    ("oci:/tmp/lay:v1", ("oci", "/tmp/lay", "v1")),
    ("oci:/tmp/lay", ("oci", "/tmp/lay", None)),
    ("oci-archive:x.tar:latest", ("oci-archive", "x.tar", "latest")),
    ("docker-archive:x.tar:busybox:1", ("docker-archive", "x.tar", "busybox:1")),
    ("docker-archive:x.tar:@1", ("docker-archive", "x.tar", "@1")),
    ("docker://localhost:5000/a:1", ("docker", "localhost:5000/a:1", None)),
    ("plain.tar", ("", "plain.tar", None)),
])
def test_split_transport(text: str, parts: tuple[str, str, str | None]) -> None:
    assert split_transport(text) == parts


def test_oci_ref_picks_the_image(tmp_path: Path) -> None:
    save(image("one"), tmp_path / "lay", format="oci", tag="one")
    assert load(f"oci:{tmp_path / 'lay'}:one").id == image("one").id
    with pytest.raises(InvalidImageError, match="no image tagged 'two'"):
        load(f"oci:{tmp_path / 'lay'}:two")
    save(image("arc"), tmp_path / "a.tar", format="oci-archive", tag="v1")
    assert load(f"oci-archive:{tmp_path / 'a.tar'}:v1").id == image("arc").id


def test_docker_archive_repotags_are_normalized(tmp_path: Path) -> None:
    path = ggcr_style(tmp_path / "t.tar", sha(config_bytes())[7:] + ".json", config_bytes(),
                      ["index.docker.io/library/test_image_1:latest"])
    for asked in ("test_image_1:latest", "test_image_1", "docker.io/library/test_image_1",
                  "library/test_image_1:latest"):
        loaded = read(path, tag=asked)
        assert loaded.repo_tags == ("index.docker.io/library/test_image_1:latest",), asked
        assert load(f"docker-archive:{path}:{asked}").id == loaded.image.id
    with pytest.raises(InvalidImageError, match="no image tagged 'test_image_2'"):
        read(path, tag="test_image_2")
    assert load(f"docker-archive:{path}:@0").id == loaded.image.id
    with pytest.raises(InvalidImageError, match="no image @1"):
        load(f"docker-archive:{path}:@1")


@pytest.mark.parametrize("name", ["config.json", "sha256:" + "0" * 64, "img/config"])
def test_config_whose_name_is_not_a_digest_loads(tmp_path: Path, name: str) -> None:
    cfg = config_bytes()
    img = load(ggcr_style(tmp_path / "c.tar", name, cfg, ["c:1"]))
    assert img.id == sha(cfg)  # the id is the sha256 of the bytes, whatever the name


def test_digest_named_config_needs_its_digest_or_a_descriptor(tmp_path: Path) -> None:
    cfg = config_bytes("arm64")
    wrong_name = sha(config_bytes("amd64"))[7:] + ".json"
    with pytest.raises(DigestMismatchError, match=r"config .*sha256 is"):
        load(ggcr_style(tmp_path / "t.tar", wrong_name, cfg, ["t:1"]))
    # an OCI index in the archive whose manifest's config descriptor is these bytes vouches
    manifest = json.dumps({"schemaVersion": 2, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(cfg),
        "size": len(cfg)}, "layers": []}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
        "size": len(manifest)}]}).encode()
    path = ggcr_style(tmp_path / "v.tar", wrong_name, cfg, ["t:1"], extra=[
        ("index.json", index), (f"blobs/sha256/{sha(manifest)[7:]}", manifest)])
    img = load(f"docker-archive:{path}")
    assert img.id == sha(cfg) and img.architecture == "arm64"


def test_cli_takes_transports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(image("cli"), tmp_path / "lay", format="oci", tag="v2")
    assert main(["inspect", f"oci:{tmp_path / 'lay'}:v2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == image("cli").id
    assert main(["inspect", f"oci:{tmp_path / 'lay'}:nope"]) == 1
    assert "no image tagged 'nope'" in capsys.readouterr().err
