"""``push``: an :class:`~layerlab.Image` to a registry, as ``docker push`` does.

Each layer blob, then the config, then the manifest (which names them, so it goes last: a
registry refuses a manifest whose blobs it does not have). A blob the registry already has
(``HEAD`` answers 200) is not uploaded again; one that another repository of the same registry
has is *mounted* (``POST .../uploads/?mount=<digest>&from=<repo>``) when ``mount_from`` names
that repository and the registry agrees. The manifest pushed is the OCI manifest
:func:`layerlab.formats.oci.manifest_bytes` writes, so its digest is known before the push.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from ..digest import sha256_digest
from ..formats.descriptors import OCI_MANIFEST
from ..formats.oci import manifest_bytes
from ..image import Image
from ..reference import Reference, parse
from .auth import Credentials, as_credentials, docker_config_credentials
from .client import RegistryClient, TransferStats, endpoint_url, file_chunks

__all__ = ["PushResult", "push"]


@dataclass
class PushResult:
    """Where the image went, the digest of the manifest pushed, and what was sent."""

    reference: Reference
    manifest_digest: str
    manifest: bytes
    stats: TransferStats = field(default_factory=TransferStats)


def _spooled(image: Image, index: int) -> IO[bytes]:
    f = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
    image.layers[index].blob(f)
    f.seek(0)
    return f


def push(
    image: Image,
    reference: str | Reference,
    *,
    auth: Credentials | tuple[str, str] | Mapping[str, str] | None = None,
    insecure: bool = False,
    mount_from: Sequence[str] = (),
    timeout: float = 60.0,
    transport: Any = None,
) -> PushResult:
    """Push ``image`` as ``reference`` (``localhost:5000/team/app:1``); returns what was sent.

    >>> push(img, "localhost:5000/class/demo:1")  # doctest: +SKIP
    """
    ref = reference if isinstance(reference, Reference) else parse(reference)
    label = str(ref)
    creds = as_credentials(auth) or docker_config_credentials(ref.registry)
    stats = TransferStats()
    repo = ref.repository
    manifest = manifest_bytes(image)
    config = image.config_bytes()
    with RegistryClient(endpoint_url(ref.api_host, insecure=insecure), credentials=creds,
                        insecure=insecure, timeout=timeout, transport=transport,
                        stats=stats) as client:
        client.ensure_push_token(repo, ref=label)
        scope = f"repository:{repo}:pull,push"
        blobs: list[tuple[str, int, Any]] = []
        seen: set[str] = set()
        for i, layer in enumerate(image.layers):
            if layer.digest not in seen:
                seen.add(layer.digest)
                blobs.append((layer.digest, layer.compressed_size, i))
        blobs.append((sha256_digest(config), len(config), config))
        for digest, size, what in blobs:
            if client.blob_exists(repo, digest, ref=label, scope=scope):
                stats.add(blobs_skipped=1)
                continue
            location = None
            for other in mount_from:
                other_repo = parse(other, default_tag=False).repository if "/" in other \
                    or ":" in other else other
                location = client.mount_blob(repo, digest, other_repo, ref=label)
                if location is None:
                    stats.add(blobs_mounted=1)
                    break
            else:
                location = client.start_upload(repo, ref=label)
            if location is None:
                continue
            source: IO[bytes] = io.BytesIO(what) if isinstance(what, bytes) \
                else _spooled(image, what)
            with source:
                client.finish_upload(location, digest, size, _chunks(source), repo=repo,
                                     ref=label)
        tag = ref.tag or ref.digest or "latest"
        client.put_manifest(repo, tag, manifest, OCI_MANIFEST, ref=label)
        stats.add(bytes_uploaded=len(manifest))
    return PushResult(ref, sha256_digest(manifest), manifest, stats)


def _chunks(f: IO[bytes]) -> Iterator[bytes]:
    yield from file_chunks(f)
