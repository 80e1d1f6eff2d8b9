"""The simulated apt-get says what Debian's or Ubuntu's apt says for the image's suite.

The Debian lines are those of ``apt-get update`` in Docker's ``debian:bookworm`` image
(``main`` only, the security suite from ``deb.debian.org/debian-security``); Ubuntu's
those of ``ubuntu:24.04`` (four components, ``security.ubuntu.com``). Index files are
kept as ``.lz4`` in ``/var/lib/apt/lists`` as in both images (docker-gzip-indexes).
"""

from __future__ import annotations

import re

import pytest

from layerlab import Image, Layer
from layerlab.build import base_image
from layerlab.container import Container
from layerlab.entry import File
from layerlab.shell import run
from layerlab.shell.packages import PACKAGES, SCALE, apt_indexes

GET = re.compile(r"^Get:(\d+) http://(\S+) (\S+) (InRelease|amd64 Packages) \[[\d.,]+ k?B\]$")


def _container(os_release: str, name: str) -> Container:
    image = Image.from_layers([Layer.from_dict({
        "/etc/os-release": os_release, "/bin/sh": File(b"\x7fELF", mode=0o755)})])
    return image.create_container(name=name)


def _gets(stdout: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in stdout.splitlines():
        if line.startswith("Get:"):
            m = GET.match(line)
            assert m, line
            rows.append((m.group(2), m.group(3), m.group(4)))
    return rows


@pytest.mark.parametrize("suite", ["bookworm", "trixie"])
def test_debian_update_prints_debian_sources(suite: str) -> None:
    c = _container(f"ID=debian\nVERSION_CODENAME={suite}\n", "deb")
    r = run(c, "apt-get update")
    assert r.exit_code == 0, r
    rows = _gets(r.stdout)
    assert rows == [
        ("deb.debian.org/debian", suite, "InRelease"),
        ("deb.debian.org/debian", f"{suite}-updates", "InRelease"),
        ("deb.debian.org/debian-security", f"{suite}-security", "InRelease"),
        ("deb.debian.org/debian", f"{suite}/main", "amd64 Packages"),
        ("deb.debian.org/debian", f"{suite}-updates/main", "amd64 Packages"),
        ("deb.debian.org/debian-security", f"{suite}-security/main", "amd64 Packages"),
    ]
    assert "universe" not in r.stdout and "ubuntu" not in r.stdout
    assert sorted(c.listdir("/var/lib/apt/lists")) == sorted([
        f"deb.debian.org_debian_dists_{suite}_InRelease",
        f"deb.debian.org_debian_dists_{suite}-updates_InRelease",
        f"deb.debian.org_debian-security_dists_{suite}-security_InRelease",
        f"deb.debian.org_debian_dists_{suite}_main_binary-amd64_Packages.lz4",
        f"deb.debian.org_debian_dists_{suite}-updates_main_binary-amd64_Packages.lz4",
        f"deb.debian.org_debian-security_dists_{suite}-security_main_binary-amd64_Packages.lz4",
        "partial"])


def test_ubuntu_update_prints_four_components_and_the_security_host() -> None:
    c = _container("ID=ubuntu\nVERSION_CODENAME=noble\n", "ubu")
    rows = _gets(run(c, "apt-get update").stdout)
    assert [d for _, d, kind in rows if kind == "InRelease"] == [
        "noble", "noble-updates", "noble-backports", "noble-security"]
    assert {d.split("/")[1] for _, d, kind in rows if d.startswith("noble/")} == {
        "main", "restricted", "universe", "multiverse"}
    assert {host for host, d, _ in rows if d.startswith("noble-security")} == {
        "security.ubuntu.com/ubuntu"}
    assert {host for host, d, _ in rows if not d.startswith("noble-security")} == {
        "archive.ubuntu.com/ubuntu"}
    files = c.listdir("/var/lib/apt/lists")
    assert "archive.ubuntu.com_ubuntu_dists_noble_universe_binary-amd64_Packages.lz4" in files
    assert len(files) == len(rows) + 1  # and partial/


def test_the_debian_teaching_base_gets_debian_lines_and_install_urls() -> None:
    c = base_image("layerlab/debian-like").create_container(name="d")
    r = run(c, "apt-get update && apt-get install -y jq")
    assert r.exit_code == 0, r
    assert "Get:4 http://deb.debian.org/debian bookworm/main amd64 Packages [" in r.stdout
    jq = PACKAGES["jq"]
    assert (f"http://deb.debian.org/debian bookworm/main amd64 jq amd64 {jq.version} ["
            in r.stdout)


def test_what_is_stored_is_scaled_from_the_stored_size_not_the_download() -> None:
    c = _container("ID=debian\nVERSION_CODENAME=bookworm\n", "sz")
    run(c, "apt-get update")
    for index in apt_indexes("debian", "bookworm"):
        data = c.read(f"/var/lib/apt/lists/{index.filename}")
        assert len(data) == int(index.stored_kb * 1024) // SCALE
    main = next(i for i in apt_indexes("debian", "bookworm") if i.component == "main")
    assert main.stored_kb > main.download_kb  # lz4 on disk is larger than xz on the wire
