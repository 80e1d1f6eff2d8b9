"""Reading a Dockerfile: logical lines, instructions, flags, JSON or shell form, variables.

The subset layerlab builds: ``FROM RUN COPY ADD ENV ARG WORKDIR USER LABEL EXPOSE CMD
ENTRYPOINT``, comments, line continuations and the ``# escape=`` parser directive. Other
Docker instructions (``VOLUME``, ``HEALTHCHECK``, ``SHELL``, ``ONBUILD``...) and
multi-stage builds are refused with a :class:`DockerfileError` that names the line.

>>> df = parse_dockerfile('''
... FROM layerlab/tiny
... # a comment
... RUN echo hello \\\\
...     && echo world
... CMD ["sh"]
... ''')
>>> [(i.line, i.keyword, i.args) for i in df.instructions]
[(2, 'FROM', 'layerlab/tiny'), (4, 'RUN', 'echo hello     && echo world'), (6, 'CMD', '["sh"]')]
>>> df.instructions[2].json
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
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import DockerfileError

__all__ = [
    "SUPPORTED",
    "Dockerfile",
    "Instruction",
    "expand",
    "expand_words",
    "parse_dockerfile",
    "split_pairs",
    "split_words",
]

#: the instructions layerlab builds
SUPPORTED = frozenset({"FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER",
                       "LABEL", "EXPOSE", "CMD", "ENTRYPOINT"})
_DOCKER_ONLY = frozenset({"VOLUME", "HEALTHCHECK", "SHELL", "ONBUILD", "STOPSIGNAL",
                          "MAINTAINER"})
_JSON_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT", "COPY", "ADD"})
_FLAGS = {"COPY": frozenset({"chown", "chmod"}), "ADD": frozenset({"chown", "chmod"})}
#: Docker substitutes variables in these (RUN, CMD and ENTRYPOINT are left to the shell)
SUBSTITUTED = frozenset({"FROM", "COPY", "ADD", "ENV", "LABEL", "EXPOSE", "USER", "WORKDIR"})
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Instruction:
    """One instruction as written: keyword, arguments, flags, and where it stood.

    ``args`` is the text after the keyword and its flags (continuations joined, not yet
    substituted); ``json`` is the argument list for the JSON form, ``None`` for the
    shell form; ``line`` is the 1-based line of the keyword, ``end_line`` its last line.
    """

    keyword: str
    args: str
    line: int
    end_line: int
    flags: tuple[tuple[str, str], ...] = ()
    json: tuple[str, ...] | None = None

    @property
    def text(self) -> str:
        """The instruction as one line, for example ``COPY --chown=1:1 app.py /app/``."""
        flags = "".join(f"--{k}={v} " for k, v in self.flags)
        return f"{self.keyword} {flags}{self.args}".rstrip()

    def flag(self, name: str) -> str | None:
        return dict(self.flags).get(name)

    def error(self, problem: str) -> DockerfileError:
        """A :class:`DockerfileError` about this instruction, with its line number."""
        return DockerfileError(problem, line=self.line, text=self.text)


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile: the instructions in order and the escape character."""

    instructions: tuple[Instruction, ...]
    escape: str = "\\"

    @classmethod
    def parse(cls, text: str) -> Dockerfile:
        return parse_dockerfile(text)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Dockerfile:
        with open(path, encoding="utf-8") as f:
            return parse_dockerfile(f.read())


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
        instructions.append(_instruction(logical, start + 1, i, escape))
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


def _instruction(logical: str, line: int, end_line: int, escape: str) -> Instruction:
    keyword, _, rest = logical.strip().partition(" ")
    if "\t" in keyword:
        keyword, _, more = keyword.partition("\t")
        rest = more + " " + rest
    keyword_upper = keyword.upper()
    rest = rest.strip()
    text = logical.strip()
    if keyword_upper in _DOCKER_ONLY:
        raise DockerfileError(f"{keyword_upper} is a Docker instruction that layerlab does "
                              f"not support (supported: {', '.join(sorted(SUPPORTED))})",
                              line=line, text=text)
    if keyword_upper not in SUPPORTED:
        raise DockerfileError(f"unknown instruction {keyword!r}", line=line, text=text)
    flags: list[tuple[str, str]] = []
    while rest.startswith("--"):
        word, _, after = rest.partition(" ")
        name, eq, value = word[2:].partition("=")
        allowed = _FLAGS.get(keyword_upper, frozenset())
        if name == "from" and keyword_upper == "COPY":
            raise DockerfileError("COPY --from needs a multi-stage build, which layerlab "
                                  "does not support", line=line, text=text)
        if name not in allowed or not eq or not value:
            hint = f" (accepted: {', '.join(f'--{a}=...' for a in sorted(allowed))})" if allowed \
                else ""
            raise DockerfileError(f"unsupported flag {word!r} for {keyword_upper}{hint}",
                                  line=line, text=text)
        flags.append((name, value))
        rest = after.strip()
    json_form = _json_form(keyword_upper, rest, line, text) if keyword_upper in _JSON_FORMS \
        else None
    ins = Instruction(keyword_upper, rest, line, end_line, tuple(flags), json_form)
    _check_args(ins, escape)
    return ins


def _json_form(keyword: str, rest: str, line: int, text: str) -> tuple[str, ...] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except json.JSONDecodeError as exc:
        value = exc
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DockerfileError(
            "looks like the JSON form but is not a JSON list of strings (use double "
            "quotes); Docker would silently run it as a shell command: "
            f"/bin/sh -c {rest!r}", line=line, text=text)
    return tuple(value)


def _check_args(ins: Instruction, escape: str) -> None:
    k, args = ins.keyword, ins.args
    if not args and not (ins.json is not None and k in ("CMD", "ENTRYPOINT")):
        raise ins.error(f"{k} needs arguments")
    words = split_words(args, escape)
    if k == "FROM":
        if ins.flags or any(w.startswith("--") for w in words):
            raise ins.error("FROM flags (--platform) are not supported")
        if len(words) == 3 and words[1].upper() == "AS":
            return
        if len(words) != 1:
            raise ins.error("FROM takes one image name (optionally 'AS name')")
    elif k in ("COPY", "ADD"):
        n = len(ins.json) if ins.json is not None else len(words)
        if n < 2:
            raise ins.error(f"{k} needs at least one source and a destination")
    elif k in ("ENV", "LABEL"):
        split_pairs(ins, escape)
    elif k == "ARG":
        for word in words:
            name = word.partition("=")[0]
            if not _NAME.match(name):
                raise ins.error(f"ARG name {name!r} is not a valid variable name")
    elif k in ("WORKDIR", "USER") and len(words) != 1:
        raise ins.error(f"{k} takes exactly one argument")


def _check_order(instructions: list[Instruction]) -> None:
    froms = [ins for ins in instructions if ins.keyword == "FROM"]
    if len(froms) > 1:
        raise froms[1].error("a second FROM starts a multi-stage build, which layerlab "
                             "does not support")
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        if ins.keyword != "ARG":
            raise ins.error(f"{ins.keyword} before FROM: only ARG may come before FROM")


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
    i = 0
    while i < len(text):
        ch = text[i]
        if not quote and stop and ch == stop:
            return "".join(out), i
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
            continue
        out.append(ch)
        i += 1
    return "".join(out), i


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
