"""``layerlab/busybox``: a real, tiny base image made from the host's static busybox.

The real executors (namespaces, ptrace: :mod:`layerlab.executors`) need an image with a real
``/bin/sh``; ``FROM layerlab/busybox`` gives one. It comes from Debian's ``busybox-static``
(a static executable: nothing else from the host is needed inside the image).

>>> _is_static_elf(b"#!/bin/sh")
False
"""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess

from .entry import Dir, File, Spec, Symlink
from .errors import RealModeUnavailable
from .image import Image
from .layer import Layer

__all__ = ["busybox_image"]


def _is_static_elf(data: bytes) -> bool:
    """True for an ELF executable without a PT_INTERP header (no dynamic loader needed)."""
    if data[:4] != b"\x7fELF":
        return False
    is64, little = data[4] == 2, data[5] == 1
    end = "<" if little else ">"
    if is64:
        phoff, = struct.unpack_from(end + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 0x36)
    else:
        phoff, = struct.unpack_from(end + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 0x2A)
    for i in range(phnum):
        p_type, = struct.unpack_from(end + "I", data, phoff + i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


@functools.cache
def busybox_image(path: str | None = None) -> Image:
    """``layerlab/busybox``: a real, tiny base image from the host's static busybox.

    One layer: ``/bin/busybox`` and its applet links, ``/etc/passwd`` and ``/etc/group``,
    empty ``/proc``, ``/dev``, ``/tmp`` and ``/root``. Reproducible for a given busybox
    binary (its digest changes with Debian's busybox-static version).
    """
    binary = path or shutil.which("busybox") or "/bin/busybox"
    try:
        with open(binary, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise RealModeUnavailable(
            f"no busybox at {binary} (install Debian's busybox-static)") from exc
    if not _is_static_elf(data):
        raise RealModeUnavailable(
            f"{binary} is not a static executable; install Debian's busybox-static")
    listed = subprocess.run([binary, "--list"], capture_output=True, text=True, check=True)
    spec: dict[str, Spec] = {
        "/bin": Dir(), "/etc": Dir(), "/proc": Dir(), "/dev": Dir(), "/root": Dir(mode=0o700),
        "/tmp": Dir(mode=0o1777), "/usr": Dir(), "/usr/bin": Dir(),
        "/bin/busybox": File(data, mode=0o755),
        "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        "/etc/group": "root:x:0:\nnogroup:x:65534:\n",
        "/etc/os-release": "NAME=layerlab busybox\nID=busybox\n",
    }
    for applet in sorted(set(listed.stdout.split()) - {"busybox"}):
        spec[f"/bin/{applet}"] = Symlink("busybox")
    layer = Layer.from_dict(spec, created_by="ADD busybox-static rootfs /")
    path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return Image.from_layers([layer], config={"cmd": ["sh"], "env": [path_env]})
