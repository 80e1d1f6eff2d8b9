"""Multi-stage builds: FROM AS, COPY --from=stage|index|image, --target, skipped stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab import Image, Layer
from layerlab.build import Builder, BuildError, DockerfileError, base_image, build, history
from layerlab.entry import Dir, File, Symlink

MULTI = """\
ARG BASE=layerlab/tiny
FROM $BASE AS build
RUN mkdir -p /out && echo binary > /out/app && echo junk > /out/junk && \\
    echo cache > /var/tmp/big-build-cache
FROM layerlab/tiny AS tests
RUN echo testing > /tested
FROM scratch AS final
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
"""


@pytest.mark.parametrize("kind", ["classic", "buildkit"])
def test_only_the_final_stage_layers_are_in_the_image(kind: str) -> None:
    b = Builder(MULTI, builder=kind)
    img = b.run()
    assert len(img.layers) == 1
    assert sorted(e.path for e in img.view().walk()) == ["/app"]
    assert img.view().read("/app") == b"binary\n"
    # the builder stage's bytes stayed behind, in the stage image only
    builder_stage = b.stage_images[0]
    assert builder_stage.view().read("/var/tmp/big-build-cache") == b"cache\n"
    assert builder_stage.layers[0] == base_image("layerlab/tiny").layers[0]
    assert img.config.entrypoint == ("/app",)


def test_classic_builds_every_stage_buildkit_skips_what_the_target_does_not_need() -> None:
    classic = Builder(MULTI, builder="classic")
    buildkit = Builder(MULTI, builder="buildkit")
    assert [p.built for p in classic.stage_plan] == [True, True, True]
    assert [p.built for p in buildkit.stage_plan] == [True, False, True]
    assert "BuildKit skips it" in buildkit.stage_plan[1].why
    assert "classic builder builds every stage" in classic.stage_plan[1].why
    assert buildkit.stage_plan[0].why == "needed by stage 2 (final): COPY --from=build on line 8"
    buildkit.run()
    assert 1 not in buildkit.stage_images
    assert [s.text for s in buildkit.results if s.stage == 1] == []
    classic.run()
    assert classic.stage_images[1].view().read("/tested") == b"testing\n"
    # same final filesystem either way
    assert classic.image is not None and buildkit.image is not None
    assert classic.image.diff_ids == buildkit.image.diff_ids


def test_target_stops_at_a_stage_and_later_stages_are_never_built() -> None:
    b = Builder(MULTI, target="tests", builder="classic")
    img = b.run()
    assert img.view().read("/tested") == b"testing\n"
    assert [p.built for p in b.stage_plan] == [True, True, False]
    assert "after the target stage 1 (tests)" in b.stage_plan[2].why
    bk = Builder(MULTI, target="tests", builder="buildkit")
    assert [p.built for p in bk.stage_plan] == [False, True, False]
    with pytest.raises(BuildError, match="target stage 'nope' could not be found"):
        Builder(MULTI, target="nope")


def test_copy_from_an_index_an_earlier_stage_used_as_base_and_an_image() -> None:
    other = Image.from_layers([Layer.from_dict({"/etc/other.conf": "x=1\n"})])
    img = build("""\
FROM layerlab/tiny AS one
RUN echo one > /one
FROM one AS two
RUN echo two > /two
FROM scratch
COPY --from=0 /one /from-index
COPY --from=two /one /two /both/
COPY --from=other:1 /etc/other.conf /
COPY --from=layerlab/alpine-like /etc/alpine-release /
""", images={"other:1": other})
    view = img.view()
    assert view.read("/from-index") == b"one\n"
    assert sorted(view.listdir("/both")) == ["one", "two"]
    assert view.read("/other.conf") == b"x=1\n"
    assert view.read("/alpine-release") == b"0.1-layerlab\n"


def test_copy_from_keeps_owners_and_modes_and_follows_the_named_symlink() -> None:
    image = Image.from_layers([Layer.from_dict({
        "/srv": Dir(uid=1000, gid=1000),
        "/srv/run.sh": File(b"#!/bin/sh\n", mode=0o750, uid=1000, gid=1000),
        "/srv/link": Symlink("run.sh"),
        "/current": Symlink("srv"),
    })])
    img = build("FROM scratch\nCOPY --from=src /current /copy\n", images={"src": image})
    view = img.view()
    run = view.stat("/copy/run.sh")
    assert (run.mode, run.uid, run.gid) == (0o750, 1000, 1000)
    assert view.stat("/copy").is_dir and view.readlink("/copy/link") == "run.sh"
    with pytest.raises(BuildError, match="not found in image 'src'"):
        build("FROM scratch\nCOPY --from=src /missing /x\n", images={"src": image})


def test_problems_anywhere_are_found_before_step_1_runs(tmp_path: Path) -> None:
    ran: list[int] = []
    broken = "FROM layerlab/tiny\nRUN echo first > /f\nBOGUS line three\n"
    with pytest.raises(DockerfileError) as info:
        build(broken, on_step=lambda s: ran.append(s.index))
    assert info.value.line == 3 and ran == []
    for text, message in [
        ("FROM layerlab/tiny\nRUN echo 1\nFROM nowhere/image\n", "base image 'nowhere/image'"),
        ("FROM layerlab/tiny\nRUN echo 1\nCOPY --from=ghost /a /b\n", "COPY --from 'ghost'"),
        ("FROM layerlab/tiny\nRUN echo 1\nADD https://example.com/x.tgz /\n", "offline"),
    ]:
        with pytest.raises((BuildError, DockerfileError), match=message.split("'")[0]):
            Builder(text).run(lambda s: ran.append(s.index))
        assert ran == [], text


def test_history_classic_next_to_buildkit() -> None:
    df = ("FROM layerlab/tiny\nENV A=1\nWORKDIR /app\nRUN echo hi > f\n"
          "COPY --from=layerlab/tiny /etc/hostname .\n")
    classic = build(df, builder="classic")
    buildkit = build(df, builder="buildkit")
    c_rows = [r.created_by for r in history(classic)][:4]
    b_rows = [(r.created_by, r.comment) for r in history(buildkit)][:4]
    assert c_rows == [
        "/bin/sh -c #(nop) COPY file:" + c_rows[0].split("file:")[1],
        "/bin/sh -c echo hi > f",
        "/bin/sh -c #(nop) WORKDIR /app",
        "/bin/sh -c #(nop)  ENV A=1",
    ]
    assert b_rows == [
        ("COPY --from=layerlab/tiny /etc/hostname . # buildkit", "buildkit.dockerfile.v0"),
        ("RUN /bin/sh -c echo hi > f # buildkit", "buildkit.dockerfile.v0"),
        ("WORKDIR /app", "buildkit.dockerfile.v0"),
        ("ENV A=1", "buildkit.dockerfile.v0"),
    ]
    assert classic.diff_ids[:1] == buildkit.diff_ids[:1]
    assert len(classic.layers) == len(buildkit.layers) == 4


def test_compare_builders_puts_the_two_histories_side_by_side() -> None:
    from layerlab.build import compare_builders
    from layerlab.views.tables import builders_table

    rows = compare_builders(MULTI)
    by_line = {r.line: r for r in rows}
    assert by_line[6].buildkit_layer == "skipped" and by_line[6].classic_layer.startswith(
        "layer ")
    assert not by_line[3].in_final_image and by_line[3].classic_image == ""
    copy = by_line[8]
    assert copy.in_final_image and copy.buildkit_image == "<missing>"
    assert copy.classic_image not in ("", "<missing>")
    top = by_line[9]
    assert top.buildkit_image == build(MULTI, builder="buildkit").id[7:19]
    assert top.classic_image == build(MULTI).id[7:19]
    frame = builders_table(rows)
    assert list(frame["line"]) == [r.line for r in rows]
    assert frame.loc[frame["line"] == 8, "buildkit_created_by"].item() == \
        "COPY --from=build /out/app /app # buildkit"
