"""paths: the strict cleaner for archive names and the chroot clamp for lookups."""

from __future__ import annotations

import re

import pytest

from layerlab import LayerlabError, LimitExceededError, UnsafePathError
from layerlab.paths import (
    ancestors,
    basename,
    clean_member_name,
    dirname,
    is_within,
    join,
    normalize,
    split,
)


@pytest.mark.parametrize(
    ("unsafe", "clean"),
    [
        ("etc/hostname", "/etc/hostname"),
        ("./etc/hostname", "/etc/hostname"),
        ("/etc/hostname", "/etc/hostname"),
        ("etc//hostname/", "/etc/hostname"),
        ("a/b/../c", "/a/c"),
        ("a/./b/.", "/a/b"),
        ("a/..", "/"),
        (".", "/"),
        ("./", "/"),
        ("/", "/"),
        ("", "/"),
        ("...", "/..."),
        ("..foo/..bar", "/..foo/..bar"),
        ("a b/ü", "/a b/ü"),
    ],
)
def test_clean_member_name(unsafe: str, clean: str) -> None:
    assert clean_member_name(unsafe) == clean


@pytest.mark.parametrize(
    "unsafe", ["..", "../x", "/../x", "a/../../x", "./../x", "a/b/../../..", "../", "/.."]
)
def test_clean_member_name_refuses_escapes(unsafe: str) -> None:
    with pytest.raises(UnsafePathError, match=re.escape(f"entry {unsafe!r}: path escapes")):
        clean_member_name(unsafe)


def test_clean_member_name_prefixes_where() -> None:
    with pytest.raises(UnsafePathError, match=r"^layer 3 \(sha256:ab12\): entry '\.\./x'"):
        clean_member_name("../x", where="layer 3 (sha256:ab12)")


def test_clean_member_name_refuses_nul_and_long_names() -> None:
    with pytest.raises(UnsafePathError, match="NUL"):
        clean_member_name("a\x00b")
    with pytest.raises(LimitExceededError, match="max_path_bytes=10"):
        clean_member_name("a" * 11, max_bytes=10)
    assert clean_member_name("a" * 10, max_bytes=10) == "/" + "a" * 10
    # bytes, not characters: 4 two-byte characters are 8 bytes
    with pytest.raises(LimitExceededError):
        clean_member_name("é" * 4, max_bytes=7)


@pytest.mark.parametrize(
    ("path", "clean"),
    [
        ("etc//./hostname", "/etc/hostname"),
        ("/../../etc", "/etc"),
        ("..", "/"),
        ("a/../../b", "/b"),
        ("/", "/"),
        ("", "/"),
        ("a/b/", "/a/b"),
    ],
)
def test_normalize_clamps_at_the_root(path: str, clean: str) -> None:
    assert normalize(path) == clean


def test_normalize_wants_a_str() -> None:
    with pytest.raises(TypeError, match="bytes"):
        normalize(b"/etc")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "parent", "name"),
    [("/", "/", ""), ("/a", "/", "a"), ("/a/b", "/a", "b"), ("/a/b/c", "/a/b", "c")],
)
def test_split_dirname_basename_join(path: str, parent: str, name: str) -> None:
    assert split(path) == (parent, name)
    assert (dirname(path), basename(path)) == (parent, name)
    if name:
        assert join(parent, name) == path


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/", []), ("/a", []), ("/a/b", ["/a"]), ("/a/b/c", ["/a", "/a/b"])],
)
def test_ancestors(path: str, expected: list[str]) -> None:
    assert list(ancestors(path)) == expected


@pytest.mark.parametrize(
    ("path", "top", "inside"),
    [("/a/b", "/a", True), ("/a", "/a", True), ("/ab", "/a", False), ("/x", "/", True),
     ("/a", "/a/b", False)],
)
def test_is_within(path: str, top: str, inside: bool) -> None:
    assert is_within(path, top) is inside


def test_errors_are_layerlab_errors() -> None:
    assert issubclass(UnsafePathError, LayerlabError)
    assert issubclass(LimitExceededError, LayerlabError)
