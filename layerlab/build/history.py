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
from ..history import HistoryRow, history

__all__ = ["BuilderRow", "HistoryRow", "compare_builders", "history"]


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
