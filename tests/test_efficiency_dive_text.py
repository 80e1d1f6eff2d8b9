"""``layerlab efficiency`` text as dive prints it: go-humanize sizes, dive's order for ties,
and ``0 %`` (not ``NaN %``) for an image without user bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab import Image, Layer, Whiteout
from layerlab.analysis import efficiency, go_humanize_bytes
from layerlab.cli import main
from layerlab.formats import save


@pytest.mark.parametrize(("n", "text"), [
    (0, "0 B"), (9, "9 B"), (10, "10 B"), (999, "999 B"), (1000, "1.0 kB"), (1049, "1.0 kB"),
    (1050, "1.1 kB"), (9949, "9.9 kB"), (9950, "10 kB"), (32_000, "32 kB"), (32_768, "33 kB"),
    (999_000, "999 kB"), (999_499, "1000 kB"), (1_000_000, "1.0 MB"), (20_000_000, "20 MB"),
    (5 * 10**9, "5.0 GB"), (2**63 - 1, "9.2 EB"),
])
def test_sizes_as_go_humanize_formats_them(n: int, text: str) -> None:
    assert go_humanize_bytes(n) == text


def _save(img: Image, path: Path) -> str:
    save(img, path, format="oci")
    return str(path)


def test_ties_come_out_in_dives_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # four paths of equal cumulative size (2 x 16000 bytes) become inefficient in layer 2, in
    # dive's walk order (sorted, children first): /a/x, /a, ... ; /b and /c tie too.
    same = "z" * 16_000
    img = Image.from_layers([
        Layer.from_dict({"/base": "b"}),
        Layer.from_dict({"/c": same, "/b": same, "/d/y": same, "/a": same}),
        Layer.from_dict({"/a": same, "/b": same, "/c": same, "/d/y": same}),
        Layer.from_dict({"/big": "q" * 5000}),
        Layer.from_dict({"/big": "q" * 5000}),
    ])
    report = efficiency(img)
    assert list(report.second_node_order) == ["/a", "/b", "/c", "/d/y", "/big"]
    # sort.Sort ascending (stable for a few rows), printed last to first
    assert [p.path for p in report.dive_inefficiencies] == ["/d/y", "/c", "/b", "/a", "/big"]
    assert main(["efficiency", _save(img, tmp_path / "t")]) == 0
    text = capsys.readouterr().out
    table = text.split("Inefficient Files:\n", 1)[1].splitlines()
    assert table[0] == "Count  Wasted Space   Reclaimable  File Path"
    assert table[1] == "    2         32 kB         16 kB  /d/y"
    assert [line.split()[-1] for line in table[1:]] == ["/d/y", "/c", "/b", "/a", "/big"]
    assert table[-1] == "    2         10 kB        5.0 kB  /big"
    assert "wastedBytes: 138000 bytes (138 kB)" in text


def test_no_user_bytes_is_zero_percent_not_nan(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    img = Image.from_layers([Layer.from_dict({"/only": "x" * 100})])
    assert main(["efficiency", _save(img, tmp_path / "one")]) == 0
    text = capsys.readouterr().out
    assert "userWastedPercent: 0.0000 %" in text and "NaN" not in text
    assert "efficiency: 100.0000 %" in text and "wastedBytes: 0 bytes (0 B)" in text
    deleted = Image.from_layers([Layer.from_dict({"/f": "x" * 100}),
                                 Layer.from_dict({"/f": Whiteout()})])
    assert main(["efficiency", _save(deleted, tmp_path / "del")]) == 0
    assert "userWastedPercent: " in capsys.readouterr().out
