"""layerlab.overlaydir: a Layer to and from the overlayfs on-disk form (union-semantics row 18)."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from layerlab import (
    BlockDevice,
    CharDevice,
    Dir,
    Fifo,
    File,
    Hardlink,
    Image,
    Layer,
    Opaque,
    Symlink,
    Whiteout,
)
from layerlab.entry import Entry, EntryKind
from layerlab.errors import DigestMismatchError, UnsupportedEntryError
from layerlab.overlaydir import read_overlay_dir, write_overlay_dir

ROOT = os.geteuid() == 0
_skip_unless_root = pytest.mark.skipif(not ROOT,
                                       reason="needs root (mknod, trusted.* xattrs, chown)")


def needs_root(test: Callable[..., None]) -> Callable[..., None]:
    """Skip without root; marked ``reference`` so that with CI=true the skip fails."""
    return pytest.mark.reference(_skip_unless_root(test))


def _xattrs_supported(where: Path, name: str) -> bool:
    probe = where / "xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, name, b"1")
    except OSError:
        return False
    finally:
        probe.unlink()
    return True


@pytest.fixture
def shm(tmp_path: Path) -> Iterator[Path]:
    """A directory on a filesystem with ``user.*`` xattrs (tmpfs since 6.6; most disks)."""
    for base in (Path("/dev/shm"), tmp_path):
        if base.is_dir() and os.access(base, os.W_OK) and _xattrs_supported(base, "user.t"):
            target = base / f"overlaydir-{os.getpid()}-{id(tmp_path)}"
            target.mkdir()
            yield target
            shutil.rmtree(target)
            return
    pytest.skip("no filesystem with user.* xattrs here")


def _getxattr(path: Path, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


_ONE = "sha256:" + hashlib.sha256(b"1").hexdigest()


def _comparable(layer: Layer) -> list[Entry]:
    return list(layer.entries)


BASIC = {
    "/etc": Dir(mode=0o750, uid=0, gid=0, mtime=100),
    "/etc/motd": File("hello\n", mode=0o644, mtime=200),
    "/etc/secret": File(b"\x00\x01", mode=0o600, mtime=300),
    "/bin": Dir(mtime=5),
    "/bin/su": File(b"#!su", mode=0o4755, mtime=7),
    "/bin/sh": Symlink("busybox", mtime=9),
    "/bin/abs": Symlink("/etc/motd"),
    "/bin/dangling": Symlink("../nowhere"),
    "/tmp": Dir(mode=0o1777),
    "/run": Dir(),
    "/run/fifo": Fifo(mode=0o600),
}


@pytest.mark.parametrize("namespace", ["trusted", "user"])
@pytest.mark.parametrize("form", ["chardev", "xattr"])
@pytest.mark.reference  # as root only for the trusted namespace and 0/0 devices
def test_round_trip_files_dirs_symlinks_fifos_markers(
    shm: Path, namespace: str, form: str
) -> None:
    if (namespace == "trusted" or form == "chardev") and not ROOT:
        pytest.skip("trusted.* xattrs and 0/0 devices need root")
    base = Layer.from_dict({**BASIC, "/var": Dir(), "/var/gone": Whiteout(), "/opt": Dir(),
                            "/old": Whiteout()})
    layer = Layer.from_entries([*base.entries, Entry("/opt", EntryKind.OPAQUE)],
                               base.read_content)
    write_overlay_dir(layer, shm / "l", xattr_namespace=namespace, whiteout_form=form)
    back = read_overlay_dir(shm / "l", xattr_namespace=namespace)
    assert _comparable(back) == _comparable(layer)
    assert back.whiteouts == {"/var/gone", "/old"}
    assert back.opaques == {"/opt"}
    assert back.read("/etc/motd") == b"hello\n"
    assert back.diff_id == layer.diff_id  # the same change set, byte for byte as a tar


@needs_root
def test_round_trip_owners_devices_hardlinks(shm: Path) -> None:
    layer = Layer.from_dict({
        "/home": Dir(uid=1000, gid=100, mode=0o700),
        "/home/a": File("x", uid=1000, gid=100),
        "/home/b": Hardlink("/home/a"),
        "/dev": Dir(),
        "/dev/null": CharDevice(1, 3, mode=0o666),
        "/dev/loop0": BlockDevice(7, 0, mode=0o660),
    })
    write_overlay_dir(layer, shm / "l")
    back = read_overlay_dir(shm / "l")
    by_path = {e.path: e for e in back.entries}
    assert by_path["/home/a"] == layer.get("/home/a")
    assert by_path["/dev/null"] == layer.get("/dev/null")
    assert by_path["/dev/loop0"] == layer.get("/dev/loop0")
    link = by_path["/home/b"]
    assert (link.kind, link.linkname, link.uid) == (EntryKind.HARDLINK, "/home/a", 1000)
    assert os.lstat(shm / "l/home/a").st_ino == os.lstat(shm / "l/home/b").st_ino
    view = Image.from_layers([back]).view()
    assert view.read("/home/b") == b"x"


def test_hardlink_points_at_the_first_path_in_sorted_order(shm: Path) -> None:
    (shm / "l").mkdir()
    (shm / "l/z").write_bytes(b"same")
    os.link(shm / "l/z", shm / "l/a")
    back = read_overlay_dir(shm / "l")
    assert back.get("/a").kind is EntryKind.FILE
    assert (back.get("/z").kind, back.get("/z").linkname) == (EntryKind.HARDLINK, "/a")


def test_xattrs_other_than_overlay_are_kept(shm: Path) -> None:
    layer = Layer.from_dict({"/f": File("x", xattrs={"user.mime": "text/plain"})})
    write_overlay_dir(layer, shm / "l", xattr_namespace="user", whiteout_form="xattr")
    assert read_overlay_dir(shm / "l").get("/f").xattr_dict == {"user.mime": b"text/plain"}


def test_overlay_xattr_in_an_entry_is_refused(shm: Path) -> None:
    layer = Layer.from_dict({"/f": File("x", xattrs={"user.overlay.opaque": "y"})})
    with pytest.raises(UnsupportedEntryError, match="overlayfs"):
        write_overlay_dir(layer, shm / "l", xattr_namespace="user", whiteout_form="xattr")


# --- row 18: the three on-disk spellings, read from hand-made directories -------------------


@needs_root
def test_row18_chardev_0_0_is_a_whiteout(shm: Path) -> None:
    (shm / "l").mkdir()
    os.mknod(shm / "l/gone", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    os.mknod(shm / "l/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    back = read_overlay_dir(shm / "l")
    assert back.whiteouts == {"/gone"}
    assert back.get("/null").kind is EntryKind.CHAR


@pytest.mark.parametrize("namespace", ["trusted", "user"])
@pytest.mark.reference  # trusted.* needs root
def test_row18_xattr_whiteout(shm: Path, namespace: str) -> None:
    if namespace == "trusted" and not ROOT:
        pytest.skip("trusted.* xattrs need root")
    (shm / "l/d").mkdir(parents=True)
    (shm / "l/d/gone").touch()
    os.setxattr(shm / "l/d/gone", f"{namespace}.overlay.whiteout", b"y")
    os.setxattr(shm / "l/d", f"{namespace}.overlay.opaque", b"x")  # "has xwhiteouts"
    (shm / "l/d/full").write_bytes(b"not empty")
    os.setxattr(shm / "l/d/full", f"{namespace}.overlay.whiteout", b"y")
    back = read_overlay_dir(shm / "l")
    assert back.whiteouts == {"/d/gone"}
    assert back.opaques == frozenset()  # "x" is not opaque
    assert back.get("/d/full").xattrs == ()  # overlay bookkeeping dropped, the file kept
    other = "user" if namespace == "trusted" else "trusted"
    if other == "user" or ROOT:  # the other namespace's overlay xattrs are ordinary
        assert read_overlay_dir(shm / "l", xattr_namespace=other).whiteouts == frozenset()


@pytest.mark.parametrize("namespace", ["trusted", "user"])
@pytest.mark.reference  # trusted.* needs root
def test_row18_opaque_xattr(shm: Path, namespace: str) -> None:
    if namespace == "trusted" and not ROOT:
        pytest.skip("trusted.* xattrs need root")
    (shm / "l/d").mkdir(parents=True)
    (shm / "l/d/kept").write_bytes(b"1")
    os.setxattr(shm / "l/d", f"{namespace}.overlay.opaque", b"y")
    os.setxattr(shm / "l", f"{namespace}.overlay.opaque", b"y")
    back = read_overlay_dir(shm / "l", xattr_namespace=namespace)
    assert back.opaques == {"/d", "/"}
    assert back.get("/d").is_dir
    lower = Layer.from_dict({"/d/old": "o", "/x": "x"})
    assert Image.from_layers([lower, back]).view().paths() == ["/d", "/d/kept"]


def test_row18_written_forms(shm: Path) -> None:
    layer = Layer.from_dict({"/d": Opaque(), "/d/new": "n", "/e/gone": Whiteout(),
                             "/top": Whiteout()})
    write_overlay_dir(layer, shm / "x", xattr_namespace="user", whiteout_form="xattr")
    assert _getxattr(shm / "x/d", "user.overlay.opaque") == b"y"
    assert _getxattr(shm / "x/e", "user.overlay.opaque") == b"x"
    assert _getxattr(shm / "x", "user.overlay.opaque") == b"x"
    assert _getxattr(shm / "x/e/gone", "user.overlay.whiteout") is not None
    assert (shm / "x/e/gone").stat().st_size == 0
    if ROOT:
        write_overlay_dir(layer, shm / "c")
        st = os.lstat(shm / "c/top")
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
        assert _getxattr(shm / "c/d", "trusted.overlay.opaque") == b"y"
        assert _getxattr(shm / "c/e", "trusted.overlay.opaque") is None


# --- what the overlay form cannot say, and how the writer spells it -------------------------


def test_implied_parents_are_0755_root_mtime_0(shm: Path) -> None:
    write_overlay_dir(Layer.from_dict({"/a/b/c": "x"}), shm / "l", xattr_namespace="user",
                      whiteout_form="xattr")
    back = read_overlay_dir(shm / "l")
    assert [(e.path, e.mode, e.uid, e.mtime) for e in back.entries if e.is_dir] == [
        ("/a", 0o755, 0, 0), ("/a/b", 0o755, 0, 0)]


def test_whiteout_next_to_a_directory_becomes_opaque(shm: Path) -> None:
    entries = [Entry("/d", EntryKind.WHITEOUT), Entry("/d", EntryKind.DIR, mode=0o700),
               Entry("/f", EntryKind.WHITEOUT),
               Entry("/f", EntryKind.FILE, size=1, digest=_ONE)]
    layer = Layer.from_entries(entries, lambda e: b"1")
    write_overlay_dir(layer, shm / "l", xattr_namespace="user", whiteout_form="xattr")
    back = read_overlay_dir(shm / "l")
    assert (back.opaques, back.whiteouts) == ({"/d"}, frozenset())
    lower = Layer.from_dict({"/d/old": "o", "/f": Dir(), "/f/x": "x"})
    for top in (layer, back):
        assert Image.from_layers([lower, top]).view().paths() == ["/d", "/f"]


def test_a_file_made_a_parent_by_its_own_layer_becomes_an_opaque_dir(shm: Path) -> None:
    # union row 19 inside one layer: "/a" (a file) then "/a/b": the file had already hidden
    # the lower "/a/x", and the directory that replaces it must keep it hidden.
    entries = [Entry("/a", EntryKind.FILE, size=1, digest=_ONE),
               Entry("/a/b", EntryKind.FILE, size=1, digest=_ONE)]
    layer = Layer.from_entries(entries, lambda e: b"1")
    write_overlay_dir(layer, shm / "l", xattr_namespace="user", whiteout_form="xattr")
    back = read_overlay_dir(shm / "l")
    assert back.opaques == {"/a"}
    lower = Layer.from_dict({"/a/x": "x"})
    for top in (layer, back):
        assert Image.from_layers([lower, top]).view().paths() == ["/a", "/a/b"]


def test_pointless_whiteouts_are_not_written(shm: Path) -> None:
    layer = Layer.from_dict({"/o": Opaque(), "/o/x": Whiteout(), "/w": Whiteout(),
                             "/w/y": Whiteout(), "/kept": Whiteout()})
    write_overlay_dir(layer, shm / "l", xattr_namespace="user", whiteout_form="xattr")
    assert read_overlay_dir(shm / "l").whiteouts == {"/w", "/kept"}


def test_whiteout_below_a_symlink_of_the_layer_is_not_followed(shm: Path) -> None:
    entries = [Entry("/a", EntryKind.WHITEOUT), Entry("/a/a", EntryKind.WHITEOUT),
               Entry("/a", EntryKind.SYMLINK, mode=0o777, linkname="a")]
    write_overlay_dir(Layer.from_entries(entries, {}), shm / "l", xattr_namespace="user",
                      whiteout_form="xattr")
    assert os.readlink(shm / "l/a") == "a"
    assert read_overlay_dir(shm / "l").whiteouts == frozenset()


def test_hardlink_across_layers_is_refused(shm: Path) -> None:
    with pytest.raises(UnsupportedEntryError, match="cannot link across layers"):
        write_overlay_dir(Layer.from_dict({"/b": Hardlink("/a")}), shm / "l",
                          xattr_namespace="user", whiteout_form="xattr")


def test_never_writes_outside_the_directory(shm: Path) -> None:
    # a symlink of the layer where a later entry needs a directory: replaced, not followed
    outside = shm / "outside"
    outside.mkdir()
    entries = [Entry("/a", EntryKind.SYMLINK, mode=0o777, linkname=str(outside)),
               Entry("/a/x", EntryKind.FILE, size=1, digest=_ONE)]
    layer = Layer.from_entries(entries, lambda e: b"1")
    write_overlay_dir(layer, shm / "l", xattr_namespace="user", whiteout_form="xattr")
    assert list(outside.iterdir()) == []
    assert (shm / "l/a").is_dir() and not (shm / "l/a").is_symlink()


def test_refuses_a_non_empty_target(shm: Path) -> None:
    (shm / "l").mkdir()
    (shm / "l/x").touch()
    with pytest.raises(FileExistsError):
        write_overlay_dir(Layer.from_dict({"/a": "1"}), shm / "l", xattr_namespace="user",
                          whiteout_form="xattr")


def test_content_changed_after_reading_is_detected(shm: Path) -> None:
    (shm / "l").mkdir()
    (shm / "l/f").write_bytes(b"before")
    layer = read_overlay_dir(shm / "l")
    (shm / "l/f").write_bytes(b"after!")
    with pytest.raises(DigestMismatchError, match="changed"):
        layer.read("/f")


def test_bad_arguments(shm: Path) -> None:
    with pytest.raises(ValueError, match="xattr_namespace"):
        read_overlay_dir(shm, xattr_namespace="security")
    with pytest.raises(ValueError, match="whiteout_form"):
        write_overlay_dir(Layer.from_dict({}), shm / "l",
                          whiteout_form="aufs")  # type: ignore[arg-type]
