"""Built-in teaching base images, so ``FROM`` works offline.

These are **not** real distributions: small, deterministic root filesystems with the
layout of the real thing (``/bin``, ``/etc/passwd``, ``/usr``, ``/var``...) and stub
programs, labelled ``org.opencontainers.image.description = layerlab teaching base``.
Each is one layer (``ADD file:<hash> in /``, as the official images record it) plus a
``CMD`` with no layer, built with fixed timestamps so their ids are the same everywhere.

=========================  =========================================================
``layerlab/tiny``          busybox-like: ``/bin/busybox`` and applet symlinks
``layerlab/alpine-like``   adds ``/etc/alpine-release``, ``/etc/apk``, ``/lib/apk/db``
``layerlab/debian-like``   adds ``/etc/debian_version``, ``/etc/apt``, ``/var/lib/dpkg``
=========================  =========================================================

>>> img = base_image("layerlab/tiny")
>>> img.view().readlink("/bin/sh"), len(img.layers)
('busybox', 1)
>>> base_image("layerlab/tiny").id == img.id
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache

from ..entry import Dir, File, Spec, Symlink
from ..image import EPOCH, HistoryEntry, Image
from ..layer import Layer

__all__ = ["BASE_IMAGES", "base_image", "is_base_image"]

_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_LABEL = ("org.opencontainers.image.description",
          "layerlab teaching base: not a real distribution")
_APPLETS = ("sh", "ash", "ls", "cat", "echo", "cp", "mv", "rm", "mkdir", "rmdir", "touch",
            "chmod", "chown", "ln", "pwd", "env", "true", "false", "grep", "sed", "head",
            "tail", "wc", "sleep", "id", "whoami", "hostname", "date", "find", "tar", "gzip",
            "du", "df", "ps", "test", "printf", "uname")


def _stub(name: str) -> File:
    text = f"\x7fELF layerlab stub for {name}: the simulated shell runs it\n"
    return File(text.encode(), mode=0o755)


def _skeleton(os_release: str) -> dict[str, Spec]:
    spec: dict[str, Spec] = {
        "/bin": Dir(), "/dev": Dir(), "/etc": Dir(), "/home": Dir(), "/lib": Dir(),
        "/proc": Dir(mode=0o555), "/root": Dir(mode=0o700), "/sbin": Dir(),
        "/sys": Dir(mode=0o555), "/tmp": Dir(mode=0o1777), "/usr": Dir(), "/usr/bin": Dir(),
        "/usr/sbin": Dir(), "/usr/local": Dir(), "/usr/local/bin": Dir(), "/var": Dir(),
        "/var/log": Dir(), "/var/tmp": Dir(mode=0o1777),
        "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"
                       "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        "/etc/group": "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n",
        "/etc/hostname": "layerlab\n",
        "/etc/os-release": os_release,
        "/bin/busybox": _stub("busybox"),
    }
    for applet in _APPLETS:
        spec[f"/bin/{applet}"] = Symlink("busybox")
    return spec


def _release(name: str, ident: str, codename: str = "") -> str:
    # ID is what package tools key on (the simulated apt-get picks its sources from it)
    lines = [f'NAME="{name}"', f"ID={ident}", 'VERSION_ID="0.1"',
             *([f"VERSION_CODENAME={codename}"] if codename else []),
             f'PRETTY_NAME="{name} (layerlab teaching base, not a real distribution)"']
    return "\n".join(lines) + "\n"


def _tiny() -> dict[str, Spec]:
    return _skeleton(_release("layerlab tiny", "layerlab-tiny"))


def _alpine_like() -> dict[str, Spec]:
    spec = _skeleton(_release("layerlab alpine-like", "alpine"))
    spec.update({
        "/etc/alpine-release": "0.1-layerlab\n",
        "/etc/apk": Dir(), "/etc/apk/repositories": "https://packages.layerlab.invalid/main\n",
        "/lib/apk": Dir(), "/lib/apk/db": Dir(),
        "/lib/apk/db/installed": "P:busybox\nV:0.1\n\nP:alpine-baselayout\nV:0.1\n\n",
        "/sbin/apk": _stub("apk"), "/var/cache/apk": Dir(),
    })
    return spec


def _debian_like() -> dict[str, Spec]:
    spec = _skeleton(_release("layerlab debian-like", "debian", "bookworm"))
    status = "".join(
        f"Package: {p}\nStatus: install ok installed\nVersion: 0.1\n\n"
        for p in ("base-files", "bash", "coreutils", "dpkg", "apt")
    )
    spec.update({
        "/etc/debian_version": "12.0-layerlab\n",
        "/etc/apt": Dir(), "/etc/apt/sources.list":
            "deb https://packages.layerlab.invalid/debian bookworm main\n",
        "/var/lib": Dir(), "/var/lib/dpkg": Dir(), "/var/lib/dpkg/status": status,
        "/var/lib/apt": Dir(), "/var/lib/apt/lists": Dir(), "/var/cache": Dir(),
        "/var/cache/apt": Dir(), "/var/cache/apt/archives": Dir(),
        "/bin/bash": _stub("bash"), "/usr/bin/apt-get": _stub("apt-get"),
        "/usr/bin/apt": _stub("apt"), "/usr/bin/dpkg": _stub("dpkg"),
    })
    return spec


#: name -> (root filesystem spec factory, default CMD)
BASE_IMAGES: Mapping[str, tuple[Callable[[], dict[str, Spec]], tuple[str, ...]]] = {
    "layerlab/tiny": (_tiny, ("sh",)),
    "layerlab/alpine-like": (_alpine_like, ("/bin/sh",)),
    "layerlab/debian-like": (_debian_like, ("bash",)),
}


#: a real base image, made from the host's busybox-static (see layerlab.realmode)
REAL_BASE = "layerlab/busybox"


def is_base_image(name: str) -> bool:
    """True for the built-in names, with or without the ``:latest`` tag."""
    return name.removesuffix(":latest") in (*BASE_IMAGES, REAL_BASE)


@cache
def base_image(name: str) -> Image:
    """The built-in teaching image ``name`` (``layerlab/tiny``, ...). Immutable, so shared."""
    key = name.removesuffix(":latest")
    if key == REAL_BASE:
        from ..busybox import busybox_image

        return busybox_image()
    if key not in BASE_IMAGES:
        raise KeyError(f"no built-in base image {name!r} (built in: {', '.join(BASE_IMAGES)})")
    factory, cmd = BASE_IMAGES[key]
    rootfs = Layer.from_dict(factory())
    created_by = f"/bin/sh -c #(nop) ADD file:{rootfs.diff_id.split(':', 1)[1]} in / "
    layer = rootfs.with_created_by(created_by)
    cmd_text = "[" + " ".join(f'"{c}"' for c in cmd) + "]"
    history = [
        HistoryEntry(created_by=created_by, created=EPOCH),
        HistoryEntry(created_by=f"/bin/sh -c #(nop)  CMD {cmd_text}", created=EPOCH,
                     empty_layer=True),
    ]
    config = {"env": [f"PATH={_PATH}"], "cmd": list(cmd), "labels": dict([_LABEL])}
    return Image.from_layers([layer], config=config, history=history)
