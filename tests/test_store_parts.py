"""The store's internal interfaces that carry logic of their own: the one lower-directory
rule behind ``mount`` and ``real_mode_dirs`` in every layout, the overlay form a store
reports, and pruning a layer whose blob another layer still needs."""

from __future__ import annotations

import os

import pytest
from _images import store_image as _image

from layerlab import Image, Layer, Opaque
from layerlab.store import Store
from layerlab.store.containerd_layout import ContainerdLayout
from layerlab.store.initlayer import overlay2_init_id

DRIVERS = ["overlay2", "aufs", "containerd"]


@pytest.fixture(params=DRIVERS)
def store(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Store:
    return Store(os.path.join(tmp_path, "store"), driver=request.param)


def _init_dir(store: Store, cid: str) -> list[str]:
    """The container's -init layer directory, in the layouts that have one."""
    lay = store.layout
    if isinstance(lay, ContainerdLayout):
        return [lay.init_diff(cid)]
    return [lay.layer_diff(overlay2_init_id(lay, cid))] if store.driver == "overlay2" else []


def test_mount_and_real_mode_share_one_lower_order(store: Store) -> None:
    image = _image()
    c = store.create_container(image, name="c")
    layers = [store.layer_dir(image, i) for i in range(len(image.layers))]
    nearest_first = _init_dir(store, c.id) + layers[::-1]
    options = dict(o.split("=", 1) for o in store.mount_options(c).split(","))
    assert options["lowerdir"].split(":") == nearest_first
    assert options["upperdir"] == store.container_dir(c)
    with store.real_mode_dirs(c) as (lowers, upper, work):
        assert lowers == nearest_first[::-1]  # base first
        assert upper == store.container_dir(c)
        assert work == options["workdir"] and os.listdir(work) == []
    # containerd's snapshot directories keep fs/ and work/; the others make work/ to mount
    assert os.path.isdir(work) == (store.driver == "containerd")
    for d in nearest_first:
        assert os.path.isdir(d), d


@pytest.mark.parametrize("driver", ["overlay2", "aufs"])
def test_an_image_without_layers_mounts_on_an_empty_lower(tmp_path: os.PathLike[str],
                                                          driver: str) -> None:
    store = Store(os.path.join(tmp_path, "store"), driver=driver)
    c = store.create_container(Image.from_layers([]), name="empty")
    lowers = dict(o.split("=", 1) for o in store.mount_options(c).split(","))["lowerdir"]
    if driver == "overlay2":
        assert lowers.split(":") == _init_dir(store, c.id)
    else:
        assert lowers == os.path.join(store.root, "aufs", "empty")
        assert os.listdir(lowers) == []


def test_the_reported_overlay_form_is_the_one_on_disk(store: Store) -> None:
    image = Image.from_layers([Layer.from_dict({"/d/x": "x"}),
                               Layer.from_dict({"/d": Opaque(), "/d/y": "y"})])
    store.add(image)
    opaque = os.path.join(store.layer_dir(image, 1), "d")
    assert os.getxattr(opaque, f"{store.xattr_namespace}.overlay.opaque") == b"y"
    other = "user" if store.xattr_namespace == "trusted" else "trusted"
    with pytest.raises(OSError):
        os.getxattr(opaque, f"{other}.overlay.opaque")


@pytest.mark.parametrize("driver", ["overlay2", "aufs"])
def test_prune_keeps_a_blob_another_layer_still_uses(tmp_path: os.PathLike[str],
                                                     driver: str) -> None:
    store = Store(os.path.join(tmp_path, "store"), driver=driver)
    shared = Layer.from_dict({"/etc/motd": "hi\n"})
    alone = Image.from_layers([shared])  # the layer as a base: chain id == diff id
    on_top = Image.from_layers([Layer.from_dict({"/base": "b"}), shared])  # same diff id
    assert alone.chain_ids[0] != on_top.chain_ids[1]
    store.add(alone, tag="alone")
    store.add(on_top, tag="on-top")
    store.remove_image("alone")
    assert not os.path.exists(store.layer_dir(alone, 0))
    assert os.path.exists(store.layout.blob(shared.diff_id))
    report = store.verify()
    assert report.ok and report.layers == 2, report
    reloaded = Store(store.root, driver=driver).get("on-top")
    assert reloaded.view().read("/etc/motd") == b"hi\n"
    store.remove_image("on-top")
    assert not os.path.exists(store.layout.blob(shared.diff_id))
    assert store.verify().layers == 0
