"""StoreBrowser and the store's static views, no browser."""

from __future__ import annotations

import json
import os
import stat

import pytest

from layerlab.build import base_image
from layerlab.store import Store
from layerlab.views.html import store_html
from layerlab.views.tables import system_df_table
from layerlab.widgets import StoreBrowser
from layerlab.widgets.storebrowser import _suffix


@pytest.fixture(params=["overlay2", "aufs"])
def store(request: pytest.FixtureRequest) -> Store:
    store = Store.temporary(driver=request.param)
    store.add(base_image("layerlab/tiny"), tag="tiny")
    return store


def test_top_level_of_each_layout(store: Store) -> None:
    browser = StoreBrowser(store)
    rows = browser.rows()
    assert "▸ image/" in rows and f"▸ {store.driver}/" in rows
    assert repr(browser) == f"<StoreBrowser: {store.root} ({store.driver})>"
    assert store.driver in browser.header.value and "1 images" in browser.header.value


def test_clicking_a_directory_opens_it_and_lists_it(store: Store) -> None:
    browser = StoreBrowser(store)
    browser.tree.value = "image"
    assert f"  ▸ {store.driver}/" in browser.rows()
    assert "directory, 1 entries" in browser.content.value


def test_json_files_are_pretty_printed(store: Store) -> None:
    browser = StoreBrowser(store)
    browser.select(f"image/{store.driver}/repositories.json")
    assert "JSON" in browser.content.value
    with open(store.layout.repositories()) as f:
        doc = json.dumps(json.load(f), indent=2, sort_keys=True)
    assert doc.splitlines()[1].strip().replace('"', "&quot;") in browser.content.value


def test_text_metadata_files(store: Store) -> None:
    chain = base_image("layerlab/tiny").chain_ids[-1]
    db = store.layout.layerdb(chain)
    rel = db[len(store.root) + 1:] + "/diff"
    browser = StoreBrowser(store)
    browser.select(rel)
    assert "text" in browser.content.value and "sha256:" in browser.content.value
    with pytest.raises(FileNotFoundError, match="not in the store"):
        browser.select("no/such/file")


def test_refresh_sees_a_new_container(store: Store) -> None:
    browser = StoreBrowser(store)
    assert "▸ containers/" not in browser.rows() and "0 containers" in browser.header.value
    c = store.create_container("tiny", name="web")
    c.write("/happy.txt", "hi\n")
    browser.refresh_button.click()
    assert "1 containers" in browser.header.value
    browser.open_dir("containers/" + c.id)
    assert any("config.v2.json" in r for r in browser.rows())


@pytest.mark.parametrize("form", ["native", "xattr"])
def test_whiteouts_on_disk_are_shown(store: Store, form: str) -> None:
    if form == "xattr":  # the unprivileged form, whoever runs the test (root writes devices)
        store._as_root = False
    c = store.create_container("tiny", name="w")
    c.remove("/etc/hostname")
    top = store.container_dir(c)
    rel = top[len(store.root) + 1:] + "/etc/hostname"
    browser = StoreBrowser(store)
    browser.select(rel)
    st = os.lstat(top + "/etc/hostname")
    if form == "xattr" or os.geteuid() != 0:  # the unprivileged form: an empty file
        assert stat.S_ISREG(st.st_mode) and st.st_size == 0
        assert os.getxattr(top + "/etc/hostname", "user.overlay.whiteout") == b"y"
        assert "overlayfs whiteout (xattr form)" in browser.content.value
        assert "(whiteout, xattr form)" in _suffix(top + "/etc/hostname")
        assert "0 bytes" not in browser.content.value  # not shown as an empty file
    else:
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
        assert "character device 0/0: an overlayfs whiteout" in browser.content.value
        assert "whiteout" in _suffix(top + "/etc/hostname")
    # a plain empty file next to it is not a whiteout
    with open(top + "/etc/empty", "wb"):
        pass
    browser.select(top[len(store.root) + 1:] + "/etc/empty")
    assert "whiteout" not in browser.content.value


def test_static_html_and_system_df_table(store: Store) -> None:
    html = StoreBrowser(store)._repr_mimebundle_()["text/html"]
    assert html == store_html(store)
    assert store.driver in html and "tiny:latest" in html and "layerlab-store.json" in html
    frame = system_df_table(store)
    assert list(frame.columns) == ["image", "tags", "size", "shared_size", "unique_size",
                                   "containers"]
    assert frame["tags"].tolist() == ["tiny:latest"]
