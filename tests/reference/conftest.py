"""Fixtures for the reference tests: one tmpfs per session and the kernel overlay mounters.

Each mounter is probed once per session with a tiny two-layer mount (a whiteout and an
opaque directory); when that is not permitted here the tests that need it skip, naming why
(and fail instead under ``CI=true``, see tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from layerlab import Dir, Layer, Opaque, Whiteout
from layerlab.overlaydir import write_overlay_dir

from .overlay import DirectMounter, Mounter, UsernsMounter, mount_tmpfs, umount


@pytest.fixture(scope="session")
def reference_tmpfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tmpfs directory for the session: creating many small files on disk is slow."""
    if os.geteuid() == 0:
        base = tmp_path_factory.mktemp("tmpfs")
        try:
            mount_tmpfs(str(base))
        except OSError:
            pass  # root without CAP_SYS_ADMIN: fall back to /dev/shm below
        else:
            try:
                yield base
            finally:
                umount(str(base))
            return
    parent = "/dev/shm" if os.path.isdir("/dev/shm") else None
    base = Path(tempfile.mkdtemp(prefix="layerlab-ref-", dir=parent))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _probe(mounter: Mounter, base: Path) -> str | None:
    """None if ``mounter`` mounts a tiny stack correctly here, else why not."""
    work = Path(tempfile.mkdtemp(prefix="probe-", dir=base))
    try:
        lower = Layer.from_dict({"/gone": "x", "/d": Dir(), "/d/old": "y", "/kept": "z"})
        upper = Layer.from_dict({"/gone": Whiteout(), "/d": Opaque(), "/d/new": "n"})
        form = "chardev" if os.geteuid() == 0 else "xattr"
        for i, layer in enumerate((lower, upper)):
            write_overlay_dir(layer, str(work / f"L{i}"), xattr_namespace=mounter.xattr_namespace,
                              whiteout_form=form)
        (work / "m").mkdir()
        try:
            seen = mounter.mount_and_walk([str(work / "L0"), str(work / "L1")], str(work / "m"))
        except OSError as exc:
            return f"{mounter.name}: overlay mount not permitted here ({exc})"
        if sorted(seen) != ["/d", "/d/new", "/kept"]:
            return f"{mounter.name}: the probe mount shows {sorted(seen)}, not a working overlay"
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _mounter(kind: type[Mounter], base: Path) -> Iterator[Mounter]:
    if kind is UsernsMounter and shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed: no user-namespace overlay mounts")
    if kind is DirectMounter and os.geteuid() != 0:
        pytest.skip("direct overlay mounts need root")
    try:
        mounter = kind()
    except OSError as exc:
        pytest.skip(f"cannot start {kind.__name__}: {exc}")
    try:
        reason = _probe(mounter, base)
        if reason is not None:
            pytest.skip(reason)
        yield mounter
    finally:
        mounter.close()


@pytest.fixture(scope="session")
def native_mounter(reference_tmpfs: Path) -> Iterator[Mounter]:
    """Direct mounts as root, else the user-namespace helper."""
    kind = DirectMounter if os.geteuid() == 0 else UsernsMounter
    yield from _mounter(kind, reference_tmpfs)


@pytest.fixture(scope="session")
def userns_mounter(reference_tmpfs: Path) -> Iterator[Mounter]:
    """The unprivileged path (``unshare -Urm``, ``userxattr``, xattr whiteouts), even as root."""
    yield from _mounter(UsernsMounter, reference_tmpfs)

