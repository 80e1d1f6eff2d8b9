"""flatten and the scoped writer: hostile-input.md classes, with a sentinel "victim" beside DEST."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from layerlab import (
    BrokenHardlinkError,
    CharDevice,
    Dir,
    Fifo,
    File,
    Hardlink,
    Image,
    Layer,
    LayerlabError,
    LimitExceededError,
    Limits,
    MalformedWhiteoutError,
    Opaque,
    Symlink,
    UnsafePathError,
    Whiteout,
)
from layerlab.formats import flatten, load

# the module, not the function of the same name that layerlab.formats exports
flatten_module = importlib.import_module("layerlab.formats.flatten")
#: the scoped writer flatten (and the ptrace executor) materialize a view with
materialize_module = importlib.import_module("layerlab.materialize")

Snapshot = dict[str, tuple[Any, ...]]


@pytest.fixture
def arena(tmp_path: Path) -> Path:
    """``tmp_path`` with ``victim/`` beside where DEST will go. Its file's atime is older
    than its ctime, so any read of it (relatime) moves the atime and shows in a snapshot."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "f").write_bytes(b"secret")
    os.utime(victim / "f", (1000, 2000))
    os.utime(victim, (1000, 2000))
    return tmp_path


def snapshot(victim: Path) -> Snapshot:
    """Names, types, modes, owners, sizes and times under ``victim`` (reads no content)."""
    out: Snapshot = {}
    for path in [victim, *sorted(victim.rglob("*"))]:
        st = os.lstat(path)
        out[str(path)] = (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns, st.st_atime_ns)
    return out


def test_the_sentinel_notices_a_read(arena: Path) -> None:
    before = snapshot(arena / "victim")
    (arena / "victim" / "f").read_bytes()
    assert snapshot(arena / "victim") != before


def raw_layer(members: list[tuple[str, str, Any]]) -> bytes:
    """A layer tar written without any checks: ``(name, type, data-or-linkname)``."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE,
                         "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
            if kind == "file":
                info.size = len(value)
                tf.addfile(info, io.BytesIO(value))
            else:
                info.linkname = value or ""
                info.mode = 0o755
                tf.addfile(info)
    return out.getvalue()


def oci_layout(root: Path, layers: list[bytes]) -> Path:
    """An OCI layout whose config honestly describes ``layers`` (so only the content is bad)."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"mediaType": "application/octet-stream", "digest": f"sha256:{digest}",
                "size": len(data)}

    diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in layers]
    config = put(json.dumps({"rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode())
    manifest = put(json.dumps({"schemaVersion": 2, "config": config,
                               "layers": [put(gzip.compress(t)) for t in layers]}).encode())
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest]}))
    return root


HOSTILE_LOADS = {
    "dotdot": ([[("../x", "file", b"x")]], UnsafePathError, "'../x': path escapes the root"),
    "slash-dotdot": ([[("/../x", "file", b"x")]], UnsafePathError, "'/../x'"),
    "deep-dotdot": ([[("a/../../x", "file", b"x")]], UnsafePathError, "'a/../../x'"),
    "bare-dotdot": ([[("..", "dir", None)]], UnsafePathError, "'..'"),
    "root-symlink": ([[(".", "symlink", "/")]], UnsafePathError, "root must be a directory"),
    "root-file": ([[(".", "file", b"")]], UnsafePathError, "root must be a directory"),
    "hardlink-up": ([[("h", "hardlink", "../victim/f")]], UnsafePathError, "../victim/f"),
    "hardlink-slash-up": ([[("h", "hardlink", "/../victim/f")]], UnsafePathError,
                          "/../victim/f"),
    "hardlink-sibling": ([[("h", "hardlink", "../dest-evil/f")]], UnsafePathError,
                         "dest-evil"),
    "wh-empty": ([[(".wh.", "file", b"")]], MalformedWhiteoutError, "'.wh.'"),
    "wh-dot": ([[(".wh..", "file", b"")]], MalformedWhiteoutError, "names nothing"),
    "wh-dotdot": ([[(".wh...", "file", b"")]], MalformedWhiteoutError, "names nothing"),
    "wh-in-dir": ([[("d/.wh..", "file", b"")]], MalformedWhiteoutError, "d/.wh.."),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_LOADS))
def test_hostile_layers_fail_to_load_and_touch_nothing(arena: Path, case: str) -> None:
    layers, error, message = HOSTILE_LOADS[case]
    src = oci_layout(arena / "src", [raw_layer(m) for m in layers])
    before = snapshot(arena / "victim")
    with pytest.raises(error, match=message.replace(".", r"\.").replace("(", r"\(")):
        flatten(load(src), arena / "dest")
    assert not (arena / "dest").exists()
    assert not (arena / "dest-evil").exists()
    assert snapshot(arena / "victim") == before


def test_hardlink_to_a_directory_is_refused_at_flatten(arena: Path) -> None:
    src = oci_layout(arena / "src", [raw_layer([("d", "dir", None), ("h", "hardlink", "d")])])
    with pytest.raises(BrokenHardlinkError, match=r"'/h' -> '/d': the target is a directory"):
        flatten(load(src), arena / "dest")
    assert not (arena / "dest").exists()


WRITE_THROUGH = {
    "one-hop": [[("link", "symlink", "../victim")], [("link/file", "file", b"evil")]],
    "same-layer": [[("link", "symlink", "../victim"), ("link/file", "file", b"evil")]],
    "two-hop": [[("in", "dir", None), ("in/up", "symlink", "..")],
                [("in/up/esc", "symlink", "../victim")], [("in/up/esc/new", "file", b"evil")]],
    "root-link": [[("foo", "symlink", "/")], [("foo/tmp/x", "file", b"evil")]],
    "abs-escape": [[("abs", "symlink", str(Path("/") / "..") + "/victim")],
                   [("abs/f", "file", b"evil")]],
}


@pytest.mark.parametrize("case", sorted(WRITE_THROUGH))
def test_writing_through_symlinks_stays_inside(arena: Path, case: str) -> None:
    src = oci_layout(arena / "src", [raw_layer(m) for m in WRITE_THROUGH[case]])
    before = snapshot(arena / "victim")
    img = load(src)
    flatten(img, arena / "dest")
    flatten(img, arena / "dest.tar")
    assert snapshot(arena / "victim") == before
    assert sorted(p.name for p in arena.iterdir()) == ["dest", "dest.tar", "src", "victim"]
    for entry in img.view().walk():  # the tree on disk is the view, symlinks as they are
        on_disk = arena / "dest" / entry.path[1:]
        assert os.path.lexists(on_disk), entry.path
        if entry.kind.value == "symlink":
            assert os.readlink(on_disk) == entry.linkname


def test_metadata_never_follows_links(arena: Path) -> None:
    """A symlink at the victim, and a hardlink to that symlink, with owner and times set."""
    target = str(arena / "victim" / "f")
    layer0 = Layer.from_dict({"/s": Symlink(target, uid=1234, gid=1234, mtime=5)})
    layer1 = Layer.from_dict({"/h": Hardlink("/s")})
    before = snapshot(arena / "victim")
    flatten(Image.from_layers([layer0, layer1]), arena / "dest")
    assert snapshot(arena / "victim") == before
    for name in ("s", "h"):
        st = os.lstat(arena / "dest" / name)
        assert stat.S_ISLNK(st.st_mode) and os.readlink(arena / "dest" / name) == target
        assert st.st_mtime == 5
        if os.geteuid() == 0:
            assert st.st_uid == 1234


def test_flatten_materializes_the_view(arena: Path) -> None:
    layer0 = Layer.from_dict({
        "/etc/passwd": File("root:x:0:0\n", mtime=100),
        "/usr/bin/perl": File(b"#!perl", mode=0o755, uid=7, gid=8),
        "/usr/bin/perl5": Hardlink("/usr/bin/perl"),
        "/bin/su": File(b"su", mode=0o4755),
        "/data": Dir(mode=0o700, mtime=300),
        "/dev/null": CharDevice(1, 3),
        "/run/pipe": Fifo(mode=0o600),
        "/lib/dangling": Symlink("/nowhere"),
        "/old/a": "a", "/old/b": "b",
    })
    layer1 = Layer.from_dict({"/old": Opaque(), "/old/c": "c", "/etc/passwd": Whiteout(),
                              "/tmp": Dir(mode=0o1777)})
    result = flatten(Image.from_layers([layer0, layer1]), arena / "dest", create_devices=False)
    dest = arena / "dest"
    assert sorted(os.listdir(dest)) == ["bin", "data", "dev", "etc", "lib", "old", "run", "tmp",
                                    "usr"]
    assert os.listdir(dest / "etc") == []  # passwd was whited out
    assert sorted(os.listdir(dest / "old")) == ["c"]
    perl, perl5 = os.lstat(dest / "usr/bin/perl"), os.lstat(dest / "usr/bin/perl5")
    assert perl.st_ino == perl5.st_ino and stat.S_IMODE(perl.st_mode) == 0o755
    if os.geteuid() == 0:
        assert (perl.st_uid, perl.st_gid) == (7, 8)
    assert stat.S_IMODE(os.lstat(dest / "bin/su").st_mode) == 0o755  # setuid dropped
    assert result.dropped_privileges == ["/bin/su"]
    assert stat.S_IMODE(os.lstat(dest / "tmp").st_mode) == 0o1777
    data = os.lstat(dest / "data")
    assert (stat.S_IMODE(data.st_mode), data.st_mtime) == (0o700, 300)
    assert result.skipped_devices == ["/dev/null"]
    assert os.listdir(dest / "dev") == []
    assert stat.S_ISFIFO(os.lstat(dest / "run/pipe").st_mode)
    assert os.readlink(dest / "lib/dangling") == "/nowhere"

    kept = flatten(Image.from_layers([layer0]), arena / "kept", allow_setuid=True,
                   create_devices=False)
    assert stat.S_IMODE(os.lstat(arena / "kept/bin/su").st_mode) == 0o4755
    assert kept.dropped_privileges == []


def test_devices_need_root(arena: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    img = Image.from_layers([Layer.from_dict({"/dev/null": CharDevice(1, 3)})])
    monkeypatch.setattr(flatten_module.os, "geteuid", lambda: 1000)
    with pytest.raises(LayerlabError, match=r"create_devices=True needs root"):
        flatten(img, arena / "dest", create_devices=True)
    assert flatten(img, arena / "auto").skipped_devices == ["/dev/null"]


@pytest.mark.reference
@pytest.mark.skipif(os.geteuid() != 0, reason="only root can create device nodes")
def test_root_creates_devices_when_asked(arena: Path) -> None:
    img = Image.from_layers([Layer.from_dict({"/dev/null": CharDevice(1, 3, mode=0o666)})])
    flatten(img, arena / "dest", create_devices=True)
    st = os.lstat(arena / "dest/dev/null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1


def test_broken_hardlink_becomes_a_copy(arena: Path) -> None:
    layer0 = Layer.from_dict({"/a": "one", "/b": Hardlink("/a")})
    layer1 = Layer.from_dict({"/a": "two"})
    result = flatten(Image.from_layers([layer0, layer1]), arena / "dest")
    assert result.copied_hardlinks == ["/b"]
    assert (arena / "dest/a").read_text() == "two"
    assert (arena / "dest/b").read_text() == "one"


def test_destination_rules(arena: Path) -> None:
    img = Image.from_layers([Layer.from_dict({"/x": "x"})])
    (arena / "full").mkdir()
    (arena / "full" / "keep").write_text("k")
    with pytest.raises(LayerlabError, match=r"not empty"):
        flatten(img, arena / "full")
    os.symlink(arena / "victim", arena / "link")
    before = snapshot(arena / "victim")
    with pytest.raises(UnsafePathError, match=r"symlink"):
        flatten(img, arena / "link")
    assert snapshot(arena / "victim") == before
    (arena / "empty").mkdir()
    assert flatten(img, arena / "empty").entries == 1


def test_flatten_to_tar_is_the_view(arena: Path) -> None:
    layer0 = Layer.from_dict({"/z": "z", "/a/link": Hardlink("/z"), "/s": File(b"", mode=0o6755)})
    img = Image.from_layers([layer0])
    result = flatten(img, arena / "out.tar")
    again = load_tar_view(arena / "out.tar")
    assert again == {"a": "dir", "a/link": "hardlink", "s": "file", "z": "file"}
    assert result.dropped_privileges == ["/s"]
    assert Layer.from_tar(arena / "out.tar").get("/s").mode == 0o755  # type: ignore[union-attr]


def load_tar_view(path: Path) -> dict[str, str]:
    kinds = {tarfile.DIRTYPE: "dir", tarfile.REGTYPE: "file", tarfile.LNKTYPE: "hardlink"}
    with tarfile.open(path) as tf:
        return {m.name: kinds[m.type] for m in tf.getmembers()}


def test_resource_caps_reach_load(arena: Path) -> None:
    src = oci_layout(arena / "src", [raw_layer([(f"f{i}", "file", b"") for i in range(20)])])
    with pytest.raises(LimitExceededError, match=r"max_entries=10"):
        load(src, limits=Limits(max_entries=10))
    bomb = oci_layout(arena / "bomb", [raw_layer([("big", "file", b"\0" * 200_000)])])
    with pytest.raises(LimitExceededError, match=r"max_layer_bytes=100000"):
        load(bomb, limits=Limits(max_layer_bytes=100_000))
    long = oci_layout(arena / "long", [raw_layer([("n" * 300, "file", b"")])])
    with pytest.raises(LimitExceededError, match=r"max_path_bytes=200"):
        load(long, limits=Limits(max_path_bytes=200))


def test_a_directory_moved_out_of_dest_during_the_run_receives_nothing(arena: Path) -> None:
    # CVE-2018-15664's shape: a second writer on DEST moves a directory out while flatten
    # writes below it. Flatten writes into a private staging directory instead, so DEST
    # has nothing to move until the finished tree is renamed into place.
    import threading

    files = {f"/a/f{i:04d}": File(b"x") for i in range(200)}
    img = Image.from_layers([Layer.from_dict({"/a": Dir(), **files})])
    dest, outside = arena / "dest", arena / "outside"
    dest.mkdir()
    outside.mkdir()
    go, done = threading.Event(), threading.Event()
    moved: list[int] = []

    def second_writer() -> None:
        go.wait(10)
        try:
            os.rename(dest / "a", outside / "a")
            moved.append(len(os.listdir(outside / "a")))
        except FileNotFoundError:
            pass
        done.set()

    thread = threading.Thread(target=second_writer)
    thread.start()
    original = materialize_module._copy_into
    calls = [0]

    def copy_into(content: Any, fd: int) -> None:
        calls[0] += 1
        if calls[0] == 50:  # in the middle of /a: let the other writer act, then go on
            go.set()
            done.wait(10)
        original(content, fd)

    try:
        materialize_module._copy_into = copy_into  # type: ignore[assignment]
        result = flatten(img, dest)
    finally:
        materialize_module._copy_into = original  # type: ignore[assignment]
        go.set()
        thread.join()
    assert moved == []  # nothing of ours was in DEST to move
    assert os.listdir(outside) == []
    assert len(os.listdir(dest / "a")) == 200 and result.entries == 201
    assert not [n for n in os.listdir(arena) if n.startswith(".layerlab-flatten-")]


def test_dest_that_filled_up_during_the_run_is_refused_and_left_alone(arena: Path) -> None:
    img = Image.from_layers([Layer.from_dict({f"/f{i}": "x" for i in range(20)})])
    dest = arena / "dest"
    dest.mkdir()
    original = materialize_module._copy_into

    def copy_into(content: Any, fd: int) -> None:
        if not (dest / "planted").exists():
            (dest / "planted").write_text("theirs")
        original(content, fd)

    materialize_module._copy_into = copy_into  # type: ignore[assignment]
    try:
        with pytest.raises(LayerlabError, match="not empty any more"):
            flatten(img, dest)
    finally:
        materialize_module._copy_into = original  # type: ignore[assignment]
    assert os.listdir(dest) == ["planted"]
    assert not [n for n in os.listdir(arena) if n.startswith(".layerlab-flatten-")]


@pytest.mark.reference
@pytest.mark.skipif(os.geteuid() != 0, reason="the point is what root does")
def test_root_does_not_make_an_images_block_device_by_default(arena: Path) -> None:
    from layerlab import BlockDevice

    img = Image.from_layers([Layer.from_dict({"/dev/sda": BlockDevice(8, 0, mode=0o666),
                                              "/dev/null": CharDevice(1, 3, mode=0o666)})])
    result = flatten(img, arena / "dest")
    assert not os.path.lexists(arena / "dest/dev/sda")
    assert not os.path.lexists(arena / "dest/dev/null")
    assert sorted(result.skipped_devices) == ["/dev/null", "/dev/sda"]
