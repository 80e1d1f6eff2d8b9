"""The whiteout codec: every on-disk spelling of a deletion, in one module."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from layerlab import union, whiteout
from layerlab.entry import Entry, EntryKind
from layerlab.errors import MalformedWhiteoutError


@pytest.mark.parametrize(("path", "expected"), [
    ("/etc/.wh.motd", ("whiteout", "/etc/motd")),
    ("/.wh.a", ("whiteout", "/a")),
    ("/d/.wh..wh..opq", ("opaque", "/d")),
    ("/.wh..wh..opq", ("opaque", "/")),
    ("/.wh.etc/somefile", None),  # only the basename counts (union row 16)
    ("/etc/motd", None),
    ("/etc/x.wh.y", None),
])
def test_classify_name(path: str, expected: object) -> None:
    assert whiteout.classify_name(path) == expected


@pytest.mark.parametrize("name", ["/.wh.", "/.wh..", "/.wh...", "/d/.wh.."])
def test_malformed_whiteouts_name_the_entry(name: str) -> None:
    with pytest.raises(MalformedWhiteoutError, match=r"layer 3: entry .*names nothing"):
        whiteout.classify_name(name, where="layer 3")


@pytest.mark.parametrize("entry", [
    Entry("/etc/motd", EntryKind.WHITEOUT), Entry("/a", EntryKind.WHITEOUT),
    Entry("/var/cache", EntryKind.OPAQUE), Entry("/", EntryKind.OPAQUE),
])
def test_member_name_round_trips(entry: Entry) -> None:
    name = whiteout.marker_member_name(entry)
    assert not name.startswith("/")
    kind, path = whiteout.classify_name("/" + name)  # type: ignore[misc]
    assert (kind, path) == (entry.kind.value, entry.path)


def test_aufs_metadata_is_told_from_the_opaque_marker() -> None:
    assert whiteout.is_aufs_metadata("/.wh..wh.plnk")
    assert whiteout.is_aufs_metadata("/.wh..wh.plnk/1234.5678")
    assert whiteout.is_aufs_metadata("/.wh..wh.aufs")
    assert not whiteout.is_aufs_metadata("/d/.wh..wh..opq")
    assert not whiteout.is_aufs_metadata("/d/.wh.x")


def test_whiteout_target_and_name_are_inverse() -> None:
    assert whiteout.whiteout_target("/" + whiteout.whiteout_name("x")) == ("/x", True)
    assert whiteout.whiteout_target("/d/x") == ("/d/x", False)


def test_markers_sort_before_their_siblings() -> None:
    entries = [Entry("/d/a", EntryKind.FILE), Entry("/d", EntryKind.OPAQUE),
               Entry("/d/b", EntryKind.WHITEOUT), Entry("/d", EntryKind.DIR)]
    ordered = sorted(entries, key=whiteout.canonical_key)
    names = [whiteout.marker_member_name(e) if e.kind.is_marker else e.path[1:] for e in ordered]
    assert names == ["d", "d/.wh..wh..opq", "d/.wh.b", "d/a"]


def test_overlay_xattr_names() -> None:
    assert whiteout.overlay_xattr("trusted", whiteout.OVERLAY_WHITEOUT_XATTR) == \
        "trusted.overlay.whiteout"
    assert whiteout.is_overlay_xattr("user.overlay.redirect")
    assert not whiteout.is_overlay_xattr("user.overlay.opaque", ("trusted",))
    assert not whiteout.is_overlay_xattr("security.capability")
    assert not whiteout.is_overlay_xattr("user.overlayish")


def test_overlay_whiteout_forms_on_disk(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert not whiteout.is_overlay_whiteout(plain)
    marked = tmp_path / "marked"
    marked.write_bytes(b"")
    os.setxattr(marked, "user.overlay.whiteout", b"y")
    assert whiteout.is_overlay_whiteout(marked)
    assert not whiteout.is_overlay_whiteout(marked, namespaces=("trusted",))
    full = tmp_path / "full"
    full.write_bytes(b"x")
    os.setxattr(full, "user.overlay.whiteout", b"y")
    assert not whiteout.is_overlay_whiteout(full)  # a whiteout file is empty
    assert not whiteout.is_overlay_whiteout(tmp_path / "missing")
    try:
        os.mknod(tmp_path / "dev", stat.S_IFCHR | 0o600, os.makedev(*whiteout.WHITEOUT_DEVICE))
    except PermissionError:
        return  # the device form needs CAP_MKNOD (or a kernel that allows 0/0 for anyone)
    assert whiteout.is_overlay_whiteout(tmp_path / "dev")
    assert whiteout.is_whiteout_device(os.lstat(tmp_path / "dev"))


def test_union_keeps_the_old_names() -> None:
    for name in ("OPAQUE_MARKER", "OVERLAY_XATTR_NAMESPACES", "WHITEOUT_PREFIX",
                 "classify_name", "marker_member_name", "is_reserved_name"):
        assert getattr(union, name) is getattr(whiteout, name)


def test_layer_takes_its_names_from_the_codec() -> None:
    import ast
    import inspect

    from layerlab import layer

    tree = ast.parse(inspect.getsource(layer))
    sources = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "union" not in sources and "whiteout" in sources


def test_is_overlay_opaque_reads_y_not_x(tmp_path: Path) -> None:
    from layerlab.whiteout import is_overlay_opaque

    opaque, marked, plain = tmp_path / "o", tmp_path / "x", tmp_path / "p"
    for d in (opaque, marked, plain):
        d.mkdir()
    os.setxattr(opaque, "user.overlay.opaque", b"y")
    os.setxattr(marked, "user.overlay.opaque", b"x")  # holds xattr whiteouts: not opaque
    assert [is_overlay_opaque(d) for d in (opaque, marked, plain)] == [True, False, False]
    assert not is_overlay_opaque(tmp_path / "missing")
    assert not is_overlay_opaque(opaque, namespaces=("trusted",))
