"""Colors for charts and reprs: the Okabe-Ito palette, safe for the common kinds of
color blindness, and chosen to read on light and dark backgrounds.

Color is never the only signal: every change kind also has a letter and a hatch.
"""

from __future__ import annotations

__all__ = ["CHANGE_HATCH", "CHANGE_LETTER", "CHANGE_STYLE", "OKABE_ITO", "VERDICT_STYLE",
           "change_color", "contrast_ratio", "pill_style", "readable_on"]

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


def _luminance(color: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb``."""
    h = color.lstrip("#")
    channels = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colors (1 to 21; AA text needs 4.5).

    >>> round(contrast_ratio("#E69F00", "#ffffff"), 2)  # orange text on white fails AA
    2.25
    """
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def readable_on(background: str) -> str:
    """Black or white, whichever reads better on ``background``; with every color of
    the palette the pair meets WCAG AA (4.5:1), on a light or a dark page alike, since
    the background travels with the text.

    >>> readable_on(OKABE_ITO["orange"]), readable_on(OKABE_ITO["blue"])
    ('#000000', '#ffffff')
    """
    black, white = "#000000", "#ffffff"
    return black if contrast_ratio(background, black) >= contrast_ratio(background, white) \
        else white


def pill_style(background: str) -> str:
    """CSS for a filled label (badge, cache verdict, exit status): ``background`` with
    the readable text color on it."""
    return (f"background:{background};color:{readable_on(background)};border:1px solid "
            f"{background};border-radius:3px;padding:0 4px;font-weight:700")
