"""``docker save`` archives (``docker-archive:FILE``), both generations.

The legacy layout (Docker < 25) keeps every layer in a directory named by its v1 id::

    manifest.json              [{"Config": "<image id>.json", "RepoTags": ["app:1"],
                                 "Layers": ["<v1 id>/layer.tar", ...]}]   (base first)
    <image id>.json            the image config
    <v1 id>/layer.tar          the layer, uncompressed (often a symlink to another copy)
    <v1 id>/json               v1 metadata: "id", "parent" (the v1 id below), config
    <v1 id>/VERSION            "1.0"
    repositories               {"app": {"1": "<top v1 id>"}}

Docker 25 and later write an OCI layout (``index.json``, ``blobs/sha256/...``) and
a ``manifest.json`` whose ``Config`` and ``Layers`` point into ``blobs/``. Both are
read through ``manifest.json``. layerlab writes both at once: the OCI layout holds the
bytes, the legacy ``<v1 id>/layer.tar`` are symlinks into ``blobs/``, so the same file
reads as ``docker-archive:`` and as ``oci-archive:``.

Symlinks inside the archive are resolved inside it. The legacy ``json`` files and
their ``parent`` pointers are read, checked (no cycle, nothing dangling, the same order
as ``Layers``) and returned in :attr:`LoadedImage.legacy_layers` (see
:func:`layerlab.formats.read`).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from typing import Any

from ..digest import sha256_digest
from ..errors import InvalidImageError, LayerlabError
from ..image import Image
from ..layer import Layer
from ..limits import DEFAULT_LIMITS, Limits
from .descriptors import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    REF_NAME,
    Descriptor,
    Platform,
    expect_object,
    parse_json,
)
from .loaded import LoadedImage, image_from_config, layer_listed_again, legacy_chain
from .oci import blob_name
from .sinks import Sink
from .sources import Source
from .verify import load_layer, progress_bar, read_verified_json

__all__ = ["docker_reference", "read_docker_archive", "repo_tag", "write_docker_archive"]

_CONTAINERD_NAME = "io.containerd.image.name"

_V1_ID = re.compile(r"^[0-9a-f]{64}$")
_NAMED_BY_DIGEST = re.compile(r"^(?:\./)?(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?$")


def repo_tag(tag: str) -> str:
    """``name:tag`` as ``RepoTags`` spells it (``app`` means ``app:latest``)."""
    return tag if ":" in tag.rpartition("/")[2] else f"{tag}:latest"


def _digest_in_name(name: str) -> str | None:
    match = _NAMED_BY_DIGEST.match(name)
    return f"sha256:{match.group(1)}" if match else None


def _repo_tags(obj: dict[str, Any], where: str) -> list[str]:
    """``RepoTags``: a list of strings, or absent/null."""
    tags = obj.get("RepoTags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidImageError(f"{where}: RepoTags must be a list of strings, not {tags!r:.60}")
    return tags


def _normalized(tag: str) -> str:
    """The full reference Docker would make of ``tag`` (``app`` and
    ``index.docker.io/library/app:latest`` are both ``docker.io/library/app:latest``)."""
    from ..errors import InvalidReferenceError
    from ..reference import parse

    try:
        return str(parse(tag))
    except InvalidReferenceError:
        return repo_tag(tag)


def _oci_config_digests(source: Source, limits: Limits) -> set[str]:
    """The config digests that the archive's OCI ``index.json`` manifests name (one level of
    nested index followed; anything unreadable counts as no descriptor)."""
    found: set[str] = set()
    try:
        if not source.exists("index.json"):
            return found
        docs = [parse_json(source.read_bytes("index.json", cap=limits.max_json_bytes,
                                             cap_name="max_json_bytes"),
                           where="index.json", limits=limits)]
        for depth in range(3):
            nxt = []
            for doc in docs:
                if not isinstance(doc, dict):
                    continue
                cfg = doc.get("config")
                if isinstance(cfg, dict) and isinstance(cfg.get("digest"), str):
                    found.add(cfg["digest"])
                for m in (doc.get("manifests") or [])[:64] if depth < 2 else []:
                    digest = m.get("digest") if isinstance(m, dict) else None
                    name = f"blobs/sha256/{digest[7:]}" if isinstance(digest, str) \
                        and _NAMED_BY_DIGEST.match(f"blobs/sha256/{digest[7:]}") else None
                    if name and source.exists(name):
                        data = source.read_bytes(name, cap=limits.max_json_bytes,
                                                 cap_name="max_json_bytes")
                        if sha256_digest(data) == digest:
                            nxt.append(parse_json(data, where=name, limits=limits))
            docs = nxt
    except LayerlabError:
        return found
    return found


def _choose(entries: list[Any], tag: str | None, where: str) -> dict[str, Any]:
    objs = [expect_object(e, f"{where}[{i}]") for i, e in enumerate(entries)]
    for i, o in enumerate(objs):
        _repo_tags(o, f"{where}[{i}]")
    if not objs:
        raise InvalidImageError(f"{where}: lists no image")
    if tag is not None and re.fullmatch(r"@[0-9]{1,6}", tag):  # skopeo's docker-archive:F:@N
        n = int(tag[1:])
        if n >= len(objs):
            raise InvalidImageError(f"{where}: no image @{n}; it holds {len(objs)}")
        return objs[n]
    if tag is not None:
        wanted = _normalized(tag)
        found = [o for o in objs
                 if any(isinstance(t, str) and _normalized(t) == wanted
                        for t in o.get("RepoTags") or [])]
        if not found:
            raise InvalidImageError(f"{where}: no image tagged {tag!r}")
        return found[0]
    if len(objs) > 1:
        names = ", ".join(",".join(o.get("RepoTags") or ["<untagged>"]) for o in objs)
        raise InvalidImageError(
            f"{where}: holds {len(objs)} images ({names}); choose one with tag=..."
        )
    return objs[0]


def read_docker_archive(
    source: Source,
    *,
    platform: str | None = None,
    tag: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    spool_dir: str | None = None,
    progress: bool | None = None,
) -> LoadedImage:
    """Read the image ``manifest.json`` describes (the one tagged ``tag`` if several)."""
    where = f"{source.label}: manifest.json"
    doc = parse_json(
        source.read_bytes("manifest.json", cap=limits.max_json_bytes, cap_name="max_json_bytes"),
        where=where, limits=limits,
    )
    if not isinstance(doc, list):
        raise InvalidImageError(f"{where}: expected a JSON list of images")
    entry = _choose(doc, tag, where)
    config_name, layer_names = entry.get("Config"), entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list) or not all(
        isinstance(n, str) for n in layer_names
    ):
        raise InvalidImageError(f"{where}: an entry needs 'Config' (a name) and 'Layers' (names)")
    # A config named like a digest must hash to it, unless an OCI descriptor in the same
    # archive (Docker >= 25 writes index.json) vouches for its bytes: skopeo and
    # go-containerregistry load a config whose file name is not its digest; the image id is
    # the sha256 of the bytes either way.
    config_bytes = source.read_bytes(config_name, cap=limits.max_json_bytes,
                                     cap_name="max_json_bytes")
    named = _digest_in_name(config_name)
    if named is not None and sha256_digest(config_bytes) in _oci_config_digests(source, limits):
        named = None
    config = read_verified_json(io.BytesIO(config_bytes), len(config_bytes), size=None,
                                digest=named, what=f"{source.label}: config {config_name!r}",
                                limits=limits)
    expect_object(config, f"config {config_name!r}")
    found = Platform.from_json(config)
    if platform is not None and found is not None:
        try:
            wanted = Platform.parse(platform)
        except ValueError as exc:
            raise InvalidImageError(str(exc)) from exc
        if not found.matches(wanted):
            raise InvalidImageError(
                f"{source.label}: the image is for {found}, not {wanted}; available: {found}"
            )
    legacy = _legacy_docs(source, layer_names, limits)
    sizes = []
    for name in layer_names:
        opened, size = source.open(name)
        opened.close()
        sizes.append(size)

    with progress_bar(sum(sizes), "loading layers", progress) as bar:

        loaded: dict[str, Layer] = {}  # the same file listed again is read once

        def load(i: int, diff_id: str, history: Mapping[str, Any]) -> Layer:
            name = layer_names[i]
            again = loaded.get(name)
            if again is not None:
                return layer_listed_again(again, diff_id, history, where=f"layer {i} ({name})")
            blob, size = source.open_layer(name)
            layer = load_layer(
                blob, size, size=None, digest=_digest_in_name(name), diff_id=diff_id,
                what=f"layer {i} ({name})", history=history, limits=limits,
                spool_dir=spool_dir,
            )
            bar.update(size)
            loaded[name] = layer
            return layer

        stream, _ = source.open(config_name)
        with stream:  # verified above: these bytes hash to the config digest
            raw = stream.read(limits.max_json_bytes + 1)
        image = image_from_config(config, len(layer_names), load,
                                  where=f"config {config_name!r}", raw=raw)
    tags = tuple(str(t) for t in entry.get("RepoTags") or ())
    return LoadedImage(image, "docker-archive", tags, str(found or ""), legacy)


def _legacy_docs(source: Source, layer_names: list[str], limits: Limits) -> tuple[Any, ...]:
    """The legacy ``<id>/json`` of every layer, checked as a parent chain.

    Old ``docker save`` names ``<id>/layer.tar`` in ``Layers``; newer writers (Docker 25,
    skopeo, layerlab) name the real file (``blobs/sha256/<hex>``, ``<hex>.tar``) and make
    ``<id>/layer.tar`` a symlink to it. Then the chain is found from the ``json`` files:
    the walk down ``parent`` pointers whose ``layer.tar`` files are ``Layers``, in order.
    """
    def read_doc(v1_dir: str, where: str) -> dict[str, Any]:
        raw = source.read_bytes(f"{v1_dir}/json", cap=limits.max_json_bytes,
                                cap_name="max_json_bytes")
        return expect_object(parse_json(raw, where=where, limits=limits), where)

    docs: list[dict[str, Any]] = []
    for i, name in enumerate(layer_names):
        head, _, tail = name.rpartition("/")
        if tail != "layer.tar" or not head or not source.exists(f"{head}/json"):
            continue
        docs.append(read_doc(head, f"{source.label}: layer {i}: {head + '/json'!r}"))
    if not docs and layer_names:
        return _linked_legacy_docs(source, layer_names, read_doc)
    if not docs:
        return ()
    if len(docs) != len(layer_names):
        raise InvalidImageError(
            f"{source.label}: legacy json found for {len(docs)} of {len(layer_names)} layers; "
            "the parent chain is dangling"
        )
    return legacy_chain(docs, where=source.label)


def _linked_legacy_docs(
    source: Source, layer_names: list[str], read_doc: Any
) -> tuple[Any, ...]:
    """Legacy directories whose ``layer.tar`` links to the files ``Layers`` names."""
    wanted = [source.resolve(name) for name in layer_names]
    by_id: dict[str, dict[str, Any]] = {}
    for top in source.top_level():
        if not _V1_ID.match(top) or not source.exists(f"{top}/json") \
                or source.resolve(f"{top}/layer.tar") not in wanted:
            continue
        doc = read_doc(top, f"{source.label}: {top + '/json'!r}")
        if doc.get("id") == top:
            by_id[top] = doc
    parents = {str(d.get("parent")) for d in by_id.values() if d.get("parent")}
    for top_id in sorted(set(by_id) - parents):  # one walk per image in the archive
        chain: list[dict[str, Any]] = []
        current: str | None = top_id
        while current is not None and current in by_id and len(chain) < len(layer_names):
            chain.append(by_id[current])
            parent = by_id[current].get("parent")
            current = str(parent) if parent else None
        chain.reverse()
        if current is None and [source.resolve(f"{d['id']}/layer.tar") for d in chain] == wanted:
            return legacy_chain(chain, where=source.label)
    return ()


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def docker_reference(tag: str) -> str:
    """The fully qualified name Docker records in ``io.containerd.image.name``:
    ``app:1`` is ``docker.io/library/app:1``, ``me/app`` is ``docker.io/me/app:latest``."""
    name = repo_tag(tag)
    first, slash, _ = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        name = f"docker.io/{name}" if slash else f"docker.io/library/{name}"
    return name


def write_docker_archive(image: Image, sink: Sink, *, tag: str | None = None,
                         progress: bool | None = None) -> None:
    """Write ``image`` as ``docker save`` (Docker 25 and later) does: an OCI layout and a
    ``manifest.json`` in one tar, plus the legacy per-layer directories (see the module doc).

    Every layer is stored once, uncompressed, as ``blobs/sha256/<diff_id>`` (so its
    sha256 is both its digest and its diff_id); ``<v1 id>/layer.tar`` is a symlink to it,
    next to that layer's legacy ``json`` and ``VERSION``. ``manifest.json`` names the
    blobs (as Docker 25 does; readers find the legacy directories by their links) and
    ``index.json`` leads to an OCI manifest of the same blobs (readers of ``oci-archive``
    find those). ``docker load``, ``skopeo`` and ``podman load`` read it.
    """
    legacy = image.legacy_layers
    config = image.config_bytes()
    config_desc = Descriptor(OCI_CONFIG, image.id, len(config))
    layer_descs = [Descriptor(OCI_LAYER, layer.diff_id, layer.tar_size) for layer in image.layers]
    manifest = _canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": config_desc.to_json(),
                           "layers": [d.to_json() for d in layer_descs]})
    annotations = {}
    if tag:
        annotations = {_CONTAINERD_NAME: docker_reference(tag),
                       REF_NAME: repo_tag(tag).rpartition(":")[2]}
    manifest_desc = Descriptor(OCI_MANIFEST, sha256_digest(manifest), len(manifest),
                               Platform(image.os, image.architecture), annotations)

    sink.add_bytes("oci-layout", _canonical({"imageLayoutVersion": "1.0.0"}))
    sink.add_dir("blobs")
    sink.add_dir("blobs/sha256")
    sink.add_bytes(blob_name(image.id), config)
    written = {image.id}
    total = sum(layer.tar_size for layer in image.layers)
    with progress_bar(total, "saving layers", progress) as bar:
        for layer in image.layers:
            if layer.diff_id not in written:
                written.add(layer.diff_id)
                sink.add_file(blob_name(layer.diff_id), layer.tar_size, layer.to_tar)
            bar.update(layer.tar_size)
    sink.add_bytes(blob_name(manifest_desc.digest), manifest)
    sink.add_bytes("index.json", _canonical({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                             "manifests": [manifest_desc.to_json()]}))
    for layer, v1 in zip(image.layers, legacy, strict=True):
        sink.add_dir(v1.id)
        sink.add_bytes(f"{v1.id}/VERSION", b"1.0")
        sink.add_bytes(f"{v1.id}/json", _canonical(v1.json))
        sink.add_symlink(f"{v1.id}/layer.tar", f"../{blob_name(layer.diff_id)}")
    tags = [repo_tag(tag)] if tag else None
    # Layers name the real files: skopeo takes a layer's size from the tar header of the
    # member named here, and a symlink's header says 0
    layer_names = [blob_name(layer.diff_id) for layer in image.layers]
    sink.add_bytes("manifest.json", _canonical(
        [{"Config": blob_name(image.id), "RepoTags": tags, "Layers": layer_names}]
    ))
    if tag and legacy:
        name, _, version = repo_tag(tag).rpartition(":")
        sink.add_bytes("repositories", _canonical({name: {version: legacy[-1].id}}))
