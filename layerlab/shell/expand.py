"""Word expansion: parameters, command substitution, tilde, field splitting and globbing.

Done in sh's order, and only where sh does it: ``$VAR`` inside double quotes is expanded
but not split or globbed; single-quoted text is left alone; an unquoted ``*.txt`` is
matched against the *container's* filesystem (never the host's), and a pattern that
matches nothing stays as it was written, as in sh.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING

from ..errors import ExpansionError, FilesystemError
from .lexer import CmdSub, Lit, Param, Part, Word

if TYPE_CHECKING:
    from .interp import Shell

__all__ = ["ExpansionError", "expand_string", "expand_words"]

_IFS = re.compile(r"[ \t\n]+")


class _Field:
    """One resulting argument: characters, each marked as globbable (unquoted) or not."""

    def __init__(self) -> None:
        self.chars: list[tuple[str, bool]] = []
        self.quoted = False  # "" counts as an argument even though it is empty

    def add(self, text: str, magic: bool) -> None:
        self.chars.extend((c, magic) for c in text)

    @property
    def text(self) -> str:
        return "".join(c for c, _ in self.chars)

    @property
    def has_magic(self) -> bool:
        return any(m and c in "*?[" for c, m in self.chars)


def _tilde(sh: Shell, text: str) -> str:
    head, sep, tail = text.partition("/")
    if head == "~":
        home = sh.vars.get("HOME") or "/root"
    elif head == "~root":
        home = "/root"
    else:
        return text
    return home + sep + tail


def param_value(sh: Shell, p: Param) -> str:
    value = sh.get_var(p.name)
    if p.op == "#":
        return str(len(value or ""))
    unset_or_empty = not value if p.op.startswith(":") else value is None
    kind = p.op.lstrip(":")
    if kind == "-" and unset_or_empty:
        return expand_parts(sh, p.arg)
    if kind == "=" and unset_or_empty:
        new = expand_parts(sh, p.arg)
        sh.set_var(p.name, new)
        return new
    if kind == "+":
        return "" if unset_or_empty else expand_parts(sh, p.arg)
    if kind == "?" and unset_or_empty:
        message = expand_parts(sh, p.arg) or "parameter not set"
        raise ExpansionError(f"{p.name}: {message}")
    if value is None and sh.nounset and p.name not in "@*":
        raise ExpansionError(f"{p.name}: parameter not set")
    return value or ""


def expand_parts(sh: Shell, parts: tuple[Part, ...]) -> str:
    """Expand without splitting or globbing (assignment values, redirection targets)."""
    out: list[str] = []
    for k, part in enumerate(parts):
        if isinstance(part, Lit):
            out.append(_tilde(sh, part.text) if k == 0 and not part.quoted else part.text)
        elif isinstance(part, Param):
            out.append(param_value(sh, part))
        else:
            out.append(sh.command_substitution(part.script))
    return "".join(out)


def expand_string(sh: Shell, word: Word) -> str:
    return expand_parts(sh, word.parts)


def expand_words(sh: Shell, words: tuple[Word, ...] | list[Word]) -> list[str]:
    """Expand command words into arguments: split unquoted expansions, glob, drop empties."""
    args: list[str] = []
    for word in words:
        for field in _fields(sh, word):
            if field.has_magic:
                matches = glob(sh, field.chars)
                if matches:
                    args.extend(matches)
                    continue
            if field.chars or field.quoted:
                args.append(field.text)
    return args


def _fields(sh: Shell, word: Word) -> list[_Field]:
    fields = [_Field()]
    for k, part in enumerate(word.parts):
        if isinstance(part, Lit):
            text = _tilde(sh, part.text) if k == 0 and not part.quoted else part.text
            fields[-1].add(text, not part.quoted)
            fields[-1].quoted |= part.quoted
            continue
        if isinstance(part, CmdSub):
            value = sh.command_substitution(part.script)
        else:
            value = param_value(sh, part)
        if part.quoted:
            fields[-1].add(value, False)
            fields[-1].quoted = True
            continue
        for n, chunk in enumerate(_IFS.split(value) if value else []):
            if n:
                fields.append(_Field())
            fields[-1].add(chunk, True)
    return fields


def glob(sh: Shell, chars: list[tuple[str, bool]]) -> list[str]:
    """Match a pattern, component by component, against the container's filesystem."""
    components: list[list[tuple[str, bool]]] = [[]]
    for c, magic in chars:
        if c == "/":
            components.append([])
        else:
            components[-1].append((c, magic))
    absolute = chars[0][0] == "/"
    trailing = chars[-1][0] == "/"
    bases = ["/" if absolute else ""]
    for comp in components:
        if not comp:
            continue
        magic = any(m and c in "*?[" for c, m in comp)
        found: list[str] = []
        for base in bases:
            if magic:
                pattern = "".join(c if m or c not in "*?[]" else f"[{c}]" for c, m in comp)
                dot_ok = comp[0][0] == "."
                for name in _listdir(sh, base):
                    if (dot_ok or not name.startswith(".")) and fnmatch.fnmatchcase(name, pattern):
                        found.append(_join(base, name))
            else:
                candidate = _join(base, "".join(c for c, _ in comp))
                if _exists(sh, candidate):
                    found.append(candidate)
        bases = found
        if not bases:
            return []
    return sorted(b + "/" if trailing else b for b in bases)


def _join(base: str, name: str) -> str:
    if not base:
        return name
    return "/" + name if base == "/" else f"{base}/{name}"


def _listdir(sh: Shell, base: str) -> list[str]:
    try:
        return sh.container.listdir(sh.abspath(base or "."))
    except FilesystemError:
        return []


def _exists(sh: Shell, path: str) -> bool:
    try:
        sh.container.stat(sh.abspath(path))
    except FilesystemError:
        return False
    return True
