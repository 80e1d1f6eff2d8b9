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
from typing import Any

from ..digest import short
from ..image import Image

__all__ = ["BuilderRow", "HistoryRow", "compare_builders", "history"]

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


@dataclass(frozen=True)
class BuilderRow:
    """One Dockerfile step as the classic builder and BuildKit each record it.

    ``*_image`` is what ``docker history`` shows in the IMAGE column for that step (the
    classic builder keeps an intermediate image per step, so its ids show for a local
    build; BuildKit keeps none: ``<missing>``), ``''`` when the step is not in the final
    image's history (another stage). ``*_created_by`` is the history text and ``*_layer``
    ``"layer N B"``, ``"no layer"`` or ``"skipped"`` (BuildKit skips unneeded stages).
    """

    line: int
    stage: str
    instruction: str
    in_final_image: bool
    classic_image: str
    classic_created_by: str
    classic_layer: str
    buildkit_image: str
    buildkit_created_by: str
    buildkit_layer: str


def compare_builders(dockerfile: Any, context: Any = None, **options: Any) -> list[BuilderRow]:
    """Build ``dockerfile`` with both builders and put their steps side by side.

    >>> rows = compare_builders("FROM layerlab/tiny\\nENV A=1\\nRUN echo hi > /f\\n")
    >>> [(r.instruction, r.classic_created_by, r.buildkit_created_by) for r in rows][1:]
    [('ENV A=1', '/bin/sh -c #(nop)  ENV A=1', 'ENV A=1'), \
('RUN echo hi > /f', '/bin/sh -c echo hi > /f', 'RUN /bin/sh -c echo hi > /f # buildkit')]
    """
    from .builder import Builder

    built = {}
    for kind in ("classic", "buildkit"):
        b = Builder(dockerfile, context, builder=kind, **options)
        b.run()
        built[kind] = b
    classic, buildkit = built["classic"], built["buildkit"]
    final = classic.target.index
    labels = {p.index: p.label for p in classic.stage_plan}
    bk_steps = {(s.stage, s.line, s.text): s for s in buildkit.results}
    bk_built = {p.index for p in buildkit.stage_plan if p.built}
    rows = []
    for step in classic.results:
        other = bk_steps.get((step.stage, step.line, step.text))
        in_final = step.stage == final
        top = step is classic.results[-1]

        def layer(s: Any) -> str:
            if s.layer is not None:
                return f"layer {s.layer.size} B"
            return "no layer" if s.cache != "none" else ""

        rows.append(BuilderRow(
            line=step.line, stage=labels.get(step.stage, "global"), instruction=step.text,
            in_final_image=in_final,
            classic_image=short(step.image.id) if in_final and step.cache != "none" else "",
            classic_created_by=step.created_by,
            classic_layer=layer(step),
            buildkit_image=("" if not in_final or step.cache == "none" else
                            short(buildkit.results[-1].image.id) if top else "<missing>"),
            buildkit_created_by=other.created_by if other is not None else "",
            buildkit_layer=layer(other) if other is not None else (
                "skipped" if step.stage not in bk_built else ""),
        ))
    return rows
