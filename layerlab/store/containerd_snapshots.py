"""Snapshots of the containerd layout: prepare, fill, commit, as the overlayfs
snapshotter does them.

A snapshot has two records, the snapshotter's (``metadata.db``: its directory number,
kind, parent) and containerd's (``meta.db``: its key in the ``moby`` namespace, labels,
children), and a directory ``snapshots/<number>/{fs,work}``. :meth:`Snapshots.prepare`
writes the snapshotter's record first (a kill then leaves an orphan the collector
removes), then containerd's; :meth:`Snapshots.commit` renames both records, keeping the
directory. It knows nothing of images or containers (:mod:`layerlab.store.containerd`).

>>> import tempfile
>>> from layerlab import Layer
>>> from layerlab.store.layers import overlay_form
>>> snaps = Snapshots(ContainerdLayout(tempfile.mkdtemp()))
>>> layer = Layer.from_dict({"/etc/motd": "hi\\n"})
>>> snaps.unpack(layer, layer.diff_id, None, overlay_form(as_root=False))
>>> [(r["kind"], r["number"]) for r in snaps.records()]
[('committed', 1)]
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from ..digest import short
from ..layer import Layer
from ..overlaydir import write_overlay_dir
from .containerd_layout import NAMESPACE, TIMESTAMP, ContainerdLayout, MetaDB, SnapshotDB
from .durable import replace_dir

__all__ = ["Snapshots"]


class Snapshots:
    """The snapshots of one containerd store root (see the module docstring)."""

    def __init__(self, layout: ContainerdLayout) -> None:
        self.layout = layout

    def _dbs(self) -> tuple[MetaDB, SnapshotDB]:
        return MetaDB(self.layout.meta_db()), SnapshotDB(self.layout.snapshot_db())

    def has(self, key: str) -> bool:
        """Whether containerd has a snapshot ``key`` (a layer's chain id, a container id)."""
        return key in MetaDB(self.layout.meta_db()).snapshots

    def records(self) -> list[dict[str, Any]]:
        """Every snapshot: key, kind, number (directory), parent, labels, sorted by number."""
        meta, snaps = self._dbs()
        rows = []
        for key, rec in meta.snapshots.items():
            backend = snaps.snapshots.get(rec.get("name", ""), {})
            rows.append({"key": key, "kind": backend.get("kind", "?"),
                         "number": backend.get("id"), "parent": rec.get("parent", ""),
                         "labels": dict(rec.get("labels", {}))})
        return sorted(rows, key=lambda r: (r["number"] is None, r["number"] or 0))

    def prepare(self, key: str, parent: str | None) -> int:
        """An active snapshot ``key`` on ``parent`` (a committed key): records, then dirs.
        Returns its directory number; ``LookupError`` (its message names both) when
        ``parent`` does not exist."""
        meta, snaps = self._dbs()
        parent_name = ""
        if parent is not None:
            if parent not in meta.snapshots:
                raise LookupError(f"snapshot {key}: parent snapshot {parent} does not exist")
            parent_name = meta.snapshots[parent]["name"]
        name = f"{NAMESPACE}/{meta.next_seq()}/{key}"
        number = snaps.next_id()
        snaps.snapshots[name] = {"id": number, "kind": "active", "parent": parent_name,
                                 "createdat": TIMESTAMP, "labels": {}, "size": 0, "inodes": 0}
        snaps.save()  # the snapshotter first: a kill here leaves an orphan gc removes
        meta.snapshots[key] = {"name": name, "parent": parent or "", "createdat": TIMESTAMP,
                               "updatedat": TIMESTAMP, "labels": {}}
        meta.save()
        return number

    def fill(self, number: int, layer: Layer, form: dict[str, Any]) -> None:
        """Write ``layer``'s files (in the overlay ``form``) as snapshot ``number``'s ``fs``
        (one rename), and make its ``work`` directory."""
        fs = self.layout.snapshot_fs(number)
        with contextlib.suppress(FileNotFoundError):
            if not os.listdir(fs):
                os.rmdir(fs)
        replace_dir(lambda tmp: write_overlay_dir(layer, tmp, **form), fs)
        os.makedirs(self.layout.snapshot_work(number), exist_ok=True)

    def commit(self, key: str, name: str, labels: dict[str, str], size: int) -> None:
        """Commit the active snapshot ``key`` as ``name`` (same directory, new record)."""
        meta, snaps = self._dbs()
        active = meta.snapshots.pop(key)
        backend = snaps.snapshots.pop(active["name"])
        seq = active["name"].split("/")[1]
        committed = f"{NAMESPACE}/{seq}/{name}"
        backend.update(kind="committed", size=size)
        snaps.snapshots[committed] = backend
        snaps.save()
        parent = active.get("parent", "")
        meta.snapshots[name] = {"name": committed, "parent": parent, "createdat": TIMESTAMP,
                                "updatedat": TIMESTAMP, "labels": labels, "children": []}
        if parent and parent in meta.snapshots:
            kids = meta.snapshots[parent].setdefault("children", [])
            if name not in kids:
                kids.append(name)
                kids.sort()
        meta.save()

    def unpack(self, layer: Layer, chain: str, parent: str | None,
               form: dict[str, Any]) -> None:
        """The committed snapshot ``chain`` of ``layer`` on ``parent``, as containerd
        unpacks a layer (an active ``extract-`` snapshot, filled, committed); a snapshot
        already there is left alone."""
        if self.has(chain):
            return
        key = f"extract-{short(chain)}-{os.getpid()}"
        number = self.prepare(key, parent)
        self.fill(number, layer, form)
        self.commit(key, chain, {"containerd.io/snapshot.ref": chain}, layer.size)
