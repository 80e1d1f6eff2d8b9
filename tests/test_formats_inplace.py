"""docker-archive layers read in place: no copy of a plain layer, one hash pass, and a
layer that refuses to read an archive rewritten after it was loaded."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest
from _tars import plain_tar as layer_tar
from _tars import sha
from test_formats_dockerarchive import archive

from layerlab import DigestMismatchError, Image, InvalidImageError, Layer
from layerlab.formats import load, save
from layerlab.formats.sources import open_source
from layerlab.tarstream import ArchiveRange


def _image() -> Image:
    return Image.from_layers([
        Layer.from_dict({"etc/os-release": "ID=demo\n", "bin/sh": b"\x7fELF" * 300}),
        Layer.from_dict({"app/big": os.urandom(300_000), "app/small": "x"}),
    ])


def _saved(tmp_path: Path) -> tuple[Image, Path]:
    image = _image()
    path = tmp_path / "img.tar"
    save(image, path, format="docker-archive")
    return image, path


def test_plain_layers_are_read_where_they_lie(tmp_path: Path) -> None:
    image, path = _saved(tmp_path)
    loaded = load(path)
    archive_ino = os.stat(path).st_ino
    with tarfile.open(path) as tf:
        offsets = {m.name: m.offset_data for m in tf.getmembers()}
    for want, got in zip(image.layers, loaded.layers, strict=True):
        stream = got._tar
        assert stream is not None
        # the layer's stream is the archive itself, at the member's offset: nothing copied
        assert os.fstat(stream.file.fileno()).st_ino == archive_ino
        assert stream.offset == offsets[f"blobs/sha256/{want.diff_id[7:]}"] > 0
        assert got.diff_id == want.diff_id and got.digest == want.diff_id
        assert got.to_tar() == want.to_tar()
        assert hashlib.sha256(got.blob()).hexdigest() == want.diff_id[7:]
        for entry in want.content_entries:
            if entry.digest is not None:
                assert got.read_content(entry) == want.read_content(entry)
    # a compressed copy made from the in-place layer has the digests it would have had
    gz = loaded.layers[1].with_compression("gzip")
    assert gz.digest == image.layers[1].with_compression("gzip").digest


def test_a_layer_outlives_its_source(tmp_path: Path) -> None:
    _, path = _saved(tmp_path)
    layer_names = [f"blobs/sha256/{d[7:]}" for d in load(path).diff_ids]
    with open_source(path) as source:
        stream, size = source.open_layer(layer_names[0])
    assert isinstance(stream, ArchiveRange) and stream.size == size
    layer = Layer.from_tar(stream)  # the source is closed: the range has its own descriptor
    assert layer.diff_id == f"sha256:{Path(layer_names[0]).name}"


def test_a_rewritten_archive_is_refused_not_misread(tmp_path: Path) -> None:
    image, path = _saved(tmp_path)
    loaded = load(path)
    big = next(e for e in image.layers[1].content_entries if e.path == "/app/big")
    with open(path, "r+b") as f:  # rewrite in place: same inode, new bytes and mtime
        data = bytearray(f.read())
        data[2048:2052] = b"XXXX"
        f.seek(0)
        f.write(bytes(data) + b"\0" * 1024)
    with pytest.raises(InvalidImageError, match="changed on disk after it was loaded"):
        loaded.layers[1].read_content(big)
    with pytest.raises(InvalidImageError, match=r"img\.tar.*changed on disk"):
        loaded.layers[0].to_tar()


def test_an_archive_replaced_by_rename_keeps_the_loaded_bytes(tmp_path: Path) -> None:
    image, path = _saved(tmp_path)
    loaded = load(path)
    other = tmp_path / "other.tar"
    save(Image.from_layers([Layer.from_dict({"z": "z"})]), other, format="docker-archive")
    os.replace(other, path)  # the loaded layers hold the old inode: still the same bytes
    assert [layer.to_tar() for layer in loaded.layers] == [
        layer.to_tar() for layer in image.layers]


def test_a_compressed_archive_is_a_private_copy(tmp_path: Path) -> None:
    image, path = _saved(tmp_path)
    gz = tmp_path / "img.tar.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    loaded = load(gz)
    stream = loaded.layers[0]._tar
    assert stream is not None and stream.stamp is None
    gz.write_bytes(b"overwritten")  # nothing refers to the compressed file any more
    assert loaded.layers[0].to_tar() == image.layers[0].to_tar()


def test_a_directory_layout_is_read_in_place(tmp_path: Path) -> None:
    image, path = _saved(tmp_path)
    tree = tmp_path / "tree"
    with tarfile.open(path) as tf:
        tf.extractall(tree, filter="tar")
    loaded = load(tree)
    assert loaded.diff_ids == image.diff_ids
    blob = tree / "blobs" / "sha256" / image.layers[0].diff_id[7:]
    stream = loaded.layers[0]._tar
    assert stream is not None
    assert os.fstat(stream.file.fileno()).st_ino == os.stat(blob).st_ino
    shutil.rmtree(tree)  # unlinked, not rewritten: the open descriptor still reads it
    assert loaded.layers[0].to_tar() == image.layers[0].to_tar()


def test_a_tampered_plain_layer_is_a_digest_mismatch(tmp_path: Path) -> None:
    """Whatever the tampering breaks first (here the tar header), the error is the digest."""
    raw = layer_tar({"a": b"1" * 5000})
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [sha(raw)]},
                         "architecture": "amd64", "os": "linux"}).encode()
    name = f"blobs/sha256/{sha(raw)[7:]}"
    for bad in (b"x" + raw[1:], raw[:4096] + b"y" + raw[4097:]):
        manifest = [{"Config": f"blobs/sha256/{sha(config)[7:]}", "Layers": [name]}]
        members = [(name, bad), (f"blobs/sha256/{sha(config)[7:]}", config),
                   ("manifest.json", json.dumps(manifest).encode())]
        with pytest.raises(DigestMismatchError, match=f"expected {sha(raw)}"):
            load(archive(tmp_path / "bad.tar", members))
