"""Text commands: echo printf cat head tail wc grep sort uniq tr tee basename dirname.

Those that read input take files from the container, or stdin (a pipe or ``<``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ...errors import FilesystemError
from ..interp import IO, describe, to_bytes
from .registry import UsageError, command, lines_of, options, read_inputs

if TYPE_CHECKING:
    from ..interp import Shell

__all__ = ["backslash_escapes"]

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "a": "\a", "b": "\b", "r": "\r", "v": "\v",
            "f": "\f", "e": "\x1b"}


def backslash_escapes(text: str) -> tuple[str, bool]:
    """Interpret ``\\n``, ``\\t``, ``\\0NNN``...; the flag is False after ``\\c`` (stop output)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "c":
            return "".join(out), False
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "0" or nxt in "1234567":
            m = re.match(r"0?([0-7]{1,3})", text[i + 1:])
            assert m is not None
            out.append(chr(int(m[1], 8) & 0xFF))
            i += 1 + len(m[0])
        else:
            out.append(c)
            i += 1
    return "".join(out), True


@command("echo")
def echo(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    newline, escapes = True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        escapes = (escapes or "e" in args[0]) and not args[0].endswith("E")
        args = args[1:]
    text = " ".join(args)
    if escapes:
        text, more = backslash_escapes(text)
        newline = newline and more
    io.out.write(text + ("\n" if newline else ""))
    return 0


@command("printf")
def printf(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        raise UsageError("printf: usage: printf format [arguments]", 2)
    fmt, args = argv[1], argv[2:]
    status = 0
    while True:
        out: list[str] = []
        used = 0
        pos = 0
        for m in re.finditer(r"%([-+ 0#]*\d*(?:\.\d+)?)([sdibxXoc%])", fmt):
            out.append(backslash_escapes(fmt[pos:m.start()])[0])
            pos = m.end()
            flags, conv = m[1], m[2]
            if conv == "%":
                out.append("%")
                continue
            arg = args[used] if used < len(args) else ""
            used += 1
            if conv in "dixXo":
                try:
                    number = int(arg or "0", 0) if arg[:2].lower() in ("0x", "0o") else int(
                        arg or "0")
                except ValueError:
                    io.err.write(f"printf: {arg}: invalid number\n")
                    number, status = 0, 1
                out.append(f"%{flags}{'d' if conv == 'i' else conv}" % number)
            elif conv == "b":
                out.append(backslash_escapes(arg)[0])
            elif conv == "c":
                out.append(arg[:1])
            else:
                out.append(f"%{flags}s" % arg)
        out.append(backslash_escapes(fmt[pos:])[0])
        io.out.write("".join(out))
        args = args[used:]
        if not args or not used:
            return status


@command("cat")
def cat(sh: Shell, argv: list[str], io: IO) -> int:
    opts, files = options("cat", argv[1:], "nuA")
    inputs, status = read_inputs(sh, io, "cat", files)
    for _, text in inputs:
        if "n" in opts:
            text = "".join(f"{k:6}\t{line}\n" for k, line in enumerate(lines_of(text), 1))
        io.out.write(text)
    return status


def _count_opt(name: str, argv: list[str]) -> tuple[int, str, list[str]]:
    """``-n N``, ``-N``, ``-c N`` or ``-n +N`` for head and tail."""
    args = [f"-n{a[1:]}" if re.fullmatch(r"-\d+", a) else a for a in argv[1:]]
    opts, files = options(name, args, "qv", valued="nc")
    key = "c" if "c" in opts else "n"
    raw = opts.get(key, "10")
    if not re.fullmatch(r"[+-]?\d+", raw):
        raise UsageError(f"{name}: invalid number of lines: '{raw}'")
    return int(raw.lstrip("+-")), key + ("+" if raw.startswith("+") else ""), files


@command("head")
def head(sh: Shell, argv: list[str], io: IO) -> int:
    n, key, files = _count_opt("head", argv)
    inputs, status = read_inputs(sh, io, "head", files)
    for k, (label, text) in enumerate(inputs):
        if len(inputs) > 1:
            io.out.write(("\n" if k else "") + f"==> {label} <==\n")
        io.out.write(text[:n] if key.startswith("c") else "".join(
            text.splitlines(keepends=True)[:n]))
    return status


@command("tail")
def tail(sh: Shell, argv: list[str], io: IO) -> int:
    n, key, files = _count_opt("tail", [a for a in argv if a != "-f"])
    inputs, status = read_inputs(sh, io, "tail", files)
    for k, (label, text) in enumerate(inputs):
        if len(inputs) > 1:
            io.out.write(("\n" if k else "") + f"==> {label} <==\n")
        if key.startswith("c"):
            io.out.write(text[max(n - 1, 0):] if key.endswith("+") else text[-n:] if n else "")
            continue
        lines = text.splitlines(keepends=True)
        io.out.write("".join(lines[max(n - 1, 0):] if key.endswith("+") else
                             lines[-n:] if n else []))
    return status


@command("wc")
def wc(sh: Shell, argv: list[str], io: IO) -> int:
    opts, files = options("wc", argv[1:], "lcwm")
    wanted = [k for k in "lwc" if k in opts or (k == "c" and "m" in opts)] or ["l", "w", "c"]
    inputs, status = read_inputs(sh, io, "wc", files)
    totals = dict.fromkeys("lwc", 0)
    for label, text in inputs:
        counts = {"l": text.count("\n"), "w": len(text.split()), "c": len(to_bytes(text))}
        for k in totals:
            totals[k] += counts[k]
        numbers = " ".join(str(counts[k]) for k in wanted)
        io.out.write(numbers + ("" if label == "-" and not files else f" {label}") + "\n")
    if len(inputs) > 1:
        io.out.write(" ".join(str(totals[k]) for k in wanted) + " total\n")
    return status


@command("grep", "egrep", "fgrep")
def grep(sh: Shell, argv: list[str], io: IO) -> int:
    name = argv[0].rsplit("/", 1)[-1]
    opts, ops = options("grep", argv[1:], "vcqinlEFshHwx", valued="e", status=2)
    if "e" in opts:
        ops.insert(0, opts["e"])
    if not ops:
        raise UsageError("Usage: grep [OPTION]... PATTERNS [FILE]...", 2)
    pattern, files = ops[0], ops[1:]
    flags = re.IGNORECASE if "i" in opts else 0
    if "F" in opts or name == "fgrep":
        source = re.escape(pattern)
    else:
        # basic regular expressions: \| \( \) \+ \? are the operators, the bare ones literal
        source = pattern if "E" in opts or name == "egrep" else re.sub(
            r"\\([|()+?{}])|([|()+?{}])", lambda m: m[1] or "\\" + m[2], pattern)
    if "w" in opts:
        source = rf"\b(?:{source})\b"
    if "x" in opts:
        source = rf"(?:{source})\Z"
    try:
        regex = re.compile(source, flags)
    except re.error:
        regex = re.compile(re.escape(pattern), flags)
    inputs, status = read_inputs(sh, io, "grep", files)
    matched = False
    for label, text in inputs:
        hits = [(k, line) for k, line in enumerate(lines_of(text), 1)
                if bool(regex.match(line) if "x" in opts else regex.search(line)) != ("v" in opts)]
        matched = matched or bool(hits)
        if "q" in opts:
            continue
        prefix = f"{label}:" if (len(inputs) > 1 or "H" in opts) and "h" not in opts else ""
        if "l" in opts:
            io.out.write(f"{label}\n" if hits else "")
        elif "c" in opts:
            io.out.write(f"{prefix}{len(hits)}\n")
        else:
            io.out.write("".join(f"{prefix}{f'{k}:' if 'n' in opts else ''}{line}\n"
                                 for k, line in hits))
    if status:
        return 2
    return 0 if matched else 1


@command("sort")
def sort(sh: Shell, argv: list[str], io: IO) -> int:
    opts, files = options("sort", argv[1:], "rnuf")
    inputs, status = read_inputs(sh, io, "sort", files)
    lines = [line for _, text in inputs for line in lines_of(text)]

    def numeric(line: str) -> tuple[float, str]:
        m = re.match(r"\s*(-?\d+(?:\.\d+)?)", line)
        return (float(m[1]) if m else 0.0, line)

    if "n" in opts:
        lines.sort(key=numeric, reverse="r" in opts)
    else:
        lines.sort(key=(lambda s: (s.lower(), s)) if "f" in opts else None, reverse="r" in opts)
    if "u" in opts:
        lines = list(dict.fromkeys(lines))
    io.out.write("".join(f"{line}\n" for line in lines))
    return status


@command("uniq")
def uniq(sh: Shell, argv: list[str], io: IO) -> int:
    opts, files = options("uniq", argv[1:], "cdu")
    inputs, status = read_inputs(sh, io, "uniq", files[:1])
    groups: list[list[str]] = []
    for line in lines_of(inputs[0][1] if inputs else ""):
        if groups and groups[-1][0] == line:
            groups[-1].append(line)
        else:
            groups.append([line])
    for group in groups:
        if ("d" in opts and len(group) < 2) or ("u" in opts and len(group) > 1):
            continue
        io.out.write((f"{len(group):7} " if "c" in opts else "") + group[0] + "\n")
    return status


def _tr_set(spec: str) -> str:
    spec = backslash_escapes(spec)[0]
    return re.sub(r"(.)-(.)", lambda m: "".join(
        chr(c) for c in range(ord(m[1]), ord(m[2]) + 1)), spec)


@command("tr")
def tr(sh: Shell, argv: list[str], io: IO) -> int:
    opts, sets = options("tr", argv[1:], "ds")
    if not sets or (len(sets) < 2 and "d" not in opts):
        raise UsageError("tr: missing operand")
    first = _tr_set(sets[0])
    if "d" in opts:
        io.out.write("".join(ch for ch in io.stdin if ch not in first))
        return 0
    second = _tr_set(sets[1]) or " "
    second = second + second[-1] * max(len(first) - len(second), 0)
    io.out.write(io.stdin.translate(str.maketrans(first, second[:len(first)])))
    return 0


@command("tee")
def tee(sh: Shell, argv: list[str], io: IO) -> int:
    opts, files = options("tee", argv[1:], "a")
    io.out.write(io.stdin)
    status = 0
    for f in files:
        try:
            sh.container.write(sh.abspath(f), to_bytes(io.stdin), append="a" in opts)
        except FilesystemError as e:
            io.err.write(f"tee: {f}: {describe(e)}\n")
            status = 1
    return status


@command("basename")
def basename(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        raise UsageError("basename: missing operand")
    name = argv[1].rstrip("/").rsplit("/", 1)[-1] or ("/" if argv[1] else "")
    if len(argv) > 2 and name != argv[2] and name.endswith(argv[2]):
        name = name[: -len(argv[2])]
    io.out.write(name + "\n")
    return 0


@command("dirname")
def dirname(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        raise UsageError("dirname: missing operand")
    path = argv[1].rstrip("/")
    head = path.rsplit("/", 1)[0].rstrip("/") if "/" in path else "."
    io.out.write((head or "/") + "\n")
    return 0
