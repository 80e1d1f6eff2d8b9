"""Charts render headless with the expected artists; lecture mode enlarges fonts."""

from __future__ import annotations

import io

import matplotlib
import pytest
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


def test_lecture_mode_enlarges_chart_fonts() -> None:
    small = layer_sizes(three_layers()).axes[0].title.get_fontsize()
    lecture_mode()
    try:
        big = layer_sizes(three_layers()).axes[0].title.get_fontsize()
    finally:
        lecture_mode(False)
    assert big == pytest.approx(small * 1.6)
    lecture_mode()
    try:  # the figure grows with its fonts, so the layout stays the same
        size = stack_diagram(three_layers()).get_size_inches()
    finally:
        lecture_mode(False)
    assert list(size) == pytest.approx([x * 1.6 for x in stack_diagram(three_layers())
                                        .get_size_inches()])
    assert matplotlib.rcParams["font.size"] == matplotlib.rcParamsDefault["font.size"]


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


def _overlaps(fig: object) -> list[tuple[str, str]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # type: ignore[arg-type]
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [t for ax in fig.axes for t in ax.texts if t.get_text()]  # type: ignore[attr-defined]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:]
            if box_a.overlaps(box_b)]


@pytest.mark.parametrize("lecture", [False, True])
def test_no_text_overlaps_in_the_stack_diagram_and_layer_sizes(lecture: bool) -> None:
    long = Layer.from_dict({"/etc/motd": "v9\n"},
                           created_by="RUN apt-get update && apt-get install -y curl git")
    image = three_layers().add_layer(long)
    lecture_mode(lecture)
    try:
        figs = [stack_diagram(image, trace="/etc/motd"), stack_diagram(image, trace="/f"),
                layer_sizes(image)]
    finally:
        lecture_mode(False)
    for fig in figs:
        assert _overlaps(fig) == []
