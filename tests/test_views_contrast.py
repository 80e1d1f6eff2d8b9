"""Text in the widgets and reprs meets WCAG AA contrast, in light and dark themes.

Every ``color:`` the kit writes into its HTML either comes with its own ``background:``
(a filled badge or pill, which then reads the same on any page), and the pair must reach
4.5:1, or it must reach 4.5:1 on both a white and a dark page. Meaning never rests on the
color alone: each pill carries a word or a letter.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import layerlab as ll
from layerlab import exercises as ex
from layerlab.views import html as vhtml
from layerlab.views.palette import (
    CHANGE_STYLE,
    OKABE_ITO,
    VERDICT_STYLE,
    contrast_ratio,
    readable_on,
)
from layerlab.widgets import BuildStepper, ContainerPlayground, LayerExplorer

AA = 4.5
DARK = "#111111"
STYLE = re.compile(r"style=['\"]([^'\"]*)['\"]")
COLOR = re.compile(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{6})")
BACKGROUND = re.compile(r"background:\s*(#[0-9a-fA-F]{6})")


def _pairs(markup: str) -> list[tuple[str, str | None]]:
    out = []
    for style in STYLE.findall(markup):
        fg = COLOR.search(style)
        if fg:
            bg = BACKGROUND.search(style)
            out.append((fg.group(1), bg.group(1) if bg else None))
    return out


def _assert_readable(markup: str, where: str) -> None:
    pairs = _pairs(markup)
    for fg, bg in pairs:
        if bg is not None:
            assert contrast_ratio(fg, bg) >= AA, f"{where}: {fg} on {bg}"
        else:
            for page in ("#ffffff", DARK):
                assert contrast_ratio(fg, page) >= AA, f"{where}: {fg} text on a {page} page"


@pytest.mark.parametrize("color", sorted({*OKABE_ITO.values(), *CHANGE_STYLE.values()}))
def test_every_palette_color_has_a_readable_text_color(color: str) -> None:
    assert contrast_ratio(readable_on(color), color) >= AA


def test_verdict_badges() -> None:
    for bg, _mark, word in VERDICT_STYLE.values():
        assert contrast_ratio("#ffffff", bg) >= AA, word
    img = ll.Image.from_layers([ll.Layer.from_dict({"/a": "1"})])
    q = ex.LayerCount(img)
    for answer in (1, 2, ...):
        markup = q.check(answer)._repr_html_()
        _assert_readable(markup, f"verdict for {answer!r}")
        assert any(w in markup for w in ("Correct", "Not quite", "Not answered")), markup


def test_orange_text_on_white_is_caught() -> None:
    with pytest.raises(AssertionError):
        _assert_readable("<b style='color:#E69F00'>M</b>", "example")


def test_widgets_and_reprs(tmp_path: Path) -> None:
    base = ll.Layer.from_dict({"/etc/motd": "hi\n", "/etc/conf.d/a": "1", "/tmp/x": "x"},
                              created_by="ADD / /")
    top = ll.Layer.from_dict({"/etc/motd": "v2\n", "/tmp/x": ll.Whiteout(),
                              "/etc/conf.d": ll.Opaque()}, created_by="RUN x")
    image = ll.Image.from_layers([base, top], config={"cmd": ["sleep", "infinity"]})
    explorer = LayerExplorer(image)
    _assert_readable(explorer.strip.value + explorer.layer_info.value, "explorer")
    play = ContainerPlayground(image.create_container(name="contrast"))
    play.run("echo hi >> /etc/motd")
    play.run("no-such-command")
    play.lifecycle("stop")
    play.run("ls")  # refused: stopped
    for part in (play.output, play.status, play.copy_ups, play.rw_layer, play.diff,
                 play.state, play.processes):
        _assert_readable(part.value, "playground")
    (tmp_path / "app.py").write_text("1\n")
    stepper = BuildStepper("FROM layerlab/tiny\nENV A=1\nCOPY app.py /\n", tmp_path)
    stepper.run_all()
    stepper.reset()  # a second build: hits
    stepper.run_all()
    _assert_readable(stepper.table.value + stepper.current.value, "stepper")
    for markup in (vhtml.image_html(image), vhtml.layer_html(top),
                   vhtml.view_html(image.view())):
        _assert_readable(markup, "repr")


def test_the_transcript_keeps_the_newest_output_in_sight() -> None:
    image = ll.Image.from_layers([ll.Layer.from_dict({"/a": "1"})])
    play = ContainerPlayground(image.create_container(name="scroll"))
    for i in range(20):
        play.run(f"echo line{i}")
    markup = play.output.value
    # a column-reverse scroll box starts scrolled to its end: the last command is visible
    assert "flex-direction:column-reverse" in markup and "overflow:auto" in markup
    assert markup.rindex("line19") > markup.rindex("line0")
