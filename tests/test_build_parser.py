"""Tables of Dockerfile inputs: what the parser reads, and what it refuses (with the line)."""

from __future__ import annotations

import pytest

from layerlab.build import Dockerfile, DockerfileError, parse_dockerfile
from layerlab.build.parser import expand, expand_words, split_pairs, split_words
from layerlab.errors import LayerlabError


def one(text: str):  # the instruction after FROM
    return parse_dockerfile(f"FROM scratch\n{text}\n").instructions[1]


@pytest.mark.parametrize(
    ("text", "keyword", "args", "json"),
    [
        ("RUN echo hi", "RUN", "echo hi", None),
        ('RUN ["echo", "hi"]', "RUN", '["echo", "hi"]', ("echo", "hi")),
        ("COPY a b /dst/", "COPY", "a b /dst/", None),
        ('COPY ["a b", "/dst/"]', "COPY", '["a b", "/dst/"]', ("a b", "/dst/")),
        ("ADD rootfs.tar.gz /", "ADD", "rootfs.tar.gz /", None),
        ("ENV a=b c=d", "ENV", "a=b c=d", None),
        ("ENV legacy some value", "ENV", "legacy some value", None),
        ("ARG V=1", "ARG", "V=1", None),
        ("ARG V", "ARG", "V", None),
        ("WORKDIR /app", "WORKDIR", "/app", None),
        ("USER 1000:1000", "USER", "1000:1000", None),
        ('LABEL a=b "c d"="e f"', "LABEL", 'a=b "c d"="e f"', None),
        ("EXPOSE 80 53/udp", "EXPOSE", "80 53/udp", None),
        ('CMD ["sh", "-c", "x"]', "CMD", '["sh", "-c", "x"]', ("sh", "-c", "x")),
        ("CMD echo hi", "CMD", "echo hi", None),
        ("CMD []", "CMD", "[]", ()),
        ('ENTRYPOINT ["python"]', "ENTRYPOINT", '["python"]', ("python",)),
        ("ENTRYPOINT exec python", "ENTRYPOINT", "exec python", None),
        ("run echo lower-case keyword", "RUN", "echo lower-case keyword", None),
    ],
)
def test_each_instruction(text: str, keyword: str, args: str, json: tuple[str, ...] | None) -> None:
    ins = one(text)
    assert (ins.keyword, ins.args, ins.json, ins.line) == (keyword, args, json, 2)


def test_flags_are_parsed_and_kept_in_the_text() -> None:
    ins = one("COPY --chown=app:app --chmod=644 a.txt /a/")
    assert ins.flags == (("chown", "app:app"), ("chmod", "644"))
    assert ins.flag("chown") == "app:app" and ins.args == "a.txt /a/"
    assert ins.text == "COPY --chown=app:app --chmod=644 a.txt /a/"


def test_continuations_comments_and_line_numbers() -> None:
    df = parse_dockerfile(
        "# leading comment\n"
        "\n"
        "FROM scratch\n"
        "RUN echo a \\\n"
        "# a comment inside the continuation vanishes\n"
        "    && echo b \\  \n"
        "\n"
        "    && echo c\n"
        "  # indented comment\n"
        "ENV X=1\n"
    )
    run, env = df.instructions[1], df.instructions[2]
    assert (run.line, run.end_line, env.line) == (4, 8, 10)
    assert run.args == "echo a     && echo b     && echo c"


def test_escape_directive() -> None:
    df = parse_dockerfile("# escape=`\nFROM scratch\nRUN echo a `\n  b\nCOPY c:\\x /d\n")
    assert df.escape == "`"
    assert df.instructions[1].args == "echo a   b"
    assert df.instructions[2].args == "c:\\x /d"


def test_escape_directive_only_counts_at_the_top() -> None:
    df = parse_dockerfile("FROM scratch\n# escape=`\nRUN echo \\\n  x\n")
    assert df.escape == "\\" and df.instructions[1].args == "echo   x"


def test_from_path(tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCMD [\"x\"]\n")
    assert Dockerfile.from_path(tmp_path / "Dockerfile").instructions[1].json == ("x",)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("FROM scratch\nBOGUS x\n", 2, "unknown instruction 'BOGUS'"),
        ("FROM scratch\n\nSHELL /bin/bash -c\n", 3, "SHELL needs the JSON form"),
        ("FROM scratch\nHEALTHCHECK NONE x\n", 2, "HEALTHCHECK NONE takes no other"),
        ("FROM scratch\nHEALTHCHECK --interval=5 CMD x\n", 2, "invalid duration '5'"),
        ("FROM scratch\nHEALTHCHECK --timeout=10us CMD x\n", 2, "below the minimum of 1ms"),
        ("FROM scratch\nHEALTHCHECK --retries=x CMD x\n", 2, "not a whole number"),
        ("FROM scratch\nHEALTHCHECK curl x\n", 2, "needs CMD <command> or NONE"),
        ("FROM scratch\nONBUILD FROM x\n", 2, "isn't allowed as an ONBUILD trigger"),
        ("FROM scratch\nONBUILD BOGUS x\n", 2, "unknown instruction 'BOGUS'"),
        ("FROM scratch\nSTOPSIGNAL A B\n", 2, "exactly one argument"),
        ('FROM scratch\nCMD ["broken\n', 2, "not a JSON list of strings"),
        ("FROM scratch\nCMD ['single']\n", 2, "Docker would silently run it"),
        ('FROM scratch\nRUN ["a", 1]\n', 2, "not a JSON list of strings"),
        ("FROM scratch\nRUN\n", 2, "RUN needs arguments"),
        ("FROM scratch\nCOPY onlyone\n", 2, "at least one source and a destination"),
        ("FROM scratch\nCOPY --from=0 /a /b\n", 2, "cannot copy from itself"),
        ("FROM scratch AS a\nCOPY --from=b /a /b\nFROM scratch AS b\n", 2, "comes later"),
        ("FROM scratch\nCOPY --from=3 /a /b\n", 2, "does not exist"),
        ("FROM scratch AS a\nFROM scratch AS A\n", 2, "duplicate stage name 'a'"),
        ("FROM scratch AS 9lives\n", 1, "invalid stage name"),
        ("FROM scratch\nADD --from=x a b\n", 2, "unsupported flag '--from=x' for ADD"),
        ("FROM scratch\nCOPY --link=maybe a b\n", 2, "true or false"),
        ("FROM scratch\nCOPY --chown=1:1 --chown=2 a b\n", 2, "given twice"),
        ("FROM scratch\nCOPY --exclude=x a b\n", 2, "unsupported flag '--exclude=x'"),
        ("FROM scratch\nRUN --mount=type=cache x\n", 2, "BuildKit run option"),
        ("FROM scratch\nCOPY --chmod=999 a b\n", 2, "not an octal mode"),
        ("FROM scratch\nCOPY --chmod=77777 a b\n", 2, "mode above 7777"),
        ("FROM scratch\nCOPY --chown=4294967295 a b\n", 2, "above 4294967294"),
        ("FROM scratch\nCOPY --chown=99999999999999999999999:1 a b\n", 2, "above"),
        ("FROM scratch\nCOPY --chown=a:b:c a b\n", 2, "use user, user:group"),
        ("FROM scratch\nRUN <<EOF\necho never closed\n", 2, "heredoc <<EOF is not closed"),
        ("FROM scratch\nENV a=b c\n", 2, "cannot find '=' in 'c'"),
        ("FROM scratch\nENV lonely\n", 2, "has no value"),
        ("FROM scratch\nENV =x\n", 2, "names can not be blank"),
        ("FROM scratch\nENV 1bad=x\n", 2, "not a valid variable name"),
        ("FROM scratch\nARG 9x\n", 2, "not a valid variable name"),
        ("FROM scratch\nWORKDIR /a /b\n", 2, "exactly one argument"),
        ("FROM a b\n", 1, "FROM takes one image name"),
        ("FROM --platform=linux/arm64 x\n", 1, "builds linux/amd64 only"),
        ("FROM --bogus=1 x\n", 1, "unsupported flag"),
        ("ENV a=b\nFROM scratch\n", 1, "before FROM"),
        ("# escape=x\nFROM scratch\n", 1, "invalid escape character"),
        ("RUN echo\n", 0, "no FROM instruction"),
    ],
)
def test_errors_name_the_line_and_the_text(text: str, line: int, message: str) -> None:
    with pytest.raises(DockerfileError) as info:
        parse_dockerfile(text)
    assert isinstance(info.value, LayerlabError)
    assert info.value.line == line
    assert message in str(info.value)
    if line:
        assert f"Dockerfile line {line}: " in str(info.value)
        assert info.value.text.split()[0].upper() in text.upper()


def test_from_as_name_is_accepted() -> None:
    assert parse_dockerfile("FROM layerlab/tiny AS base\n").instructions[0].args == \
        "layerlab/tiny AS base"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$A", "1"),
        ("${A}x", "1x"),
        ("${UNSET:-dflt}", "dflt"),
        ("${EMPTY:-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${A:+alt}", "alt"),
        ("${UNSET:+alt}", ""),
        ("${UNSET:-${A}}", "1"),
        ("'$A'", "$A"),
        ('"$A b"', "1 b"),
        ("\\$A", "$A"),
        ("$UNSET", ""),
        ("a$", "a$"),
        ("100%", "100%"),
    ],
)
def test_variable_substitution(word: str, expected: str) -> None:
    assert expand(word, {"A": "1", "EMPTY": ""}) == expected


def test_required_variable_and_bad_substitution() -> None:
    with pytest.raises(DockerfileError, match="UNSET: must be set"):
        expand("${UNSET:?must be set}", {})
    with pytest.raises(DockerfileError, match="bad substitution"):
        expand("${}", {})


def test_words_and_pairs() -> None:
    assert split_words('a="b c" \'d e\' f') == ['a="b c"', "'d e'", "f"]
    assert expand_words('a="b c" $X', {"X": "y z"}) == ["a=b c", "y z"]
    assert split_pairs(one('ENV a=b c="d e"')) == [("a", "b"), ("c", '"d e"')]
    assert split_pairs(one("ENV legacy  some value")) == [("legacy", "some value")]
