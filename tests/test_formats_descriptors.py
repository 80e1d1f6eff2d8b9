"""layerlab.formats.descriptors: JSON caps, descriptor checks, index vs manifest, platforms."""

from __future__ import annotations

import pytest

from layerlab import InvalidImageError, LimitExceededError, Limits
from layerlab.formats import descriptors as d

DIGEST = "sha256:" + "ab" * 32


def test_parse_json_caps_the_size_and_names_the_limit() -> None:
    with pytest.raises(LimitExceededError, match=r"index.json.*max_json_bytes=10"):
        d.parse_json(b'{"manifests": []}', where="index.json", limits=Limits(max_json_bytes=10))


@pytest.mark.parametrize("data", [b"{", b"not json", b"\xff\xfe"])
def test_parse_json_refuses_malformed_documents(data: bytes) -> None:
    with pytest.raises(InvalidImageError, match=r"cfg: not valid JSON"):
        d.parse_json(data, where="cfg")


def test_descriptor_parsing_checks_digest_and_size() -> None:
    desc = d.parse_descriptor(
        {"mediaType": "application/x-unknown", "digest": DIGEST, "size": 3,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
         "annotations": {d.REF_NAME: "v1"}},
        where="w",
    )
    assert (desc.media_type, desc.size, desc.ref_name) == ("application/x-unknown", 3, "v1")
    assert str(desc.platform) == "linux/arm64/v8"
    assert d.parse_descriptor(desc.to_json(), where="w") == desc
    with pytest.raises(InvalidImageError, match=r"w: descriptor digest 'md5:00'"):
        d.parse_descriptor({"digest": "md5:00", "size": 1}, where="w")
    with pytest.raises(InvalidImageError, match=r"size -1 is not a byte count"):
        d.parse_descriptor({"digest": DIGEST, "size": -1}, where="w")
    with pytest.raises(InvalidImageError, match=r"size True"):
        d.parse_descriptor({"digest": DIGEST, "size": True}, where="w")


def test_document_kind_by_shape_with_unknown_media_types_accepted() -> None:
    assert d.document_kind({"manifests": []}, where="x") == "index"
    assert d.document_kind({"config": {}, "layers": []}, where="x") == "manifest"
    assert d.document_kind({"mediaType": "application/x-new", "layers": []}, where="x") == (
        "manifest"
    )


@pytest.mark.parametrize(
    "doc",
    [
        {"manifests": [], "layers": []},
        {"manifests": [], "config": {}},
        {"mediaType": d.OCI_MANIFEST, "manifests": []},
        {"mediaType": d.DOCKER_MANIFEST_LIST, "config": {}, "layers": []},
    ],
)
def test_a_document_that_is_both_manifest_and_index_is_ambiguous(doc: dict[str, object]) -> None:
    with pytest.raises(InvalidImageError, match=r"x: ambiguous document"):
        d.document_kind(doc, where="x")


def test_neither_kind_and_non_objects_are_errors() -> None:
    with pytest.raises(InvalidImageError, match=r"neither an index"):
        d.document_kind({"schemaVersion": 2}, where="x")
    with pytest.raises(InvalidImageError, match=r"expected a JSON object, found list"):
        d.document_kind([], where="x")


def test_platform_parse_and_match() -> None:
    arm = d.Platform.parse("linux/arm64/v8")
    assert arm.matches(d.Platform.parse("linux/arm64"))
    assert not d.Platform.parse("linux/arm64").matches(arm)  # a wanted variant must be there
    assert not arm.matches(d.Platform.parse("linux/arm64/v9"))
    assert d.Platform.parse("amd64") == d.Platform("linux", "amd64")
    with pytest.raises(ValueError, match=r"os/architecture"):
        d.Platform.parse("linux//")


@pytest.mark.parametrize(("machine", "arch"), [("x86_64", "amd64"), ("aarch64", "arm64"),
                                               ("armv7l", "arm"), ("mips", "mips")])
def test_host_platform_uses_go_names(monkeypatch: pytest.MonkeyPatch, machine: str,
                                     arch: str) -> None:
    monkeypatch.setattr(d._platform, "machine", lambda: machine)
    assert d.host_platform() == d.Platform("linux", arch)
