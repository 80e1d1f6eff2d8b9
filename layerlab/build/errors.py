"""Errors a build raises; they belong under :class:`layerlab.LayerlabError`.

::

    LayerlabError
    ├── DockerfileError          the Dockerfile cannot be read (line number and text)
    └── BuildError               a step failed while building (step, instruction, why)
        └── ContextEscapeError   COPY/ADD named a path outside the build context
                                 (also an UnsafePathError)
"""

from __future__ import annotations

from ..errors import LayerlabError, UnsafePathError

__all__ = ["BuildError", "ContextEscapeError", "DockerfileError"]


class DockerfileError(LayerlabError):
    """An unsupported or malformed instruction; says which line and what it read.

    >>> str(DockerfileError("unknown instruction 'BOGUS'", line=3, text="BOGUS x"))
    "Dockerfile line 3: 'BOGUS x': unknown instruction 'BOGUS'"
    """

    def __init__(self, problem: str, *, line: int = 0, text: str = "") -> None:
        self.problem = problem
        self.line = line
        self.text = text
        where = f"Dockerfile line {line}: " if line else "Dockerfile: "
        quoted = f"{text!r}: " if text else ""
        super().__init__(f"{where}{quoted}{problem}")


class BuildError(LayerlabError):
    """A build step failed. For a failing RUN: ``command``, ``exit_code`` and ``stderr``."""

    def __init__(
        self,
        problem: str,
        *,
        step: int = 0,
        line: int = 0,
        instruction: str = "",
        command: str = "",
        exit_code: int | None = None,
        stderr: str = "",
    ) -> None:
        self.problem = problem
        self.step = step
        self.line = line
        self.instruction = instruction
        self.command = command
        self.exit_code = exit_code
        self.stderr = stderr
        where = f"step {step} (line {line}) {instruction!r}: " if instruction else ""
        super().__init__(f"{where}{problem}")


class ContextEscapeError(BuildError, UnsafePathError):
    """COPY or ADD named something outside the build context (``../x``, or a symlink
    in the context that points outside it). Docker says "forbidden path outside the
    build context"."""
