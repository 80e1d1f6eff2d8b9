"""Tokenizer for layerlab's simulated shell: source text -> words, operators, redirections.

Why our own lexer: ``bashlex`` is GPL-3.0 (layerlab is MIT) and parses without expanding, and
``shlex.split`` throws the quoting away, so it cannot tell ``"*"`` from ``*`` or ``'$HOME'``
from ``$HOME``. Globbing and ``$``-expansion must apply only to the unquoted parts of a word,
so every piece of a :class:`Word` here remembers whether it was quoted. Expansion happens
later, at run time (``$?`` changes between commands).

>>> [str(t) for t in tokenize("echo 'a b' $HOME>out && ls")]
['echo', "'a b'", '$HOME', '>', 'out', '&&', 'ls']
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ShellSyntaxError, ShellUnsupportedError

__all__ = [
    "CmdSub",
    "Lit",
    "Op",
    "Param",
    "Part",
    "RedirOp",
    "ShellSyntaxError",
    "ShellUnsupportedError",
    "Token",
    "Word",
    "tokenize",
]

_NAME_START = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
_NAME_CHARS = _NAME_START + "0123456789"
_SPECIAL_PARAMS = "?$#!@*-0123456789"
_PARAM_OPS = (":-", ":=", ":+", ":?", "-", "=", "+", "?")


@dataclass(frozen=True)
class Lit:
    """Literal text; ``quoted`` text is neither globbed nor split."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class Param:
    """``$NAME``, ``${NAME}``, ``${NAME:-word}`` (op ``:-``), ``${#NAME}`` (op ``#``)."""

    name: str
    quoted: bool = False
    op: str = ""
    arg: tuple[Part, ...] = ()


@dataclass(frozen=True)
class CmdSub:
    """``$(script)`` or a backquoted script: replaced by the script's output."""

    script: str
    quoted: bool = False


Part = Lit | Param | CmdSub


@dataclass(frozen=True)
class Word:
    parts: tuple[Part, ...]

    @property
    def plain(self) -> str | None:
        """The text if the word is one unquoted literal (reserved words, assignments)."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Lit) and not self.parts[0].quoted:
            return self.parts[0].text
        return None

    def __str__(self) -> str:
        out = []
        for p in self.parts:
            if isinstance(p, Lit):
                out.append(f"'{p.text}'" if p.quoted else p.text)
            elif isinstance(p, Param):
                out.append(f"${{{p.name}}}" if p.op else f"${p.name}")
            else:
                out.append(f"$({p.script})")
        return "".join(out)


@dataclass(frozen=True)
class Op:
    """A control operator: ``&&`` ``||`` ``;`` ``|`` ``&`` ``(`` ``)`` or a newline."""

    op: str

    def __str__(self) -> str:
        return "\\n" if self.op == "\n" else self.op


@dataclass(frozen=True)
class RedirOp:
    """A redirection operator with its file descriptor; the target is the next word."""

    fd: int
    op: str  # ">", ">>", "<", ">&", "<&", "&>", "&>>"

    def __str__(self) -> str:
        return self.op


Token = Word | Op | RedirOp


class _Lexer:
    def __init__(self, src: str) -> None:
        self.s = src
        self.i = 0
        self.tokens: list[Token] = []
        self.parts: list[Part] = []
        self.buf: list[str] = []
        self.in_word = False

    # --- word assembly -------------------------------------------------------------------
    def _flush(self) -> None:
        if self.buf:
            self.parts.append(Lit("".join(self.buf)))
            self.buf.clear()

    def _end_word(self) -> None:
        self._flush()
        if self.in_word:
            self.tokens.append(Word(tuple(self.parts)))
        self.parts = []
        self.in_word = False

    def _add(self, part: Part) -> None:
        self._flush()
        self.parts.append(part)
        self.in_word = True

    # --- main loop -----------------------------------------------------------------------
    def run(self) -> list[Token]:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == "\\":
                self._backslash()
            elif c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    raise ShellSyntaxError("unterminated quoted string")
                self._add(Lit(s[self.i + 1:end], True))
                self.i = end + 1
            elif c == '"':
                self.i += 1
                for part in self._double_quoted():
                    self._add(part)
                self.in_word = True
            elif c == "$":
                self._add(self._dollar(quoted=False))
            elif c == "`":
                self._add(self._backquote(quoted=False))
            elif c in " \t\r":
                self._end_word()
                self.i += 1
            elif c == "#" and not self.in_word:
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            elif c == "\n":
                self._end_word()
                self.tokens.append(Op("\n"))
                self.i += 1
            elif c in "&|;<>()":
                self._operator(c)
            else:
                self.buf.append(c)
                self.in_word = True
                self.i += 1
        self._end_word()
        return self.tokens

    def _backslash(self) -> None:
        s, i = self.s, self.i
        if i + 1 >= len(s):  # a trailing backslash is literal
            self.buf.append("\\")
            self.in_word = True
            self.i += 1
        elif s[i + 1] == "\n":  # line continuation
            self.i += 2
        else:
            self._add(Lit(s[i + 1], True))
            self.i += 2

    def _operator(self, c: str) -> None:
        s = self.s
        io_number: int | None = None
        text = "".join(self.buf)
        if c in "<>" and not self.parts and text.isdigit():
            io_number = int(text)
            self.buf.clear()
            self.in_word = False
        else:
            self._end_word()
        for op in ("&>>", "&&", "||", ">>", ">&", "<&", "&>", ">|", "<<", ";;"):
            if s.startswith(op, self.i):
                break
        else:
            op = c
        self.i += len(op)
        if op == "<<":
            raise ShellUnsupportedError("here-documents (<<) are not supported")
        if op == ";;":
            raise ShellSyntaxError('";;" unexpected')
        if op in (">", ">>", ">|", ">&"):
            self.tokens.append(RedirOp(1 if io_number is None else io_number,
                                       ">" if op == ">|" else op))
        elif op in ("<", "<&"):
            self.tokens.append(RedirOp(0 if io_number is None else io_number, op))
        elif op in ("&>", "&>>"):
            self.tokens.append(RedirOp(1, op))
        else:
            self.tokens.append(Op(op))

    # --- quotes and expansions -------------------------------------------------------------
    def _double_quoted(self) -> list[Part]:
        """Parts of a double-quoted string; ``self.i`` is just after the opening quote."""
        s = self.s
        parts: list[Part] = [Lit("", True)]  # "" is an (empty) argument
        buf: list[str] = []

        def flush() -> None:
            if buf:
                parts.append(Lit("".join(buf), True))
                buf.clear()

        while self.i < len(s):
            c = s[self.i]
            if c == '"':
                self.i += 1
                flush()
                return parts
            if c == "\\" and self.i + 1 < len(s) and s[self.i + 1] in '$`"\\\n':
                if s[self.i + 1] != "\n":
                    buf.append(s[self.i + 1])
                self.i += 2
            elif c == "$":
                flush()
                parts.append(self._dollar(quoted=True))
            elif c == "`":
                flush()
                parts.append(self._backquote(quoted=True))
            else:
                buf.append(c)
                self.i += 1
        raise ShellSyntaxError("unterminated quoted string")

    def _dollar(self, *, quoted: bool) -> Part:
        s, i = self.s, self.i
        nxt = s[i + 1] if i + 1 < len(s) else ""
        if nxt == "{":
            end = _matching(s, i + 2, "{", "}")
            self.i = end + 1
            return _braced(s[i + 2:end], quoted)
        if nxt == "(":
            if s.startswith("((", i + 1):
                raise ShellUnsupportedError("arithmetic expansion $((...)) is not supported")
            end = _matching(s, i + 2, "(", ")")
            self.i = end + 1
            return CmdSub(s[i + 2:end], quoted)
        if nxt and nxt in _NAME_START:
            j = i + 1
            while j < len(s) and s[j] in _NAME_CHARS:
                j += 1
            self.i = j
            return Param(s[i + 1:j], quoted)
        if nxt and nxt in _SPECIAL_PARAMS:
            self.i = i + 2
            return Param(nxt, quoted)
        self.i = i + 1
        return Lit("$", quoted)

    def _backquote(self, *, quoted: bool) -> Part:
        s = self.s
        j = self.i + 1
        out: list[str] = []
        while j < len(s) and s[j] != "`":
            if s[j] == "\\" and j + 1 < len(s) and s[j + 1] in "`\\$":
                j += 1
            out.append(s[j])
            j += 1
        if j >= len(s):
            raise ShellSyntaxError("unterminated backquote (`)")
        self.i = j + 1
        return CmdSub("".join(out), quoted)


def _matching(s: str, start: int, open_: str, close: str) -> int:
    """Index of the ``close`` that ends a ``${``/``$(`` opened just before ``start``."""
    depth = 1
    j = start
    while j < len(s):
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == "'" and open_ == "(":
            k = s.find("'", j + 1)
            if k < 0:
                raise ShellSyntaxError("unterminated quoted string")
            j = k + 1
            continue
        if c == '"':
            k = j + 1
            while k < len(s) and s[k] != '"':
                k += 2 if s[k] == "\\" else 1
            if k >= len(s):
                raise ShellSyntaxError("unterminated quoted string")
            j = k + 1
            continue
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise ShellSyntaxError(f"missing '{close}'")


def _braced(body: str, quoted: bool) -> Param:
    """``${...}``: a name, optionally ``#`` (length) or an operator and a word."""
    if body.startswith("#") and len(body) > 1:
        name = body[1:]
        if _valid_name(name) or name in _SPECIAL_PARAMS:
            return Param(name, quoted, "#")
        raise ShellSyntaxError(f"${{{body}}}: bad substitution")
    j = 0
    if body[:1] and body[0] in _SPECIAL_PARAMS:
        j = 1
    else:
        while j < len(body) and body[j] in _NAME_CHARS:
            j += 1
    name, rest = body[:j], body[j:]
    if not name or not (_valid_name(name) or name in _SPECIAL_PARAMS):
        raise ShellSyntaxError(f"${{{body}}}: bad substitution")
    if not rest:
        return Param(name, quoted)
    for op in _PARAM_OPS:
        if rest.startswith(op):
            return Param(name, quoted, op, _arg_parts(rest[len(op):], quoted))
    raise ShellSyntaxError(f"${{{body}}}: bad substitution")


def _arg_parts(text: str, quoted: bool) -> tuple[Part, ...]:
    """The word after ``:-`` and friends: quotes and ``$`` work, blanks are kept."""
    lexer = _Lexer(text)
    parts: list[Part] = []
    while lexer.i < len(text):
        c = text[lexer.i]
        if c == "'" and not quoted:
            end = text.find("'", lexer.i + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated quoted string")
            parts.append(Lit(text[lexer.i + 1:end], True))
            lexer.i = end + 1
        elif c == '"':
            lexer.i += 1
            parts.extend(lexer._double_quoted())
        elif c == "$":
            parts.append(lexer._dollar(quoted=quoted))
        elif c == "\\" and lexer.i + 1 < len(text):
            parts.append(Lit(text[lexer.i + 1], True))
            lexer.i += 2
        else:
            parts.append(Lit(c, quoted))
            lexer.i += 1
    return tuple(parts)


def _valid_name(name: str) -> bool:
    return bool(name) and name[0] in _NAME_START and all(ch in _NAME_CHARS for ch in name)


def tokenize(src: str) -> list[Token]:
    """Split shell source into tokens, keeping which parts of each word were quoted.

    Raises :class:`ShellSyntaxError` for malformed input (an unterminated quote) and
    :class:`ShellUnsupportedError` for sh features this shell refuses (here-documents,
    arithmetic).
    """
    return _Lexer(src).run()


def valid_name(name: str) -> bool:
    """True for a shell variable name (``[A-Za-z_][A-Za-z0-9_]*``)."""
    return _valid_name(name)
