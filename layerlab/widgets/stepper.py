"""BuildStepper: step through a Dockerfile build one instruction at a time.

Next runs one instruction and shows what happened: a cache hit or miss and why, and the
new layer (or "empty layer" for a metadata step) with the paths it adds, changes and
deletes. Run all finishes the build. Edit the Dockerfile in the text box and press
Reset: the next build uses the same :class:`~layerlab.build.BuildCache`, so the steps
above the edit hit the cache and every step from the edited one on misses.

>>> from layerlab.widgets import BuildStepper
>>> stepper = BuildStepper("FROM layerlab/tiny\\nRUN echo hi > /hi.txt\\n")
>>> stepper.run_all()
>>> [step.cache for step in stepper.steps]
['none', 'miss']
>>> stepper.reset(); stepper.run_all()
>>> [step.cache for step in stepper.steps]
['none', 'hit']
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator, Mapping
from typing import Any

import ipywidgets as W

from ..build import Builder, BuildStep
from ..build.cache import BuildCache
from ..errors import LayerlabError
from ..image import Image
from ..views.palette import OKABE_ITO, pill_style
from ._base import MONO, StaticFallback, badge, mono_css

__all__ = ["BuildStepper"]

_CACHE_COLORS = {"hit": OKABE_ITO["bluish_green"], "miss": OKABE_ITO["orange"],
                 "none": "#5f6b7a"}
MAX_PATHS = 12


class BuildStepper(StaticFallback, W.VBox):  # type: ignore[misc]
    """Step through a build (see the module docstring). ``dockerfile`` is the text (or a
    path), ``context`` the directory COPY/ADD read; other keywords go to
    :class:`~layerlab.build.Builder` (``images``, ``build_args``, ``no_cache``...)."""

    def __init__(self, dockerfile: str | os.PathLike[str], context: str | os.PathLike[str]
                 | None = None, *, cache: BuildCache | None = None,
                 images: Mapping[str, Image] | None = None, **options: Any) -> None:
        if isinstance(dockerfile, os.PathLike) or (
                "\n" not in dockerfile and os.path.isfile(dockerfile)):
            with open(dockerfile, encoding="utf-8") as f:
                dockerfile = f.read()
        self.context = context
        self.cache = cache if cache is not None else BuildCache()
        self.images = dict(images or {})
        self.options = options
        self.steps: list[BuildStep] = []
        self.builds = 0
        self.error = ""
        self.builder: Builder | None = None
        self._iter: Iterator[BuildStep] | None = None
        self.editor = W.Textarea(value=dockerfile, description="Dockerfile",
                                 layout=W.Layout(width="100%", height="10em"))
        self.next_button = W.Button(description="next", button_style="primary",
                                    tooltip="run the next instruction")
        self.run_button = W.Button(description="run all", tooltip="run every remaining step")
        self.reset_button = W.Button(description="reset", tooltip="start a new build from the "
                                     "text above, with the same build cache")
        self.progress = W.HTML()
        self.table = W.HTML()
        self.current = W.HTML()
        self.next_button.on_click(lambda _: self.next())
        self.run_button.on_click(lambda _: self.run_all())
        self.reset_button.on_click(lambda _: self.reset())
        super().__init__([
            W.HTML(mono_css()),
            self.editor,
            W.HBox([self.next_button, self.run_button, self.reset_button, self.progress]),
            self.table,
            self.current,
        ])
        self.editor.add_class(MONO)
        self.add_class("layerlab-stepper")
        self.reset()

    def __repr__(self) -> str:
        total = self._total()
        return (f"<BuildStepper: step {len(self.steps)}/{total}, build {self.builds}, "
                f"{len(self.cache)} cache entries>")

    def static_html(self) -> str:
        rows = "".join(f"<div>{html.escape(str(s))}</div>" for s in self.steps)
        text = html.escape(self.editor.value)
        image = self.image._repr_html_() if self.image is not None else ""
        return f"<pre>{text}</pre>{rows}{image}"

    # --- state ---------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True when the build finished (or failed)."""
        return self._iter is None

    @property
    def image(self) -> Image | None:
        """The image the build produced, once every step ran."""
        return self.builder.image if self.builder is not None else None

    def _total(self) -> int:
        return len(self.builder.dockerfile.instructions) if self.builder is not None else 0

    # --- actions -------------------------------------------------------------------------
    def reset(self) -> None:
        """Start a new build of the editor's text, keeping the build cache."""
        if self._iter is not None:
            self._iter.close()  # type: ignore[attr-defined]
        self.steps = []
        self.error = ""
        self._iter = None
        try:
            self.builder = Builder(self.editor.value, self.context, cache=self.cache,
                                   images=self.images, **self.options)
        except LayerlabError as exc:
            self.builder = None
            self.error = str(exc)
        else:
            self._iter = self.builder.steps()
            self.builds += 1
        self._render()

    def next(self) -> BuildStep | None:
        """Run the next instruction; ``None`` when the build is over (or failed)."""
        if self._iter is None:
            return None
        try:
            step = next(self._iter)
        except StopIteration:
            self._iter = None
            self._render()
            return None
        except LayerlabError as exc:
            self._iter = None
            self.error = str(exc)
            self._render()
            return None
        self.steps.append(step)
        if len(self.steps) == self._total():
            self.next_quietly()
        self._render()
        return step

    def next_quietly(self) -> None:
        """Finish the generator after the last step (it sets the builder's image)."""
        if self._iter is None:
            return
        try:
            next(self._iter)
        except StopIteration:
            self._iter = None
        except LayerlabError as exc:
            self._iter = None
            self.error = str(exc)

    def run_all(self) -> None:
        """Run every remaining step."""
        while self.next() is not None:
            pass

    # --- rendering -----------------------------------------------------------------------
    def _render(self) -> None:
        total = self._total()
        state = ("failed" if self.error else "finished" if self.done and self.builder
                 else "running")
        image = self.image
        made = f", image <code>{html.escape(image.id[7:19])}</code>" if image is not None else ""
        self.progress.value = (f"build {self.builds}: step {len(self.steps)}/{total} "
                               f"<b>{state}</b>{made}")
        cell = "style='padding:1px 10px 1px 0;text-align:left;vertical-align:top'"
        rows = []
        for step in self.steps:
            color = _CACHE_COLORS.get(step.cache, "#5f6b7a")
            cache = step.cache if step.cache != "none" else "—"
            layer = ("empty layer" if step.layer is None and step.cache != "none"
                     else "" if step.layer is None
                     else f"<code>{html.escape(step.layer.short_id)}</code> {step.size:,} B")
            rows.append(
                f"<tr class='layerlab-step-{html.escape(step.cache)}'><td {cell}>{step.index}"
                f"</td><td {cell}><code>{html.escape(step.text)}</code></td>"
                f"<td {cell}><span style='{pill_style(color)}'>{cache}</span></td>"
                f"<td {cell}>{html.escape(step.why)}</td><td {cell}>{layer}</td></tr>")
        pending = self.builder.dockerfile.instructions[len(self.steps):] if self.builder else []
        for ins in pending:
            rows.append(f"<tr style='opacity:0.5'><td {cell}>·</td><td {cell}><code>"
                        f"{html.escape(ins.text)}</code></td><td {cell}></td><td {cell}></td>"
                        f"<td {cell}></td></tr>")
        self.table.value = (
            f"<table style='border-collapse:collapse'><thead><tr><th {cell}>#</th>"
            f"<th {cell}>instruction</th><th {cell}>cache</th><th {cell}>why</th>"
            f"<th {cell}>layer</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
        parts = []
        if self.error:
            parts.append(f"<div><span style='{pill_style(OKABE_ITO['vermillion'])}'>error"
                         "</span> "
                         f"{html.escape(self.error)}</div>")
        if self.steps:
            parts.append(_step_html(self.steps[-1]))
        self.current.value = "".join(parts)


def _step_html(step: BuildStep) -> str:
    out = [f"<div><b>Step {step.index}/{step.total}</b> <code>{html.escape(step.text)}</code>"
           f"</div><div>{html.escape(str(step))}</div>"]
    if step.layer is not None:
        words = {"A": "added", "C": "changed", "D": "deleted"}
        for kind in "ACD":
            paths = step.paths(kind)
            if paths:
                shown = ", ".join(f"<code>{html.escape(p)}</code>" for p in paths[:MAX_PATHS])
                more = f" … and {len(paths) - MAX_PATHS} more" if len(paths) > MAX_PATHS else ""
                out.append(f"<div>{badge(kind, words[kind])} {len(paths)} {words[kind]}: "
                           f"{shown}{more}</div>")
    if step.output:
        out.append(f"<pre style='max-height:8em;overflow:auto;margin:2px 0'>"
                   f"{html.escape(step.output)}</pre>")
    return "".join(out)
