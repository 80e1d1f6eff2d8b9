"""``Store(driver="containerd")``: images and containers laid out as containerd keeps them.

See :mod:`layerlab.store.containerd_layout` for the paths and for what is faithful and
what is a readable stand-in. How an image arrives (``add``), in containerd's order:

1. a *lease* protects what is being written from garbage collection;
2. the blobs go into the content store, each verified and renamed into place: the
   compressed layers, the config, the manifest and an index, with the labels that tie
   them together (``containerd.io/gc.ref.content.*``) and the diff id of each layer
   (``containerd.io/uncompressed``);
3. each layer is *unpacked*: an active snapshot ``extract-...`` is prepared on its
   parent, the layer's files are written into its ``fs`` directory, and it is committed
   under its chain id;
4. the image record (``image/<name>``) points at the index; the lease goes.

A kill at any point leaves a lease, an active ``extract-`` snapshot or an unreferenced
blob: :meth:`verify` lists them as leftovers, :meth:`prune` (containerd's garbage
collector: mark from images, containers and leases, sweep the rest) removes them.

A container is prepared as Docker does it with this store: a committed ``<id>-init``
snapshot (the :mod:`~layerlab.store.initlayer` mount points) on the image's top chain id,
and the active snapshot ``<id>`` on it, whose ``fs`` is the upper directory where
``happy.txt`` lands.

>>> from layerlab import Image, Layer
>>> from layerlab.store import Store
>>> store = Store.temporary(driver="containerd")
>>> _ = store.add(Image.from_layers([Layer.from_dict({"/etc/motd": "hi\\n"})]), tag="tiny")
>>> c = store.create_container("tiny", name="demo")
>>> c.write("/happy.txt", "I was here\\n")
>>> os.path.relpath(store.container_dir(c), store.root)
'io.containerd.snapshotter.v1.overlayfs/snapshots/3/fs'
>>> sorted(os.listdir(store.container_dir(c)))
['happy.txt']
>>> store.verify().ok
True
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from .._fsutil import remove_tree
from ..container import Container, ContainerState, ReadWriteLayer
from ..digest import sha256_digest, short
from ..errors import InvalidImageError, LayerlabError
from ..image import Image
from ..imagedoc import OCI_INDEX, OCI_MANIFEST, manifest_bytes
from ..imagedoc import canonical_json as _canonical
from ..layer import Layer
from ..overlaydir import read_overlay_dir, write_overlay_dir
from . import containerd_gc
from .containerd_layout import (
    GC_SNAPSHOT,
    NAMESPACE,
    SNAPSHOTTER,
    STAND_IN,
    TIMESTAMP,
    UNCOMPRESSED,
    ContainerdLayout,
    MetaDB,
    SnapshotDB,
)
from .containerd_snapshots import Snapshots
from .content import ContentStore, Ingest
from .durable import TMP_MARK
from .initlayer import init_layer
from .store import (
    PruneReport,
    Store,
    StoreError,
    VerifyReport,
    _finish_swap,
    _loaded_clock,
    _tag,
)

__all__ = ["ContainerdStore", "full_name", "short_name"]

DANGLING = "moby-dangling@"


def full_name(tag: str) -> str:
    """The name containerd records for a tag: ``tiny`` -> ``docker.io/library/tiny:latest``.

    >>> full_name("tiny"), full_name("me/app:1"), full_name("localhost:5000/x")
    ('docker.io/library/tiny:latest', 'docker.io/me/app:1', 'localhost:5000/x:latest')
    """
    tag = _tag(tag)
    first = tag.split("/", 1)[0]
    if "/" in tag and ("." in first or ":" in first or first == "localhost"):
        return tag
    return f"docker.io/{tag}" if "/" in tag else f"docker.io/library/{tag}"


def short_name(name: str) -> str:
    """The familiar form of a recorded name (what ``docker images`` prints)."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


class _Resume:
    """A writer into an ingest that skips the bytes the ingest already holds."""

    def __init__(self, ingest: Ingest) -> None:
        self.ingest, self.skip = ingest, ingest.offset

    def write(self, chunk: bytes) -> int:
        if self.skip:
            dropped = min(self.skip, len(chunk))
            self.skip -= dropped
            chunk = chunk[dropped:]
        if chunk:
            self.ingest.write(chunk)
        return len(chunk)


class ContainerdStore(Store):
    """The containerd image store layout (see the module docstring). Made by
    ``Store(root, driver="containerd")``; the public methods are :class:`Store`'s."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 driver: str = "containerd", allow_setuid: bool = False,
                 allow_devices: bool = False) -> None:
        if driver != "containerd":
            raise StoreError(f"ContainerdStore is the containerd layout, not {driver!r}")
        self._open_root(root, driver, allow_setuid=allow_setuid, allow_devices=allow_devices)
        self.layout = ContainerdLayout(self.root)  # type: ignore[assignment]
        self.content = ContentStore(Path(self._layout.content_root()))
        self._targets: dict[str, str] = {}  # target digest -> config digest (immutable)
        with self._lock.held():
            for cid in self._container_ids():
                with contextlib.suppress(LayerlabError):
                    _finish_swap(self._layout.container_diff(cid))

    @property
    def _layout(self) -> ContainerdLayout:
        layout = self.layout
        assert isinstance(layout, ContainerdLayout)
        return layout

    def __repr__(self) -> str:
        return (f"<Store {self.root} (containerd: faithful layout of blobs and snapshots; "
                f"meta.db and metadata.db are a {STAND_IN} written as JSON)>")

    # --- the two databases ---------------------------------------------------------------
    def _meta(self) -> MetaDB:
        return MetaDB(self._layout.meta_db())

    def _snaps(self) -> SnapshotDB:
        return SnapshotDB(self._layout.snapshot_db())

    def metadata(self) -> dict[str, Any]:
        """``meta.db`` as records: ``{"image": ..., "content": ..., "snapshots": ...,
        "leases": ..., "containers": ...}`` of the ``moby`` namespace."""
        return dict(self._meta().ns)

    def snapshot_records(self) -> list[dict[str, Any]]:
        """Every snapshot: key, kind, number (directory), parent, labels, sorted by number."""
        return self._snapshots.records()

    # --- content -------------------------------------------------------------------------
    def _put_blob(self, meta: MetaDB, data: bytes | None, digest: str, size: int,
                  labels: dict[str, str], layer: Layer | None = None) -> None:
        if not self.content.has(digest):
            if layer is not None:  # through ingest/, as a pull does: a kill leaves a partial
                ref = f"{NAMESPACE}/import/{digest}"  # that the next import resumes
                with self.content.ingest(ref, expected_digest=digest, expected_size=size) as ing:
                    if not ing.complete:
                        layer.blob(_Resume(ing))
            else:
                assert data is not None
                self.content.write(data, expected_digest=digest, expected_size=size)
        record = meta.blobs.setdefault(digest, {"createdat": TIMESTAMP, "size": size})
        record["updatedat"] = TIMESTAMP
        record.setdefault("labels", {}).update(labels)

    # --- snapshots (layerlab.store.containerd_snapshots) ----------------------------------
    @property
    def _snapshots(self) -> Snapshots:
        return Snapshots(self._layout)

    def _prepare(self, key: str, parent: str | None) -> int:
        """An active snapshot ``key`` on ``parent`` (a committed key): records, then dirs."""
        try:
            return self._snapshots.prepare(key, parent)
        except LookupError as exc:
            raise StoreError(str(exc.args[0])) from None

    def _fill(self, number: int, layer: Layer) -> None:
        self._snapshots.fill(number, layer, self._overlay_form())

    def _commit(self, key: str, name: str, labels: dict[str, str], size: int) -> None:
        """Commit the active snapshot ``key`` as ``name`` (same directory, new record)."""
        self._snapshots.commit(key, name, labels, size)

    def _unpack(self, layer: Layer, chain: str, parent: str | None) -> None:
        try:
            self._snapshots.unpack(layer, chain, parent, self._overlay_form())
        except LookupError as exc:
            raise StoreError(str(exc.args[0])) from None

    def _has_layer(self, chain_id: str) -> bool:
        return self._snapshots.has(chain_id)

    def layer_dir(self, image: Image | str, index: int) -> str:
        """The ``fs`` directory of the committed snapshot of layer ``index``."""
        img = self.get(image) if isinstance(image, str) else image
        return self._layout.layer_diff(img.chain_ids[index])

    # --- images --------------------------------------------------------------------------
    def _index_of(self, image: Image) -> tuple[bytes, bytes]:
        manifest = manifest_bytes(image)
        index = _canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": sha256_digest(manifest),
             "size": len(manifest),
             "platform": {"architecture": image.architecture, "os": image.os}}]})
        return index, manifest

    def add(self, image: Image, *, tag: str | None = None) -> str:
        """Record an image as containerd does (see the module docstring); returns its id
        (the config digest, as for the other layouts)."""
        with self._lock.held():
            index, manifest = self._index_of(image)
            target = sha256_digest(index)
            lease = f"layerlab-import-{short(target)}"
            meta = self._meta()
            meta.leases[lease] = {"createdat": TIMESTAMP, "labels": {
                "containerd.io/gc.expire": "2026-01-01T01:00:00Z"}, "content": [],
                "snapshots": {SNAPSHOTTER: []}}
            meta.save()
            try:
                self._add_blobs(image, index, manifest, lease)
                chains = image.chain_ids
                for i, layer in enumerate(image.layers):
                    self._unpack(layer, chains[i], chains[i - 1] if i else None)
                meta = self._meta()
                names = [n for n, r in meta.images.items() if r["target"]["digest"] == target]
                name = full_name(tag) if tag is not None else (
                    names[0] if names else f"{DANGLING}{target}")
                self._name(meta, name, target, len(index))
                meta.leases.pop(lease, None)
                meta.save()
            except OSError as exc:
                self._full(exc, image)
                raise
            self._images[image.id] = image
            self._targets[target] = image.id
        return image.id

    def _add_blobs(self, image: Image, index: bytes, manifest: bytes, lease: str) -> None:
        meta = self._meta()
        chains = image.chain_ids
        for layer in image.layers:
            self._put_blob(meta, None, layer.digest, layer.compressed_size,
                           {UNCOMPRESSED: layer.diff_id}, layer)
        config = image.config_bytes()
        self._put_blob(meta, config, image.id, len(config),
                       {GC_SNAPSHOT: chains[-1]} if chains else {})
        refs = {"containerd.io/gc.ref.content.config": image.id}
        refs.update({f"containerd.io/gc.ref.content.l.{i}": layer.digest
                     for i, layer in enumerate(image.layers)})
        self._put_blob(meta, manifest, sha256_digest(manifest), len(manifest), refs)
        self._put_blob(meta, index, sha256_digest(index), len(index),
                       {"containerd.io/gc.ref.content.m.0": sha256_digest(manifest)})
        meta.leases[lease]["content"] = sorted(meta.blobs)
        meta.save()

    @staticmethod
    def _name(meta: MetaDB, name: str, target: str, size: int) -> None:
        meta.images[name] = {"createdat": TIMESTAMP, "updatedat": TIMESTAMP, "labels": {},
                             "target": {"digest": target, "mediatype": OCI_INDEX,
                                        "size": size}}
        if not name.startswith(DANGLING):  # a name replaces the dangling record
            meta.images.pop(f"{DANGLING}{target}", None)

    def _config_of_target(self, target: str) -> str:
        if target not in self._targets:
            with self.content.open(target) as f:
                index = json.loads(f.read(1 << 22))
            manifest_digest = index["manifests"][0]["digest"]
            with self.content.open(manifest_digest) as f:
                manifest = json.loads(f.read(1 << 22))
            self._targets[target] = str(manifest["config"]["digest"])
        return self._targets[target]

    def _records(self) -> dict[str, str]:
        """``{image name: config digest}`` for every image record whose blobs are here."""
        out = {}
        for name, rec in sorted(self._meta().images.items()):
            with contextlib.suppress(LayerlabError, OSError, ValueError, KeyError, TypeError):
                out[name] = self._config_of_target(rec["target"]["digest"])
        return out

    def tags(self) -> dict[str, str]:
        """``{"name:tag": image id}`` in the familiar short form (``tiny:latest``)."""
        return {short_name(n): i for n, i in self._records().items()
                if not n.startswith(DANGLING)}

    def _image_ids(self) -> list[str]:
        return sorted(set(self._records().values()))

    def _resolve(self, ref: str | Image) -> str:
        if isinstance(ref, str):
            full = self._records().get(full_name(ref)) if "@" not in ref else None
            if full is not None:
                return full
        return super()._resolve(ref)

    def _targets_of(self, image_id: str) -> list[tuple[str, str]]:
        return [(n, r["target"]["digest"]) for n, r in sorted(self._meta().images.items())
                if self._records().get(n) == image_id]

    def tag(self, ref: str | Image, tag: str) -> None:
        with self._lock.held():
            target = self._targets_of(self._resolve(ref))[0][1]
            meta = self._meta()
            self._name(meta, full_name(tag), target, self.content.size(target))
            meta.save()

    def untag(self, tag: str) -> None:
        with self._lock.held():
            meta = self._meta()
            name = full_name(tag)
            if name not in meta.images:
                raise StoreError(f"no such tag {_tag(tag)!r} in {self.root}")
            rec = meta.images.pop(name)
            target = rec["target"]["digest"]
            if not any(r["target"]["digest"] == target for r in meta.images.values()):
                self._name(meta, f"{DANGLING}{target}", target, rec["target"]["size"])
            meta.save()

    def _config(self, image_id: str) -> dict[str, Any]:
        with self.content.open(image_id) as f:
            data: dict[str, Any] = json.loads(f.read())
        return data

    def _manifest(self, image_id: str) -> dict[str, Any]:
        for _, target in self._targets_of(image_id):
            with self.content.open(target) as f:
                index = json.loads(f.read(1 << 22))
            with self.content.open(index["manifests"][0]["digest"]) as f:
                doc: dict[str, Any] = json.loads(f.read(1 << 22))
                return doc
        raise StoreError(f"no such image {short(image_id)} in {self.root}")

    def get(self, ref: str | Image) -> Image:
        """An image by tag, id or unique id prefix, read back from the content store."""
        image_id = self._resolve(ref)
        if image_id in self._images:
            return self._images[image_id]
        with self.content.open(image_id) as f:
            raw = f.read()
        if sha256_digest(raw) != image_id:
            raise InvalidImageError(f"image {short(image_id)}: config does not hash to its id")
        config = json.loads(raw)
        made = [h for h in config.get("history") or [] if not h.get("empty_layer")]
        layers = []
        for i, desc in enumerate(self._manifest(image_id)["layers"]):
            created_by = str(made[i].get("created_by", "")) if i < len(made) else ""
            layers.append(Layer.from_tar(str(self.content.path(desc["digest"])),
                                         created_by=created_by))
        image = Image.from_config(config, layers, raw=raw)
        self._images[image_id] = image
        return image

    def _layer_size(self, chain: str) -> int:
        meta, snaps = self._meta(), self._snaps()
        rec = meta.snapshots.get(chain)
        backend = snaps.snapshots.get(rec["name"], {}) if rec else {}
        return int(backend.get("size", 0))

    def remove_image(self, ref: str | Image, *, force: bool = False) -> None:
        """``docker rmi``: drop the image records; garbage collection takes what nobody
        references any more (blobs and snapshots)."""
        with self._lock.held():
            image_id = self._resolve(ref)
            self._check_unused(image_id, force)
            meta = self._meta()
            for name, _ in self._targets_of(image_id):
                meta.images.pop(name, None)
            meta.save()
            self._images.pop(image_id, None)
            self._gc()

    # --- containers ----------------------------------------------------------------------
    def _container_ids(self, *, finished: bool = True) -> list[str]:
        meta = self._meta()
        if finished:
            return sorted(meta.containers)
        return sorted(lease for lease in meta.leases
                      if lease not in meta.containers and not lease.startswith("layerlab-"))

    def _rewrite_upper(self, c: Container) -> None:
        """Write the whole read-write layer into its active snapshot's ``fs`` (the store's
        ``_sync`` writes only what changed when it can)."""
        if c.id not in self._meta().snapshots:
            self._prepare_container(c)
        diff = self._layout.container_diff(c.id)
        os.makedirs(self._layout.container_work(c.id), exist_ok=True)  # a cut creation
        tmp, old = diff + TMP_MARK + "sync", diff + TMP_MARK + "old"
        _finish_swap(diff)
        remove_tree(tmp)
        remove_tree(old)
        write_overlay_dir(c.rw.to_layer(), tmp, **self._overlay_form())
        if os.path.isdir(diff):
            os.rename(diff, old)
        os.rename(tmp, diff)
        remove_tree(old)

    def _prepare_container(self, c: Container) -> None:
        """Docker's order: a lease named after the container, the ``-init`` snapshot
        (prepared, filled, committed), then the active snapshot on it."""
        meta = self._meta()
        meta.leases[c.id] = {"createdat": TIMESTAMP, "labels": {}, "content": [],
                             "snapshots": {SNAPSHOTTER: sorted([c.id, f"{c.id}-init"])}}
        meta.save()
        chains = c.image.chain_ids
        init = init_layer()
        key = f"{c.id}-init-key"
        number = self._prepare(key, chains[-1] if chains else None)
        self._fill(number, init)
        self._commit(key, f"{c.id}-init", {}, init.size)
        number = self._prepare(c.id, f"{c.id}-init")
        os.makedirs(self._layout.snapshot_fs(number), exist_ok=True)  # the empty upper dir
        os.makedirs(self._layout.snapshot_work(number), exist_ok=True)

    def _write_container(self, c: Container) -> None:
        meta = self._meta()
        names = [n for n, _ in self._targets_of(c.image.id)]
        meta.containers[c.id] = {
            "createdat": TIMESTAMP, "updatedat": TIMESTAMP,
            "image": names[0] if names else "",
            "runtime": {"name": "io.containerd.runc.v2"},
            "snapshotter": SNAPSHOTTER, "snapshotKey": c.id,
            "labels": {"com.docker/engine.bundle.path":
                       f"/var/run/docker/containerd/{c.id}"},
            "layerlab": {"name": c.name, "image_id": c.image.id, "status": str(c.state),
                         "exit_code": c.exit_code or 0, "clock": c.clock,
                         "copy_ups": len(c.copy_ups), "cmd": c.default_argv(),
                         "env": [f"{k}={v}" for k, v in c.env.items()],
                         "workdir": c.workdir},
        }
        meta.save()

    def _load_container(self, cid: str) -> None:
        doc = self._meta().containers[cid]["layerlab"]
        image = self.get(doc["image_id"])
        c = Container(image, name=doc["name"], host=self.host)
        c.rw = ReadWriteLayer.from_layer(read_overlay_dir(self._layout.container_diff(cid)))
        c.restore(ContainerState(doc.get("status", "created")), exit_code=doc.get("exit_code"),
                  clock=_loaded_clock(c, doc.get("clock", 0)))
        self._attach(c)
        self._track_upper(c)

    def _forget(self, c: Container) -> None:
        with self._lock.held():
            if c.id in self._mounted:
                self.unmount(c)
            meta = self._meta()
            meta.containers.pop(c.id, None)
            meta.leases.pop(c.id, None)
            meta.save()
            self._containers.pop(c.id, None)
            self._upper_dirs().pop(c.id, None)
            self._gc()

    def container_dir(self, container: Container | str) -> str:
        """The container's upper directory: its active snapshot's ``fs``."""
        c = self.container(container) if isinstance(container, str) else container
        return self._layout.container_diff(c.id)

    def _lowers(self, c: Container) -> list[str]:
        """The lower directories in containerd's order: nearest first (the ``-init``
        snapshot, then the image's chain from the top down)."""
        return [self._layout.init_diff(c.id)] + [
            self._layout.layer_diff(ch) for ch in reversed(c.image.chain_ids)]

    #: a snapshot directory keeps its (empty) ``work/`` after real mode
    _KEEP_WORK = True

    # --- garbage collection, prune, verify (in containerd_gc) ---------------------------
    def _gc(self) -> tuple[list[str], int]:
        return containerd_gc.collect(self)

    def _leftovers(self) -> list[str]:
        return containerd_gc.leftovers(self)

    def prune(self) -> PruneReport:
        """Drop stale leases and interrupted writes, then collect garbage."""
        with self._lock.held():
            return containerd_gc.prune(self)

    def verify(self, *, deep: bool = True) -> VerifyReport:
        """Re-hash every blob; check every image, snapshot and container record; ``deep``
        also compares each unpacked snapshot with its layer blob."""
        with self._lock.held():
            return containerd_gc.verify(self, deep=deep)

    # --- looking at the host -------------------------------------------------------------
    _TREE_HIDDEN = frozenset({".lock"})

    def _tree_note(self, full: str) -> str:
        if os.path.basename(full) in ("meta.db", "metadata.db"):
            return f"  ({STAND_IN})"
        return super()._tree_note(full)
