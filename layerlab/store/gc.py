"""Garbage of the ``overlay2`` and ``aufs`` layouts: unused layers and leftovers.

:func:`unused_layers` lists the recorded layers no image uses, every layer before its
parent (a kill between two removals must not leave a recorded layer whose parent is
gone); :func:`prune_layers` removes them. :func:`leftovers` finds what interrupted writes
left: temporary names (:data:`~layerlab.store.durable.TMP_MARK`), a container whose
creation was cut before its ``config.v2.json``, a blob whose layer was never recorded.
The containerd layout has its own collector (:mod:`layerlab.store.containerd_gc`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

from .durable import TMP_MARK
from .initlayer import overlay2_init_id
from .layers import LayerFiles
from .layout import Layout

__all__ = ["leftovers", "prune_layers", "unused_layers"]


def unused_layers(layers: LayerFiles, used: set[str]) -> list[str]:
    """Recorded chain ids not in ``used``, every layer before its parent.

    >>> import tempfile
    >>> from layerlab import Image, Layer
    >>> from layerlab.store.layers import overlay_form
    >>> layers = LayerFiles(Layout(tempfile.mkdtemp(), "overlay2"))
    >>> img = Image.from_layers([Layer.from_dict({"/a": "a"}), Layer.from_dict({"/b": "b"})])
    >>> c0, c1 = img.chain_ids
    >>> for i, layer in enumerate(img.layers):
    ...     layers.put(layer, img.chain_ids[i], c0 if i else None, [c0][:i], {},
    ...                overlay_form(as_root=False))
    >>> unused_layers(layers, set()) == [c1, c0], unused_layers(layers, {c1}) == [c0]
    (True, True)
    """
    unused = [c for c in layers.chains() if c not in used]
    parent_of: dict[str, str] = {}
    for chain in unused:
        parent = layers.parent(chain)
        if parent is not None:
            parent_of[chain] = parent

    def depth(chain: str) -> int:
        n = 0
        while chain in parent_of and n <= len(parent_of):
            chain, n = parent_of[chain], n + 1
        return n

    return sorted(unused, key=depth, reverse=True)


def prune_layers(layers: LayerFiles, used: set[str]) -> tuple[list[str], int]:
    """Remove every layer not in ``used`` (top down); returns the chain ids removed and
    the bytes their records gave. A blob goes with its last layer."""
    still = {layers.diff_id(c) for c in layers.chains() if c in used}
    removed, reclaimed = [], 0
    for chain in unused_layers(layers, used):
        reclaimed += layers.size(chain)
        layers.remove(chain, keep_blob=layers.diff_id(chain) in still)
        removed.append(chain)
    return removed, reclaimed


def leftovers(layout: Layout, layers: LayerFiles, unfinished: Iterable[str]) -> list[str]:
    """Temporary files and directories left by interrupted writes, sorted; ``unfinished``
    are the container ids whose ``config.v2.json`` was never written."""
    root = layout.root
    roots = [root, layout.blobs_root(), layout.layerdb_root(),
             layout.imagedb_root(), os.path.dirname(layout.repositories()),
             layout.containers_root(), os.path.join(root, "overlay2"),
             os.path.join(root, "aufs", "diff"), os.path.join(root, "aufs", "layers"),
             os.path.join(root, "graph"),
             os.path.join(root, "image", layout.driver, "layerdb", "mounts")]
    found = []
    for top in roots:
        try:
            names = os.listdir(top)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            path = os.path.join(top, name)
            if TMP_MARK in name:
                found.append(path)
            elif os.path.isdir(path) and not os.path.islink(path) and top != root:
                with contextlib.suppress(OSError):
                    found += [os.path.join(path, n) for n in os.listdir(path) if TMP_MARK in n]
    # a container whose creation was cut before its config.v2.json was written
    for cid in unfinished:
        found += [p for p in (layout.container_home(cid), layout.container_layer_home(cid),
                              layout.layer_home(overlay2_init_id(layout, cid)),
                              layout.mounts(cid)) if os.path.lexists(p)]
    # a blob whose layer was never recorded (an import interrupted or out of space)
    found += layers.unrecorded_blobs()
    return sorted(set(found))
