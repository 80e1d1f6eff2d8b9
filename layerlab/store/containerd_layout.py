"""Where things go in the containerd layout, and the two metadata databases as records.

The store root plays the part of ``/var/lib/containerd``, the home of the containerd
image store that Docker Engine 29+ (fresh installs) and Docker Desktop 4.34+ use by
default::

    io.containerd.content.v1.content/blobs/sha256/<hex>   every blob as pulled or saved,
                                                          byte for byte: compressed layers,
                                                          image indexes, manifests, configs
    io.containerd.content.v1.content/ingest/<ref hash>/   a download in progress (data, ref)
    io.containerd.snapshotter.v1.overlayfs/snapshots/<n>/fs    an unpacked layer, or a
                                                          container's upper directory
    io.containerd.snapshotter.v1.overlayfs/snapshots/<n>/work  overlayfs's work directory
    io.containerd.snapshotter.v1.overlayfs/metadata.db    the snapshotter's own records
    io.containerd.metadata.v1.bolt/meta.db                images, content labels,
                                                          snapshots, leases, containers

**Faithful:** those paths; the blobs (their bytes hash to their names); one committed
snapshot per chain id, named by the chain id and with its parent's chain id as parent,
numbered ``1, 2, 3...`` in the order they were made; the overlay form of each ``fs``
directory; a container as the active snapshot ``<container-id>`` over the committed
snapshot ``<container-id>-init`` over the image's chain (as Docker prepares it); the
bucket names and labels (``containerd.io/gc.ref.content.*``,
``containerd.io/gc.ref.snapshot.overlayfs``, ``containerd.io/uncompressed``); dangling
images named ``moby-dangling@<digest>``; the ``moby`` namespace Docker uses.

**A readable stand-in:** ``meta.db`` and ``metadata.db`` are bolt (bbolt) databases, a
binary B+tree file. layerlab writes the *same buckets and keys* as a JSON document at the
same path (each written whole, atomically, as one bolt transaction commits), so
``cat meta.db`` shows what ``ctr`` or ``bbolt`` would list; containerd itself cannot
open them. Timestamps are fixed (2026-01-01) so outputs are reproducible. The
``layerlab`` key of a container record holds the kit's bookkeeping (name, state, exit
code); Docker keeps those in ``/var/lib/docker/containers/<id>/config.v2.json`` and
makes containerd's container record when the container starts.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from ..errors import MetadataError
from .durable import atomic_write

__all__ = ["NAMESPACE", "SNAPSHOTTER", "STAND_IN", "ContainerdLayout", "MetaDB", "MetadataError",
           "SnapshotDB", "snapshot_id"]

NAMESPACE = "moby"
SNAPSHOTTER = "overlayfs"
CONTENT = "io.containerd.content.v1.content"
META = "io.containerd.metadata.v1.bolt"
SNAPS = "io.containerd.snapshotter.v1.overlayfs"
TIMESTAMP = "2026-01-01T00:00:00Z"
#: the label on an image config naming the snapshot its layers unpack to
GC_SNAPSHOT = f"containerd.io/gc.ref.snapshot.{SNAPSHOTTER}"
#: the label on a compressed layer blob naming its diff id
UNCOMPRESSED = "containerd.io/uncompressed"
#: what the tree and the store browser say about the two JSON stand-ins
STAND_IN = "readable stand-in for a bolt database"

_ID = re.compile(r"[0-9a-f]{64}")


def _load(path: str, fresh: dict[str, Any]) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            raw = f.read(64 << 20)
    except FileNotFoundError:
        return fresh
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise MetadataError(f"{path}: not a readable metadata document ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("v1"), dict):
        raise MetadataError(f"{path}: no v1 bucket; not a layerlab containerd metadata file")
    return doc


def _save(path: str, doc: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(doc, sort_keys=True, indent=1).encode())


class MetaDB:
    """``meta.db``: containerd's metadata, bucket by bucket (``v1/moby/...``).

    Read it fresh (:meth:`load`) under the store's lock, change the dicts, :meth:`save`.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.doc = _load(path, {"format": f"layerlab: {STAND_IN} (containerd meta.db)",
                                "v1": {"version": 4, NAMESPACE: {}}})

    @property
    def ns(self) -> dict[str, Any]:
        ns: dict[str, Any] = self.doc["v1"].setdefault(NAMESPACE, {})
        return ns

    def bucket(self, *names: str) -> dict[str, Any]:
        b = self.ns
        for n in names:
            b = b.setdefault(n, {})
            if not isinstance(b, dict):
                raise MetadataError(f"{self.path}: bucket {'/'.join(names)} is not a bucket")
        return b

    @property
    def images(self) -> dict[str, Any]:
        return self.bucket("image")

    @property
    def blobs(self) -> dict[str, Any]:
        return self.bucket("content", "blob")

    @property
    def snapshots(self) -> dict[str, Any]:
        return self.bucket("snapshots", SNAPSHOTTER)

    @property
    def leases(self) -> dict[str, Any]:
        return self.bucket("leases")

    @property
    def containers(self) -> dict[str, Any]:
        return self.bucket("containers")

    def next_seq(self) -> int:
        """The snapshots bucket's sequence (names backend snapshots ``moby/<seq>/<key>``)."""
        seq = int(self.ns.get("snapshot-sequence", 0)) + 1
        self.ns["snapshot-sequence"] = seq
        return seq

    def save(self) -> None:
        _save(self.path, self.doc)


class SnapshotDB:
    """``metadata.db`` of the overlayfs snapshotter: backend snapshots by name, each with
    its number ``id`` (the directory ``snapshots/<id>``), ``kind`` and ``parent``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.doc = _load(path, {"format": f"layerlab: {STAND_IN} (overlayfs metadata.db)",
                                "v1": {"snapshots": {}, "sequence": 0}})

    @property
    def snapshots(self) -> dict[str, Any]:
        s: dict[str, Any] = self.doc["v1"].setdefault("snapshots", {})
        return s

    def next_id(self) -> int:
        seq = int(self.doc["v1"].get("sequence", 0)) + 1
        self.doc["v1"]["sequence"] = seq
        return seq

    def save(self) -> None:
        _save(self.path, self.doc)


@dataclass(frozen=True)
class ContainerdLayout:
    """Paths of one containerd-layout store root (see the module docstring)."""

    root: str
    driver: str = "containerd"

    def _p(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def content_root(self) -> str:
        return self._p(CONTENT)

    def blobs_root(self) -> str:
        return self._p(CONTENT, "blobs", "sha256")

    def blob(self, digest: str) -> str:
        return self._p(CONTENT, "blobs", "sha256", digest.split(":", 1)[-1])

    def ingest_root(self) -> str:
        return self._p(CONTENT, "ingest")

    def meta_db(self) -> str:
        return self._p(META, "meta.db")

    def snapshotter_root(self) -> str:
        return self._p(SNAPS)

    def snapshot_db(self) -> str:
        return self._p(SNAPS, "metadata.db")

    def snapshots_root(self) -> str:
        return self._p(SNAPS, "snapshots")

    def snapshot_dir(self, number: int | str) -> str:
        n = snapshot_id(number)  # never a name from a file: only a number makes a path
        return self._p(SNAPS, "snapshots", str(n))

    def snapshot_fs(self, number: int | str) -> str:
        return os.path.join(self.snapshot_dir(number), "fs")

    def snapshot_work(self, number: int | str) -> str:
        return os.path.join(self.snapshot_dir(number), "work")

    # --- by key, through the two databases ------------------------------------------------
    def snapshot_number(self, key: str) -> int:
        """The directory number of the snapshot ``key`` (a chain id or a container id)."""
        meta = MetaDB(self.meta_db())
        record = meta.snapshots.get(key)
        if record is None:
            raise MetadataError(f"no snapshot {key!r} in {self.meta_db()}")
        backend = SnapshotDB(self.snapshot_db()).snapshots.get(record.get("name", ""))
        if backend is None:
            raise MetadataError(f"snapshot {key!r}: backend snapshot {record.get('name')!r} "
                                f"is not in {self.snapshot_db()}")
        return snapshot_id(backend.get("id"))

    def layer_diff(self, chain_id: str) -> str:
        """The ``fs`` directory of the committed snapshot of ``chain_id``."""
        return self.snapshot_fs(self.snapshot_number(chain_id))

    def container_diff(self, container_id: str) -> str:
        """The container's upper directory: where ``happy.txt`` lands."""
        return self.snapshot_fs(self.snapshot_number(_cid(container_id)))

    def container_work(self, container_id: str) -> str:
        return self.snapshot_work(self.snapshot_number(_cid(container_id)))

    def init_diff(self, container_id: str) -> str:
        return self.snapshot_fs(self.snapshot_number(_cid(container_id) + "-init"))

    def container_merged(self, container_id: str) -> str:
        """Where a mount puts the container's root (``/run/containerd/...`` on a host)."""
        return self._p("run", "io.containerd.runtime.v2.task", NAMESPACE, _cid(container_id),
                       "rootfs")


def snapshot_id(value: object) -> int:
    """A snapshot number from a metadata record; anything but a positive integer (a
    path, ``..``, a huge string) is refused."""
    text = str(value)
    if isinstance(value, bool) or not (isinstance(value, int) or text.isdigit()) or \
            len(text) > 12 or int(text) <= 0:
        raise MetadataError(f"snapshot id {text[:40]!r}: not a positive number")
    return int(text)


def _cid(container_id: str) -> str:
    if not _ID.fullmatch(container_id):
        raise MetadataError(f"container id {container_id!r}: not 64 hex digits")
    return container_id
