"""Reading a Dockerfile: logical lines, instructions, flags, heredocs, stages, variables.

The whole file is read and checked before a build runs step 1: every instruction of
Docker's set (``FROM RUN CMD LABEL MAINTAINER EXPOSE ENV ADD COPY ENTRYPOINT VOLUME USER
WORKDIR ARG ONBUILD STOPSIGNAL HEALTHCHECK SHELL``), comments, line continuations, the
``# escape=`` directive, heredocs (``RUN <<EOF``, ``COPY <<EOF /dst``) and multi-stage
builds (``FROM image AS name``, ``COPY --from=name|index|image``). A problem anywhere is a
:class:`DockerfileError` naming its line.

>>> df = parse_dockerfile(\'\'\'
... FROM layerlab/tiny AS build
... # a comment
... RUN echo hello \\\\
...     && echo world
... FROM scratch
... COPY --from=build /etc/hostname /
... CMD ["sh"]
... \'\'\')
>>> [(i.line, i.keyword, i.args) for i in df.instructions][:2]
[(2, 'FROM', 'layerlab/tiny AS build'), (4, 'RUN', 'echo hello     && echo world')]
>>> [(s.index, s.name, s.base) for s in df.stages]
[(0, 'build', 'layerlab/tiny'), (1, '', 'scratch')]
>>> df.instructions[-1].json
('sh',)
>>> expand("${NAME:-world}/$HOME", {"HOME": "/root"})
'world//root'

Why our own parser and not ``dockerfile-parse`` (PyPI, v2.0.1, measured on this
project's cases): it reports 0-based ``startline`` (every error message would need a
fix-up), accepts unknown instructions (``BOGUS x`` parsed fine), returns ``CMD``/
``ENTRYPOINT``/``RUN`` as one raw string, so ``CMD ["broken`` is indistinguishable from a
shell form and JSON/shell form detection is left to the caller, and it neither parses
flags (``--chown=``) nor substitutes variables. What it does well (continuations,
comments, ``# escape=``) is the smallest part; the rest, which we need either way, is
the bulk of this module. It has no dependencies, so that was not the reason.

Differences from Docker, on purpose:

* Docker silently runs ``CMD ["broken`` (or ``CMD ['single', 'quotes']``) as a shell
  command; layerlab refuses text that starts with ``[`` but is not a JSON list of
  strings, and says what Docker would have done.
* A variable holding spaces stays one word in ``COPY $SRC /dst`` (Docker splits it).
* One substituted word is capped at :data:`MAX_EXPANSION_BYTES` (``ENV A=$A$A`` doubling
  would otherwise grow without bound); Docker has no such cap.
* ``RUN --mount``, ``--network`` and ``--security`` (BuildKit run options) are refused:
  layerlab has no cache mounts, secrets or network to offer.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import LimitExceededError
from .errors import DockerfileError

__all__ = [
    "MAX_EXPANSION_BYTES",
    "SUPPORTED",
    "Dockerfile",
    "Heredoc",
    "Instruction",
    "Stage",
    "expand",
    "expand_words",
    "parse_chmod",
    "parse_dockerfile",
    "split_pairs",
    "split_words",
]

#: the instructions layerlab builds: all of Docker's
SUPPORTED = frozenset({"FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER",
                       "LABEL", "EXPOSE", "CMD", "ENTRYPOINT", "VOLUME", "HEALTHCHECK",
                       "SHELL", "ONBUILD", "STOPSIGNAL", "MAINTAINER"})
#: bytes one substituted word may grow to (``LimitExceededError`` beyond)
MAX_EXPANSION_BYTES = 1024 * 1024
_JSON_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT", "COPY", "ADD", "SHELL", "VOLUME"})
# flag -> takes a value (False: a boolean flag such as --link)
_FLAGS: dict[str, dict[str, bool]] = {
    "COPY": {"chown": True, "chmod": True, "from": True, "link": False},
    "ADD": {"chown": True, "chmod": True, "link": False, "checksum": True},
    "FROM": {"platform": True},
    "HEALTHCHECK": {"interval": True, "timeout": True, "start-period": True,
                    "start-interval": True, "retries": True},
}
_BUILDKIT_RUN_FLAGS = frozenset({"mount", "network", "security"})
_HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
#: Docker substitutes variables in these (RUN, CMD and ENTRYPOINT are left to the shell)
SUBSTITUTED = frozenset({"FROM", "COPY", "ADD", "ENV", "LABEL", "EXPOSE", "USER", "WORKDIR",
                         "VOLUME", "STOPSIGNAL", "ONBUILD"})
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Heredoc:
    """One ``<<WORD`` document: its name, its text (ending in a newline) and whether
    variables are substituted in it (not when the word was quoted: ``<<"EOF"``)."""

    name: str
    content: str
    expand: bool = True
    strip_tabs: bool = False


@dataclass(frozen=True)
class Instruction:
    """One instruction as written: keyword, arguments, flags, and where it stood.

    ``args`` is the text after the keyword and its flags (continuations joined, not yet
    substituted); ``json`` is the argument list for the JSON form, ``None`` for the
    shell form; ``line`` is the 1-based line of the keyword, ``end_line`` its last line;
    ``heredocs`` the ``<<EOF`` documents that followed it.
    """

    keyword: str
    args: str
    line: int
    end_line: int
    flags: tuple[tuple[str, str], ...] = ()
    json: tuple[str, ...] | None = None
    heredocs: tuple[Heredoc, ...] = ()

    @property
    def text(self) -> str:
        """The instruction as one line, for example ``COPY --chown=1:1 app.py /app/``."""
        flags = "".join(f"--{k} " if v == "" else f"--{k}={v} " for k, v in self.flags)
        return f"{self.keyword} {flags}{self.args}".rstrip()

    def flag(self, name: str) -> str | None:
        return dict(self.flags).get(name)

    def error(self, problem: str) -> DockerfileError:
        """A :class:`DockerfileError` about this instruction, with its line number."""
        return DockerfileError(problem, line=self.line, text=self.text)


@dataclass(frozen=True)
class Stage:
    """One build stage: ``FROM base [AS name]`` and the instructions up to the next FROM.

    ``index`` counts stages from 0 (``COPY --from=0``); ``name`` is ``''`` without ``AS``
    (names are case-insensitive, kept lower-case as Docker does); ``base`` is the image
    name as written (variables not yet substituted).
    """

    index: int
    name: str
    base: str
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]

    @property
    def label(self) -> str:
        """``stage 1 (build)`` or ``stage 0``: how messages name it."""
        return f"stage {self.index}" + (f" ({self.name})" if self.name else "")


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile: the instructions in order and the escape character.

    ``global_args`` are the ``ARG`` lines before the first ``FROM`` (only ``FROM`` lines
    can use them); ``stages`` are the build stages in order.
    """

    instructions: tuple[Instruction, ...]
    escape: str = "\\"

    @classmethod
    def parse(cls, text: str) -> Dockerfile:
        return parse_dockerfile(text)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Dockerfile:
        with open(path, encoding="utf-8") as f:
            return parse_dockerfile(f.read())

    @property
    def global_args(self) -> tuple[Instruction, ...]:
        out = []
        for ins in self.instructions:
            if ins.keyword == "FROM":
                break
            out.append(ins)
        return tuple(out)

    @property
    def stages(self) -> tuple[Stage, ...]:
        stages: list[Stage] = []
        current: Instruction | None = None
        body: list[Instruction] = []

        def close() -> None:
            if current is not None:
                words = current.args.split()
                name = words[2].lower() if len(words) == 3 else ""
                stages.append(Stage(len(stages), name, words[0], current, tuple(body)))

        for ins in self.instructions[len(self.global_args):]:
            if ins.keyword == "FROM":
                close()
                current, body = ins, []
            else:
                body.append(ins)
        close()
        return tuple(stages)

    def stage(self, ref: str) -> Stage | None:
        """The stage a ``--target`` or ``--from`` names (a name or an index), or ``None``."""
        for s in self.stages:
            if s.name and s.name == ref.lower():
                return s
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None


def parse_dockerfile(text: str) -> Dockerfile:
    """Parse Dockerfile text into a :class:`Dockerfile` (raises :class:`DockerfileError`)."""
    lines = text.splitlines()
    escape = "\\"
    i = 0
    # Parser directives: only at the very top, before any other line.
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i].strip())
        if not match:
            break
        name, value = match.group(1).lower(), match.group(2)
        if name == "escape":
            if value not in ("\\", "`"):
                raise DockerfileError(f"invalid escape character {value!r}: use \\ or `",
                                      line=i + 1, text=lines[i])
            escape = value
        i += 1
    instructions: list[Instruction] = []
    while i < len(lines):
        start = i
        stripped = lines[i].strip()
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        logical, continued = _trim_continuation(lines[start].lstrip(), escape)
        while continued and i < len(lines):
            raw = lines[i]
            i += 1
            if raw.strip().startswith("#"):  # comment lines inside a continuation vanish
                continue
            if not raw.strip():
                continue
            part, continued = _trim_continuation(raw, escape)
            logical += part
        heredocs: list[Heredoc] = []
        keyword = logical.strip().split(None, 1)[0].upper() if logical.strip() else ""
        if keyword in _HEREDOC_KEYWORDS or (keyword == "ONBUILD" and
                                            _HEREDOC.search(logical)):
            for m in _HEREDOC.finditer(logical):
                strip_tabs, quoted, word = m.group(1) == "-", m.group(2), m.group(3)
                body: list[str] = []
                while True:
                    if i >= len(lines):
                        raise DockerfileError(f"heredoc <<{word} is not closed: no line "
                                              f"{word!r} before the end of the file",
                                              line=start + 1, text=logical.strip())
                    raw = lines[i]
                    i += 1
                    check = raw.lstrip("\t") if strip_tabs else raw
                    if check == word:
                        break
                    body.append(check)
                heredocs.append(Heredoc(word, "".join(f"{b}\n" for b in body),
                                        expand=not quoted, strip_tabs=strip_tabs))
        instructions.append(_instruction(logical, start + 1, i, escape, tuple(heredocs)))
    if not any(ins.keyword == "FROM" for ins in instructions):
        raise DockerfileError("no FROM instruction: a Dockerfile starts with FROM "
                              "(FROM scratch for an empty base)")
    _check_order(instructions)
    return Dockerfile(tuple(instructions), escape)


def _trim_continuation(line: str, escape: str) -> tuple[str, bool]:
    body = line.rstrip(" \t")
    if body.endswith(escape):
        return body[: -len(escape)], True
    return line, False


def _instruction(logical: str, line: int, end_line: int, escape: str,
                 heredocs: tuple[Heredoc, ...] = ()) -> Instruction:
    keyword, _, rest = logical.strip().partition(" ")
    if "\t" in keyword:
        keyword, _, more = keyword.partition("\t")
        rest = more + " " + rest
    keyword_upper = keyword.upper()
    rest = rest.strip()
    text = logical.strip()
    if keyword_upper not in SUPPORTED:
        raise DockerfileError(f"unknown instruction {keyword!r}", line=line, text=text)
    if keyword_upper == "ONBUILD":
        return _onbuild(rest, line, end_line, escape, text, heredocs)
    flags: list[tuple[str, str]] = []
    allowed = _FLAGS.get(keyword_upper, {})
    while rest.startswith("--"):
        word, _, after = rest.partition(" ")
        name, eq, value = word[2:].partition("=")
        if keyword_upper == "RUN" and name in _BUILDKIT_RUN_FLAGS:
            raise DockerfileError(f"RUN --{name} is a BuildKit run option (cache mounts, "
                                  "secrets, network) that layerlab does not simulate",
                                  line=line, text=text)
        takes_value = allowed.get(name)
        if takes_value is None:
            hint = f" (accepted: {', '.join(f'--{a}' for a in sorted(allowed))})" if allowed \
                else ""
            raise DockerfileError(f"unsupported flag {word!r} for {keyword_upper}{hint}",
                                  line=line, text=text)
        if takes_value and (not eq or not value):
            raise DockerfileError(f"flag --{name} needs a value (--{name}=...)",
                                  line=line, text=text)
        if not takes_value:
            if eq and value not in ("true", "false"):
                raise DockerfileError(f"flag --{name} is true or false, not {value!r}",
                                      line=line, text=text)
            value = "" if value in ("", "true") else "false"
            if value == "false":
                rest = after.strip()
                continue
        if any(n == name for n, _ in flags):
            raise DockerfileError(f"flag --{name} given twice", line=line, text=text)
        flags.append((name, value))
        rest = after.strip()
    json_form = _json_form(keyword_upper, rest, line, text) if keyword_upper in _JSON_FORMS \
        else None
    ins = Instruction(keyword_upper, rest, line, end_line, tuple(flags), json_form, heredocs)
    _check_args(ins, escape)
    return ins


def _onbuild(rest: str, line: int, end_line: int, escape: str, text: str,
             heredocs: tuple[Heredoc, ...]) -> Instruction:
    trigger = rest.split(None, 1)[0].upper() if rest else ""
    if not trigger:
        raise DockerfileError("ONBUILD needs an instruction (ONBUILD RUN ...)",
                              line=line, text=text)
    if trigger in ("ONBUILD", "FROM", "MAINTAINER"):
        raise DockerfileError(f"{trigger} isn't allowed as an ONBUILD trigger",
                              line=line, text=text)
    # check the trigger now, so a broken one is reported here and not in a child build
    _instruction(rest, line, end_line, escape, heredocs)
    return Instruction("ONBUILD", rest, line, end_line, (), None, heredocs)


def _json_form(keyword: str, rest: str, line: int, text: str) -> tuple[str, ...] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except (json.JSONDecodeError, RecursionError) as exc:
        value = exc
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        if keyword in ("SHELL",):
            raise DockerfileError("SHELL needs the JSON form: a JSON list of strings such as "
                                  '["/bin/bash", "-c"]', line=line, text=text)
        raise DockerfileError(
            "looks like the JSON form but is not a JSON list of strings (use double "
            "quotes); Docker would silently run it as a shell command: "
            f"/bin/sh -c {rest!r}", line=line, text=text)
    return tuple(value)


def parse_chmod(value: str) -> int:
    """``--chmod`` as Docker reads it: octal, at most ``7777`` (raises ``ValueError``).

    >>> oct(parse_chmod("0755")), oct(parse_chmod("4711"))
    ('0o755', '0o4711')
    """
    if not value or not all(c in "01234567" for c in value) or len(value) > 5:
        raise ValueError(f"--chmod={value}: not an octal mode (0644, 755, 4711...)")
    mode = int(value, 8)
    if mode > 0o7777:
        raise ValueError(f"--chmod={value}: mode above 7777")
    return mode


def _check_args(ins: Instruction, escape: str) -> None:
    k, args = ins.keyword, ins.args
    if not args and not (ins.json is not None and k in ("CMD", "ENTRYPOINT")):
        raise ins.error(f"{k} needs arguments")
    words = split_words(args, escape)
    if k == "FROM":
        platform = ins.flag("platform")
        if platform is not None and "$" not in platform and platform not in (
                "linux/amd64", "linux/x86_64", "amd64"):
            raise ins.error(f"--platform={platform}: layerlab builds linux/amd64 only (and "
                            "cannot emulate another architecture)")
        if any(w.startswith("--") for w in words):
            raise ins.error(f"unsupported flag {words[0]!r} for FROM (accepted: --platform)")
        if len(words) == 3 and words[1].upper() == "AS":
            if not _STAGE_NAME.match(words[2].lower()):
                raise ins.error(f"invalid stage name {words[2]!r}: letters, digits, '_', "
                                "'.', '-', starting with a letter")
            if words[2].isdigit():
                raise ins.error("a stage name cannot be a number")
            return
        if len(words) != 1:
            raise ins.error("FROM takes one image name (optionally 'AS name')")
    elif k in ("COPY", "ADD"):
        n = len(ins.json) if ins.json is not None else len(words)
        if n < 2 and not (ins.heredocs and n == 1):
            raise ins.error(f"{k} needs at least one source and a destination")
        chmod = ins.flag("chmod")
        if chmod is not None and "$" not in chmod:
            try:
                parse_chmod(chmod)
            except ValueError as exc:
                raise ins.error(str(exc)) from None
        chown = ins.flag("chown")
        if chown is not None and "$" not in chown:
            for part in chown.split(":"):
                if part.isdigit() and int(part) > 0xFFFFFFFE:
                    raise ins.error(f"--chown={chown}: id {part} is above 4294967294")
            if chown.count(":") > 1 or not all(chown.split(":")):
                raise ins.error(f"--chown={chown}: use user, user:group, uid or uid:gid")
    elif k in ("ENV", "LABEL"):
        split_pairs(ins, escape)
    elif k == "ARG":
        if len(words) != 1:
            raise ins.error("ARG takes one name[=default] per line")
        name = words[0].partition("=")[0]
        if not _NAME.match(name):
            raise ins.error(f"ARG name {name!r} is not a valid variable name")
    elif k in ("WORKDIR", "USER", "STOPSIGNAL") and len(words) != 1:
        raise ins.error(f"{k} takes exactly one argument")
    elif k == "SHELL":
        if ins.json is None or not ins.json:
            raise ins.error("SHELL needs the JSON form: a non-empty JSON list of strings "
                            'such as ["/bin/bash", "-c"]')
    elif k == "HEALTHCHECK":
        kind = words[0].upper()
        if kind == "NONE":
            if len(words) != 1 or ins.flags:
                raise ins.error("HEALTHCHECK NONE takes no other arguments")
        elif kind != "CMD" or len(words) < 2:
            raise ins.error("HEALTHCHECK needs CMD <command> or NONE")
        for name, value in ins.flags:
            if name == "retries":
                if not value.isdigit():
                    raise ins.error(f"--retries={value}: not a whole number")
            else:
                duration_ns(value, ins)


_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
          "h": 3600 * 10**9}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def duration_ns(value: str, ins: Instruction) -> int:
    """A Go duration (``30s``, ``1m30s``, ``500ms``) in nanoseconds, as Docker stores
    HEALTHCHECK times; below 1ms (other than 0) is refused, as Docker does."""
    pos, total = 0, 0.0
    if value == "0":
        return 0
    while pos < len(value):
        m = _DURATION.match(value, pos)
        if m is None:
            raise ins.error(f"invalid duration {value!r}: use 30s, 1m30s, 500ms")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not value or total > 2**63 - 1:
        raise ins.error(f"invalid duration {value!r}")
    if 0 < total < 1_000_000:
        raise ins.error(f"duration {value!r} is below the minimum of 1ms")
    return int(total)


def _check_order(instructions: list[Instruction]) -> None:
    froms = [ins for ins in instructions if ins.keyword == "FROM"]
    names: dict[str, int] = {}  # stage name -> index
    for i, ins in enumerate(froms):
        words = ins.args.split()
        if len(words) == 3:
            name = words[2].lower()
            if name in names:
                raise ins.error(f"duplicate stage name {name!r} (first on line "
                                f"{froms[names[name]].line})")
            names[name] = i
    index = -1
    for ins in instructions:
        if ins.keyword == "FROM":
            index += 1
            continue
        if index < 0 and ins.keyword != "ARG":
            raise ins.error(f"{ins.keyword} before FROM: only ARG may come before FROM")
        src = ins.flag("from") if ins.keyword == "COPY" else None
        if src is None or "$" in src:
            continue
        ref = src.lower()
        target = int(ref) if ref.isdigit() else names.get(ref)
        if target is None:
            continue  # an image name, as in Docker
        if target == index:
            raise ins.error(f"COPY --from={src}: a stage cannot copy from itself")
        if target >= len(froms):
            raise ins.error(f"COPY --from={src}: stage {target} does not exist (there are "
                            f"{len(froms)} stages, numbered from 0)")
        if target > index:
            raise ins.error(f"COPY --from={src}: stage {target} comes later (line "
                            f"{froms[target].line}); a stage can only copy from the stages "
                            "above it")


# --- words, pairs and variables --------------------------------------------------------

def split_words(text: str, escape: str = "\\") -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes (Docker's parseWords).

    >>> split_words('a="b c" d')
    ['a="b c"', 'd']
    """
    words: list[str] = []
    word = ""
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == escape and quote != "'" and i + 1 < len(text):
            word += ch + text[i + 1]
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch.isspace():
            if word:
                words.append(word)
            word = ""
            i += 1
            continue
        word += ch
        i += 1
    if word:
        words.append(word)
    return words


def split_pairs(ins: Instruction, escape: str = "\\") -> list[tuple[str, str]]:
    """``ENV a=b c=d`` or the legacy ``ENV a b c``: raw (unexpanded) ``(name, value)`` pairs.

    The legacy form takes everything after the first word as the one value.
    """
    words = split_words(ins.args, escape)
    if not words:
        raise ins.error(f"{ins.keyword} needs name=value")
    if "=" not in words[0]:
        name, _, value = ins.args.strip().partition(" ")
        value = value.strip()
        if not value:
            raise ins.error(f"{ins.keyword} {name} has no value: use {name}=value "
                            f"(or the legacy form '{ins.keyword} name value')")
        pairs = [(name, value)]
    else:
        pairs = []
        for word in words:
            name, eq, value = word.partition("=")
            if not eq:
                raise ins.error(f"cannot find '=' in {word!r}: use name=value")
            pairs.append((name, value))
    for name, _ in pairs:
        if not name:
            raise ins.error(f"{ins.keyword} names can not be blank")
        if ins.keyword == "ENV" and "$" not in name and not _NAME.match(name):
            raise ins.error(f"ENV name {name!r} is not a valid variable name")
    return pairs


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word with quotes removed and ``$VAR``, ``${VAR}``, ``${VAR:-x}``, ``${VAR:+x}``
    substituted (single quotes and the escape character stop substitution).

    >>> expand("'$A'\\\\$A\\"$A\\"", {"A": "1"})
    '$A$A1'
    """
    return _expand(word, env, escape)[0]


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Split ``text`` into words, then :func:`expand` each one."""
    return [expand(w, env, escape) for w in split_words(text, escape)]


def _expand(text: str, env: Mapping[str, str], escape: str, stop: str = "") -> tuple[str, int]:
    out: list[str] = []
    quote = ""
    size = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if not quote and stop and ch == stop:
            return _capped("".join(out)), i
        if ch == escape and quote != "'":
            if i + 1 < len(text):
                nxt = text[i + 1]
                if quote == '"' and nxt not in ('"', "$", escape):
                    out.append(ch)
                out.append(nxt)
                i += 2
            else:
                out.append(ch)
                i += 1
            continue
        if quote == "'":
            if ch == "'":
                quote = ""
            else:
                out.append(ch)
            i += 1
            continue
        if ch == '"':
            quote = "" if quote else '"'
            i += 1
            continue
        if ch == "'" and not quote:
            quote = "'"
            i += 1
            continue
        if ch == "$":
            value, i = _variable(text, i, env, escape)
            out.append(value)
            size += len(value)
            if size > MAX_EXPANSION_BYTES:
                _capped("".join(out))
            continue
        out.append(ch)
        size += 1
        i += 1
    return _capped("".join(out)), i


def _capped(text: str) -> str:
    if len(text) > MAX_EXPANSION_BYTES:
        raise LimitExceededError(
            f"variable substitution grew one word to {len(text):,} characters, above the "
            f"cap of {MAX_EXPANSION_BYTES:,} (layerlab.build.parser.MAX_EXPANSION_BYTES): "
            "is an ENV or ARG doubling itself ($A$A)?")
    return text


def _variable(text: str, i: int, env: Mapping[str, str], escape: str) -> tuple[str, int]:
    """Expand the variable starting at ``text[i] == '$'``; return (value, next index)."""
    if i + 1 < len(text) and text[i + 1] == "{":
        j = i + 2
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[j:])
        if not m:
            raise DockerfileError(f"bad substitution in {text!r}")
        name = m.group(0)
        j += len(name)
        if j < len(text) and text[j] == "}":
            return env.get(name, ""), j + 1
        op = text[j:j + 2] if text[j:j + 1] == ":" else text[j:j + 1]
        if op not in (":-", ":+", ":?", "-", "+", "?"):
            raise DockerfileError(f"unsupported modifier in ${{{name}...}} of {text!r}")
        word, consumed = _expand(text[j + len(op):], env, escape, stop="}")
        end = j + len(op) + consumed
        if end >= len(text):
            raise DockerfileError(f"missing '}}' in {text!r}")
        is_set = name in env
        usable = is_set and (env[name] != "" or ":" not in op)
        if op.endswith("-"):
            value = env[name] if usable else word
        elif op.endswith("+"):
            value = word if usable else ""
        else:
            if not usable:
                raise DockerfileError(f"{name}: {word or 'is not set'}")
            value = env[name]
        return value, end + 1
    m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[i + 1:])
    if not m:
        return "$", i + 1
    return env.get(m.group(0), ""), i + 1 + len(m.group(0))
