"""layerlab's builder against a real one: ``buildah bud`` (Debian's buildah) builds the
same multi-stage Dockerfiles with ``.dockerignore``; the final filesystem trees and the
config must agree.

buildah runs as root with ``--isolation=chroot --storage-driver=vfs`` and its storage in
a temporary directory on /dev/shm. Its ``RUN`` needs a real shell in the base image, so
both builds start from the kit's ``layerlab/busybox`` (the host's busybox-static, see
:func:`layerlab.busybox.busybox_image`) saved as an OCI layout and named in ``FROM`` as
``oci:<dir>``; layerlab is given that same image under that name and runs ``RUN`` in its
simulated shell. The result is pushed as a docker-archive (the OCI config has no
``Healthcheck``) and loaded with layerlab.

Differences that are not compared, and why: buildah adds the label
``io.buildah.version``; its ``RUN`` leaves empty mount points (``/etc/hosts``,
``/etc/resolv.conf``, ``/run``...) in a stage whose last steps ran; it squashes a build
into one layer unless ``--layers`` is given, so trees are compared, not layer lists;
directory mtimes depend on the order children were written.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from layerlab import Image
from layerlab.build import Builder
from layerlab.formats import load, save

pytestmark = pytest.mark.reference

CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts",
               "Volumes", "Healthcheck", "StopSignal")


@pytest.fixture
def work() -> Iterator[Path]:
    if shutil.which("buildah") is None:
        pytest.skip("buildah not found on PATH (Debian: apt-get install buildah)")
    if os.geteuid() != 0:
        pytest.skip("buildah --isolation=chroot with vfs storage runs as root here")
    if shutil.which("busybox") is None:
        pytest.skip("busybox not found (Debian: apt-get install busybox-static): buildah's "
                    "RUN needs a real shell in the base image")
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    # lower-case letters and digits only: buildah turns oci:<dir> into an image name
    tmp = Path(base) / f"layerlab-buildah-{secrets.token_hex(6)}"
    tmp.mkdir()
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def busybox_layout(work: Path) -> tuple[str, Image]:
    from layerlab.busybox import busybox_image

    image = busybox_image()
    save(image, work / "base", format="oci", tag="latest")
    return f"oci:{work / 'base'}", image


def buildah(work: Path, *args: str) -> str:
    argv = ["buildah", "--root", str(work / "root"), "--runroot", str(work / "runroot"),
            "--storage-driver=vfs", *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def reference_build(work: Path, context: Path, *extra: str) -> Image:
    tag = f"ref{len(list(work.glob('ref*.tar')))}"
    buildah(work, "bud", "--isolation=chroot", "--format", "docker", "-t", tag, *extra,
            str(context))
    buildah(work, "push", "-q", tag, f"docker-archive:{work / (tag + '.tar')}:{tag}:latest")
    return load(work / f"{tag}.tar")


def tree(image: Image) -> dict[str, tuple[object, ...]]:
    view = image.view()
    out: dict[str, tuple[object, ...]] = {}
    for e in view.walk():
        data = hashlib.sha256(view.read(e.path)).hexdigest()[:16] \
            if e.kind.value in ("file", "hardlink") else ""
        link = e.linkname if e.kind.value == "symlink" else ""
        kind = "file" if e.kind.value == "hardlink" else e.kind.value
        out[e.path] = (kind, oct(e.mode), e.uid, e.gid, data, link)
    return out


def config(image: Image) -> dict[str, object]:
    """The compared keys; an empty value and an absent one are the same (buildah writes
    ``"Volumes": {}``, ``"Cmd": []``, ``"User": ""``, layerlab leaves them out)."""
    doc = image.config_json()["config"]
    labels = {k: v for k, v in (doc.get("Labels") or {}).items() if k != "io.buildah.version"}
    doc = {**doc, "Labels": labels}
    return {k: doc.get(k) or None for k in CONFIG_KEYS}


#: what buildah's RUN leaves in the committed stage: the empty mount points it made for
#: the run (Docker's builders do not keep them); ignored when layerlab does not have them
RUN_MOUNT_POINTS = {"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/run", "/sys"}


def _artifact(path: str, theirs: tuple[object, ...] | None,
              ours: tuple[object, ...] | None) -> bool:
    empty = hashlib.sha256(b"").hexdigest()[:16]
    return (ours is None and path in RUN_MOUNT_POINTS and theirs is not None
            and theirs[4] in ("", empty))


def compare(work: Path, context: Path, dockerfile: str, *, target: str | None = None,
            build_args: dict[str, str] | None = None) -> tuple[Image, Image]:
    name, base = busybox_layout(work)
    (context / "Dockerfile").write_text(dockerfile.replace("BASE_IMAGE", name))
    extra = [*(["--target", target] if target else []),
             *[a for k, v in (build_args or {}).items() for a in ("--build-arg", f"{k}={v}")]]
    ref = reference_build(work, context, *extra)
    for kind in ("classic", "buildkit"):
        mine = Builder(None, context, images={name: base}, target=target,
                       build_args=build_args, builder=kind).run()
        ours, theirs = tree(mine), tree(ref)
        diff = {p: (ours.get(p), theirs.get(p)) for p in sorted(set(ours) | set(theirs))
                if ours.get(p) != theirs.get(p)
                and not _artifact(p, theirs.get(p), ours.get(p))}
        assert diff == {}, f"{kind}: layerlab vs buildah: {diff}"
        assert config(mine) == config(ref), kind
    return mine, ref


def make(context: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (context / rel).parent.mkdir(parents=True, exist_ok=True)
        (context / rel).write_text(text)
    return context


MULTI_STAGE = """\
ARG GREETING=hello
FROM BASE_IMAGE AS build
ARG GREETING
RUN mkdir -p /out && echo "$GREETING from the build stage" > /out/app && \\
    echo junk > /tmp/build-junk
FROM BASE_IMAGE AS unused
RUN echo never > /never
FROM BASE_IMAGE
ENV A=1 B="two words"
WORKDIR /srv
COPY --from=build /out/app /srv/app
COPY . /ctx/
COPY --chown=nobody:nogroup --chmod=0750 tool.sh /usr/local/bin/
USER nobody
LABEL k=v org.example.stage=final
EXPOSE 8080/tcp 53/udp
VOLUME /data
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["/srv/app", "--health"]
ENTRYPOINT ["/srv/app"]
CMD ["--help"]
"""

IGNORE = """\
# build output and secrets stay out
**/*.log
node_modules
!node_modules/keep.js
secret/
.dockerignore
"""


def test_multi_stage_with_dockerignore_matches_buildah(work: Path) -> None:
    context = make(work / "ctx", {
        "tool.sh": "#!/bin/sh\necho tool\n", "app/main.txt": "main\n",
        "app/debug.log": "x\n", "deep/a/b/c.log": "y\n", "node_modules/lib.js": "lib\n",
        "node_modules/keep.js": "keep\n", "secret/key": "k\n", ".dockerignore": IGNORE})
    mine, _ = compare(work, context, MULTI_STAGE, build_args={"GREETING": "bonjour"})
    view = mine.view()
    assert view.read("/srv/app") == b"bonjour from the build stage\n"
    assert sorted(p.removeprefix("/ctx/") for p in tree(mine) if p.startswith("/ctx/")) == [
        "Dockerfile", "app", "app/main.txt", "deep", "deep/a", "deep/a/b", "node_modules",
        "node_modules/keep.js", "tool.sh"]
    assert not view.exists("/tmp/build-junk") and not view.exists("/never")


def test_target_stage_matches_buildah(work: Path) -> None:
    context = make(work / "ctx", {"tool.sh": "t\n"})
    mine, _ = compare(work, context, MULTI_STAGE, target="build")
    assert mine.view().read("/out/app") == b"hello from the build stage\n"


def test_copy_from_an_index_and_shell_form_cmd_match_buildah(work: Path) -> None:
    context = make(work / "ctx", {"a.txt": "a\n", "dir/b.txt": "b\n"})
    compare(work, context, """\
FROM BASE_IMAGE
RUN mkdir -p /opt/data && echo one > /opt/data/one && ln -s one /opt/data/link
FROM scratch
COPY --from=0 /opt/data /data/
COPY --from=0 /bin/busybox /bin/
COPY a.txt dir /files/
WORKDIR /files
ENTRYPOINT /bin/busybox echo entry
""")
