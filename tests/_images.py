"""Small hand-computed images shared by the tests (views, and the store layouts)."""

from __future__ import annotations

from layerlab import Dir, Image, Layer, Opaque, Symlink, Whiteout


def three_layers() -> Image:
    """L0 stores 170 B, L1 200 B, L2 100 B (470 B in all).

    L0: /d (dir), /d/a 10 B, /d/b 20 B, /f 100 B, /g 40 B
    L1: /f 100 B again, a whiteout of /d, /g grown to 100 B
    L2: /f 100 B a third time
    """
    return Image.from_layers([
        Layer.from_dict({"/d": Dir(), "/d/a": "a" * 10, "/d/b": "b" * 20, "/f": "x" * 100,
                         "/g": "g" * 40}, created_by="ADD rootfs /"),
        Layer.from_dict({"/f": "x" * 100, "/d": Whiteout(), "/g": "g" * 100},
                        created_by="RUN touch"),
        Layer.from_dict({"/f": "x" * 100}, created_by="COPY f /"),
    ])


def store_image(tag: str = "base") -> Image:
    """Two layers with a symlink, an opaque directory and a whiteout: the store tests'
    image (every layout); ``tag`` makes the busybox bytes, so the ids, differ."""
    base = Layer.from_dict(
        {"/etc/motd": "hello\n", "/etc/os-release": "ID=tiny\n", "/d/x": "x", "/d/y": "y",
         "/bin/sh": Symlink("busybox"), "/bin/busybox": b"\x7fELF" + tag.encode()},
        created_by=f"ADD {tag} /")
    top = Layer.from_dict({"/d": Opaque(), "/d/z": "z", "/etc/os-release": Whiteout(),
                           "/app/main.py": "print('hi')\n"}, created_by="COPY . /app")
    return Image.from_layers([base, top], config={"cmd": ["sh"]})
