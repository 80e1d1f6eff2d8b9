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
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace

__all__ = ["DEFAULT_HOST", "Host", "PidNamespace", "Process"]


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

    def __init__(self, first_pid: int = 4001) -> None:
        self._next = first_pid
        self._procs: dict[int, Process] = {}

    def _allocate(self) -> int:
        pid = self._next
        self._next += 1
        return pid

    def namespace(self, container: str) -> PidNamespace:
        return PidNamespace(self, container)

    def processes(self) -> list[Process]:
        """What ``ps`` on the host shows: every container's processes, by host PID."""
        return [self._procs[pid] for pid in sorted(self._procs)]


#: the host containers live on unless given another one
DEFAULT_HOST = Host()
