"""Fuzzing: random tar headers and names, damaged valid tars, and random shell command lines.

The property is the same everywhere: nothing escapes but a :class:`LayerlabError`. A layer
that does load is then merged, read, flattened next to a sentinel ``victim/`` (which must
stay untouched) and written in the store's overlay form; the shell always returns an
:class:`ExecResult`.

Examples per test: 300 in CI. For a long run::

    LAYERLAB_FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/hostile/test_fuzz.py -p no:cacheprovider

(the same budget goes to each of the four tests; ``-x`` stops at the first failure, and
hypothesis prints the smallest example it found).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerlab import (
    Dir,
    File,
    Hardlink,
    Image,
    Layer,
    LayerlabError,
    Symlink,
    Whiteout,
)
from layerlab.build import base_image
from layerlab.formats import flatten
from layerlab.overlaydir import write_overlay_dir
from layerlab.shell import ExecResult, run

from .corpus import END, header, pax

EXAMPLES = int(os.environ.get("LAYERLAB_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

_BASE = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="layerlab-fuzz-", dir=_BASE))
    try:
        yield path
    finally:
        shutil.rmtree(path)


# --- names and headers -------------------------------------------------------------------------

TRICKY = ["..", "../x", "/", ".", "./", "/..", "a/../../b", "a/..", "./../x", "//", "a//b",
          ".wh.", ".wh..", ".wh...", ".wh.x", "d/.wh..", "d/.wh.x", ".wh..wh..opq",
          "d/.wh..wh..opq", ".wh..wh.plnk", ".wh..wh.aufs", "etc/passwd", "/etc/passwd",
          "link/x", "link", "a", "a/b", "a/b/c", "victim", "../victim/f", "x\0y", "\0",
          "é/ß", "a/.", "..a", "...", "a\\b", "\udcff"]

names = st.one_of(
    st.sampled_from(TRICKY),
    st.lists(st.sampled_from(["a", "b", "..", ".", "", ".wh.a", ".wh..wh..opq", "link",
                              "\0", "d"]), min_size=1, max_size=6).map("/".join),
    st.text(alphabet="ab./\0wh-é", max_size=24),
    st.integers(90, 5000).map(lambda n: "n" * n),
)
typeflags = st.one_of(st.sampled_from(list(b"0123456789xgLKSADV\0")), st.integers(0, 255))


@st.composite
def raw_members(draw: st.DrawFn) -> bytes:
    name = draw(names).encode("utf-8", "surrogateescape")
    link = draw(names).encode("utf-8", "surrogateescape")
    flag = bytes([draw(typeflags)])
    data = draw(st.binary(max_size=700))
    size = draw(st.one_of(st.just(len(data)), st.integers(0, 4000), st.integers(0, 8**11 - 1)))
    out = b""
    records = {}
    if draw(st.booleans()) or len(name) > 100 or b"\0" in name:
        records["path"] = name
    if draw(st.booleans()):
        records["linkpath"] = link
    if draw(st.booleans()):
        records["SCHILY.xattr." + draw(st.sampled_from(
            ["user.a", "trusted.overlay.opaque", "security.capability", "user.overlay.whiteout"]
        ))] = draw(st.binary(max_size=20))
    if draw(st.integers(0, 9)) == 0:
        records["size"] = str(draw(st.integers(0, 5000))).encode()
    if records:
        out += pax(records)
    out += header(name.replace(b"\0", b"_")[:100], typeflag=flag, size=size,
                  mode=draw(st.integers(0, 0o177777)), linkname=link.replace(b"\0", b"_"),
                  uid=draw(st.integers(0, 70000)), gid=draw(st.integers(0, 70000)),
                  mtime=draw(st.integers(0, 2**33)), devmajor=draw(st.integers(0, 300)),
                  devminor=draw(st.integers(0, 300)),
                  magic=draw(st.sampled_from([b"ustar\x0000", b"ustar  \x00", b"\0" * 8])),
                  checksum_delta=draw(st.sampled_from([0, 0, 0, 0, 1])))
    return out + data + b"\0" * (-len(data) % 512)


def wrap(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


@st.composite
def header_streams(draw: st.DrawFn) -> bytes:
    body = b"".join(draw(st.lists(raw_members(), max_size=6)))
    tail = draw(st.sampled_from([END, END, b"", b"\0" * 512, b"junk" * 200, END + b"after"]))
    return wrap(body + tail, draw(st.sampled_from(["none", "gzip", "zstd"])))


specs = st.one_of(
    st.binary(max_size=300).map(File),
    st.builds(File, st.binary(max_size=50), mode=st.integers(0, 0o7777)),
    st.just(Dir()),
    st.sampled_from(["/", "../victim", "/etc", "a", "../../..", "/../victim/f"]).map(Symlink),
    st.sampled_from(["/a", "/etc/passwd", "/d/f"]).map(Hardlink),
    st.just(Whiteout()),
)


@st.composite
def damaged_streams(draw: st.DrawFn) -> bytes:
    """A valid layer, then cut short, bit-flipped or given trailing bytes, before or after
    compression."""
    spec = draw(st.dictionaries(st.sampled_from(["/a", "/etc/passwd", "/d", "/d/f", "/link",
                                                 "/link/x", "/bin/sh", "/tmp/t"]),
                                specs, min_size=1, max_size=6))
    try:
        layer = Layer.from_dict(spec)
    except LayerlabError:
        layer = Layer.from_dict({"/a": "a"})
    data = bytearray(layer.to_tar())
    how = draw(st.sampled_from(["none", "gzip", "zstd"]))
    after = draw(st.booleans())
    if after:
        data = bytearray(wrap(bytes(data), how))
    for _ in range(draw(st.integers(0, 4))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    if cut is not None:
        data = data[:cut]
    return bytes(data) if after else wrap(bytes(data), how)


def exercise(data: bytes, scratch: Path) -> None:
    """Every reader on ``data``; only LayerlabError may come out."""
    try:
        layer = Layer.from_tar(io.BytesIO(data))
    except LayerlabError:
        return
    arena = Path(tempfile.mkdtemp(dir=scratch))
    victim = arena / "victim"
    victim.mkdir()
    (victim / "f").write_bytes(b"secret")
    os.utime(victim / "f", (1000, 2000))
    before = os.lstat(victim / "f")
    try:
        image = Image.from_layers([layer])
        view = image.view()
        for entry in view.walk():
            if entry.digest is not None:
                view.read(entry.path)
        try:
            flatten(image, arena / "dest")
        except LayerlabError:
            assert not (arena / "dest").exists()
        with contextlib.suppress(LayerlabError):
            write_overlay_dir(layer, arena / "overlay", xattr_namespace="user",
                              whiteout_form="xattr")
        after = os.lstat(victim / "f")
        assert (after.st_atime_ns, after.st_mtime_ns, after.st_ctime_ns, after.st_nlink) == (
            before.st_atime_ns, before.st_mtime_ns, before.st_ctime_ns, before.st_nlink)
        assert sorted(os.listdir(arena)) <= ["dest", "overlay", "victim"]
        assert os.listdir(victim) == ["f"]
    except LayerlabError:
        pass
    finally:
        shutil.rmtree(arena)


@FUZZ
@given(data=header_streams())
def test_random_tar_headers_only_raise_layerlab_errors(scratch: Path, data: bytes) -> None:
    exercise(data, scratch)


@FUZZ
@given(data=damaged_streams())
def test_damaged_valid_tars_only_raise_layerlab_errors(scratch: Path, data: bytes) -> None:
    exercise(data, scratch)


@FUZZ
@given(data=st.binary(max_size=2000).map(lambda b: wrap(b, "none")))
def test_random_bytes_only_raise_layerlab_errors(scratch: Path, data: bytes) -> None:
    exercise(data, scratch)


# --- the container shell --------------------------------------------------------------------

WORDS = ["ls", "-la", "cat", "echo", "rm", "-rf", "/", "--no-preserve-root", "mkdir", "-p",
         "cp", "-r", "mv", "ln", "-s", "chmod", "777", "u+s", "chown", "1:1", "touch", "find",
         "-name", "-delete", "du", "-sh", "head", "-n", "tail", "grep", "-v", "sort", "uniq",
         "wc", "-l", "tee", "sh", "-c", "bash", ".", "source", "export", "unset", "set", "-e",
         "-u", "-x", "cd", "pwd", "env", "exit", "test", "[", "]", "apt-get", "install", "apk",
         "add", "pip", "curl", "sleep", "date", "+%s", "stat", "printf", "%s%d%b%c%x",
         "basename", "dirname", "ps", "id", "true", "false", "xargs", "if", "then", "fi",
         "for", "do", "done", "case", "esac", "while", "/etc/passwd", "..", "../../..",
         "/dev/null", "*", "/*/*", "?", "[a-z]*", ".wh.x", "/x", "/x/y", "~", "$HOME", "$?",
         "$$", "$0", "$1", "$#", "$@", "${X:-d}", "${X:=d}", "${X:+d}", "${X:?e}", "${#X}",
         "${", "$(", "$(echo hi)", "`ls`", "$((1+1))", "X=1", "'", '"', "\\", "'a b'",
         '"$X"', "\\n", "\x00", "é", "-", "--", "<<EOF", "&", "(", ")", "{", "}", "!"]
OPERATORS = [" ", " ", " ", "; ", " && ", " || ", " | ", " > ", " >> ", " < ", " 2>&1 ",
             " >&2 ", " &> ", " 2> ", "\n", " # ", " \\\n"]


@st.composite
def command_lines(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 12))):
        parts.append(draw(st.one_of(st.sampled_from(WORDS),
                                    st.text(alphabet="ab/.*$'\"\\-x =;|&<>(){}`~#\n", max_size=8))))
        parts.append(draw(st.sampled_from(OPERATORS)))
    return "".join(parts)


TINY = base_image("layerlab/tiny")


@FUZZ
@given(script=command_lines())
def test_random_shell_command_lines_return_an_exec_result(script: str) -> None:
    container = TINY.create_container()
    container.start()
    result = run(container, script)
    assert isinstance(result, ExecResult)
    assert isinstance(result.exit_code, int)
    container.view().paths()  # whatever it did, the container's filesystem is still whole
