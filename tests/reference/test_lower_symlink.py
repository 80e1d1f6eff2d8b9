"""The lower-symlink rule (issue 15) against the kernel, for every layout the store mounts.

A layer that names ``link/file`` (or ``link/.wh.x``, or ``link/.wh..wh..opq``) where a
lower layer has ``link`` as a symlink: Docker's overlay2 extracts each layer into its own
empty directory, so the layer's ``link`` is a directory and the kernel's merge shows that
directory, never the symlink's target. The view models that (:mod:`layerlab.union`,
"a layer's paths never go through a lower symlink"). Each case is checked twice: plain
layer directories written with :func:`write_overlay_dir` and mounted directly and in a
user namespace; and the store's own mount of a container, for overlay2, aufs and
containerd, whose layer directories are written from each layer alone in the same way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from layerlab import Dir, Image, Layer, Opaque, Symlink, Whiteout
from layerlab.overlaydir import write_overlay_dir
from layerlab.store import Store
from layerlab.store.initlayer import init_layer

from .overlay import Mounter, compare, engine_nodes, walk

BASE = {"/d": Dir(), "/d/x": "x", "/link": Symlink("d"), "/abs": Symlink("/d"),
        "/f": "file below"}

CASES = {
    # the layer's own entry below the lower link: a directory replaces the link
    "entry below a link": [BASE, {"/link/file": "new"}],
    "entry below an absolute link": [BASE, {"/abs/file": "new"}],
    "directory listed, then an entry": [BASE, {"/link": Dir(mode=0o700), "/link/file": "n"}],
    # a whiteout below the link: an empty directory, the link and its target untouched
    "whiteout below a link": [BASE, {"/link/x": Whiteout()}],
    "whiteout below a file": [BASE, {"/f/x": Whiteout()}],
    "whiteout below nothing": [BASE, {"/none/such/x": Whiteout()}],
    # an opaque marker on the link: a new, empty directory
    "opaque marker on a link": [BASE, {"/link": Opaque()}],
    # three layers: the link is made a directory, then a link again
    "link, directory, link": [BASE, {"/link/file": "n"}, {"/link": Symlink("d")}],
}

#: what the merged view shows at ``/link`` (or the case's path) after the last layer
EXPECTED_KIND = {
    "entry below a link": ("/link", "d"), "entry below an absolute link": ("/abs", "d"),
    "directory listed, then an entry": ("/link", "d"), "whiteout below a link": ("/link", "d"),
    "whiteout below a file": ("/f", "d"), "whiteout below nothing": ("/none/such", "d"),
    "opaque marker on a link": ("/link", "d"), "link, directory, link": ("/link", "l"),
}


def _image(case: str) -> Image:
    return Image.from_layers([Layer.from_dict(spec) for spec in CASES[case]])


def _kinds(nodes: dict[str, object]) -> dict[str, str]:
    return {p: n.kind for p, n in nodes.items()}  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_view_never_goes_through_a_lower_symlink(case: str) -> None:
    image = _image(case)
    view = image.view()
    path, kind = EXPECTED_KIND[case]
    assert view.stat(path).kind.letter == kind
    assert view.listdir("/d") == ["x"]  # the link's target is never written through
    assert view.read("/d/x") == b"x"


def _mount_layers(mounter: Mounter, base: Path, image: Image) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="ls", dir=base))
    try:
        lowers = [str(work / "empty")]
        os.mkdir(lowers[0])
        form = "chardev" if mounter.xattr_namespace == "trusted" else "xattr"
        for k, layer in enumerate(image.layers):
            lowers.append(str(work / f"L{k}"))
            write_overlay_dir(layer, lowers[-1], xattr_namespace=mounter.xattr_namespace,
                              whiteout_form=form)
        (work / "m").mkdir()
        return mounter.mount_and_walk(lowers, str(work / "m"))  # type: ignore[return-value]
    finally:
        shutil.rmtree(work)


@pytest.mark.reference
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_merge_of_layer_directories_equals_the_view(
        native_mounter: Mounter, reference_tmpfs: Path, case: str) -> None:
    image = _image(case)
    kernel = _mount_layers(native_mounter, reference_tmpfs, image)
    problems = compare(kernel, engine_nodes(image.view()),  # type: ignore[arg-type]
                       owners=native_mounter.compares_owners, dir_meta=False)
    assert not problems, "\n".join(problems)


@pytest.mark.reference
@pytest.mark.parametrize("case", sorted(CASES))
def test_userns_kernel_merge_equals_the_view(
        userns_mounter: Mounter, reference_tmpfs: Path, case: str) -> None:
    image = _image(case)
    kernel = _mount_layers(userns_mounter, reference_tmpfs, image)
    problems = compare(kernel, engine_nodes(image.view()),  # type: ignore[arg-type]
                       owners=False, dir_meta=False)
    assert not problems, "\n".join(problems)


@pytest.mark.reference
@pytest.mark.parametrize("driver", ["overlay2", "aufs", "containerd"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_store_mount_equals_the_view(tmp_path: Path, driver: str, case: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting overlayfs from the store needs root and mount(8)")
    image = _image(case)
    store = Store(os.path.join(tmp_path, driver), driver=driver)
    store.add(image, tag="t")
    c = store.create_container("t", name="c")
    merged = store.mount(c)
    try:
        kernel = walk(merged)
    finally:
        store.unmount(c)
    init = set() if driver == "aufs" else {e.path for e in init_layer().entries}
    view = c.view()
    engine = {p: n for p, n in engine_nodes(view).items() if p not in init}
    kernel = {p: n for p, n in kernel.items() if p not in init}
    problems = compare(kernel, engine, owners=True, dir_meta=False)
    assert not problems, "\n".join(problems)
    path, kind = EXPECTED_KIND[case]
    assert _kinds(kernel)[path] == kind  # type: ignore[arg-type]


@pytest.mark.reference
def test_umoci_unpack_follows_the_link_which_the_view_does_not_model(tmp_path: Path) -> None:
    """umoci extracts through the rootfs it is building and resolves ``link`` there: the
    file lands in ``d``. The documented difference, kept true by this test."""
    import subprocess

    from layerlab.formats import save

    umoci = shutil.which("umoci")
    if umoci is None:
        pytest.skip("umoci is not installed")
    image = _image("entry below a link")
    save(image, tmp_path / "layout", tag="t")
    done = subprocess.run([umoci, "unpack", *(() if os.geteuid() == 0 else ("--rootless",)),
                           "--image", f"{tmp_path / 'layout'}:t", str(tmp_path / "b")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    rootfs = tmp_path / "b" / "rootfs"
    assert os.readlink(rootfs / "link") == "d"
    assert sorted(os.listdir(rootfs / "d")) == ["file", "x"]
    view = image.view()
    assert view.listdir("/link") == ["file"] and view.listdir("/d") == ["x"]
