"""The streaming indexer agrees with Python's tarfile on every header form layers use."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator

import pytest

from layerlab import fasttar
from layerlab.entry import EntryKind
from layerlab.errors import InvalidLayerError, LayerlabError, TruncatedError
from layerlab.fasttar import RawMember, TarIndexer
from layerlab.limits import DEFAULT_LIMITS

LONG = "deep/" * 30 + "name-longer-than-one-hundred-bytes.txt"
FORMATS = {"gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT, "ustar": tarfile.USTAR_FORMAT}


def _tar(fmt: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tf:
        def add(name: str, kind: bytes, data: bytes = b"", **fields: object) -> None:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mode = 0o644
            for k, v in fields.items():
                setattr(info, k, v)
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tf.addfile(info, io.BytesIO(data) if data else None)

        add("etc", tarfile.DIRTYPE, mode=0o755)
        add("etc/motd", tarfile.REGTYPE, b"hello\n" * 100, uid=1000, gid=1000, mtime=1700000000)
        add("empty", tarfile.REGTYPE)
        add("bin/sh", tarfile.SYMTYPE, linkname="busybox")
        add("bin/perl", tarfile.LNKTYPE, linkname="etc/motd")
        add("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)
        add("pipe", tarfile.FIFOTYPE)
        add("setuid", tarfile.REGTYPE, b"x", mode=0o4755)
        add("block.bin", tarfile.REGTYPE, bytes(range(256)) * 20)
        if fmt != tarfile.USTAR_FORMAT:
            add(LONG, tarfile.REGTYPE, b"long")
            add("link-to-long", tarfile.SYMTYPE, linkname=LONG + "-target" * 10)
            add("big-uid", tarfile.REGTYPE, b"u", uid=2**22, gid=2**22)
        else:
            add("prefix/" * 20 + "short", tarfile.REGTYPE, b"prefixed")  # uses ustar prefix
        if fmt == tarfile.PAX_FORMAT:
            add("caps", tarfile.REGTYPE, b"c", pax_headers={
                "SCHILY.xattr.security.capability": "\x01\x00",
                "SCHILY.xattr.user.note": "hi"})
            add("ünïcode-名前", tarfile.REGTYPE, b"u")
    return out.getvalue() + b"trailing bytes after the end are legal"


@pytest.fixture(params=["c", "python"])
def indexer_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test below runs on the C accelerator and on the pure-Python indexer."""
    if request.param == "c":
        if not fasttar.ACCELERATED:
            pytest.skip("the C accelerator (layerlab._ctar) is not built here")
        yield "c"
    else:
        with fasttar.pure_python():
            yield "python"


def _members(data: bytes, chunk: int) -> list[RawMember]:
    indexer = TarIndexer(limits=DEFAULT_LIMITS, where="test")
    for i in range(0, len(data), chunk):
        indexer.feed(data[i:i + chunk])
    indexer.close()
    return indexer.members


def _index(data: bytes, chunk: int) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for entry, offset, name in _members(data, chunk):
        assert entry.path == "/" + name.removeprefix("./").strip("/")
        rows.append((name, entry.kind, entry.mode, entry.uid, entry.gid, entry.mtime,
                     entry.size, entry.linkname, entry.devmajor, entry.devminor,
                     dict(entry.xattrs), entry.digest, offset))
    return rows


def _reference(data: bytes) -> list[tuple[object, ...]]:
    kinds = {tarfile.REGTYPE: EntryKind.FILE, tarfile.DIRTYPE: EntryKind.DIR,
             tarfile.SYMTYPE: EntryKind.SYMLINK, tarfile.LNKTYPE: EntryKind.HARDLINK,
             tarfile.CHRTYPE: EntryKind.CHAR, tarfile.FIFOTYPE: EntryKind.FIFO}
    rows: list[tuple[object, ...]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:", encoding="utf-8",
                      errors="surrogateescape") as tf:
        for info in tf:
            kind = kinds[info.type]
            digest = None
            if info.isreg():
                f = tf.extractfile(info)
                assert f is not None
                digest = "sha256:" + hashlib.sha256(f.read()).hexdigest()
            xattrs = {k[len("SCHILY.xattr."):]: v.encode("utf-8", "surrogateescape")
                      for k, v in info.pax_headers.items() if k.startswith("SCHILY.xattr.")}
            dev = kind is EntryKind.CHAR
            rows.append((info.name, kind, info.mode & 0o7777, info.uid, info.gid,
                         int(info.mtime), info.size if info.isreg() else 0,
                         info.linkname if kind is EntryKind.SYMLINK
                         else "/" + info.linkname if kind is EntryKind.HARDLINK else "",
                         info.devmajor if dev else 0, info.devminor if dev else 0, xattrs,
                         digest, info.offset_data))
    return rows


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("chunk", [511, 4096, 1 << 20])
def test_indexer_matches_tarfile(fmt: str, chunk: int, indexer_kind: str) -> None:
    data = _tar(FORMATS[fmt])
    assert _index(data, chunk) == _reference(data)


def test_indexer_fed_one_byte_at_a_time(indexer_kind: str) -> None:
    data = _tar(tarfile.GNU_FORMAT)
    assert _index(data, 1) == _reference(data)


def test_v7_directory_and_signed_checksum(indexer_kind: str) -> None:
    info = tarfile.TarInfo("olddir/")
    info.type = tarfile.AREGTYPE
    block = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
    data = bytes(block) + bytes(1024)
    assert [r[:2] for r in _index(data, 4096)] == [("olddir", EntryKind.DIR)]


@pytest.mark.parametrize("cut, error", [
    (100, TruncatedError),       # inside the first header... of a longer archive
    (512 + 300, TruncatedError),  # inside file data
    (1024, TruncatedError),      # right after a member: no end marker
])
def test_truncation_is_reported(cut: int, error: type[LayerlabError], indexer_kind: str) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        info = tarfile.TarInfo("f")
        info.size = 600
        tf.addfile(info, io.BytesIO(b"x" * 600))
    with pytest.raises(error):
        _index(out.getvalue()[:cut], 4096)


def test_garbage_is_not_a_tar(indexer_kind: str) -> None:
    with pytest.raises(InvalidLayerError, match="not a tar archive"):
        _index(b"this is not a tar archive at all" * 40, 4096)
