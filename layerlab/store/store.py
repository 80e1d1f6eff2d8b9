"""Store: the host's view, an on-disk directory laid out like ``/var/lib/docker``.

Images, layers and containers live under one root directory as real files: a layer's
files under its ``diff`` directory, its metadata in ``layerdb`` (overlay2) or ``graph``
(aufs), image configs in ``imagedb``, tags in ``repositories.json``, containers in
``containers/<id>/config.v2.json`` with their read-write layer as a real directory. So
``happy.txt`` written in a container is on disk after ``stop`` and gone after ``rm``,
exactly as the source text shows. See :mod:`layerlab.store.layout` for the paths.

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
import hashlib
import json
import os
import stat
import subprocess
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .._fsutil import remove_tree
from ..container import Container, ContainerState, ReadWriteLayer
from ..digest import chain_ids, sha256_digest, short
from ..entry import EntryKind
from ..errors import InvalidImageError, LayerlabError, StoreError, StoreFullError
from ..image import Image
from ..layer import Layer
from ..overlaydir import read_overlay_dir, write_overlay_dir
from ..processes import Host
from .durable import TMP_MARK, StoreLock, atomic_write, fsync_dir, replace_dir, write_blob
from .initlayer import overlay2_init_id, remove_overlay2_init, write_overlay2_init
from .layout import Layout

__all__ = ["DfRow", "ImageRecord", "PruneReport", "Store", "StoreError", "StoreFullError",
           "VerifyReport", "default_root"]


def default_root() -> str:
    """The embedded default store: ``$LAYERLAB_STORE`` or a per-user data directory."""
    env = os.environ.get("LAYERLAB_STORE")
    if env:
        return env
    import platformdirs

    return os.path.join(platformdirs.user_data_dir("layerlab", appauthor=False), "store")


@dataclass(frozen=True)
class ImageRecord:
    """One row of ``docker images``."""

    id: str
    tags: tuple[str, ...]
    layers: int
    size: int
    created: str


@dataclass(frozen=True)
class DfRow:
    """One row of ``docker system df -v``: shared bytes are in layers another image uses."""

    image: str
    tags: tuple[str, ...]
    size: int
    shared_size: int
    unique_size: int
    containers: int


@dataclass
class VerifyReport:
    """What :meth:`Store.verify` found. ``ok`` is true when nothing is corrupt; leftovers of
    interrupted writes are listed but are not corruption (``prune()`` removes them)."""

    problems: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    layers: int = 0
    images: int = 0
    containers: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = (f"{'ok' if self.ok else 'CORRUPT'}: {self.layers} layers, {self.images} images, "
                f"{self.containers} containers checked")
        lines = [head, *(f"problem: {p}" for p in self.problems),
                 *(f"leftover: {p}" for p in self.leftovers)]
        return "\n".join(lines)


@dataclass(frozen=True)
class PruneReport:
    layers_removed: tuple[str, ...]
    bytes_reclaimed: int
    leftovers_removed: tuple[str, ...]


def _tag(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


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

    # --- layers --------------------------------------------------------------------------
    def _overlay_form(self) -> dict[str, Any]:
        safety = {"allow_setuid": self.allow_setuid, "create_devices": self.allow_devices}
        if self._as_root:
            return {"xattr_namespace": "trusted", "whiteout_form": "chardev", **safety}
        return {"xattr_namespace": "user", "whiteout_form": "xattr", **safety}

    def _has_layer(self, chain_id: str) -> bool:
        return os.path.isfile(os.path.join(self.layout.layerdb(chain_id), "diff"))

    def _put_layer(self, layer: Layer, chain: str, parent: str | None,
                   parents: list[str], legacy: dict[str, Any]) -> None:
        if self._has_layer(chain):
            return
        layout = self.layout
        blob = layout.blob(layer.diff_id)
        fresh = not os.path.exists(blob)
        write_blob(blob, layer.diff_id, layer.tar_size, lambda f: layer.to_tar(f))
        try:
            self._put_layer_files(layer, chain, parent, parents, legacy)
        except BaseException:
            if fresh:  # a layer that cannot be written (a full disk) leaves no orphan blob
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(blob)
            raise

    def _put_layer_files(self, layer: Layer, chain: str, parent: str | None,
                         parents: list[str], legacy: dict[str, Any]) -> None:
        layout = self.layout
        layer_id = layout.layer_id(chain)
        form = self._overlay_form()
        if self.driver == "overlay2":
            short_name = layout.short_link(layer_id)
            lower = ":".join(f"l/{layout.short_link(layout.layer_id(p))}" for p in parents)

            def build(tmp: str) -> None:
                os.makedirs(tmp)
                write_overlay_dir(layer, os.path.join(tmp, "diff"), **form)
                _write(os.path.join(tmp, "link"), short_name)
                if lower:
                    _write(os.path.join(tmp, "lower"), lower)

            replace_dir(build, layout.layer_home(layer_id))
            links = os.path.join(self.root, "overlay2", "l")
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

    def layer_dir(self, image: Image | str, index: int) -> str:
        """The ``diff`` directory holding layer ``index`` of an image in this store."""
        img = self.get(image) if isinstance(image, str) else image
        return self.layout.layer_diff(self.layout.layer_id(img.chain_ids[index]))

    # --- images --------------------------------------------------------------------------
    def add(self, image: Image, *, tag: str | None = None) -> str:
        """Record an image (its layers first, then its config, then the tag); returns its id.

        Layers already in the store are shared, not written again.
        """
        with self._lock.held():
            chains = image.chain_ids
            legacy = image.legacy_layers
            try:
                for i, layer in enumerate(image.layers):
                    parents = list(reversed(chains[:i]))
                    self._put_layer(layer, chains[i], chains[i - 1] if i else None, parents,
                                    dict(legacy[i].json))
                path = self.layout.imagedb(image.id)
                if not os.path.exists(path):
                    atomic_write(path, image.config_bytes())
            except OSError as exc:
                if exc.errno == errno.ENAMETOOLONG:
                    raise StoreError(
                        f"store {self.root}: image {short(image.id)} has a path too long for "
                        f"this file system below the store's root ({len(exc.filename or '')} "
                        "bytes; PATH_MAX is 4096); the image was not recorded") from None
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                raise StoreFullError(
                    f"store {self.root}: no space left on the device while importing image "
                    f"{short(image.id)} ({exc.strerror}); the image was not recorded. Free "
                    "some space (store.remove_image(...), store.prune()) and add it again"
                ) from exc
            self._images[image.id] = image
            if tag is not None:
                self._set_tag(tag, image.id)
        return image.id

    def _read_repositories(self) -> dict[str, dict[str, str]]:
        try:
            with open(self.layout.repositories()) as f:
                data: dict[str, dict[str, str]] = json.load(f).get("Repositories", {})
                return data
        except FileNotFoundError:
            return {}

    def _write_repositories(self, repos: dict[str, dict[str, str]]) -> None:
        atomic_write(self.layout.repositories(),
                     json.dumps({"Repositories": repos}, sort_keys=True, indent=2).encode())

    def _set_tag(self, tag: str, image_id: str) -> None:
        tag = _tag(tag)
        repos = self._read_repositories()
        repos.setdefault(tag.rsplit(":", 1)[0], {})[tag] = image_id
        self._write_repositories(repos)

    def tags(self) -> dict[str, str]:
        """``{"name:tag": image id}`` for every tag."""
        return {t: i for repo in self._read_repositories().values() for t, i in repo.items()}

    def tag(self, ref: str | Image, tag: str) -> None:
        with self._lock.held():
            self._set_tag(tag, self._resolve(ref))

    def untag(self, tag: str) -> None:
        with self._lock.held():
            tag = _tag(tag)
            repos = self._read_repositories()
            repo = repos.get(tag.rsplit(":", 1)[0], {})
            if tag not in repo:
                raise StoreError(f"no such tag {tag!r} in {self.root}")
            del repo[tag]
            if not repo:
                del repos[tag.rsplit(":", 1)[0]]
            self._write_repositories(repos)

    def _image_ids(self) -> list[str]:
        try:
            names = os.listdir(self.layout.imagedb_root())
        except FileNotFoundError:
            return []
        return sorted("sha256:" + n for n in names if TMP_MARK not in n)

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
        with open(self.layout.imagedb(image_id), "rb") as f:
            raw = f.read()
        if sha256_digest(raw) != image_id:
            raise InvalidImageError(f"image {short(image_id)}: config does not hash to its id")
        from ..formats.loaded import image_from_config

        config = json.loads(raw)
        diff_ids = config["rootfs"]["diff_ids"]

        def load(i: int, diff_id: str, history: Any) -> Layer:
            return Layer.from_tar(self.layout.blob(diff_id),
                                  created_by=str(history.get("created_by", "")),
                                  comment=str(history.get("comment", "")))

        # the loaders' own rules (a missing or short history is blank), so what add()
        # accepted, get() reads back
        image = image_from_config(config, len(diff_ids), load, where=f"image {short(image_id)}",
                                  raw=raw)
        self._images[image_id] = image
        return image

    def images(self) -> list[ImageRecord]:
        """Every image, like ``docker images``."""
        by_image: dict[str, list[str]] = {}
        for t, i in sorted(self.tags().items()):
            by_image.setdefault(i, []).append(t)
        out = []
        for image_id in self._image_ids():
            try:
                config = self._config(image_id)
            except FileNotFoundError:  # removed by another process since the listing
                continue
            diff_ids = config["rootfs"]["diff_ids"]
            size = sum(self._layer_size(c) for c in chain_ids(diff_ids))
            out.append(ImageRecord(image_id, tuple(by_image.get(image_id, ())), len(diff_ids),
                                   size, str(config.get("created", ""))))
        return out

    def _config(self, image_id: str) -> dict[str, Any]:
        with open(self.layout.imagedb(image_id), "rb") as f:
            data: dict[str, Any] = json.loads(f.read())
            return data

    def _layer_size(self, chain: str) -> int:
        try:
            with open(os.path.join(self.layout.layerdb(chain), "size")) as f:
                return int(f.read())
        except (FileNotFoundError, ValueError):
            return 0

    def remove_image(self, ref: str | Image, *, force: bool = False) -> None:
        """``docker rmi``: forget the image and its tags; layers nobody uses go too."""
        with self._lock.held():
            image_id = self._resolve(ref)
            users = [c.name for c in self.containers() if c.image.id == image_id]
            if users and not force:
                raise StoreError(f"image {short(image_id)} is used by containers {users}")
            repos = self._read_repositories()
            for name in list(repos):
                repos[name] = {t: i for t, i in repos[name].items() if i != image_id}
                if not repos[name]:
                    del repos[name]
            self._write_repositories(repos)
            os.unlink(self.layout.imagedb(image_id))
            fsync_dir(self.layout.imagedb_root())
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
        chains = container.image.chain_ids
        lowers = [self.layout.layer_diff(self.layout.layer_id(ch)) for ch in chains]
        if self.driver == "overlay2":
            lowers.append(self._init_diff(container.id))
        work = self.layout.container_work(container.id)
        remove_tree(work)
        os.makedirs(work)
        self._mounted.add(container.id)
        try:
            yield lowers, self.container_dir(container), work
        finally:
            self._mounted.discard(container.id)
            remove_tree(work)

    def _on_event(self, container: Container, event: str) -> None:
        with self._lock.held():
            if event == "remove":
                self._forget(container)
            elif event == "change":
                self._sync(container)
            else:
                self._write_container(container)

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
            "layerlab": {"clock": c._clock, "copy_ups": len(c.copy_ups)},
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

    def _sync(self, c: Container) -> None:
        """Write the container's read-write layer to its directory (one rename swaps it)."""
        if c.id in self._mounted or c.state is ContainerState.REMOVED:
            return
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
        self._write_container(c)

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
        c = Container(image, name=doc["Name"].lstrip("/"), host=self.host,
                      clock_start=int(doc.get("layerlab", {}).get("clock", 0)) or 1767225600)
        c.rw = ReadWriteLayer.from_layer(read_overlay_dir(self.layout.container_diff(cid)))
        status = doc.get("State", {}).get("Status", "created")
        # processes do not survive the session that ran them: a running container exited
        c._state = (ContainerState.EXITED if status in ("running", "paused")
                    else ContainerState(status))
        c.exit_code = doc.get("State", {}).get("ExitCode")
        self._attach(c)

    # --- the real kernel overlay ------------------------------------------------------------
    def mount(self, container: Container) -> str:
        """Mount the container's layers with the kernel's overlayfs (needs root); returns the
        merged directory, where ``ls`` shows the union view. :meth:`unmount` reads the upper
        directory back into the container."""
        if not self._as_root:
            raise StoreError("mounting overlayfs needs root here; use the simulated view "
                             "(container.view()) instead")
        if container.id in self._mounted:
            return self.layout.container_merged(container.id)
        self._sync(container)
        chains = container.image.chain_ids
        lowers = [self.layout.layer_diff(self.layout.layer_id(ch)) for ch in reversed(chains)]
        if self.driver == "overlay2":  # the -init layer's mount points are the top lower
            lowers.insert(0, self._init_diff(container.id))
        if not lowers:
            empty = os.path.join(self.root, "overlay2" if self.driver == "overlay2" else "aufs",
                                 "empty")
            os.makedirs(empty, exist_ok=True)
            lowers = [empty]
        work = self.layout.container_work(container.id)
        merged = self.layout.container_merged(container.id)
        remove_tree(work)
        os.makedirs(work)
        os.makedirs(merged, exist_ok=True)
        options = (f"lowerdir={':'.join(lowers)},upperdir={self.container_dir(container)},"
                   f"workdir={work}")
        result = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, merged],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StoreError(f"mount -t overlay failed: {result.stderr.strip()}")
        self._mounted.add(container.id)
        return merged

    def unmount(self, container: Container) -> None:
        """Unmount, and take what the kernel wrote in the upper directory into the container."""
        if container.id not in self._mounted:
            return
        merged = self.layout.container_merged(container.id)
        result = subprocess.run(["umount", merged], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StoreError(f"umount {merged} failed: {result.stderr.strip()}")
        self._mounted.discard(container.id)
        container.rw = ReadWriteLayer.from_layer(read_overlay_dir(self.container_dir(container)))
        container._changed()

    # --- housekeeping ------------------------------------------------------------------------
    def _layerdb_chains(self) -> list[str]:
        try:
            names = os.listdir(self.layout.layerdb_root())
        except FileNotFoundError:
            return []
        return sorted("sha256:" + n for n in names if TMP_MARK not in n)

    def _referenced_chains(self) -> set[str]:
        used: set[str] = set()
        for image_id in self._image_ids():
            with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
                used.update(chain_ids(self._config(image_id)["rootfs"]["diff_ids"]))
        return used

    def _leftovers(self) -> list[str]:
        """Temporary files and directories left by interrupted writes."""
        roots = [self.root, self.layout.blobs_root(), self.layout.layerdb_root(),
                 self.layout.imagedb_root(), os.path.dirname(self.layout.repositories()),
                 self.layout.containers_root(), os.path.join(self.root, "overlay2"),
                 os.path.join(self.root, "aufs", "diff"), os.path.join(self.root, "aufs", "layers"),
                 os.path.join(self.root, "graph"),
                 os.path.join(self.root, "image", self.driver, "layerdb", "mounts")]
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
                elif os.path.isdir(path) and not os.path.islink(path) and top != self.root:
                    with contextlib.suppress(OSError):
                        found += [os.path.join(path, n) for n in os.listdir(path) if TMP_MARK in n]
        # a container whose creation was cut before its config.v2.json was written
        for cid in self._container_ids(finished=False):
            found += [p for p in (self.layout.container_home(cid),
                                  self.layout.container_layer_home(cid),
                                  self.layout.layer_home(overlay2_init_id(self.layout, cid)),
                                  self.layout.mounts(cid)) if os.path.lexists(p)]
        # a blob whose layer was never recorded (an import interrupted or out of space)
        recorded = {self._layerdb_diff(c) for c in self._layerdb_chains()}
        with contextlib.suppress(FileNotFoundError):
            found += [os.path.join(self.layout.blobs_root(), n)
                      for n in os.listdir(self.layout.blobs_root())
                      if TMP_MARK not in n and f"sha256:{n}" not in recorded]
        return sorted(set(found))

    def _prune_layers(self) -> tuple[list[str], int]:
        used = self._referenced_chains()
        removed, reclaimed = [], 0
        still = {c: self._layerdb_diff(c) for c in self._layerdb_chains() if c in used}
        for chain in self._unused_top_down(used):
            layer_id = self.layout.layer_id(chain)
            diff_id = self._layerdb_diff(chain)
            reclaimed += self._layer_size(chain)
            # one rename takes each directory out of the store, so a kill -9 mid-way leaves
            # a leftover (removed by the next prune), never a half-deleted record or layer
            _discard_dir(self.layout.layerdb(chain))
            _discard_dir(self.layout.layer_home(layer_id))
            if self.driver == "overlay2":
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.root, "overlay2", "l",
                                           self.layout.short_link(layer_id)))
            else:
                remove_tree(self.layout.graph(layer_id))
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.layout.aufs_layers(layer_id))
            if diff_id and diff_id not in still.values():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.layout.blob(diff_id))
            removed.append(chain)
        return removed, reclaimed

    def _unused_top_down(self, used: set[str]) -> list[str]:
        """Unused layers, every layer before its parent: a kill between two removals must
        not leave a recorded layer whose parent is gone."""
        unused = [c for c in self._layerdb_chains() if c not in used]
        parent_of: dict[str, str] = {}
        for chain in unused:
            with contextlib.suppress(FileNotFoundError):
                parent_of[chain] = _read(os.path.join(self.layout.layerdb(chain), "parent"))

        def depth(chain: str) -> int:
            n = 0
            while chain in parent_of and n <= len(parent_of):
                chain, n = parent_of[chain], n + 1
            return n

        return sorted(unused, key=depth, reverse=True)

    def _layerdb_diff(self, chain: str) -> str:
        try:
            with open(os.path.join(self.layout.layerdb(chain), "diff")) as f:
                return f.read().strip()
        except FileNotFoundError:
            return ""

    def prune(self) -> PruneReport:
        """Remove layers no image uses and the leftovers of interrupted writes."""
        with self._lock.held():
            removed, reclaimed = self._prune_layers()
            leftovers = self._leftovers()
            for path in leftovers:
                if os.path.isdir(path) and not os.path.islink(path):
                    remove_tree(path)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
        return PruneReport(tuple(removed), reclaimed, tuple(leftovers))

    def system_df(self) -> list[DfRow]:
        """Per image: size, and how much of it is shared with other images (by chain id)."""
        chains_of = {r.id: chain_ids(self._config(r.id)["rootfs"]["diff_ids"])
                     for r in self.images()}
        users: dict[str, int] = {}
        for chains in chains_of.values():
            for ch in set(chains):
                users[ch] = users.get(ch, 0) + 1
        containers: dict[str, int] = {}
        for c in self.containers():
            containers[c.image.id] = containers.get(c.image.id, 0) + 1
        rows = []
        for record in self.images():
            chains = chains_of[record.id]
            shared = sum(self._layer_size(ch) for ch in chains if users[ch] > 1)
            rows.append(DfRow(record.id, record.tags, record.size, shared,
                              record.size - shared, containers.get(record.id, 0)))
        return rows

    def verify(self, *, deep: bool = True) -> VerifyReport:
        """Re-hash every blob and check every record; ``deep`` also compares each layer's
        files on disk with its blob. Every problem is reported, not just the first."""
        report = VerifyReport()
        with self._lock.held():
            self._verify_layers(report, deep)
            self._verify_images(report)
            self._verify_containers(report)
            report.leftovers = self._leftovers()
        return report

    def _verify_layers(self, report: VerifyReport, deep: bool) -> None:
        for chain in self._layerdb_chains():
            report.layers += 1
            where = f"layer {short(chain)}"
            db = self.layout.layerdb(chain)
            try:
                diff_id = _read(os.path.join(db, "diff"))
                size = int(_read(os.path.join(db, "size")))
                cache_id = _read(os.path.join(db, "cache-id"))
            except (FileNotFoundError, ValueError) as exc:
                report.problems.append(f"{where}: layerdb record incomplete ({exc})")
                continue
            parent = _read(os.path.join(db, "parent")) if os.path.exists(
                os.path.join(db, "parent")) else None
            expected = diff_id if parent is None else sha256_digest(
                f"{parent} {diff_id}".encode())
            if expected != chain:
                report.problems.append(f"{where}: chain id does not match parent + diff_id")
            if parent is not None and not self._has_layer(parent):
                report.problems.append(f"{where}: parent layer {short(parent)} is missing")
            blob = self.layout.blob(diff_id)
            if not os.path.exists(blob):
                report.problems.append(f"{where}: blob {diff_id} is missing ({blob})")
                continue
            actual = _hash_file(blob)
            if actual != diff_id:
                report.problems.append(f"{where}: blob {blob} hashes to {actual}, not {diff_id}")
                continue
            diff = self.layout.layer_diff(cache_id)
            if not os.path.isdir(diff):
                report.problems.append(f"{where}: diff directory {diff} is missing")
                continue
            layer = Layer.from_tar(blob)
            if layer.size != size:
                report.problems.append(f"{where}: size file says {size}, layer has {layer.size}")
            if deep:
                self._compare_diff(report, where, layer, diff)

    @staticmethod
    def _compare_diff(report: VerifyReport, where: str, layer: Layer, diff: str) -> None:
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

    def _verify_images(self, report: VerifyReport) -> None:
        images = set(self._image_ids())
        for image_id in sorted(images):
            report.images += 1
            where = f"image {short(image_id)}"
            path = self.layout.imagedb(image_id)
            actual = _hash_file(path)
            if actual != image_id:
                report.problems.append(f"{where}: config {path} hashes to {actual}")
                continue
            try:
                diff_ids = self._config(image_id)["rootfs"]["diff_ids"]
            except (ValueError, KeyError) as exc:
                report.problems.append(f"{where}: config is not a valid image config ({exc})")
                continue
            for i, chain in enumerate(chain_ids(diff_ids)):
                if not self._has_layer(chain):
                    report.problems.append(f"{where}: layer {i} ({short(chain)}) is missing")
        for tag, image_id in sorted(self.tags().items()):
            if image_id not in images:
                report.problems.append(f"tag {tag}: points at missing image {short(image_id)}")

    def _verify_containers(self, report: VerifyReport) -> None:
        for cid in self._container_ids():  # unfinished ones are leftovers, not corruption
            report.containers += 1
            where = f"container {cid[:12]}"
            try:
                with open(os.path.join(self.layout.container_home(cid), "config.v2.json")) as f:
                    doc = json.load(f)
            except (FileNotFoundError, ValueError) as exc:
                report.problems.append(f"{where}: config.v2.json unreadable ({exc})")
                continue
            if doc.get("Image") not in set(self._image_ids()):
                report.problems.append(f"{where}: its image {doc.get('Image')} is missing")
            if not os.path.isdir(self.layout.container_diff(cid)):
                report.problems.append(f"{where}: read-write layer directory is missing")

    # --- looking at the host -----------------------------------------------------------------
    _TREE_HIDDEN = frozenset({".lock", "blobs"})

    def _tree_note(self, full: str) -> str:
        return _marker(full)

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
        lines = ["."]
        count = 0

        def walk(path: str, prefix: str, depth: int) -> None:
            nonlocal count
            try:
                names = sorted(n for n in os.listdir(path) if n not in self._TREE_HIDDEN)
            except OSError:
                return
            for i, name in enumerate(names):
                if count >= max_entries:
                    return
                count += 1
                last = i == len(names) - 1
                full = os.path.join(path, name)
                is_dir = os.path.isdir(full) and not os.path.islink(full)
                suffix = "/" if is_dir else (f" -> {os.readlink(full)}"
                                             if os.path.islink(full) else self._tree_note(full))
                lines.append(f"{prefix}{'└── ' if last else '├── '}{name}{suffix}")
                if is_dir and depth < max_depth:
                    walk(full, prefix + ("    " if last else "│   "), depth + 1)

        walk(start, "", 1)
        if count >= max_entries:
            lines.append(f"... (stopped after {max_entries} entries)")
        return "\n".join(lines)


def _marker(path: str) -> str:
    """How ``tree`` output marks an overlay whiteout on disk. Both forms (a character
    device 0/0 as root, a file with ``user.overlay.whiteout`` otherwise) print the same,
    so the output does not depend on who runs it."""
    st = os.lstat(path)
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return "  (whiteout)"
    for ns in ("trusted", "user"):
        with contextlib.suppress(OSError):
            os.getxattr(path, f"{ns}.overlay.whiteout", follow_symlinks=False)
            return "  (whiteout)"
    return ""


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def _finish_swap(diff: str) -> None:
    """Complete a read-write layer swap that a kill interrupted between its two renames
    (``diff`` -> ``diff.tmp-old``, then ``diff.tmp-sync`` -> ``diff``). The new tree was
    whole before the first rename, so roll forward; without it, roll back."""
    tmp, old = diff + TMP_MARK + "sync", diff + TMP_MARK + "old"
    if not os.path.isdir(diff) and os.path.isdir(old):
        os.rename(tmp if os.path.isdir(tmp) else old, diff)


def _discard_dir(path: str) -> None:
    """Rename ``path`` to a leftover name (atomic), then delete it."""
    gone = f"{path}{TMP_MARK}gone"
    try:
        os.rename(path, gone)
    except FileNotFoundError:
        return
    remove_tree(gone)


def _hash_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _cleanup(root: str, mounted: set[str], layout: Layout) -> None:
    for cid in list(mounted):
        subprocess.run(["umount", "-l", layout.container_merged(cid)], check=False,
                       capture_output=True)
    remove_tree(root)

