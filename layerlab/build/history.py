"""``docker history`` for an image: one row per history entry, newest first.

Since Docker 1.10 layers are content-addressed: a layer is named by its ``diff_id`` and
only an image (a config) has an ID. ``docker history`` still has an IMAGE column from the
days when every layer was an image of its own; for a row that has no such local image it
prints ``<missing>``. Images you pull (or build with BuildKit) show ``<missing>`` on
every row except the top one, which is the image itself: that is what :func:`history`
shows, with a ``why`` on every row.

>>> from layerlab.build import build
>>> img = build("FROM layerlab/tiny\\nENV A=1\\n")
>>> for row in history(img):
...     print(row.image_id_column, row.size, row.empty_layer, row.created_by[:32])
a90a5713d69f 0 True /bin/sh -c #(nop)  ENV A=1
<missing> 0 True /bin/sh -c #(nop)  CMD ["sh"]
<missing> 364 False /bin/sh -c #(nop) ADD file:79a3e
"""

from __future__ import annotations

from dataclasses import dataclass

from ..digest import short
from ..image import Image

__all__ = ["HistoryRow", "history"]

_WHY_TOP = "the image itself: its ID is the sha256 of its config JSON"
_WHY_MISSING = ("<missing>: no image of its own on this host; since Docker 1.10 layers are "
                "named by content (diff_id) and only the final image has an ID")
_WHY_EMPTY = "; empty layer: this step only changed the config (0 B, no layer in rootfs)"


@dataclass(frozen=True)
class HistoryRow:
    """One row of ``docker history`` (``index`` counts history entries from the base, 0)."""

    index: int
    image_id_column: str
    created: str
    created_by: str
    size: int
    empty_layer: bool
    comment: str
    diff_id: str
    why: str


def history(image: Image) -> list[HistoryRow]:
    """Rows like ``docker history IMAGE``: newest first, sizes in bytes of file content."""
    rows: list[HistoryRow] = []
    pairs = image.layer_history()
    for index, (entry, layer) in enumerate(pairs):
        top = index == len(pairs) - 1
        why = (_WHY_TOP if top else _WHY_MISSING) + (_WHY_EMPTY if layer is None else "")
        rows.append(HistoryRow(
            index=index,
            image_id_column=short(image.id) if top else "<missing>",
            created=entry.created,
            created_by=entry.created_by,
            size=layer.size if layer is not None else 0,
            empty_layer=layer is None,
            comment=entry.comment,
            diff_id=layer.diff_id if layer is not None else "",
            why=why,
        ))
    return rows[::-1]
