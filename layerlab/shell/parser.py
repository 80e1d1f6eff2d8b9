"""Parser for layerlab's simulated shell: tokens -> lists of and-or lists of pipelines.

The grammar is the part of POSIX sh a Dockerfile ``RUN`` line usually needs::

    script    := and_or ((";" | newline) and_or)*
    and_or    := pipeline (("&&" | "||") newline* pipeline)*
    pipeline  := ["!"] command ("|" newline* command)*
    command   := (NAME=value)* (word | redirection)*

Compound commands (``if``, ``for``, ``while``, ``case``, ``{ }``, subshells), background
jobs (``&``) and functions are refused with a clear message rather than misread.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexer import (
    Lit,
    Op,
    RedirOp,
    ShellSyntaxError,
    ShellUnsupportedError,
    Token,
    Word,
    tokenize,
    valid_name,
)

__all__ = ["AndOr", "Assignment", "Command", "Pipeline", "Redirect", "parse"]

_RESERVED = frozenset({"if", "then", "else", "elif", "fi", "for", "while", "until", "do",
                       "done", "case", "esac", "{", "}", "function", "select", "[[", "]]"})


@dataclass(frozen=True)
class Assignment:
    name: str
    value: Word


@dataclass(frozen=True)
class Redirect:
    """``fd op target``; for ``2>&1`` the op is ``>&`` and the target word is ``1``."""

    fd: int
    op: str
    target: Word


@dataclass(frozen=True)
class Command:
    assignments: tuple[Assignment, ...]
    words: tuple[Word, ...]
    redirects: tuple[Redirect, ...]


@dataclass(frozen=True)
class Pipeline:
    commands: tuple[Command, ...]
    negate: bool = False


@dataclass(frozen=True)
class AndOr:
    first: Pipeline
    rest: tuple[tuple[str, Pipeline], ...] = ()


def _describe(tok: Token | None) -> str:
    if tok is None:
        return "end of file unexpected"
    if isinstance(tok, Op) and tok.op == "\n":
        return "newline unexpected"
    return f'"{tok}" unexpected'


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self) -> Token | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def is_op(self, *ops: str) -> bool:
        tok = self.peek()
        return isinstance(tok, Op) and tok.op in ops

    def skip_newlines(self) -> None:
        while self.is_op("\n"):
            self.i += 1

    def script(self) -> list[AndOr]:
        items: list[AndOr] = []
        while True:
            self.skip_newlines()
            if self.peek() is None:
                return items
            if self.is_op(";"):
                raise ShellSyntaxError(_describe(self.peek()))
            items.append(self.and_or())
            tok = self.peek()
            if tok is None:
                return items
            if isinstance(tok, Op) and tok.op == "&":
                raise ShellUnsupportedError("background jobs (&) are not supported")
            if not (isinstance(tok, Op) and tok.op in (";", "\n")):
                raise ShellSyntaxError(_describe(tok))
            self.i += 1

    def and_or(self) -> AndOr:
        first = self.pipeline()
        rest: list[tuple[str, Pipeline]] = []
        while self.is_op("&&", "||"):
            op = self.toks[self.i]
            assert isinstance(op, Op)
            self.i += 1
            self.skip_newlines()
            rest.append((op.op, self.pipeline()))
        return AndOr(first, tuple(rest))

    def pipeline(self) -> Pipeline:
        negate = False
        tok = self.peek()
        if isinstance(tok, Word) and tok.plain == "!":
            negate = True
            self.i += 1
        commands = [self.command()]
        while self.is_op("|"):
            self.i += 1
            self.skip_newlines()
            commands.append(self.command())
        return Pipeline(tuple(commands), negate)

    def command(self) -> Command:
        assignments: list[Assignment] = []
        words: list[Word] = []
        redirects: list[Redirect] = []
        while True:
            tok = self.peek()
            if isinstance(tok, RedirOp):
                self.i += 1
                target = self.peek()
                if not isinstance(target, Word):
                    raise ShellSyntaxError(_describe(target))
                self.i += 1
                redirects.append(Redirect(tok.fd, tok.op, target))
            elif isinstance(tok, Word):
                plain = tok.plain
                if not words and plain in _RESERVED:
                    raise ShellUnsupportedError(
                        f"'{plain}': compound commands (if/for/while/case/{{ }}) are not supported"
                    )
                if not words and (assignment := _assignment(tok)) is not None:
                    assignments.append(assignment)
                else:
                    words.append(tok)
                self.i += 1
            else:
                break
        tok = self.peek()
        if isinstance(tok, Op) and tok.op in ("(", ")"):
            raise ShellUnsupportedError("subshells and functions ( ) are not supported")
        if not (assignments or words or redirects):
            if isinstance(tok, Op) and tok.op == "&":
                raise ShellUnsupportedError("background jobs (&) are not supported")
            raise ShellSyntaxError(_describe(tok))
        return Command(tuple(assignments), tuple(words), tuple(redirects))


def _assignment(word: Word) -> Assignment | None:
    first = word.parts[0]
    if not isinstance(first, Lit) or first.quoted or "=" not in first.text:
        return None
    name, _, value = first.text.partition("=")
    if not valid_name(name):
        return None
    rest = (Lit(value),) if value else ()
    return Assignment(name, Word((*rest, *word.parts[1:])))


def parse(src: str) -> list[AndOr]:
    """Parse shell source; raises ShellSyntaxError or ShellUnsupportedError."""
    return _Parser(tokenize(src)).script()
