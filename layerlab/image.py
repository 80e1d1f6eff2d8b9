"""Image: a base-first stack of layers, with a config and a history.

An image is a unified view of a stack of read-only layers. ``image.layers[0]`` is the
base; ``image.view()`` merges them all, ``image.view(upto=k)`` shows the state after
layer ``k``. The config holds what a container starts with (env, cmd, entrypoint,
workdir, user, labels) and the history says how each layer was made; history entries
with ``empty_layer=True`` (ENV, CMD, ...) made no layer.

Two naming schemes live side by side, as they did in Docker's history:

* content addressing (Docker >= 1.10, OCI): ``diff_ids`` name layers by content,
  ``chain_ids`` name a layer together with everything below it, and the image ID is the
  digest of the config JSON;
* the legacy model of the aufs/graph era: every layer had an id of its own and a ``json``
  file with a ``parent`` pointer, and an image was the chain of parents from the top
  layer down. :attr:`Image.legacy_layers` computes those ids the way ``docker save``
  does (Docker's ``CreateID``: a digest of the layer's v1 JSON with its chain_id and
  parent id), so the parent chain can be walked. Modern ``docker history`` prints
  ``<missing>`` for layers that were pulled, because they have no such local id.

>>> from layerlab import Image, Layer
>>> base = Layer.from_dict({"/etc/os-release": "ID=tiny\\n"}, created_by="ADD rootfs /")
>>> img = Image.from_layers([base]).add_layer(
...     Layer.from_dict({"/app/hello.txt": "hi\\n"}), created_by="COPY hello.txt /app/")
>>> len(img.layers), img.view().listdir("/")
(2, ['app', 'etc'])
>>> img.legacy_layers[1].parent == img.legacy_layers[0].id
True
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from os import PathLike
from typing import TYPE_CHECKING, Any

from .digest import chain_ids, sha256_digest, short
from .errors import InvalidImageError
from .history import HistoryRow, history
from .layer import Layer
from .union import Stack, View

if TYPE_CHECKING:
    from .container import Container
    from .registry.push import PushResult

__all__ = ["EPOCH", "HistoryEntry", "Image", "ImageConfig", "LegacyLayer"]

#: the fixed timestamp generated images carry, so digests are the same everywhere
EPOCH = "1970-01-01T00:00:00Z"


@dataclass(frozen=True)
class HistoryEntry:
    """One line of ``docker history``: how a layer (or a metadata-only step) was made."""

    created_by: str = ""
    created: str = EPOCH
    comment: str = ""
    author: str = ""
    empty_layer: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"created": self.created, "created_by": self.created_by}
        if self.comment:
            out["comment"] = self.comment
        if self.author:
            out["author"] = self.author
        if self.empty_layer:
            out["empty_layer"] = True
        return out

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> HistoryEntry:
        return cls(
            created_by=str(doc.get("created_by", "")),
            created=str(doc.get("created", EPOCH)),
            comment=str(doc.get("comment", "")),
            author=str(doc.get("author", "")),
            empty_layer=bool(doc.get("empty_layer", False)),
        )


_OCI_KEYS = {
    "env": "Env",
    "cmd": "Cmd",
    "entrypoint": "Entrypoint",
    "workdir": "WorkingDir",
    "user": "User",
    "labels": "Labels",
    "exposed_ports": "ExposedPorts",
    "volumes": "Volumes",
    "stop_signal": "StopSignal",
    "healthcheck": "Healthcheck",
    "shell": "Shell",
    "onbuild": "OnBuild",
}


@dataclass(frozen=True)
class ImageConfig:
    """What a container of this image starts with (the OCI config's ``config`` object)."""

    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    workdir: str = ""
    user: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""
    #: Docker's HEALTHCHECK: ``(("Test", ("CMD-SHELL", "...")), ("Interval", ns), ...)``
    healthcheck: tuple[tuple[str, Any], ...] | None = None
    #: Docker's SHELL (the shell-form prefix), empty for the default ``/bin/sh -c``
    shell: tuple[str, ...] = ()
    #: ONBUILD triggers, as written (``RUN echo hi``)
    onbuild: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any] | None) -> ImageConfig:
        """Accept snake_case keys (``env``, ``cmd``...) or the OCI names (``Env``, ``Cmd``...)."""
        if not doc:
            return cls()
        reverse = {v: k for k, v in _OCI_KEYS.items()}
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in doc.items():
            name = reverse.get(key, key)
            if name not in known:
                continue  # unknown config keys must not fail by themselves
            values[name] = _coerce(name, value)
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, oci in _OCI_KEYS.items():
            value = getattr(self, name)
            if value in ((), "", None):
                continue
            if name == "labels":
                out[oci] = dict(value)
            elif name == "healthcheck":
                out[oci] = {k: list(v) if isinstance(v, tuple) else v for k, v in value}
            elif name in ("exposed_ports", "volumes"):
                out[oci] = {v: {} for v in value}
            elif isinstance(value, tuple):
                out[oci] = list(value)
            else:
                out[oci] = value
        return out

    def env_dict(self) -> dict[str, str]:
        return dict(item.partition("=")[::2] for item in self.env)


def _coerce(name: str, value: Any) -> Any:
    if name == "healthcheck":
        if not isinstance(value, Mapping):
            return None
        return tuple((str(k), tuple(str(x) for x in v) if isinstance(v, (list, tuple)) else v)
                     for k, v in value.items())
    if name in ("shell", "onbuild"):
        return tuple(str(v) for v in (value or ()))
    if name in ("cmd", "entrypoint"):
        if value is None:
            return None
        return (value,) if isinstance(value, str) else tuple(str(v) for v in value)
    if name == "env":
        if isinstance(value, Mapping):
            return tuple(f"{k}={v}" for k, v in value.items())
        return tuple(str(v) for v in value)
    if name == "labels":
        return tuple(sorted((str(k), str(v)) for k, v in dict(value or {}).items()))
    if name in ("exposed_ports", "volumes"):
        return tuple(sorted(str(v) for v in (value or ())))
    return "" if value is None else str(value)


@dataclass(frozen=True)
class LegacyLayer:
    """A layer as the aufs/graph-era Docker knew it: an id, a parent pointer, a ``json``."""

    index: int
    id: str
    parent: str | None
    json: Mapping[str, Any] = field(repr=False)


class Image:
    """An immutable stack of layers, base first, with config and history."""

    __slots__ = ("_config", "_history", "_layers", "_meta", "_raw_config", "_stack")

    def __init__(
        self,
        layers: Sequence[Layer],
        *,
        config: ImageConfig | Mapping[str, Any] | None = None,
        history: Iterable[HistoryEntry] | None = None,
        architecture: str = "amd64",
        os: str = "linux",
        created: str = EPOCH,
        author: str = "",
        raw_config: bytes | None = None,
    ) -> None:
        self._layers = tuple(layers)
        # The config exactly as read from a file: its digest is the image ID Docker showed.
        # Fields layerlab does not model (``variant``, ``container_config``...) live on
        # there; any change to the image makes a new config from the model.
        self._raw_config = raw_config
        for i, layer in enumerate(self._layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] is a {type(layer).__name__}, not a Layer")
        self._config = config if isinstance(config, ImageConfig) else ImageConfig.from_dict(config)
        if history is None:
            history = [HistoryEntry(created_by=x.created_by, comment=x.comment) for x in layers]
        self._history = tuple(history)
        with_layers = sum(1 for h in self._history if not h.empty_layer)
        if with_layers != len(self._layers):
            raise InvalidImageError(
                f"history has {with_layers} entries that made a layer, but the image has "
                f"{len(self._layers)} layers"
            )
        self._meta = {"architecture": architecture, "os": os, "created": created, "author": author}
        self._stack = Stack(self._layers)

    @classmethod
    def from_layers(
        cls,
        layers: Sequence[Layer],
        *,
        config: ImageConfig | Mapping[str, Any] | None = None,
        history: Iterable[HistoryEntry] | None = None,
        **meta: str,
    ) -> Image:
        """An image from base-first layers; history defaults to each layer's ``created_by``."""
        return cls(layers, config=config, history=history,
                   architecture=meta.get("architecture", "amd64"), os=meta.get("os", "linux"),
                   created=meta.get("created", EPOCH), author=meta.get("author", ""))

    @classmethod
    def from_config(cls, config: Mapping[str, Any], layers: Sequence[Layer], *,
                    raw: bytes | None = None) -> Image:
        """An image from an OCI/Docker config document and its layers (base first).

        The layers' diff_ids must match ``rootfs.diff_ids``; unknown keys are ignored.
        ``raw`` is the document's bytes as read: kept, so the image ID stays its digest.
        """
        rootfs = config.get("rootfs") or {}
        expected = list(rootfs.get("diff_ids") or [])
        actual = [layer.diff_id for layer in layers]
        if expected != actual:
            raise InvalidImageError(
                f"config lists diff_ids {[short(d) for d in expected]} but the layers are "
                f"{[short(d) for d in actual]}"
            )
        history = config.get("history")
        return cls(
            layers,
            config=ImageConfig.from_dict(config.get("config") or {}),
            history=None if history is None else [HistoryEntry.from_json(h) for h in history],
            architecture=str(config.get("architecture", "amd64")),
            os=str(config.get("os", "linux")),
            created=str(config.get("created", EPOCH)),
            author=str(config.get("author", "")),
            raw_config=raw,
        )

    @classmethod
    def scratch(cls) -> Image:
        """The empty image (``FROM scratch``)."""
        return cls(())

    # --- parts -------------------------------------------------------------------------
    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers, base first: ``layers[0]`` is the bottom of the stack."""
        return self._layers

    @property
    def config(self) -> ImageConfig:
        return self._config

    @property
    def history(self) -> tuple[HistoryEntry, ...]:
        return self._history

    @property
    def architecture(self) -> str:
        return self._meta["architecture"]

    @property
    def os(self) -> str:
        return self._meta["os"]

    @property
    def created(self) -> str:
        return self._meta["created"]

    @property
    def author(self) -> str:
        """The config's ``author`` (Dockerfile ``MAINTAINER``), ``''`` when unset."""
        return self._meta["author"]

    @property
    def diff_ids(self) -> list[str]:
        return [layer.diff_id for layer in self._layers]

    @property
    def chain_ids(self) -> list[str]:
        return chain_ids(self.diff_ids)

    def layer_history(self) -> list[tuple[HistoryEntry, Layer | None]]:
        """Each history entry with the layer it made (``None`` for empty layers)."""
        out: list[tuple[HistoryEntry, Layer | None]] = []
        it = iter(self._layers)
        for h in self._history:
            out.append((h, None if h.empty_layer else next(it)))
        return out

    # --- the config document -------------------------------------------------------------
    def config_json(self) -> dict[str, Any]:
        """The OCI image config (``application/vnd.oci.image.config.v1+json``) as a dict."""
        if self._raw_config is not None:
            loaded: dict[str, Any] = json.loads(self._raw_config)
            return loaded
        doc: dict[str, Any] = {
            "architecture": self.architecture,
            "os": self.os,
            "created": self.created,
            "config": self._config.to_json(),
            "rootfs": {"type": "layers", "diff_ids": self.diff_ids},
            "history": [h.to_json() for h in self._history],
        }
        if self._meta["author"]:
            doc["author"] = self._meta["author"]
        return doc

    def config_bytes(self) -> bytes:
        """The config serialized canonically (sorted keys, no spaces), or exactly as it was
        read for an image loaded from a file."""
        if self._raw_config is not None:
            return self._raw_config
        return json.dumps(self.config_json(), sort_keys=True, separators=(",", ":")).encode()

    @property
    def id(self) -> str:
        """The image ID, as Docker computes it: the digest of the config JSON."""
        return sha256_digest(self.config_bytes())

    # --- the union ---------------------------------------------------------------------
    def view(self, upto: int | None = None) -> View:
        """The merged filesystem after layer ``upto`` (0-based; default: the whole stack).

        ``upto=0`` is the base layer alone. Views are computed incrementally and kept,
        so moving through every ``upto`` costs one merge step each.
        """
        top = len(self._layers) - 1
        if upto is None:
            upto = top
        if not isinstance(upto, int) or isinstance(upto, bool):  # type: ignore[redundant-expr]
            raise TypeError(f"upto must be an int, not {type(upto).__name__}")
        requested = upto
        if upto < 0:
            upto += len(self._layers)
        if not 0 <= upto <= top:
            if top < 0:
                return View(self._stack, -1)
            raise IndexError(f"upto={requested} is out of range for an image of {top + 1} layers")
        return View(self._stack, upto)

    # --- the legacy model --------------------------------------------------------------
    @property
    def legacy_layers(self) -> tuple[LegacyLayer, ...]:
        """Per-layer v1 ids, parent pointers and ``json``, base first (see the module doc)."""
        out: list[LegacyLayer] = []
        parent: str | None = None
        chains = self.chain_ids
        made = [h for h in self._history if not h.empty_layer]
        for i, chain in enumerate(chains):
            hist = made[i]
            v1: dict[str, Any] = {"created": hist.created}
            if i == len(chains) - 1:
                v1.update({
                    "architecture": self.architecture,
                    "os": self.os,
                    "config": self._config.to_json(),
                })
            v1["container_config"] = {"Cmd": ["/bin/sh", "-c", hist.created_by]}
            if hist.comment:
                v1["comment"] = hist.comment
            # Docker's v1.CreateID: digest of the v1 JSON plus layer_id and parent.
            keyed = dict(v1, layer_id=chain)
            if parent is not None:
                keyed["parent"] = "sha256:" + parent
            v1_id = sha256_digest(
                json.dumps(keyed, sort_keys=True, separators=(",", ":")).encode()
            ).split(":", 1)[1]
            doc = {"id": v1_id, **({"parent": parent} if parent else {}), **v1}
            out.append(LegacyLayer(i, v1_id, parent, doc))
            parent = v1_id
        return tuple(out)

    def parent_chain(self) -> list[LegacyLayer]:
        """Walk the legacy parent pointers from the top layer down to the base."""
        by_id = {legacy.id: legacy for legacy in self.legacy_layers}
        chain: list[LegacyLayer] = []
        current = self.legacy_layers[-1] if by_id else None
        while current is not None:
            chain.append(current)
            current = by_id.get(current.parent) if current.parent else None
        return chain

    # --- new images from this one --------------------------------------------------------
    def add_layer(
        self, layer: Layer, *, created_by: str | None = None, comment: str | None = None
    ) -> Image:
        """A new image with ``layer`` on top (history from the layer unless given)."""
        entry = HistoryEntry(
            created_by=layer.created_by if created_by is None else created_by,
            comment=layer.comment if comment is None else comment,
        )
        return self._derive(layers=(*self._layers, layer), history=(*self._history, entry))

    def with_config(self, **changes: Any) -> Image:
        """A new image with some config fields changed: ``img.with_config(cmd=["sh"])``.

        Records no history; builds add an empty-layer history entry themselves.
        """
        values = {k: _coerce(k, v) for k, v in changes.items()}
        return self._derive(config=replace(self._config, **values))

    def with_history(self, entry: HistoryEntry) -> Image:
        """A new image with one more history entry that made no layer."""
        return self._derive(history=(*self._history, replace(entry, empty_layer=True)))

    def create_container(self, *, name: str | None = None, **options: Any) -> Container:
        """A new container of this image: the image's layers plus an empty read-write layer."""
        from .container import Container

        return Container(self, name=name, **options)

    def _derive(self, **parts: Any) -> Image:
        return Image(
            parts.get("layers", self._layers),
            config=parts.get("config", self._config),
            history=parts.get("history", self._history),
            architecture=self.architecture,
            os=self.os,
            created=self.created,
            author=self._meta["author"],
        )

    def __len__(self) -> int:
        return len(self._layers)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Image) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def _repr_html_(self) -> str:
        from .views.html import image_html

        return image_html(self)

    def save(self, path: str | PathLike[str], format: str = "oci", *,
             tag: str | None = None) -> None:
        """Write this image as an OCI layout directory (``"oci"``), an ``"oci-archive"``
        tar or a ``"docker-archive"`` tar (as ``docker save`` writes)."""
        from .formats import save

        save(self, path, format=format, tag=tag)

    def push(self, reference: str, **options: Any) -> PushResult:
        """Push this image to a registry (see :func:`layerlab.registry.push`).

        >>> img.push("localhost:5000/class/demo:1")  # doctest: +SKIP
        """
        from .registry.push import push

        return push(self, reference, **options)

    def history_rows(self) -> list[HistoryRow]:
        """``docker history`` rows, newest first (see :func:`layerlab.history.history`)."""
        return history(self)

    def __repr__(self) -> str:
        return f"<Image {short(self.id)}: {len(self._layers)} layers>"
