"""The simulated shell's lexer and parser: quoting, operators, redirections, errors."""

from __future__ import annotations

import doctest

import pytest

import layerlab.shell
from layerlab.shell import lexer, packages, parser, result
from layerlab.shell.lexer import (
    CmdSub,
    Lit,
    Op,
    Param,
    RedirOp,
    ShellSyntaxError,
    ShellUnsupportedError,
    Word,
    tokenize,
)
from layerlab.shell.parser import parse


def words(src: str) -> list[str]:
    return [str(t) for t in tokenize(src)]


@pytest.mark.parametrize(("src", "expected"), [
    ("echo hi", ["echo", "hi"]),
    ("  echo   hi  ", ["echo", "hi"]),
    ("echo 'a b'", ["echo", "'a b'"]),
    ('echo "a b"', ["echo", "''\'a b'"]),
    ("echo a\\ b", ["echo", "a' 'b"]),
    ("a&&b||c;d|e", ["a", "&&", "b", "||", "c", ";", "d", "|", "e"]),
    ("echo x>f", ["echo", "x", ">", "f"]),
    ("echo x >>f 2>&1", ["echo", "x", ">>", "f", ">&", "1"]),
    ("cat <in", ["cat", "<", "in"]),
    ("ls # a comment", ["ls"]),
    ("echo a#b", ["echo", "a#b"]),
    ("echo a \\\n b", ["echo", "a", "b"]),
    ("a\nb", ["a", "\\n", "b"]),
    ("echo $HOME ${X}", ["echo", "$HOME", "$X"]),
    ("echo $(date)", ["echo", "$(date)"]),
    ("cmd &>log", ["cmd", "&>", "log"]),
])
def test_tokens(src: str, expected: list[str]) -> None:
    assert words(src) == expected


def test_quote_information_is_kept() -> None:
    word = tokenize("x'*'\"$A\"$B*")[0]
    assert isinstance(word, Word)
    assert word.parts == (
        Lit("x"), Lit("*", True), Lit("", True), Param("A", True), Param("B"), Lit("*"))


@pytest.mark.parametrize(("src", "part"), [
    ("${A:-b c}", Param("A", False, ":-", tuple(Lit(c) for c in "b c"))),
    ("${#A}", Param("A", False, "#")),
    ("$?", Param("?")),
    ("$$", Param("$")),
    ("$1", Param("1")),
    ("`ls`", CmdSub("ls")),
    ("$", Lit("$")),
])
def test_expansion_parts(src: str, part: object) -> None:
    word = tokenize(src)[0]
    assert isinstance(word, Word)
    assert word.parts[0] == part


def test_io_numbers() -> None:
    toks = tokenize("cmd 2>err 1>out 2>>log")
    assert [t for t in toks if isinstance(t, RedirOp)] == [
        RedirOp(2, ">"), RedirOp(1, ">"), RedirOp(2, ">>")]
    assert isinstance(tokenize("echo 2 >x")[1], Word)  # '2 >' is a word, not an fd


@pytest.mark.parametrize("src", [
    "echo 'abc", 'echo "abc', "echo `abc", "echo ${A", "echo $(ls", "echo ${}", "echo ${A%b}",
])
def test_lexer_syntax_errors(src: str) -> None:
    with pytest.raises(ShellSyntaxError):
        tokenize(src)


@pytest.mark.parametrize("src", ["cat <<EOF", "echo $((1+2))"])
def test_lexer_refusals(src: str) -> None:
    with pytest.raises(ShellUnsupportedError):
        tokenize(src)


def test_parse_structure() -> None:
    script = parse("A=1 B=2 cmd x >f | grep y && ! z || w; v")
    assert len(script) == 2
    first = script[0]
    cmd = first.first.commands[0]
    assert [a.name for a in cmd.assignments] == ["A", "B"]
    assert [str(w) for w in cmd.words] == ["cmd", "x"]
    assert cmd.redirects[0].op == ">"
    assert len(first.first.commands) == 2
    assert [op for op, _ in first.rest] == ["&&", "||"]
    assert first.rest[0][1].negate


def test_assignment_only_before_the_command_word() -> None:
    cmd = parse("echo A=1")[0].first.commands[0]
    assert not cmd.assignments and len(cmd.words) == 2


@pytest.mark.parametrize("src", ["&& ls", "ls |", "ls &&", "; ls", "ls ; ; ls", "echo >",
                                 "ls | | x"])
def test_parse_syntax_errors(src: str) -> None:
    with pytest.raises(ShellSyntaxError):
        parse(src)


@pytest.mark.parametrize("src", ["if true; then ls; fi", "for i in 1; do ls; done",
                                 "(cd /)", "sleep 1 &", "{ ls; }", "f() { ls; }"])
def test_parse_refusals(src: str) -> None:
    with pytest.raises(ShellUnsupportedError):
        parse(src)


def test_operators_are_ops() -> None:
    assert tokenize(";")[0] == Op(";")


@pytest.mark.parametrize("module", [lexer, parser, packages, result, layerlab.shell])
def test_doctests(module: object) -> None:
    failures, _ = doctest.testmod(module)  # type: ignore[arg-type]
    assert failures == 0
