"""What running a command in a container means, below the container: the result
(:class:`ExecResult`), the :class:`Executor` protocol and the container's default runner.

The container hands argv to an executor and gets an :class:`ExecResult` back; it knows
nothing of the simulated shell or real mode. The implementations and the mode rule that
picks one (:mod:`layerlab.executors`) sit above the container and register that rule here
as the default runner (:func:`set_default_runner`) when they are imported, which the
package root does: ``import layerlab.container`` runs ``layerlab/__init__.py`` first.

>>> r = ExecResult(0, "hi\\n", "")
>>> r.ok, str(r)
(True, 'hi\\n')
>>> default_runner().__module__
'layerlab.executors'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .errors import LayerlabError

if TYPE_CHECKING:
    from .container import Container

__all__ = ["ExecResult", "Executor", "ModeSupport", "Runner", "default_runner",
           "set_default_runner"]


@dataclass(frozen=True)
class ExecResult:
    """Exit status and output of a command run by the simulated shell.

    >>> r = ExecResult(0, "hi\\n", "")
    >>> r.ok, str(r)
    (True, 'hi\\n')
    """

    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def output(self) -> str:
        """stdout followed by stderr, as a terminal would roughly show them."""
        return self.stdout + self.stderr

    def __str__(self) -> str:
        if self.exit_code == 0 and not self.stderr:
            return self.stdout
        tail = f"[exit status {self.exit_code}]" if self.exit_code else ""
        return self.stdout + self.stderr + tail

    def __repr__(self) -> str:
        def clip(text: str) -> str:
            return repr(text if len(text) <= 60 else text[:57] + "...")

        return (f"ExecResult(exit_code={self.exit_code}, stdout={clip(self.stdout)}, "
                f"stderr={clip(self.stderr)})")


@dataclass(frozen=True)
class ModeSupport:
    """Whether one mode works here, and if not, why (``how``: e.g. ``"root"``)."""

    mode: str
    available: bool
    how: str = ""
    reason: str = ""


@runtime_checkable
class Executor(Protocol):
    """Runs argv in a container and leaves the changes in its read-write layer.

    ``name`` is ``"simulated"``, ``"namespaces"`` or ``"ptrace"``. ``run`` raises
    :class:`~layerlab.errors.RealModeUnavailable` (before anything ran) when this
    machine or this image cannot; the caller then falls back to the simulated shell.
    """

    name: str

    def support(self) -> ModeSupport:
        """Can this executor run here? (Cached by the implementations.)"""
        ...

    def run(self, container: Container, argv: Sequence[str]) -> ExecResult:
        """Run ``argv`` in ``container``'s filesystem; changes go to its read-write layer."""
        ...


class Runner(Protocol):
    """The container's way to run argv: ``runner(container, argv, real=..., executor=...)``
    with the container's own executor, or ``None`` for the mode rule's choice."""

    def __call__(self, container: Container, argv: Sequence[str], *, real: bool,
                 executor: Executor | None = None) -> ExecResult: ...


_DEFAULT: list[Runner] = []


def set_default_runner(runner: Runner) -> None:
    """Make ``runner`` what containers use to run commands (:mod:`layerlab.executors`
    registers its :func:`~layerlab.executors.run_with` when imported)."""
    _DEFAULT[:] = [runner]


def default_runner() -> Runner:
    """The registered runner; an error naming the module to import when there is none."""
    if not _DEFAULT:
        raise LayerlabError("container: no executors are registered to run commands (the "
                            "rule: import layerlab.executors, which layerlab itself imports)")
    return _DEFAULT[0]
