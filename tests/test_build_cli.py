"""``layerlab build`` with docker's command line (and the older DOCKERFILE [CONTEXT] form)."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import pytest

from layerlab.cli import main
from layerlab.formats import load

MULTI = ("ARG GREETING=hi\nFROM layerlab/tiny AS build\nARG GREETING\n"
         "RUN echo $GREETING > /out.txt\nFROM layerlab/tiny AS unused\nRUN echo x > /x\n"
         "FROM scratch AS final\nCOPY --from=build /out.txt /\nCMD [\"/out.txt\"]\n")


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx/Dockerfile").write_text(MULTI)
    return tmp_path / "ctx"


def test_docker_form_with_tags_target_build_args_and_outputs(
        ctx: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "img.tar"
    assert main(["build", "-t", "app:1", "-t", "app:latest", "--build-arg", "GREETING=hello",
                 "--builder", "buildkit", "-o", f"type=docker,dest={out}", str(ctx)]) == 0
    text = capsys.readouterr().out
    assert "[stage 1 (unused)] skipped: not needed by the target: BuildKit skips it" in text
    assert "Successfully tagged app:1" in text and "Successfully tagged app:latest" in text
    img = load(out, tag="app:1")
    assert img.view().read("/out.txt") == b"hello\n" and len(img.layers) == 1
    # -o DIR: the final filesystem; type=tar: the same as one tar; type=oci: an oci-archive
    assert main(["build", "-o", str(tmp_path / "rootfs"), str(ctx)]) == 0
    assert (tmp_path / "rootfs/out.txt").read_text() == "hi\n"
    assert main(["build", "-o", f"type=tar,dest={tmp_path / 'fs.tar'}", str(ctx)]) == 0
    with tarfile.open(tmp_path / "fs.tar") as tf:
        assert [m.name.lstrip("./") for m in tf.getmembers() if m.isfile()] == ["out.txt"]
    assert main(["build", "--target", "unused", "-o",
                 f"type=oci,dest={tmp_path / 'oci.tar'}", str(ctx)]) == 0
    assert load(tmp_path / "oci.tar").view().read("/x") == b"x\n"
    capsys.readouterr()
    assert main(["build", "--target", "ghost", str(ctx)]) == 1
    assert "target stage 'ghost' could not be found" in capsys.readouterr().err


def test_dockerfile_from_f_relative_to_the_cwd_or_stdin(
        ctx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "other.Dockerfile").write_text("FROM layerlab/tiny\nENV FROM_F=1\n")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "f.tar"
    assert main(["build", "-f", "other.Dockerfile", "--save", str(out), str(ctx)]) == 0
    assert load(out).config.env_dict()["FROM_F"] == "1"
    monkeypatch.setattr(sys, "stdin", io.StringIO("FROM layerlab/tiny\nENV STDIN=1\n"))
    assert main(["build", "-f", "-", "--save", str(out), str(ctx)]) == 0
    assert load(out).config.env_dict()["STDIN"] == "1"
    capsys.readouterr()
    assert main(["build", "-f", "missing.Dockerfile", str(ctx)]) == 1
    assert "failed to read Dockerfile" in capsys.readouterr().err
    assert main(["build", str(tmp_path / "no-such-dir")]) == 1
    assert main(["build", "-f", "x", "a", "b"]) == 1


def test_the_older_form_still_works(ctx: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(ctx / "Dockerfile")]) == 0
    assert main(["build", str(ctx / "Dockerfile"), str(ctx)]) == 0
    assert capsys.readouterr().out.count("Successfully built") == 2


def test_build_arg_without_a_value_comes_from_the_environment(
        ctx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREETING", "from-env")
    assert main(["build", "--build-arg", "GREETING", "-o", str(tmp_path / "fs"), str(ctx)]) == 0
    assert (tmp_path / "fs/out.txt").read_text() == "from-env\n"
