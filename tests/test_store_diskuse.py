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


def test_notebook_07_closing_note_gives_the_figures_the_kit_computes() -> None:
    import json
    import pathlib

    import layerlab as ll
    from layerlab.build import base_image

    root = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
    base = base_image("layerlab/tiny")
    course = {n: base_image(f"layerlab/{n}") for n in ("tiny", "alpine-like", "debian-like")}
    course["sample"] = ll.load(str(root / "data" / "sample.tar"), progress=False)
    course["hello"] = base.add_layer(Layer.from_dict({"/app/hello.py": "print('hello')\n"},
                                                     created_by="COPY hello.py /app/"))
    course["bye"] = base.add_layer(Layer.from_dict({"/app/bye.py": "print('bye')\n"},
                                                   created_by="COPY bye.py /app/"))
    rows = {u.driver: u for u in compare_layouts(course)}
    nb = json.loads((root / "07-on-the-host.ipynb").read_text())
    note = "".join(nb["cells"][-1]["source"])
    want = (f"overlay2 {rows['overlay2'].total:,} B, aufs {rows['aufs'].total:,} B, and "
            f"containerd {rows['containerd'].total:,} B, of which "
            f"{rows['containerd'].compressed:,} B are the compressed layer blobs it keeps "
            f"beside the same {rows['containerd'].unpacked:,} B of unpacked files")
    assert want in " ".join(note.split()), note
