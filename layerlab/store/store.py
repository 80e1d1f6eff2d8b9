"""Store: the host's view, an on-disk directory laid out like ``/var/lib/docker``.

Images, layers and containers live under one root directory as real files: a layer's
files under its ``diff`` directory, its metadata in ``layerdb`` (overlay2) or ``graph``
(aufs), image configs in ``imagedb``, tags in ``repositories.json``, containers in
``containers/<id>/config.v2.json`` with their read-write layer as a real directory. So
``happy.txt`` written in a container is in that directory as soon as it is written
(only what changed is written: :mod:`layerlab.store.upperdir`; ``stop`` and ``commit``
fsync it), still there after ``stop`` and gone after ``rm``, exactly as the source
text shows. See :mod:`layerlab.store.layout` for the paths.

:class:`Store` is the facade; what it does is kept in one module a concern, each working
on the :class:`~layerlab.store.layout.Layout` and none reaching into another's state:

- :mod:`~layerlab.store.layers`: blobs, layer directories and layerdb records;
- :mod:`~layerlab.store.imagedb`: image configs (an image's id is its config's digest);
- :mod:`~layerlab.store.refs`: tags in ``repositories.json``;
- :mod:`~layerlab.store.gc`: unused layers and the leftovers of interrupted writes;
- :mod:`~layerlab.store.fsck`: ``verify``; :mod:`~layerlab.store.df`: ``docker images``
  and ``docker system df``; :mod:`~layerlab.store.treeview`: ``tree``;
- :mod:`~layerlab.store.records`: the rows and reports every layout returns;
- :mod:`~layerlab.store.durable`: atomic writes and the lock.

Containers (their directories and ``config.v2.json``) and the kernel overlay mount stay
in this module. The containerd layout (:mod:`layerlab.store.containerd`) subclasses
:class:`Store` and overrides the hooks its layout answers differently.

>>> from layerlab import Image, Layer
>>> from layerlab.store import Store
>>> store = Store.temporary()
>>> image_id = store.add(Image.from_layers([Layer.from_dict({"/etc/motd": "hi\\n"})]),
...                      tag="tiny")
>>> c = store.create_container("tiny", name="demo")
>>> c.write("/happy.txt", "I was here\\n")
>>> c.start(); c.stop()  # doctest: +ELLIPSIS
<Container demo ...>
>>> import os; os.path.exists(os.path.join(store.container_dir(c), "happy.txt"))
True
>>> store.verify().ok
True
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import tempfile
import weakref
from collections.abc import Iterator
from typing import Any

from .._fsutil import remove_tree
from ..container import Container, ContainerState, ReadWriteLayer
from ..digest import chain_ids, short
from ..errors import StoreError, StoreFullError
from ..image import Image
from ..overlaydir import read_overlay_dir, write_overlay_dir
from ..processes import Host
from . import df, fsck, gc
from . import mount as _mount
from . import treeview as _treeview
from .durable import TMP_MARK, StoreLock, atomic_write, finish_swap, remove_paths
from .imagedb import ImageDB
from .initlayer import overlay2_init_id, remove_overlay2_init, write_overlay2_init
from .layers import LayerFiles, overlay_form
from .layout import Layout
from .records import DfRow, ImageRecord, PruneReport, VerifyReport
from .refs import Repositories, normalize_tag
from .upperdir import UpperDir

__all__ = ["DfRow", "ImageRecord", "PruneReport", "Store", "StoreError", "StoreFullError",
           "VerifyReport", "default_root"]

#: the short names the layouts' container code uses (``from .store import _finish_swap``)
_finish_swap = finish_swap
_tag = normalize_tag


def default_root() -> str:
    """The embedded default store: ``$LAYERLAB_STORE`` or a per-user data directory."""
    env = os.environ.get("LAYERLAB_STORE")
    if env:
        return env
    import platformdirs

    return os.path.join(platformdirs.user_data_dir("layerlab", appauthor=False), "store")


class Store:
    """A host directory holding images, layers and containers (see the module docstring).

    ``Store()`` uses the embedded default root (:func:`default_root`); notebooks use
    ``Store.temporary()`` so each run starts empty. ``driver`` is ``"overlay2"`` (Docker's
    graphdriver path), ``"aufs"`` (the source text's layout) or ``"containerd"`` (the
    containerd image store, :mod:`layerlab.store.containerd`); a root keeps the driver it
    was made with.

    The root directory is made private to its owner (mode 0700; Docker keeps
    ``/var/lib/docker`` at 0710). An image's setuid/setgid bits, file capabilities and
    device nodes are kept in its layer blob but not materialized in the layer directories
    unless ``allow_setuid=True`` / ``allow_devices=True``: as root they would otherwise be
    real setuid-root programs and device nodes on the host.
    """

    #: materialize an image's setuid/setgid bits, file capabilities and device nodes in
    #: the layer directories (off: they stay in the layer's tar blob only)
    allow_setuid = False
    allow_devices = False

    def __new__(cls, root: str | os.PathLike[str] | None = None, *,
                driver: str = "overlay2", **_options: bool) -> Store:
        if driver == "containerd" and cls is Store:  # the layout lives in its own module
            from .containerd import ContainerdStore

            return super().__new__(ContainerdStore)
        return super().__new__(cls)

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 driver: str = "overlay2", allow_setuid: bool = False,
                 allow_devices: bool = False) -> None:
        self._open_root(root, driver, allow_setuid=allow_setuid, allow_devices=allow_devices)
        self.layout = Layout(self.root, driver)
        with self._lock.held(), contextlib.suppress(FileNotFoundError):
            for cid in os.listdir(self.layout.containers_root()):
                if TMP_MARK not in cid:
                    _finish_swap(self.layout.container_diff(cid))

    @classmethod
    def temporary(cls, *, driver: str = "overlay2", allow_setuid: bool = False,
                  allow_devices: bool = False) -> Store:
        """A store in a fresh temporary directory, removed when the store is garbage."""
        root = tempfile.mkdtemp(prefix="layerlab-store-")
        store = cls(root, driver=driver)
        store.allow_setuid, store.allow_devices = allow_setuid, allow_devices
        weakref.finalize(store, _cleanup, root, store._mounted, store.layout)
        return store

    def __repr__(self) -> str:
        return f"<Store {self.root} ({self.driver})>"

    def _open_root(self, root: str | os.PathLike[str] | None, driver: str, *,
                   allow_setuid: bool, allow_devices: bool) -> None:
        """Make the root directory private to its owner (as /var/lib/docker is), check
        that it holds this driver's layout, and set up what every layout keeps in memory;
        every layout's ``__init__`` starts here."""
        self.root = os.path.abspath(os.fspath(root) if root is not None else default_root())
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        with contextlib.suppress(OSError):
            if os.stat(self.root).st_uid == os.geteuid():
                os.chmod(self.root, 0o700)
        #: materialize an image's setuid/setgid bits, file capabilities and device nodes
        #: in the layer directories (off: they stay in the layer's tar blob only)
        self.allow_setuid = allow_setuid
        self.allow_devices = allow_devices
        marker = os.path.join(self.root, "layerlab-store.json")
        if os.path.exists(marker):
            with open(marker) as f:
                recorded = json.load(f).get("driver")
            if recorded != driver:
                raise StoreError(f"store {self.root} uses driver {recorded!r}, not {driver!r}")
        else:
            atomic_write(marker, json.dumps({"driver": driver}).encode())
        self.driver = driver
        self._lock = StoreLock(self.root)
        self._containers: dict[str, Container] = {}
        self._images: dict[str, Image] = {}
        self._mounted: set[str] = set()
        self.host = Host()
        self._as_root = os.geteuid() == 0

    def _repr_html_(self) -> str:
        from ..views.html import store_html

        return store_html(self)
    @property
    def xattr_namespace(self) -> str:
        """The xattr namespace of the overlay form this store writes: ``"trusted"`` when it
        runs as root (the kernel's own form, whiteouts as character devices 0/0), ``"user"``
        otherwise. :mod:`layerlab.realmode` mounts the store's own directories only when it
        mounts in the same form."""
        return "trusted" if self._as_root else "user"

    # --- layers (layerlab.store.layers) ---------------------------------------------------
    @property
    def _layer_files(self) -> LayerFiles:
        return LayerFiles(self.layout)

    def _overlay_form(self) -> dict[str, Any]:
        return overlay_form(as_root=self._as_root, allow_setuid=self.allow_setuid,
                            allow_devices=self.allow_devices)

    def _has_layer(self, chain_id: str) -> bool:
        return self._layer_files.has(chain_id)

    def _layer_size(self, chain: str) -> int:
        return self._layer_files.size(chain)

    def layer_dir(self, image: Image | str, index: int) -> str:
        """The ``diff`` directory holding layer ``index`` of an image in this store."""
        img = self.get(image) if isinstance(image, str) else image
        return self._layer_files.diff_dir(img.chain_ids[index])

    # --- images (layerlab.store.imagedb) and tags (layerlab.store.refs) --------------------
    @property
    def _imagedb(self) -> ImageDB:
        return ImageDB(self.layout)

    @property
    def _repos(self) -> Repositories:
        return Repositories(self.layout.repositories())

    def add(self, image: Image, *, tag: str | None = None) -> str:
        """Record an image (its layers first, then its config, then the tag); returns its id.

        Layers already in the store are shared, not written again.
        """
        with self._lock.held():
            chains = image.chain_ids
            legacy = image.legacy_layers
            layers, form = self._layer_files, self._overlay_form()
            try:
                for i, layer in enumerate(image.layers):
                    parents = list(reversed(chains[:i]))
                    layers.put(layer, chains[i], chains[i - 1] if i else None, parents,
                               dict(legacy[i].json), form)
                self._imagedb.put(image)
            except OSError as exc:
                if exc.errno == errno.ENAMETOOLONG:
                    raise StoreError(
                        f"store {self.root}: image {short(image.id)} has a path too long for "
                        f"this file system below the store's root ({len(exc.filename or '')} "
                        "bytes; PATH_MAX is 4096); the image was not recorded") from None
                self._full(exc, image)
                raise
            self._images[image.id] = image
            if tag is not None:
                self._repos.set(tag, image.id)
        return image.id

    def _full(self, exc: OSError, image: Image) -> None:
        """Raise :class:`StoreFullError` when ``exc`` says the disk is full (or a quota)."""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StoreFullError(
                f"store {self.root}: no space left on the device while importing image "
                f"{short(image.id)} ({exc.strerror}); the image was not recorded. Free "
                "some space (store.remove_image(...), store.prune()) and add it again"
            ) from exc

    def tags(self) -> dict[str, str]:
        """``{"name:tag": image id}`` for every tag."""
        return self._repos.tags()

    def tag(self, ref: str | Image, tag: str) -> None:
        with self._lock.held():
            self._repos.set(tag, self._resolve(ref))

    def untag(self, tag: str) -> None:
        with self._lock.held():
            if not self._repos.remove(tag):
                raise StoreError(f"no such tag {_tag(tag)!r} in {self.root}")

    def _image_ids(self) -> list[str]:
        return self._imagedb.ids()

    def _resolve(self, ref: str | Image) -> str:
        if isinstance(ref, Image):
            return ref.id
        tags = self.tags()
        if _tag(ref) in tags:
            return tags[_tag(ref)]
        hexpart = ref.split(":", 1)[-1]
        matches = [i for i in self._image_ids() if i.split(":", 1)[1].startswith(hexpart)]
        if len(hexpart) >= 4 and len(matches) == 1:
            return matches[0]
        raise StoreError(f"no such image {ref!r} in {self.root}"
                         + (" (ambiguous id prefix)" if len(matches) > 1 else ""))

    def get(self, ref: str | Image) -> Image:
        """An image by tag (``name`` means ``name:latest``), id, or unique id prefix."""
        image_id = self._resolve(ref)
        if image_id in self._images:
            return self._images[image_id]
        image = self._imagedb.load(image_id, self.layout.blob)
        self._images[image_id] = image
        return image

    def images(self) -> list[ImageRecord]:
        """Every image, like ``docker images``."""
        return df.image_records(self.tags(), self._image_ids(), self._config, self._layer_size)

    def _config(self, image_id: str) -> dict[str, Any]:
        return self._imagedb.config(image_id)

    def _check_unused(self, image_id: str, force: bool) -> None:
        """Refuse to remove an image a container uses (unless ``force``)."""
        users = [c.name for c in self.containers() if c.image.id == image_id]
        if users and not force:
            raise StoreError(f"image {short(image_id)} is used by containers {users}")

    def remove_image(self, ref: str | Image, *, force: bool = False) -> None:
        """``docker rmi``: forget the image and its tags; layers nobody uses go too."""
        with self._lock.held():
            image_id = self._resolve(ref)
            self._check_unused(image_id, force)
            self._repos.drop_image(image_id)
            self._imagedb.remove(image_id)
            self._images.pop(image_id, None)
            self._prune_layers()

    # --- containers ----------------------------------------------------------------------
    def create_container(self, ref: str | Image, *, name: str | None = None) -> Container:
        """A container of an image in this store, its read-write layer a real directory."""
        with self._lock.held():
            image = ref if isinstance(ref, Image) else self.get(ref)
            if isinstance(ref, Image):
                self.add(image)
            taken = {c.name for c in self.containers()}
            if name is not None and name in taken:
                raise StoreError(f"the container name {name!r} is already in use")
            container = Container(image, name=name, host=self.host)
            while container.name in taken:
                container = Container(image, name=None, host=self.host)
            self._attach(container)
            # _sync writes the read-write directory, then config.v2.json: a kill in between
            # never leaves a recorded container without its directory
            self._sync(container)
        return container

    def _attach(self, container: Container) -> None:
        self._containers[container.id] = container
        container.listeners.append(self._on_event)
        container.store = self

    @contextlib.contextmanager
    def real_mode_dirs(self, container: Container) -> Iterator[tuple[list[str], str, str]]:
        """For :mod:`layerlab.realmode`: the image's layer directories (base first), the
        container's upper directory and a work directory beside it. While the kernel
        writes there, the store does not rewrite the directory from the model."""
        self._sync(container)
        lowers = list(reversed(self._lowers(container)))  # base first, as realmode wants
        work = self._fresh_work(container)
        self._mounted.add(container.id)
        try:
            yield lowers, self.container_dir(container), work
        finally:
            self._mounted.discard(container.id)
            remove_tree(work)
            if self._KEEP_WORK:
                os.makedirs(work, exist_ok=True)

    def _on_event(self, container: Container, event: str) -> None:
        with self._lock.held():
            if event == "remove":
                self._forget(container)
            elif event == "change":
                # write through: the changed paths land in the upper directory now; no
                # fsync, no record rewritten (the durability points are below)
                self._sync(container, record=False)
            else:
                # a state change (stop, kill...) or a commit: make the upper directory
                # durable, then record the container
                self._sync(container, record=False)
                upper = self._upper_dirs().get(container.id)
                if upper is not None:
                    upper.flush()
                self._write_container(container)

    def _upper_dirs(self) -> dict[str, UpperDir]:
        """Container id -> its upper directory as last written (made on first use)."""
        uppers: dict[str, UpperDir] | None = self.__dict__.get("_uppers")
        if uppers is None:
            uppers = {}
            self.__dict__["_uppers"] = uppers
        return uppers

    def _track_upper(self, c: Container) -> None:
        """Say that the container's upper directory holds its read-write layer as it is."""
        c.rw.take_changes()
        upper = UpperDir(self.container_dir(c), **self._overlay_form())
        upper.reset(c.rw)
        self._upper_dirs()[c.id] = upper

    def _write_container(self, c: Container) -> None:
        image_chains = c.image.chain_ids
        doc = {
            "ID": c.id,
            "Name": "/" + c.name,
            "Image": c.image.id,
            "Driver": self.driver,
            "State": {"Status": str(c.state), "Running": c.state is ContainerState.RUNNING,
                      "Paused": c.state is ContainerState.PAUSED, "ExitCode": c.exit_code or 0},
            "Config": {"Cmd": c.default_argv(), "Env": [f"{k}={v}" for k, v in c.env.items()],
                       "WorkingDir": c.workdir},
            "layerlab": {"clock": c.clock, "copy_ups": len(c.copy_ups)},
        }
        home = self.layout.container_home(c.id)
        atomic_write(os.path.join(home, "config.v2.json"),
                     json.dumps(doc, sort_keys=True, indent=2).encode())
        if self.driver == "overlay2":
            mounts = self.layout.mounts(c.id)
            atomic_write(os.path.join(mounts, "mount-id"), self.layout.mount_id(c.id).encode())
            atomic_write(os.path.join(mounts, "init-id"),
                         overlay2_init_id(self.layout, c.id).encode())
            if image_chains:
                atomic_write(os.path.join(mounts, "parent"), image_chains[-1].encode())
        else:
            atomic_write(self.layout.aufs_layers(c.id), "".join(
                f"{self.layout.layer_id(ch)}\n" for ch in reversed(image_chains)).encode())

    def _sync(self, c: Container, *, record: bool = True) -> None:
        """Bring the container's upper directory in step with its read-write layer: the
        paths that changed (:class:`~layerlab.store.upperdir.UpperDir`), or the whole
        directory when the layer was replaced or is not on disk yet; then (``record``)
        write the container's record."""
        if c.id in self._mounted or c.state is ContainerState.REMOVED:
            return
        upper = self._upper_dirs().get(c.id)
        changed = c.rw.take_changes()
        if upper is None or changed is None or not os.path.isdir(upper.root):
            self._rewrite_upper(c)
            self._track_upper(c)
        elif changed:
            upper.apply(c.rw, changed)
        if record:
            self._write_container(c)

    def _rewrite_upper(self, c: Container) -> None:
        """Write the whole read-write layer to the container's directory (one rename
        swaps it in)."""
        diff = self.layout.container_diff(c.id)
        os.makedirs(os.path.dirname(diff), exist_ok=True)
        if self.driver == "overlay2" and not os.path.isdir(self._init_diff(c.id)):
            write_overlay2_init(self.layout, c.id, c.image.chain_ids, self._overlay_form())
        tmp, old = diff + TMP_MARK + "sync", diff + TMP_MARK + "old"
        _finish_swap(diff)
        remove_tree(tmp)
        remove_tree(old)  # a kill may have left it: rename needs it gone
        write_overlay_dir(c.rw.to_layer(), tmp, **self._overlay_form())
        if os.path.isdir(diff):
            os.rename(diff, old)
        os.rename(tmp, diff)
        remove_tree(old)

    def _forget(self, c: Container) -> None:
        with self._lock.held():
            if c.id in self._mounted:
                self.unmount(c)
            for path in (self.layout.container_home(c.id),
                         self.layout.container_layer_home(c.id), self.layout.mounts(c.id)):
                remove_tree(path)
            if self.driver == "aufs":
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.layout.aufs_layers(c.id))
            else:
                remove_overlay2_init(self.layout, c.id)
            self._containers.pop(c.id, None)
            self._upper_dirs().pop(c.id, None)

    def _init_diff(self, container_id: str) -> str:
        return self.layout.layer_diff(overlay2_init_id(self.layout, container_id))

    def container_dir(self, container: Container | str) -> str:
        """The directory holding a container's read-write layer (``.../diff``)."""
        c = self.container(container) if isinstance(container, str) else container
        return self.layout.container_diff(c.id)

    def _container_ids(self, *, finished: bool = True) -> list[str]:
        """Ids under ``containers/``: those whose ``config.v2.json`` was written, or (with
        ``finished=False``) those a killed ``create_container`` left without one."""
        try:
            names = os.listdir(self.layout.containers_root())
        except FileNotFoundError:
            return []
        return sorted(
            n for n in names
            if TMP_MARK not in n
            and os.path.exists(os.path.join(self.layout.container_home(n), "config.v2.json"))
            == finished
        )

    def containers(self) -> list[Container]:
        """Every container, loading those made by another process or an earlier session."""
        with self._lock.held():
            for cid in self._container_ids():
                if cid not in self._containers:
                    self._load_container(cid)
        return sorted(self._containers.values(), key=lambda c: c.name)

    def container(self, ref: str) -> Container:
        """A container by name or (prefix of) id."""
        for c in self.containers():
            if ref in (c.name, c.id) or (len(ref) >= 4 and c.id.startswith(ref)):
                return c
        raise StoreError(f"no such container {ref!r} in {self.root}")

    def _load_container(self, cid: str) -> None:
        with open(os.path.join(self.layout.container_home(cid), "config.v2.json")) as f:
            doc = json.load(f)
        image = self.get(doc["Image"])
        c = Container(image, name=doc["Name"].lstrip("/"), host=self.host)
        c.rw = ReadWriteLayer.from_layer(read_overlay_dir(self.layout.container_diff(cid)))
        state = doc.get("State", {})
        c.restore(ContainerState(state.get("Status", "created")), exit_code=state.get("ExitCode"),
                  clock=_loaded_clock(c, doc.get("layerlab", {}).get("clock", 0)))
        self._attach(c)
        self._track_upper(c)

    # --- the real kernel overlay ------------------------------------------------------------
    # (the overlay options, mount and umount: layerlab.store.mount)
    #: keep the empty ``work/`` directory after real mode (containerd's snapshot directories
    #: always hold ``fs/`` and ``work/``; overlay2 and aufs make it when they mount)
    _KEEP_WORK = False

    def _lowers(self, container: Container) -> list[str]:
        """The container's lower directories in the kernel's order, nearest first: the
        ``-init`` layer (overlay2), then the image's layers from the top down."""
        chains = container.image.chain_ids
        lowers = [self.layout.layer_diff(self.layout.layer_id(ch)) for ch in reversed(chains)]
        if self.driver == "overlay2":  # the -init layer's mount points are the top lower
            lowers.insert(0, self._init_diff(container.id))
        return lowers

    def _fresh_work(self, container: Container) -> str:
        """The container's overlay work directory, emptied (the kernel wants it so)."""
        return _mount.empty_dir(self.layout.container_work(container.id))

    def mount_options(self, container: Container) -> str:
        """The ``-o`` options of ``mount -t overlay`` for the container: its lower
        directories nearest first, its upper directory and its work directory."""
        lowers = self._lowers(container)
        if not lowers:  # overlayfs needs one lower directory: an image without layers
            empty = os.path.join(self.root, "overlay2" if self.driver == "overlay2" else "aufs",
                                 "empty")
            os.makedirs(empty, exist_ok=True)
            lowers = [empty]
        return _mount.overlay_options(lowers, self.container_dir(container),
                                      self.layout.container_work(container.id))

    def mount(self, container: Container) -> str:
        """Mount the container's layers with the kernel's overlayfs (needs root); returns the
        merged directory, where ``ls`` shows the union view. :meth:`unmount` reads the upper
        directory back into the container."""
        if not self._as_root:
            raise StoreError("mounting overlayfs needs root here; use the simulated view "
                             "(container.view()) instead")
        merged = self.layout.container_merged(container.id)
        if container.id in self._mounted:
            return merged
        self._sync(container)
        self._fresh_work(container)
        failed = _mount.mount_overlay(self.mount_options(container), merged)
        if failed is not None:
            raise StoreError(f"mount -t overlay failed: {failed}")
        self._mounted.add(container.id)
        return merged

    def unmount(self, container: Container) -> None:
        """Unmount, and take what the kernel wrote in the upper directory into the container."""
        if container.id not in self._mounted:
            return
        merged = self.layout.container_merged(container.id)
        failed = _mount.unmount_overlay(merged)
        if failed is not None:
            raise StoreError(f"umount {merged} failed: {failed}")
        self._mounted.discard(container.id)
        container.rw = ReadWriteLayer.from_layer(read_overlay_dir(self.container_dir(container)))
        container.notify_changed()

    # --- housekeeping (layerlab.store.gc, fsck, df) ----------------------------------------
    def _referenced_chains(self) -> set[str]:
        used: set[str] = set()
        for image_id in self._image_ids():
            with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
                used.update(chain_ids(self._config(image_id)["rootfs"]["diff_ids"]))
        return used

    def _leftovers(self) -> list[str]:
        """Temporary files and directories left by interrupted writes."""
        return gc.leftovers(self.layout, self._layer_files, self._container_ids(finished=False))

    def _prune_layers(self) -> tuple[list[str], int]:
        return gc.prune_layers(self._layer_files, self._referenced_chains())

    def prune(self) -> PruneReport:
        """Remove layers no image uses and the leftovers of interrupted writes."""
        with self._lock.held():
            removed, reclaimed = self._prune_layers()
            leftovers = self._leftovers()
            remove_paths(leftovers)
        return PruneReport(tuple(removed), reclaimed, tuple(leftovers))

    def system_df(self) -> list[DfRow]:
        """Per image: size, and how much of it is shared with other images (by chain id)."""
        records = self.images()
        chains_of = {r.id: chain_ids(self._config(r.id)["rootfs"]["diff_ids"]) for r in records}
        return df.df_rows(records, chains_of, self._layer_size,
                          [c.image.id for c in self.containers()])

    def verify(self, *, deep: bool = True) -> VerifyReport:
        """Re-hash every blob and check every record; ``deep`` also compares each layer's
        files on disk with its blob. Every problem is reported, not just the first."""
        report = VerifyReport()
        with self._lock.held():
            fsck.verify_layers(report, self._layer_files, deep=deep)
            fsck.verify_images(report, self._imagedb, self.tags(), self._has_layer)
            fsck.verify_containers(report, self.layout, self._container_ids(),
                                   self._image_ids())
            report.leftovers = self._leftovers()
        return report

    # --- looking at the host (layerlab.store.treeview) --------------------------------------
    _TREE_HIDDEN = frozenset({".lock", "blobs"})

    def _tree_note(self, full: str) -> str:
        return _treeview.whiteout_note(full)

    def tree(self, top: Container | str | None = None, *, max_depth: int = 4,
             max_entries: int = 400) -> str:
        """The store directory as ``tree`` run inside it would print it (blobs left out).

        ``top`` narrows it to a container's read-write layer directory (a Container) or
        to a path relative to the store root. Whiteouts on disk are marked.
        The first line is ``.``, not the root's name: a temporary root's name is random,
        and notebooks compare this output."""
        if isinstance(top, Container):
            start = self.container_dir(top)
        else:
            start = os.path.join(self.root, top) if top else self.root
        return _treeview.tree(start, hidden=self._TREE_HIDDEN, note=self._tree_note,
                              max_depth=max_depth, max_entries=max_entries)


def _cleanup(root: str, mounted: set[str], layout: Layout) -> None:
    for cid in list(mounted):
        subprocess.run(["umount", "-l", layout.container_merged(cid)], check=False,
                       capture_output=True)
    remove_tree(root)


def _loaded_clock(c: Container, recorded: int) -> int:
    """The clock of a container read back: the recorded one, or later if the upper
    directory holds later changes (the record is written at stop and commit; changes
    are written through as they happen). A copy-up keeps the image's mtime: not a tick."""
    lower = c.image.view() if c.image.layers else None
    newest = 0
    for e in c.rw.entries.values():
        below = lower.lookup(e.path) if lower is not None else None
        if e.mtime > newest and (below is None or below.entry.mtime != e.mtime):
            newest = e.mtime
    return max(int(recorded or 0) or c.clock, newest)
