"""Colors for charts and reprs: the Okabe-Ito palette, safe for the common kinds of
color blindness, and chosen to read on light and dark backgrounds.

Color is never the only signal: every change kind also has a letter and a hatch.
"""

from __future__ import annotations

__all__ = ["CHANGE_HATCH", "CHANGE_LETTER", "CHANGE_STYLE", "OKABE_ITO", "VERDICT_STYLE",
           "change_color"]

#: Okabe & Ito (2008), "Color Universal Design"
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#999999",
}

#: change kind -> color; keys are the letters of ``docker diff`` plus ours
CHANGE_STYLE: dict[str, str] = {
    "A": OKABE_ITO["bluish_green"],   # added
    "M": OKABE_ITO["orange"],         # modified (docker diff says C)
    "C": OKABE_ITO["orange"],
    "D": OKABE_ITO["vermillion"],     # deleted / whiteout
    "O": OKABE_ITO["reddish_purple"],  # opaque directory
    "RW": OKABE_ITO["sky_blue"],      # a container's read-write layer
    "RO": OKABE_ITO["blue"],          # read-only image layers
    "HIDDEN": OKABE_ITO["grey"],      # versions a view no longer shows
}

#: change kind -> matplotlib hatch, so the kinds differ in grey-scale print too
CHANGE_HATCH: dict[str, str] = {"A": "", "M": "//", "C": "//", "D": "xx", "O": "..", "RW": "\\\\"}

#: change kind -> the word a legend uses
CHANGE_LETTER: dict[str, str] = {
    "A": "A added", "M": "M modified", "C": "C changed", "D": "D deleted", "O": "O opaque",
}

#: text and edge color that reads on both light and dark backgrounds (mid grey-blue)
NEUTRAL = "#5f6b7a"


def change_color(kind: str) -> str:
    """The color for a change kind (``"A"``, ``"M"``/``"C"``, ``"D"``...), grey if unknown."""
    return CHANGE_STYLE.get(kind, OKABE_ITO["grey"])


#: verdict kind -> (badge background, mark, word). White text on each background has a
#: WCAG contrast of at least 5:1, and the badge brings its own background, so it reads the
#: same in light and dark themes; the mark and the word carry the meaning, not the color.
VERDICT_STYLE: dict[str, tuple[str, str, str]] = {
    "right": ("#00704A", "✔", "Correct"),
    "wrong": ("#A63D00", "✘", "Not quite"),
    "open": ("#5f6b7a", "✎", "Not answered yet"),
}
