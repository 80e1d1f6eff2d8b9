"""binder/ is what repo2docker needs to open the kit on Binder or a JupyterHub.

repo2docker (``--no-build --debug``) prints the Dockerfile it would build, with no Docker
daemon: the test checks that it installs the runtime requirements, busybox-static for
real mode, and runs postBuild as the notebook user (not root).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _requirement_names(lines: list[str]) -> set[str]:
    return {re.split(r"[<>=!~ \[]", line.strip(), maxsplit=1)[0].lower()
            for line in lines if line.strip() and not line.lstrip().startswith("#")}


def test_binder_requirements_match_the_project() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.S | re.M)
    assert block is not None
    project = re.findall(r'"([^"]+)"', block.group(1))
    binder = (REPO / "binder" / "requirements.txt").read_text().splitlines()
    assert _requirement_names(binder) == _requirement_names(project)


def test_readme_badge_opens_the_start_notebook() -> None:
    readme = (REPO / "README.md").read_text()
    assert "urlpath=lab/tree/notebooks/00-start-here.ipynb" in readme
    assert (REPO / "notebooks" / "00-start-here.ipynb").exists()


@pytest.mark.reference
def test_repo2docker_accepts_binder() -> None:
    exe = shutil.which("repo2docker") or str(Path(sys.executable).parent / "repo2docker")
    if not Path(exe).exists():
        pytest.skip("repo2docker is not installed (pip install jupyter-repo2docker)")
    done = subprocess.run([exe, "--no-build", "--debug", "--no-run", str(REPO)],
                          capture_output=True, text=True, timeout=300, check=False)
    dockerfile = done.stdout + done.stderr
    assert done.returncode == 0, dockerfile[-2000:]
    assert re.search(r"apt-get .*install[\s\S]*busybox-static", dockerfile), dockerfile
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in dockerfile
    user_then_postbuild = re.search(r"USER \$\{NB_USER\}[\s\S]*RUN \./binder/postBuild",
                                    dockerfile)
    assert user_then_postbuild, "postBuild must run as the notebook user"
