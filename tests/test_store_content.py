"""The content-addressed blob store: atomic writes, verify, resumable ingests, hostile digests."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from layerlab.errors import (
    BlobNotFoundError,
    DigestMismatchError,
    InvalidDigestError,
    LayerlabError,
)
from layerlab.store.content import ContentStore


def _d(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_write_bytes_and_stream_and_read_back(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    data = os.urandom(3 * (1 << 20) + 7)  # more than one chunk
    d1 = cs.write(data)
    assert d1 == _d(data)
    assert cs.path(d1) == tmp_path / "blobs" / "sha256" / d1[7:]
    d2 = cs.write(io.BytesIO(b"second"), expected_digest=_d(b"second"), expected_size=6)
    assert d2 == _d(b"second")
    assert cs.size(d1) == len(data)
    with cs.open(d1) as f:
        assert f.read() == data
    assert list(cs.digests()) == sorted([d1, d2])
    assert cs.verify() == []
    # writing again is a no-op returning the same digest
    assert cs.write(b"second") == d2
    assert _tree(tmp_path) == sorted(f"blobs/sha256/{d[7:]}" for d in (d1, d2))


@pytest.mark.parametrize(("expected_digest", "expected_size", "why"), [
    (_d(b"other"), None, "hashes to"),
    (None, 3, "got 5 bytes, expected 3"),
    (None, 99, "got 5 bytes, expected 99"),
    (_d(b"hello"), 4, "expected 4"),
])
def test_write_mismatch_leaves_store_unchanged(tmp_path: Path, expected_digest: str | None,
                                               expected_size: int | None, why: str) -> None:
    cs = ContentStore(tmp_path)
    keep = cs.write(b"kept")
    before = _tree(tmp_path)
    with pytest.raises(DigestMismatchError, match=why):
        cs.write(b"hello", expected_digest=expected_digest, expected_size=expected_size)
    assert _tree(tmp_path) == before
    assert not cs.has(_d(b"hello"))
    assert cs.has(keep)


def test_absent_blob_raises_a_layerlab_error(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    missing = _d(b"nothing")
    assert not cs.has(missing)
    for call in (cs.path, cs.open, cs.size, cs.delete):
        with pytest.raises(BlobNotFoundError, match=missing):
            call(missing)
    cs.delete(missing, missing_ok=True)
    assert list(cs.digests()) == []


HOSTILE = [
    "sha256:../../../etc/passwd",
    "sha256:" + "a" * 63,
    "sha256:" + "A" * 64,
    "sha256:" + "a" * 64 + "/x",
    "sha256:" + "a" * 64 + "\n",
    "sha512:" + "a" * 128,
    "../" + "a" * 64,
    "",
    "sha256:" + "a" * 64 + "\x00",
]


@pytest.mark.parametrize("digest", HOSTILE)
def test_hostile_digests_never_reach_a_path(tmp_path: Path, digest: str) -> None:
    store_root = tmp_path / "store"
    victim = tmp_path / "victim"
    victim.write_bytes(b"do not touch")
    cs = ContentStore(store_root)
    calls = [
        lambda: cs.has(digest), lambda: cs.path(digest), lambda: cs.open(digest),
        lambda: cs.size(digest), lambda: cs.delete(digest, missing_ok=True),
        lambda: cs.write(b"x", expected_digest=digest),
        lambda: cs.ingest("r", expected_digest=digest),
    ]
    for call in calls:
        with pytest.raises(InvalidDigestError) as info:
            call()
        assert isinstance(info.value, LayerlabError)
    assert victim.read_bytes() == b"do not touch"
    assert not store_root.exists() or _tree(store_root) == []


def test_verify_names_each_broken_blob(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    good = cs.write(b"good")
    bad = cs.write(b"will rot")
    cs.path(bad).write_bytes(b"rotten")
    (tmp_path / "blobs" / "sha256" / "not-a-digest").write_bytes(b"")
    (tmp_path / "blobs" / "sha256" / (good[7:] + ".tmp-1-2")).write_bytes(b"half")
    problems = cs.verify()
    assert len(problems) == 3, problems
    assert any(bad in p and _d(b"rotten") in p for p in problems)
    assert any("not-a-digest" in p for p in problems)
    assert any("temporary" in p for p in problems)
    assert not any(good in p and "hashes" in p for p in problems)
    assert list(cs.digests()) == sorted([good, bad])


def test_ingest_in_one_go(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    data = b"layer bytes " * 1000
    with cs.ingest("pull-1", expected_digest=_d(data), expected_size=len(data)) as ing:
        assert ing.offset == 0 and not ing.complete
        for i in range(0, len(data), 4096):
            ing.write(data[i:i + 4096])
    assert cs.has(_d(data)) and cs.path(_d(data)).read_bytes() == data
    assert cs.ingests() == []
    assert not any((tmp_path / "ingest").iterdir())
    # a second ingest of a present blob is complete at once and writes nothing
    with cs.ingest("pull-2", expected_digest=_d(data)) as again:
        assert again.complete and again.offset == len(data)


def test_ingest_resumes_after_an_error(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    data = os.urandom(100_000)
    digest = _d(data)
    with pytest.raises(ConnectionError), cs.ingest("r", expected_digest=digest,
                                                   expected_size=len(data)) as ing:
        ing.write(data[:40_000])
        raise ConnectionError("server went away")
    assert not cs.has(digest)
    assert cs.ingests() == ["r"]
    with cs.ingest("r", expected_digest=digest, expected_size=len(data)) as ing:
        assert ing.offset == 40_000
        ing.write(data[ing.offset:])
    assert cs.path(digest).read_bytes() == data
    assert cs.ingests() == []


def test_ingest_short_clean_exit_keeps_partial_and_records_nothing(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    data = b"0123456789"
    with pytest.raises(DigestMismatchError, match="got 4 bytes, expected 10"), \
            cs.ingest("r", expected_digest=_d(data), expected_size=10) as ing:
        ing.write(data[:4])
    assert not cs.has(_d(data))
    with cs.ingest("r", expected_digest=_d(data), expected_size=10) as ing:
        assert ing.offset == 4
        ing.write(data[4:])
    assert cs.has(_d(data))


def test_ingest_wrong_bytes_are_discarded(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    data = b"0123456789"
    with pytest.raises(DigestMismatchError, match="hashes to"), \
            cs.ingest("r", expected_digest=_d(data), expected_size=10) as ing:
        ing.write(b"9876543210")
    assert not cs.has(_d(data)) and list(cs.digests()) == []
    assert cs.ingests() == []  # cannot be resumed: wrong from the start
    with pytest.raises(DigestMismatchError, match="more than the expected 10"), \
            cs.ingest("r", expected_digest=_d(data), expected_size=10) as ing:
        ing.write(data)
        ing.write(b"!")
    with cs.ingest("r", expected_digest=_d(data), expected_size=10) as ing:
        assert ing.offset == 0  # the overlong partial was dropped
        ing.write(data)
    assert cs.has(_d(data))


def test_ingest_partial_of_another_blob_is_not_resumed(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    a, b = b"a" * 50, b"b" * 50
    with pytest.raises(RuntimeError), cs.ingest("same-ref", expected_digest=_d(a)) as ing:
        ing.write(a[:20])
        raise RuntimeError
    with cs.ingest("same-ref", expected_digest=_d(b)) as ing:
        assert ing.offset == 0
        ing.write(b)
    assert cs.has(_d(b)) and not cs.has(_d(a))


def test_ingest_restart_when_server_ignores_range(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    data = b"x" * 64 + b"y" * 64
    with pytest.raises(OSError), cs.ingest("r", expected_digest=_d(data)) as ing:
        ing.write(data[:64])
        raise OSError("cut")
    with cs.ingest("r", expected_digest=_d(data)) as ing:
        assert ing.offset == 64
        ing.restart()  # the server answered 200 with the whole body
        assert ing.offset == 0
        ing.write(data)
    assert cs.path(_d(data)).read_bytes() == data


KILLED_WRITER = r"""
import os, sys, hashlib
from pathlib import Path
from layerlab.store.content import ContentStore
cs = ContentStore(Path(sys.argv[1]))
data = bytes(range(256)) * 40000
d = "sha256:" + hashlib.sha256(data).hexdigest()
with cs.ingest("k", expected_digest=d, expected_size=len(data)) as ing:
    ing.write(data[:5_000_000])
    sys.stdout.write("half\n"); sys.stdout.flush()
    sys.stdin.readline()  # killed here
"""


def test_kill_9_mid_ingest_then_resume(tmp_path: Path) -> None:
    root = tmp_path / "cs"
    with subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(root)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as p:
        assert p.stdout is not None and p.stdout.readline().strip() == "half"
        p.kill()
        p.wait()
    cs = ContentStore(root)
    data = bytes(range(256)) * 40000
    assert list(cs.digests()) == [] and cs.verify() == []
    with cs.ingest("k", expected_digest=_d(data), expected_size=len(data)) as ing:
        assert ing.offset <= 5_000_000  # what reached the page cache before the kill
        ing.write(data[ing.offset:])
    assert cs.has(_d(data)) and cs.verify() == []


def test_concurrent_writers_of_one_blob(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from layerlab.store.content import ContentStore\n"
        "cs = ContentStore(Path(sys.argv[1])); data = b'z' * 2_000_000\n"
        "import hashlib; d = 'sha256:' + hashlib.sha256(data).hexdigest()\n"
        "for _ in range(5):\n"
        "    with cs.ingest('shared', expected_digest=d, expected_size=len(data)) as ing:\n"
        "        if not ing.complete:\n"
        "            [ing.write(data[i:i+65536]) for i in range(ing.offset, len(data), 65536)]\n"
        "    cs.write(data, expected_digest=d)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)]) for _ in range(3)]
    assert [p.wait() for p in procs] == [0, 0, 0]
    cs = ContentStore(tmp_path)
    assert list(cs.digests()) == [_d(b"z" * 2_000_000)]
    assert cs.verify() == []
