"""layerlab: how container images really work, one layer at a time.

The engine is pure Python: :class:`Layer` (an immutable change set, read from or
written to a real tar stream with OCI whiteouts), :class:`Image` (a base-first stack
of layers with config and history) and :class:`View` (the merged filesystem after any
layer). Errors all derive from :class:`LayerlabError`.

>>> import layerlab as ll
>>> img = ll.Image.from_layers([ll.Layer.from_dict({"/hello.txt": "hi\\n"})])
>>> img.view().read("/hello.txt")
b'hi\\n'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import executors as _executors  # noqa: F401  (registers the container's runner)
from .container import Change, Container, ContainerState, CopyUp
from .digest import chain_ids
from .entry import (
    BlockDevice,
    CharDevice,
    Dir,
    Entry,
    EntryKind,
    Fifo,
    File,
    Hardlink,
    Opaque,
    Symlink,
    Whiteout,
)
from .errors import (
    BrokenHardlinkError,
    BuildError,
    ContainerStateError,
    ContextEscapeError,
    DigestMismatchError,
    DockerfileError,
    InvalidImageError,
    InvalidLayerError,
    LayerlabError,
    LimitExceededError,
    MalformedWhiteoutError,
    PathLookupError,
    PathNotFoundError,
    RegistryError,
    TruncatedError,
    UnsafePathError,
    UnsupportedEntryError,
)
from .image import HistoryEntry, Image, ImageConfig, LegacyLayer
from .layer import Layer
from .limits import Limits
from .union import Shadowed, View

if TYPE_CHECKING:
    from .build import BuildCache, Builder, BuildStep, build
    from .formats import load
    from .registry.pull import pull
    from .store import Store

__version__ = "0.1.0"

# Heavier parts load on first use, so ``import layerlab`` stays fast.
_LAZY = {
    "BuildCache": "build",
    "BuildStep": "build",
    "Builder": "build",
    "build": "build",
    "Store": "store",
    "load": "formats",
    "pull": "registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'layerlab' has no attribute {name!r}")

__all__ = [
    "BlockDevice",
    "BrokenHardlinkError",
    "BuildCache",
    "BuildError",
    "BuildStep",
    "Builder",
    "Change",
    "CharDevice",
    "Container",
    "ContainerState",
    "ContainerStateError",
    "ContextEscapeError",
    "CopyUp",
    "DigestMismatchError",
    "Dir",
    "DockerfileError",
    "Entry",
    "EntryKind",
    "Fifo",
    "File",
    "Hardlink",
    "HistoryEntry",
    "Image",
    "ImageConfig",
    "InvalidImageError",
    "InvalidLayerError",
    "Layer",
    "LayerlabError",
    "LegacyLayer",
    "LimitExceededError",
    "Limits",
    "MalformedWhiteoutError",
    "Opaque",
    "PathLookupError",
    "PathNotFoundError",
    "RegistryError",
    "Shadowed",
    "Store",
    "Symlink",
    "TruncatedError",
    "UnsafePathError",
    "UnsupportedEntryError",
    "View",
    "Whiteout",
    "__version__",
    "build",
    "chain_ids",
    "load",
    "pull",
]
