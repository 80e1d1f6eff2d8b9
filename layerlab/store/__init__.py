"""The host's view: an on-disk store laid out like ``/var/lib/docker``.

See :mod:`layerlab.store.store` for the class (a facade over :mod:`~layerlab.store.layers`,
:mod:`~layerlab.store.imagedb`, :mod:`~layerlab.store.refs`, :mod:`~layerlab.store.gc`,
:mod:`~layerlab.store.fsck`, :mod:`~layerlab.store.df` and :mod:`~layerlab.store.treeview`)
and :mod:`layerlab.store.layout` for the paths;
``Store(driver="containerd")`` is :mod:`layerlab.store.containerd` (paths in
:mod:`layerlab.store.containerd_layout`). :mod:`layerlab.store.where` and
:mod:`layerlab.store.diskuse` compare the three layouts.
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
