"""Real mode: run a real program in the layered root filesystem, with the real kernel.

The simulated shell teaches the ideas anywhere. Real mode shows the same ideas happening
in Linux itself: the image's layers are mounted with the kernel's overlayfs, a real
process runs as PID 1 in its own PID namespace with that mount as its root, and whatever
it writes lands in a real upper directory, which is read back into the container's
read-write layer (character-device whiteouts and opaque xattrs become OCI markers). After
that, ``diff()``, ``commit()``, the widgets and the store work as in simulated mode.

Where it works: Linux with overlayfs and either root or unprivileged user namespaces that
may mount overlayfs (kernel >= 5.11). Not on macOS or Windows, and not on a JupyterHub that
forbids user namespaces; there :func:`detect` says why and containers fall back to the
simulated shell with a one-line note. The image needs a ``/bin/sh``: build ``FROM
layerlab/busybox`` (:func:`layerlab.busybox.busybox_image`, made from Debian's
``busybox-static``).

Every run happens in a temporary directory with its own mount namespace: when the process
ends (normally, on error, or killed) the kernel drops the mounts with the namespace, and
the directory is removed.

Isolation, as root too (``layerlab/_sandbox.py`` does the setup): the command always runs in
a user namespace, where its root is an unprivileged host id (as root: the container's ids
0-65535 are host ids 100000-165535 and the layer directories are mounted idmapped, as
Docker's ``userns-remap`` does; unprivileged: the caller's own uid), in its own mount, PID,
network (loopback only), IPC and UTS namespaces, with ``no_new_privs`` and Docker's default
capability set (``CapEff`` ``00000000a80425fb``, all of it inside the user namespace only).
The root overlay is ``nodev`` and ``mknod`` of a device is refused. There is no seccomp
filter (Docker adds one); real mode is for teaching images, not for hostile ones.

>>> support = detect()
>>> support.available in (True, False)
True
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from .entry import Dir
from .errors import RealModeError, RealModeUnavailable
from .executors import Support as _Support
from .executors import check_runnable, forced_mode, launcher_interpreter, run_launcher
from .layer import Layer
from .overlaydir import read_overlay_dir, write_overlay_dir

if TYPE_CHECKING:
    from .container import Container
    from .shell import ExecResult

__all__ = ["RealModeError", "RealModeUnavailable", "Support", "detect", "run_real"]


def __getattr__(name: str) -> object:
    """``realmode.busybox_image`` moved to :mod:`layerlab.busybox` (kept one release)."""
    if name == "busybox_image":
        import warnings

        from .busybox import busybox_image

        warnings.warn("layerlab.realmode.busybox_image moved to layerlab.busybox.busybox_image",
                      DeprecationWarning, stacklevel=2)
        return busybox_image
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_READY = "__layerlab_real_mode_ready__"
#: the launcher: namespaces, idmapped layers, overlay, pivot_root, dropped privileges
_SANDBOX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sandbox.py")


class Support(_Support):
    """What :func:`detect` found: ``how`` is ``"root"`` or ``"user namespace"``."""

    label = "real mode"
    joiner = " via "


def _probe(unshare_args: list[str], options: str) -> str:
    """Try one overlay mount in fresh namespaces; '' on success, else the error."""
    with tempfile.TemporaryDirectory(prefix="layerlab-probe-") as tmp:
        for d in ("l", "u", "w", "m"):
            os.mkdir(os.path.join(tmp, d))
        script = (f'mount -t overlay overlay -o "lowerdir={tmp}/l,upperdir={tmp}/u,'
                  f'workdir={tmp}/w{options}" "{tmp}/m"')
        try:
            done = subprocess.run(["unshare", *unshare_args, "sh", "-c", script],
                                  capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        return "" if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")


@functools.cache
def _detect() -> Support:
    if not sys.platform.startswith("linux"):
        return Support(False, "", f"needs Linux (this is {sys.platform})")
    try:
        with open("/proc/filesystems") as f:
            if "overlay" not in f.read():
                return Support(False, "", "the kernel has no overlayfs")
    except OSError:
        return Support(False, "", "cannot read /proc/filesystems")
    for tool in ("unshare", "mount", "pivot_root", "umount"):
        if shutil.which(tool) is None:
            return Support(False, "", f"the {tool} command is missing (util-linux)")
    if os.geteuid() == 0:
        error = _probe(["-m"], "")
        return Support(True, "root", "") if not error else Support(
            False, "", f"overlay mount refused even as root: {error}")
    error = _probe(["-U", "-r", "-m"], ",userxattr")
    if error:
        return Support(False, "", "unprivileged user namespaces cannot mount overlayfs "
                       f"here ({error})")
    return Support(True, "user namespace", "")


def detect() -> Support:
    """Can this machine run real mode with namespaces? (Cached; ``LAYERLAB_REAL_MODE=off``
    or ``=ptrace`` turns it off.)"""
    forced = forced_mode()
    if forced == "off":
        return Support(False, "", "turned off by LAYERLAB_REAL_MODE")
    if forced == "ptrace":
        return Support(False, "", "LAYERLAB_REAL_MODE=ptrace chooses the ptrace mode instead")
    return _detect()


# --- running --------------------------------------------------------------------------------


@contextlib.contextmanager
def _layer_dirs(container: Container, tmp: str,
                form: dict[str, str]) -> Iterator[tuple[list[str], str, str]]:
    """The lower directories (base first), upper and work directory for one run: the
    store's own directories when the container lives in a store written in the same
    overlay form, otherwise copies written under ``tmp``."""
    store = container.store
    if store is not None and store.xattr_namespace == form["xattr_namespace"]:
        with store.real_mode_dirs(container) as dirs:
            yield dirs
        return
    lowers = []
    for i, layer in enumerate(container.image.layers):
        lower = os.path.join(tmp, f"lower{i}")
        write_overlay_dir(layer, lower, **form)  # type: ignore[arg-type]
        lowers.append(lower)
    upper, work = os.path.join(tmp, "upper"), os.path.join(tmp, "work")
    write_overlay_dir(container.rw.to_layer(), upper, **form)  # type: ignore[arg-type]
    os.mkdir(work)
    yield lowers, upper, work

_INIT = Layer.from_dict({"/proc": Dir(), "/dev": Dir()}, created_by="init layer")


def run_real(container: Container, argv: Sequence[str], *, timeout: float = 60.0) -> ExecResult:
    """Run ``argv`` for real in ``container``'s layers (see the module docstring).

    Raises :class:`RealModeUnavailable` when the machine or the image cannot, and
    :class:`RealModeError` when the setup failed before the command started.
    """
    from .container import CopyUp, ReadWriteLayer
    from .shell import ExecResult

    support = detect()
    check_runnable(container, support)
    as_root = support.how == "root"
    form = ({"xattr_namespace": "trusted", "whiteout_form": "chardev"} if as_root
            else {"xattr_namespace": "user", "whiteout_form": "xattr"})
    before = container.rw
    with tempfile.TemporaryDirectory(prefix="layerlab-real-") as tmp, \
            _layer_dirs(container, tmp, form) as (lowers, upper, work):
        init = os.path.join(tmp, "init")  # what Docker's "-init" layer adds: mount points
        write_overlay_dir(_INIT, init, **form)  # type: ignore[arg-type]
        lowers = [*lowers, init]
        merged = os.path.join(tmp, "merged")
        os.mkdir(merged)
        env = [f"{k}={v}" for k, v in sorted(container.env.items())]
        spec = {"mode": "root" if as_root else "user", "lowers": list(reversed(lowers)),
                "upper": upper, "work": work, "merged": merged, "name": container.name,
                "workdir": container.workdir,
                "argv": ["env", "-i", "HOME=/root", f"HOSTNAME={container.name}", *env,
                         *argv]}
        command = [launcher_interpreter(), "-I", "-S", _SANDBOX, json.dumps(spec)]
        status, out, err, timed_out = run_launcher(command, timeout=timeout)
        if timed_out:
            err += f"layerlab: real mode: killed after {timeout:g} s\n"
        if _READY not in err and "idmapped mount of" in err:
            raise RealModeUnavailable(
                "the layers' file system cannot be mounted idmapped, which real mode needs "
                f"to run as root without the host's privileges ({err.strip()[-200:]})")
        if _READY not in err:
            raise RealModeError(f"real mode setup failed, nothing ran: {err.strip()}")
        err = err.replace(_READY + "\n", "")
        rw = ReadWriteLayer.from_layer(read_overlay_dir(upper))  # reads the bytes now
    clock = container.tick()
    host_uid, host_gid = os.getuid(), os.getgid()
    for path, entry in list(rw.entries.items()):
        uid, gid = entry.uid, entry.gid
        if not as_root:  # inside the user namespace our uid was root
            uid = 0 if uid == host_uid else uid
            gid = 0 if gid == host_gid else gid
        rw.entries[path] = replace(entry, mtime=min(entry.mtime, clock), uid=uid, gid=gid)
        if path not in before.entries and container.lower_has(path):
            container.copy_ups.append(CopyUp(len(container.copy_ups) + 1, path, entry.kind,
                                              container.layer_of(path), "real mode"))
    container.rw = rw
    container.notify_changed()
    return ExecResult(status, out, err)
