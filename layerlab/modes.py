"""The three ways to run a container's commands, side by side: what namespaces add.

:func:`side_by_side` runs the same four probes (``ps``, ``id``, ``mount``, ``/proc/1``, and
``hostname``) in a fresh container with each executor (:mod:`layerlab.executors`):
live for the modes this machine allows, and for the others the output recorded on a
Linux machine where all three ran (:data:`RECORDED`), labelled as recorded with the reason
the mode is not live here. :func:`facts` reads the same yes/no answers out of every
column (is PID 1 the container's own command? does it see the host's processes? ...),
which are the same whether a column is live or recorded: a notebook can compare them.

>>> runs = side_by_side(None, live=False)
>>> [(run.mode, run.live) for run in runs]
[('namespaces', False), ('ptrace', False), ('simulated', False)]
>>> dict(facts(runs))["PID 1 is the container's own command"]
{'namespaces': True, 'ptrace': False, 'simulated': True}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .executors import NAMESPACES, PTRACE, SIMULATED, Executor, RealModeUnavailable

if TYPE_CHECKING:
    from .image import Image

__all__ = ["PROBES", "RECORDED", "ModeRun", "facts", "side_by_side"]

#: what each probe runs (``sh -c``), by the name shown
PROBES = {
    "ps": "ps -o pid,comm",
    "id": "id",
    "mount": "mount",
    "/proc/1": "cat /proc/1/comm",
    "hostname": "hostname",
}
MODES = ("namespaces", "ptrace", "simulated")
_EXECUTORS: dict[str, Executor] = {"namespaces": NAMESPACES, "ptrace": PTRACE,
                                    "simulated": SIMULATED}
#: the container's name in every probe (what its own hostname would be)
NAME = "probe"
#: at most this many lines of an output are kept (the host's ps and mount are long)
MAX_LINES = 6
#: the commands the probes themselves run: a process with another name is someone else's
_OWN = frozenset({"ps", "sh", "cat", "env", "id", "mount", "hostname"})

#: Outputs of the probes, recorded with layerlab/busybox (busybox 1.37) on Linux 6.18 as
#: root: namespaces with the kernel's overlayfs, ptrace with PRoot 5.1 as uid 65534. The
#: host's long ``ps`` and ``mount`` lists are cut to their first lines, as any output is; the
#: recording host's PID 1 (a virtual machine's own init) is shown as ``systemd``, what a
#: Debian host runs, and the long overlay options are shortened with ``...``.
RECORDED: dict[str, dict[str, tuple[int, str]]] = {
    "namespaces": {
        "ps": (0, "PID   COMMAND\n    1 ps\n"),
        "id": (0, "uid=0(root) gid=0(root)\n"),
        "mount": (0, "overlay on / type overlay (rw,nodev,relatime,lowerdir=/tmp/layerlab-real-"
                     "gbuf9c_g/init:/tmp/layerlab-store-isb4a5r_/aufs/diff/b9f007ab8024...)\n"
                     "proc on /proc type proc (rw,nosuid,nodev,relatime)\n"
                     "tmpfs on /dev type tmpfs (rw,nosuid,relatime,size=64k,mode=755,"
                     "uid=100000,gid=100000)\n"
                     "devtmpfs on /dev/null type devtmpfs (rw,nosuid,relatime,mode=755)\n"),
        "/proc/1": (0, "cat\n"),
        "hostname": (0, f"{NAME}\n"),
    },
    "ptrace": {
        "ps": (0, "PID   COMMAND\n    1 systemd\n    2 kthreadd\n    3 pool_workqueue_\n"
                  "    4 kworker/R-rcu_g\n    5 kworker/R-sync_\n"),
        "id": (0, "uid=0(root) gid=0(root)\n"),
        "mount": (0, "proc on /proc type proc (rw,relatime)\n"
                     "sysfs on /sys type sysfs (rw,relatime)\n"
                     "devtmpfs on /dev type devtmpfs (rw,relatime,mode=755)\n"
                     "tmpfs on /dev/shm type tmpfs (rw,relatime)\n"
                     "devpts on /dev/pts type devpts (rw,relatime,mode=600,ptmxmode=000)\n"
                     "/dev/vda on / type ext4 (rw,relatime,discard)\n"),
        "/proc/1": (0, "systemd\n"),
        "hostname": (0, "vm\n"),
    },
    "simulated": {
        "ps": (0, "    PID COMMAND\n      1 ps -o pid,comm\n"),
        "id": (0, "uid=0(root) gid=0(root) groups=0(root)\n"),
        "mount": (126, "sh: 1: mount: /bin/mount exists in the container, but layerlab's "
                       "simulated shell cannot execute programs\n"),
        "/proc/1": (1, "cat: /proc/1/comm: No such file or directory\n"),
        "hostname": (0, f"{NAME}\n"),
    },
}


@dataclass(frozen=True)
class ModeRun:
    """One mode's column: the probes' exit status and output (stdout + stderr, cut to
    :data:`MAX_LINES`), ``live`` or recorded, and why it is not live."""

    mode: str
    live: bool
    why: str
    outputs: dict[str, tuple[int, str]]

    @property
    def label(self) -> str:
        return f"{self.mode} (live)" if self.live else f"{self.mode} (recorded: {self.why})"


def _cut(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= MAX_LINES:
        return text
    return "\n".join([*lines[:MAX_LINES], f"... ({len(lines) - MAX_LINES} more lines)"]) + "\n"


def _live(image: Image, mode: str) -> dict[str, tuple[int, str]]:
    from .container import Container

    executor = _EXECUTORS[mode]
    found: dict[str, tuple[int, str]] = {}
    for probe, command in PROBES.items():
        container = Container(image, name=NAME)
        try:
            result = executor.run(container, ["sh", "-c", command])
        finally:
            container.rm(force=True)
        found[probe] = (result.exit_code, _cut(result.stdout + result.stderr))
    return found


def side_by_side(image: Image | None, *, live: bool = True) -> list[ModeRun]:
    """Run :data:`PROBES` in ``image`` (``layerlab/busybox``) with each mode this machine
    allows; the others (and all of them with ``live=False``) come from :data:`RECORDED`."""
    runs = []
    for mode in MODES:
        support = _EXECUTORS[mode].support()
        why = "" if support.available else support.reason
        if live and image is not None and support.available:
            try:
                runs.append(ModeRun(mode, True, "", _live(image, mode)))
                continue
            except RealModeUnavailable as exc:
                why = str(exc)
        runs.append(ModeRun(mode, False, why or "not run live", dict(RECORDED[mode])))
    return runs


def _pid_one_own(out: tuple[int, str]) -> bool | None:
    status, text = out
    rows = [line.split() for line in text.splitlines()[1:] if line.split()[:1] != ["..."]]
    if status or not rows:
        return None
    first = rows[0]
    return first[0] == "1" and first[1].rsplit("/", 1)[-1] in _OWN


def _host_seen(out: tuple[int, str]) -> bool | None:
    status, text = out
    rows = [line.split() for line in text.splitlines()[1:] if line.split()[:1] != ["..."]]
    if status or not rows:
        return None
    return any(row[1].rsplit("/", 1)[-1] not in _OWN for row in rows if len(row) > 1)


def _answer(out: tuple[int, str], test: object) -> bool | None:
    status, text = out
    if status:
        return None  # the probe could not run (the simulated shell runs no mount)
    return bool(test(text.strip()))  # type: ignore[operator]


def facts(runs: list[ModeRun]) -> list[tuple[str, dict[str, bool | None]]]:
    """Yes/no answers read out of each column (``None``: the probe gave no answer)."""
    def row(question: str, pick: object) -> tuple[str, dict[str, bool | None]]:
        return question, {run.mode: pick(run.outputs) for run in runs}  # type: ignore[operator]

    return [
        row("PID 1 is the container's own command", lambda o: _pid_one_own(o["ps"])),
        row("ps shows processes that are not the container's",
            lambda o: _host_seen(o["ps"])),
        row("id says root", lambda o: _answer(o["id"], lambda t: t.startswith("uid=0("))),
        row("/ is an overlay mount of the image's layers",
            lambda o: _answer(o["mount"], lambda t: any(
                line.startswith("overlay on / ") and "layerlab-real-" in line
                for line in t.splitlines()))),
        row("/proc/1 is the container's own first process",
            lambda o: _answer(o["/proc/1"], lambda t: t in _OWN)),
        row("the hostname is the container's name",
            lambda o: _answer(o["hostname"], lambda t: t == NAME)),
    ]
