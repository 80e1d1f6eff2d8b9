"""The store's real kernel overlay mount of a container (needs root)."""

from __future__ import annotations

import os
import shutil

import pytest

from layerlab import Image, Layer, Opaque, Whiteout
from layerlab.store import Store, StoreError


@pytest.mark.reference
@pytest.mark.parametrize("driver", ["overlay2", "aufs"])
def test_kernel_mount_shows_the_union_and_writes_land_in_the_upper_dir(
    tmp_path: os.PathLike[str], driver: str
) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting overlayfs from the store needs root and mount(8)")
    store = Store(os.path.join(tmp_path, driver), driver=driver)
    image = Image.from_layers([
        Layer.from_dict({"/etc/motd": "hi\n", "/d/x": "x", "/gone/f": "f"}),
        Layer.from_dict({"/d": Opaque(), "/d/y": "y", "/gone": Whiteout()}),
    ])
    c = store.create_container(image, name="m")
    c.write("/happy.txt", "model\n")
    merged = store.mount(c)
    # overlay2 puts the container's -init layer (Docker's mount points) on top of the image
    init = {".dockerenv", "dev", "proc", "sys"} if driver == "overlay2" else set()
    try:
        assert sorted(set(os.listdir(merged)) - init) == ["d", "etc", "happy.txt"]
        assert os.listdir(os.path.join(merged, "d")) == ["y"]
        assert sorted(set(os.listdir(merged)) - init) == c.view().listdir("/")
        if driver == "overlay2":
            assert sorted(os.listdir(os.path.join(merged, "etc"))) == [
                "hostname", "hosts", "motd", "mtab", "resolv.conf"]
        with open(os.path.join(merged, "kernel.txt"), "w") as f:
            f.write("written by the kernel\n")
        os.unlink(os.path.join(merged, "etc", "motd"))
    finally:
        store.unmount(c)
    assert c.read("/kernel.txt") == b"written by the kernel\n"
    assert [str(ch) for ch in c.diff()] == ["C /etc", "D /etc/motd", "A /happy.txt",
                                             "A /kernel.txt"]
    assert not os.path.ismount(store.layout.container_merged(c.id))
    assert store.verify().ok


def test_mount_refuses_clearly_without_root(tmp_path: os.PathLike[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(os.path.join(tmp_path, "s"))
    c = store.create_container(Image.from_layers([Layer.from_dict({"/a": "a"})]))
    monkeypatch.setattr(store, "_as_root", False)
    with pytest.raises(StoreError, match="needs root"):
        store.mount(c)
