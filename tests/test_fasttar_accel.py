"""The C accelerator of the tar indexer (layerlab/_ctar.c) gives the pure-Python indexer's
answer on every stream: the same members (entry, offset, tar name) or the same error.

The streams are real tars (Python's tarfile, GNU, PAX and ustar) with their headers then
damaged field by field in the spellings that sit at the edge of the accelerator's fast
path: spaces and NULs around octal digits, digits 8 and 9, signs and underscores (which
Python's int() takes), GNU base-256 numbers, checksums that are wrong or right again,
names with ``./``, ``//``, ``..``, non-ASCII bytes, trailing slashes and no name at all.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerlab import fasttar
from layerlab.errors import LayerlabError
from layerlab.fasttar import RawMember, TarIndexer
from layerlab.limits import DEFAULT_LIMITS, Limits

pytestmark = pytest.mark.skipif(
    not fasttar.ACCELERATED and os.environ.get("CI") != "true",
    reason="the C accelerator (layerlab._ctar) is not built here (no C compiler at install)")

_NAMES = ["etc", "etc/passwd", "./usr/bin/env", "usr//lib", "a/./b", "a/../b", "../escape",
          "/abs/path", "dir/", "caf\u00e9", "x" * 99, "deep/" * 19 + "leaf", ".wh.gone",
          "d/.wh..wh..opq", "sp ace", ""]
_TYPES = [tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE,
          tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE, tarfile.CONTTYPE]
#: (offset, length) of the header fields a mutation may rewrite
_FIELDS = {"name": (0, 100), "mode": (100, 8), "uid": (108, 8), "gid": (116, 8),
           "size": (124, 12), "mtime": (136, 12), "chksum": (148, 8), "type": (156, 1),
           "linkname": (157, 100), "magic": (257, 8), "prefix": (345, 155)}
_SPELLINGS = [b"0000644\0", b"  644 \0", b"644", b"\0\0\0", b"        ", b"0009", b"+644",
              b"6_44", b"-1", b"\x80\0\0\0\0\0\0\x01", b"\xff" * 8, b"77777777777\0",
              b"7" * 12, b"12\0garbage", b"1 2", b"\t17\0", b"0o17", b"\0" * 8 + b"17"]


def _run(data: bytes, chunk: int, *, accelerated: bool,
         limits: Limits = DEFAULT_LIMITS) -> tuple[str, object]:
    try:
        with contextlib.nullcontext() if accelerated else fasttar.pure_python():
            indexer = TarIndexer(limits=limits, where="fuzz")
            for i in range(0, len(data), chunk):
                indexer.feed(data[i:i + chunk])
            indexer.close()
    except LayerlabError as exc:
        return "error", (type(exc).__name__, str(exc))
    return "members", [tuple(m) for m in indexer.members]


def _checksum(block: bytearray) -> None:
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    fmt = draw(st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT]))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tf:
        for _ in range(draw(st.integers(1, 6))):
            name = draw(st.sampled_from(_NAMES)) or "f"
            info = tarfile.TarInfo(name)
            info.type = draw(st.sampled_from(_TYPES))
            info.mode = draw(st.sampled_from([0o644, 0o4755, 0o777, 0o7777]))
            info.uid = draw(st.sampled_from([0, 1000, 65534]))
            info.mtime = draw(st.sampled_from([0, 1_700_000_000]))
            if info.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = draw(st.sampled_from(_NAMES))
            data = b""
            if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE):
                data = draw(st.binary(max_size=1500))
            info.size = len(data)
            try:
                tf.addfile(info, io.BytesIO(data) if data else None)
            except ValueError:  # a name ustar cannot hold
                continue
    raw = bytearray(out.getvalue())
    headers = [at for at in range(0, len(raw) - 511, 512) if raw[at + 257:at + 262] == b"ustar"]
    for _ in range(draw(st.integers(0, 3))):
        if not headers:
            break
        at = draw(st.sampled_from(headers))
        start, length = _FIELDS[draw(st.sampled_from(sorted(_FIELDS)))]
        value = draw(st.one_of(st.sampled_from(_SPELLINGS), st.binary(max_size=length),
                               st.sampled_from([n.encode() for n in _NAMES] + [b"\xc3\xa9x"])))
        raw[at + start:at + start + length] = value[:length].ljust(length, b"\0")
        if draw(st.booleans()):  # most damage keeps a valid checksum, to reach deeper checks
            block = bytearray(raw[at:at + 512])
            _checksum(block)
            raw[at:at + 512] = block
    if draw(st.booleans()):
        raw = raw[:draw(st.integers(0, len(raw)))]
    return bytes(raw)


#: LAYERLAB_FUZZ_EXAMPLES=20000 for a longer run (as tests/hostile/test_fuzz.py)
EXAMPLES = 2 * int(os.environ.get("LAYERLAB_FUZZ_EXAMPLES", "300"))


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=streams(), chunk=st.sampled_from([512, 700, 4096, 1 << 20]))
def test_the_accelerator_gives_the_python_answer(data: bytes, chunk: int) -> None:
    assert _run(data, chunk, accelerated=True) == _run(data, chunk, accelerated=False)


@pytest.mark.parametrize("limits", [
    Limits(max_entries=3), Limits(max_path_bytes=40), Limits(max_layer_bytes=1000),
    Limits(max_layer_bytes=10**30, max_entries=10**30, max_path_bytes=10**30),
])
def test_limits_hold_the_same_on_both_paths(limits: Limits) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for i in range(6):
            info = tarfile.TarInfo(f"dir-with-a-longish-name/file-{i}")
            info.size = 600
            tf.addfile(info, io.BytesIO(b"z" * 600))
    data = out.getvalue()
    assert _run(data, 4096, accelerated=True, limits=limits) == _run(
        data, 4096, accelerated=False, limits=limits)


def test_the_accelerator_takes_the_plain_members(monkeypatch: pytest.MonkeyPatch) -> None:
    """It is not a no-op that always hands over: on a plain tar the C code indexes all but
    the members whose content the chunk boundary cuts."""
    taken: list[int] = []
    scan = fasttar._scan
    assert scan is not None

    def counting(buf: bytes, at: int, base: int, count: int, *rest: object) -> tuple[int, int]:
        new_at, new_count = scan(buf, at, base, count, *rest)
        taken.append(new_count - count)
        return new_at, new_count

    monkeypatch.setattr(fasttar, "_scan", counting)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for i in range(200):
            info = tarfile.TarInfo(f"usr/share/doc/pkg/file-{i}")
            info.size = 100 + i
            tf.addfile(info, io.BytesIO(b"d" * info.size))
    members = _run(out.getvalue(), 1 << 20, accelerated=True)[1]
    assert isinstance(members, list) and len(members) == 200
    assert sum(taken) == 200


def test_members_are_the_classes_the_python_code_makes() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        tf.addfile(tarfile.TarInfo("etc/hostname"), io.BytesIO(b""))
    indexer = TarIndexer(limits=DEFAULT_LIMITS, where="t")
    indexer.feed(out.getvalue())
    indexer.close()
    (member,) = indexer.members
    assert type(member) is RawMember and type(member.entry) is fasttar.Entry
    assert member.entry == fasttar.Entry(
        "/etc/hostname", fasttar.EntryKind.FILE, 0o644, 0, 0, 0, 0,
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert hash(member.entry) == hash(fasttar.Entry(*[getattr(member.entry, f)
                                                      for f in fasttar._ENTRY_FIELDS]))


def test_the_accelerator_is_built_in_ci() -> None:
    """CI compiles it (gcc is there): a build that silently fell back is a failure."""
    if os.environ.get("CI") != "true":
        pytest.skip("only CI requires the accelerator; elsewhere the pure indexer is fine")
    assert fasttar.ACCELERATED, "layerlab._ctar did not build or import (see pip's output)"


def test_scan_refuses_a_position_outside_its_buffer() -> None:
    scan = fasttar._scan
    assert scan is not None
    with pytest.raises(ValueError, match="outside the buffer"):
        scan(bytes(1024), 2048, 0, 0, 10, 10, 10, [])
