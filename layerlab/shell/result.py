"""ExecResult: what running a command in a container gives back."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ExecResult"]


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
