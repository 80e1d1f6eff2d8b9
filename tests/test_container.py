"""Containers: file operations, copy-on-write, diff, commit and the lifecycle.

Rows 10-13 and 22 refer to docs/union-semantics.md.
"""

from __future__ import annotations

import io
import tarfile

import pytest

from layerlab import Image, Layer
from layerlab.container import Container, ContainerState
from layerlab.entry import EntryKind, File, Symlink
from layerlab.errors import (
    ContainerStateError,
    DirectoryNotEmptyError,
    IsADirectoryError_,
    NotADirectoryError_,
    PathExistsError,
    PathLookupError,
    PathNotFoundError,
    UnsafePathError,
)
from layerlab.processes import Host

BASE = Layer.from_dict({
    "/etc/motd": "hello\n",
    "/etc/hostname": "box\n",
    "/d/x": "x",
    "/d/y": "y",
    "/d/sub/z": "z",
    "/bin/sh": File("#!busybox\n", mode=0o755),
    "/usr/lib/libc.so": "libc",
    "/lib": Symlink("usr/lib"),
    "/lnk": Symlink("/d"),
})
TOP = Layer.from_dict({"/etc/motd": "hello again\n", "/d/w": "w"})
IMAGE = Image.from_layers([BASE, TOP], config={"cmd": ["sleep", "infinity"]})


def new(image: Image = IMAGE) -> Container:
    return Container(image, host=Host())


def diff(c: Container) -> list[str]:
    return [str(change) for change in c.diff()]


def tar_names(layer: Layer) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(layer.to_tar())) as tf:
        return tf.getnames()


def copy_ups(c: Container) -> list[tuple[str, int, str]]:
    return [(u.path, u.from_layer, u.operation) for u in c.copy_ups]


# --- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "content"), [
    ("/etc/hostname", b"box\n"),
    ("/etc/motd", b"hello again\n"),      # the upper image layer wins
    ("/lib/libc.so", b"libc"),            # relative symlink in an intermediate component
    ("/lnk/x", b"x"),                     # absolute symlink in an intermediate component
    ("etc/hostname", b"box\n"),           # relative to the workdir "/"
])
def test_read(path: str, content: bytes) -> None:
    assert new().read(path) == content


@pytest.mark.parametrize(("path", "error"), [
    ("/nope", PathNotFoundError),
    ("/d", IsADirectoryError_),
    ("/etc/motd/x", NotADirectoryError_),
])
def test_read_errors(path: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        new().read(path)


def test_stat_listdir_exists() -> None:
    c = new()
    assert c.stat("/bin/sh").mode == 0o755
    assert c.stat("/lnk").kind is EntryKind.SYMLINK
    assert c.stat("/lnk", follow_symlinks=True).kind is EntryKind.DIR
    assert c.listdir("/d") == ["sub", "w", "x", "y"]
    assert c.listdir("/lnk") == ["sub", "w", "x", "y"]
    assert c.exists("/d/sub/z") and not c.exists("/d/nope")
    c.symlink("/nowhere", "/dangling")
    assert c.exists("/dangling")  # like lexists: the link itself is there


# --- writing and creating ----------------------------------------------------------------------


def test_write_new_file_is_added_without_copy_up_of_the_file() -> None:
    c = new()
    c.write("/etc/new.conf", "a=1\n")
    assert c.read("/etc/new.conf") == b"a=1\n"
    assert c.stat("/etc/new.conf").mode == 0o644
    assert copy_ups(c) == [("/etc", 0, "create")]
    assert diff(c) == ["C /etc", "A /etc/new.conf"]


@pytest.mark.parametrize(("op", "expected", "operation"), [
    (lambda c: c.write("/etc/motd", "bye\n"), b"bye\n", "write"),
    (lambda c: c.append("/etc/motd", "more\n"), b"hello again\nmore\n", "append"),
    (lambda c: c.write("/etc/motd", b"more\n", append=True), b"hello again\nmore\n", "append"),
])
def test_write_and_append_copy_up_a_lower_file(op, expected: bytes, operation: str) -> None:
    c = new()
    op(c)
    assert c.read("/etc/motd") == expected
    assert copy_ups(c) == [("/etc", 0, f"{operation} (parent)"), ("/etc/motd", 1, operation)]
    assert IMAGE.view().read("/etc/motd") == b"hello again\n"  # the image is untouched


def test_write_mode_and_errors() -> None:
    c = new()
    c.write("/run.sh", "#!/bin/sh\n", mode=0o700)
    assert c.stat("/run.sh").mode == 0o700
    with pytest.raises(IsADirectoryError_):
        c.write("/d", "x")
    with pytest.raises(PathNotFoundError):
        c.write("/no/such/dir/f", "x")
    with pytest.raises(NotADirectoryError_):
        c.write("/etc/motd/f", "x")


def test_write_through_a_dangling_symlink_creates_its_target() -> None:
    c = new()
    c.symlink("/d/made", "/link-to-new")
    c.write("/link-to-new", "via link")
    assert c.read("/d/made") == b"via link"
    assert c.stat("/link-to-new").kind is EntryKind.SYMLINK


@pytest.mark.parametrize(("path", "parents", "error"), [
    ("/etc", False, PathExistsError),
    ("/a/b/c", False, PathNotFoundError),
    ("/etc/motd/sub", True, NotADirectoryError_),
    ("/etc/motd", True, NotADirectoryError_),
])
def test_mkdir_errors(path: str, parents: bool, error: type[Exception]) -> None:
    with pytest.raises(error):
        new().mkdir(path, parents=parents)


def test_mkdir_and_mkdir_p() -> None:
    c = new()
    c.mkdir("/srv", mode=0o700)
    c.mkdir("/a/b/c", parents=True)
    c.mkdir("/a/b", parents=True)  # existing: fine, like mkdir -p
    c.mkdir("/lnk/via", parents=True)  # through a symlink to a lower dir
    assert c.stat("/srv").mode == 0o700
    assert c.stat("/a/b/c").kind is EntryKind.DIR
    assert c.exists("/d/via")
    assert diff(c) == ["A /a", "A /a/b", "A /a/b/c", "C /d", "A /d/via", "A /srv"]


def test_touch_creates_file_and_bumps_mtime() -> None:
    c = new()
    c.touch("/new")
    assert c.read("/new") == b"" and c.stat("/new").kind is EntryKind.FILE
    before = c.stat("/etc/hostname").mtime
    c.touch("/etc/hostname")
    assert c.stat("/etc/hostname").mtime > before
    assert c.read("/etc/hostname") == b"box\n"


def test_chmod_and_chown() -> None:
    c = new()
    c.chmod("/etc/hostname", 0o600)
    c.chown("/etc/hostname", 1000)
    st = c.stat("/etc/hostname")
    assert (st.mode, st.uid, st.gid) == (0o600, 1000, 0)
    c.chown("/etc/hostname", 5, 6)
    assert (c.stat("/etc/hostname").uid, c.stat("/etc/hostname").gid) == (5, 6)
    c.chmod("/lnk", 0o700)  # follows the symlink
    assert c.stat("/d").mode == 0o700
    assert c.stat("/lnk").mode == 0o777
    with pytest.raises(PathNotFoundError):
        c.chmod("/nope", 0o600)


def test_symlink() -> None:
    c = new()
    c.symlink("../etc/motd", "/d/m")
    assert c.stat("/d/m").linkname == "../etc/motd"
    assert c.read("/d/m") == b"hello again\n"
    with pytest.raises(PathExistsError):
        c.symlink("/x", "/d/m")
    with pytest.raises(PathNotFoundError):
        c.symlink("/x", "/no/dir/link")


# --- removing, renaming, copying ---------------------------------------------------------------


def test_remove_a_lower_file_leaves_a_whiteout() -> None:
    c = new()
    c.remove("/etc/hostname")
    assert not c.exists("/etc/hostname")
    assert c.rw.whiteouts == {"/etc/hostname"}
    assert diff(c) == ["C /etc", "D /etc/hostname"]


def test_remove_an_own_file_leaves_nothing() -> None:
    c = new()
    c.write("/tmpfile", "x")
    c.remove("/tmpfile")
    assert c.rw.listing() == [] and diff(c) == []


def test_remove_dirs() -> None:
    c = new()
    with pytest.raises(DirectoryNotEmptyError, match="not empty"):
        c.remove("/d")
    c.remove("/d/sub", recursive=True)
    c.mkdir("/empty")
    c.remove("/empty")  # an empty dir needs no recursive
    assert not c.exists("/d/sub") and not c.exists("/empty")
    assert diff(c) == ["C /d", "D /d/sub"]
    with pytest.raises(PathNotFoundError):
        c.remove("/empty")
    c.remove("/empty", missing_ok=True)
    with pytest.raises(PathLookupError, match="'/'"):
        c.remove("/", recursive=True)


def test_remove_through_and_of_symlinks() -> None:
    c = new()
    c.remove("/lnk/x")  # intermediate symlink followed
    assert not c.exists("/d/x")
    c.remove("/lnk")  # the link itself, never its target
    assert not c.exists("/lnk") and c.exists("/d/y")
    assert diff(c) == ["C /d", "D /d/x", "D /lnk"]


def test_rename_file() -> None:
    c = new()
    c.rename("/etc/hostname", "/etc/hostname.old")
    assert c.read("/etc/hostname.old") == b"box\n" and not c.exists("/etc/hostname")
    assert diff(c) == ["C /etc", "D /etc/hostname", "A /etc/hostname.old"]
    c.rename("/etc/hostname.old", "/etc/motd")  # replaces the target file
    assert c.read("/etc/motd") == b"box\n"


def test_rename_own_dir_moves_the_tree() -> None:
    c = new()
    c.mkdir("/a/b", parents=True)
    c.write("/a/b/f", "f")
    c.rename("/a", "/z")
    assert c.read("/z/b/f") == b"f" and not c.exists("/a")
    assert diff(c) == ["A /z", "A /z/b", "A /z/b/f"]


@pytest.mark.parametrize(("src", "dst", "error", "match"), [
    ("/d", "/d/sub/inside", PathLookupError, "into itself"),
    ("/nope", "/x", PathNotFoundError, "no such file"),
    ("/etc/motd", "/d", IsADirectoryError_, "is a directory"),
    ("/d", "/etc/motd", NotADirectoryError_, "not a directory"),
    ("/d/sub", "/d", PathLookupError, "into itself|not empty"),
    ("/etc", "/d", DirectoryNotEmptyError, "not empty"),
])
def test_rename_errors(src: str, dst: str, error: type[Exception], match: str) -> None:
    c = new()
    with pytest.raises(error, match=match):
        c.rename(src, dst)
    assert c.rw.listing() == []  # a refused rename changes nothing


def test_copy_file_keeps_mode_and_never_copies_up_the_source() -> None:
    c = new()
    c.copy("/bin/sh", "/bin/ash")
    assert c.read("/bin/ash") == b"#!busybox\n" and c.stat("/bin/ash").mode == 0o755
    assert copy_ups(c) == [("/bin", 0, "create")]
    assert diff(c) == ["C /bin", "A /bin/ash"]


def test_copy_recursive() -> None:
    c = new()
    with pytest.raises(IsADirectoryError_, match="recursive"):
        c.copy("/d", "/e")
    c.copy("/d", "/e", recursive=True)
    assert c.listdir("/e") == ["sub", "w", "x", "y"] and c.read("/e/sub/z") == b"z"
    assert c.exists("/d/x")
    assert diff(c) == ["A /e", "A /e/sub", "A /e/sub/z", "A /e/w", "A /e/x", "A /e/y"]
    with pytest.raises(PathLookupError, match="into itself"):
        c.copy("/d", "/d/sub/d2", recursive=True)


# --- hardlinks (row 13) ------------------------------------------------------------------------


def test_hardlink_to_a_lower_file_copies_it_up_and_shares_content() -> None:
    c = new()
    c.hardlink("/etc/motd", "/h")
    assert copy_ups(c) == [("/etc", 0, "hardlink (parent)"), ("/etc/motd", 1, "hardlink")]
    assert c.stat("/h").kind is EntryKind.HARDLINK
    c.append("/h", "via h\n")
    assert c.read("/etc/motd") == b"hello again\nvia h\n"
    c.write("/etc/motd", "via motd\n")
    assert c.read("/h") == b"via motd\n"
    c.chmod("/h", 0o600)
    assert c.stat("/etc/motd").mode == 0o600


def test_hardlink_breaks_when_the_target_is_removed_and_recreated() -> None:
    c = new()
    c.write("/f", "one")
    c.hardlink("/f", "/g")
    c.remove("/f")
    assert c.read("/g") == b"one"  # the other name keeps the inode
    c.write("/f", "two")
    assert (c.read("/f"), c.read("/g")) == (b"two", b"one")
    c.write("/g", "three")
    assert c.read("/f") == b"two"
    layer_view = c.commit().view()
    assert (layer_view.read("/f"), layer_view.read("/g")) == (b"two", b"three")


@pytest.mark.parametrize(("target", "path", "error"), [
    ("/d", "/dl", IsADirectoryError_),
    ("/nope", "/nl", PathNotFoundError),
    ("/etc/motd", "/etc/hostname", PathExistsError),
])
def test_hardlink_errors(target: str, path: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        new().hardlink(target, path)


def test_hardlink_survives_commit() -> None:
    c = new()
    c.hardlink("/etc/hostname", "/hn")
    layer = c.commit().layers[-1]
    assert layer.get("/hn").kind is EntryKind.HARDLINK
    assert layer.get("/hn").linkname == "/etc/hostname"
    assert c.commit().view().read("/hn") == b"box\n"


# --- copy-up bookkeeping -----------------------------------------------------------------------


def test_copy_up_recorded_once_per_path() -> None:
    c = new()
    c.chmod("/etc/motd", 0o600)
    c.write("/etc/motd", "a")
    c.append("/etc/motd", "b")
    c.touch("/etc/motd")
    c.chown("/etc/hostname", 1)
    c.touch("/d/sub/z")
    assert copy_ups(c) == [
        ("/etc", 0, "chmod (parent)"),
        ("/etc/motd", 1, "chmod"),
        ("/etc/hostname", 0, "chown"),
        ("/d", 0, "touch (parent)"),
        ("/d/sub", 0, "touch (parent)"),
        ("/d/sub/z", 0, "touch"),
    ]
    assert [u.seq for u in c.copy_ups] == [1, 2, 3, 4, 5, 6]
    assert [u.kind for u in c.copy_ups] == [EntryKind.DIR, EntryKind.FILE, EntryKind.FILE,
                                            EntryKind.DIR, EntryKind.DIR, EntryKind.FILE]
    assert "copy-up /etc/motd (file) from layer 1 for chmod" in [str(u) for u in c.copy_ups]


def test_own_files_are_never_copied_up() -> None:
    c = new()
    c.mkdir("/new")
    c.write("/new/f", "1")
    c.chmod("/new/f", 0o600)
    c.append("/new/f", "2")
    assert c.copy_ups == []


# --- rows 10, 11, 12, 22 -----------------------------------------------------------------------


def test_row10_dir_recreated_over_a_whiteout_is_opaque() -> None:
    c = new()
    c.remove("/d", recursive=True)
    c.mkdir("/d")
    c.touch("/d/n")
    assert c.listdir("/d") == ["n"]
    assert c.rw.opaques == {"/d"} and c.rw.whiteouts == set()
    image = c.commit()
    assert image.view().listdir("/d") == ["n"]
    assert tar_names(image.layers[-1]) == ["d", "d/.wh..wh..opq", "d/n"]
    assert diff(c) == ["C /d", "A /d/n", "D /d/sub", "D /d/w", "D /d/x", "D /d/y"]


@pytest.mark.parametrize("op", [
    lambda c: c.chmod("/etc/hostname", 0o600),
    lambda c: c.chown("/etc/hostname", 1000, 1000),
    lambda c: c.touch("/etc/hostname"),
])
def test_row11_metadata_change_carries_the_whole_file(op) -> None:
    c = new()
    op(c)
    layer = c.commit().layers[-1]
    assert [e.path for e in layer.entries] == ["/etc", "/etc/hostname"]
    assert layer.read("/etc/hostname") == b"box\n"
    assert layer.get("/etc/hostname").size == 4
    assert diff(c) == ["C /etc", "C /etc/hostname"]


def test_row11_touched_dir_is_re_emitted() -> None:
    c = new()
    c.touch("/d")
    layer = c.commit().layers[-1]
    assert [(e.path, e.kind) for e in layer.entries] == [("/d", EntryKind.DIR)]
    assert layer.get("/d").mtime > 0
    assert c.commit().view().listdir("/d") == ["sub", "w", "x", "y"]  # only the dir itself


def test_row12_rename_of_a_lower_dir() -> None:
    c = new()
    c.rename("/d", "/e")
    layer = c.commit().layers[-1]
    assert tar_names(layer) == [".wh.d", "e", "e/sub", "e/sub/z", "e/w", "e/x", "e/y"]
    assert layer.whiteouts == frozenset({"/d"})
    assert c.commit().view().read("/e/sub/z") == b"z"
    assert diff(c) == ["D /d", "A /e", "A /e/sub", "A /e/sub/z", "A /e/w", "A /e/x", "A /e/y"]
    assert copy_ups(c) == [("/d", 0, "rename"), ("/d/sub", 0, "rename"), ("/d/sub/z", 0, "rename"),
                           ("/d/w", 1, "rename"), ("/d/x", 0, "rename"), ("/d/y", 0, "rename")]


@pytest.mark.parametrize("op", [
    lambda c: c.write("/.wh.secret", "x"),
    lambda c: c.write("/d/.wh..wh..opq", "x"),
    lambda c: c.mkdir("/.wh.dir"),
    lambda c: c.touch("/etc/.wh.motd"),
    lambda c: c.symlink("/etc", "/.wh.etc"),
    lambda c: c.hardlink("/etc/motd", "/.wh.m"),
    lambda c: c.rename("/etc/motd", "/etc/.wh.motd"),
    lambda c: c.copy("/d", "/.wh.d", recursive=True),
])
def test_row22_wh_names_are_refused(op) -> None:
    c = new()
    with pytest.raises(UnsafePathError, match=r"'\.wh\.'.*whiteout"):
        op(c)
    assert not any(".wh." in p for p in c.view().paths())


# --- diff and the raw read-write layer ---------------------------------------------------------


@pytest.mark.parametrize(("ops", "expected"), [
    ([], []),
    ([lambda c: c.write("/happy.txt", "yes")], ["A /happy.txt"]),
    ([lambda c: c.append("/etc/motd", "x")], ["C /etc", "C /etc/motd"]),
    ([lambda c: c.remove("/d/sub/z")], ["C /d", "C /d/sub", "D /d/sub/z"]),
    ([lambda c: c.remove("/d", recursive=True)], ["D /d"]),
    ([lambda c: c.write("/tmp1", "x"), lambda c: c.remove("/tmp1")], []),
    ([lambda c: c.remove("/etc/motd"), lambda c: c.write("/etc/motd", "new")],
     ["C /etc", "C /etc/motd"]),
    ([lambda c: c.mkdir("/var/log/app", parents=True), lambda c: c.touch("/var/log/app/1")],
     ["A /var", "A /var/log", "A /var/log/app", "A /var/log/app/1"]),
])
def test_diff(ops, expected: list[str]) -> None:
    c = new()
    for op in ops:
        op(c)
    assert diff(c) == expected


def test_rw_listing_includes_whiteouts_and_opaques() -> None:
    c = new()
    c.remove("/etc/hostname")
    c.remove("/d", recursive=True)
    c.mkdir("/d")
    listing = [(e.path, e.kind) for e in c.rw.listing()]
    assert listing == [
        ("/d", EntryKind.DIR), ("/d", EntryKind.OPAQUE),
        ("/etc", EntryKind.DIR), ("/etc/hostname", EntryKind.WHITEOUT),
    ]
    assert c.rw.paths() == ["/d", "/etc", "/etc/hostname"]


# --- commit ------------------------------------------------------------------------------------


def test_commit_makes_a_new_image() -> None:
    c = new()
    c.write("/happy.txt", "I was here\n")
    image = c.commit(created_by="touch /happy.txt", message="my change", author="me")
    assert len(image.layers) == 3 and image.layers[:2] == IMAGE.layers
    assert image.history[-1].created_by == "touch /happy.txt"
    assert image.history[-1].comment == "my change"
    assert image.history[-1].author == "me"
    assert image.layers[-1].comment == "my change"
    assert image.view().read("/happy.txt") == b"I was here\n"
    assert not IMAGE.view().exists("/happy.txt") and len(IMAGE.layers) == 2
    assert image.config == IMAGE.config
    assert c.commit().history[-1].created_by == "sleep infinity"  # the default: the command
    assert c.read("/happy.txt") == b"I was here\n"  # the container keeps its layer


def test_commit_with_config_changes() -> None:
    image = new().commit(changes={"cmd": ["sh"]})
    assert image.config.cmd == ("sh",)


def test_commit_is_deterministic() -> None:
    def run() -> Image:
        c = new()
        c.mkdir("/a")
        c.write("/a/b", "1")
        c.chmod("/etc/motd", 0o600)
        c.remove("/d", recursive=True)
        c.mkdir("/d")
        c.hardlink("/a/b", "/a/c")
        c.symlink("b", "/a/s")
        return c.commit(created_by="ops")

    one, two = run(), run()
    assert one.layers[-1].diff_id == two.layers[-1].diff_id
    assert one.layers[-1].digest == two.layers[-1].digest
    assert one.id == two.id


def test_commit_of_an_empty_read_write_layer() -> None:
    image = new().commit()
    assert len(image.layers) == 3
    assert image.layers[-1].entries == ()
    assert image.view().paths() == IMAGE.view().paths()
    assert tar_names(image.layers[-1]) == []


def test_committed_layer_round_trips_through_tar() -> None:
    c = new()
    c.remove("/d", recursive=True)
    c.mkdir("/d")
    c.touch("/d/n")
    c.remove("/etc/hostname")
    c.hardlink("/etc/motd", "/m")
    layer = c.commit().layers[-1]
    again = Layer.from_tar(io.BytesIO(layer.to_tar()))
    assert again.diff_id == layer.diff_id
    assert again.entries == layer.entries


# --- lifecycle ---------------------------------------------------------------------------------


def test_lifecycle() -> None:
    c = new()
    assert c.state is ContainerState.CREATED
    c.start()
    assert c.state is ContainerState.RUNNING
    c.pause()
    assert c.state is ContainerState.PAUSED
    c.unpause()
    assert c.state is ContainerState.RUNNING
    c.stop()
    # sleep as PID 1 has no SIGTERM handler: the kernel ignores SIGTERM, SIGKILL follows
    assert (c.state, c.exit_code) == (ContainerState.EXITED, 137)
    assert "grace period" in c.stop_reason
    c.start()
    c.kill()
    assert (c.state, c.exit_code) == (ContainerState.EXITED, 137)
    c.rm()
    assert c.state is ContainerState.REMOVED
    assert str(c.state) == "removed"


def test_stop_of_a_pid_1_with_a_sigterm_handler_or_init_is_143() -> None:
    handler = Image.from_layers([BASE, TOP], config={
        "cmd": ["sh", "-c", "trap 'exit 143' TERM; sleep infinity & wait"]})
    c = Container(handler, host=Host())
    assert c.handles_sigterm
    c.start()
    c.stop()
    assert (c.state, c.exit_code) == (ContainerState.EXITED, 143)
    plain = Container(IMAGE, host=Host(), init=True)  # docker run --init: tini is PID 1
    assert plain.handles_sigterm
    plain.start()
    plain.stop()
    assert plain.exit_code == 143 and "tini" in plain.stop_reason
    assert not Container(IMAGE, host=Host()).handles_sigterm


@pytest.mark.parametrize(("setup", "action", "match"), [
    ([], lambda c: c.stop(), "cannot stop container .*: it is created"),
    ([], lambda c: c.kill(), "cannot kill container .*: it is created"),
    ([], lambda c: c.pause(), "cannot pause container .*: it is created"),
    ([], lambda c: c.unpause(), "cannot unpause container .*: it is created"),
    ([], lambda c: c.exec("ls"), "cannot exec in container .*: it is created"),
    (["start"], lambda c: c.start(), "already running"),
    (["start"], lambda c: c.unpause(), "cannot unpause .*: it is running"),
    (["start"], lambda c: c.rm(), "cannot remove container .*running.*force=True"),
    (["start", "pause"], lambda c: c.rm(), "cannot remove container .*paused"),
    (["start", "pause"], lambda c: c.pause(), "cannot pause .*: it is paused"),
    (["start", "pause"], lambda c: c.exec("ls"), "cannot exec .*: it is paused"),
    (["start", "pause"], lambda c: c.start(), "already paused"),
    (["start", "stop"], lambda c: c.exec(["ls"]), "cannot exec .*: it is exited"),
    (["start", "stop"], lambda c: c.stop(), "cannot stop .*: it is exited"),
    (["start", "stop"], lambda c: c.pause(), "cannot pause .*: it is exited"),
    (["rm"], lambda c: c.start(), "cannot start: it was removed"),
    (["rm"], lambda c: c.rm(), "cannot rm: it was removed"),
    (["rm"], lambda c: c.exec("ls"), "it was removed"),
])
def test_illegal_transitions(setup: list[str], action, match: str) -> None:
    c = new()
    for step in setup:
        getattr(c, step)()
    before = c.state
    with pytest.raises(ContainerStateError, match=match):
        action(c)
    assert c.state is before


def test_rm_force_stops_a_running_container() -> None:
    c = new().start()
    c.rm(force=True)
    assert c.state is ContainerState.REMOVED
    assert c.top() == []


def test_files_persist_after_stop_and_go_with_rm() -> None:
    c = new().start()
    c.write("/happy.txt", "I was here\n")
    c.stop()
    assert c.read("/happy.txt") == b"I was here\n"
    assert [e.path for e in c.rw.listing()] == ["/happy.txt"]
    assert diff(c) == ["A /happy.txt"]
    c.start()
    assert c.read("/happy.txt") == b"I was here\n"  # a restart keeps the layer too
    c.stop()
    c.rm()
    assert c.rw.listing() == []
    for op in (lambda: c.read("/happy.txt"), lambda: c.write("/x", "x"), c.diff, c.commit,
               lambda: c.listdir("/"), lambda: c.remove("/etc/motd"), lambda: c.mkdir("/q")):
        with pytest.raises(ContainerStateError, match="removed"):
            op()


def test_happy_txt_story_with_the_shell() -> None:
    """The source text's example: ``docker run image touch /happy.txt`` exits at once, and
    its change stays in the read-write layer until ``docker rm``."""
    c = new(IMAGE.with_config(cmd=["touch", "/happy.txt"]))
    c.start()
    assert (c.state, c.exit_code) == (ContainerState.EXITED, 0)
    assert c.top() == []
    assert diff(c) == ["A /happy.txt"]
    assert c.exists("/happy.txt")
    c.rm()
    with pytest.raises(ContainerStateError, match="removed"):
        c.exists("/happy.txt")


def test_exec_changes_the_filesystem_and_returns_output() -> None:
    c = new().start()
    result = c.exec("echo hi > /greeting && cat /greeting && rm /etc/hostname")
    assert (result.exit_code, result.stdout) == (0, "hi\n")
    assert diff(c) == ["C /etc", "D /etc/hostname", "A /greeting"]
    missing = c.exec("no-such-command")
    assert missing.exit_code == 127 and "not found" in missing.stderr
    c.stop()
    with pytest.raises(ContainerStateError, match=r"cannot exec in container .*: it is exited"):
        c.exec("echo hi")
