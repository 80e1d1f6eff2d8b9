"""The interpreter: runs parsed scripts against a container, never against the host.

A :class:`Shell` holds what one ``sh`` process has: variables (which of them are exported),
the working directory, ``$?`` and the ``set -e``/``-x``/``-u`` flags. It starts from the
container's ``env`` and ``workdir`` and never writes them back: like ``docker exec``, each
command line starts afresh, and ``export``/``cd`` last only until it ends.

Streams are text: file bytes are decoded with ``surrogateescape`` so ``cat a > b`` copies
any bytes exactly. Redirections and pipes are run in order, one command after the other
(a pipe's left side runs to completion first), which is enough for ``cat f | grep x``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import (
    DirectoryNotEmptyError,
    FilesystemError,
    IsADirectoryError_,
    LayerlabError,
    NotADirectoryError_,
    PathExistsError,
    PathNotFoundError,
    RedirectError,
    UnsafePathError,
)
from ..paths import ROOT, normalize
from .expand import ExpansionError, expand_string, expand_words
from .lexer import ShellSyntaxError, ShellUnsupportedError
from .parser import AndOr, Command, Pipeline, Redirect, parse

if TYPE_CHECKING:
    from ..container import Container

__all__ = ["IO", "Shell", "ShellExit", "Sink", "describe", "from_bytes", "to_bytes"]

_MAX_DEPTH = 16


class ShellExit(Exception):
    """``exit N`` (or ``set -e`` after a failure): leave the current shell.

    Not a :class:`~layerlab.errors.LayerlabError`, on purpose: it unwinds the interpreter as
    :class:`SystemExit` unwinds Python, so a handler for layerlab's errors must not stop it.
    :meth:`Shell.run_script` and :meth:`Shell.run_argv` turn it into the exit status; it never
    leaves the shell.
    """

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Sink:
    """Where a command's output goes: a buffer (stdout, a pipe), a file, or nowhere."""

    def __init__(self) -> None:
        self.chunks: list[str] = []

    def write(self, text: str) -> None:
        self.chunks.append(text)

    def text(self) -> str:
        return "".join(self.chunks)

    def close(self) -> None:
        """Deliver buffered output (files are written once the command has finished)."""


class NullSink(Sink):
    def write(self, text: str) -> None:
        pass


class FileSink(Sink):
    def __init__(self, shell: Shell, path: str) -> None:
        super().__init__()
        self.shell = shell
        self.path = path

    def close(self) -> None:
        if self.chunks:
            self.shell.container.append(self.path, to_bytes(self.text()))
            self.chunks.clear()


@dataclass
class IO:
    stdin: str
    out: Sink
    err: Sink


CommandFn = Callable[["Shell", list[str], IO], int]


def to_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def from_bytes(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def describe(exc: LayerlabError) -> str:
    """The strerror-style text sh tools print for a layerlab error."""
    for cls, text in ((PathNotFoundError, "No such file or directory"),
                      (PathExistsError, "File exists"),
                      (NotADirectoryError_, "Not a directory"),
                      (IsADirectoryError_, "Is a directory"),
                      (DirectoryNotEmptyError, "Directory not empty")):
        if isinstance(exc, cls):
            return text
    return str(exc)


class Shell:
    """One simulated ``sh`` process inside a container."""

    def __init__(self, container: Container, *, vars_: dict[str, str] | None = None,
                 exported: set[str] | None = None, cwd: str | None = None,
                 argv0: str = "sh", args: tuple[str, ...] = (), depth: int = 0) -> None:
        self.container = container
        self.vars: dict[str, str] = dict(container.env) if vars_ is None else dict(vars_)
        if vars_ is None:  # what Docker adds to every container's environment
            self.vars.setdefault("HOSTNAME", container.name)
            self.vars.setdefault("HOME", "/root")
        self.exported: set[str] = set(self.vars) if exported is None else set(exported)
        self.cwd = cwd or normalize(container.workdir or ROOT)
        self.status = 0
        self.argv0 = argv0
        self.args = args
        self.depth = depth
        self.errexit = self.xtrace = self.nounset = self.pipefail = False
        self.substitutions = 0
        self._err: Sink = Sink()

    # --- variables and paths ----------------------------------------------------------------
    def get_var(self, name: str) -> str | None:
        if name == "?":
            return str(self.status)
        if name == "$":
            return "1"  # deterministic: the shell's PID inside the container namespace
        if name == "#":
            return str(len(self.args))
        if name == "0":
            return self.argv0
        if name.isdigit():
            k = int(name)
            return self.args[k - 1] if k <= len(self.args) else None
        if name in "@*":
            return " ".join(self.args)
        if name == "!":
            return ""
        if name == "-":
            return "".join(f for f, on in (("e", self.errexit), ("u", self.nounset),
                                           ("x", self.xtrace)) if on)
        return self.vars.get(name)

    def set_var(self, name: str, value: str, *, export: bool = False) -> None:
        self.vars[name] = value
        if export:
            self.exported.add(name)

    def environ(self) -> dict[str, str]:
        """Exported variables: what a child process (``env``, ``sh -c``) sees."""
        return {k: v for k, v in self.vars.items() if k in self.exported}

    def abspath(self, path: str) -> str:
        return normalize(path if path.startswith("/") else f"{self.cwd}/{path}")

    def subshell(self, *, argv0: str = "sh", args: tuple[str, ...] = (),
                 inherit_all: bool = False) -> Shell:
        if self.depth >= _MAX_DEPTH:
            raise ShellUnsupportedError(f"shells nested more than {_MAX_DEPTH} deep")
        child = Shell(self.container, vars_=self.vars if inherit_all else self.environ(),
                      exported=self.exported, cwd=self.cwd, argv0=argv0, args=args,
                      depth=self.depth + 1)
        child.nounset, child.pipefail = self.nounset, self.pipefail
        if inherit_all:
            child.errexit, child.xtrace = self.errexit, self.xtrace
        return child

    # --- running ------------------------------------------------------------------------------
    def run_script(self, source: str, io: IO) -> int:
        """Parse and run a whole script; syntax errors give status 2, as in sh."""
        self._err = io.err
        try:
            script = parse(source)
        except ShellSyntaxError as e:
            io.err.write(f"{self.argv0}: 1: syntax error: {e}\n")
            self.status = 2
            return 2
        except ShellUnsupportedError as e:
            io.err.write(f"{self.argv0}: 1: layerlab: {e} by the simulated shell\n")
            self.status = 2
            return 2
        try:
            for item in script:
                self.status = self._and_or(item, io)
        except ShellExit as e:
            self.status = e.code
        return self.status

    def run_argv(self, argv: list[str], io: IO) -> int:
        """Run a command given as argv (exec form): no parsing, no expansion."""
        self._err = io.err
        try:
            self.status = self.dispatch(argv, io)
        except ShellExit as e:
            self.status = e.code
        return self.status

    def command_substitution(self, script: str) -> str:
        try:
            child = self.subshell(inherit_all=True)
        except ShellUnsupportedError as e:  # $( $( ... ) ) too deep: refused, as sh -c is
            self._err.write(f"{self.argv0}: 1: layerlab: {e}\n")
            self.status = 2
            return ""
        self.substitutions += 1
        out = Sink()
        self.status = child.run_script(script, IO("", out, self._err))
        return out.text().rstrip("\n")

    def _and_or(self, item: AndOr, io: IO) -> int:
        status = self._pipeline(item.first, io)
        last_ran, negated = 0, item.first.negate
        for k, (op, pipeline) in enumerate(item.rest, start=1):
            if (op == "&&") == (status == 0):
                self.status = status
                status = self._pipeline(pipeline, io)
                last_ran, negated = k, pipeline.negate
        if self.errexit and status != 0 and last_ran == len(item.rest) and not negated:
            raise ShellExit(status)
        return status

    def _pipeline(self, pipeline: Pipeline, io: IO) -> int:
        stdin = io.stdin
        statuses: list[int] = []
        for k, command in enumerate(pipeline.commands):
            last = k == len(pipeline.commands) - 1
            out = io.out if last else Sink()
            statuses.append(self._command(command, IO(stdin, out, io.err)))
            self.status = statuses[-1]
            if not last:
                stdin = out.text()
        status = statuses[-1]
        if self.pipefail:
            status = next((s for s in reversed(statuses) if s), 0)
        if pipeline.negate:
            status = 0 if status else 1
        return status

    def _command(self, command: Command, io: IO) -> int:
        subs = self.substitutions
        try:
            values = [(a.name, expand_string(self, a.value)) for a in command.assignments]
            argv = expand_words(self, command.words)
        except ExpansionError as e:
            io.err.write(f"{self.argv0}: 1: {e}\n")
            raise ShellExit(2) from None
        if not argv:
            for name, value in values:
                self.set_var(name, value, export=name in self.exported)
        try:
            cio, sinks = self._redirect(command.redirects, io)
        except RedirectError as e:
            io.err.write(f"{self.argv0}: 1: {e}\n")
            return e.status
        if not argv:
            # a bare assignment's status is that of its last $(...), else 0
            return self._close(sinks, io, self.status if self.substitutions > subs else 0)
        if self.xtrace:
            io.err.write("+ " + " ".join([*(f"{n}={v}" for n, v in values), *argv]) + "\n")
        saved = {n: self.vars.get(n) for n, _ in values}
        saved_exported = set(self.exported)
        for name, value in values:
            self.set_var(name, value, export=True)
        try:
            status = self.dispatch(argv, cio)
        finally:
            for name, old in saved.items():
                if old is None:
                    self.vars.pop(name, None)
                else:
                    self.vars[name] = old
            self.exported = saved_exported | (self.exported - set(saved))
            self._close(sinks, io, 0)
        return status

    def _close(self, sinks: list[Sink], io: IO, status: int) -> int:
        for sink in sinks:
            try:
                sink.close()
            except FilesystemError as e:
                io.err.write(f"{self.argv0}: 1: cannot write {getattr(sink, 'path', '?')}: "
                             f"{describe(e)}\n")
                status = 1
        return status

    def _redirect(self, redirects: tuple[Redirect, ...], io: IO) -> tuple[IO, list[Sink]]:
        stdin, out, err = io.stdin, io.out, io.err
        sinks: list[Sink] = []
        for r in redirects:
            try:
                target = expand_string(self, r.target)
            except ExpansionError as e:
                raise RedirectError(str(e)) from None
            if r.op in (">&", "<&"):
                if target not in ("1", "2", "-"):
                    raise RedirectError(f"Syntax error: Bad fd number: {target}")
                src = {"1": out, "2": err, "-": NullSink()}[target]
                if r.fd == 1:
                    out = src
                elif r.fd == 2:
                    err = src
                continue
            if r.op == "<":
                stdin = self._read_input(target)
                continue
            sink = self._open_output(target, append=r.op in (">>", "&>>"), io=io)
            sinks.append(sink)
            if r.op.startswith("&"):
                out = err = sink
            elif r.fd == 1:
                out = sink
            elif r.fd == 2:
                err = sink
        return IO(stdin, out, err), sinks

    def _read_input(self, target: str) -> str:
        if target in ("/dev/null", "/dev/stdin"):
            return ""
        try:
            return from_bytes(self.container.read(self.abspath(target)))
        except FilesystemError as e:
            reason = "No such file" if isinstance(e, PathNotFoundError) else describe(e)
            raise RedirectError(f"cannot open {target}: {reason}") from None

    def _open_output(self, target: str, *, append: bool, io: IO) -> Sink:
        if target == "/dev/null":
            return NullSink()
        if target in ("/dev/stdout", "/dev/stderr"):
            return io.out if target == "/dev/stdout" else io.err
        path = self.abspath(target)
        try:
            if not append or not self.container.exists(path):
                self.container.write(path, b"")
        except UnsafePathError as e:  # a '.wh.' name: refused, as the container API refuses it
            raise RedirectError(f"cannot create {target}: {e}", 1) from None
        except FilesystemError as e:
            reason = "Directory nonexistent" if isinstance(e, PathNotFoundError) else describe(e)
            raise RedirectError(f"cannot create {target}: {reason}") from None
        return FileSink(self, path)

    # --- commands -----------------------------------------------------------------------------
    def dispatch(self, argv: list[str], io: IO) -> int:
        """Run one command: a layerlab command, else a program found in PATH, else 127."""
        from .commands import COMMANDS, run_program

        name = argv[0]
        base = name.rsplit("/", 1)[-1]
        impl = COMMANDS.get(base)
        try:
            if impl is None or ("/" in name and not base):
                found = self.which(name)
                if found is None:
                    io.err.write(f"{self.argv0}: 1: {name}: not found\n")
                    return 127
                return run_program(self, found, argv, io)
            return impl(self, argv, io)
        except FilesystemError as e:
            io.err.write(f"{base}: {describe(e)}\n")
            return 1

    def which(self, name: str) -> str | None:
        """The path of a program in the container's PATH (or ``name`` itself if it has a /)."""
        dirs = [""] if "/" in name else (self.vars.get("PATH") or "").split(":")
        for d in dirs:
            path = self.abspath(f"{d}/{name}" if d else name)
            try:
                entry = self.container.stat(path, follow_symlinks=True)
            except FilesystemError:
                continue
            if not entry.is_dir:
                return path
        return None
