"""Streaming file contents: Layer.open_content, View.open, and flatten without whole-file reads."""

from __future__ import annotations

import gc
import hashlib
import io
import os
import tarfile
import tracemalloc
from pathlib import Path
from typing import IO

import pytest

from layerlab import (
    Dir,
    Image,
    InvalidLayerError,
    Layer,
    PathLookupError,
    Symlink,
    Whiteout,
)
from layerlab.formats import flatten
from layerlab.tarstream import RangeFile

BIG = 8 << 20  # bytes of the big file: much more than any chunk a reader should hold


def _big_tar(path: Path, size: int = BIG) -> str:
    """A plain layer tar with one big file and a small one; returns the big file's sha256."""
    block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB, not all zeros
    h = hashlib.sha256()

    class Source:
        left = size

        def read(self, n: int = -1) -> bytes:
            n = min(self.left, len(block) if n < 0 else min(n, len(block)))
            self.left -= n
            h.update(block[:n])
            return block[:n]

    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("data/big.bin")
        info.size = size
        tf.addfile(info, Source())
        small = tarfile.TarInfo("data/small.txt")
        small.size = 5
        tf.addfile(small, io.BytesIO(b"hello"))
    return "sha256:" + h.hexdigest()


@pytest.fixture
def big_layer(tmp_path: Path) -> tuple[Layer, str]:
    digest = _big_tar(tmp_path / "big.tar")
    return Layer.from_tar(tmp_path / "big.tar"), digest


def test_open_content_is_a_bounded_stream(big_layer: tuple[Layer, str]) -> None:
    layer, digest = big_layer
    entry = layer.get("/data/big.bin")
    assert entry is not None and entry.digest == digest
    with layer.open_content(entry) as f:
        assert isinstance(f, RangeFile) and f.readable() and not f.writable()
        assert f.read(3) == hashlib.sha256(b"seed").digest()[:3]
        assert f.tell() == 3
        h = hashlib.sha256(hashlib.sha256(b"seed").digest()[:3])
        while chunk := f.read(1 << 16):
            assert len(chunk) <= 1 << 16
            h.update(chunk)
        assert "sha256:" + h.hexdigest() == digest
        assert f.read() == b""  # bounded: never runs into the next member
        f.seek(-2, os.SEEK_END)
        assert len(f.read()) == 2
        f.seek(0)
        buf = bytearray(10)
        assert f.readinto(buf) == 10
    small = layer.get("/data/small.txt")
    assert small is not None
    with layer.open_content(small) as f:
        assert f.read() == b"hello" and f.read() == b""


def test_open_content_reads_without_holding_the_file(big_layer: tuple[Layer, str]) -> None:
    layer, _ = big_layer
    entry = layer.get("/data/big.bin")
    assert entry is not None
    tracemalloc.start()
    try:
        with layer.open_content(entry) as f:
            while f.read(1 << 16):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < BIG // 8, peak


def test_open_content_keeps_the_spool_open_after_the_layer_is_gone(tmp_path: Path) -> None:
    data = Layer.from_dict({"/a": "abc" * 1000}).to_tar()
    layer = Layer.from_tar(io.BytesIO(data))  # spooled to a temporary file
    entry = layer.get("/a")
    assert entry is not None
    f = layer.open_content(entry)
    del layer
    gc.collect()
    with f:
        assert f.read() == b"abc" * 1000


def test_open_content_for_made_layers_and_errors() -> None:
    layer = Layer.from_dict({"/f": "content", "/d": Dir(), "/gone": Whiteout()})
    f_entry, d_entry = layer.get("/f"), layer.get("/d")
    assert f_entry is not None and d_entry is not None
    with layer.open_content(f_entry) as f:
        assert f.read() == b"content"
    with pytest.raises(InvalidLayerError, match="has no content"):
        layer.open_content(d_entry)
    # a layer made from entries and a function of the entry streams through it when written
    twin = Layer.from_entries(layer.entries, layer.read_content)
    assert twin.diff_id == layer.diff_id


def test_to_tar_of_a_layer_made_from_spooled_entries(big_layer: tuple[Layer, str]) -> None:
    layer, _ = big_layer
    content = {e.digest: layer.read_content(e) for e in layer.content_entries if e.digest}
    remade = Layer.from_entries(layer.entries, content, compression="none")
    assert remade.diff_id == Layer.from_tar(io.BytesIO(remade.to_tar())).diff_id


def test_view_open_follows_symlinks_and_refuses_non_files(big_layer: tuple[Layer, str]) -> None:
    layer, digest = big_layer
    img = Image.from_layers([layer, Layer.from_dict({"/link": Symlink("data/big.bin")})])
    view = img.view()
    with view.open("/link") as f:
        assert "sha256:" + hashlib.sha256(f.read()).hexdigest() == digest
    with pytest.raises(PathLookupError):
        view.open("/data")
    with pytest.raises(PathLookupError):
        view.open("/nothing")


@pytest.mark.parametrize("dest", ["rootfs", "rootfs.tar"])
def test_flatten_streams_big_files(big_layer: tuple[Layer, str], tmp_path: Path,
                                   dest: str) -> None:
    layer, digest = big_layer
    img = Image.from_layers([layer])
    tracemalloc.start()
    try:
        flatten(img, tmp_path / dest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < BIG // 4, peak
    if dest.endswith(".tar"):
        with tarfile.open(tmp_path / dest) as tf:
            member = tf.extractfile("data/big.bin")
            assert member is not None
            got = _sha256(member)
    else:
        with open(tmp_path / dest / "data/big.bin", "rb") as f:
            got = _sha256(f)
    assert got == digest


def _sha256(f: IO[bytes]) -> str:
    h = hashlib.sha256()
    while chunk := f.read(1 << 16):
        h.update(chunk)
    return "sha256:" + h.hexdigest()
