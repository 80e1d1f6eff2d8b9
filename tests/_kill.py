"""kill -9 at a point the child reports: no sleeps, so a kill lands where it is meant to
on any machine, under any load (``-n 6`` included).

:func:`kill_rounds` forks a child (layerlab already imported, so a round costs milliseconds)
that loops over one store operation and calls ``mark(PHASE)`` when it enters the phase and
``mark(phase)`` (lower case) when it leaves it. Inside the phase every file-system call that
changes the disk (:data:`GATED`: open, mkdir, rename, fsync ...) first reports itself on a
pipe and waits for the parent's go-ahead. The parent lets the first phase of the first
round run through, counting its calls; in every round after that it picks call ``k`` of
the phase at random and sends SIGKILL while the child waits just before it: the kill lands
inside the phase, between two system calls, every time.
"""

from __future__ import annotations

import os
import random
import signal
import traceback
from collections.abc import Callable

#: the calls a kill lands before; between two of them the disk does not change
GATED = ("open", "mkdir", "rename", "replace", "link", "symlink", "unlink", "rmdir", "fsync",
         "mknod", "chmod", "utime", "setxattr")

#: loop(store, rng, mark): runs one store operation again and again, marking the phase
Loop = Callable[..., None]


def _gate(report: int, go: int) -> Callable[[bool], None]:
    """Patch :data:`GATED` in this (child) process; the returned switch turns gating on/off."""
    write, read = os.write, os.read
    state = {"on": False}

    def gated(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def call(*args: object, **kwargs: object) -> object:
            if state["on"]:
                write(report, b".")
                if read(go, 1) != b"g":
                    os._exit(4)  # the parent went away
            return real(*args, **kwargs)

        return call

    for name in GATED:
        setattr(os, name, gated(name, getattr(os, name)))

    def switch(on: bool) -> None:
        state["on"] = on

    return switch


def kill_rounds(make: Callable[[], object], loop: Loop, phase: bytes, *, kills: int,
                seed: int, after: Callable[[int, bytes], None]) -> tuple[int, int, int]:
    """Fork ``kills`` children running ``loop(make(), rng, mark)``; kill each at a random
    gated call inside ``phase`` (the first round's second phase, every later round's first).
    ``after(n, markers)`` checks the store after kill ``n``. Returns (kills, kills that
    landed inside the phase, gated calls in the first phase measured)."""
    rng = random.Random(seed)
    landed = calls = 0
    for n in range(kills):
        r, w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: loop until killed
            os.close(r)
            os.close(go_w)
            switch = _gate(w, go_r)

            def mark(marker: bytes, fd: int = w, gate: Callable[[bool], None] = switch) -> None:
                gate(False)
                os.write(fd, marker)
                gate(marker == phase)

            try:
                loop(make(), random.Random(seed * 1000 + n), mark)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(3)  # reached only if the loop ended: the parent fails on it
        os.close(w)
        os.close(go_r)
        seen = b""
        # the first round's first phase runs through, counting its calls; after that each
        # round is killed inside its first phase
        target = rng.randint(1, calls) if calls else 0
        count = 0
        with os.fdopen(r, "rb", buffering=0) as pipe:
            while True:
                chunk = pipe.read(1)
                assert chunk, f"round {n}: the child died on its own (markers {seen[-8:]!r})"
                if chunk == b".":
                    count += 1
                    if target and count == target:
                        os.kill(pid, signal.SIGKILL)
                        break
                    os.write(go_w, b"g")
                    continue
                seen += chunk
                if chunk == phase:
                    count = 0
                elif chunk == phase.lower() and not target:
                    calls = count  # the phase's length, measured in calls
                    assert calls, f"round {n}: no gated call inside the phase"
                    target = rng.randint(1, calls)
                elif chunk == phase.lower():  # this phase was shorter: kill in the next one
                    target = rng.randint(1, count) if count else 1
            _, status = os.waitpid(pid, 0)
            seen += pipe.read().replace(b".", b"")
        os.close(go_w)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        if seen[-1:] == phase:
            landed += 1
        after(n, seen)
    return kills, landed, calls
