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
read through ``manifest.json``. Symlinks inside the archive are resolved inside it.
The legacy ``json`` files and their ``parent`` pointers are read, checked (no cycle,
nothing dangling, the same order as ``Layers``) and returned in
:attr:`LoadedImage.legacy_layers`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidImageError
from ..image import Image
from ..layer import Layer
from ..limits import DEFAULT_LIMITS, Limits
from .descriptors import Platform, expect_object, parse_json
from .loaded import LoadedImage, image_from_config, legacy_chain
from .sinks import Sink
from .sources import Source
from .verify import load_layer, progress_bar, read_verified_json

__all__ = ["read_docker_archive", "repo_tag", "write_docker_archive"]

_NAMED_BY_DIGEST = re.compile(r"^(?:\./)?(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?$")


def repo_tag(tag: str) -> str:
    """``name:tag`` as ``RepoTags`` spells it (``app`` means ``app:latest``)."""
    return tag if ":" in tag.rpartition("/")[2] else f"{tag}:latest"


def _digest_in_name(name: str) -> str | None:
    match = _NAMED_BY_DIGEST.match(name)
    return f"sha256:{match.group(1)}" if match else None


def _choose(entries: list[Any], tag: str | None, where: str) -> dict[str, Any]:
    objs = [expect_object(e, f"{where}[{i}]") for i, e in enumerate(entries)]
    if not objs:
        raise InvalidImageError(f"{where}: lists no image")
    if tag is not None:
        wanted = {tag, repo_tag(tag)}
        found = [o for o in objs if wanted & set(o.get("RepoTags") or [])]
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
    stream, stored = source.open(config_name)
    config = read_verified_json(stream, stored, size=None, digest=_digest_in_name(config_name),
                                what=f"{source.label}: config {config_name!r}", limits=limits)
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

        def load(i: int, diff_id: str, history: Mapping[str, Any]) -> Layer:
            name = layer_names[i]
            blob, size = source.open(name)
            layer = load_layer(
                blob, size, size=None, digest=_digest_in_name(name), diff_id=diff_id,
                what=f"layer {i} ({name})", history=history, limits=limits,
                spool_dir=spool_dir,
            )
            bar.update(size)
            return layer

        stream, _ = source.open(config_name)
        with stream:  # verified above: these bytes hash to the config digest
            raw = stream.read(limits.max_json_bytes + 1)
        image = image_from_config(config, len(layer_names), load,
                                  where=f"config {config_name!r}", raw=raw)
    tags = tuple(str(t) for t in entry.get("RepoTags") or ())
    return LoadedImage(image, "docker-archive", tags, str(found or ""), legacy)


def _legacy_docs(source: Source, layer_names: list[str], limits: Limits) -> tuple[Any, ...]:
    """The ``<id>/json`` of every layer stored as ``<id>/layer.tar``, checked as a chain."""
    docs: list[dict[str, Any]] = []
    for i, name in enumerate(layer_names):
        head, _, tail = name.rpartition("/")
        json_name = f"{head}/json"
        if tail != "layer.tar" or not head or not source.exists(json_name):
            continue
        where = f"{source.label}: layer {i}: {json_name!r}"
        raw = source.read_bytes(json_name, cap=limits.max_json_bytes, cap_name="max_json_bytes")
        docs.append(expect_object(parse_json(raw, where=where, limits=limits), where))
    if not docs:
        return ()
    if len(docs) != len(layer_names):
        raise InvalidImageError(
            f"{source.label}: legacy json found for {len(docs)} of {len(layer_names)} layers; "
            "the parent chain is dangling"
        )
    return legacy_chain(docs, where=source.label)


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def write_docker_archive(image: Image, sink: Sink, *, tag: str | None = None,
                         progress: bool | None = None) -> None:
    """Write ``image`` in the legacy ``docker save`` layout (see the module doc).

    Layers are stored uncompressed as ``layer.tar``, so each file's sha256 is the
    layer's diff_id; ``docker load``, ``skopeo`` and ``podman load`` read it.
    """
    legacy = image.legacy_layers
    layer_names = []
    total = sum(layer.tar_size for layer in image.layers)
    with progress_bar(total, "saving layers", progress) as bar:
        for layer, v1 in zip(image.layers, legacy, strict=True):
            sink.add_dir(v1.id)
            sink.add_bytes(f"{v1.id}/VERSION", b"1.0")
            sink.add_bytes(f"{v1.id}/json", _canonical(v1.json))
            sink.add_file(f"{v1.id}/layer.tar", layer.tar_size, layer.to_tar)
            layer_names.append(f"{v1.id}/layer.tar")
            bar.update(layer.tar_size)
    config_name = image.id.partition(":")[2] + ".json"
    sink.add_bytes(config_name, image.config_bytes())
    tags = [repo_tag(tag)] if tag else None
    sink.add_bytes("manifest.json", _canonical(
        [{"Config": config_name, "RepoTags": tags, "Layers": layer_names}]
    ))
    if tag and legacy:
        name, _, version = repo_tag(tag).rpartition(":")
        sink.add_bytes("repositories", _canonical({name: {version: legacy[-1].id}}))
