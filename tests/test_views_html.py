"""HTML reprs: content, escaping, truncation, lecture mode; and import laziness."""

from __future__ import annotations

from layerlab import Dir, Image, Layer, Whiteout
from layerlab.views import container_html, image_html, layer_html, lecture_mode, view_html


def image() -> Image:
    return Image.from_layers([
        Layer.from_dict({"/d": Dir(), "/d/a": "a" * 10, "/etc/motd": "hi"},
                        created_by="ADD rootfs /"),
        Layer.from_dict({"/d": Whiteout(), "/x<y>.txt": "1"}, created_by="RUN echo '<script>'"),
    ]).with_config(cmd=["sh", "-c", "echo <b>&"], env=["A=1"])


def test_layer_html() -> None:
    out = layer_html(image().layers[1])
    assert "RUN echo &#x27;&lt;script&gt;&#x27;" in out and "<script>" not in out
    assert "/x&lt;y&gt;.txt" in out and "whiteout" in out
    assert "1 whiteouts, 0 opaque dirs" in out
    assert "<style" not in out and "<link" not in out and "javascript" not in out.lower()


def test_image_html() -> None:
    img = image()
    out = image_html(img)
    assert img.id in out and "2 layers" in out
    assert "sh -c echo &lt;b&gt;&amp;" in out and "A=1" in out
    legacy = img.legacy_layers
    assert legacy[1].id[:12] in out and legacy[0].id[:12] in out
    # top layer first, as docker history
    assert out.index("RUN echo") < out.index("ADD rootfs")


def test_view_html_lists_paths_with_their_layer() -> None:
    out = view_html(image().view())
    assert "View after layer 1 · 3 paths" in out
    assert "/etc/motd" in out and "/x&lt;y&gt;.txt" in out and "/d/a" not in out


def test_long_listings_are_truncated_with_a_count() -> None:
    big = Layer.from_dict({f"/f{i:04d}": "x" for i in range(1260)})
    out = layer_html(big)
    assert "… and 1,235 more" in out
    assert out.count("<tr>") == 1 + 25  # header + MAX_ROWS
    short = layer_html(Layer.from_dict({"/a": "1"}))
    assert "more" not in short


def test_container_html() -> None:
    c = image().create_container(name="web<1>")
    assert "no changes yet" in container_html(c)
    c.write("/etc/motd", "changed")
    c.write("/new", "1")
    out = container_html(c)
    assert "web&lt;1&gt;" in out and "docker diff" in out and "created" in out
    assert out.count(">C</span>") == 2 and out.count(">A</span>") == 1  # /etc, /etc/motd; /new
    c.rm(force=True)
    assert "removed" in container_html(c)


def test_lecture_mode_enlarges_html() -> None:
    assert "font-size:13px" in layer_html(Layer.from_dict({"/a": "1"}))
    lecture_mode(True)
    try:
        assert "font-size:21px" in layer_html(Layer.from_dict({"/a": "1"}))
    finally:
        lecture_mode(False)

