"""``.dockerignore``: which context paths COPY and ADD never see, with Docker's rules.

The rules are those of ``moby/patternmatcher`` (used by Docker and BuildKit):

* one pattern a line; a line starting with ``#`` is a comment; blank lines are skipped;
  patterns are trimmed, cleaned like Go's ``filepath.Clean`` and a leading ``/`` is
  dropped (``/build`` is ``build``);
* ``*`` matches any run of characters except ``/``, ``?`` one such character, ``[a-z]``
  a class, ``\\`` escapes the next character; ``**`` matches any number of directories,
  zero included (``**/*.pyc``, ``docs/**``);
* a pattern matches a path when it matches the path **or one of its parent
  directories** (``node_modules`` keeps out everything below it);
* ``!pattern`` is an exception: it lets back in what an earlier line kept out. The
  **last** line that matches decides;
* ``.dockerignore`` and the Dockerfile can ignore themselves: COPY and ADD then do not
  see them (the builder still reads them).

An ignored file is not part of the context, so changing it does not change the checksum
of ``COPY . .`` and the cache still hits.

>>> m = IgnoreMatcher.parse("# build output\\n*.pyc\\nnode_modules\\n!node_modules/keep.js\\n")
>>> [m.excluded(p) for p in ("a.pyc", "sub/a.pyc", "node_modules/x/y.js",
...                          "node_modules/keep.js", "app.py")]
[True, False, True, False, False]
>>> IgnoreMatcher.parse("**/*.pyc").excluded("sub/deep/a.pyc")
True
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

__all__ = ["IgnoreMatcher", "IgnorePattern"]

_REGEX_SPECIAL = set(".+()|{}$^")


@dataclass(frozen=True)
class IgnorePattern:
    """One cleaned pattern: ``text`` as matched, ``exclusion`` for a ``!`` line."""

    text: str
    exclusion: bool
    line: int
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.match(path) is not None


def _clean(pattern: str) -> str:
    cleaned = posixpath.normpath(pattern)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if len(cleaned) > 1 and cleaned.startswith("/"):
        cleaned = cleaned[1:]
    return cleaned


def _compile(pattern: str) -> re.Pattern[str]:
    """Translate a pattern to a regular expression, as patternmatcher's ``compile``."""
    out = "^"
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                out += ".*" if i >= n else "(.*/)?"
                continue
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch in _REGEX_SPECIAL:
            out += "\\" + ch
        elif ch == "\\":
            if i + 1 < n:
                out += re.escape(pattern[i + 1])
                i += 1
            else:
                out += "\\\\"
        elif ch in "[]":
            in_class = ch == "["
            out += ch
        else:
            out += ch if in_class else re.escape(ch)
        i += 1
    try:
        return re.compile(out + "$", re.DOTALL)
    except re.error as exc:  # an unclosed [ : Docker reports a syntax error too
        raise ValueError(f"bad pattern {pattern!r}: {exc}") from None


class IgnoreMatcher:
    """The patterns of one ``.dockerignore``, in order."""

    def __init__(self, patterns: list[IgnorePattern]) -> None:
        self.patterns = patterns

    @classmethod
    def parse(cls, text: str) -> IgnoreMatcher:
        """Read ``.dockerignore`` text (raises ``ValueError`` for a broken ``[`` class)."""
        patterns: list[IgnorePattern] = []
        for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
            if raw.startswith("#"):
                continue
            line = raw.strip()
            if not line:
                continue
            exclusion = line.startswith("!")
            if exclusion:
                line = line[1:].strip()
            if not line:
                continue
            cleaned = _clean(line)
            try:
                regex = _compile(cleaned)
            except ValueError as exc:
                raise ValueError(f".dockerignore line {number}: {exc}") from None
            patterns.append(IgnorePattern(cleaned, exclusion, number, regex))
        return cls(patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __repr__(self) -> str:
        return f"<IgnoreMatcher: {len(self.patterns)} patterns>"

    def excluded(self, path: str) -> bool:
        """True when ``path`` (relative to the context, ``/``-separated) is kept out."""
        path = path.strip("/")
        parent = posixpath.dirname(path)
        parents = parent.split("/") if parent else []
        matched = False
        for pattern in self.patterns:
            # an exception can only change a path already excluded, and the reverse
            if pattern.exclusion != matched:
                continue
            hit = pattern.matches(path)
            if not hit:
                for k in range(1, len(parents) + 1):
                    if pattern.matches("/".join(parents[:k])):
                        hit = True
                        break
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_include_below(self, directory: str) -> bool:
        """Whether an exception could let back in something below an excluded directory
        (so the walk must descend into it)."""
        return any(p.exclusion for p in self.patterns)
