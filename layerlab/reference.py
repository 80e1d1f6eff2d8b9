"""Image references, parsed and normalized as Docker does (``github.com/distribution/reference``).

``docker pull alpine`` pulls ``docker.io/library/alpine:latest``: a name without a registry
host goes to Docker Hub, a one-component Hub name gets ``library/``, and a reference without a
tag or digest gets ``:latest``. The first component is a registry host only when it contains a
``.`` or a ``:``, is ``localhost``, or has an upper-case letter (so ``myhost:5000/app`` and
``ghcr.io/org/app`` are hosts, ``myorg/app`` is a Hub user). Repository names are lower case;
tags are up to 128 word characters, dots and dashes; a digest is ``algorithm:hex``. A
reference may carry both a tag and a digest (``alpine:3.20@sha256:...``): the digest wins.

>>> r = parse("alpine")
>>> str(r), r.familiar
('docker.io/library/alpine:latest', 'alpine:latest')
>>> r.registry, r.repository, r.tag
('docker.io', 'library/alpine', 'latest')
>>> str(parse("localhost:5000/team/app@sha256:" + "0" * 64))[:40]
'localhost:5000/team/app@sha256:000000000'
>>> parse("Alpine")
Traceback (most recent call last):
...
layerlab.errors.InvalidReferenceError: reference 'Alpine': invalid reference format: repository name (library/Alpine) must be lowercase
"""  # noqa: E501

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidReferenceError

__all__ = ["DEFAULT_REGISTRY", "DEFAULT_TAG", "Reference", "normalize", "parse"]

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
#: the host the Docker Hub API answers on (``docker.io`` is only the name)
HUB_API_HOST = "registry-1.docker.io"
_LEGACY_HUB = {"index.docker.io", "registry-1.docker.io"}
NAME_TOTAL_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEP = r"(?:[._]|__|[-]+)"
_COMPONENT = re.compile(rf"{_ALNUM}(?:{_SEP}{_ALNUM})*")
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_HEX64 = re.compile(r"[a-f0-9]{64}")


@dataclass(frozen=True)
class Reference:
    """Normalized: ``str()`` is the full form, :attr:`familiar` Docker's short one."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository``, for example ``docker.io/library/alpine``."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host to send Distribution API requests to (Docker Hub's differs from its name)."""
        return HUB_API_HOST if self.registry == DEFAULT_REGISTRY else self.registry

    @property
    def identifier(self) -> str:
        """What goes after ``/manifests/``: the digest if there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def familiar(self) -> str:
        """Docker's short spelling: ``alpine:latest``, ``myorg/app:1``, ``ghcr.io/o/a:1``."""
        repo = self.repository
        if self.registry == DEFAULT_REGISTRY:
            repo = repo.removeprefix("library/") if repo.count("/") == 1 else repo
            name = repo
        else:
            name = self.name
        return name + (f":{self.tag}" if self.tag else "") + (
            f"@{self.digest}" if self.digest else "")

    def with_tag(self, tag: str) -> Reference:
        if not _TAG.fullmatch(tag):
            raise InvalidReferenceError(f"tag {tag!r}: invalid reference format")
        return Reference(self.registry, self.repository, tag, None)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, _check_digest(str(self), digest))

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (
            f"@{self.digest}" if self.digest else "")


def _check_digest(text: str, digest: str) -> str:
    if not _DIGEST.fullmatch(digest):
        raise InvalidReferenceError(f"reference {text!r}: invalid digest {digest!r}")
    algorithm, _, hexpart = digest.partition(":")
    if algorithm == "sha256" and not _HEX64.fullmatch(hexpart):
        raise InvalidReferenceError(
            f"reference {text!r}: invalid checksum digest length or format {digest!r}")
    if algorithm not in ("sha256", "sha512"):
        raise InvalidReferenceError(
            f"reference {text!r}: unsupported digest algorithm {algorithm!r}")
    return digest


def parse(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalize ``text`` as ``docker pull`` does; raise InvalidReferenceError.

    ``default_tag=False`` leaves a bare name without ``:latest`` (to match "any tag").
    """
    if not text:
        raise InvalidReferenceError(f"reference {text!r}: invalid reference format: empty")
    shown = text if len(text) <= 300 else text[:300] + "..."
    if len(text) > 2 * NAME_TOTAL_MAX + 200:
        raise InvalidReferenceError(f"reference {shown!r}: invalid reference format: too long")
    if _HEX64.fullmatch(text):
        raise InvalidReferenceError(
            f"reference {text!r}: invalid repository name ({text}), cannot specify 64-byte "
            f"hexadecimal strings (that is an image ID)")
    rest, at, digest = text.partition("@")
    if at:
        _check_digest(shown, digest)
    tag: str | None = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise InvalidReferenceError(f"reference {shown!r}: invalid reference format: "
                                        f"bad tag {tag!r}")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        domain, path = first, remainder
        if not _DOMAIN.fullmatch(domain):
            raise InvalidReferenceError(f"reference {shown!r}: invalid reference format: "
                                        f"bad registry host {domain!r}")
    else:
        domain, path = DEFAULT_REGISTRY, rest
    if domain in _LEGACY_HUB:
        domain = DEFAULT_REGISTRY
    if domain == DEFAULT_REGISTRY and "/" not in path:
        path = "library/" + path
    if any(c.isupper() for c in path):
        raise InvalidReferenceError(f"reference {shown!r}: invalid reference format: repository "
                                    f"name ({path}) must be lowercase")
    if not path or not all(_COMPONENT.fullmatch(c) for c in path.split("/")):
        raise InvalidReferenceError(f"reference {shown!r}: invalid reference format")
    if len(domain) + 1 + len(path) > NAME_TOTAL_MAX:
        raise InvalidReferenceError(f"reference {shown!r}: repository name must not be more "
                                    f"than {NAME_TOTAL_MAX} characters")
    if tag is None and not at and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest if at else None)


def normalize(text: str) -> str:
    """The full spelling of ``text`` (``alpine`` is ``docker.io/library/alpine:latest``)."""
    return str(parse(text))
