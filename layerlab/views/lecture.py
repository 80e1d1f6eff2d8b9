"""Lecture mode: bigger fonts in HTML reprs and charts, for a projector.

A module-level setting read at render time; nothing changes matplotlib's global
``rcParams``.

>>> from layerlab.views import lecture_mode
>>> lecture_mode()
>>> font_scale()
1.6
>>> lecture_mode(False)
"""

from __future__ import annotations

__all__ = ["LECTURE_SCALE", "font_scale", "is_lecture_mode", "lecture_mode"]

#: how much lecture mode enlarges text
LECTURE_SCALE = 1.6

_state = {"on": False}


def lecture_mode(on: bool = True) -> None:
    """Turn lecture mode on (or off with ``lecture_mode(False)``) for what renders next."""
    _state["on"] = bool(on)


def is_lecture_mode() -> bool:
    return _state["on"]


def font_scale() -> float:
    """The factor reprs and charts multiply their font sizes by (1.0 when off)."""
    return LECTURE_SCALE if _state["on"] else 1.0
