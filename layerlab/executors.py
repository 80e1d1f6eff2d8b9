"""Executors: who runs a container's commands, behind one small protocol.

A :class:`~layerlab.container.Container` does not run commands itself. It hands the argv
to an :class:`Executor` (the protocol, with :class:`ModeSupport` and the result type, is
in :mod:`layerlab.execution`, below the container; this module registers :func:`run_with`
there as the container's default runner), which runs it against the container's
filesystem and applies what the command changed through the container's public write
API (so ``diff()`` and ``commit()`` work the same whoever ran it). Three executors exist:

* :data:`SIMULATED`: layerlab's small simulated shell; runs anywhere, touches nothing on
  the host (:mod:`layerlab.shell`);
* :data:`NAMESPACES`: real processes on a real overlayfs mount, in their own user, mount,
  PID, network, IPC and UTS namespaces (:mod:`layerlab.realmode`);
* :data:`PTRACE`: real processes under PRoot on a private copy of the merged view, for
  machines that refuse user namespaces (Binder, most hubs): no namespaces at all
  (:mod:`layerlab.ptracemode`).

``real=True`` picks the best one this machine allows, in that order (namespaces, ptrace,
simulation: :func:`choose`); ``LAYERLAB_REAL_MODE=namespaces``, ``=ptrace`` or ``=off``
forces one. Each mode is probed once per process and cached.

>>> import os
>>> os.environ["LAYERLAB_REAL_MODE"] = "off"
>>> choice = choose(True)
>>> choice.executor.name
'simulated'
>>> print(choice.note, end="")
layerlab: real mode unavailable (turned off by LAYERLAB_REAL_MODE); ran in the simulated shell
>>> choose(False).executor is SIMULATED
True
>>> del os.environ["LAYERLAB_REAL_MODE"]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from .errors import RealModeError, RealModeUnavailable
from .execution import ExecResult, Executor, ModeSupport, set_default_runner

if TYPE_CHECKING:
    from .container import Container

__all__ = ["MODES", "NAMESPACES", "PTRACE", "SIMULATED", "Choice", "Executor",
           "ModeSupport", "RealModeError", "RealModeUnavailable", "choose", "forced_mode",
           "run_with"]

#: what ``LAYERLAB_REAL_MODE`` may say to force the simulated shell (kept from before ptrace)
OFF_VALUES = frozenset({"0", "off", "no", "false", "simulated", "sim"})
#: the real modes, best first
MODES = ("namespaces", "ptrace")


class SimulatedExecutor:
    """The simulated shell (:func:`layerlab.shell.run_argv`)."""

    name = "simulated"

    def support(self) -> ModeSupport:
        return ModeSupport("simulated", True, "layerlab's simulated shell")

    def run(self, container: Container, argv: Sequence[str]) -> ExecResult:
        from .shell import run_argv

        return run_argv(container, list(argv))

    def __repr__(self) -> str:
        return "<Executor simulated>"


class NamespaceExecutor:
    """Real mode: kernel overlayfs in new namespaces (:func:`layerlab.realmode.run_real`)."""

    name = "namespaces"

    def support(self) -> ModeSupport:
        from .realmode import detect

        found = detect()
        return ModeSupport("namespaces", found.available, found.how, found.reason)

    def run(self, container: Container, argv: Sequence[str]) -> ExecResult:
        from .realmode import run_real

        return run_real(container, list(argv))

    def __repr__(self) -> str:
        return "<Executor namespaces>"


class PtraceExecutor:
    """PRoot on a private copy of the merged view (:func:`layerlab.ptracemode.run_ptrace`)."""

    name = "ptrace"

    def support(self) -> ModeSupport:
        from .ptracemode import detect

        found = detect()
        return ModeSupport("ptrace", found.available, found.how, found.reason)

    def run(self, container: Container, argv: Sequence[str]) -> ExecResult:
        from .ptracemode import run_ptrace

        return run_ptrace(container, list(argv))

    def __repr__(self) -> str:
        return "<Executor ptrace>"


SIMULATED = SimulatedExecutor()
NAMESPACES = NamespaceExecutor()
PTRACE = PtraceExecutor()
_BY_NAME: dict[str, Executor] = {"namespaces": NAMESPACES, "ptrace": PTRACE}


def forced_mode() -> str:
    """What ``LAYERLAB_REAL_MODE`` forces: ``"namespaces"``, ``"ptrace"``, ``"off"``, or
    ``""`` (nothing: ``real=True`` picks the best mode).

    ``0``, ``off``, ``no``, ``false`` (the values accepted before ptrace mode) and
    ``simulated`` mean off; ``namespace``, ``kernel`` and ``userns`` mean ``namespaces``;
    ``proot`` means ``ptrace``; anything else (``auto``, ``on``, unset) forces nothing, as
    before."""
    value = os.environ.get("LAYERLAB_REAL_MODE", "").strip().lower()
    if value in OFF_VALUES:
        return "off"
    if value in ("namespaces", "namespace", "kernel", "userns"):
        return "namespaces"
    if value in ("ptrace", "proot"):
        return "ptrace"
    return ""


# --- what the real executors share (realmode.py, ptracemode.py) ---------------------------


@dataclass(frozen=True)
class Support:
    """What one real mode's ``detect()`` found (each mode subclasses it with its words).

    >>> from layerlab.ptracemode import Support as PtraceSupport
    >>> str(PtraceSupport(False, "", "the proot command is missing"))
    'ptrace mode unavailable: the proot command is missing'
    """

    available: bool
    how: str
    reason: str

    #: the mode's name, and the words between "available" and ``how``
    label: ClassVar[str] = "real mode"
    joiner: ClassVar[str] = " via "

    def __str__(self) -> str:
        state = f"available{self.joiner}{self.how}" if self.available else "unavailable"
        return f"{self.label} {state}" + (f": {self.reason}" if self.reason else "")


def check_runnable(container: Container, support: Support) -> None:
    """Raise :class:`RealModeUnavailable` unless the mode works here and the image has a
    ``/bin/sh`` to run commands with."""
    if not support.available:
        raise RealModeUnavailable(support.reason)
    if not container.exists("/bin/sh"):
        raise RealModeUnavailable("the image has no /bin/sh to run commands with; build it "
                                  "FROM layerlab/busybox")


def launcher_interpreter() -> str:
    """A Python this user may execute for a launcher (standard library only): a
    virtualenv's link may point into a directory only its owner can enter."""
    for candidate in (sys.executable, getattr(sys, "_base_executable", ""),
                      shutil.which("python3") or "", "/usr/bin/python3"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RealModeUnavailable(f"no Python interpreter this user may run (tried {sys.executable})")


class LauncherResult(NamedTuple):
    """What :func:`run_launcher` saw: the shell's exit status (128 + N for signal N)."""

    status: int
    stdout: str
    stderr: str
    timed_out: bool


def run_launcher(command: Sequence[str], *, timeout: float, errors: str = "strict",
                 newlines: bool = True) -> LauncherResult:
    """Run ``command`` in a session of its own and wait up to ``timeout`` seconds; past
    it, kill its whole process group. Output is UTF-8 (``errors`` as for
    :meth:`bytes.decode`); ``newlines=True`` reads ``\\r\\n`` and ``\\r`` as ``\\n``, as a
    text-mode pipe does.

    >>> r = run_launcher([sys.executable, "-c", "import sys; sys.exit(3)"], timeout=30)
    >>> r.status, r.timed_out
    (3, False)
    """
    proc = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    timed_out = False
    try:
        raw_out, raw_err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        raw_out, raw_err = proc.communicate()
    out, err = raw_out.decode("utf-8", errors), raw_err.decode("utf-8", errors)
    if newlines:
        out = out.replace("\r\n", "\n").replace("\r", "\n")
        err = err.replace("\r\n", "\n").replace("\r", "\n")
    status = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    return LauncherResult(status, out, err, timed_out)


@dataclass(frozen=True)
class Choice:
    """The executor :func:`choose` picked and the one line it prints on stderr ('' when
    the best mode, namespaces, runs)."""

    executor: Executor
    note: str
    #: why each better mode was not used, best first
    reasons: tuple[str, ...] = ()


def _fallback_note(reason: str) -> str:
    return f"layerlab: real mode unavailable ({reason}); ran in the simulated shell\n"


def choose(real: bool, failed: Mapping[str, str] | None = None) -> Choice:
    """The executor for ``real`` by the mode rule: not real, the simulated shell; real,
    namespaces if they work here, else ptrace, else the simulated shell, with a note that
    says which and why. ``LAYERLAB_REAL_MODE`` narrows the candidates to one. ``failed``:
    modes that refused this command already, with the reason (they are skipped)."""
    if not real:
        return Choice(SIMULATED, "")
    forced = forced_mode()
    if forced == "off":
        return Choice(SIMULATED, _fallback_note("turned off by LAYERLAB_REAL_MODE"),
                      ("turned off by LAYERLAB_REAL_MODE",))
    candidates = [forced] if forced else list(MODES)
    reasons: list[str] = []
    for mode in candidates:
        executor = _BY_NAME[mode]
        found = executor.support()
        if failed and mode in failed:
            found = ModeSupport(mode, False, reason=failed[mode])
        if found.available:
            return Choice(executor, _mode_note(mode, forced, reasons), tuple(reasons))
        reasons.append(f"{mode}: {found.reason}" if len(candidates) > 1 else found.reason)
    return Choice(SIMULATED, _fallback_note("; ".join(reasons)), tuple(reasons))


def _mode_note(mode: str, forced: str, reasons: list[str]) -> str:
    if mode == "namespaces":
        return ""
    why = "forced by LAYERLAB_REAL_MODE=ptrace" if forced else "; ".join(reasons)
    return (f"layerlab: ran under ptrace (PRoot) on a copy of the merged view, with no PID, "
            f"mount or network namespace ({why})\n")


def run_with(container: Container, argv: Sequence[str], *, real: bool,
             executor: Executor | None = None) -> ExecResult:
    """Run ``argv`` in ``container`` with ``executor`` (or the one :func:`choose` picks
    for ``real``); a mode that refuses the command (an image without ``/bin/sh``,
    idmapped mounts refused) passes it to the next mode, down to the simulated shell, with
    the one-line note saying why on stderr."""
    failed: dict[str, str] = {}
    while True:
        choice = Choice(executor, "") if executor is not None else choose(real, failed)
        try:
            result = choice.executor.run(container, list(argv))
            break
        except RealModeUnavailable as exc:
            if executor is not None or choice.executor is SIMULATED:
                result = SIMULATED.run(container, list(argv))
                return ExecResult(result.exit_code, result.stdout,
                                  _fallback_note(str(exc)) + result.stderr)
            failed[choice.executor.name] = str(exc)  # this command: try the next mode
    if choice.note:
        return ExecResult(result.exit_code, result.stdout, choice.note + result.stderr)
    return result


# the container (below) runs its commands with the mode rule: register it as its default
set_default_runner(run_with)
