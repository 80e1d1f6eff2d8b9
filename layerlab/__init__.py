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
    DigestMismatchError,
    InvalidImageError,
    InvalidLayerError,
    LayerlabError,
    LimitExceededError,
    MalformedWhiteoutError,
    PathLookupError,
    PathNotFoundError,
    TruncatedError,
    UnsafePathError,
    UnsupportedEntryError,
)
from .image import HistoryEntry, Image, ImageConfig, LegacyLayer
from .layer import Layer
from .limits import Limits
from .union import Shadowed, View

__version__ = "0.1.0"

__all__ = [
    "BlockDevice",
    "BrokenHardlinkError",
    "CharDevice",
    "DigestMismatchError",
    "Dir",
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
    "Shadowed",
    "Symlink",
    "TruncatedError",
    "UnsafePathError",
    "UnsupportedEntryError",
    "View",
    "Whiteout",
    "__version__",
    "chain_ids",
]
