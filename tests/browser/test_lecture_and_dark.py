"""Lecture mode and the dark theme, in JupyterLab in headless chromium.

A notebook with markdown, code, a pandas table, the kit's HTML repr, a verdict, a chart
and two widgets is opened, its sizes measured, then run with ``lecture_mode()`` in its
first cell: markdown, code, tables and widget text must all be at least 1.5 times larger,
and no output area or button may clip its content. Then the dark theme: the kit's text
(verdicts, badges, widget panels, tables) must reach WCAG AA contrast against what is
really behind it. Screenshots are kept in ``test-artifacts/screenshots/`` (the README
names the path; CI keeps it as an artifact). Skips without chromium or playwright, fails
instead when ``CI=true``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_lab_browser import _browser, lab, run_all_until  # noqa: F401 (lab is a fixture)

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-artifacts" / "screenshots"
SCALE_AT_LEAST = 1.5
AA = 4.5

#: the image every chart cell draws; the test builds it too, to know the charts' font sizes
IMAGE = """\
image = ll.Image.from_layers([
    ll.Layer.from_dict({"/etc/motd": "hello\\n", "/tmp/x": "x" * 3000}, created_by="ADD base /"),
    ll.Layer.from_dict({"/etc/motd": "changed\\n", "/tmp/x": ll.Whiteout()},
                       created_by="RUN change && rm /tmp/x"),
])
"""
#: the charts measured on screen, each drawn in normal and in lecture mode
PAIRS = ("views.layer_sizes(image)", "views.stack_diagram(image, trace='/etc/motd')")
#: window widths: a laptop driving a projector, and a small one
WINDOWS = (1400, 1024)

CELLS = [
    ("markdown", "# A lesson\n\nA paragraph of *markdown* the back row must read."),
    ("code", "from layerlab.views import lecture_mode\nlecture_mode()"),
    ("code", """\
import layerlab as ll
from layerlab import exercises as ex
from layerlab import views
from layerlab.widgets import ContainerPlayground, LayerExplorer

""" + IMAGE + """\
views.layers_table(image)[["index", "created_by", "size"]]"""),
    ("code", "image"),
    ("code", "ex.LayerCount(image).check(3)"),
    ("code", "views.layer_sizes(image)"),
    ("code", "views.stack_diagram(image, trace='/etc/motd')"),
    ("code", "LayerExplorer(image)"),
    ("code", "play = ContainerPlayground(image.create_container(name='demo'))\n"
             "play.run('echo hi > /happy.txt')\nplay.run('no-such-command')\nplay"),
    # last: each measured chart in normal mode, then in lecture mode (its last 4 images)
    ("code", "from IPython.display import display\nlecture_mode(False)\n"
             f"normal = [{', '.join(PAIRS)}]\nlecture_mode(True)\n"
             f"display(*normal, {', '.join(PAIRS)})"),
]

_SIZES_JS = """() => {
  const px = (sel) => {
    const el = document.querySelector(sel);
    return el ? parseFloat(getComputedStyle(el).fontSize) : null;
  };
  return {
    markdown: px('.jp-MarkdownOutput p'),
    code: px('.jp-CodeCell .cm-content'),
    table: px('.jp-RenderedHTMLCommon td'),
    widget: px('.layerlab-explorer select'),
    input: px('.layerlab-playground input'),
    button: px('.layerlab-playground button'),
  };
}"""

_CLIPPED_JS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('.jp-OutputArea-output, .jupyter-widgets button')) {
    if (el.scrollWidth > el.clientWidth + 2 || el.scrollHeight > el.clientHeight + 2 &&
        el.tagName === 'BUTTON') {
      out.push(el.className + ' ' + (el.innerText || '').slice(0, 40));
    }
  }
  return out;
}"""

_CONTRAST_JS = """(selectors) => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const behind = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const worst = [];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.innerText || !el.innerText.trim()) continue;
      const fg = rgb(getComputedStyle(el).color).slice(0, 3);
      const a = lum(fg), b = lum(behind(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      worst.push([ratio, sel, el.innerText.trim().slice(0, 30)]);
    }
  }
  worst.sort((x, y) => x[0] - y[0]);
  return worst.slice(0, 5);
}"""

KIT_TEXT = [".layerlab-verdict b", ".layerlab-verdict", ".layerlab-playground span[style]",
            ".layerlab-playground .widget-html-content", ".layerlab-explorer .widget-html-content",
            ".jp-RenderedHTMLCommon td", ".jp-MarkdownOutput p"]


_CHART_IMGS_JS = """(n) => Array.from(document.querySelectorAll('.jp-RenderedImage img'))
  .slice(-n).map(i => ({natural: i.naturalWidth, shown: i.getBoundingClientRect().width}))"""


def _chart_fonts() -> list[tuple[float, float, float]]:
    """Per measured chart, drawn here as the notebook draws it: (the smallest text in
    points in normal mode, the same in lecture mode, the figure's dpi)."""
    from _chartcheck import _sizes

    import layerlab as ll
    from layerlab import views
    from layerlab.views import lecture_mode

    space: dict[str, Any] = {"ll": ll, "views": views}
    exec(IMAGE, space)
    out = []
    for expr in PAIRS:
        lecture_mode(False)
        normal = eval(expr, space)
        lecture_mode(True)
        try:
            lecture = eval(expr, space)
        finally:
            lecture_mode(False)
        assert normal.dpi == lecture.dpi
        out.append((_sizes(normal)[0], _sizes(lecture)[0], float(normal.dpi)))
    return out


def _check_chart_text_on_screen(page: Any, width: int, shots: list[Path]) -> None:
    """In a ``width``-px window, each chart's smallest text as the room sees it (points
    at the figure's dpi, times how much JupyterLab shrinks the image) is at least
    :data:`SCALE_AT_LEAST` times larger in lecture mode than in normal mode."""
    page.set_viewport_size({"width": width, "height": 1000})
    page.wait_for_timeout(500)
    imgs = page.locator(".jp-RenderedImage img")
    for i in range(imgs.count() - 2 * len(PAIRS), imgs.count()):
        imgs.nth(i).scroll_into_view_if_needed()
    shown = page.evaluate(_CHART_IMGS_JS, 2 * len(PAIRS))
    normal_imgs, lecture_imgs = shown[: len(PAIRS)], shown[len(PAIRS):]
    for expr, (small_pt, big_pt, dpi), normal, lecture in zip(
            PAIRS, _chart_fonts(), normal_imgs, lecture_imgs, strict=True):
        # the same pixel width, so JupyterLab shrinks both alike (or neither)
        assert lecture["natural"] == normal["natural"], (expr, normal, lecture)
        small_px = small_pt * dpi / 72 * normal["shown"] / normal["natural"]
        big_px = big_pt * dpi / 72 * lecture["shown"] / lecture["natural"]
        print(f"{width}-px window, {expr}: smallest text {small_px:.1f} px normal, "
              f"{big_px:.1f} px lecture (image {lecture['natural']} px shown at "
              f"{lecture['shown']:.0f} px)")
        assert big_px >= SCALE_AT_LEAST * small_px, (width, expr, small_px, big_px)
    imgs.nth(imgs.count() - 1).scroll_into_view_if_needed()
    shots.append(SHOTS / f"lecture-charts-{width}.png")
    page.screenshot(path=str(shots[-1]))


def _notebook() -> dict[str, Any]:
    cells = []
    for i, (kind, source) in enumerate(CELLS):
        cell: dict[str, Any] = {"cell_type": kind, "id": f"c{i}", "metadata": {},
                                "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"}}}


def _run_all(page: Any) -> None:
    run_all_until(page, ".layerlab-playground .layerlab-diff-line")
    page.wait_for_function("() => Array.from(document.querySelectorAll('.jp-RenderedImage img'))"
                           ".filter(i => i.complete && i.naturalWidth > 0).length >= "
                           f"{2 + 2 * len(PAIRS)}")


@pytest.mark.reference
def test_lecture_mode_scales_everything_and_the_dark_theme_reads(
        lab: tuple[str, str], tmp_path: Path) -> None:  # noqa: F811
    base, token = lab
    (tmp_path / "root" / "lecture.ipynb").write_text(json.dumps(_notebook(), indent=1))
    SHOTS.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with _browser(shots, SHOTS) as page:
        page.goto(f"{base}/lab/tree/lecture.ipynb?token={token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-MarkdownOutput p")
        page.wait_for_function("() => window.jupyterapp !== undefined")
        before = page.evaluate(_SIZES_JS)
        _run_all(page)
        page.wait_for_selector(".layerlab-lecture-note")
        after = page.evaluate(_SIZES_JS)
        # JupyterLab's own sizes for what the fresh page had no element of yet
        defaults = {"table": 12.0, "widget": 13.0, "input": 13.0, "button": 13.0}
        for key, size in after.items():
            base_size = before.get(key) or defaults[key]
            assert size is not None and size >= SCALE_AT_LEAST * base_size, (key, before, after)
        assert page.evaluate(_CLIPPED_JS) == []
        shots.append(SHOTS / "lecture-light.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
        for width in WINDOWS:
            _check_chart_text_on_screen(page, width, shots)
        page.set_viewport_size({"width": WINDOWS[0], "height": 1000})

        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', "
                      "{theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        page.wait_for_timeout(500)
        worst = page.evaluate(_CONTRAST_JS, KIT_TEXT)
        assert worst and worst[0][0] >= AA, worst
        assert page.evaluate(_CLIPPED_JS) == []
        shots.append(SHOTS / "lecture-dark.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
        for name in ("layerlab-playground", "layerlab-explorer", "layerlab-verdict"):
            page.locator(f".{name}").first.scroll_into_view_if_needed()
            shots.append(SHOTS / f"lecture-dark-{name.removeprefix('layerlab-')}.png")
            page.locator(f".{name}").first.screenshot(path=str(shots[-1]))
        charts = page.locator(".jp-RenderedImage img")
        for i in range(charts.count()):  # a chart brings its own white background
            charts.nth(i).scroll_into_view_if_needed()
            shots.append(SHOTS / f"lecture-dark-chart-{i}.png")
            charts.nth(i).screenshot(path=str(shots[-1]))
