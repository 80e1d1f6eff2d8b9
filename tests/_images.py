"""Small hand-computed images shared by the view tests (tables, charts, analysis)."""

from __future__ import annotations

from layerlab import Dir, Image, Layer, Whiteout


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
