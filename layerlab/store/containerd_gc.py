"""Garbage collection, prune and verify for the containerd layout.

containerd's collector in miniature: **mark** everything reachable from the roots (every
image record, every container's snapshot, every lease) by following the
``containerd.io/gc.ref.*`` labels of blobs and the parents of snapshots, then **sweep** the
rest, records first and files after, so a kill part-way leaves only garbage the next
collection finds. :func:`verify` re-hashes every blob and checks every record; what an
interrupted writer leaves (a lease, an ``extract-`` snapshot, an unreferenced blob or
directory, a temporary file) is a *leftover*, not corruption.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Protocol

from ..digest import chain_ids, short
from ..errors import LayerlabError
from ..layer import Layer
from .containerd_layout import (
    GC_SNAPSHOT,
    SNAPSHOTTER,
    UNCOMPRESSED,
    ContainerdLayout,
    MetadataError,
    MetaDB,
    SnapshotDB,
    snapshot_id,
)
from .content import ContentStore
from .durable import TMP_MARK, remove_paths
from .durable import discard_dir as _discard_dir
from .fsck import compare_diff
from .records import PruneReport, VerifyReport

__all__ = ["GcStore", "collect", "leftovers", "prune", "verify"]


class GcStore(Protocol):
    """What the collector and :func:`verify` ask of the store: the internal interface
    :class:`~layerlab.store.containerd.ContainerdStore` gives them, and nothing more.
    The caller holds the store's lock."""

    root: str
    #: the content store (``io.containerd.content.v1.content``)
    content: ContentStore

    @property
    def _layout(self) -> ContainerdLayout:
        """The paths of the store root."""

    def _meta(self) -> MetaDB:
        """``meta.db`` as it is on disk now (``save()`` writes it back)."""

    def _snaps(self) -> SnapshotDB:
        """The snapshotter's ``metadata.db`` as it is on disk now."""

    def _image_ids(self) -> list[str]:
        """The config digests of every image record whose blobs are here."""

    def _config_of_target(self, target: str) -> str:
        """The config digest an image record's target (its index) leads to."""

    def _manifest(self, image_id: str) -> dict[str, Any]:
        """The image's manifest."""

    def _config(self, image_id: str) -> dict[str, Any]:
        """The image's config."""



def _familiar(name: str) -> str:
    from .containerd import short_name

    return short_name(name)



def _marked(meta: MetaDB) -> tuple[set[str], set[str]]:
    """containerd's mark phase: blobs and snapshots reachable from the roots (images,
    containers, leases) by following ``containerd.io/gc.ref.*`` labels and parents."""
    blobs: set[str] = set()
    snaps: set[str] = set()
    todo = [r["target"]["digest"] for r in meta.images.values()]
    for lease in meta.leases.values():
        todo += list(lease.get("content", []))
        snaps.update(lease.get("snapshots", {}).get(SNAPSHOTTER, []))
    snaps.update(r.get("snapshotKey", "") for r in meta.containers.values())
    while todo:
        d = todo.pop()
        if d in blobs:
            continue
        blobs.add(d)
        for label, value in meta.blobs.get(d, {}).get("labels", {}).items():
            if label.startswith("containerd.io/gc.ref.content."):
                todo.append(value)
            elif label == GC_SNAPSHOT:
                snaps.add(value)
    stack = [s for s in snaps if s in meta.snapshots]
    snaps = set()
    while stack:
        s = stack.pop()
        if s in snaps or s not in meta.snapshots:
            continue
        snaps.add(s)
        if meta.snapshots[s].get("parent"):
            stack.append(meta.snapshots[s]["parent"])
    return blobs, snaps


def _garbage(store: GcStore) -> tuple[list[str], list[str], list[str], list[int]]:
    """(unmarked blobs, unmarked snapshot keys, backend names nobody refers to,
    snapshot directory numbers nobody refers to)."""
    meta, snapdb = store._meta(), store._snaps()
    blobs, snaps = _marked(meta)
    dead_blobs = sorted(d for d in store.content.digests() if d not in blobs)
    dead_keys = sorted(k for k in meta.snapshots if k not in snaps)
    live_names = {meta.snapshots[k]["name"] for k in snaps}
    dead_backend = sorted(n for n in snapdb.snapshots if n not in live_names)
    live_numbers = set()
    for n, r in snapdb.snapshots.items():
        if n in live_names:
            with contextlib.suppress(LayerlabError):
                live_numbers.add(snapshot_id(r.get("id")))
    dead_dirs = []
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(store._layout.snapshots_root()):
            if name.isdigit() and int(name) not in live_numbers:
                dead_dirs.append(int(name))
    return dead_blobs, dead_keys, dead_backend, sorted(dead_dirs)


def collect(store: GcStore) -> tuple[list[str], int]:
    """Sweep: records first (one write each), then directories, then blobs, so a kill
    part-way leaves only garbage the next collection finds."""
    dead_blobs, dead_keys, dead_backend, dead_dirs = _garbage(store)
    meta, snapdb = store._meta(), store._snaps()
    removed = [k for k in dead_keys if k.startswith("sha256:")]
    reclaimed = sum(int(snapdb.snapshots.get(meta.snapshots[k]["name"], {}).get("size", 0))
                    for k in removed)
    for key in dead_keys:
        meta.snapshots.pop(key, None)
    for rec in meta.snapshots.values():
        if rec.get("children"):
            rec["children"] = [k for k in rec["children"] if k in meta.snapshots]
    for d in dead_blobs:
        meta.blobs.pop(d, None)
    if dead_keys or dead_blobs:
        meta.save()
    for name in dead_backend:
        snapdb.snapshots.pop(name, None)
    if dead_backend:
        snapdb.save()
    for number in dead_dirs:
        _discard_dir(store._layout.snapshot_dir(number))
    for d in dead_blobs:
        store.content.delete(d, missing_ok=True)
    return removed, reclaimed


def _stale_leases(meta: MetaDB) -> list[str]:
    """Leases left by a killed writer: an import lease outside the lock, or a
    container lease whose container record was never written."""
    return sorted(k for k in meta.leases if k not in meta.containers)


def leftovers(store: GcStore) -> list[str]:
    lay = store._layout
    found: list[str] = []
    for top in (store.root, lay.blobs_root(), os.path.dirname(lay.meta_db()),
                lay.snapshotter_root(), lay.snapshots_root(), lay.content_root()):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            found += [os.path.join(top, n) for n in os.listdir(top) if TMP_MARK in n]
    with contextlib.suppress(FileNotFoundError):
        for number in os.listdir(lay.snapshots_root()):
            if number.isdigit():
                with contextlib.suppress(OSError):
                    found += [os.path.join(lay.snapshot_dir(number), n)
                              for n in os.listdir(lay.snapshot_dir(number))
                              if TMP_MARK in n]
    with contextlib.suppress(FileNotFoundError):
        found += [os.path.join(lay.ingest_root(), n) for n in os.listdir(lay.ingest_root())]
    meta = store._meta()
    found += [f"lease {k}" for k in _stale_leases(meta)]
    if not _stale_leases(meta):  # while a lease stands, what it holds is not garbage
        dead_blobs, dead_keys, dead_backend, dead_dirs = _garbage(store)
        found += [lay.blob(d) for d in dead_blobs]
        found += [f"snapshot {k}" for k in dead_keys]
        found += [f"backend snapshot {n}" for n in dead_backend]
        found += [lay.snapshot_dir(n) for n in dead_dirs]
    return sorted(set(found))


def prune(store: GcStore) -> PruneReport:
    """Drop stale leases and interrupted writes, then collect garbage."""
    try:
        return _prune(store)
    except _SHAPE as exc:
        raise MetadataError(f"store {store.root}: prune stopped. " + _shape_problem(exc)
                            ) from exc


def _prune(store: GcStore) -> PruneReport:
    meta = store._meta()
    found = leftovers(store)
    for lease in _stale_leases(meta):
        meta.leases.pop(lease, None)
    meta.save()
    removed, reclaimed = collect(store)
    remove_paths([p for p in found if p.startswith(store.root)])
    return PruneReport(tuple(removed), reclaimed, tuple(found))


def verify(store: GcStore, *, deep: bool = True) -> VerifyReport:
    """Re-hash every blob; check every image, snapshot and container record; ``deep``
    also compares each unpacked snapshot with its layer blob."""
    report = VerifyReport()
    try:
        meta, snapdb = store._meta(), store._snaps()
    except MetadataError as exc:
        report.problems.append(str(exc))
        return report
    try:
        _verify_all(store, report, meta, snapdb, deep)
        report.leftovers = leftovers(store)
    except _SHAPE as exc:  # a hand-edited or hostile metadata file
        report.problems.append(_shape_problem(exc))
    return report


#: what reading a record of the wrong shape raises (a list where a dict belongs, ...)
_SHAPE = (TypeError, KeyError, AttributeError, ValueError, IndexError)


def _shape_problem(exc: BaseException) -> str:
    return (f"metadata: a record in meta.db or metadata.db has the wrong shape "
            f"({type(exc).__name__}: {str(exc)[:200]}); the layout cannot be trusted")


def _verify_all(store: GcStore, report: VerifyReport, meta: MetaDB,
                snapdb: SnapshotDB, deep: bool) -> None:
    # a temporary file of an interrupted write is a leftover (prune removes it)
    report.problems += [p for p in store.content.verify() if TMP_MARK not in p]
    for digest, rec in sorted(meta.blobs.items()):
        if not store.content.has(digest):
            report.problems.append(f"blob {digest}: recorded in meta.db, missing from "
                                   "the content store")
        elif store.content.size(digest) != int(rec.get("size", -1)):
            report.problems.append(f"blob {digest}: size differs from meta.db")
    _verify_images(store, report, meta, deep)
    _verify_snapshots(store, report, meta, snapdb)
    for cid, rec in sorted(meta.containers.items()):
        report.containers += 1
        where = f"container {cid[:12]}"
        if rec.get("layerlab", {}).get("image_id") not in set(store._image_ids()):
            report.problems.append(f"{where}: its image is missing")
        key = rec.get("snapshotKey", "")
        if key not in meta.snapshots:
            report.problems.append(f"{where}: active snapshot {key!r} is missing")
        else:
            try:
                ok = os.path.isdir(store._layout.container_diff(cid))
            except LayerlabError:
                ok = False
            if not ok:
                report.problems.append(f"{where}: upper directory (fs) is missing")


def _verify_images(store: GcStore, report: VerifyReport, meta: MetaDB, deep: bool) -> None:
    checked: set[str] = set()
    for name, rec in sorted(meta.images.items()):
        where = f"image {_familiar(name)}"
        try:
            image_id = store._config_of_target(rec["target"]["digest"])
            manifest = store._manifest(image_id)
            diff_ids = store._config(image_id)["rootfs"]["diff_ids"]
        except (LayerlabError, OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            report.problems.append(f"{where}: index, manifest or config unreadable ({exc})")
            continue
        if image_id in checked:
            continue
        checked.add(image_id)
        report.images += 1
        chains = chain_ids(diff_ids)
        for i, (desc, diff_id) in enumerate(zip(manifest["layers"], diff_ids, strict=False)):
            report.layers += 1
            lw = f"{where}: layer {i} ({short(chains[i])})"
            label = meta.blobs.get(desc["digest"], {}).get("labels", {}).get(UNCOMPRESSED)
            if label != diff_id:
                report.problems.append(f"{lw}: blob label {UNCOMPRESSED} is {label}, the "
                                       f"config says {diff_id}")
            snap = meta.snapshots.get(chains[i])
            if snap is None:
                report.problems.append(f"{lw}: not unpacked (no snapshot {chains[i]})")
                continue
            if snap.get("parent", "") != (chains[i - 1] if i else ""):
                report.problems.append(f"{lw}: snapshot parent is {snap.get('parent')!r}, "
                                       "not the chain id below")
            if deep and store.content.has(desc["digest"]):
                _deep(store, report, lw, desc["digest"], diff_id, chains[i])


def _deep(store: GcStore, report: VerifyReport, where: str, digest: str, diff_id: str,
          chain: str) -> None:
    try:
        layer = Layer.from_tar(str(store.content.path(digest)))
        fs = store._layout.layer_diff(chain)
    except (LayerlabError, OSError) as exc:
        report.problems.append(f"{where}: {exc}")
        return
    if layer.diff_id != diff_id:
        report.problems.append(f"{where}: blob {digest} unpacks to {layer.diff_id}, "
                               f"not {diff_id}")
    elif not os.path.isdir(fs):
        report.problems.append(f"{where}: snapshot directory {fs} is missing")
    else:
        compare_diff(report, where, layer, fs)


def _verify_snapshots(store: GcStore, report: VerifyReport, meta: MetaDB,
                      snapdb: SnapshotDB) -> None:
    for key, rec in sorted(meta.snapshots.items()):
        if key.startswith("extract-") or key.endswith("-init-key") or (
                key in meta.leases and key not in meta.containers):
            continue  # an interrupted unpack or container creation: a leftover
        backend = snapdb.snapshots.get(rec.get("name", ""))
        if backend is None:
            report.problems.append(f"snapshot {key}: backend {rec.get('name')!r} missing "
                                   "from the snapshotter's metadata.db")
            continue
        if rec.get("parent") and rec["parent"] not in meta.snapshots:
            report.problems.append(f"snapshot {key}: parent {rec['parent']} is missing")
        try:
            fs = store._layout.snapshot_fs(backend["id"])
        except (LayerlabError, ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"snapshot {key}: {exc}")
            continue
        if not os.path.isdir(fs):
            report.problems.append(f"snapshot {key}: directory {fs} is missing")
