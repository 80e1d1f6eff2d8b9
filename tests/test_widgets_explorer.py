"""LayerExplorer driven through its traits and buttons, no browser."""

from __future__ import annotations

import pytest

from layerlab import Dir, Image, Layer, Opaque, Symlink, Whiteout, analysis
from layerlab.widgets import LayerExplorer
from layerlab.widgets.explorer import LAYER_ONLY, MERGED


@pytest.fixture
def image() -> Image:
    return Image.from_layers([
        Layer.from_dict({"/etc/motd": "hello\n", "/etc/os-release": "ID=demo\n",
                         "/bin/sh": b"\x7fELF\x00\x01", "/var/cache/a": "a", "/var/cache/b": "b",
                         "/old/x": "x"}, created_by="ADD rootfs /"),
        Layer.from_dict({"/etc/motd": "changed\n", "/etc/os-release": Whiteout(),
                         "/var/cache": Opaque(), "/var/cache/c": "c", "/app/main.py": "print()\n",
                         "/old": Whiteout(), "/link": Symlink("/etc/motd")},
                        created_by="RUN change things"),
        Layer.from_dict({"/app/big.bin": b"\x00" * 5000, "/app/data": Dir(mode=0o700)},
                        created_by="COPY app /app"),
    ])


def open_everything(explorer: LayerExplorer) -> None:
    for entry in explorer.image.view(explorer.k).walk():
        if entry.is_dir:
            explorer.open_dir(entry.path)


def test_starts_on_the_top_layer_with_a_short_repr(image: Image) -> None:
    explorer = LayerExplorer(image)
    assert explorer.k == 2
    assert repr(explorer) == "<LayerExplorer: 3 layers, at layer 2>"
    assert "layer 2" in explorer.layer_info.value
    assert "COPY app /app" in explorer.layer_info.value


def test_slider_changes_the_tree_and_marks(image: Image) -> None:
    explorer = LayerExplorer(image, upto=0)
    explorer.open_dir("/etc")
    before = explorer.rows()
    assert "A   motd  🟦L0  6 B" in before
    explorer.slider.value = 1
    after = explorer.rows()
    assert after != before
    assert "C   motd  🟧L1  8 B" in after
    assert "D   os-release  (whiteout in layer 1)" in after
    assert explorer.marks()["/etc/motd"] == "C"
    assert explorer.marks()["/old"] == "D"


def test_step_buttons_move_and_clamp(image: Image) -> None:
    explorer = LayerExplorer(image, upto=0)
    explorer.prev_button.click()
    assert explorer.k == 0
    explorer.next_button.click()
    explorer.next_button.click()
    explorer.next_button.click()
    assert explorer.k == 2


def test_opaque_directory_and_hidden_children_are_visible(image: Image) -> None:
    explorer = LayerExplorer(image, upto=1)
    explorer.open_dir("/var/cache")
    rows = explorer.rows()
    assert any(r.startswith("O   ▾ cache/") for r in rows)
    assert "D     a  (opaque /var/cache in layer 1)" in rows
    assert "A     c  🟧L1  1 B" in rows


def test_only_open_directories_are_rendered(image: Image) -> None:
    explorer = LayerExplorer(image, upto=0)
    assert not any("motd" in r for r in explorer.rows())
    explorer.tree.value = "/etc"  # clicking a directory opens it
    assert any("motd" in r for r in explorer.rows())
    explorer.tree.value = None
    explorer.tree.value = "/etc"  # and clicking again closes it
    assert not any("motd" in r for r in explorer.rows())


def test_layer_only_mode_shows_the_tar_with_markers(image: Image) -> None:
    explorer = LayerExplorer(image, upto=1)
    explorer.mode.value = LAYER_ONLY
    open_everything(explorer)
    explorer.open_dir("/var/cache")
    rows = explorer.rows()
    assert "D os-release  (whiteout: deletes the lower version)" not in rows  # under /etc
    assert "D   os-release  (whiteout: deletes the lower version)" in rows
    assert "D old  (whiteout: deletes the lower version)" in rows
    assert any(r.startswith("O   ▾ cache/") for r in rows)
    assert not any("sh" in r.split() for r in rows)  # /bin is not in layer 1
    assert "· ▾ etc/  🟧L1  (implied)" in rows


def test_marks_agree_with_analysis_layer_changes(image: Image) -> None:
    for k in range(len(image.layers)):
        explorer = LayerExplorer(image, upto=k)
        for _ in range(3):  # directories only exist once their parent is open
            open_everything(explorer)
        # a "*" directory has changes inside: docker diff's C for it
        shown = {**explorer.marks(), **{p: "C" for p in explorer.inside_marks()}}
        expected = {}
        deleted = set()
        for row in analysis.layer_changes(image, k):
            if row.change == "D":
                if not any(row.path.startswith(d + "/") for d in deleted):
                    expected[row.path] = "D"
                deleted.add(row.path)
            else:
                expected[row.path] = row.change
        opaque = {p for p, m in shown.items() if m == "O"}
        assert {p: m for p, m in shown.items() if m != "O"} == {
            p: m for p, m in expected.items() if p not in opaque}, k


def test_search_and_sort(image: Image) -> None:
    explorer = LayerExplorer(image)
    explorer.search.value = "app"
    assert [r.split()[0] for r in explorer.rows()] == ["/app", "/app/big.bin", "/app/data",
                                                        "/app/main.py"]
    explorer.search.value = "nothing-like-this"
    assert explorer.rows() == ["  no path contains 'nothing-like-this'"]
    explorer.search.value = ""
    explorer.open_dir("/app")
    explorer.sort.value = "size"
    names = [w for r in explorer.rows() for w in r.split() if w in ("big.bin", "main.py")]
    assert names.index("big.bin") < names.index("main.py")


def test_selecting_a_file_shows_content_and_lower_versions(image: Image) -> None:
    explorer = LayerExplorer(image)
    explorer.select("/etc/motd")
    details = explorer.details.value
    assert "changed" in details and "from <b" in details
    assert "layer 0" in details and "hidden by layer 1 (replaced" in details
    explorer.select("/bin/sh")
    assert "binary, hex" in explorer.details.value
    assert "7f 45 4c 46 00 01" in explorer.details.value
    explorer.select("/link")
    assert "symlink to <code>/etc/motd</code>" in explorer.details.value


def test_a_deleted_path_shows_what_hid_it(image: Image) -> None:
    explorer = LayerExplorer(image, upto=1)
    explorer.open_dir("/etc")
    explorer.tree.value = "/etc/os-release"
    assert "not in the view after layer 1" in explorer.details.value
    assert "whiteout of <code>/etc/os-release</code>" in explorer.details.value


def test_show_changes_uses_analysis(image: Image) -> None:
    explorer = LayerExplorer(image, upto=1)
    rows = explorer.show_changes()
    assert rows == analysis.layer_changes(image, 1)
    # docker diff lists the top of a removed tree only
    assert "deleted" in explorer.details.value and "<code>/old</code>" in explorer.details.value
    assert "/old/x" not in explorer.details.value


def test_small_images_get_exact_counts(image: Image) -> None:
    explorer = LayerExplorer(image, upto=1)
    stats = analysis.layer_stats(image)[1]
    assert (f"{stats.added:,} added, " in explorer.layer_info.value
            and f"{stats.deleted:,} deleted" in explorer.layer_info.value)


def test_big_directories_are_cut_with_a_count() -> None:
    from layerlab.widgets import explorer as module

    files = {f"/many/f{i:05d}": "" for i in range(module.MAX_CHILDREN + 5)}
    ex = LayerExplorer(Image.from_layers([Layer.from_dict(files)]))
    ex.open_dir("/many")
    assert ex.rows()[-1].strip() == "… 5 more (search finds them)"
    ex.tree.value = ex.tree.options[-1][1]  # the "more" row does nothing
    assert ex.rows()[-1].strip() == "… 5 more (search finds them)"


def test_static_html_fallback_next_to_the_widget_view(image: Image) -> None:
    bundle = LayerExplorer(image)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == "<LayerExplorer: 3 layers, at layer 2>"
    assert bundle["text/html"] == image._repr_html_()


def test_mode_toggle_back_to_merged(image: Image) -> None:
    explorer = LayerExplorer(image)
    explorer.mode.value = LAYER_ONLY
    explorer.mode.value = MERGED
    assert any("app/" in r for r in explorer.rows())
    assert "L2" in explorer.strip.value


def test_empty_image_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one layer"):
        LayerExplorer(Image.scratch())


def test_collapsed_directories_mark_changes_inside() -> None:
    img = Image.from_layers([Layer.from_dict({"/etc/app/conf.d/a": "1", "/srv/x": "x"}),
                             Layer.from_dict({"/etc/app/conf.d/a": "2"})])
    explorer = LayerExplorer(img)  # at layer 1, only / is open
    assert explorer.inside_marks() == ["/etc"]  # /srv has no change of layer 1 below it
    assert explorer.rows()[0].startswith("* ")
    explorer.slider.value = 0  # layer 0 added everything: its own marks, no "*" needed
    assert explorer.inside_marks() == []


def test_a_path_supplied_again_unchanged_has_no_mark() -> None:
    img = Image.from_layers([Layer.from_dict({"/f": "x", "/g": "1"}),
                             Layer.from_dict({"/f": "x", "/g": "22"})])
    explorer = LayerExplorer(img)
    assert explorer.marks() == {"/g": "C"}  # /f is the same as below: docker diff omits it
    assert [(r.change, r.path) for r in analysis.layer_changes(img, 1)] == [("C", "/g")]
    explorer.mode.value = LAYER_ONLY  # the tar holds both again
    assert explorer.marks() == {"/f": "C", "/g": "C"}
