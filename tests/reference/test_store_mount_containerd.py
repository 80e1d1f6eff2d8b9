"""The kernel mounts a containerd-layout container's snapshot chain (needs root).

The lower directories are the snapshot ``fs`` directories in containerd's order (the
``-init`` snapshot first, then the image's chain from the top down); the merged tree must
be the engine's view of the container plus the init layer's mount points.
"""

from __future__ import annotations

import os
import shutil

import pytest

from layerlab import Image, Layer, Opaque, Whiteout
from layerlab.store import Store
from layerlab.store.initlayer import init_layer

from .overlay import walk


@pytest.mark.reference
def test_kernel_mount_of_the_snapshot_chain_matches_the_engine(
        tmp_path: os.PathLike[str]) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting overlayfs from the store needs root and mount(8)")
    store = Store(os.path.join(tmp_path, "containerd"), driver="containerd")
    image = Image.from_layers([
        Layer.from_dict({"/etc/motd": "hi\n", "/d/x": "x", "/gone/f": "f", "/keep": "k"}),
        Layer.from_dict({"/d": Opaque(), "/d/y": "y", "/gone": Whiteout()}),
    ])
    store.add(image, tag="m")
    c = store.create_container("m", name="m")
    c.write("/happy.txt", "model\n")
    c.remove("/keep")
    options = store.mount_options(c)  # type: ignore[attr-defined]
    lowers = options.split(",")[0].removeprefix("lowerdir=").split(":")
    assert lowers == [store.layout.init_diff(c.id)] + [  # type: ignore[attr-defined]
        store.layer_dir(image, i) for i in (1, 0)]
    merged = store.mount(c)
    try:
        kernel = walk(merged)
        view = c.view()
        engine = {e.path: (str(e.kind), view.read(e.path) if str(e.kind) == "file" else None)
                  for e in view.walk() if e.path != "/"}
        init = {e.path for e in init_layer().entries}
        kernel_files = {p: ({"f": "file", "d": "dir", "l": "symlink"}.get(n.kind, n.kind),
                            n.content) for p, n in kernel.items()}
        assert {p: v for p, v in kernel_files.items() if p not in init} == {
            p: v for p, v in engine.items() if p not in init}
        assert init <= set(kernel_files)  # the mount points of the -init snapshot
        assert kernel_files["/happy.txt"] == ("file", b"model\n")
        assert "/keep" not in kernel_files and "/gone" not in kernel_files
        with open(os.path.join(merged, "kernel.txt"), "w") as f:
            f.write("written by the kernel\n")
        os.unlink(os.path.join(merged, "etc", "motd"))
    finally:
        store.unmount(c)
    assert not os.path.ismount(store.layout.container_merged(c.id))
    assert c.read("/kernel.txt") == b"written by the kernel\n"
    assert os.path.exists(os.path.join(store.container_dir(c), "kernel.txt"))
    assert "A /kernel.txt" in [str(ch) for ch in c.diff()]
    again = Store(store.root, driver="containerd").container("m")
    assert again.read("/kernel.txt") == b"written by the kernel\n"
    assert store.verify().ok


@pytest.mark.reference
def test_real_mode_runs_in_the_active_snapshot(tmp_path: os.PathLike[str]) -> None:
    from layerlab.busybox import busybox_image
    from layerlab.errors import LayerlabError
    from layerlab.realmode import detect

    support = detect()
    if not support.available:
        pytest.skip(f"real mode not possible here: {support.reason}")
    try:
        box = busybox_image()
    except LayerlabError as exc:
        pytest.skip(str(exc))
    store = Store(os.path.join(tmp_path, "store"), driver="containerd")
    c = store.create_container(box, name="real")
    result = c.run_command("echo hi > /happy.txt && test -f /.dockerenv", real=True)
    assert result.exit_code == 0, result  # the -init snapshot is below the upper directory
    with open(os.path.join(store.container_dir(c), "happy.txt")) as f:
        assert f.read() == "hi\n"
    assert not os.path.exists(os.path.join(store.container_dir(c), ".dockerenv"))
    assert store.verify().ok
