"""The numbers behind the views, on small images computed by hand (no pandas needed)."""

from __future__ import annotations

import math

import pytest
from _images import three_layers

from layerlab import Dir, Image, Layer, Opaque, Whiteout
from layerlab.analysis import (
    efficiency,
    efficiency_check,
    layer_changes,
    layer_stats,
    parse_bytes,
    sharing_rows,
)


def test_layer_stats_by_hand() -> None:
    stats = layer_stats(three_layers())
    # L0 adds /d /d/a /d/b /f /g: 5 paths, 10+20+100+40 = 170 B
    assert (stats[0].added, stats[0].modified, stats[0].deleted) == (5, 0, 0)
    assert (stats[0].size, stats[0].added_bytes) == (170, 170)
    # L1 supplies /f again unchanged (no change, as docker diff sees it), grows /g to
    # 100 B (C) and its whiteout deletes /d: one D, carrying the 30 B of the tree under it
    assert (stats[1].added, stats[1].modified, stats[1].deleted, stats[1].whiteouts) == (0, 1, 1, 1)
    assert (stats[1].modified_bytes, stats[1].deleted_bytes) == (100, 30)
    # L2 supplies /f again, identical: it stores 100 B and changes nothing
    assert (stats[2].added, stats[2].modified, stats[2].deleted, stats[2].size) == (0, 0, 0, 100)


def test_whiteout_of_nothing_counts_as_marker_but_deletes_nothing() -> None:
    img = Image.from_layers([Layer.from_dict({"/a": "1"}), Layer.from_dict({"/nope": Whiteout()})])
    s = layer_stats(img)[1]
    assert (s.whiteouts, s.deleted) == (1, 0)


def test_layer_changes_rows_and_how() -> None:
    rows = [(r.path, r.change, r.kind, r.size, r.how) for r in layer_changes(three_layers(), 1)]
    assert rows == [
        ("/d", "D", "dir", 30, "whiteout /d"),
        ("/g", "C", "file", 100, "size, content"),
    ]
    with pytest.raises(IndexError):
        layer_changes(three_layers(), 3)


def test_layer_changes_are_the_change_models() -> None:
    from layerlab.changes import of_layer

    img = three_layers()
    for k in range(len(img.layers)):
        assert [(r.change, r.path) for r in layer_changes(img, k)] == [
            (c.kind, c.path) for c in of_layer(img, k)]


def test_opaque_directory_changes() -> None:
    img = Image.from_layers([
        Layer.from_dict({"/o": Dir(), "/o/x": "12345"}),
        Layer.from_dict({"/o": Opaque(), "/o/y": "1234567"}),
    ])
    rows = [(r.path, r.change, r.size, r.how) for r in layer_changes(img, 1)]
    # the opaque marker hides /o/x (5 B); /o/y is new; /o has changes inside
    assert rows == [("/o", "C", 0, "changes inside"), ("/o/x", "D", 5, "opaque /o"),
                    ("/o/y", "A", 7, "")]
    assert layer_stats(img)[1].opaque_dirs == 1


def test_dive_efficiency_by_hand() -> None:
    report = efficiency(three_layers())
    # dive's leaf nodes per path (a whiteout of the directory /d counts what it hides: 10+20):
    #   /d/a [10]  /d/b [20]  /f [100, 100, 100]  /g [40, 100]  /d [30 (whiteout, L1)]
    # efficiency = sum(min) / sum(all) = (10+20+100+40+30) / (10+20+300+140+30) = 200/500
    assert report.efficiency == pytest.approx(0.4)
    # dive's wasted bytes: every copy of the paths with 2+ nodes: /f 300 + /g 140
    assert report.wasted_bytes == 440
    # user size: every layer but the base: 200 + 100
    assert (report.size_bytes, report.user_size_bytes) == (470, 300)
    assert report.user_wasted_percent == pytest.approx(440 / 300)
    # reclaimable: /f 300-100 kept, /g 140-100 kept (the kept copy is the big one), and the
    # files under the deleted /d that L0 still stores: 10 + 20
    assert report.reclaimable_bytes == 200 + 40 + 10 + 20
    # ...which is all stored bytes (470) minus what the final image shows (/f 100, /g 100)
    assert report.reclaimable_bytes == 470 - 200
    assert report.reclaimable_user_percent == pytest.approx(270 / 300)


def test_dive_rows_explain_themselves() -> None:
    rows = {p.path: p for p in efficiency(three_layers()).inefficiencies}
    assert list(rows) == ["/f", "/g", "/d/b", "/d/a", "/d"]  # largest dive figure first
    f = rows["/f"]
    assert (f.count, f.dive_wasted, f.smallest, f.kept, f.kept_layer, f.reclaimable) == (
        3, 300, 100, 100, 2, 200)
    assert "dive counts every one (300 B)" in f.why and "(200 B) can be reclaimed" in f.why
    g = rows["/g"]
    assert (g.dive_wasted, g.smallest, g.kept, g.reclaimable) == (140, 40, 100, 40)
    assert "smallest copy (40 B)" in g.why
    a = rows["/d/a"]
    assert (a.count, a.dive_wasted, a.reclaimable) == (1, 0, 10)
    assert "misses these bytes" in a.why and "hidden from layer 1 on" in a.why
    d = rows["/d"]
    assert (d.count, d.cumulative, d.dive_wasted, d.reclaimable) == (1, 30, 0, 0)
    assert "whiteout of a directory in layer 1" in d.why


def test_file_whiteout_counts_zero_and_implied_directory_too() -> None:
    img = Image.from_layers([
        Layer.from_dict({"/f": "x" * 50, "/i/a": "y" * 8}),  # /i is only implied: no tar entry
        Layer.from_dict({"/f": Whiteout(), "/i": Whiteout()}),
    ])
    report = efficiency(img)
    paths = {p.path: p for p in report.paths}
    # a file whiteout adds a 0 B node: /f [50, 0]; dive's IsDir is false for an implied /i: [0]
    assert [n.size for n in paths["/f"].nodes] == [50, 0]
    assert [n.size for n in paths["/i"].nodes] == [0]
    # min sum 0 + 8 + 0, all 50 + 8 + 0
    assert report.efficiency == pytest.approx(8 / 58)
    assert (report.wasted_bytes, report.reclaimable_bytes) == (50, 58)
    # no user bytes: Go's 50/0 is +Inf
    assert math.isinf(report.user_wasted_percent)


def test_efficiency_of_single_copies_is_one() -> None:
    report = efficiency(Image.from_layers([Layer.from_dict({"/a": "1234"})]))
    assert report.efficiency == 1.0
    assert (report.wasted_bytes, report.reclaimable_bytes) == (0, 0)
    assert math.isnan(report.user_wasted_percent)  # 0/0, as Go computes it
    assert efficiency_check(report) == (True, [])
    assert efficiency(Image.scratch()).efficiency == 1.0


def test_efficiency_check_rules() -> None:
    img = three_layers()
    ok, reasons = efficiency_check(img)
    assert not ok
    assert [r.split(":")[0] for r in reasons] == ["lowestEfficiency", "highestUserWastedPercent"]
    ok, reasons = efficiency_check(img, highest_wasted_bytes="400B",
                                   highest_user_wasted_percent="disabled", lowest_efficiency=0.3)
    assert not ok and reasons == [
        "highestWastedBytes: too many bytes wasted (wasted-bytes=440 > threshold=400)"]
    assert efficiency_check(img, lowest_efficiency=0.4, highest_wasted_bytes="440",
                            highest_user_wasted_percent=None) == (True, [])
    with pytest.raises(ValueError, match="outside allowed range"):
        efficiency_check(img, lowest_efficiency=1.5)
    with pytest.raises(ValueError, match="invalid size"):
        efficiency_check(img, highest_wasted_bytes="lots")


@pytest.mark.parametrize(("text", "value"), [
    ("20MB", 20_000_000), ("20M", 20_000_000), ("20mb", 20_000_000), ("20MiB", 20 * 1024**2),
    ("1.5 KiB", 1536), ("512", 512), ("1,000 B", 1000), ("2GB", 2 * 10**9),
])
def test_parse_bytes_like_go_humanize(text: str, value: int) -> None:
    assert parse_bytes(text) == value


def test_sharing_rows_by_chain_id() -> None:
    base, top = Layer.from_dict({"/a": "1"}), Layer.from_dict({"/b": "22"})
    images = {"b": Image.from_layers([base, top]), "a": Image.from_layers([base]),
              "c": Image.from_layers([top])}
    rows = sharing_rows(images)
    # a's base; b's base (same chain) and its top; c's top is the same diff on no parent
    assert [(r.size, r.used_by, r.shared) for r in rows] == [
        (1, ("a", "b"), True), (2, ("b",), False), (2, ("c",), False)]
    assert rows[1].diff_id == rows[2].diff_id and rows[1].chain_id != rows[2].chain_id


def test_old_module_name_still_imports_with_a_deprecation_warning() -> None:
    import importlib
    import sys

    import layerlab.analysis as moved

    sys.modules.pop("layerlab.views.analysis", None)
    with pytest.warns(DeprecationWarning, match="layerlab.analysis"):
        old = importlib.import_module("layerlab.views.analysis")
    assert old.efficiency is moved.efficiency and old.layer_changes is moved.layer_changes
    assert sorted(old.__all__) == sorted(moved.__all__)
    assert not hasattr(old, "short_id")  # dead code, removed
