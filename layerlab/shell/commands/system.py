"""Shell builtins and system commands: cd, export, test, which, id, uname, date, ps, sh...

Everything here answers from the container (its files, env, name, clock and process table),
never from the host: ``ps`` shows the container's own PIDs, ``date`` its logical clock.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ...entry import EntryKind
from ...errors import FilesystemError
from ..interp import _MAX_DEPTH, IO, ShellExit, from_bytes
from ..lexer import ShellUnsupportedError, valid_name
from .registry import COMMANDS, UsageError, command
from .users import group_name, user_id, user_name

if TYPE_CHECKING:
    from ..interp import Shell

__all__ = ["SHELLS"]

SHELLS = ("sh", "bash", "ash", "dash")


@command("true", ":")
def true(sh: Shell, argv: list[str], io: IO) -> int:
    return 0


@command("false")
def false(sh: Shell, argv: list[str], io: IO) -> int:
    return 1


@command("exit")
def exit_(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) > 1 and not re.fullmatch(r"-?\d+", argv[1]):
        io.err.write(f"{sh.argv0}: 1: exit: Illegal number: {argv[1]}\n")
        raise ShellExit(2)
    raise ShellExit(int(argv[1]) & 0xFF if len(argv) > 1 else sh.status)


@command("sleep", "umask", "sync", "ldconfig", "update-ca-certificates")
def no_op(sh: Shell, argv: list[str], io: IO) -> int:
    """Commands with no visible effect here (``sleep`` returns at once: no real time passes)."""
    return 0


@command("cd")
def cd(sh: Shell, argv: list[str], io: IO) -> int:
    target = argv[1] if len(argv) > 1 else sh.vars.get("HOME", "/root")
    if target == "-":
        target = sh.vars.get("OLDPWD", sh.cwd)
        io.out.write(target + "\n")
    path = sh.abspath(target)
    try:
        ok = sh.container.stat(path, follow_symlinks=True).is_dir
    except FilesystemError:
        ok = False
    if not ok:
        io.err.write(f"{sh.argv0}: 1: cd: can't cd to {target}\n")
        return 2
    sh.set_var("OLDPWD", sh.cwd)
    sh.cwd = path
    sh.set_var("PWD", path)
    return 0


@command("pwd")
def pwd(sh: Shell, argv: list[str], io: IO) -> int:
    io.out.write(sh.cwd + "\n")
    return 0


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


@command("export")
def export(sh: Shell, argv: list[str], io: IO) -> int:
    names = [a for a in argv[1:] if a != "-p"]
    if not names:
        for k in sorted(sh.exported & set(sh.vars)):
            io.out.write(f"export {k}={_quote(sh.vars[k])}\n")
        return 0
    for item in names:
        name, eq, value = item.partition("=")
        if not valid_name(name):
            io.err.write(f"{sh.argv0}: 1: export: {item}: bad variable name\n")
            raise ShellExit(2)
        if eq:
            sh.set_var(name, value)
        sh.exported.add(name)
    return 0


@command("unset")
def unset(sh: Shell, argv: list[str], io: IO) -> int:
    for name in argv[1:]:
        if name.startswith("-"):
            continue
        sh.vars.pop(name, None)
        sh.exported.discard(name)
    return 0


@command("env", "printenv")
def env(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    environ = sh.environ()
    if argv[0].endswith("printenv"):
        for name in args:
            if name not in environ:
                return 1
            io.out.write(environ[name] + "\n")
        if not args:
            io.out.write("".join(f"{k}={v}\n" for k, v in sorted(environ.items())))
        return 0
    if args and args[0] in ("-i", "--ignore-environment"):
        environ, args = {}, args[1:]
    while args and "=" in args[0] and valid_name(args[0].partition("=")[0]):
        name, _, value = args[0].partition("=")
        environ[name] = value
        args = args[1:]
    if not args:
        io.out.write("".join(f"{k}={v}\n" for k, v in sorted(environ.items())))
        return 0
    child = sh.subshell()
    child.vars, child.exported = dict(environ), set(environ)
    return child.dispatch(args, io)


@command("set")
def set_(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if not args:
        io.out.write("".join(f"{k}={_quote(v)}\n" for k, v in sorted(sh.vars.items())))
        return 0
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-o", "+o"):
            if i + 1 < len(args) and args[i + 1] == "pipefail":
                sh.pipefail = arg == "-o"
            i += 2
            continue
        if arg == "--":
            sh.args = tuple(args[i + 1:])
            return 0
        if arg[:1] not in "-+":
            sh.args = tuple(args[i:])
            return 0
        on = arg[0] == "-"
        for flag in arg[1:]:
            if flag == "e":
                sh.errexit = on
            elif flag == "x":
                sh.xtrace = on
            elif flag == "u":
                sh.nounset = on
            elif flag not in "vfaC":
                io.err.write(f"{sh.argv0}: 1: set: Illegal option {arg[0]}{flag}\n")
                return 2
        i += 1
    return 0


# --- test / [ ---------------------------------------------------------------------------------
def _file_test(sh: Shell, op: str, path: str) -> bool:
    try:
        entry = sh.container.stat(sh.abspath(path), follow_symlinks=op not in ("-L", "-h"))
    except FilesystemError:
        return False
    return {
        "-e": True, "-f": entry.is_regular, "-d": entry.is_dir,
        "-L": entry.kind is EntryKind.SYMLINK, "-h": entry.kind is EntryKind.SYMLINK,
        "-s": entry.size > 0, "-x": bool(entry.mode & 0o111), "-r": True, "-w": True,
        "-p": entry.kind is EntryKind.FIFO, "-c": entry.kind is EntryKind.CHAR,
        "-b": entry.kind is EntryKind.BLOCK,
    }[op]


_UNARY_FILE = ("-e", "-f", "-d", "-L", "-h", "-s", "-x", "-r", "-w", "-p", "-c", "-b")
_INT_OPS = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__, "-gt": int.__gt__,
            "-le": int.__le__, "-ge": int.__ge__}


def _evaluate(sh: Shell, args: list[str]) -> bool:
    if "-o" in args[1:-1]:
        k = args.index("-o", 1)
        return _evaluate(sh, args[:k]) or _evaluate(sh, args[k + 1:])
    if "-a" in args[1:-1]:
        k = args.index("-a", 1)
        return _evaluate(sh, args[:k]) and _evaluate(sh, args[k + 1:])
    if args and args[0] == "!":
        return not _evaluate(sh, args[1:])
    if not args:
        return False
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, value = args
        if op == "-z":
            return value == ""
        if op == "-n":
            return value != ""
        if op in _UNARY_FILE:
            return _file_test(sh, op, value)
        raise UsageError(f"test: {op}: unexpected operator", 2)
    if len(args) == 3:
        left, op, right = args
        if op in ("=", "=="):
            return left == right
        if op == "!=":
            return left != right
        if op in _INT_OPS:
            if not (re.fullmatch(r"-?\d+", left) and re.fullmatch(r"-?\d+", right)):
                raise UsageError(f"test: Illegal number: {left if not left.isdigit() else right}",
                                 2)
            return bool(_INT_OPS[op](int(left), int(right)))
        raise UsageError(f"test: {op}: unexpected operator", 2)
    raise UsageError("test: too many arguments", 2)


@command("test", "[")
def test(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if argv[0].endswith("["):
        if not args or args[-1] != "]":
            raise UsageError("[: missing ]", 2)
        args = args[:-1]
    return 0 if _evaluate(sh, args) else 1


# --- finding programs -----------------------------------------------------------------------------
@command("which")
def which(sh: Shell, argv: list[str], io: IO) -> int:
    status = 0
    for name in argv[1:]:
        found = sh.which(name)
        if found is None:
            status = 1
        else:
            io.out.write(found + "\n")
    return status


@command("command", "type")
def command_(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    is_type = argv[0].endswith("type")
    if not is_type and args and args[0] in ("-v", "-V"):
        args = args[1:]
    elif not is_type:
        return sh.dispatch(args, io) if args else 0
    status = 0
    for name in args:
        found = sh.which(name)
        if found is not None:
            io.out.write(f"{name} is {found}\n" if is_type else found + "\n")
        elif name in COMMANDS:
            io.out.write(f"{name} is a shell builtin\n" if is_type else name + "\n")
        else:
            status = 1
            if is_type:
                io.out.write(f"{name}: not found\n")
    return status


# --- who and where am I -------------------------------------------------------------------------
def _user(sh: Shell) -> tuple[int, int]:
    spec = sh.container.image.config.user or "0"
    owner, _, group = spec.partition(":")
    uid = user_id(sh, owner)
    gid = int(group) if group.isdigit() else uid
    return (uid or 0, gid or 0)


@command("id")
def id_(sh: Shell, argv: list[str], io: IO) -> int:
    uid, gid = _user(sh)
    if "-u" in argv:
        io.out.write(f"{user_name(sh, uid) if '-n' in argv else uid}\n")
    elif "-g" in argv:
        io.out.write(f"{group_name(sh, gid) if '-n' in argv else gid}\n")
    else:
        g = group_name(sh, gid)
        io.out.write(f"uid={uid}({user_name(sh, uid)}) gid={gid}({g}) groups={gid}({g})\n")
    return 0


@command("whoami")
def whoami(sh: Shell, argv: list[str], io: IO) -> int:
    io.out.write(user_name(sh, _user(sh)[0]) + "\n")
    return 0


@command("hostname")
def hostname(sh: Shell, argv: list[str], io: IO) -> int:
    io.out.write(sh.vars.get("HOSTNAME") or sh.container.name)
    io.out.write("\n")
    return 0


@command("uname")
def uname(sh: Shell, argv: list[str], io: IO) -> int:
    fields = {"s": "Linux", "n": sh.vars.get("HOSTNAME") or sh.container.name,
              "r": "6.8.0-layerlab", "v": "#1 SMP (simulated kernel)", "m": "x86_64",
              "o": "GNU/Linux"}
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-"))
    if "a" in flags:
        flags = "snrvmo"
    io.out.write(" ".join(fields[f] for f in flags if f in fields) or "Linux")
    io.out.write("\n")
    return 0


@command("date")
def date(sh: Shell, argv: list[str], io: IO) -> int:
    """The container's logical clock (the one that stamps its files' mtimes)."""
    now = datetime.fromtimestamp(sh.container.clock, tz=timezone.utc)
    fmt = next((a[1:] for a in argv[1:] if a.startswith("+")), "%a %b %d %H:%M:%S UTC %Y")
    io.out.write(now.strftime(fmt.replace("%s", str(sh.container.clock))) + "\n")
    return 0


@command("ps")
def ps(sh: Shell, argv: list[str], io: IO) -> int:
    """The container's own process table (``docker top`` from inside): PIDs from 1."""
    io.out.write("    PID COMMAND\n")
    procs = sh.container.top()
    if not procs:
        # a one-off command outside the lifecycle (a build step, ``docker run --rm``): the
        # shell hands its last command to exec, so ps itself is PID 1
        io.out.write(f"{1:>7} {' '.join(argv)}\n")
    for proc in procs:
        io.out.write(f"{proc.pid:>7} {proc.command}\n")
    return 0


# --- shells ---------------------------------------------------------------------------------------
@command(*SHELLS)
def shell(sh: Shell, argv: list[str], io: IO) -> int:
    """``sh -c 'script' [name args...]``, ``sh script.sh``, or a script on stdin."""
    args = argv[1:]
    flags = ""
    while args and re.fullmatch(r"[-+][a-zA-Z]+", args[0]):
        flags += args[0][1:]
        args = args[1:]
    if args and args[0] == "--":
        args = args[1:]
    if "c" in flags:
        if not args:
            raise UsageError(f"{argv[0]}: -c requires an argument", 2)
        script, argv0, rest = args[0], (args[1] if len(args) > 1 else "sh"), args[2:]
    elif args:
        try:
            script = from_bytes(sh.container.read(sh.abspath(args[0])))
        except FilesystemError:
            io.err.write(f"{argv[0]}: 0: cannot open {args[0]}: No such file\n")
            return 2
        argv0, rest = args[0], args[1:]
    else:
        script, argv0, rest = io.stdin, "sh", []
    try:
        child = sh.subshell(argv0=argv0, args=tuple(rest))
    except ShellUnsupportedError as e:
        io.err.write(f"{argv[0]}: layerlab: {e}\n")
        return 2
    child.errexit, child.xtrace, child.nounset = "e" in flags, "x" in flags, "u" in flags
    return child.run_script(script, IO("", io.out, io.err))


@command("source", ".")
def source(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        raise UsageError(f"{sh.argv0}: 1: {argv[0]}: filename argument required", 2)
    try:
        script = from_bytes(sh.container.read(sh.abspath(argv[1])))
    except FilesystemError:
        io.err.write(f"{sh.argv0}: 1: {argv[0]}: cannot open {argv[1]}: No such file\n")
        return 2
    if sh.depth >= _MAX_DEPTH:  # '. /x' inside /x itself: refuse rather than recurse
        io.err.write(f"{sh.argv0}: 1: {argv[0]}: layerlab: files sourced or shells nested "
                     f"more than {_MAX_DEPTH} deep\n")
        return 2
    saved_err = sh._err
    sh.depth += 1  # counts with nested shells, so the two together stay bounded
    try:
        status = sh.run_script(script, io)
    finally:
        sh.depth -= 1
        sh._err = saved_err
    return status
