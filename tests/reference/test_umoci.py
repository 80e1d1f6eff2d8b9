"""umoci as a second reference: layers it generates, merged by layerlab, against its own unpack.

A small rootfs is built in an umoci bundle and repacked after each round of changes
(creations, deletions of files and directories, a deleted directory re-created with new
content, a file replaced by a directory and back, symlinks, odd modes), one tag per round.
For every tag: each layer blob loads with ``Layer.from_tar``, its ``digest`` and ``diff_id``
are the manifest's and config's, and ``Image.from_layers(layers).view()`` equals what
``umoci unpack`` of that tag puts on disk (paths, types, modes, sizes, contents, link
targets; owners when root; mtimes are umoci's business, left out).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from layerlab import Image, Layer

from .overlay import compare, engine_nodes, walk

UMOCI = shutil.which("umoci")
ROOT = os.geteuid() == 0


def _round_1(r: Path) -> None:
    for d in ("etc", "bin", "usr/share/doc/a", "usr/share/doc/b", "var/lib", "d/sub", "f_dir"):
        (r / d).mkdir(parents=True, exist_ok=True)
    (r / "etc/hostname").write_text("box\n")
    (r / "etc/motd").write_text("welcome\n")
    (r / "etc/shadow").write_text("root:*:1::::::\n")
    (r / "etc/shadow").chmod(0o600)
    (r / "bin/busybox").write_bytes(b"\x7fELF fake busybox")
    (r / "bin/busybox").chmod(0o4755)
    (r / "bin/sh").symlink_to("busybox")
    (r / "bin/motd").symlink_to("/etc/motd")
    (r / "bin/dangling").symlink_to("../nowhere/at/all")
    (r / "usr/share/doc/a/README").write_text("a\n")
    (r / "usr/share/doc/b/README").write_text("b\n")
    (r / "var/lib/data").write_bytes(b"\x00" * 100)
    (r / "d/x").write_text("x")
    (r / "d/sub/y").write_text("y")
    (r / "f").write_text("plain file")
    (r / "f_dir/inner").write_text("inner")
    (r / "tmp").mkdir(mode=0o755)
    (r / "tmp").chmod(0o1777)


def _round_2(r: Path) -> None:
    (r / "etc/motd").unlink()  # a deleted file
    shutil.rmtree(r / "usr/share/doc/a")  # a deleted directory
    shutil.rmtree(r / "d")  # rm -rf d; mkdir d; new content
    (r / "d").mkdir(mode=0o700)
    (r / "d/z").write_text("z, new")
    (r / "f").unlink()  # a file replaced by a directory
    (r / "f").mkdir()
    (r / "f/now-a-dir").write_text("!")
    shutil.rmtree(r / "f_dir")  # a directory replaced by a file
    (r / "f_dir").write_text("now a file")
    (r / "bin/busybox").chmod(0o755)  # metadata-only change: the file is carried again
    (r / "etc/hostname").write_text("box2\n")


def _round_3(r: Path) -> None:
    (r / "etc/motd").write_text("welcome back\n")  # re-created after its deletion
    shutil.rmtree(r / "usr/share/doc")
    (r / "usr/share/doc").write_text("docs are gone")
    (r / "bin/dangling").unlink()
    (r / "bin/etc").symlink_to("../etc")
    (r / "d/sub").mkdir()  # the old d/sub must not come back
    (r / "d/sub/w").write_text("w")


def _round_4(r: Path) -> None:
    shutil.rmtree(r / "var")
    (r / "var/lib").mkdir(parents=True)
    (r / "var/lib/data").write_text("fresh")
    shutil.rmtree(r / "f")
    (r / "f").write_text("a file again")
    (r / "bin/sh").unlink()
    (r / "bin/sh").symlink_to("/bin/busybox")


ROUNDS: list[tuple[str, Callable[[Path], None]]] = [
    ("v1", _round_1), ("v2", _round_2), ("v3", _round_3), ("v4", _round_4)]


def _umoci(*args: str) -> None:
    assert UMOCI is not None
    done = subprocess.run([UMOCI, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"umoci {' '.join(args)} failed:\n{done.stderr}")


def _unpack(image: str, bundle: Path) -> None:
    _umoci("unpack", *(() if ROOT else ("--rootless",)), "--image", image, str(bundle))


@pytest.fixture(scope="module")
def umoci_layout(reference_tmpfs: Path) -> Iterator[Path]:
    """An OCI layout with tags v1..v4, one umoci-generated layer per round."""
    if UMOCI is None:
        pytest.skip("umoci is not installed (apt-get install umoci)")
    work = Path(tempfile.mkdtemp(prefix="umoci-", dir=reference_tmpfs))
    layout = work / "layout"
    _umoci("init", "--layout", str(layout))
    _umoci("new", "--image", f"{layout}:v0")
    _unpack(f"{layout}:v0", work / "bundle")
    for tag, change in ROUNDS:
        change(work / "bundle/rootfs")
        _umoci("repack", "--refresh-bundle", "--history.created_by", f"round {tag}",
               "--image", f"{layout}:{tag}", str(work / "bundle"))
    yield layout
    shutil.rmtree(work, ignore_errors=True)


def _blob(layout: Path, digest: str) -> Path:
    algorithm, _, hexdigest = digest.partition(":")
    return layout / "blobs" / algorithm / hexdigest


def _manifest(layout: Path, tag: str) -> dict:  # type: ignore[type-arg]
    index = json.loads((layout / "index.json").read_text())
    for m in index["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return json.loads(_blob(layout, m["digest"]).read_text())  # type: ignore[no-any-return]
    raise AssertionError(f"tag {tag!r} not in {layout}/index.json")


@pytest.mark.reference
@pytest.mark.parametrize("tag", [tag for tag, _ in ROUNDS])
def test_umoci_layers_merge_like_umoci_unpack(
    umoci_layout: Path, reference_tmpfs: Path, tag: str
) -> None:
    manifest = _manifest(umoci_layout, tag)
    config = json.loads(_blob(umoci_layout, manifest["config"]["digest"]).read_text())
    descriptors = manifest["layers"]
    assert len(descriptors) == int(tag[1:])  # one layer per round so far
    layers = []
    for i, descriptor in enumerate(descriptors):
        layer = Layer.from_tar(_blob(umoci_layout, descriptor["digest"]))
        assert layer.digest == descriptor["digest"], f"layer {i}: digest"
        assert layer.compressed_size == descriptor["size"], f"layer {i}: size"
        assert layer.diff_id == config["rootfs"]["diff_ids"][i], f"layer {i}: diff_id"
        layers.append(layer)
    image = Image.from_layers(layers)
    assert image.diff_ids == config["rootfs"]["diff_ids"]

    bundle = Path(tempfile.mkdtemp(prefix=f"unpack-{tag}-", dir=reference_tmpfs)) / "b"
    try:
        _unpack(f"{umoci_layout}:{tag}", bundle)
        umoci_tree = walk(str(bundle / "rootfs"))
    finally:
        shutil.rmtree(bundle.parent, ignore_errors=True)
    problems = compare(umoci_tree, engine_nodes(image.view()), owners=ROOT, mtimes=False)
    assert not problems, "\n".join(problems)
    # and every intermediate view of this image is the tag before it, already checked above
    if len(layers) > 1:
        earlier = Image.from_layers(layers[:-1]).view()
        assert engine_nodes(image.view(upto=len(layers) - 2)) == engine_nodes(earlier)


@pytest.mark.reference
def test_umoci_changes_use_whiteouts(umoci_layout: Path) -> None:
    """The rounds above really exercise deletion (else the comparison proves little)."""
    descriptors = _manifest(umoci_layout, "v4")["layers"]
    layers = [Layer.from_tar(_blob(umoci_layout, d["digest"])) for d in descriptors]
    assert "/etc/motd" in layers[1].whiteouts
    assert layers[1].whiteouts or layers[1].opaques
    view = Image.from_layers(layers).view()
    assert view.read("/etc/motd") == b"welcome back\n"
    assert view.listdir("/d/sub") == ["w"]
    assert view.stat("/f").kind.value == "file"
