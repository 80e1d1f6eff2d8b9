"""Media types, descriptors, manifests and indexes: the JSON documents of an image.

An OCI image is a small graph of JSON documents that point at blobs by *descriptor*
(``mediaType``, ``digest``, ``size``): an *index* lists manifests (one per platform),
a *manifest* names one config blob and the layer blobs, base first. Docker's
``manifest.v2`` and ``manifest.list.v2`` documents have the same shape.

Parsing here is strict about shape and lenient about vocabulary: a media type
layerlab does not know never fails by itself (the bytes are sniffed instead), but a
document that is both a manifest and an index, or whose ``mediaType`` contradicts its
shape, is refused because a reader could not tell which one it was meant to be.

>>> doc = parse_json(b'{"schemaVersion": 2, "manifests": []}', where="index.json")
>>> document_kind(doc, where="index.json")
'index'
"""

from __future__ import annotations

import json
import platform as _platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from ..digest import is_digest
from ..errors import InvalidImageError, LimitExceededError
from ..imagedoc import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, expect_object
from ..limits import DEFAULT_LIMITS, Limits

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_LAYER",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "INDEX_MEDIA_TYPES",
    "MANIFEST_MEDIA_TYPES",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_LAYER_GZIP",
    "OCI_LAYER_ZSTD",
    "OCI_MANIFEST",
    "REF_NAME",
    "Descriptor",
    "Platform",
    "document_kind",
    "expect_object",
    "host_platform",
    "parse_descriptor",
    "parse_json",
    "read_json",
]

# OCI_INDEX, OCI_MANIFEST and OCI_CONFIG come from layerlab.imagedoc (the store uses them)
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_MEDIA_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

#: the annotation an OCI layout uses to name (tag) a manifest
REF_NAME = "org.opencontainers.image.ref.name"

# Go's GOARCH names, which the OCI spec uses, for what platform.machine() says.
_MACHINE_TO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def parse_json(data: bytes, *, where: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Decode a JSON document, refusing one larger than ``limits.max_json_bytes``."""
    if len(data) > limits.max_json_bytes:
        raise LimitExceededError(
            f"{where}: JSON document of {len(data)} bytes is larger than max_json_bytes="
            f"{limits.max_json_bytes}; raise Limits.max_json_bytes to accept it"
        )
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidImageError(f"{where}: not valid JSON ({exc})") from exc
    except RecursionError:  # 100 KB of '[' is 100,000 levels: Python's parser recurses
        raise InvalidImageError(
            f"{where}: JSON nested too deeply (more than Python's recursion limit, about "
            f"{sys.getrecursionlimit()} levels; image metadata needs a handful)") from None


def read_json(stream: IO[bytes], *, where: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Read and decode a JSON document from ``stream``, never reading past the cap."""
    data = stream.read(limits.max_json_bytes + 1)
    return parse_json(data, where=where, limits=limits)


@dataclass(frozen=True)
class Platform:
    """An OCI platform: ``os``/``architecture`` and an optional ``variant`` (``linux/arm64/v8``)."""

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``"linux/arm64"`` or ``"linux/arm/v7"``; a bare architecture means linux."""
        parts = text.strip().split("/")
        if len(parts) == 1 and parts[0]:
            return cls("linux", parts[0])
        if len(parts) in (2, 3) and all(parts):
            return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")
        raise ValueError(f"platform {text!r}: expected 'os/architecture[/variant]'")

    @classmethod
    def from_json(cls, doc: Any) -> Platform | None:
        if not isinstance(doc, Mapping):
            return None
        os_name, arch = doc.get("os"), doc.get("architecture")
        if not isinstance(os_name, str) or not isinstance(arch, str):
            return None
        variant = doc.get("variant")
        return cls(os_name, arch, variant if isinstance(variant, str) else "")

    def matches(self, wanted: Platform) -> bool:
        """True if this platform satisfies ``wanted`` (a variant is only compared when
        ``wanted`` names one)."""
        if (self.os, self.architecture) != (wanted.os, wanted.architecture):
            return False
        return not wanted.variant or self.variant == wanted.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def host_platform() -> Platform:
    """The platform of this machine in OCI terms (``linux/amd64`` on x86-64)."""
    machine = _platform.machine().lower()
    return Platform("linux", _MACHINE_TO_ARCH.get(machine, machine))


@dataclass(frozen=True)
class Descriptor:
    """A pointer to a blob: what it is, its digest and its size in bytes."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def ref_name(self) -> str:
        """The ``org.opencontainers.image.ref.name`` annotation (an OCI layout's tag)."""
        return self.annotations.get(REF_NAME, "")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                               "size": self.size}
        if self.platform is not None:
            out["platform"] = {"architecture": self.platform.architecture,
                               "os": self.platform.os}
            if self.platform.variant:
                out["platform"]["variant"] = self.platform.variant
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


def parse_descriptor(doc: Any, *, where: str) -> Descriptor:
    """Check and convert one descriptor object (digest well formed, size a whole number)."""
    obj = expect_object(doc, where)
    digest, size, media_type = obj.get("digest"), obj.get("size"), obj.get("mediaType", "")
    if not isinstance(digest, str) or not is_digest(digest):
        raise InvalidImageError(
            f"{where}: descriptor digest {digest!r} is not a 'sha256:<64 hex>' digest"
        )
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidImageError(f"{where}: descriptor {digest}: size {size!r} is not a byte count")
    if not isinstance(media_type, str):
        raise InvalidImageError(f"{where}: descriptor {digest}: mediaType is not a string")
    raw_notes = obj.get("annotations") or {}
    notes = (
        {str(k): str(v) for k, v in raw_notes.items()} if isinstance(raw_notes, Mapping) else {}
    )
    return Descriptor(media_type, digest, size, Platform.from_json(obj.get("platform")), notes)


def document_kind(doc: Any, *, where: str) -> Literal["index", "manifest"]:
    """Tell an index from a manifest by shape, cross-checked with ``mediaType``.

    A document with both ``manifests`` and ``layers`` (or ``config``) is ambiguous and
    refused; so is one whose ``mediaType`` names the other kind. An unknown
    ``mediaType`` is fine as long as the shape is clear.
    """
    obj = expect_object(doc, where)
    looks_index = "manifests" in obj
    looks_manifest = "layers" in obj or "config" in obj
    if looks_index and looks_manifest:
        raise InvalidImageError(
            f"{where}: ambiguous document: it has both 'manifests' (an index) and "
            "'config'/'layers' (a manifest)"
        )
    if not looks_index and not looks_manifest:
        raise InvalidImageError(
            f"{where}: neither an index ('manifests') nor a manifest ('config', 'layers')"
        )
    kind: Literal["index", "manifest"] = "index" if looks_index else "manifest"
    declared = obj.get("mediaType")
    if (kind == "index" and declared in MANIFEST_MEDIA_TYPES) or (
        kind == "manifest" and declared in INDEX_MEDIA_TYPES
    ):
        raise InvalidImageError(
            f"{where}: ambiguous document: mediaType {declared!r} says one kind but its "
            f"fields make it an {kind}"
        )
    return kind


def parse_index(doc: Any, *, where: str) -> list[Descriptor]:
    """The manifest descriptors an index lists."""
    manifests = expect_object(doc, where).get("manifests")
    if not isinstance(manifests, list):
        raise InvalidImageError(f"{where}: 'manifests' is not a list")
    return [parse_descriptor(d, where=f"{where}: manifests[{i}]") for i, d in enumerate(manifests)]


def parse_manifest(doc: Any, *, where: str) -> tuple[Descriptor, list[Descriptor]]:
    """The config descriptor and the layer descriptors (base first) of a manifest."""
    obj = expect_object(doc, where)
    config = parse_descriptor(obj.get("config"), where=f"{where}: config")
    layers = obj.get("layers")
    if not isinstance(layers, list):
        raise InvalidImageError(f"{where}: 'layers' is not a list")
    return config, [
        parse_descriptor(d, where=f"{where}: layers[{i}]") for i, d in enumerate(layers)
    ]
