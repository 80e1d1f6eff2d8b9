"""The rest of Docker's instruction set: config and history as Docker records them."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.build import Builder, BuildError, DockerfileError, build, history

TINY = "FROM layerlab/tiny\n"


def test_volume_stopsignal_healthcheck_shell_maintainer_in_config_and_history() -> None:
    img = build(TINY + 'MAINTAINER Jane <j@example.com>\nVOLUME /data\n'
                'VOLUME ["/logs", "/cache"]\nSTOPSIGNAL SIGQUIT\n'
                "HEALTHCHECK --interval=1m30s --timeout=3s --retries=3 CMD curl -f "
                "http://localhost/ || exit 1\nSHELL [\"/bin/sh\", \"-ec\"]\nCMD run\n")
    cfg = img.config_json()["config"]
    assert sorted(cfg["Volumes"]) == ['/cache', '/data', '/logs']
    assert cfg["StopSignal"] == "SIGQUIT"
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
                                  "Interval": 90_000_000_000, "Timeout": 3_000_000_000,
                                  "Retries": 3}
    assert cfg["Shell"] == ["/bin/sh", "-ec"] and cfg["Cmd"] == ["/bin/sh", "-ec", "run"]
    assert img.author == "Jane <j@example.com>" == img.config_json()["author"]
    rows = [r.created_by for r in history(img)][:7][::-1]
    assert rows == [
        "/bin/sh -c #(nop)  MAINTAINER Jane <j@example.com>",
        "/bin/sh -c #(nop)  VOLUME [/data]",
        "/bin/sh -c #(nop)  VOLUME [/logs /cache]",
        "/bin/sh -c #(nop)  STOPSIGNAL SIGQUIT",
        '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"]'
        ' "1m30s" "3s" "0s" "0s" \'\\x03\'}',
        "/bin/sh -c #(nop)  SHELL [/bin/sh -ec]",
        '/bin/sh -c #(nop)  CMD ["/bin/sh" "-ec" "run"]',
    ]
    assert all(r.empty_layer for r in history(img)[:7])
    none = build(TINY + "HEALTHCHECK NONE\n")
    assert none.config_json()["config"]["Healthcheck"] == {"Test": ["NONE"]}


def test_shell_changes_how_run_is_run_and_recorded() -> None:
    img = build(TINY + 'SHELL ["/bin/sh", "-ec"]\nRUN echo hi > /f\n')
    assert img.history[-1].created_by == "/bin/sh -ec echo hi > /f"
    with pytest.raises(BuildError, match="no shell"):  # a SHELL the image does not have
        build(TINY + 'SHELL ["/bin/zsh", "-c"]\nRUN echo hi\n')


def test_onbuild_triggers_run_in_the_child_after_from_and_are_cleared() -> None:
    parent = build(TINY + "ONBUILD RUN echo triggered > /trig\nONBUILD ENV CHILD=1\n")
    assert parent.config.onbuild == ("RUN echo triggered > /trig", "ENV CHILD=1")
    assert not parent.view().exists("/trig")
    child = Builder("FROM parent\nRUN cat /trig\n", images={"parent": parent})
    img = child.run()
    texts = [s.text for s in child.results]
    assert texts[1:3] == ["# ONBUILD trigger from the base image: RUN echo triggered > /trig",
                          "# ONBUILD trigger from the base image: ENV CHILD=1"]
    assert child.results[-1].output == "triggered\n"
    assert img.config.onbuild == () and img.config.env_dict()["CHILD"] == "1"


def test_heredocs_run_a_script_and_copy_inline_files() -> None:
    img = build(TINY + "ARG WHO=world\nRUN <<EOF\necho one > /one\necho two >> /one\nEOF\n"
                "COPY <<EOF /etc/motd\nhello $WHO\nEOF\n"
                "COPY <<'RAW' /raw\nliteral $WHO\nRAW\n")
    view = img.view()
    assert view.read("/one") == b"one\ntwo\n"
    assert view.read("/etc/motd") == b"hello world\n"
    assert view.read("/raw") == b"literal $WHO\n"


def test_from_scratch_has_no_shell_so_run_fails_as_docker_does() -> None:
    with pytest.raises(BuildError) as info:
        build("FROM scratch\nRUN echo hi\n")
    assert 'exec: "/bin/sh": stat /bin/sh: no such file or directory' in str(info.value)
    assert "FROM scratch" in str(info.value) and info.value.line == 2
    with pytest.raises(BuildError, match="no 'python3'"):
        build(TINY + 'RUN ["python3", "-c", "1"]\n')


def test_arg_before_from_build_args_predefined_and_platform_args() -> None:
    df = ("ARG BASE=layerlab/alpine-like\nFROM $BASE\nARG BASE\nARG TARGETARCH\n"
          "RUN echo $BASE $TARGETARCH $HTTP_PROXY > /v\n")
    b = Builder(df, builder="buildkit", build_args={"HTTP_PROXY": "http://proxy:3128",
                                                    "UNUSED": "1"})
    img = b.run()
    assert img.view().exists("/etc/alpine-release")
    assert img.view().read("/v") == b"layerlab/alpine-like amd64 http://proxy:3128\n"
    # the proxy arg is not recorded in history (Docker keeps it out); declared args are
    assert img.history[-1].created_by == ("RUN |2 BASE=layerlab/alpine-like TARGETARCH=amd64 "
                                          "/bin/sh -c echo $BASE $TARGETARCH $HTTP_PROXY > /v"
                                          " # buildkit")
    assert b.warnings == ["build args not consumed by any ARG: UNUSED"]
    classic = build(df, build_args={"BASE": "layerlab/tiny"})
    assert classic.view().read("/v") == b"layerlab/tiny\n"  # classic: no platform args


def test_copy_link_chown_chmod(tmp_path: Path) -> None:
    (tmp_path / "app.sh").write_text("echo\n")
    img = build(TINY + "COPY --link --chown=nobody:nogroup --chmod=0750 app.sh /app/\n",
                tmp_path, builder="buildkit")
    entry = img.view().stat("/app/app.sh")
    assert (entry.mode, entry.uid, entry.gid) == (0o750, 65534, 65534)
    assert img.history[-1].created_by == ("COPY --link --chown=nobody:nogroup --chmod=0750 "
                                          "app.sh /app/ # buildkit")


def test_add_url_is_refused_offline_before_step_1() -> None:
    with pytest.raises(DockerfileError) as info:
        Builder(TINY + "RUN echo 1\nADD https://example.com/a.tar.gz /\n")
    assert info.value.line == 3 and "builds offline" in str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ("STOPSIGNAL SIGNOPE", "invalid signal"),
    ("STOPSIGNAL 99", "1 to 64"),
    ("VOLUME [\"\"]", "non-empty path"),
])
def test_bad_values_name_the_line(text: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message) as info:
        build(TINY + text + "\n")
    assert info.value.line == 2


def test_stopsignal_accepts_names_numbers_and_rt_signals() -> None:
    for sig in ("SIGTERM", "TERM", "9", "SIGRTMIN+3"):
        assert build(TINY + f"STOPSIGNAL {sig}\n").config.stop_signal == sig
