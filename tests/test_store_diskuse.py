"""Disk figures per layout for the same images."""

from __future__ import annotations

from layerlab import Image, Layer
from layerlab.store import Store
from layerlab.store.diskuse import compare_layouts, disk_use


def _images() -> dict[str, Image]:
    base = Layer.from_dict({f"/usr/lib/f{i}": bytes([i]) * (300 + i) for i in range(20)})
    a = Image.from_layers([base, Layer.from_dict({"/app/a": "a" * 500})])
    b = Image.from_layers([base, Layer.from_dict({"/app/b": "b" * 700})])
    return {"a": a, "b": b}


def test_the_same_images_in_three_layouts() -> None:
    images = _images()
    layers = {layer.diff_id: layer for img in images.values() for layer in img.layers}
    rows = {u.driver: u for u in compare_layouts(images)}
    assert list(rows) == ["aufs", "overlay2", "containerd"]
    unpacked = sum(layer.size for layer in layers.values())  # the shared base once
    assert {u.unpacked for u in rows.values()} == {unpacked}
    assert rows["overlay2"].compressed == rows["aufs"].compressed == 0
    assert rows["containerd"].compressed == sum(layer.compressed_size for layer in layers.values())
    assert rows["overlay2"].kit_only == sum(layer.tar_size for layer in layers.values())
    # the teaching point: containerd keeps the blobs and the snapshots
    assert rows["containerd"].total > rows["overlay2"].total
    assert rows["containerd"].total - rows["containerd"].compressed > rows["containerd"].unpacked


def test_disk_use_counts_a_container_upper_directory() -> None:
    for driver in ("overlay2", "containerd"):
        store = Store.temporary(driver=driver)
        store.add(_images()["a"], tag="a")
        before = disk_use(store)
        c = store.create_container("a", name="c")
        c.write("/happy.txt", "x" * 123)
        after = disk_use(store)
        assert after.unpacked - before.unpacked == 123, driver  # the -init files are empty
