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
    # Docker's answer: /etc has a change inside, so it is listed as changed too
    assert changes["changed"] == [
        {"path": "/etc", "kind": "dir", "size": 0, "old_size": 0, "why": "changes inside"},
        {"path": "/etc/hostname", "kind": "file", "size": 5, "old_size": 4,
         "why": "size, content"}]
    assert changes["deleted"] == [{"path": "/old", "kind": "file", "size": 4, "why": "gone"}]
    assert main(["diff", str(old), str(new)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "A /app  0", "A /app/x  3", "C /etc  0 -> 0", "C /etc/hostname  4 -> 5", "D /old  4"]


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
    assert "efficiency" in help_text and "build" in help_text
    assert "a rule" in help_text and "failed" in help_text  # efficiency --ci's exit status


def test_python_dash_m(images: tuple[Path, Path]) -> None:
    old, _ = images
    done = subprocess.run([sys.executable, "-m", "layerlab", "inspect", str(old), "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["format"] == "docker-archive"
    done = subprocess.run([sys.executable, "-m", "layerlab", "--help"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and "exit status" in done.stdout


@pytest.fixture
def wasteful(tmp_path: Path) -> Path:
    """A base, then the same 1,000-byte file written twice by later layers, then deleted."""
    img = Image.from_layers([
        Layer.from_dict({"/etc/os-release": "ID=t\n"}, created_by="ADD base /"),
        Layer.from_dict({"/data/blob": "x" * 1000}, created_by="COPY blob /data/"),
        Layer.from_dict({"/data/blob": "y" * 1000}, created_by="RUN rewrite"),
        Layer.from_dict({"/data/blob": Whiteout()}, created_by="RUN rm /data/blob"),
    ])
    save(img, tmp_path / "w.tar", format="docker-archive")
    return tmp_path / "w.tar"


def test_efficiency_report_text_and_json(wasteful: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from layerlab.analysis import efficiency

    assert main(["efficiency", str(wasteful)]) == 0  # without --ci: figures only, exit 0
    text = capsys.readouterr().out
    assert "efficiency:" in text and "wastedBytes: 2000 bytes (2.0 kB)" in text
    assert "Inefficient Files:" in text and "/data/blob" in text and "Results:" not in text
    assert main(["efficiency", str(wasteful), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    report = efficiency(load(wasteful))
    assert doc["efficiency"] == pytest.approx(report.efficiency)
    assert doc["wasted_bytes"] == report.wasted_bytes == 2000
    assert doc["reclaimable_bytes"] == report.reclaimable_bytes == 2000  # nothing kept
    assert doc["user_wasted_percent"] == pytest.approx(2000 / 2000)
    assert doc["inefficiencies"][0]["path"] == "/data/blob"
    assert "rules" not in doc


def test_efficiency_ci_rules_and_exit_codes(wasteful: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["efficiency", str(wasteful), "--ci"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: lowestEfficiency" in out and "PASS: highestWastedBytes" in out
    assert "FAIL: highestUserWastedPercent" in out
    assert "Result:FAIL [Total:3] [Passed:1] [Failed:2] [Warn:0] [Skipped:0]" in out
    # every rule relaxed or disabled: pass (a threshold alone implies --ci)
    assert main(["efficiency", str(wasteful), "--lowest-efficiency", "0",
                 "--highest-wasted-bytes", "1MB",
                 "--highest-user-wasted-percent", "disabled", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["result"] == "PASS"
    assert [(r["name"], r["status"]) for r in doc["rules"]] == [
        ("lowestEfficiency", "PASS"), ("highestWastedBytes", "PASS"),
        ("highestUserWastedPercent", "SKIP")]
    assert main(["efficiency", str(wasteful), "--highest-wasted-bytes", "1kB", "--json",
                 "--lowest-efficiency", "disabled",
                 "--highest-user-wasted-percent", "disabled"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["rules"][1]["message"].startswith("too many bytes wasted (wasted-bytes=2000")
    # a clean single-layer image passes dive's defaults
    save(Image.from_layers([Layer.from_dict({"/a": "1"})]), tmp_path / "ok.tar",
         format="docker-archive")
    assert main(["efficiency", str(tmp_path / "ok.tar"), "--ci"]) == 0
    assert "Result:PASS" in capsys.readouterr().out
    # thresholds out of range or unparsable are usage errors
    assert main(["efficiency", str(wasteful), "--lowest-efficiency", "1.5"]) == 2
    assert main(["efficiency", str(wasteful), "--highest-wasted-bytes", "lots"]) == 2
    assert main(["efficiency", str(tmp_path / "missing.tar")]) == 1


def test_build_prints_each_step_and_saves(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx/hello.txt").write_text("hello\n")
    dockerfile = tmp_path / "ctx/Dockerfile"
    dockerfile.write_text("FROM layerlab/tiny\nCOPY hello.txt /app/\n"
                          "RUN echo hi > /app/x\nENV A=b\n")
    out_tar = tmp_path / "app.tar"
    assert main(["build", str(dockerfile), "-t", "app:1", "--save", str(out_tar)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert [ln for ln in lines if ln.startswith("Step ")] == [
        "Step 1/4 : FROM layerlab/tiny", "Step 2/4 : COPY hello.txt /app/",
        "Step 3/4 : RUN echo hi > /app/x", "Step 4/4 : ENV A=b"]
    assert " ---> Cache miss: no cache entry for this parent image" in lines
    assert " ---> Cache miss: previous step missed, so the parent image is new" in lines
    assert " ---> empty layer (config and history only)" in lines
    img = load(out_tar)
    layer_lines = [ln for ln in lines if ln.startswith(" ---> new layer ")]
    assert layer_lines == [
        f" ---> new layer {img.layers[1].short_id}  6 bytes  (+2 ~0 -0 paths)",
        f" ---> new layer {img.layers[2].short_id}  3 bytes  (+1 ~1 -0 paths)"]  # /app too
    assert f"Successfully built {img.id[7:19]}" in lines and "Successfully tagged app:1" in lines
    assert img.view().read("/app/hello.txt") == b"hello\n" and img.config.env_dict()["A"] == "b"
    assert load(out_tar, tag="app:1").id == img.id
    # --no-cache and an explicit context; a missing source is one error line, exit 1
    assert main(["build", str(dockerfile), str(tmp_path / "ctx"), "--no-cache"]) == 0
    assert "Cache miss: no_cache=True" in capsys.readouterr().out
    (tmp_path / "ctx/hello.txt").unlink()
    assert main(["build", str(dockerfile)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("layerlab: error: ") and "hello.txt" in err and err.count("\n") == 1
    assert main(["build"]) == 2


def test_diff_escapes_names_that_would_forge_lines_or_reach_the_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"})])
    hostile = Image.from_layers([*base.layers, Layer.from_dict({
        "/x\nD passwd": "a", "/\x1b]0;pwned\x07title": "b", "/plain": "c"})])
    save(base, tmp_path / "a.tar", format="docker-archive")
    save(hostile, tmp_path / "b.tar", format="docker-archive")
    assert main(["diff", str(tmp_path / "a.tar"), str(tmp_path / "b.tar")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert out.splitlines() == ['A "/\\x1b]0;pwned\\atitle"  1', "A /plain  1",
                                'A "/x\\nD passwd"  1']


def test_cap_flags_reach_the_loader(images: tuple[Path, Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    old, _ = images
    assert main(["inspect", str(old), "--max-entries", "1"]) == 1
    err = capsys.readouterr().err
    assert "max_entries=1" in err and "Traceback" not in err
    assert main(["inspect", str(old), "--max-layer-bytes", "1KiB"]) == 1
    assert "max_layer_bytes=1024" in capsys.readouterr().err
