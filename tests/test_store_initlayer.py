"""The per-container -init layer in the overlay2 layout (and its contents)."""

from __future__ import annotations

import os
import pathlib

from layerlab import Image, Layer
from layerlab.store import Store
from layerlab.store.initlayer import INIT_PATHS, init_layer


def test_init_layer_holds_dockers_mount_points() -> None:
    layer = init_layer()
    kinds = {e.path: str(e.kind) for e in layer.entries}
    for path, kind in INIT_PATHS.items():
        assert kinds[path] == {"dir": "dir", "file": "file"}.get(kind, "symlink"), path
    assert layer.get("/etc/mtab").linkname == "/proc/mounts"  # type: ignore[union-attr]
    assert all(layer.get(p).size == 0 for p, k in INIT_PATHS.items()  # type: ignore[union-attr]
               if k == "file")
    assert init_layer().diff_id == layer.diff_id  # the same bytes everywhere


def test_overlay2_container_sits_on_its_init_layer(tmp_path: os.PathLike[str]) -> None:
    store = Store(os.path.join(tmp_path, "s"), driver="overlay2")
    image = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"}),
                               Layer.from_dict({"/app/a": "a"})])
    c = store.create_container(image, name="web")
    lay = store.layout
    mount_id = lay.mount_id(c.id)
    init_home = pathlib.Path(store.root, "overlay2", f"{mount_id}-init")
    assert sorted(os.listdir(init_home)) == ["diff", "link", "lower", "work"]
    assert sorted(os.listdir(init_home / "diff")) == [".dockerenv", "dev", "etc", "proc", "sys"]
    assert sorted(os.listdir(init_home / "diff" / "etc")) == [
        "hostname", "hosts", "mtab", "resolv.conf"]
    init_short = (init_home / "link").read_text()
    assert os.readlink(pathlib.Path(store.root, "overlay2", "l", init_short)) == (
        f"../{mount_id}-init/diff")
    image_lower = [f"l/{lay.short_link(lay.layer_id(ch))}" for ch in reversed(image.chain_ids)]
    assert (init_home / "lower").read_text() == ":".join(image_lower)
    container_home = pathlib.Path(lay.container_layer_home(c.id))
    assert (container_home / "lower").read_text() == ":".join([f"l/{init_short}", *image_lower])
    assert pathlib.Path(lay.mounts(c.id), "init-id").read_text() == f"{mount_id}-init"
    # the engine's view of the container does not show the mount points; the kernel does
    assert ".dockerenv" not in c.view().listdir("/")
    c.write("/happy.txt", "hi\n")
    assert os.listdir(store.container_dir(c)) == ["happy.txt"]
    assert store.verify().ok
    c.rm()
    assert not init_home.exists()
    assert not os.path.lexists(pathlib.Path(store.root, "overlay2", "l", init_short))
    report = store.verify()
    assert report.ok and report.leftovers == [], report
