"""The host's view: an on-disk store laid out like ``/var/lib/docker``.

See :mod:`layerlab.store.store` for the class and :mod:`layerlab.store.layout` for the paths.
"""

from __future__ import annotations

from .store import (
    DfRow,
    ImageRecord,
    PruneReport,
    Store,
    StoreError,
    StoreFullError,
    VerifyReport,
    default_root,
)

__all__ = ["DfRow", "ImageRecord", "PruneReport", "Store", "StoreError", "StoreFullError",
           "VerifyReport", "default_root"]
