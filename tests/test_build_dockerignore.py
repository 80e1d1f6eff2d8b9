""".dockerignore with Docker's rules (moby/patternmatcher), and its effect on the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.build import BuildCache, BuildContext, Builder, BuildError, IgnoreMatcher


@pytest.mark.parametrize(("patterns", "path", "excluded"), [
    ("*.pyc", "a.pyc", True),
    ("*.pyc", "sub/a.pyc", False),            # * does not cross /
    ("**/*.pyc", "sub/deep/a.pyc", True),     # ** crosses any number of directories
    ("**/*.pyc", "a.pyc", True),              # ... zero included
    ("docs/**", "docs/a/b.md", True),
    ("docs/**", "docs", False),
    ("node_modules", "node_modules/x/y.js", True),  # a parent directory matches
    ("/build", "build/out", True),            # leading / is dropped
    ("./build/../build", "build", True),      # cleaned like filepath.Clean
    ("a?c", "abc", True),
    ("a?c", "a/c", False),
    ("[a-c]x", "bx", True),
    ("\\*x", "*x", True),
    ("\\*x", "ax", False),
    ("#comment", "#comment", False),          # a comment line
    (" spaced.txt ", "spaced.txt", True),     # trimmed
    ("*.md\n!README.md", "README.md", False),
    ("*.md\n!README.md\nREADME*", "README.md", True),  # the last match decides
    ("logs\n!logs/keep.txt", "logs/keep.txt", False),
    ("logs\n!logs/keep.txt", "logs/other.txt", True),
    ("!a.txt", "a.txt", False),
])
def test_patterns(patterns: str, path: str, excluded: bool) -> None:
    assert IgnoreMatcher.parse(patterns).excluded(path) is excluded


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    for rel, text in {"app.py": "print(1)\n", "notes.log": "x\n", "logs/a.log": "a\n",
                      "logs/keep.txt": "keep\n", "secret/key": "k\n",
                      "Dockerfile": "FROM layerlab/tiny\nCOPY . /ctx/\n"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def _files(builder: Builder) -> list[str]:
    img = builder.run()
    return sorted(e.path for e in img.view().walk("/ctx"))


def test_ignored_paths_stay_out_of_copy_and_the_file_can_ignore_itself(ctx: Path) -> None:
    (ctx / ".dockerignore").write_text("*.log\nlogs\n!logs/keep.txt\nsecret/\n")
    assert _files(Builder(None, ctx)) == [
        "/ctx/.dockerignore", "/ctx/Dockerfile", "/ctx/app.py", "/ctx/logs",
        "/ctx/logs/keep.txt"]
    (ctx / ".dockerignore").write_text("*.log\nlogs\nsecret\n.dockerignore\nDockerfile\n")
    assert _files(Builder(None, ctx)) == ["/ctx/app.py"]
    assert BuildContext(ctx).files() == ["app.py"]


def test_naming_an_ignored_file_is_an_error_that_says_so(ctx: Path) -> None:
    (ctx / ".dockerignore").write_text("# keep secrets out\nsecret\n")
    with pytest.raises(BuildError, match=r"excluded by \.dockerignore \(line 2\)"):
        Builder("FROM layerlab/tiny\nCOPY secret/key /\n", ctx).run()


def test_an_ignored_file_changing_does_not_invalidate_copy(ctx: Path) -> None:
    (ctx / ".dockerignore").write_text("*.log\n")
    cache = BuildCache()
    Builder(None, ctx, cache=cache).run()
    (ctx / "notes.log").write_text("changed\n")
    again = Builder(None, ctx, cache=cache)
    again.run()
    assert again.results[-1].cache == "hit"
    (ctx / "app.py").write_text("print(2)\n")
    third = Builder(None, ctx, cache=cache)
    third.run()
    assert third.results[-1].cache == "miss" and "app.py" in third.results[-1].why


def test_dockerfile_specific_ignore_file_wins(ctx: Path) -> None:
    (ctx / ".dockerignore").write_text("*.log\n")
    (ctx / "Dockerfile.dockerignore").write_text("app.py\n")
    files = _files(Builder(str(ctx / "Dockerfile"), ctx))
    assert "/ctx/app.py" not in files and "/ctx/notes.log" in files
    # given as text, there is no Dockerfile path, so the context's file applies
    files = _files(Builder("FROM layerlab/tiny\nCOPY . /ctx/\n", ctx))
    assert "/ctx/app.py" in files and "/ctx/notes.log" not in files


def test_wildcard_sources_skip_ignored_matches(ctx: Path) -> None:
    (ctx / "b.log").write_text("b\n")
    (ctx / ".dockerignore").write_text("notes.log\n")
    img = Builder("FROM layerlab/tiny\nCOPY *.log /l/\n", ctx).run()
    assert img.view().listdir("/l") == ["b.log"]
