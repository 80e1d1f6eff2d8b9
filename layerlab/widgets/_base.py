"""What every layerlab widget shares: the static fallback and small HTML helpers.

A widget shows itself through the widget manager when a kernel is there. Without one
(nbviewer, GitHub, a notebook opened after the kernel died) the front end falls back to
the next richest type of the display bundle, so every widget adds a ``text/html``
rendering of the object it looks at (the :mod:`layerlab.views.html` repr) next to its
widget view.
"""

from __future__ import annotations

import html
from typing import Any

from ..errors import LayerlabError
from ..views.palette import OKABE_ITO, change_color, pill_style

__all__ = ["LAYER_COLORS", "MONO", "StaticFallback", "badge", "content_html", "layer_color",
           "mono_css"]

#: one color per layer index (cycled); Okabe-Ito, colorblind-safe
LAYER_COLORS = (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["bluish_green"],
                OKABE_ITO["reddish_purple"], OKABE_ITO["sky_blue"], OKABE_ITO["vermillion"],
                OKABE_ITO["yellow"], OKABE_ITO["grey"])
#: bytes of a file the content panes show before "… N more bytes"
MAX_TEXT = 4000
_MAX_HEX = 256


#: CSS class that makes a Select or Textarea monospace (their styles have no font family)
MONO = "layerlab-mono"


def mono_css() -> str:
    """A ``<style>`` block for :data:`MONO`; put it in an HTML widget next to the controls."""
    return (f"<style>.{MONO} select, .{MONO} textarea {{font-family: var(--jp-code-font-family,"
            " monospace); white-space: pre}}</style>")


def layer_color(index: int) -> str:
    """The color of layer ``index`` (grey for -1, "nobody": implied directories)."""
    return LAYER_COLORS[index % len(LAYER_COLORS)] if index >= 0 else OKABE_ITO["grey"]


def badge(letter: str, title: str = "") -> str:
    """A one-letter change mark (A, M, C, D, O) in its palette color."""
    color = change_color(letter)
    return (f'<span title="{html.escape(title)}" style="display:inline-block;min-width:1.2em;'
            f'text-align:center;font-weight:700;{pill_style(color)};'
            f'border-radius:3px;padding:0 2px;font-family:monospace">{html.escape(letter)}'
            "</span>")


def content_html(data: bytes) -> str:
    """File content as a scrollable ``<pre>``: text when it is UTF-8, else a hex dump."""
    try:
        text = data[:MAX_TEXT].decode("utf-8")
        shown = min(len(data), MAX_TEXT)
        if "\0" in text:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte: binary")
    except UnicodeDecodeError:
        chunk = data[:_MAX_HEX]
        text = "\n".join(
            f"{i:08x}  " + " ".join(f"{b:02x}" for b in chunk[i:i + 16])
            for i in range(0, len(chunk), 16))
        shown = len(chunk)
        kind = "binary, hex"
    else:
        kind = "text"
    more = (f"<div style='opacity:0.75'>… {len(data) - shown:,} more bytes</div>"
            if len(data) > shown else "")
    return (f"<div style='opacity:0.75'>{kind}, {len(data):,} bytes</div>"
            f"<pre style='max-height:14em;overflow:auto;margin:4px 0'>{html.escape(text)}</pre>"
            f"{more}")


class StaticFallback:
    """Mixin for widgets: add a ``text/html`` static rendering to the display bundle.

    Subclasses implement :meth:`static_html`. The widget view stays the preferred type
    (front ends with a widget manager rank it first); the HTML is what is left without one.
    """

    def static_html(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        try:
            data["text/html"] = self.static_html()
        except (LayerlabError, OSError) as exc:  # e.g. a store directory removed meanwhile
            data["text/html"] = f"<pre>{html.escape(repr(self))}: {html.escape(str(exc))}</pre>"
        return data
