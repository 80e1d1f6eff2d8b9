"""References normalized as Docker's distribution/reference does (cases from its test table)."""

from __future__ import annotations

import pytest

from layerlab.errors import InvalidReferenceError, LayerlabError
from layerlab.reference import Reference, normalize, parse

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("text", "full", "familiar"), [
    ("alpine", "docker.io/library/alpine:latest", "alpine:latest"),
    ("alpine:3.20", "docker.io/library/alpine:3.20", "alpine:3.20"),
    ("library/alpine", "docker.io/library/alpine:latest", "alpine:latest"),
    ("docker.io/alpine", "docker.io/library/alpine:latest", "alpine:latest"),
    ("index.docker.io/library/test_image_1:latest", "docker.io/library/test_image_1:latest",
     "test_image_1:latest"),
    ("myorg/app", "docker.io/myorg/app:latest", "myorg/app:latest"),
    ("myorg/team/app:v1", "docker.io/myorg/team/app:v1", "myorg/team/app:v1"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("localhost:5000/app:dev", "localhost:5000/app:dev", "localhost:5000/app:dev"),
    ("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest", "127.0.0.1:5000/a/b:latest"),
    ("ghcr.io/org/app:1.0", "ghcr.io/org/app:1.0", "ghcr.io/org/app:1.0"),
    ("Registry.Example/app", "Registry.Example/app:latest", "Registry.Example/app:latest"),
    ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest"),
    ("a__b/c-d--e.f_g", "docker.io/a__b/c-d--e.f_g:latest", "a__b/c-d--e.f_g:latest"),
    (f"alpine@{D}", f"docker.io/library/alpine@{D}", f"alpine@{D}"),
    (f"alpine:3.20@{D}", f"docker.io/library/alpine:3.20@{D}", f"alpine:3.20@{D}"),
    (f"localhost:5000/app:1@{D}", f"localhost:5000/app:1@{D}", f"localhost:5000/app:1@{D}"),
])
def test_normalization(text: str, full: str, familiar: str) -> None:
    ref = parse(text)
    assert str(ref) == full == normalize(text)
    assert ref.familiar == familiar
    assert parse(full) == ref  # normalizing is idempotent
    assert parse(familiar) == ref


def test_parts_and_identifier() -> None:
    r = parse(f"localhost:5000/team/app:v2@{D}")
    assert (r.registry, r.repository, r.tag, r.digest) == ("localhost:5000", "team/app", "v2", D)
    assert r.identifier == D  # the digest wins over the tag
    assert r.api_host == "localhost:5000"
    assert parse("alpine").api_host == "registry-1.docker.io"
    assert parse("alpine").identifier == "latest"
    assert parse("alpine", default_tag=False).tag is None
    assert parse("alpine").with_tag("edge") == Reference("docker.io", "library/alpine", "edge")
    assert parse("alpine").with_digest(D).digest == D


@pytest.mark.parametrize(("text", "why"), [
    ("", "empty"),
    ("Alpine", "must be lowercase"),
    ("myorg/App", "must be lowercase"),
    ("ab" * 32, "64-byte hexadecimal"),
    ("alpine:", "bad tag"),
    ("alpine:-x", "bad tag"),
    ("alpine:" + "a" * 129, "bad tag"),
    ("alpine@sha256:abc", "invalid digest"),
    ("alpine@sha256:" + "A" * 64, "invalid checksum"),
    ("alpine@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("a/../b", "invalid reference format"),
    ("/alpine", "invalid reference format"),
    ("alpine/", "invalid reference format"),
    ("a//b", "invalid reference format"),
    ("-alpine", "invalid reference format"),
    ("alpine:1@", "invalid digest"),
    ("host-.example:5000/app", "bad registry host"),
    ("localhost:port/app", "bad registry host"),
    ("docker.io/" + "a" * 300, "more than 255"),
    ("a b", "invalid reference format"),
    ("alpine\n", "invalid reference format"),
])
def test_bad_references(text: str, why: str) -> None:
    with pytest.raises(InvalidReferenceError, match=why) as info:
        parse(text)
    assert isinstance(info.value, LayerlabError) and isinstance(info.value, ValueError)
    assert "reference" in str(info.value)
