"""The table of commands the simulated shell knows, and helpers they share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...errors import FilesystemError, PathNotFoundError, UsageError
from ..interp import IO, CommandFn, describe, from_bytes

if TYPE_CHECKING:
    from ..interp import Shell

__all__ = ["COMMANDS", "UsageError", "command", "options", "read_inputs"]

#: command name -> implementation; filled by the ``@command`` decorators
COMMANDS: dict[str, CommandFn] = {}


def command(*names: str) -> Callable[[CommandFn], CommandFn]:
    """Register a command under ``names``; a UsageError it raises becomes a message."""

    def register(fn: CommandFn) -> CommandFn:
        @functools.wraps(fn)
        def wrapper(sh: Shell, argv: list[str], io: IO) -> int:
            try:
                return fn(sh, argv, io)
            except UsageError as e:
                io.err.write(e.message.rstrip("\n") + "\n")
                return e.status

        for name in names:
            COMMANDS[name] = wrapper
        return wrapper

    return register


def options(name: str, args: list[str], flags: str, *, long: dict[str, str] | None = None,
            valued: str = "", status: int = 1) -> tuple[dict[str, str], list[str]]:
    """GNU-style option parsing: ``-rf`` = ``-r -f``, options may follow operands, ``--``
    ends them. Returns ({flag: value or ""}, operands)."""
    opts: dict[str, str] = {}
    operands: list[str] = []
    it = iter(range(len(args)))
    ended = False
    for i in it:
        arg = args[i]
        if ended or arg == "-" or not arg.startswith("-"):
            operands.append(arg)
            continue
        if arg == "--":
            ended = True
            continue
        if arg.startswith("--"):
            key, _, value = arg.partition("=")
            if long is None or key not in long:
                raise UsageError(f"{name}: unrecognized option '{arg}'", status)
            opts[long[key]] = value
            continue
        for k, ch in enumerate(arg[1:], start=1):
            if ch in valued:
                value = arg[k + 1:]
                if not value:
                    nxt = next(it, None)
                    if nxt is None:
                        raise UsageError(f"{name}: option requires an argument -- '{ch}'", status)
                    value = args[nxt]
                opts[ch] = value
                break
            if ch not in flags:
                raise UsageError(f"{name}: invalid option -- '{ch}'", status)
            opts[ch] = ""
    return opts, operands


def read_inputs(sh: Shell, io: IO, name: str,
                files: list[str]) -> tuple[list[tuple[str, str]], int]:
    """The contents of ``files`` (stdin for none or ``-``), with per-file error messages."""
    if not files:
        return [("-", io.stdin)], 0
    out: list[tuple[str, str]] = []
    status = 0
    for f in files:
        if f == "-":
            out.append((f, io.stdin))
            continue
        if f == "/dev/null":
            out.append((f, ""))
            continue
        try:
            out.append((f, from_bytes(sh.container.read(sh.abspath(f)))))
        except FilesystemError as e:
            missing = isinstance(e, PathNotFoundError)
            reason = "No such file or directory" if missing else describe(e)
            io.err.write(f"{name}: {f}: {reason}\n")
            status = 1
    return out, status


def lines_of(text: str) -> list[str]:
    """Lines without their newlines (a last line without one still counts)."""
    return text.splitlines()
