"""Process spaces: what a running container adds to its filesystem.

A running container is a read-write union filesystem *plus an isolated process space*.
layerlab simulates that space (it starts no real processes): each container has its own
PID numbering that starts at 1, while the :class:`Host` sees every container's processes
under host PIDs, the way ``ps`` on the host and ``docker top`` do. One container never
sees another's processes.

>>> host = Host()
>>> a, b = host.namespace("a"), host.namespace("b")
>>> pa = a.spawn(["sleep", "infinity"])
>>> pb = b.spawn(["nginx"])
>>> (pa.pid, pb.pid), pa.host_pid != pb.host_pid
((1, 1), True)
>>> [p.command for p in a.processes()]
['sleep infinity']

The host also runs processes of its own (an init, the container runtime): ``ps`` on the
host lists them with the containers' processes, so a host never sees *only* the
containers.

>>> [p.argv[0] for p in host.processes()][:3]
['/sbin/init', '/usr/bin/containerd', '/usr/bin/dockerd']
>>> len(host.container_processes())
2

**The PID 1 signal rule.** The kernel does not apply a signal's default action to the
first process of a PID namespace: a signal it has no handler for is ignored (SIGKILL and
SIGSTOP from outside excepted). ``docker stop`` sends SIGTERM, waits the grace period
(10 s by default) and then sends SIGKILL. So a PID 1 without a SIGTERM handler
(``sleep``, a plain ``sh``, most programs) ends with status 137 = 128 + 9 after the grace
period; one with a handler that exits on SIGTERM ends at once, and a process killed by
SIGTERM reports 143 = 128 + 15 (``docker run --init`` puts tini at PID 1: it forwards the
signal, its child dies of it, tini exits 143).

>>> stop_outcome(["sleep", "infinity"])
(137, 'SIGTERM ignored by PID 1 (no handler); SIGKILL after the 10 s grace period')
>>> stop_outcome(["sleep", "infinity"], init=True)[0]
143
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace

__all__ = [
    "DEFAULT_HOST",
    "GRACE_SECONDS",
    "HOST_PROCESSES",
    "SIGTERM_HANDLERS",
    "Host",
    "PidNamespace",
    "Process",
    "handles_sigterm",
    "stop_outcome",
]

#: what ``docker stop`` waits after SIGTERM before it sends SIGKILL (``--time``, default 10)
GRACE_SECONDS = 10

#: the host's own processes, at host PIDs 1, 2, ... (a typical Docker host)
HOST_PROCESSES: tuple[tuple[str, ...], ...] = (
    ("/sbin/init",),
    ("/usr/bin/containerd",),
    ("/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"),
)

#: programs (by base name) that install a SIGTERM handler and exit when it arrives, as
#: their documentation says; the exit status is the one the handler chooses
SIGTERM_HANDLERS: dict[str, int] = {
    "tini": 143,           # docker run --init: forwards SIGTERM, the child dies of it
    "docker-init": 143,
    "dumb-init": 143,
    "term-handler": 143,   # the kit's example: trap 'exit 143' TERM
}


def handles_sigterm(argv: Sequence[str]) -> bool:
    """Does the program ``argv`` (as PID 1) have a SIGTERM handler? Only the programs of
    :data:`SIGTERM_HANDLERS`, and a shell script that sets ``trap ... TERM``."""
    if not argv:
        return False
    name = argv[0].rsplit("/", 1)[-1]
    if name in SIGTERM_HANDLERS:
        return True
    script = " ".join(argv[1:])
    return name in ("sh", "bash", "ash", "dash") and "trap" in script and "TERM" in script


def stop_outcome(argv: Sequence[str], *, init: bool = False) -> tuple[int, str]:
    """``(exit status, why)`` of ``docker stop`` for a container whose PID 1 runs ``argv``
    (``init=True``: ``docker run --init``, tini is PID 1 and ``argv`` its child)."""
    if init:
        return 143, ("tini (PID 1) forwarded SIGTERM; the child, not PID 1, died of it: "
                     "128 + 15")
    if handles_sigterm(argv):
        name = argv[0].rsplit("/", 1)[-1]
        return SIGTERM_HANDLERS.get(name, 143), "PID 1 handled SIGTERM and exited: 128 + 15"
    return 137, (f"SIGTERM ignored by PID 1 (no handler); SIGKILL after the {GRACE_SECONDS} s "
                 "grace period")


@dataclass(frozen=True)
class Process:
    """One simulated process: its PID inside the container and on the host."""

    pid: int
    host_pid: int
    ppid: int
    argv: tuple[str, ...]
    container: str
    state: str = "running"  # running | paused

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


class PidNamespace:
    """The PID numbering of one container; PID 1 is its first process."""

    def __init__(self, host: Host, container: str) -> None:
        self._host = host
        self.container = container
        self._next = 1
        self._procs: dict[int, Process] = {}

    def spawn(self, argv: Sequence[str], *, ppid: int = 0) -> Process:
        proc = Process(self._next, self._host._allocate(), ppid, tuple(argv), self.container)
        self._next += 1
        self._procs[proc.pid] = proc
        self._host._procs[proc.host_pid] = proc
        return proc

    def exit(self, pid: int) -> None:
        proc = self._procs.pop(pid, None)
        if proc is not None:
            self._host._procs.pop(proc.host_pid, None)

    def exit_all(self) -> None:
        for pid in list(self._procs):
            self.exit(pid)
        self._next = 1

    def set_state(self, state: str) -> None:
        for pid, proc in self._procs.items():
            self._procs[pid] = changed = replace(proc, state=state)
            self._host._procs[proc.host_pid] = changed

    def processes(self) -> list[Process]:
        """What ``ps`` inside the container shows: only its own processes."""
        return [self._procs[pid] for pid in sorted(self._procs)]


class Host:
    """The machine the containers share: one host PID counter, every process visible."""

    def __init__(self, first_pid: int = 4001,
                 own: Sequence[Sequence[str]] = HOST_PROCESSES) -> None:
        self._next = first_pid
        self._procs: dict[int, Process] = {}
        #: the host's own processes (``container == ""``), at host PIDs 1, 2, ...
        self.own = [Process(i, i, 0 if i == 1 else 1, tuple(argv), "")
                    for i, argv in enumerate(own, start=1)]

    def _allocate(self) -> int:
        pid = self._next
        self._next += 1
        return pid

    def namespace(self, container: str) -> PidNamespace:
        return PidNamespace(self, container)

    def processes(self) -> list[Process]:
        """What ``ps`` on the host shows: its own processes and every container's, by
        host PID."""
        return [*self.own, *self.container_processes()]

    def container_processes(self) -> list[Process]:
        """The containers' processes only (what ``docker top`` of each would list)."""
        return [self._procs[pid] for pid in sorted(self._procs)]


#: the host containers live on unless given another one
DEFAULT_HOST = Host()
