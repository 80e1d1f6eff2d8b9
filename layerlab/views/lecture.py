"""Lecture mode: everything a room reads, larger, for a projector.

``lecture_mode()`` in a notebook's first cell shows a style block that scales what
JupyterLab draws (markdown, code, outputs, tables, widget text and controls) through
JupyterLab's own CSS variables, and turns on bigger fonts in the kit's HTML reprs and
charts. Charts keep their pixel width (JupyterLab shrinks an image to the output's width,
so a wider chart would bring its bigger text back down) and lay themselves out for the
bigger text instead: taller rows, wrapped labels, legends outside the axes
(:mod:`layerlab.views.charts`). ``lecture_mode(False)`` shows the style that puts
JupyterLab's sizes back. The
setting itself is module-level and read at render time; nothing changes matplotlib's
global ``rcParams``.

>>> from layerlab.views import lecture_mode
>>> lecture_mode()
lecture mode on: text, code, tables, widgets and charts at 1.6x
>>> font_scale()
1.6
>>> lecture_mode(False)
lecture mode off
"""

from __future__ import annotations

__all__ = [
    "LECTURE_SCALE",
    "LectureStyle",
    "font_scale",
    "is_lecture_mode",
    "lecture_css",
    "lecture_mode",
]

#: how much lecture mode enlarges text
LECTURE_SCALE = 1.6

_state = {"on": False}

#: JupyterLab 4's sizes (px) that lecture mode multiplies
_LAB_SIZES = {
    "--jp-content-font-size1": 14,
    "--jp-code-font-size": 13,
    "--jp-ui-font-size1": 13,
    "--jp-widgets-font-size": 13,
    "--jp-widgets-inline-height": 28,
    "--jp-widgets-inline-label-width": 80,
    "--jp-widgets-inline-width": 300,
    "--jp-widgets-inline-width-short": 148,
    "--jp-widgets-slider-handle-size": 16,
}
#: what JupyterLab sizes without a variable: rendered tables
_TABLE_PX = 12


def lecture_css(scale: float) -> str:
    """The style block for ``scale`` (1.0: JupyterLab's own sizes back)."""
    variables = "".join(f"{name}:{px * scale:.0f}px;" for name, px in _LAB_SIZES.items())
    table = f"{_TABLE_PX * scale:.0f}px"
    return (
        "<style class='layerlab-lecture'>"
        f":root,body{{{variables}}}"
        f".jp-RenderedHTMLCommon table,.jp-RenderedHTMLCommon th,.jp-RenderedHTMLCommon td"
        f"{{font-size:{table}}}"
        ".jp-OutputArea-output pre{font-size:var(--jp-code-font-size)}"
        ".jupyter-widgets,.jupyter-widgets select,.jupyter-widgets input,"
        ".jupyter-widgets textarea,.jupyter-widgets button,.widget-html-content,"
        ".widget-label{font-size:var(--jp-widgets-font-size)}"
        ".jupyter-widgets select{line-height:1.3}"
        "</style>"
    )


class LectureStyle:
    """What :func:`lecture_mode` returns: shown in a notebook it is the style block."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def __repr__(self) -> str:
        if self.on:
            return (f"lecture mode on: text, code, tables, widgets and charts at "
                    f"{LECTURE_SCALE}x")
        return "lecture mode off"

    def _repr_html_(self) -> str:
        scale = LECTURE_SCALE if self.on else 1.0
        return (lecture_css(scale) + f"<div class='layerlab-lecture-note' style='opacity:0.8'>"
                f"{self!r}</div>")


def lecture_mode(on: bool = True) -> LectureStyle:
    """Turn lecture mode on (or off with ``lecture_mode(False)``); show the result in a
    cell (its last line) so JupyterLab's own text scales too."""
    _state["on"] = bool(on)
    return LectureStyle(bool(on))


def is_lecture_mode() -> bool:
    return _state["on"]


def font_scale() -> float:
    """The factor reprs and charts multiply their font sizes by (1.0 when off)."""
    return LECTURE_SCALE if _state["on"] else 1.0
