"""The layerlab command: inspect, flatten, diff, save/convert, exit codes and error lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from layerlab import Image, ImageConfig, Layer, Whiteout
from layerlab.cli import build_parser, main
from layerlab.formats import load, save


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, Path]:
    base = Layer.from_dict({"/etc/hostname": "box\n", "/old": "gone"}, created_by="ADD base /")
    old = Image.from_layers([base], config=ImageConfig(cmd=("sh",)))
    new = old.add_layer(Layer.from_dict({"/etc/hostname": "app!\n", "/old": Whiteout(),
                                         "/app/x": "xyz"}), created_by="COPY . /")
    save(old, tmp_path / "old.tar", format="docker-archive", tag="app:1")
    save(new, tmp_path / "new", format="oci")
    return tmp_path / "old.tar", tmp_path / "new"


def test_inspect_text_and_json(images: tuple[Path, Path],
                               capsys: pytest.CaptureFixture[str]) -> None:
    old, new = images
    assert main(["inspect", str(new)]) == 0
    text = capsys.readouterr().out
    assert "COPY . /" in text and "ADD base /" in text and "files in the merged view" in text
    assert main(["inspect", str(old), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    img = load(old)
    assert [lyr["diff_id"] for lyr in info["layers"]] == img.diff_ids
    assert [lyr["chain_id"] for lyr in info["layers"]] == img.chain_ids
    assert info["layers"][0]["created_by"] == "ADD base /"
    assert info["repo_tags"] == ["app:1"]
    assert info["config"] == {"Cmd": ["sh"]}
    assert info["files"] == {"dir": 1, "file": 2}
    assert info["legacy_layers"][0]["parent"] is None


def test_diff_between_two_images(images: tuple[Path, Path],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    old, new = images
    assert main(["diff", str(old), str(new), "--json"]) == 0
    changes = json.loads(capsys.readouterr().out)
    assert [c["path"] for c in changes["added"]] == ["/app", "/app/x"]
    assert changes["changed"] == [{"path": "/etc/hostname", "kind": "file", "size": 5,
                                   "old_size": 4}]
    assert changes["deleted"] == [{"path": "/old", "kind": "file", "size": 4}]
    assert main(["diff", str(old), str(new)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "A /app  0", "A /app/x  3", "C /etc/hostname  4 -> 5", "D /old  4"]


def test_flatten_and_convert(images: tuple[Path, Path], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    _, new = images
    assert main(["flatten", str(new), str(tmp_path / "root")]) == 0
    assert (tmp_path / "root/etc/hostname").read_text() == "app!\n"
    assert not (tmp_path / "root/old").exists()
    assert main(["flatten", str(new), str(tmp_path / "root.tar")]) == 0
    assert (tmp_path / "root.tar").stat().st_size > 0
    assert main(["convert", str(new), str(tmp_path / "c.tar"), "--format", "oci-archive"]) == 0
    assert main(["save", f"oci-archive:{tmp_path / 'c.tar'}", str(tmp_path / "d.tar"),
                 "--format", "docker-archive", "--save-tag", "app:2"]) == 0
    assert load(tmp_path / "d.tar").diff_ids == load(new).diff_ids
    assert "saved 2 layers" in capsys.readouterr().out


def test_errors_are_one_line_on_stderr_with_exit_1(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "junk.tar").write_bytes(b"\0" * 100)
    assert main(["inspect", str(tmp_path / "junk.tar")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("layerlab: error: ")
    assert str(tmp_path / "junk.tar") in err
    assert main(["inspect", str(tmp_path / "missing")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_usage_errors_exit_2_and_help_documents_exit_codes(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert main(["save", "a", "b"]) == 2  # --format is required
    assert main([]) == 2
    capsys.readouterr()
    help_text = build_parser().format_help()
    for line in ("0  success", "1  the image could not be read", "2  usage error"):
        assert line in help_text
    assert "efficiency" not in help_text


def test_python_dash_m(images: tuple[Path, Path]) -> None:
    old, _ = images
    done = subprocess.run([sys.executable, "-m", "layerlab", "inspect", str(old), "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["format"] == "docker-archive"
    done = subprocess.run([sys.executable, "-m", "layerlab", "--help"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and "exit status" in done.stdout
