"""The verified-layer index cached beside a pulled blob (layerlab/store/layerindex.py):
a second pull re-reads nothing; a missing, corrupt or mismatched index is rebuilt."""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

import httpx
import pytest
from test_registry_client import FakeRegistry

from layerlab import Image, Layer, LimitExceededError
from layerlab.entry import Entry, EntryKind
from layerlab.formats.oci import manifest_bytes
from layerlab.limits import Limits
from layerlab.registry import pull_image
from layerlab.store.content import ContentStore
from layerlab.store.layerindex import index_path, load_layer_index, save_layer_index

REF = "reg.test/team/app:1"
pull_mod = importlib.import_module("layerlab.registry.pull")  # the package's pull is a function


def _rich_layer(compression: str) -> Layer:
    entries = [
        Entry("/etc", EntryKind.DIR, mode=0o755),
        Entry("/etc/motd", EntryKind.FILE, mode=0o644, size=3,
              digest="sha256:" + hashlib.sha256(b"hi\n").hexdigest(),
              xattrs=(("user.note", b"\x00\xff"),)),
        Entry("/etc/link", EntryKind.SYMLINK, linkname="motd"),
        Entry("/etc/hard", EntryKind.HARDLINK, linkname="/etc/motd"),
        Entry("/bin/big", EntryKind.FILE, mode=0o755, size=200_000,
              digest="sha256:" + hashlib.sha256(b"b" * 200_000).hexdigest()),
        Entry("/gone", EntryKind.WHITEOUT),
        Entry("/etc/opaque", EntryKind.OPAQUE),
    ]
    blobs = {e.digest: (b"hi\n" if e.path == "/etc/motd" else b"b" * 200_000)
             for e in entries if e.digest}
    return Layer.from_entries(entries, blobs, compression=compression)  # type: ignore[arg-type]


class _Registry(FakeRegistry):
    def __init__(self, compression: str) -> None:
        super().__init__()
        self.image = Image.from_layers([_rich_layer(compression),
                                        Layer.from_dict({"/app": "x"})])
        self.manifest = manifest_bytes(self.image)
        self.digest = "sha256:" + hashlib.sha256(self.manifest).hexdigest()
        self.blobs = {layer.digest: layer.blob() for layer in self.image.layers}
        self.blobs[self.image.id] = self.image.config_bytes()


def _pull(reg: FakeRegistry, cache: Path, **kw: object) -> object:
    return pull_image(REF, cache=cache, insecure=True, progress=False,
                      transport=httpx.MockTransport(reg), **kw)  # type: ignore[arg-type]


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = pull_mod.load_layer

    def counting(*args: object, **kw: object) -> Layer:
        reads.append(str(kw["digest"]))
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pull_mod, "load_layer", counting)
    return reads


def _same(a: Layer, b: Layer) -> None:
    assert a.diff_id == b.diff_id and a.digest == b.digest and a.compression == b.compression
    assert a.entries == b.entries
    assert [a.stream_position(e) for e in a.content_entries] == [
        b.stream_position(e) for e in b.content_entries]
    assert a.to_tar() == b.to_tar() and a.blob() == b.blob()
    for e in a.content_entries:
        if e.digest is not None:
            assert a.read_content(e) == b.read_content(e)


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_second_pull_reads_no_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    compression: str) -> None:
    reads = _count_reads(monkeypatch)
    reg = _Registry(compression)
    first = _pull(reg, tmp_path / "cache").image  # type: ignore[attr-defined]
    assert len(reads) == 2
    cs = ContentStore(tmp_path / "cache")
    for layer in reg.image.layers:
        assert Path(index_path(cs, layer.digest)).is_file()
        # a compressed blob's tar is kept as the blob named by its diff_id; a plain one is it
        assert cs.has(layer.diff_id)
    again = _pull(reg, tmp_path / "cache").image  # type: ignore[attr-defined]
    assert len(reads) == 2  # nothing read the second time
    assert again.id == first.id == reg.image.id
    for want, read, got in zip(reg.image.layers, first.layers, again.layers, strict=True):
        _same(read, got)  # the layer from the index is the layer that was read
        assert got.to_tar() == want.to_tar()


def _corrupt_body(path: Path, edit: object) -> None:
    """Rewrite the index body with ``edit`` applied and a *matching* checksum line."""
    text = path.read_bytes().partition(b"\n")[2]
    doc = json.loads(text)
    edit(doc)  # type: ignore[operator]
    body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(b"sha256:" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)


def _bad_diff_id(doc: dict) -> None:
    doc["diff_id"] = "sha256:" + "0" * 64


def _escape(doc: dict) -> None:
    doc["entries"][0][0] = "/../../etc/passwd"


def _tar_size(doc: dict) -> None:
    doc["tar_size"] += 1


def _range_out(doc: dict) -> None:
    key = next(iter(doc["ranges"]))
    doc["ranges"][key] = [doc["tar_size"], 10]


def _version(doc: dict) -> None:
    doc["version"] = 99


def _bad_type(doc: dict) -> None:
    doc["entries"][1][2] = "0755"  # a mode that is not a number


@pytest.mark.parametrize("damage", [
    "missing", "flipped byte", "truncated", "not json", "tar deleted",
    _bad_diff_id, _escape, _tar_size, _range_out, _version, _bad_type,
])
def test_a_missing_or_corrupt_index_is_rebuilt_not_trusted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: object) -> None:
    reads = _count_reads(monkeypatch)
    reg = _Registry("gzip")
    first = _pull(reg, tmp_path / "cache").image  # type: ignore[attr-defined]
    cs = ContentStore(tmp_path / "cache")
    target = reg.image.layers[0]
    path = Path(index_path(cs, target.digest))
    good = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "flipped byte":
        data = bytearray(good)
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "not json":
        path.write_bytes(b"sha256:" + hashlib.sha256(b"{").hexdigest().encode() + b"\n{")
    elif damage == "tar deleted":
        cs.delete(target.diff_id)
    else:
        _corrupt_body(path, damage)
    assert load_layer_index(cs, target.digest, target.compressed_size, target.diff_id) is None
    before = len(reads)
    again = _pull(reg, tmp_path / "cache").image  # type: ignore[attr-defined]
    assert reads[before:] == [target.digest]  # only the damaged layer is read again
    _same(first.layers[0], again.layers[0])
    assert path.read_bytes() == good  # and its index written again, as it was
    assert load_layer_index(cs, target.digest, target.compressed_size,
                            target.diff_id) is not None


def test_the_index_is_checked_against_the_blob_and_the_limits(tmp_path: Path) -> None:
    reg = _Registry("gzip")
    _pull(reg, tmp_path / "cache")
    cs = ContentStore(tmp_path / "cache")
    layer = reg.image.layers[0]
    size = layer.compressed_size
    assert load_layer_index(cs, layer.digest, size, layer.diff_id) is not None
    assert load_layer_index(cs, layer.digest, size + 1, layer.diff_id) is None  # other size
    assert load_layer_index(cs, layer.digest, size, None) is None  # no diff_id to check
    assert load_layer_index(cs, layer.digest, size, "sha256:" + "1" * 64) is None
    tight = Limits(max_entries=3)
    assert load_layer_index(cs, layer.digest, size, layer.diff_id, limits=tight) is None
    for strict in (Limits(max_xattr_bytes=4), Limits(max_layer_bytes=1000)):
        assert load_layer_index(cs, layer.digest, size, layer.diff_id, limits=strict) is None
    # so the stricter limits give the error a pull without a cache gives
    with pytest.raises(LimitExceededError, match="max_entries"):
        _pull(reg, tmp_path / "cache", limits=tight)


def test_a_layer_not_read_from_a_tar_is_not_indexed(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path / "cs")
    layer = Layer.from_dict({"a": "1"})
    blob = cs.write(layer.blob())
    assert save_layer_index(cs, blob, layer) is False  # made in memory: no tar offsets
    with cs.open(blob) as f:
        read_back = Layer.from_tar(f)
    assert save_layer_index(cs, "sha256:" + "2" * 64, read_back) is False  # not its blob
    assert save_layer_index(cs, blob, read_back) is True


def test_indexing_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERLAB_LAYER_INDEX", "0")
    reads = _count_reads(monkeypatch)
    reg = _Registry("gzip")
    for _ in range(2):
        _pull(reg, tmp_path / "cache")
    cs = ContentStore(tmp_path / "cache")
    assert len(reads) == 4  # every layer read both times
    assert not any(cs.has(layer.diff_id) for layer in reg.image.layers)  # no tar copies
    assert not Path(index_path(cs, reg.image.layers[0].digest)).exists()


def test_a_plain_pulled_layer_is_read_in_place_from_the_cache(tmp_path: Path) -> None:
    import os

    from layerlab import DigestMismatchError

    reg = _Registry("none")
    image = _pull(reg, tmp_path / "cache").image  # type: ignore[attr-defined]
    cs = ContentStore(tmp_path / "cache")
    layer = image.layers[0]
    assert layer._tar is not None
    assert os.fstat(layer._tar.file.fileno()).st_ino == cs.path(layer.digest).stat().st_ino
    # a cached blob whose bytes rotted, with no index to vouch for it: read and refused
    Path(index_path(cs, layer.digest)).unlink()
    blob = cs.path(layer.digest)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1  # in the end-of-archive padding: the tar still parses
    blob.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError, match=f"expected {layer.digest}"):
        _pull(reg, tmp_path / "cache")


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_pulled_compressed_layer_tar_is_linked_into_the_cache_not_copied(
        tmp_path: Path, compression: str) -> None:
    import os

    reg = _Registry(compression)
    image = _pull(reg, tmp_path / "cache").image  # type: ignore[attr-defined]
    cs = ContentStore(tmp_path / "cache")
    layer = image.layers[0]
    assert layer._tar is not None and layer._tar.compression == compression
    spool = os.fstat(layer._tar.file.fileno())
    kept = cs.path(layer.diff_id).stat()
    assert (spool.st_ino, spool.st_dev) == (kept.st_ino, kept.st_dev)  # one inode, no copy
    assert hashlib.sha256(cs.path(layer.diff_id).read_bytes()).hexdigest() == \
        layer.diff_id.removeprefix("sha256:")
    assert not os.listdir(tmp_path / "cache" / "ingest")  # the spool had no name of its own


def test_where_the_spool_cannot_be_linked_it_is_copied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from layerlab.tarstream import SpooledStream

    monkeypatch.setattr(SpooledStream, "link_to", lambda self, path: False)
    reg = _Registry("gzip")
    image = _pull(reg, tmp_path / "cache").image  # type: ignore[attr-defined]
    cs = ContentStore(tmp_path / "cache")
    layer = image.layers[0]
    assert layer._tar is not None
    assert os.fstat(layer._tar.file.fileno()).st_ino != cs.path(layer.diff_id).stat().st_ino
    assert hashlib.sha256(cs.path(layer.diff_id).read_bytes()).hexdigest() == \
        layer.diff_id.removeprefix("sha256:")
