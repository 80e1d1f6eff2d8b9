"""A store-backed container writes through only what changed (layerlab.store.upperdir).

After every operation the upper directory must read back as exactly what writing the
whole read-write layer would give (:func:`write_overlay_dir`), in both whiteout
spellings; a write is in the upper directory before ``stop``, a delete makes its
whiteout at once; ``stop`` and ``commit`` fsync; a ``kill -9`` between writes leaves a
store that verifies and reopens with every finished write.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from test_container_property import BASES, OP_LISTS, Op, apply_op, base_image

from layerlab import Image, Layer
from layerlab.container import Container
from layerlab.entry import Entry
from layerlab.overlaydir import read_overlay_dir, write_overlay_dir
from layerlab.processes import Host
from layerlab.store import Store
from layerlab.store.upperdir import UpperDir

FORMS = [{"xattr_namespace": "user", "whiteout_form": "xattr"}]
if os.geteuid() == 0:
    FORMS.append({"xattr_namespace": "trusted", "whiteout_form": "chardev"})


def _read_back(path: str) -> tuple[list[Entry], list[str], list[str]]:
    layer = read_overlay_dir(path)
    return list(layer.content_entries), sorted(layer.whiteouts), sorted(layer.opaques)


def _whole(c: Container, form: dict[str, Any], where: str) -> tuple[Any, ...]:
    fresh = tempfile.mkdtemp(dir=where)
    write_overlay_dir(c.rw.to_layer(), os.path.join(fresh, "d"), **form)
    return _read_back(os.path.join(fresh, "d"))


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f["whiteout_form"])
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(specs=BASES, ops=OP_LISTS)
def test_the_upper_dir_is_what_a_whole_write_gives(tmp_path: Any, form: dict[str, Any],
                                                   specs: Any, ops: list[Op]) -> None:
    c = Container(base_image(specs), host=Host())
    where = tempfile.mkdtemp(dir=tmp_path)
    upper = UpperDir(os.path.join(where, "upper"), **form)
    os.mkdir(upper.root)
    c.rw.take_changes()
    for op in ops:
        apply_op(c, op)
        upper.apply(c.rw, c.rw.take_changes() or ())
        assert _read_back(upper.root) == _whole(c, form, where), op


def test_hardlinks_keep_sharing_an_inode_on_disk(tmp_path: Any) -> None:
    c = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"})]).create_container()
    upper = UpperDir(str(tmp_path / "u"), xattr_namespace="user", whiteout_form="xattr")
    os.mkdir(upper.root)
    form = {"xattr_namespace": "user", "whiteout_form": "xattr"}
    c.hardlink("/etc/motd", "/m2")
    c.append("/m2", "more\n")  # writes the inode: both names
    upper.apply(c.rw, c.rw.take_changes() or ())
    assert os.stat(tmp_path / "u/m2").st_ino == os.stat(tmp_path / "u/etc/motd").st_ino
    assert (tmp_path / "u/m2").read_bytes() == b"hi\nmore\n"
    assert _read_back(upper.root) == _whole(c, form, str(tmp_path))
    c.remove("/etc/motd")  # the other name keeps the bytes
    upper.apply(c.rw, c.rw.take_changes() or ())
    assert (tmp_path / "u/m2").read_bytes() == b"hi\nmore\n"
    assert _read_back(upper.root) == _whole(c, form, str(tmp_path))


@pytest.fixture(params=["overlay2", "aufs", "containerd"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Store:
    return Store(os.path.join(tmp_path, "store"), driver=request.param)


def _image() -> Image:
    return Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n", "/etc/issue": "x\n"})])


def test_a_write_lands_in_the_upper_dir_before_stop(store: Store) -> None:
    c = store.create_container(_image(), name="wt")
    c.start()
    c.write("/happy.txt", "I was here\n")
    upper = store.container_dir(c)
    with open(os.path.join(upper, "happy.txt"), "rb") as f:
        assert f.read() == b"I was here\n"
    c.append("/etc/motd", "more\n")  # copy-up: the parent and the file
    with open(os.path.join(upper, "etc", "motd"), "rb") as f:
        assert f.read() == b"hi\nmore\n"
    assert not os.path.exists(os.path.join(upper, "etc", "issue"))


def test_a_delete_makes_the_whiteout_at_once(store: Store) -> None:
    c = store.create_container(_image(), name="wh")
    c.remove("/etc/issue")
    assert read_overlay_dir(store.container_dir(c)).whiteouts == {"/etc/issue"}
    c.remove("/etc", recursive=True)
    c.mkdir("/etc")  # over the whiteout: an opaque directory
    back = read_overlay_dir(store.container_dir(c))
    assert back.opaques == {"/etc"} and back.whiteouts == set()


def test_stop_and_commit_are_the_durability_points(store: Store,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    c = store.create_container(_image(), name="dur")
    c.start()
    monkeypatch.setattr(os, "fsync", fsync)
    for i in range(20):
        c.write(f"/f{i}", str(i))
    upper = store.container_dir(c)
    assert not [p for p in synced if p.startswith(upper)]  # a write is not an fsync
    c.stop()
    assert os.path.join(upper, "f7") in synced and upper in synced
    synced.clear()
    c.write("/after", "x")
    c.commit()
    assert os.path.join(upper, "after") in synced


def test_a_reopened_store_shows_the_written_through_changes(store: Store) -> None:
    c = store.create_container(_image(), name="re")
    c.mkdir("/a")
    c.write("/a/b", "1")
    c.remove("/etc/issue")
    clock = c.clock
    again = Store(store.root, driver=store.driver).container("re")  # no stop: no record
    assert again.read("/a/b") == b"1" and not again.exists("/etc/issue")
    assert again.clock == clock  # the clock follows the newest change
    assert [str(ch) for ch in again.diff()] == [str(ch) for ch in c.diff()]


WRITER = r"""
import sys
from layerlab.store import Store

store = Store(sys.argv[1], driver=sys.argv[2])
c = store.container("victim")
print("ready", flush=True)
n = 0
while True:
    c.write(f"/data/f{n:05d}", f"{n}\n" * 50)
    if n % 7 == 3:
        c.remove(f"/data/f{n - 1:05d}")
    print(n, flush=True)
    n += 1
"""


@pytest.mark.parametrize("driver", ["overlay2", "containerd"])
def test_kill_9_between_writes_leaves_a_store_that_verifies_and_reopens(
        tmp_path: Any, driver: str) -> None:
    root = os.path.join(tmp_path, "store")
    store = Store(root, driver=driver)
    c = store.create_container(_image(), name="victim")
    c.mkdir("/data")
    rng = random.Random(18)
    for round_ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, root, driver],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        done = -1
        deadline = time.monotonic() + rng.uniform(0.05, 0.4)
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            done = int(line)
        proc.kill()
        proc.communicate()
        assert proc.returncode == -9, f"round {round_}: the writer ended by itself"
        again = Store(root, driver=driver)
        report = again.verify(deep=False)
        assert report.ok, f"round {round_}: {report}"
        victim = again.container("victim")
        names = victim.listdir("/data")
        # every write the writer reported finished is there (or was deleted after)
        assert done >= 0, f"round {round_}: no write finished before the kill"
        for n in range(max(done - 5, 0), done + 1):
            if n % 7 != 2:  # those are deleted by the next step
                assert f"f{n:05d}" in names, (round_, n, done)
            elif n < done:
                assert f"f{n:05d}" not in names, (round_, n, done)
        last = done if done % 7 != 2 else done - 1
        assert victim.read(f"/data/f{last:05d}") == f"{last}\n".encode() * 50
