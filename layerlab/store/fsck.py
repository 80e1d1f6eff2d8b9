"""Checking a store (``verify``): every record, every blob re-hashed, every problem listed.

For the ``overlay2`` and ``aufs`` layouts :func:`verify_layers`, :func:`verify_images`
and :func:`verify_containers` add what they find to a
:class:`~layerlab.store.records.VerifyReport`; :func:`compare_diff` (a layer's files on
disk against its blob) serves the containerd layout too
(:mod:`layerlab.store.containerd_gc`). Nothing here writes to the store.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..digest import chain_ids, sha256_digest, short
from ..entry import EntryKind
from ..errors import LayerlabError
from ..layer import Layer
from ..overlaydir import read_overlay_dir
from .durable import hash_file, read_text
from .imagedb import ImageDB
from .layers import LayerFiles
from .layout import Layout
from .records import VerifyReport

__all__ = ["compare_diff", "verify_containers", "verify_images", "verify_layers"]


def verify_layers(report: VerifyReport, layers: LayerFiles, *, deep: bool) -> None:
    """Each layer record: complete, its chain id right, its parent, blob (re-hashed) and
    directory present, its size right; ``deep`` also compares its files with its blob."""
    for chain in layers.chains():
        report.layers += 1
        where = f"layer {short(chain)}"
        db = layers.record(chain)
        try:
            diff_id = read_text(os.path.join(db, "diff"))
            size = int(read_text(os.path.join(db, "size")))
            cache_id = read_text(os.path.join(db, "cache-id"))
        except (FileNotFoundError, ValueError) as exc:
            report.problems.append(f"{where}: layerdb record incomplete ({exc})")
            continue
        parent = layers.parent(chain)
        expected = diff_id if parent is None else sha256_digest(f"{parent} {diff_id}".encode())
        if expected != chain:
            report.problems.append(f"{where}: chain id does not match parent + diff_id")
        if parent is not None and not layers.has(parent):
            report.problems.append(f"{where}: parent layer {short(parent)} is missing")
        blob = layers.blob(diff_id)
        if not os.path.exists(blob):
            report.problems.append(f"{where}: blob {diff_id} is missing ({blob})")
            continue
        actual = hash_file(blob)
        if actual != diff_id:
            report.problems.append(f"{where}: blob {blob} hashes to {actual}, not {diff_id}")
            continue
        diff = layers.layout.layer_diff(cache_id)
        if not os.path.isdir(diff):
            report.problems.append(f"{where}: diff directory {diff} is missing")
            continue
        layer = Layer.from_tar(blob)
        if layer.size != size:
            report.problems.append(f"{where}: size file says {size}, layer has {layer.size}")
        if deep:
            compare_diff(report, where, layer, diff)


def compare_diff(report: VerifyReport, where: str, layer: Layer, diff: str) -> None:
    """Every regular file of ``layer`` is in the directory ``diff`` with the same bytes."""
    try:
        on_disk = read_overlay_dir(diff)
    except (LayerlabError, OSError) as exc:
        report.problems.append(f"{where}: cannot read {diff}: {exc}")
        return
    want = {e.path: e.digest for e in layer.content_entries if e.kind is EntryKind.FILE}
    have = {e.path: e.digest for e in on_disk.content_entries
            if e.kind in (EntryKind.FILE, EntryKind.HARDLINK)}
    for path, digest in sorted(want.items()):
        if path not in have:
            report.problems.append(f"{where}: file {path} is missing from {diff}")
        elif have[path] is not None and have[path] != digest:
            report.problems.append(f"{where}: file {path} in {diff} was changed "
                                   f"(hashes to {have[path]}, layer says {digest})")


def verify_images(report: VerifyReport, imagedb: ImageDB, tags: Mapping[str, str],
                  has_layer: Callable[[str], bool]) -> None:
    """Each config hashes to its id and is a config whose layers are all present; each
    tag points at an image that is there."""
    images = set(imagedb.ids())
    for image_id in sorted(images):
        report.images += 1
        where = f"image {short(image_id)}"
        path = imagedb.path(image_id)
        actual = hash_file(path)
        if actual != image_id:
            report.problems.append(f"{where}: config {path} hashes to {actual}")
            continue
        try:
            diff_ids = imagedb.config(image_id)["rootfs"]["diff_ids"]
        except (ValueError, KeyError) as exc:
            report.problems.append(f"{where}: config is not a valid image config ({exc})")
            continue
        for i, chain in enumerate(chain_ids(diff_ids)):
            if not has_layer(chain):
                report.problems.append(f"{where}: layer {i} ({short(chain)}) is missing")
    for tag, image_id in sorted(tags.items()):
        if image_id not in images:
            report.problems.append(f"tag {tag}: points at missing image {short(image_id)}")


def verify_containers(report: VerifyReport, layout: Layout, container_ids: Iterable[str],
                      image_ids: Iterable[str]) -> None:
    """Each finished container's ``config.v2.json`` is readable, names an image that is
    there, and its read-write layer directory exists."""
    images = set(image_ids)
    for cid in container_ids:  # unfinished ones are leftovers, not corruption
        report.containers += 1
        where = f"container {cid[:12]}"
        try:
            with open(os.path.join(layout.container_home(cid), "config.v2.json")) as f:
                doc: dict[str, Any] = json.load(f)
        except (FileNotFoundError, ValueError) as exc:
            report.problems.append(f"{where}: config.v2.json unreadable ({exc})")
            continue
        if doc.get("Image") not in images:
            report.problems.append(f"{where}: its image {doc.get('Image')} is missing")
        if not os.path.isdir(layout.container_diff(cid)):
            report.problems.append(f"{where}: read-write layer directory is missing")
