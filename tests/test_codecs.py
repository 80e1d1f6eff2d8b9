"""Fast paths give the answers of the pure ones: every gzip inflater, threads or none.

layerlab inflates gzip with ISA-L (``isal``) or ``zlib-ng`` when installed and with the
standard ``zlib`` otherwise, and reads a stream in a second thread where threads work;
the bytes, the digests, the entries and the errors must not depend on either choice.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib
import io
import random
import tarfile
import threading
from collections.abc import Iterator

import pytest

from layerlab import Layer, fasttar, tarstream
from layerlab._codecs import GZIP_ENV, GzipMembers, gzip_backend, gzip_backends
from layerlab.errors import InvalidLayerError, LimitExceededError, TruncatedError
from layerlab.limits import DEFAULT_LIMITS

BACKENDS = sorted(gzip_backends())


def _layer_tar(files: int = 60, big: int = 3 << 20, seed: int = 5) -> bytes:
    """A tar bigger than one read chunk (so the reading thread starts), mixed content."""
    rng = random.Random(seed)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for i in range(files):
            data = bytes(rng.choice(b"abc def\n") for _ in range(rng.randint(0, 3000)))
            info = tarfile.TarInfo(f"usr/share/d{i % 7}/f{i}.txt")
            info.size = len(data)
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("opt/big.bin")
        payload = rng.randbytes(1 << 16) * (big >> 16)
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    return out.getvalue()


@pytest.fixture(scope="module")
def plain() -> bytes:
    return _layer_tar()


def _summary(layer: Layer) -> tuple[object, ...]:
    return (layer.diff_id, layer.digest, layer.compressed_size, layer.entries,
            layer.read_content(layer.get("/opt/big.bin")))  # type: ignore[arg-type]


def test_zlib_is_always_there_and_last() -> None:
    assert BACKENDS and list(gzip_backends())[-1] == "zlib"
    assert gzip_backend("zlib").name == "zlib"


def test_unknown_backend_is_refused_with_the_installed_ones() -> None:
    with pytest.raises(ValueError, match=r"LAYERLAB_GZIP='brotli'.*installed: .*zlib"):
        gzip_backend("brotli")


def test_without_the_optional_libraries_zlib_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def no_fast_ones(name: str, package: str | None = None) -> object:
        if name.split(".")[0] in ("isal", "zlib_ng"):
            raise ImportError(f"No module named {name!r}")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_fast_ones)
    assert list(gzip_backends()) == ["zlib"]


@pytest.mark.parametrize("name", BACKENDS)
def test_every_inflater_gives_the_same_layer(name: str, plain: bytes,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    blob = gzip.compress(plain, compresslevel=6, mtime=0)
    monkeypatch.setenv(GZIP_ENV, "zlib")
    expected = _summary(Layer.from_tar(io.BytesIO(blob)))
    monkeypatch.setenv(GZIP_ENV, name)
    assert _summary(Layer.from_tar(io.BytesIO(blob))) == expected
    assert expected[0] == "sha256:" + hashlib.sha256(plain).hexdigest()
    assert expected[1] == "sha256:" + hashlib.sha256(blob).hexdigest()


@pytest.mark.parametrize("name", BACKENDS)
def test_members_and_zero_padding_are_read_as_gzip_reads_them(name: str) -> None:
    parts = [b"first member " * 1000, b"", b"third " * 70_000]
    blob = b"".join(gzip.compress(p, mtime=0) for p in parts) + bytes(1000)
    reader = GzipMembers(io.BytesIO(blob), gzip_backend(name))
    out = b"".join(iter(lambda: reader.read(1 << 16), b""))
    assert out == gzip.decompress(blob) == b"".join(parts)


@pytest.mark.parametrize("name", BACKENDS)
def test_read_is_bounded_by_the_size_asked(name: str) -> None:
    reader = GzipMembers(io.BytesIO(gzip.compress(bytes(8 << 20))), gzip_backend(name))
    sizes = [len(reader.read(1 << 20)) for _ in range(9)]
    assert max(sizes) <= 1 << 20 and sum(sizes) == 8 << 20


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("case, error, match", [
    ("truncated", TruncatedError, r"gzip stream is truncated"),
    ("crc", InvalidLayerError, r"corrupt gzip stream.*CRC"),
    ("garbage-after", InvalidLayerError, r"corrupt gzip stream.*Not a gzipped file"),
    ("corrupt", InvalidLayerError, r"corrupt gzip stream"),
])
def test_bad_streams_give_the_same_errors(name: str, case: str, error: type[Exception],
                                          match: str, plain: bytes,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    gz = gzip.compress(plain, mtime=0)
    blob = {
        "truncated": gz[: len(gz) // 2],
        "crc": gz[:-8] + bytes(b ^ 0xFF for b in gz[-8:-4]) + gz[-4:],
        "garbage-after": gz + b"PK\x03\x04 not gzip",
        "corrupt": gz[:12] + bytes(b ^ 0x55 for b in gz[12:400]) + gz[400:],
    }[case]
    monkeypatch.setenv(GZIP_ENV, name)
    with pytest.raises(error, match=match):
        Layer.from_tar(io.BytesIO(blob))


@pytest.fixture
def no_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(tarstream, "_THREADS", [False])
    yield


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_threads_or_none_the_layer_is_the_same(compression: str, plain: bytes, tmp_path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "layer"
    with open(source, "wb") as out:
        tarstream.compress(io.BytesIO(plain), out, compression)
    started: list[str] = []

    class Recorded(threading.Thread):
        def start(self) -> None:
            started.append(self.name)
            super().start()

    monkeypatch.setattr(tarstream.threading, "Thread", Recorded)
    threaded = Layer.from_tar(source)
    assert "layerlab-spool" in started  # the stream was read in a second thread
    monkeypatch.setattr(tarstream, "_THREADS", [False])
    started.clear()
    single = Layer.from_tar(source)
    assert started == []
    assert _summary(threaded) == _summary(single)
    assert threaded.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    for layer in (threaded, single):
        assert layer._tar is not None
        layer._tar.file.close()


def _bad_after_a_while(plain: bytes) -> bytes:
    """The valid layer, then a header with a broken checksum (past the first chunks)."""
    end = len(plain) - 1024  # the end-of-archive marker and tarfile's padding follow
    while plain[end - 512:end] == bytes(512):
        end -= 512
    bad = bytearray(plain[end - 512:end])
    return plain[:end] + bytes(b ^ 0x11 for b in bad[:100]) + bytes(bad[100:]) + bytes(1024)


@pytest.mark.parametrize("threads", [True, False])
def test_an_error_far_into_the_stream_is_raised_and_no_thread_is_left(
        threads: bool, plain: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    if not threads:
        monkeypatch.setattr(tarstream, "_THREADS", [False])
    before = threading.active_count()
    with pytest.raises(TruncatedError, match=r"bad header checksum"):
        Layer.from_tar(io.BytesIO(gzip.compress(_bad_after_a_while(plain), mtime=0)))
    assert threading.active_count() == before


def test_a_limit_hit_in_the_reading_thread_is_raised_here(plain: bytes) -> None:
    limits = dataclasses.replace(DEFAULT_LIMITS, max_layer_bytes=2 << 20)
    before = threading.active_count()
    with pytest.raises(LimitExceededError, match="max_layer_bytes"):
        Layer.from_tar(io.BytesIO(gzip.compress(plain, mtime=0)), limits=limits)
    assert threading.active_count() == before


def test_the_fast_entry_maker_makes_the_entries_the_class_makes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from layerlab.entry import Entry, EntryKind

    make = fasttar._fast_entry_maker()
    assert make is not Entry  # Entry is still the frozen, slotted dataclass it was written for
    for args in [("/usr/bin/env", EntryKind.FILE, 0o755, 0, 0, 1_700_000_000, 123,
                  "sha256:" + "0" * 64, "", 0, 0, ()),
                 ("/dev/null", EntryKind.CHAR, 0o666, 1, 2, -5, 0, None, "", 1, 3,
                  (("user.a", b"\x00"),))]:
        fast, slow = make(*args), Entry(*args)
        assert type(fast) is Entry and fast == slow and hash(fast) == hash(slow)
        assert repr(fast) == repr(slow)
        with pytest.raises(AttributeError):
            fast.mode = 0  # type: ignore[misc]  # still frozen
    monkeypatch.setenv("LAYERLAB_FAST_ENTRY", "0")
    assert fasttar._fast_entry_maker() is Entry


def test_zstd_frames_one_after_another_and_cut_inside_one(plain: bytes) -> None:
    import zstandard

    cctx = zstandard.ZstdCompressor(level=1, write_checksum=True)
    half = len(plain) // 2
    blob = cctx.compress(plain[:half]) + cctx.compress(plain[half:])
    layer = Layer.from_tar(io.BytesIO(blob))
    assert layer.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    assert layer.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    with pytest.raises(TruncatedError, match="zstd stream is truncated"):
        Layer.from_tar(io.BytesIO(blob[: len(blob) - 1000]))


def _zstd_parts() -> list[bytes]:
    """Frames of every header form zstandard writes (content size or not, checksum or not,
    a dictionary id), with raw, RLE and compressed blocks, and a skippable frame."""
    import struct

    import zstandard

    rng = random.Random(7)
    noise = bytes(rng.getrandbits(8) for _ in range(3000))  # raw blocks
    text = b"usr/share/doc/layerlab " * 300  # compressed blocks
    runs = b"\0" * 300_000  # RLE blocks
    dictionary = zstandard.ZstdCompressionDict(b"usr/share/doc " * 200)
    parts = []
    for size, check, payload in [(True, True, noise), (False, False, text), (True, False, runs),
                                 (False, True, noise + text)]:
        cctx = zstandard.ZstdCompressor(level=3, write_checksum=check, write_content_size=size)
        parts.append(cctx.compress(payload))
    parts.append(struct.pack("<II", 0x184D2A53, 5) + b"skip!")  # a skippable frame
    parts.append(zstandard.ZstdCompressor(dict_data=dictionary, write_dict_id=True)
                 .compress(text))
    return parts


def test_zstd_walker_tells_a_frame_boundary_from_a_cut_at_every_byte() -> None:
    from layerlab._codecs import ZstdFrames, ZstdFrameWalker

    parts = _zstd_parts()
    stream = b"".join(parts)
    boundaries = {0}
    for part in parts:
        boundaries.add(max(boundaries) + len(part))
    for cut in range(len(stream) + 1):
        walker = ZstdFrameWalker()
        walker.feed(stream[:cut // 3])  # in pieces, cut anywhere
        walker.feed(stream[cut // 3:cut])
        assert walker.inside_frame == (cut not in boundaries) and not walker.lost, cut
    decodable = b"".join(parts[:-1])  # (the last frame needs its dictionary)
    for cut in range(len(decodable) + 1):
        reader = ZstdFrames(io.BytesIO(decodable[:cut]))
        if cut in boundaries:
            while reader.read(1 << 16):
                pass
        else:
            with pytest.raises(EOFError, match="inside a frame"):
                while reader.read(1 << 16):
                    pass


def test_zstd_reads_are_bounded_and_garbage_after_frames_is_corrupt() -> None:
    import zstandard

    from layerlab._codecs import ZstdFrames

    bomb = zstandard.ZstdCompressor(level=19).compress(bytes(64 << 20))
    reader = ZstdFrames(io.BytesIO(bomb))
    assert len(reader.read(1 << 20)) == 1 << 20  # one chunk out, not 64 MiB at once
    reader = ZstdFrames(io.BytesIO(_zstd_parts()[0] + b"this is not a zstd frame"))
    with pytest.raises(zstandard.ZstdError):
        while reader.read(1 << 20):
            pass


def test_a_plain_stream_is_hashed_once_and_its_blob_digest_is_its_diff_id(plain: bytes) -> None:
    layer = Layer.from_tar(io.BytesIO(plain + b"trailing bytes are part of the blob"))
    whole = plain + b"trailing bytes are part of the blob"
    assert layer.diff_id == layer.digest == "sha256:" + hashlib.sha256(whole).hexdigest()
    assert layer.compressed_size == layer.tar_size == len(whole)
    assert layer.blob() == whole
