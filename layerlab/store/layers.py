"""Layers of the ``overlay2`` and ``aufs`` layouts: blobs, layer directories, layerdb.

:class:`LayerFiles` owns, for one :class:`~layerlab.store.layout.Layout`, everything a
layer is on disk: its exact tar stream under ``blobs/``, its files under
``overlay2/<cache-id>/diff`` (with ``link``, ``lower`` and the ``l/`` short link) or
``aufs/diff/<id>`` (with ``aufs/layers`` and ``graph``), and its record under
``image/<driver>/layerdb/sha256/<chain-id>``. A layer exists once its layerdb record does;
the record is written last and removed first. It knows nothing of images, tags or
containers. The containerd layout keeps layers as snapshots instead
(:mod:`layerlab.store.containerd`).

>>> import tempfile
>>> from layerlab import Layer
>>> from layerlab.store.layout import Layout
>>> layers = LayerFiles(Layout(tempfile.mkdtemp(), "overlay2"))
>>> layer = Layer.from_dict({"/etc/motd": "hi\\n"})
>>> layers.put(layer, layer.diff_id, None, [], {}, overlay_form(as_root=False))
>>> layers.chains() == [layer.diff_id], layers.size(layer.diff_id) == layer.size
(True, True)
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from .._fsutil import remove_tree
from ..layer import Layer
from ..overlaydir import write_overlay_dir
from .durable import TMP_MARK, atomic_write, discard_dir, read_text, replace_dir, write_blob
from .durable import write_text as _write
from .layout import Layout

__all__ = ["LayerFiles", "overlay_form"]


def overlay_form(*, as_root: bool, allow_setuid: bool = False,
                 allow_devices: bool = False) -> dict[str, Any]:
    """The keyword arguments of :func:`~layerlab.overlaydir.write_overlay_dir` for a store:
    as root the kernel's own form (``trusted.overlay.*`` xattrs, whiteouts as character
    devices 0/0), otherwise the unprivileged one (``user.overlay.*``, xattr whiteouts).

    >>> overlay_form(as_root=False)["whiteout_form"], overlay_form(as_root=True)["whiteout_form"]
    ('xattr', 'chardev')
    """
    safety = {"allow_setuid": allow_setuid, "create_devices": allow_devices}
    if as_root:
        return {"xattr_namespace": "trusted", "whiteout_form": "chardev", **safety}
    return {"xattr_namespace": "user", "whiteout_form": "xattr", **safety}


class LayerFiles:
    """The layers of one overlay2 or aufs store root (see the module docstring)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    # --- reading the records -------------------------------------------------------------
    def has(self, chain_id: str) -> bool:
        """Whether the layer is recorded (its layerdb ``diff`` file exists)."""
        return os.path.isfile(os.path.join(self.layout.layerdb(chain_id), "diff"))

    def chains(self) -> list[str]:
        """Every recorded chain id, sorted (interrupted writes left out)."""
        try:
            names = os.listdir(self.layout.layerdb_root())
        except FileNotFoundError:
            return []
        return sorted("sha256:" + n for n in names if TMP_MARK not in n)

    def record(self, chain_id: str) -> str:
        """The layer's layerdb directory (``diff``, ``size``, ``cache-id``, ``parent``)."""
        return self.layout.layerdb(chain_id)

    def diff_id(self, chain_id: str) -> str:
        """The layer's diff id, or ``""`` when it has no record."""
        try:
            return read_text(os.path.join(self.layout.layerdb(chain_id), "diff"))
        except FileNotFoundError:
            return ""

    def size(self, chain_id: str) -> int:
        """The layer's size as its record gives it (0 when there is none)."""
        try:
            with open(os.path.join(self.layout.layerdb(chain_id), "size")) as f:
                return int(f.read())
        except (FileNotFoundError, ValueError):
            return 0

    def parent(self, chain_id: str) -> str | None:
        """The parent chain id in the layer's record (``None`` for a base layer)."""
        try:
            return read_text(os.path.join(self.layout.layerdb(chain_id), "parent"))
        except FileNotFoundError:
            return None

    def diff_dir(self, chain_id: str) -> str:
        """The directory holding the layer's files."""
        return self.layout.layer_diff(self.layout.layer_id(chain_id))

    def blob(self, diff_id: str) -> str:
        """Where the layer's exact tar stream is kept."""
        return self.layout.blob(diff_id)

    def unrecorded_blobs(self) -> list[str]:
        """Blobs no layer record names: an import interrupted or out of space."""
        recorded = {self.diff_id(c) for c in self.chains()}
        try:
            names = os.listdir(self.layout.blobs_root())
        except FileNotFoundError:
            return []
        return [os.path.join(self.layout.blobs_root(), n) for n in names
                if TMP_MARK not in n and f"sha256:{n}" not in recorded]

    # --- writing -------------------------------------------------------------------------
    def put(self, layer: Layer, chain: str, parent: str | None, parents: list[str],
            legacy: dict[str, Any], form: dict[str, Any]) -> None:
        """Record a layer: its blob, its files, then its layerdb record; a layer already
        recorded is left alone. ``parents`` are the chain ids below it, nearest first;
        ``legacy`` is the aufs layout's ``graph/<id>/json``; ``form`` is :func:`overlay_form`.
        A write that fails (a full disk) removes the blob it wrote."""
        if self.has(chain):
            return
        blob = self.layout.blob(layer.diff_id)
        fresh = not os.path.exists(blob)
        write_blob(blob, layer.diff_id, layer.tar_size, lambda f: layer.to_tar(f))
        try:
            self._put_files(layer, chain, parent, parents, legacy, form)
        except BaseException:
            if fresh:  # a layer that cannot be written (a full disk) leaves no orphan blob
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(blob)
            raise

    def _put_files(self, layer: Layer, chain: str, parent: str | None, parents: list[str],
                   legacy: dict[str, Any], form: dict[str, Any]) -> None:
        layout = self.layout
        layer_id = layout.layer_id(chain)
        if layout.driver == "overlay2":
            short_name = layout.short_link(layer_id)
            lower = ":".join(f"l/{layout.short_link(layout.layer_id(p))}" for p in parents)

            def build(tmp: str) -> None:
                os.makedirs(tmp)
                write_overlay_dir(layer, os.path.join(tmp, "diff"), **form)
                _write(os.path.join(tmp, "link"), short_name)
                if lower:
                    _write(os.path.join(tmp, "lower"), lower)

            replace_dir(build, layout.layer_home(layer_id))
            links = os.path.join(layout.root, "overlay2", "l")
            os.makedirs(links, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.symlink(f"../{layer_id}/diff", os.path.join(links, short_name))
        else:
            replace_dir(lambda tmp: write_overlay_dir(layer, tmp, **form),
                        layout.layer_home(layer_id))
            atomic_write(layout.aufs_layers(layer_id),
                         "".join(f"{layout.layer_id(p)}\n" for p in parents).encode())
            graph = dict(legacy, id=layer_id)
            if parent is not None:
                graph["parent"] = layout.layer_id(parent)
            atomic_write(os.path.join(layout.graph(layer_id), "json"),
                         json.dumps(graph, sort_keys=True).encode())
            atomic_write(os.path.join(layout.graph(layer_id), "layersize"),
                         str(layer.size).encode())

        def record(tmp: str) -> None:  # the layer exists once its layerdb entry does
            os.makedirs(tmp)
            _write(os.path.join(tmp, "diff"), layer.diff_id)
            _write(os.path.join(tmp, "size"), str(layer.size))
            _write(os.path.join(tmp, "cache-id"), layer_id)
            if parent is not None:
                _write(os.path.join(tmp, "parent"), parent)

        replace_dir(record, layout.layerdb(chain))

    def remove(self, chain: str, *, keep_blob: bool) -> None:
        """Take a layer out of the store: its record first, then its files and links, then
        (unless ``keep_blob``: another layer has the same diff id) its blob. Each directory
        goes by one rename, so a kill part-way leaves a leftover, never a half-deleted
        record or layer."""
        layout = self.layout
        layer_id = layout.layer_id(chain)
        diff_id = self.diff_id(chain)
        discard_dir(layout.layerdb(chain))
        discard_dir(layout.layer_home(layer_id))
        if layout.driver == "overlay2":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(layout.root, "overlay2", "l", layout.short_link(layer_id)))
        else:
            remove_tree(layout.graph(layer_id))
            with contextlib.suppress(FileNotFoundError):
                os.unlink(layout.aufs_layers(layer_id))
        if diff_id and not keep_blob:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(layout.blob(diff_id))

