"""``docker history`` rows for an image: one row per history entry, newest first.

Computed from the image's own data (its history entries, layers and id), so it sits
beside :mod:`layerlab.image`: :meth:`Image.history_rows` calls :func:`history` here, and
:mod:`layerlab.build.history` re-exports both names (next to the builders' comparison).

Since Docker 1.10 layers are content-addressed: a layer is named by its ``diff_id`` and
only an image (a config) has an ID. ``docker history`` still has an IMAGE column from the
days when every layer was an image of its own; for a row that has no such local image it
prints ``<missing>``. Images you pull (or build with BuildKit) show ``<missing>`` on
every row except the top one, which is the image itself: that is what :func:`history`
shows, with a ``why`` on every row.

>>> from layerlab import Image, Layer
>>> img = Image.from_layers([Layer.from_dict({"/a": "1\\n"})]).with_config(cmd=["sh"])
>>> [(r.image_id_column == img.id[7:19], r.size, r.empty_layer) for r in history(img)]
[(True, 2, False)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .digest import short

if TYPE_CHECKING:
    from .image import Image

__all__ = ["HistoryRow", "history"]

_WHY_TOP = "the image itself: its ID is the sha256 of its config JSON"
_WHY_MISSING = (
    "<missing>: no image of its own. Docker names intermediate images only when this "
    "daemon built them step by step (the classic builder); layers that were pulled, or "
    "built with BuildKit, are known by content (diff_id) only"
)
_WHY_EMPTY = "; empty layer: this step only changed the config (0 B, no layer in rootfs)"


@dataclass(frozen=True)
class HistoryRow:
    """One row of ``docker history`` (``index`` counts history entries from the base, 0;
    ``layer`` is the index of the layer the step made, ``None`` for an empty layer)."""

    index: int
    image_id_column: str
    created: str
    created_by: str
    size: int
    empty_layer: bool
    comment: str
    diff_id: str
    why: str
    layer: int | None = None


def history(image: Image) -> list[HistoryRow]:
    """Rows like ``docker history IMAGE``: newest first, sizes in bytes of file content.

    The one implementation: :meth:`Image.history_rows` and
    :func:`layerlab.views.history_table` show these rows."""
    rows: list[HistoryRow] = []
    pairs = image.layer_history()
    k = -1
    for index, (entry, layer) in enumerate(pairs):
        if layer is not None:
            k += 1
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
            layer=k if layer is not None else None,
        ))
    return rows[::-1]
