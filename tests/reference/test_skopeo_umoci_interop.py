"""layerlab against the real tools: umoci makes and unpacks images, skopeo inspects and converts.

* images made with umoci (deletions included) and converted by skopeo to docker-archive
  and oci-archive load and flatten to exactly what ``umoci unpack`` produces;
* images saved by layerlab pass ``skopeo inspect`` with the same diff_ids, survive
  ``skopeo copy`` between formats, and unpack with umoci to the same tree as layerlab's view;
* an opaque-directory layer (umoci never makes one) survives save -> umoci unpack.

Trees are small and live on a tmpfs when one is available.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from layerlab import Dir, File, Hardlink, Image, Layer, Opaque, Symlink, Whiteout
from layerlab.formats import flatten, load, save

pytestmark = pytest.mark.reference

ROOTLESS = [] if os.geteuid() == 0 else ["--rootless"]


def run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(argv)} failed: {done.stderr}"
    return done.stdout


@pytest.fixture
def tools() -> None:
    for tool in ("umoci", "skopeo"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found on PATH (Debian: apt-get install {tool})")


@pytest.fixture
def work() -> Iterator[Path]:
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=base, prefix="layerlab-interop-") as tmp:
        yield Path(tmp)


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything below ``root`` that an unpacker decides: type, mode, owner, content,
    link target, and mtime for non-directories (a directory's mtime depends on the order
    its children were written in, and implied directories get 'now' from umoci)."""
    out: dict[str, tuple[object, ...]] = {}
    inodes: dict[int, str] = {}
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        rel = str(path.relative_to(root))
        item: tuple[object, ...] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode))
        if os.geteuid() == 0:
            item += (st.st_uid, st.st_gid)
        if stat.S_ISREG(st.st_mode):
            item += (hashlib.sha256(path.read_bytes()).hexdigest(), int(st.st_mtime),
                     inodes.setdefault(st.st_ino, rel) if st.st_nlink > 1 else "")
        elif stat.S_ISLNK(st.st_mode):
            item += (os.readlink(path), int(st.st_mtime))
        out[rel] = item
    return out


def umoci_image(work: Path) -> Path:
    """An OCI layout made by umoci in three layers, with deletions and a replaced dir."""
    layout, bundle = work / "layout", work / "bundle"
    run("umoci", "init", "--layout", str(layout))
    run("umoci", "new", "--image", f"{layout}:t")
    steps = [
        lambda r: (
            (r / "etc").mkdir(), (r / "etc/hostname").write_text("box\n"),
            (r / "etc/motd").write_text("hello\n"), (r / "bin").mkdir(),
            (r / "bin/tool").write_bytes(b"\x7fELF" * 64), os.chmod(r / "bin/tool", 0o755),
            os.link(r / "bin/tool", r / "bin/tool2"), os.symlink("/etc/hostname", r / "link"),
            os.symlink("../nowhere", r / "dangling"), (r / "cache/sub").mkdir(parents=True),
            (r / "cache/sub/x").write_text("x"), (r / "cache/y").write_text("y"),
        ),
        lambda r: (
            (r / "etc/motd").unlink(), shutil.rmtree(r / "cache/sub"),
            (r / "etc/hostname").write_text("app\n"), (r / "app").mkdir(mode=0o750),
            (r / "app/data").write_text("data"),
        ),
        lambda r: (
            (r / "link").unlink(), (r / "link").mkdir(), (r / "link/inside").write_text("i"),
        ),
    ]
    for step in steps:
        if bundle.exists():
            shutil.rmtree(bundle)
        run("umoci", "unpack", *ROOTLESS, "--image", f"{layout}:t", str(bundle))
        step(bundle / "rootfs")
        run("umoci", "repack", "--image", f"{layout}:t", str(bundle))
    return layout


def umoci_unpack(layout: Path, tag: str, dest: Path) -> Path:
    run("umoci", "unpack", *ROOTLESS, "--image", f"{layout}:{tag}", str(dest))
    return dest / "rootfs"


def test_umoci_images_through_skopeo_flatten_like_umoci(tools: None, work: Path) -> None:
    layout = umoci_image(work)
    reference = tree(umoci_unpack(layout, "t", work / "ref"))
    assert "etc/motd" not in reference and "cache/y" in reference and "cache/sub" not in reference
    run("skopeo", "copy", f"oci:{layout}:t", f"docker-archive:{work / 'd.tar'}:demo:1")
    run("skopeo", "copy", f"oci:{layout}:t", f"oci-archive:{work / 'o.tar'}:t")
    diff_ids = json.loads(run("skopeo", "inspect", "--config", f"oci:{layout}:t"))["rootfs"][
        "diff_ids"]
    for name, source in [("oci", f"{layout}"), ("docker", str(work / "d.tar")),
                         ("archive", str(work / "o.tar"))]:
        img = load(source)
        assert img.diff_ids == diff_ids, name
        flatten(img, work / f"flat-{name}", allow_setuid=True)
        assert tree(work / f"flat-{name}") == reference, name


def layerlab_image() -> Image:
    base = Layer.from_dict({
        "/etc/hostname": File("box\n", mtime=1_600_000_000),
        "/bin/busybox": File(b"\x7fELF" * 100, mode=0o755, mtime=1_600_000_000),
        "/bin/sh": Symlink("busybox", mtime=1_600_000_000),
        "/usr/bin/perl": File(b"perl", mode=0o755, uid=12, gid=34, mtime=7),
        "/usr/bin/perl5": Hardlink("/usr/bin/perl"),
        "/var/cache/a": File("a", mtime=5),
        "/var/cache/b": File("b", mtime=5),
        "/srv": Dir(mode=0o700, mtime=9),
    }, created_by="ADD rootfs /")
    top = Layer.from_dict({
        "/var/cache": Opaque(),
        "/var/cache/c": File("c", mtime=6),
        "/etc/hostname": Whiteout(),
        "/app/run": File("#!/bin/sh\n", mode=0o755, mtime=8),
    }, created_by="COPY . /", compression="zstd")
    return Image.from_layers([base, top.with_compression("gzip")])


@pytest.mark.parametrize("fmt", ["oci", "oci-archive", "docker-archive"])
def test_layerlab_output_passes_skopeo_inspect_and_copy(tools: None, work: Path,
                                                        fmt: str) -> None:
    img = layerlab_image()
    path = work / ("out" if fmt == "oci" else "out.tar")
    save(img, path, format=fmt, tag="demo:1" if fmt == "docker-archive" else "t")
    ref = {"oci": f"oci:{path}:t", "oci-archive": f"oci-archive:{path}",
           "docker-archive": f"docker-archive:{path}"}[fmt]
    config = json.loads(run("skopeo", "inspect", "--config", ref))
    assert config["rootfs"]["diff_ids"] == img.diff_ids
    assert [h["created_by"] for h in config["history"]] == ["ADD rootfs /", "COPY . /"]
    for target, dest in [("oci-archive", work / "copy-o.tar"),
                         ("docker-archive", work / "copy-d.tar")]:
        run("skopeo", "copy", ref, f"{target}:{dest}")
        assert load(dest).diff_ids == img.diff_ids, (fmt, target)
        dest.unlink()


def test_umoci_unpacks_layerlab_output_to_layerlabs_view(tools: None, work: Path) -> None:
    img = layerlab_image()
    save(img, work / "out", format="oci", tag="t")
    theirs = tree(umoci_unpack(work / "out", "t", work / "bundle"))
    flatten(img, work / "ours", allow_setuid=True)
    assert theirs == tree(work / "ours")
    # the opaque directory hid the lower children; the whiteout removed the file
    assert sorted(os.listdir(work / "bundle/rootfs/var/cache")) == ["c"]
    assert not (work / "bundle/rootfs/etc/hostname").exists()
    assert sorted(img.view().listdir("/var/cache")) == ["c"]


def test_layerlab_docker_archive_is_also_an_oci_archive_for_skopeo(tools: None,
                                                                    work: Path) -> None:
    """One file, two readers: skopeo takes it as docker-archive: and as oci-archive:."""
    img = layerlab_image()
    path = work / "both.tar"
    save(img, path, format="docker-archive", tag="demo:1")
    for ref in (f"docker-archive:{path}", f"oci-archive:{path}"):
        config = json.loads(run("skopeo", "inspect", "--config", ref))
        assert config["rootfs"]["diff_ids"] == img.diff_ids, ref
    info = json.loads(run("skopeo", "inspect", f"oci-archive:{path}"))
    assert info["Layers"] == img.diff_ids  # uncompressed: the blob digest is the diff_id
    run("skopeo", "copy", f"oci-archive:{path}", f"oci:{work / 'layout'}:t")
    assert tree(umoci_unpack(work / "layout", "t", work / "bundle")) == tree(
        _flattened(img, work / "ours"))


def _flattened(img: Image, dest: Path) -> Path:
    flatten(img, dest, allow_setuid=True)
    return dest


def test_legacy_parent_pointers_of_a_skopeo_docker_archive(tools: None, work: Path) -> None:
    """A docker-archive written by a real tool carries ``<id>/json`` with parent pointers;
    ``formats.read`` exposes them (what a notebook shows as the legacy chain)."""
    from layerlab.formats import read

    layout = umoci_image(work)
    run("skopeo", "copy", f"oci:{layout}:t", f"docker-archive:{work / 'd.tar'}:demo:1")
    loaded = read(work / "d.tar")
    legacy = loaded.legacy_layers
    assert len(legacy) == len(loaded.image.layers) == 3
    assert legacy[0].parent is None
    assert [lg.parent for lg in legacy[1:]] == [lg.id for lg in legacy[:-1]]
    assert all(lg.json["id"] == lg.id for lg in legacy)
    assert loaded.repo_tags == ("docker.io/library/demo:1",)
