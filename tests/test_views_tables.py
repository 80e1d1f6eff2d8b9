"""pandas tables: every number checked against a hand computation."""

from __future__ import annotations

import pandas as pd
import pytest
from _images import three_layers

from layerlab import HistoryEntry, Image, Layer
from layerlab.build import cache as cache_mod
from layerlab.views import (
    cache_table,
    changes_table,
    diff_table,
    efficiency_table,
    files_table,
    history_table,
    layers_table,
    sharing_summary,
    sharing_table,
)


def test_layers_table() -> None:
    img = three_layers()
    t = layers_table(img)
    assert list(t.columns) == ["index", "digest", "diff_id", "chain_id", "legacy_id",
                               "legacy_parent", "created_by", "size", "added", "modified",
                               "deleted", "whiteouts", "opaque_dirs"]
    # sizes 170/200/100; L1 changes /g (its /f is the same as below) and its whiteout
    # deletes the tree /d (one D, as docker diff lists it); L2's /f changes nothing
    counts = t[["size", "added", "modified", "deleted", "whiteouts", "opaque_dirs"]]
    assert counts.values.tolist() == [
        [170, 5, 0, 0, 0, 0], [200, 0, 1, 1, 1, 0], [100, 0, 0, 0, 0, 0]]
    assert t["diff_id"].tolist() == img.diff_ids and t["chain_id"].tolist() == img.chain_ids
    assert t["chain_id"][0] == t["diff_id"][0]  # the base's chain id is its diff id
    legacy = img.legacy_layers
    assert t["legacy_id"].tolist() == [x.id for x in legacy]
    assert t["legacy_parent"].tolist() == [None, legacy[0].id, legacy[1].id]
    assert t["digest"][2] == img.layers[2].digest.split(":")[1][:12]


def test_files_table() -> None:
    view = three_layers().view()
    t = files_table(view)
    assert list(t.columns) == ["path", "type", "size", "mode", "uid", "gid", "layer", "change",
                               "hides", "hidden_bytes"]
    # /f: from L2, hides L0's and L1's copies (200 B); /g: from L1, hides L0's 40 B
    assert t.values.tolist() == [
        ["/f", "file", 100, "-rw-r--r--", 0, 0, 2, "M", 2, 200],
        ["/g", "file", 100, "-rw-r--r--", 0, 0, 1, "M", 1, 40],
    ]
    assert files_table(view, layer=1)["path"].tolist() == ["/g"]
    assert files_table(view, change="A").empty
    first = files_table(three_layers().view(0), change="A")
    assert first["path"].tolist() == ["/d", "/d/a", "/d/b", "/f", "/g"]
    assert first["mode"][0] == "drwxr-xr-x"
    with pytest.raises(ValueError):
        files_table(view, change="D")


def test_changes_table() -> None:
    t = changes_table(three_layers(), 1)
    assert list(t.columns) == ["path", "change", "kind", "size", "how"]
    assert t.values.tolist() == [
        # Docker's answer: the top of the removed tree (with its 30 B), /g grown; /f is
        # supplied again unchanged, so it is no change
        ["/d", "D", "dir", 30, "whiteout /d"],
        ["/g", "C", "file", 100, "size, content"],
    ]


def test_diff_table() -> None:
    c = three_layers().create_container(name="t")
    c.write("/g", "new")
    c.remove("/f")
    c.write("/hello.txt", "hi")
    t = diff_table(c)
    assert list(t.columns) == ["change", "path", "type", "size", "copied_up_from"]
    rows = [[None if pd.isna(v) else v for v in row] for row in t.values.tolist()]
    # /f deleted (nothing to show), /g changed (copied up from L1, 3 B now), /hello.txt added
    assert rows == [["D", "/f", "", None, None], ["C", "/g", "file", 3, 1],
                    ["A", "/hello.txt", "file", 2, None]]


def test_history_table_renders_the_engine_history() -> None:
    from layerlab.build import history

    img = three_layers().with_history(HistoryEntry(created_by="ENV A=1"))
    t = history_table(img)
    assert list(t.columns) == ["image", "created", "created_by", "size", "comment", "layer",
                               "empty_layer", "why"]
    # newest first: the ENV step made no layer (0 B); only the top row has an image id
    assert t["created_by"].tolist() == ["ENV A=1", "COPY f /", "RUN touch", "ADD rootfs /"]
    assert t["image"].tolist() == [img.id.split(":")[1][:12], "<missing>", "<missing>", "<missing>"]
    assert t["size"].tolist() == [0, 100, 200, 170]
    assert [None if pd.isna(v) else v for v in t["layer"]] == [None, 2, 1, 0]
    assert t["empty_layer"].tolist() == [True, False, False, False]
    assert "config" in t["why"][0] and "BuildKit" in t["why"][1]
    # one implementation: the table shows the engine's rows, cell for cell
    rows = history(img)
    assert t["why"].tolist() == [r.why for r in rows] == [r.why for r in img.history_rows()]
    assert t["created"].tolist() == [r.created for r in rows]
    assert [None if pd.isna(v) else v for v in t["layer"]] == [r.layer for r in rows]


def test_cache_table() -> None:
    img = three_layers()
    cache = cache_mod.BuildCache()
    assert list(cache_table(cache).columns) == ["key", "instruction", "parent", "result", "hits"]
    key = cache_mod.step_key(img.id, "RUN true")
    cache.store(cache_mod.CacheEntry(key=key, instruction="RUN true", parent=img.id, sources={},
                                     image=img, layer=img.layers[2]))
    cache.lookup(key)
    t = cache_table(cache)
    assert t.values.tolist() == [[key.split(":")[1][:12], "RUN true", img.id.split(":")[1][:12],
                                  img.layers[2].diff_id, 1]]


def sharing_images() -> dict[str, Image]:
    """a = [base 170 B, mid 200 B]; b = a + [/z 2 B]; c = [/q 7 B]."""
    img = three_layers()
    base, mid = img.layers[0], img.layers[1]
    a = Image.from_layers([base, mid])
    return {"b": a.add_layer(Layer.from_dict({"/z": "zz"})), "a": a,
            "c": Image.from_layers([Layer.from_dict({"/q": "q" * 7})])}


def test_sharing_table_and_summary() -> None:
    t = sharing_table(sharing_images())
    assert list(t.columns) == ["chain_id", "diff_id", "created_by", "size", "a", "b", "c",
                               "used_by", "shared"]
    assert t[["size", "a", "b", "c", "used_by", "shared"]].values.tolist() == [
        [170, True, True, False, 2, True], [200, True, True, False, 2, True],
        [2, False, True, False, 1, False], [7, False, False, True, 1, False]]
    s = sharing_summary(sharing_images())
    # a: 170+200 shared; b: the same plus 2 B of its own; c: 7 B alone
    assert s.values.tolist() == [["a", 2, 370, 370, 0], ["b", 3, 372, 370, 2], ["c", 1, 7, 0, 7]]


def test_efficiency_table() -> None:
    t = efficiency_table(three_layers())
    assert list(t.columns) == ["path", "count", "layers", "dive_wasted", "smallest", "kept",
                               "kept_layer", "reclaimable", "why"]
    got = [[None if pd.isna(v) else v for v in row[:-1]] for row in t.values.tolist()]
    assert got == [
        ["/f", 3, "0, 1, 2", 300, 100, 100, 2, 200],   # dive counts all 3 copies
        ["/g", 2, "0, 1", 140, 40, 100, 1, 40],        # the kept copy is the larger one
        ["/d/b", 1, "0", 0, 20, 0, None, 20],          # hidden by L1's whiteout, dive misses it
        ["/d/a", 1, "0", 0, 10, 0, None, 10],
        ["/d", 1, "1", 0, 30, 0, None, 0],             # dive charges the deleted dir here
    ]
    assert t["dive_wasted"].sum() == 440 and t["reclaimable"].sum() == 270
    assert all(t["why"].str.len() > 20)
