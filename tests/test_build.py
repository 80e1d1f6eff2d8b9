"""Builds: steps, empty layers, COPY/ADD, the cache and its reasons, history, determinism."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from layerlab import File, Image, Layer
from layerlab.build import (
    BuildCache,
    Builder,
    BuildError,
    ContextEscapeError,
    DockerfileError,
    base_image,
    build,
    history,
)
from layerlab.errors import UnsafePathError
from layerlab.tarstream import compress

TINY = "FROM layerlab/tiny\n"


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a\n")
    (tmp_path / "src" / "sub").mkdir()
    (tmp_path / "src" / "sub" / "b.txt").write_text("b\n")
    (tmp_path / "src" / "link").symlink_to("a.txt")
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(tmp_path / "run.sh", 0o755)
    return tmp_path


# --- metadata-only steps ------------------------------------------------------------------

def test_metadata_steps_make_empty_layers_recorded_like_docker() -> None:
    b = Builder(TINY + 'ARG V=1\nENV A=$V B="x y"\nENV OLD legacy value\nLABEL k=v\n'
                'EXPOSE 80 53/udp 8000-8001\nUSER nobody\nENTRYPOINT ["python"]\nCMD app.py\n')
    steps = list(b.steps())
    assert [s.empty_layer for s in steps[1:]] == [True] * 8
    assert [s.created_by for s in steps[1:]] == [
        "/bin/sh -c #(nop)  ARG V=1",
        "/bin/sh -c #(nop)  ENV A=1 B=x y",
        "/bin/sh -c #(nop)  ENV OLD=legacy value",
        "/bin/sh -c #(nop)  LABEL k=v",
        "/bin/sh -c #(nop)  EXPOSE 80/tcp 53/udp 8000/tcp 8001/tcp",
        "/bin/sh -c #(nop)  USER nobody",
        '/bin/sh -c #(nop)  ENTRYPOINT ["python"]',
        '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "app.py"]',
    ]
    img = b.image
    assert img is not None and len(img.layers) == 1 and all(s.size == 0 for s in steps)
    cfg = img.config
    assert cfg.env_dict()["A"] == "1" and cfg.env_dict()["B"] == "x y"
    assert cfg.env_dict()["OLD"] == "legacy value" and "V" not in cfg.env_dict()
    assert dict(cfg.labels)["k"] == "v" and cfg.user == "nobody"
    assert cfg.exposed_ports == ("53/udp", "80/tcp", "8000/tcp", "8001/tcp")
    assert cfg.entrypoint == ("python",) and cfg.cmd == ("/bin/sh", "-c", "app.py")
    assert steps[0].cache == "none" and steps[0].text == "FROM layerlab/tiny"


def test_entrypoint_resets_an_inherited_cmd_but_not_one_set_here() -> None:
    assert build(TINY + 'ENTRYPOINT ["x"]\n').config.cmd is None
    assert build(TINY + 'CMD ["y"]\nENTRYPOINT ["x"]\n').config.cmd == ("y",)


def test_workdir_makes_a_layer_only_when_it_creates_the_directory() -> None:
    b = Builder(TINY + "WORKDIR /app\nWORKDIR sub\nWORKDIR /tmp\n")
    steps = list(b.steps())
    assert [s.text for s in steps[1:]] == ["WORKDIR /app", "WORKDIR /app/sub", "WORKDIR /tmp"]
    assert [s.empty_layer for s in steps[1:]] == [False, False, True]
    assert steps[1].paths("A") == ["/app"] and steps[1].size == 0
    assert steps[1].created_by == "/bin/sh -c #(nop) WORKDIR /app"
    assert b.image is not None and b.image.config.workdir == "/tmp"


def test_exposing_a_bad_port_names_the_line() -> None:
    with pytest.raises(DockerfileError, match=r"line 2.*invalid port"):
        build(TINY + "EXPOSE http\n")


# --- FROM and ARG -------------------------------------------------------------------------

def test_from_scratch_images_mapping_and_unknown() -> None:
    assert build("FROM scratch\nENV A=1\n").layers == ()
    mine = Image.from_layers([Layer.from_dict({"/etc/mine": "1\n"})])
    assert build("FROM mine:latest\n", images={"mine": mine}).view().read("/etc/mine") == b"1\n"
    for name in ("layerlab/tiny", "layerlab/alpine-like", "layerlab/debian-like"):
        assert build(f"FROM {name}\n").id == base_image(name).id
    with pytest.raises(BuildError, match=r"'nope' not found.*layerlab/tiny"):
        build("FROM nope\n")


def test_arg_defaults_build_args_and_the_global_scope() -> None:
    text = "ARG BASE=layerlab/tiny\nARG V=1\nFROM $BASE\nARG V\nARG W=w\nENV X=$V-$W-$BASE\n"
    assert build(text).config.env_dict()["X"] == "1-w-"
    b = Builder(text, build_args={"V": "2", "W": "9", "UNUSED": "u"})
    assert b.run().config.env_dict()["X"] == "2-9-"
    assert b.warnings == ["build args not consumed by any ARG: UNUSED"]


# --- COPY and ADD -------------------------------------------------------------------------

def test_copy_files_dirs_wildcards_owner_and_mode(ctx: Path) -> None:
    b = Builder(TINY + "WORKDIR /app\nCOPY --chown=daemon:nogroup app.py .\nCOPY src /opt/src/\n"
                "COPY *.sh /bin/\nCOPY --chmod=600 app.py /secret\n", ctx)
    img = b.run()
    view = img.view()
    app = view.stat("/app/app.py")
    assert (app.uid, app.gid, app.mode, view.read("/app/app.py")) == (1, 65534, 0o644,
                                                                       b"print('hi')\n")
    assert view.listdir("/opt/src") == ["a.txt", "link", "sub"]
    assert view.readlink("/opt/src/link") == "a.txt"
    assert view.read("/opt/src/sub/b.txt") == b"b\n"
    assert view.stat("/bin/run.sh").mode == 0o755 and view.stat("/secret").mode == 0o600
    copy_src = b.results[3]
    assert copy_src.created_by.startswith("/bin/sh -c #(nop) COPY dir:")
    assert copy_src.created_by.endswith(" in /opt/src/ ")
    assert copy_src.paths("A") == ["/opt", "/opt/src", "/opt/src/a.txt", "/opt/src/link",
                                   "/opt/src/sub", "/opt/src/sub/b.txt"]
    assert copy_src.size == 4
    assert b.results[2].paths("C") == ["/app"]  # copied up to add a file to it


def test_copy_to_an_existing_file_is_a_change(ctx: Path) -> None:
    b = Builder(TINY + "COPY app.py /etc/hostname\n", ctx)
    b.run()
    assert b.results[1].paths("C") == ["/etc", "/etc/hostname"]


def test_copy_of_several_sources_needs_a_directory_destination(ctx: Path) -> None:
    with pytest.raises(BuildError, match="must be a directory and end with a /"):
        build(TINY + "COPY app.py run.sh /dst\n", ctx)
    assert build(TINY + "COPY app.py run.sh /dst/\n", ctx).view().listdir("/dst") == [
        "app.py", "run.sh"]


def test_copy_missing_source_or_no_context(ctx: Path) -> None:
    with pytest.raises(BuildError, match=r"step 2 .*'nope\.txt': file not found"):
        build(TINY + "COPY nope.txt /\n", ctx)
    with pytest.raises(BuildError, match="needs a build context"):
        build(TINY + "COPY a /\n")


@pytest.mark.parametrize("source", ["../outside.txt", "src/../../outside.txt",
                                    "/../outside.txt", "escape", "escape_dir/x.txt"])
def test_copy_outside_the_context_is_refused(tmp_path: Path, source: str) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "src").mkdir()
    (tmp_path / "outside.txt").write_text("secret\n")
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir" / "x.txt").write_text("secret\n")
    (context / "escape").symlink_to(tmp_path / "outside.txt")
    (context / "escape_dir").symlink_to(tmp_path / "outdir")
    with pytest.raises(ContextEscapeError, match="forbidden path outside the build context") \
            as info:
        build(TINY + f"COPY {source} /x\n", context)
    assert isinstance(info.value, UnsafePathError) and info.value.line == 2


def test_absolute_sources_are_relative_to_the_context(ctx: Path) -> None:
    assert build(TINY + "COPY /app.py /x\n", ctx).view().read("/x") == b"print('hi')\n"


def _tar(compression: str) -> bytes:
    layer = Layer.from_dict({"/pkg": __import__("layerlab").Dir(mode=0o750),
                             "/pkg/bin/tool": File(b"tool\n", mode=0o755, uid=7, gid=8),
                             "/pkg/tool-link": __import__("layerlab").Symlink("bin/tool")})
    raw = layer.to_tar()
    if compression == "none":
        return raw
    out = io.BytesIO()
    compress(io.BytesIO(raw), out, compression)
    return out.getvalue()


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_add_unpacks_local_tar_archives(tmp_path: Path, compression: str) -> None:
    (tmp_path / "rootfs.tar").write_bytes(_tar(compression))
    view = build(TINY + "ADD rootfs.tar /opt/\n", tmp_path).view()
    tool = view.stat("/opt/pkg/bin/tool")
    assert (view.read("/opt/pkg/bin/tool"), tool.mode, tool.uid, tool.gid) == (
        b"tool\n", 0o755, 7, 8)
    assert view.stat("/opt/pkg").mode == 0o750
    assert view.readlink("/opt/pkg/tool-link") == "bin/tool"
    assert not view.exists("/opt/rootfs.tar")


def test_add_copies_other_files_and_copy_never_unpacks(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("n\n")
    with tarfile.open(tmp_path / "a.tar.gz", "w:gz") as tf:
        info = tarfile.TarInfo("x")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    view = build(TINY + "ADD notes.txt /n.txt\nCOPY a.tar.gz /keep/\n", tmp_path).view()
    assert view.read("/n.txt") == b"n\n"
    assert gzip.decompress(view.read("/keep/a.tar.gz"))[:1] == b"x"


# --- RUN ------------------------------------------------------------------------------------

def test_run_commits_the_containers_changes() -> None:
    b = Builder(TINY + "ARG V=1\nRUN echo $V > /v.txt && rm /etc/hostname\n")
    img = b.run()
    run = b.results[-1]
    assert img.view().read("/v.txt") == b"1\n"
    assert run.created_by == "|1 V=1 /bin/sh -c echo $V > /v.txt && rm /etc/hostname"
    assert run.paths("A") == ["/v.txt"] and run.paths("D") == ["/etc/hostname"]
    assert img.history[-1].created_by == run.created_by and not run.empty_layer


def test_a_failing_run_raises_with_the_status_and_stderr() -> None:
    with pytest.raises(BuildError) as info:
        build(TINY + "ENV A=1\nRUN cat /nope\n")
    err = info.value
    assert (err.step, err.line, err.command, err.exit_code) == (3, 3, "cat /nope", 1)
    assert "nope" in err.stderr and "returned a non-zero code: 1" in str(err)


def test_a_build_arg_change_busts_the_cache_at_the_first_run() -> None:
    cache = BuildCache()
    text = TINY + "ARG V=1\nENV A=1\nRUN echo $V > /v\n"
    build(text, cache=cache)
    b = Builder(text, cache=cache, build_args={"V": "2"})
    b.run()
    assert [s.cache for s in b.results[1:]] == ["hit", "hit", "miss"]


def test_cleanup_in_a_separate_layer_does_not_shrink_the_image() -> None:
    """The classic lesson: files deleted in a later layer still weigh in the earlier one."""
    split = Builder("FROM layerlab/debian-like\nRUN apt-get update && apt-get install -y curl\n"
                    "RUN rm -rf /var/lib/apt/lists/*\n")
    split_img = split.run()
    joined = Builder("FROM layerlab/debian-like\nRUN apt-get update && apt-get install -y curl"
                     " && rm -rf /var/lib/apt/lists/*\n")
    joined_img = joined.run()
    install, cleanup = split.results[1], split.results[2]
    assert install.size > 0 and cleanup.size == 0 and cleanup.paths("D")
    assert sum(layer.size for layer in split_img.layers) > sum(
        layer.size for layer in joined_img.layers)
    assert split_img.view().paths() == joined_img.view().paths()


# --- the cache ------------------------------------------------------------------------------

DOCKERFILE = TINY + "ENV A=1\nWORKDIR /app\nCOPY app.py .\nCOPY src src/\nLABEL done=yes\n"


def _cache_column(context: Path, cache: BuildCache, text: str = DOCKERFILE, **kw: object):
    b = Builder(text, context, cache=cache, **kw)  # type: ignore[arg-type]
    b.run()
    return b, [(s.cache, s.why) for s in b.results[1:]]


def test_rebuilding_unchanged_steps_hits_the_cache(ctx: Path) -> None:
    cache = BuildCache()
    first, rows = _cache_column(ctx, cache)
    assert rows[0] == ("miss", "no cache entry for this parent image")
    assert all(row == ("miss", "previous step missed, so the parent image is new")
               for row in rows[1:])
    second, rows = _cache_column(ctx, cache)
    assert rows == [("hit", "parent + instruction matched")] * 2 + [
        ("hit", "parent + instruction + source checksums matched")] * 2 + [
        ("hit", "parent + instruction matched")]
    assert second.image == first.image
    table = cache.entries()
    assert [r.instruction for r in table] == ["ENV A=1", "WORKDIR /app", "COPY app.py .",
                                               "COPY src src/", "LABEL done=yes"]
    assert [r.hits for r in table] == [1] * 5
    assert table[0].result == "empty layer" and table[2].result.startswith("sha256:")


def test_changing_a_step_invalidates_it_and_every_later_step(ctx: Path) -> None:
    cache = BuildCache()
    _cache_column(ctx, cache)
    _, rows = _cache_column(ctx, cache, DOCKERFILE.replace("ENV A=1", "ENV A=2"))
    assert rows[0] == ("miss", "no cache entry for this parent + instruction")
    assert {r[0] for r in rows[1:]} == {"miss"}
    assert rows[1][1] == "previous step missed, so the parent image is new"


def test_source_content_and_mode_count_but_mtimes_do_not(ctx: Path) -> None:
    cache = BuildCache()
    _cache_column(ctx, cache)
    os.utime(ctx / "app.py", (1, 1))
    os.utime(ctx / "src" / "a.txt", (2, 2))
    _, rows = _cache_column(ctx, cache)
    assert {r[0] for r in rows} == {"hit"}
    (ctx / "app.py").write_text("print('changed')\n")
    _, rows = _cache_column(ctx, cache)
    assert rows[2] == ("miss", "COPY source checksum changed: app.py")
    assert rows[3][0] == "miss"
    os.chmod(ctx / "src" / "sub" / "b.txt", 0o600)
    _, rows = _cache_column(ctx, cache)
    assert rows[2][0] == "hit"
    assert rows[3] == ("miss", "COPY source checksum changed: src/sub/b.txt")


def test_no_cache_bypasses_the_cache_and_builds_the_same_image(ctx: Path) -> None:
    cache = BuildCache()
    first, _ = _cache_column(ctx, cache)
    again, rows = _cache_column(ctx, cache, no_cache=True)
    assert rows == [("miss", "no_cache=True")] * 5
    assert again.image == first.image


def test_steps_are_yielded_one_at_a_time(ctx: Path) -> None:
    b = Builder(DOCKERFILE, ctx)
    steps = b.steps()
    first = next(steps)
    assert first.index == 1 and first.total == 6 and len(b.results) == 1 and b.image is None
    assert str(first).startswith("Step 1/6 : FROM layerlab/tiny --->")
    rest = list(steps)
    assert len(rest) == 5 and b.image is rest[-1].image
    assert str(rest[2]).startswith("Step 4/6 : COPY app.py . ---> Running (")


def test_build_reads_the_context_dockerfile_and_reports_steps(ctx: Path) -> None:
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    seen: list[int] = []
    img = build(context=ctx, on_step=lambda step: seen.append(step.index))
    assert seen == [1, 2, 3, 4, 5, 6] and img.view().exists("/app/src/sub/b.txt")
    assert build(ctx / "Dockerfile", ctx) == img


# --- history and reproducibility ----------------------------------------------------------

def test_history_rows_like_docker_history(ctx: Path) -> None:
    img = build(DOCKERFILE, ctx)
    rows = history(img)
    assert len(rows) == len(img.history) == 7
    assert rows[0].image_id_column == img.id.split(":")[1][:12]
    assert all(r.image_id_column == "<missing>" for r in rows[1:])
    assert [r.empty_layer for r in rows] == [True, False, False, False, True, True, False]
    assert rows[0].created_by == "/bin/sh -c #(nop)  LABEL done=yes"
    assert rows[2].size == len("print('hi')\n") and rows[1].size == 4
    assert rows[-1].created_by.startswith("/bin/sh -c #(nop) ADD file:")
    assert "content" in rows[3].why and "empty layer" in rows[4].why
    assert rows[0].why.startswith("the image itself")
    assert {r.created for r in rows} == {"1970-01-01T00:00:00Z"}
    assert rows[2].diff_id == img.layers[-2].diff_id


def test_source_date_epoch_sets_history_times() -> None:
    img = build(TINY + "ENV A=1\n", source_date_epoch=1700000000)
    assert img.history[-1].created == "2023-11-14T22:13:20Z" and img.created == img.history[
        -1].created


def _context_in(root: Path, stamp: int) -> Path:
    root.mkdir()
    (root / "app.py").write_text("print('hi')\n")
    (root / "src").mkdir()
    (root / "src" / "a.txt").write_text("a\n")
    (root / "src" / "sub").mkdir()
    (root / "src" / "sub" / "b.txt").write_text("b\n")
    for path in [root / "app.py", root / "src" / "a.txt", root / "src" / "sub" / "b.txt",
                 root / "src" / "sub", root / "src"]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.utime(path, (stamp, stamp))
    return root


def test_the_same_build_in_two_places_gives_the_same_digests(tmp_path: Path) -> None:
    one = build(DOCKERFILE, _context_in(tmp_path / "one", 1_000_000))
    two = build(DOCKERFILE, _context_in(tmp_path / "two", 1_900_000_000))
    assert one.id == two.id
    assert [layer.digest for layer in one.layers] == [layer.digest for layer in two.layers]
    code = ("import sys; from layerlab.build import build; "
            "print(build(sys.stdin.read(), sys.argv[1]).id)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "two")], input=DOCKERFILE,
                         capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == one.id
