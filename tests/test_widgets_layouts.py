"""The store browser on the containerd layout, the side-by-side comparison and the diagram."""

from __future__ import annotations

from layerlab import Layer
from layerlab.build import base_image
from layerlab.store import Store
from layerlab.store.where import happy_txt_home
from layerlab.widgets.storebrowser import LayoutComparison, StoreBrowser, layouts_diagram


def _stores() -> list[Store]:
    image = base_image("layerlab/tiny").add_layer(Layer.from_dict({"/app/a": "a"}))
    stores = [Store.temporary(driver=d) for d in ("aufs", "overlay2", "containerd")]
    for s in stores:
        s.add(image, tag="app")
        s.create_container("app", name="web").write("/happy.txt", "hi\n")
    return stores


def test_browser_marks_the_bolt_stand_ins() -> None:
    store = _stores()[2]
    browser = StoreBrowser(store)
    assert browser.rows()[:3] == ["▸ io.containerd.content.v1.content/",
                                  "▸ io.containerd.metadata.v1.bolt/",
                                  "▸ io.containerd.snapshotter.v1.overlayfs/"]
    browser.open_dir("io.containerd.metadata.v1.bolt")
    assert any("meta.db" in r and "stand-in for a bolt database" in r for r in browser.rows())
    text = browser.show("io.containerd.metadata.v1.bolt/meta.db")
    assert "bolt database" in text and "JSON" in text and "moby" in text
    assert "2 images" not in browser.header.value and "1 images" in browser.header.value


def test_comparison_opens_each_store_at_the_containers_upper_directory() -> None:
    stores = _stores()
    widget = LayoutComparison(stores, "app", "web")
    for store, browser in zip(stores, widget.browsers, strict=True):
        home = happy_txt_home(store, store.container("web"))
        assert browser.tree.value == home
        assert "happy.txt" in browser.content.value
    assert widget.static_html() == layouts_diagram(stores, "app", "web")


def test_diagram_draws_each_layout_top_down_with_generic_paths() -> None:
    stores = _stores()
    text = layouts_diagram(stores, "app", "web")
    assert text.count("upper: happy.txt lands here") == 3
    assert text.count("-init: /etc/hosts") == 2  # overlay2 and containerd
    assert "overlay2/&lt;id&gt;-init/diff" in text
    assert "snapshots/&lt;n&gt;/fs" in text
    assert text.count("compressed blob") == 2  # containerd keeps the two layers twice
    assert text.index("image layer 1") < text.index("image layer 0")
    assert stores[0].root not in text  # no temporary paths: notebook outputs compare
