"""OCI image layouts: a directory (``oci:DIR``) or the same tree in a tar (``oci-archive:FILE``).

A layout holds ``oci-layout`` (the version), ``index.json`` (the entry point) and
``blobs/sha256/<hex>`` (every config, manifest and layer, named by digest)::

    index.json --> manifest --> config      (rootfs.diff_ids, history, Env, Cmd ...)
         |                  \\-> layers[0..n] (base first)
         \\--> index (one manifest per platform) --> manifest --> ...

Reading picks one manifest: by ``tag`` (the ``org.opencontainers.image.ref.name``
annotation) and by ``platform`` (default: this machine's). Every blob is checked for
size and digest, every layer for its diff_id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..digest import sha256_digest
from ..errors import InvalidImageError, LimitExceededError
from ..image import Image
from ..imagedoc import canonical_json as _canonical
from ..imagedoc import manifest_bytes
from ..layer import Layer
from ..limits import DEFAULT_LIMITS, Limits
from .descriptors import (
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    REF_NAME,
    Descriptor,
    Platform,
    document_kind,
    expect_object,
    host_platform,
    parse_index,
    parse_json,
    parse_manifest,
)
from .loaded import LoadedImage, image_from_config, layer_listed_again
from .sinks import Sink
from .sources import Source
from .verify import load_layer, progress_bar, read_verified_json

__all__ = ["manifest_bytes", "read_oci", "write_oci"]

_MAX_INDEX_DEPTH = 4
_CONTAINERD_NAME = "io.containerd.image.name"


def blob_name(digest: str) -> str:
    """``blobs/sha256/<hex>`` for a digest."""
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


@dataclass
class _Candidate:
    descriptor: Descriptor
    manifest: dict[str, Any]
    platform: Platform | None
    ref_name: str
    #: other names the same manifest was reached by
    aliases: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, source: Source, limits: Limits, spool_dir: str | None,
                 progress: bool | None) -> None:
        self.source = source
        self.limits = limits
        self.spool_dir = spool_dir
        self.progress = progress
        self.walked = 0

    def json_blob(self, desc: Descriptor, what: str) -> Any:
        stream, stored = self._open_blob(desc, what)
        return read_verified_json(stream, stored, size=desc.size, digest=desc.digest,
                                  what=f"{what} {desc.digest}", limits=self.limits)

    def _open_blob(self, desc: Descriptor, what: str, *, layer: bool = False) -> Any:
        """The blob's stream and size; a layer's is read in place where the source can
        (see :meth:`Source.open_layer <layerlab.formats.sources.Source.open_layer>`)."""
        name = blob_name(desc.digest)
        if not self.source.exists(name):
            raise InvalidImageError(
                f"{self.source.label}: {what} {desc.digest} is missing (no {name})"
            )
        return self.source.open_layer(name) if layer else self.source.open(name)

    # --- choosing a manifest -----------------------------------------------------------
    def candidates(self, index: Any, where: str, depth: int, ref: str,
                   seen: dict[str, list[_Candidate]] | None = None) -> list[_Candidate]:
        """Every image manifest ``index`` leads to, each digest once.

        A name given at the top (``org.opencontainers.image.ref.name`` on the descriptor of
        a nested index) names everything below it and wins over names further down; a
        manifest (or index) reached twice is walked once and is one image, with every name
        it was reached by. Depth is capped at 4 and the descriptors walked in all at
        ``Limits.max_manifests`` (a 14 KB layout can otherwise fan out 40**4 times).
        """
        if depth > _MAX_INDEX_DEPTH:
            raise LimitExceededError(
                f"{where}: indexes nested more than {_MAX_INDEX_DEPTH} deep (an image index "
                "lists platforms, it does not nest further)")
        seen = {} if seen is None else seen
        out: list[_Candidate] = []
        for i, desc in enumerate(parse_index(index, where=where)):
            self.walked += 1
            if self.walked > self.limits.max_manifests:
                raise LimitExceededError(
                    f"{where}: more than max_manifests={self.limits.max_manifests} manifest "
                    "descriptors in the layout's indexes; raise Limits.max_manifests")
            here = f"{where}: manifests[{i}]"
            name = ref or desc.ref_name
            if desc.digest in seen:  # walked already: the same images, maybe one more name
                for cand in seen[desc.digest]:
                    if name and not cand.ref_name:
                        cand.ref_name = name
                    elif name and name != cand.ref_name and name not in cand.aliases:
                        cand.aliases.append(name)
                    if cand not in out:
                        out.append(cand)
                continue
            known = desc.media_type in INDEX_MEDIA_TYPES | MANIFEST_MEDIA_TYPES
            if not known and (desc.size > self.limits.max_json_bytes
                              or not self.source.exists(blob_name(desc.digest))):
                continue  # an artifact of a type layerlab does not know: not an image
            doc = self.json_blob(desc, "manifest")
            try:
                kind = document_kind(doc, where=f"{here} ({desc.digest})")
            except InvalidImageError:
                if known:
                    raise
                continue
            if kind == "index":
                seen[desc.digest] = []
                found = self.candidates(doc, f"{here} ({desc.digest})", depth + 1, name, seen)
                seen[desc.digest] = found
                out += [c for c in found if c not in out]
            else:
                cand = _Candidate(desc, doc, desc.platform, name)
                seen[desc.digest] = [cand]
                out.append(cand)
        return out

    def choose(self, cands: list[_Candidate], *, tag: str | None,
               platform: str | None) -> _Candidate:
        label = self.source.label
        if tag is not None:
            cands = [c for c in cands if tag in (c.ref_name, *c.aliases,
                     c.descriptor.annotations.get(_CONTAINERD_NAME))]
            if not cands:
                raise InvalidImageError(f"{label}: no image tagged {tag!r}")
        # attestation manifests (buildx) claim the platform unknown/unknown
        cands = [c for c in cands if c.platform is None or c.platform.os != "unknown"] or cands
        if not cands:
            raise InvalidImageError(f"{label}: index.json lists no image manifest")
        if platform is None and len(cands) == 1:
            return cands[0]
        for c in cands:
            if c.platform is None:
                c.platform = self._config_platform(c)
        try:
            wanted = Platform.parse(platform) if platform is not None else host_platform()
        except ValueError as exc:
            raise InvalidImageError(str(exc)) from exc
        matching = [c for c in cands if c.platform is None or c.platform.matches(wanted)]
        listing = ", ".join(
            f"{c.platform or '?'}" + (f" ({c.ref_name})" if c.ref_name else "") for c in cands
        )
        if len(matching) == 1:
            return matching[0]
        if not matching:
            raise InvalidImageError(
                f"{label}: no image for platform {wanted}; available: {listing}; "
                "choose one with platform='os/arch'"
            )
        raise InvalidImageError(
            f"{label}: {len(matching)} images match platform {wanted}: {listing}; "
            "choose one with platform='os/arch[/variant]' or tag=..."
        )

    def _config_platform(self, cand: _Candidate) -> Platform | None:
        config_desc, _ = parse_manifest(cand.manifest, where=f"manifest {cand.descriptor.digest}")
        return Platform.from_json(self.json_blob(config_desc, "config"))

    # --- the image ---------------------------------------------------------------------
    def image(self, cand: _Candidate) -> tuple[Image, Platform | None]:
        where = f"manifest {cand.descriptor.digest}"
        config_desc, layer_descs = parse_manifest(cand.manifest, where=where)
        config = self.json_blob(config_desc, "config")
        expect_object(config, f"config {config_desc.digest}")
        total = sum(d.size for d in layer_descs)

        with progress_bar(total, "loading layers", self.progress) as bar:

            loaded: dict[tuple[str, int], Layer] = {}  # a blob listed again is read once

            def load(i: int, diff_id: str, history: Mapping[str, Any]) -> Layer:
                desc = layer_descs[i]
                again = loaded.get((desc.digest, desc.size))
                if again is not None:
                    return layer_listed_again(again, diff_id, history,
                                              where=f"layer {i} (blob {desc.digest})")
                stream, stored = self._open_blob(desc, f"layer {i}", layer=True)
                layer = load_layer(
                    stream, stored, size=desc.size, digest=desc.digest, diff_id=diff_id,
                    what=f"layer {i} (blob {desc.digest})", history=history,
                    limits=self.limits, spool_dir=self.spool_dir,
                )
                bar.update(desc.size)
                loaded[(desc.digest, desc.size)] = layer
                return layer

            stream, _ = self._open_blob(config_desc, "config")
            with stream:  # verified above: these bytes hash to the config digest
                raw = stream.read(config_desc.size + 1)
            image = image_from_config(config, len(layer_descs), load,
                                      where=f"config {config_desc.digest}", raw=raw)
        return image, Platform.from_json(config)


def read_oci(
    source: Source,
    *,
    format: str,
    platform: str | None = None,
    tag: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    spool_dir: str | None = None,
    progress: bool | None = None,
) -> LoadedImage:
    """Read the image an OCI layout's ``index.json`` leads to (see the module doc)."""
    reader = _Reader(source, limits, spool_dir, progress)
    if source.exists("oci-layout"):
        layout = parse_json(
            source.read_bytes("oci-layout", cap=limits.max_json_bytes, cap_name="max_json_bytes"),
            where=f"{source.label}: oci-layout", limits=limits,
        )
        expect_object(layout, f"{source.label}: oci-layout")
    where = f"{source.label}: index.json"
    index = parse_json(
        source.read_bytes("index.json", cap=limits.max_json_bytes, cap_name="max_json_bytes"),
        where=where, limits=limits,
    )
    if document_kind(index, where=where) != "index":
        raise InvalidImageError(f"{where}: is a manifest, an OCI layout needs an index here")
    chosen = reader.choose(reader.candidates(index, where, 0, ""), tag=tag, platform=platform)
    image, plat = reader.image(chosen)
    tags = tuple(n for n in (chosen.ref_name, *chosen.aliases) if n)
    return LoadedImage(image, format, tags, str(plat or ""))


def write_oci(image: Image, sink: Sink, *, tag: str | None = None,
              progress: bool | None = None) -> None:
    """Write ``image`` as an OCI layout into ``sink`` (``index.json`` last).

    ``tag`` becomes the ``org.opencontainers.image.ref.name`` annotation (default
    ``latest``), the name ``umoci`` and ``skopeo`` use to pick the image.
    """
    config = image.config_bytes()
    manifest = manifest_bytes(image)
    manifest_desc = Descriptor(
        OCI_MANIFEST, sha256_digest(manifest), len(manifest),
        Platform(image.os, image.architecture), {REF_NAME: tag or "latest"},
    )
    index = _canonical({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": [manifest_desc.to_json()]})
    sink.add_bytes("oci-layout", _canonical({"imageLayoutVersion": "1.0.0"}))
    sink.add_dir("blobs")
    sink.add_dir("blobs/sha256")
    written = {image.id}
    sink.add_bytes(blob_name(image.id), config)
    total = sum(layer.compressed_size for layer in image.layers)
    with progress_bar(total, "saving layers", progress) as bar:
        for layer in image.layers:
            if layer.digest in written:
                continue
            written.add(layer.digest)
            sink.add_file(blob_name(layer.digest), layer.compressed_size, layer.blob)
            bar.update(layer.compressed_size)
    sink.add_bytes(blob_name(manifest_desc.digest), manifest)
    sink.add_bytes("index.json", index)
