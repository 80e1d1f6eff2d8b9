"""Every document the code, the tests and the docs cite is in the checkout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: documents cited by name that live elsewhere, each with where
EXTERNAL = {
    "layer.md": "OCI image-spec, https://github.com/opencontainers/image-spec/blob/main/layer.md",
}
#: files whose .md names are test data (.dockerignore patterns, this file's examples)
DATA = {"tests/test_build_dockerignore.py", "tests/test_repo_hygiene.py"}

#: a name ending in .md, not a glob (*.md), a negation (!x.md) or part of a URL
CITED = re.compile(r"(?<![\w*!./:-])([\w./-]*[\w-]+\.md)\b")


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [p for p in out.splitlines() if p.endswith((".py", ".md", ".ipynb", ".cfg", ".toml"))
            and p not in DATA and (REPO / p).is_file()]


def _resolves(citing: str, name: str) -> bool:
    here = (REPO / citing).parent
    return any(p.is_file() for p in (REPO / name, here / name, REPO / "docs" / name))


def test_every_cited_document_exists() -> None:
    files = _tracked()
    assert "docs/union-semantics.md" in files and "layerlab/union.py" in files
    missing = sorted({f"{path}: {name}"
                      for path in files
                      for name in CITED.findall((REPO / path).read_text(encoding="utf-8"))
                      if name not in EXTERNAL and not _resolves(path, name)})
    assert not missing, "cited but not in the checkout:\n" + "\n".join(missing)


def test_the_scan_sees_citations() -> None:
    text = (REPO / "tests" / "hostile" / "corpus.py").read_text(encoding="utf-8")
    assert "docs/hostile-input.md" in CITED.findall(text)
    assert CITED.findall("see shared/notes.md, *.md and https://x.org/a.md") == ["shared/notes.md"]
