"""``pull``: from a reference to a verified :class:`~layerlab.Image`, through a blob cache.

The steps are those of ``docker pull``:

1. resolve the reference: ``HEAD`` the manifest for its digest (a cached manifest is not
   downloaded again), else ``GET`` it;
2. an index (manifest list) names one manifest per platform: pick the wanted one (default
   this machine's; ``linux/amd64`` on a host that is not Linux) and fetch it;
3. fetch the config and the layers that are not in the cache yet, in parallel, each checked
   for size and digest as it arrives (a cut download resumes with ``Range``);
4. read the layers (gzip, zstd or plain tar), checking each diff_id against the config;
   a layer whose blob was read and verified before comes from its cached index instead
   (:mod:`layerlab.store.layerindex`: nothing is re-read, the index is checked first);
5. only then record anything: the reference in the cache's ``refs/`` (for offline use) and
   the image in the ``Store`` when one was given.

Mirrors (``mirrors=`` or ``LAYERLAB_REGISTRY_MIRROR``, comma-separated URLs) are tried first
for Docker Hub images, as Docker's ``registry-mirrors`` are; the registry itself is the
fallback. When no registry can be reached the cached copy is used, and the log says so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from ..errors import (
    InvalidImageError,
    LimitExceededError,
    RegistryError,
    RegistryUnavailableError,
)
from ..formats.descriptors import (
    Descriptor,
    Platform,
    document_kind,
    expect_object,
    host_platform,
    parse_index,
    parse_json,
    parse_manifest,
)
from ..formats.loaded import config_diff_ids, image_from_config
from ..formats.verify import load_layer, progress_bar, read_verified_json
from ..image import Image
from ..layer import Layer
from ..limits import DEFAULT_LIMITS, Limits
from ..reference import DEFAULT_REGISTRY, Reference, parse
from ..store.content import ContentStore
from ..store.durable import atomic_write
from ..store.layerindex import load_layer_index, save_layer_index, spool_dir_for
from ..tarstream import ArchiveRange
from .auth import Credentials, as_credentials, docker_config_credentials
from .client import RegistryClient, TransferStats, endpoint_url

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["PullResult", "default_cache", "default_platform", "mirrors_from_env", "pull",
           "pull_image"]

log = logging.getLogger("layerlab.registry")
MIRROR_ENV = "LAYERLAB_REGISTRY_MIRROR"
CACHE_ENV = "LAYERLAB_CACHE"


def default_cache() -> Path:
    """``$LAYERLAB_CACHE`` or the per-user cache directory, plus ``registry``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("layerlab", appauthor=False)) / "registry"


def default_platform() -> Platform:
    """This machine's platform on Linux; ``linux/amd64`` elsewhere (what Docker Desktop's
    Linux VM runs on most machines)."""
    return host_platform() if sys.platform.startswith("linux") else Platform("linux", "amd64")


def mirrors_from_env() -> list[str]:
    return [m.strip() for m in os.environ.get(MIRROR_ENV, "").split(",") if m.strip()]


@dataclass
class PullResult:
    """A pulled image and how it was got: the manifest's digest, the platform chosen,
    where from, what crossed the wire, and whether the cache stood in for the network."""

    image: Image
    reference: Reference
    manifest_digest: str
    index_digest: str | None
    platform: str
    endpoint: str
    stats: TransferStats = field(default_factory=TransferStats)
    offline: bool = False


def _ref_key(ref: Reference, platform: str) -> str:
    return hashlib.sha256(f"{ref}|{platform}".encode()).hexdigest()


def _choose(index: Any, wanted: Platform, *, ref: str, where: str) -> Descriptor:
    descs = parse_index(index, where=where)
    images = [d for d in descs if not (d.platform and d.platform.os == "unknown")]
    for d in images:
        if d.platform is not None and d.platform.matches(wanted):
            return d
    listing = ", ".join(str(d.platform or "?") for d in images) or "nothing"
    raise InvalidImageError(f"{ref}: no image for platform {wanted}; available: {listing}; "
                            f"choose one with platform='os/arch'")


class _Puller:
    def __init__(self, ref: Reference, cs: ContentStore, wanted: Platform, limits: Limits,
                 progress: bool | None, workers: int) -> None:
        self.ref = ref
        self.cs = cs
        self.wanted = wanted
        self.limits = limits
        self.progress = progress
        self.workers = workers
        self.label = str(ref)

    def json_doc(self, digest: str, size: int | None, what: str) -> Any:
        f = self.cs.open(digest)
        return read_verified_json(f, self.cs.size(digest), size=size, digest=digest,
                                  what=f"{self.label}: {what} {digest}", limits=self.limits)

    def _blob_in_place(self, digest: str) -> tuple[BinaryIO, int]:
        """The cached blob as an :class:`~layerlab.tarstream.ArchiveRange`: hashed once as
        it is read (no separate pass for the digest), and a plain layer is not copied."""
        f = self.cs.open(digest)
        st = os.fstat(f.fileno())
        return cast(BinaryIO, ArchiveRange(f, 0, st.st_size, (st.st_size, st.st_mtime_ns),
                                           f"{self.label}: blob {digest}")), st.st_size

    def manifest(self, client: RegistryClient, identifier: str) -> str:
        """Fetch (or find cached) the manifest ``identifier`` names; return its digest."""
        repo = self.ref.repository
        if identifier.startswith("sha256:") and self.cs.has(identifier):
            return identifier
        digest = client.manifest_digest(repo, identifier, ref=self.label)
        if digest is not None and self.cs.has(digest):
            return digest
        data, _media = client.get_manifest(repo, identifier, ref=self.label,
                                           max_bytes=self.limits.max_json_bytes)
        return self.cs.write(data)

    def resolve(self, client: RegistryClient) -> tuple[str, str | None]:
        """``(manifest digest, index digest or None)``."""
        top = self.manifest(client, self.ref.identifier)
        doc = self.json_doc(top, None, "manifest")
        if document_kind(doc, where=f"{self.label}: manifest {top}") == "manifest":
            return top, None
        chosen = _choose(doc, self.wanted, ref=self.label, where=f"{self.label}: index {top}")
        digest = self.manifest(client, chosen.digest)
        self.json_doc(digest, chosen.size, "manifest")  # size and digest as the index says
        return digest, top

    def fetch_config(self, client: RegistryClient,
                     manifest_digest: str) -> tuple[Descriptor, list[Descriptor]]:
        """Check the image manifest, fetch its config; return the config and layer
        descriptors."""
        doc = self.json_doc(manifest_digest, None, "manifest")
        if document_kind(doc, where=f"{self.label}: manifest {manifest_digest}") != "manifest":
            raise InvalidImageError(f"{self.label}: {manifest_digest} is an index inside an "
                                    f"index; expected an image manifest")
        config, layers = parse_manifest(doc, where=f"{self.label}: manifest {manifest_digest}")
        if config.size > self.limits.max_json_bytes:
            raise LimitExceededError(
                f"{self.label}: config of {config.size} bytes is larger than max_json_bytes="
                f"{self.limits.max_json_bytes}; raise Limits.max_json_bytes to accept it")
        client.fetch_blob(self.ref.repository, config.digest, config.size, self.cs,
                          ref=self.label, what=f"config {config.digest}")
        return config, layers

    def fetch_blobs(self, client: RegistryClient, manifest_digest: str) -> None:
        """Download and verify the blobs only, as ``skopeo copy`` does (the benchmark's
        reference point); :meth:`fetch_and_build` also reads the layers."""
        _, layers = self.fetch_config(client, manifest_digest)
        repo = self.ref.repository
        todo = sorted({d.digest: d for d in layers}.values(), key=lambda d: -d.size)
        total = sum(d.size for d in todo)
        with progress_bar(total, f"pull {self.ref.familiar}", self.progress) as bar:
            lock_free_update: Callable[[int], object] = bar.update

            def one(d: Descriptor) -> None:
                client.fetch_blob(repo, d.digest, d.size, self.cs, ref=self.label,
                                  what=f"layer {d.digest}", progress=lock_free_update)

            if self.workers <= 1 or len(todo) <= 1:
                for d in todo:
                    one(d)
            else:
                with ThreadPoolExecutor(max_workers=min(self.workers, len(todo))) as pool:
                    for fut in [pool.submit(one, d) for d in todo]:
                        fut.result()

    def fetch_and_build(self, client: RegistryClient, manifest_digest: str,
                        spool_dir: str | None) -> Image:
        """Fetch the config, then each layer's blob and read it right away, layers side by
        side: downloading one layer overlaps with decompressing another."""
        _, layers = self.fetch_config(client, manifest_digest)
        repo = self.ref.repository
        total = sum({d.digest: d.size for d in layers}.values())
        locks: dict[str, threading.Lock] = {d.digest: threading.Lock() for d in layers}
        with progress_bar(total, f"pull {self.ref.familiar}", self.progress) as bar:

            def fetch(i: int) -> None:
                d = layers[i]
                with locks[d.digest]:  # a blob listed twice is fetched once
                    client.fetch_blob(repo, d.digest, d.size, self.cs, ref=self.label,
                                      what=f"layer {d.digest}", progress=bar.update)

            return self.build(manifest_digest, spool_dir, fetch=fetch)

    def build(self, manifest_digest: str, spool_dir: str | None,
              fetch: Callable[[int], None] | None = None) -> Image:
        doc = self.json_doc(manifest_digest, None, "manifest")
        where = f"{self.label}: manifest {manifest_digest}"
        config_desc, layer_descs = parse_manifest(doc, where=where)
        config = self.json_doc(config_desc.digest, config_desc.size, "config")
        raw = self.cs.path(config_desc.digest).read_bytes()
        cwhere = f"{self.label}: config {config_desc.digest}"
        expect_object(config, cwhere)
        diff_ids = config_diff_ids(config, where=cwhere)
        history = config.get("history")
        made = [h for h in history if isinstance(h, Mapping) and not h.get("empty_layer")] \
            if isinstance(history, list) else []

        # spooled inside the cache, the tars the index keeps are linked in, not copied
        spool = spool_dir if spool_dir is not None else spool_dir_for(self.cs)

        def read(i: int) -> Layer:
            if fetch is not None:
                fetch(i)
            d = layer_descs[i]
            diff_id = diff_ids[i] if i < len(diff_ids) else None
            hist = made[i] if i < len(made) else {}
            # a blob read and verified before is not read again (see store/layerindex.py)
            cached = load_layer_index(self.cs, d.digest, d.size, diff_id, history=hist,
                                      limits=self.limits)
            if cached is not None:
                return cached
            blob, stored = self._blob_in_place(d.digest)
            layer = load_layer(blob, stored, size=d.size,
                               digest=d.digest, diff_id=diff_id,
                               what=f"{self.label}: layer {i} (blob {d.digest})",
                               history=hist, limits=self.limits, spool_dir=spool)
            save_layer_index(self.cs, d.digest, layer)
            return layer

        # Decompressing is most of the work and zlib/zstd release the GIL: read the layers
        # side by side, then hand them to the one place that assembles images.
        count = min(len(layer_descs), len(diff_ids))
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, count))) as pool:
            futures = [pool.submit(read, i) for i in range(count)]
            layers: list[Layer] = []
            try:
                layers = [f.result() for f in futures]
            finally:
                if len(layers) < count:
                    for f in futures:
                        f.cancel()

        def load(i: int, diff_id: str, history: Mapping[str, Any]) -> Layer:
            return layers[i] if i < len(layers) else read(i)

        return image_from_config(config, len(layer_descs), load, where=cwhere, raw=raw)


def _endpoints(ref: Reference, mirrors: Sequence[str] | None, insecure: bool) -> list[str]:
    chosen = list(mirrors) if mirrors is not None else mirrors_from_env()
    upstream = endpoint_url(ref.api_host, insecure=insecure)
    return ([endpoint_url(m, insecure=insecure) for m in chosen]
            if ref.registry == DEFAULT_REGISTRY else []) + [upstream]


def pull_image(
    reference: str | Reference,
    *,
    platform: str | None = None,
    store: Store | None = None,
    auth: Credentials | tuple[str, str] | Mapping[str, str] | None = None,
    insecure: bool = False,
    cache: str | os.PathLike[str] | ContentStore | None = None,
    mirrors: Sequence[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    spool_dir: str | None = None,
    progress: bool | None = None,
    workers: int = 4,
    timeout: float = 30.0,
    retries: int = 3,
    transport: Any = None,
) -> PullResult:
    """Pull ``reference`` and say how (see :func:`pull`, which returns just the image)."""
    ref = reference if isinstance(reference, Reference) else parse(reference)
    cs = cache if isinstance(cache, ContentStore) else ContentStore(
        Path(cache) if cache is not None else default_cache())
    try:
        wanted = Platform.parse(platform) if platform else default_platform()
    except ValueError as exc:
        raise InvalidImageError(f"{ref}: {exc}") from None
    creds = as_credentials(auth) or docker_config_credentials(ref.registry)
    puller = _Puller(ref, cs, wanted, limits, progress, workers)
    stats = TransferStats()
    failures: list[RegistryError] = []
    for url in _endpoints(ref, mirrors, insecure):
        client = RegistryClient(url, credentials=creds, insecure=insecure, timeout=timeout,
                                retries=retries, transport=transport, stats=stats)
        try:
            with client:
                manifest_digest, index_digest = puller.resolve(client)
                image = puller.fetch_and_build(client, manifest_digest, spool_dir)
        except RegistryError as exc:
            last_endpoint = url == _endpoints(ref, mirrors, insecure)[-1]
            if not last_endpoint:
                log.warning("%s: mirror %s failed (%s); trying the next", ref, url, exc)
                failures.append(exc)
                continue
            if isinstance(exc, RegistryUnavailableError):
                cached = _cached(cs, ref, str(wanted))
                if cached is not None:
                    log.warning("%s: offline (%s); using the cached copy", ref, exc)
                    image = puller.build(cached[0], spool_dir)
                    if store is not None:
                        store.add(image, tag=ref.familiar)
                    return PullResult(image, ref, cached[0], cached[1], str(wanted), "cache",
                                      stats, offline=True)
            raise
        _remember(cs, ref, str(wanted), manifest_digest, index_digest)
        if store is not None:
            store.add(image, tag=ref.familiar)
        return PullResult(image, ref, manifest_digest, index_digest, str(wanted), url, stats)
    raise failures[-1]  # pragma: no cover - the upstream endpoint always comes last


def _remember(cs: ContentStore, ref: Reference, platform: str, manifest: str,
              index: str | None) -> None:
    doc = {"reference": str(ref), "platform": platform, "manifest": manifest, "index": index}
    atomic_write(str(cs.root / "refs" / _ref_key(ref, platform)),
                 json.dumps(doc, sort_keys=True).encode())


def _cached(cs: ContentStore, ref: Reference, platform: str) -> tuple[str, str | None] | None:
    if ref.digest and cs.has(ref.digest):
        doc = parse_json(cs.path(ref.digest).read_bytes(), where=str(ref))
        if isinstance(doc, dict) and "layers" in doc:
            return ref.digest, None
    try:
        rec = json.loads((cs.root / "refs" / _ref_key(ref, platform)).read_text())
    except (OSError, ValueError):
        return None
    manifest = rec.get("manifest") if isinstance(rec, dict) else None
    if not isinstance(manifest, str):
        return None
    try:
        if not cs.has(manifest):
            return None
        _config, layers = parse_manifest(parse_json(cs.path(manifest).read_bytes(),
                                                    where=str(ref)), where=str(ref))
    except (InvalidImageError, ValueError):
        return None
    if not all(cs.has(d.digest) for d in [_config, *layers]):
        return None
    index = rec.get("index")
    return manifest, index if isinstance(index, str) else None


def pull(
    reference: str | Reference,
    *,
    platform: str | None = None,
    store: Store | None = None,
    auth: Credentials | tuple[str, str] | Mapping[str, str] | None = None,
    insecure: bool = False,
    **options: Any,
) -> Image:
    """Pull an image from a registry, as ``docker pull`` does, and return it.

    >>> img = pull("alpine:3.20")  # doctest: +SKIP
    >>> img = pull("localhost:5000/team/app:1", store=my_store)  # doctest: +SKIP

    ``platform`` (``"linux/arm64"``) picks from a multi-platform index; ``auth`` is
    ``(user, password)`` (default: ``~/.docker/config.json``); ``insecure`` allows plain
    HTTP and unverified TLS. Further options (``cache``, ``mirrors``, ``limits``,
    ``spool_dir``, ``progress``, ``workers``, ``timeout``) are those of :func:`pull_image`.
    """
    return pull_image(reference, platform=platform, store=store, auth=auth, insecure=insecure,
                      **options).image
