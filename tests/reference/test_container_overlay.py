"""Kernel reference: the container's copy-on-write against a real overlayfs mount.

The random operation sequences of tests/test_container_property.py run twice: in a
:class:`Container`, and with real system calls on an overlay mount whose lower dirs are the
base image's layers (:func:`write_overlay_dir`) and whose upper dir is empty. The kernel's
upper dir, read back with :func:`read_overlay_dir` and stacked on the base layers, must give
the same merged view as ``container.commit()``: paths, kinds, modes, owners, sizes,
contents and link targets (mtimes excluded). Each operation must also succeed or fail in
both alike.

The mount has ``redirect_dir=off`` (so renaming a lower directory fails with EXDEV, and the
operation falls back to copy and delete, as ``mv`` does) and ``metacopy=off`` (so a chmod
copies the whole file up, as a layer tar must carry it). The operations run in a forked
child chrooted into the mount, so absolute symlink targets stay inside it.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import stat
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from test_container_property import BASES, OP_LISTS, Op, apply_op, base_image, snapshot

from layerlab import Image, Whiteout
from layerlab.container import Container
from layerlab.overlaydir import read_overlay_dir, write_overlay_dir
from layerlab.processes import Host

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
OVERLAY_OPTIONS = "redirect_dir=off,metacopy=off,index=off,xino=off"


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount_overlay(lowers: list[str], upper: str, work: str, target: str) -> None:
    opts = (f"lowerdir={':'.join(reversed(lowers))},upperdir={upper},workdir={work},"
            f"{OVERLAY_OPTIONS}")
    _check(_libc.mount(b"overlay", target.encode(), b"overlay", 0, opts.encode()),
           f"mount -t overlay -o {opts} {target}")


def _umount(target: str) -> None:
    _check(_libc.umount2(target.encode(), 0), f"umount {target}")


# --- the operations as system calls (run chrooted in the mount, umask 0) -------------------


def _isdir(path: str) -> bool:
    return stat.S_ISDIR(os.lstat(path).st_mode)


def _write(path: str, data: bytes, *, append: bool = False) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _mkdir_p(path: str) -> None:
    current = ""
    for name in path.strip("/").split("/"):
        current += "/" + name
        try:
            os.mkdir(current, 0o755)
        except FileExistsError:
            if not os.path.isdir(current):
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", current) from None


def _rm_r(path: str) -> None:
    if _isdir(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _copy_item(src: str, dst: str, *, keep_meta: bool) -> None:
    st_ = os.lstat(src)
    if stat.S_ISDIR(st_.st_mode):
        if not os.path.lexists(dst):
            os.mkdir(dst, stat.S_IMODE(st_.st_mode))
        elif keep_meta or not _isdir(dst):
            raise FileExistsError(errno.EEXIST, "file exists", dst)
        else:
            return  # like cp -r into an existing directory: its metadata stays
    elif stat.S_ISLNK(st_.st_mode):
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "file exists", dst)
        os.symlink(os.readlink(src), dst)
    else:
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "file exists", dst)
        shutil.copyfile(src, dst, follow_symlinks=False)
        os.chmod(dst, stat.S_IMODE(st_.st_mode))
    if keep_meta:  # mv keeps owners and modes
        os.lchown(dst, st_.st_uid, st_.st_gid)
        if not stat.S_ISLNK(st_.st_mode):
            os.chmod(dst, stat.S_IMODE(st_.st_mode))


def _copy_tree(src: str, dst: str, *, keep_meta: bool) -> None:
    """Parents before children, names sorted (what the engine does)."""
    _copy_item(src, dst, keep_meta=keep_meta)
    if _isdir(src):
        for name in sorted(os.listdir(src)):
            _copy_tree(f"{src}/{name}", f"{dst}/{name}", keep_meta=keep_meta)


def _rename(src: str, dst: str) -> None:
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # What mv does when rename(2) refuses: copy, then delete the source.
        if os.path.lexists(dst):
            if _isdir(dst) and os.listdir(dst):
                raise OSError(errno.ENOTEMPTY, "directory not empty", dst) from None
            _rm_r(dst)
        _copy_tree(src, dst, keep_meta=True)
        _rm_r(src)


def _copy(src: str, dst: str) -> None:
    """``Container.copy(src, dst, recursive=True)``: dst is the new name, like ``cp -rT``."""
    if stat.S_ISREG(os.lstat(src).st_mode):
        with open(src, "rb") as f:
            data = f.read()
        _write(dst, data)
        os.chmod(dst, stat.S_IMODE(os.lstat(src).st_mode))
        return
    real_src = os.path.join(os.path.realpath(os.path.dirname(src)), os.path.basename(src))
    real_dst = os.path.join(os.path.realpath(os.path.dirname(dst)), os.path.basename(dst))
    if real_dst.startswith(real_src + "/"):
        raise OSError(errno.EINVAL, "cannot copy a directory into itself", dst)
    _copy_tree(src, dst, keep_meta=False)


def _touch(path: str) -> None:
    if os.path.exists(path):
        os.utime(path)
    else:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))


def _kernel_op(op: Op) -> None:
    name, *args = op
    if name == "write":
        _write(args[0], args[1])
    elif name == "append":
        _write(args[0], args[1], append=True)
    elif name == "mkdir":
        _mkdir_p(args[0])
    elif name == "rm":
        _rm_r(args[0])
    elif name == "rename":
        _rename(args[0], args[1])
    elif name == "copy":
        _copy(args[0], args[1])
    elif name == "chmod":
        os.chmod(args[0], args[1])
    elif name == "chown":
        os.chown(args[0], args[1], args[1])
    elif name == "touch":
        _touch(args[0])
    elif name == "symlink":
        os.symlink(args[0], args[1])
    else:
        raise ValueError(name)


def run_in_mount(merged: str, ops: list[Op]) -> list[bool]:
    """Apply ``ops`` in a child chrooted into ``merged``; which ones succeeded."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            os.close(read_fd)
            os.chroot(merged)
            os.chdir("/")
            os.umask(0)
            done = []
            for op in ops:
                try:
                    _kernel_op(op)
                except OSError:
                    done.append(False)
                else:
                    done.append(True)
            os.write(write_fd, json.dumps(done).encode())
            status = 0
        except BaseException:
            os.write(write_fd, traceback.format_exc().encode())
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        answer = f.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0, f"the chrooted child failed:\n{answer.decode()}"
    return json.loads(answer)


# --- the test ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def overlay_base(reference_tmpfs: Path) -> Iterator[Path]:
    """A tmpfs directory where this process may mount overlayfs with an upper dir."""
    if os.geteuid() != 0:
        pytest.skip("needs root: mounts overlayfs with an upper dir and chroots into it")
    base = Path(tempfile.mkdtemp(prefix="container-", dir=reference_tmpfs))
    probe = base / "probe"
    for d in ("l", "u", "w", "m"):
        (probe / d).mkdir(parents=True)
    try:
        _mount_overlay([str(probe / "l")], str(probe / "u"), str(probe / "w"), str(probe / "m"))
    except OSError as exc:
        pytest.skip(f"overlay mount with an upper dir not permitted here: {exc}")
    _umount(str(probe / "m"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def kernel_view(image: Image, ops: list[Op], where: Path) -> tuple[dict[str, Any], list[bool]]:
    lowers = []
    for i, layer in enumerate(image.layers):
        lowers.append(str(where / f"L{i}"))
        write_overlay_dir(layer, lowers[-1], xattr_namespace="trusted", whiteout_form="chardev")
    upper, work, merged = where / "upper", where / "work", where / "merged"
    for d in (upper, work, merged):
        d.mkdir()
    _mount_overlay(lowers, str(upper), str(work), str(merged))
    try:
        done = run_in_mount(str(merged), ops)
    finally:
        _umount(str(merged))
    upper_layer = read_overlay_dir(upper, xattr_namespace="trusted")
    return snapshot(Image.from_layers([*image.layers, upper_layer]).view()), done


def kernel_safe(specs: tuple[dict[str, Any], dict[str, Any] | None]) -> tuple[Any, Any]:
    """Drop base whiteouts that hide nothing (row 14: no-ops). In a directory with nothing
    below it overlayfs does not filter whiteouts: they show as unreadable entries (and
    ``rmdir`` fails), so a layer dir must not hold them; write_overlay_dir writes them."""
    first, second = specs
    if second is None:
        return specs
    below = set(base_image((first, None)).view().paths())
    return first, {p: v for p, v in second.items() if not isinstance(v, Whiteout) or p in below}


@pytest.mark.reference
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(specs=BASES, ops=OP_LISTS)
def test_container_matches_kernel_overlayfs(overlay_base: Path, specs, ops: list[Op]) -> None:
    image = base_image(kernel_safe(specs))
    c = Container(image, host=Host())
    engine_done = [apply_op(c, op) for op in ops]
    engine = snapshot(c.commit().view())
    where = Path(tempfile.mkdtemp(dir=overlay_base))
    try:
        kernel, kernel_done = kernel_view(image, ops, where)
    finally:
        shutil.rmtree(where, ignore_errors=True)
    outcomes = list(zip(ops, engine_done, kernel_done, strict=True))
    assert [o for o in outcomes if o[1] != o[2]] == [], "(op, engine, kernel): one failed only"
    assert engine == kernel
