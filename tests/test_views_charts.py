"""Charts render headless with the expected artists; lecture mode enlarges fonts."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from _chartcheck import _clipped, _overlaps, _rendered_px, _sizes
from _images import three_layers

from layerlab import Image, Layer, Whiteout
from layerlab.views import (
    efficiency_chart,
    layer_sizes,
    lecture_mode,
    sharing_chart,
    stack_diagram,
)


def png(fig: object) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40, metadata={"Software": None})  # type: ignore[attr-defined]
    return buf.getvalue()


def gids(fig: object) -> list[str]:
    ax = fig.axes[0]  # type: ignore[attr-defined]
    return sorted(p.get_gid() for p in ax.patches if p.get_gid())


def texts(fig: object) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]  # type: ignore[attr-defined]


def test_stack_diagram_of_an_image_traces_a_path() -> None:
    fig = stack_diagram(three_layers(), trace="/f")
    # three layer boxes, parent arrows from layers 1 and 2, the view box, the trace arrow
    assert gids(fig) == ["layer-0", "layer-1", "layer-2", "parent-1", "parent-2", "trace", "view"]
    t = texts(fig)
    # /f comes from layer 2 and hides the copies of layers 0 and 1
    assert "hides /f: replaced by layer 1" in t and "hides /f: replaced by layer 2" in t
    assert "M /f" in t and "unified view · 2 paths" in t
    boxes = {p.get_gid(): p for p in fig.axes[0].patches}
    assert boxes["layer-2"].get_linewidth() == 3.0 and boxes["layer-0"].get_hatch() == "xx"
    assert png(fig).startswith(b"\x89PNG")


def test_stack_diagram_of_a_deleted_path_and_a_container() -> None:
    fig = stack_diagram(three_layers(), trace="/d/a")
    assert "trace" not in gids(fig)
    assert "/d/a is not in the view: whiteout by layer 1" in texts(fig)
    c = three_layers().create_container(name="c")
    c.write("/g", "changed")
    fig = stack_diagram(c, trace="/g")
    assert "layer-3" in gids(fig) and "parent-3" in gids(fig)  # the read-write layer on top
    assert any(s.startswith("read-write layer · ") for s in texts(fig))
    assert "← rw" in texts(fig)


def test_stack_diagram_is_deterministic() -> None:
    assert png(stack_diagram(three_layers(), trace="/g")) == png(
        stack_diagram(three_layers(), trace="/g"))


def test_layer_sizes_bars_and_cumulative_line() -> None:
    fig = layer_sizes(three_layers())
    ax = fig.axes[0]
    # stored bytes 170, 200, 100: visible [0, 100, 100], hidden by a later layer [170, 100, 0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == [0, 100, 100, 170, 100, 0]
    assert [str(p.get_hatch() or "") for p in ax.patches[::3]] == ["", "xx"]
    (line,) = ax.lines
    assert list(line.get_ydata()) == [170, 370, 470]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["image size so far", "still in the final view",
                      "hidden by a later layer (still stored here)"]
    notes = {t.get_gid(): t.get_text() for t in ax.texts}
    assert notes["size-1"] == "200 Bytes\n1 whiteout"


def test_a_layer_that_only_deletes_draws_no_bar() -> None:
    big = Layer.from_dict({"/big": "x" * 5000, "/keep": "k"}, created_by="/bin/sh -c apt-get "
                          "update && apt-get install -y git")
    rm = Layer.from_dict({"/big": Whiteout()}, created_by="/bin/sh -c apt-get clean && rm x")
    fig = layer_sizes(Image.from_layers([big, rm]))
    ax = fig.axes[0]
    bars = [(p.get_x() + p.get_width() / 2, p.get_height()) for p in ax.patches]
    assert sum(h for x, h in bars if round(x) == 1) == 0  # 0 B stored, nothing drawn
    assert [h for x, h in bars if round(x) == 0] == [1, 5000]  # the hidden bytes sit below
    notes = {t.get_gid(): t.get_text() for t in ax.texts}
    assert notes["size-1"] == "0 Bytes\n1 whiteout" and notes["size-0"] == "5.0 kB"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[0] != ticks[1] and ticks[0].startswith("0\nRUN apt-get")
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_yticklabels()][-1].endswith("kB")


def test_sharing_chart() -> None:
    img = three_layers()
    a = Image.from_layers(img.layers[:2])
    fig = sharing_chart({"b": a.add_layer(Layer.from_dict({"/z": "zz"})), "a": a})
    left, right = fig.axes
    assert len(left.images) == 1
    assert [t.get_text() for t in left.texts] == ["x"] * 5  # a uses 2 layers, b uses 3
    assert [t.get_text() for t in left.get_yticklabels()] == ["a", "b"]
    assert sum(t.get_text().endswith("*") for t in left.get_xticklabels()) == 2
    # shared then unique bars for a, b: shared 370, 370; unique 0, 2
    assert [p.get_width() for p in right.patches] == [370, 370, 0, 2]


def test_efficiency_chart() -> None:
    fig = efficiency_chart(three_layers())
    ax = fig.axes[0]
    # 5 rows (/f /g /d/b /d/a /d): dive's bars then reclaimable bars
    widths = [p.get_width() for p in ax.patches]
    assert widths == [300, 140, 0, 0, 0, 200, 40, 20, 10, 0]
    assert ax.get_title().startswith("efficiency 40.0% (dive)")
    assert "reclaimable 270 Bytes" in ax.get_title()
    empty = efficiency_chart(Image.from_layers([Layer.from_dict({"/a": "1"})]))
    assert "no duplicated or hidden bytes" in texts(empty)


def test_figures_show_themselves_as_png() -> None:
    fig = layer_sizes(three_layers())
    assert fig._repr_png_().startswith(b"\x89PNG")  # type: ignore[attr-defined]


def test_efficiency_chart_keeps_the_end_of_long_paths() -> None:
    base = Layer.from_dict({f"/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_{n}": "x"
                            * 100 for n in ("main_Packages", "contrib_Packages")})
    rm = Layer.from_dict({"/var/lib/apt/lists": Whiteout()})
    fig = efficiency_chart(Image.from_layers([base, rm]))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(set(labels)) == len(labels) == 2
    assert all(label.replace("\n", "").endswith("_Packages") for label in labels)


# --- layout: what a room reads, in both modes ------------------------------------------------


def _both(draw: Any) -> tuple[Any, Any]:
    lecture_mode(False)
    normal = draw()
    lecture_mode()
    try:
        return normal, draw()
    finally:
        lecture_mode(False)


def _check_pair(name: str, normal: Any, lecture: Any) -> None:
    """Same pixel width; every text at least 1.5x (smallest and median); no overlap, no
    clipping in either mode."""
    assert normal.get_size_inches()[0] == lecture.get_size_inches()[0], name
    assert normal.dpi == lecture.dpi, name
    small, big = _sizes(normal), _sizes(lecture)
    assert big[0] >= 1.5 * small[0], (name, small[0], big[0])
    assert big[len(big) // 2] >= 1.5 * small[len(small) // 2], name
    # and as the renderer draws them, in pixels
    small_px, big_px = _rendered_px(normal), _rendered_px(lecture)
    assert big_px[0] >= 1.5 * small_px[0], (name, small_px[0], big_px[0])
    assert big_px[len(big_px) // 2] >= 1.5 * small_px[len(small_px) // 2], name
    for mode, fig in (("normal", normal), ("lecture", lecture)):
        assert _overlaps(fig) == [], (name, mode)
        assert _clipped(fig) == [], (name, mode)


def _fixture_charts() -> dict[str, Any]:
    long = Layer.from_dict({"/etc/motd": "v9\n"},
                           created_by="RUN apt-get update && apt-get install -y curl git")
    image = three_layers().add_layer(long)
    container = three_layers().create_container(name="c")
    container.write("/g", "changed")
    a = Image.from_layers(three_layers().layers[:2])
    return {
        "stack /etc/motd": lambda: stack_diagram(image, trace="/etc/motd"),
        "stack /f": lambda: stack_diagram(image, trace="/f"),
        "stack deleted": lambda: stack_diagram(image, trace="/d/a"),
        "stack container": lambda: stack_diagram(container, trace="/g"),
        "sizes": lambda: layer_sizes(image),
        "efficiency": lambda: efficiency_chart(image),
        "stack scratch": lambda: stack_diagram(Image.scratch()),
        "stack scratch container": lambda: stack_diagram(
            Image.scratch().create_container(name="empty")),
        "sharing": lambda: sharing_chart({"b": a.add_layer(Layer.from_dict({"/z": "zz"})),
                                          "a": a}),
    }


@pytest.mark.parametrize("name", list(_fixture_charts()))
def test_lecture_mode_is_bigger_text_at_the_same_width_without_overlap(name: str) -> None:
    _check_pair(name, *_both(_fixture_charts()[name]))
    assert matplotlib.rcParams["font.size"] == matplotlib.rcParamsDefault["font.size"]


CHARTS = ("stack_diagram", "layer_sizes", "sharing_chart", "efficiency_chart", "size_chart")
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _notebook_charts() -> list[tuple[str, Any, Any]]:
    """Every chart the notebooks draw: each notebook that calls a chart function is run
    (real mode off) in this process up to its last chart, and each call draws
    its chart twice, in normal and in lecture mode, with the objects as they are then."""
    import os

    import layerlab.views as views_pkg
    from layerlab.views import charts, sizes

    drawn: list[tuple[str, Any, Any]] = []
    originals = {name: getattr(charts if hasattr(charts, name) else sizes, name)
                 for name in CHARTS}

    def recorder(nb: str, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            normal, lecture = _both(lambda: originals[name](*args, **kwargs))
            drawn.append((f"{nb}: {name}", normal, lecture))
            return normal
        return call

    saved_env = os.environ.get("LAYERLAB_REAL_MODE")
    os.environ["LAYERLAB_REAL_MODE"] = "off"
    cwd = os.getcwd()
    try:
        os.chdir(NOTEBOOKS)  # the notebooks open data/ relative to themselves
        for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
            cells = [("".join(c["source"]) if isinstance(c["source"], list) else c["source"])
                     for c in json.loads(path.read_text())["cells"]
                     if c["cell_type"] == "code"]
            last = max((i for i, src in enumerate(cells)
                        if any(f"{name}(" in src for name in CHARTS)), default=None)
            if last is None:
                continue
            for name in CHARTS:
                patched = recorder(path.stem, name)
                for module in (charts, sizes, views_pkg):
                    if hasattr(module, name):
                        setattr(module, name, patched)
            # the cells as a kernel runs them, minus the display (the notebooks use no magics)
            space: dict[str, Any] = {"__name__": "__main__"}
            for i, src in enumerate(cells[: last + 1]):
                exec(compile(src, f"{path.name}[{i}]", "exec"), space)
    finally:
        os.chdir(cwd)
        for name, fn in originals.items():
            for module in (charts, sizes, views_pkg):
                if hasattr(module, name):
                    setattr(module, name, fn)
        lecture_mode(False)
        if saved_env is None:
            os.environ.pop("LAYERLAB_REAL_MODE", None)
        else:
            os.environ["LAYERLAB_REAL_MODE"] = saved_env
    return drawn


@pytest.fixture(scope="module")
def notebook_charts() -> list[tuple[str, Any, Any]]:
    return _notebook_charts()


def test_every_chart_the_notebooks_draw_reads_in_lecture_mode(
        notebook_charts: list[tuple[str, Any, Any]]) -> None:
    names = {name.split(": ")[1] for name, _, _ in notebook_charts}
    assert names == set(CHARTS)  # each kind is drawn somewhere, so each is checked
    for name, normal, lecture in notebook_charts:
        _check_pair(name, normal, lecture)
