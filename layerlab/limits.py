"""Resource caps for untrusted input, with defaults a user can raise.

>>> from layerlab import Layer, Limits
>>> Layer.from_tar("big.tar", limits=Limits(max_entries=5_000_000))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True)
class Limits:
    """Caps applied while reading layers and image metadata.

    Every error raised for a cap names the field to raise, for example
    ``Limits(max_entries=...)``. The command line sets them with ``--max-layer-bytes``,
    ``--max-expansion``, ``--max-entries`` and ``--max-json-bytes``.

    ``max_entries`` at its default of one million costs about 1 GB of memory for the
    index of such a layer (about 1 KB per entry): a cap, not a size to aim for.
    """

    #: entries in one layer
    max_entries: int = 1_000_000
    #: bytes in one archive member name or link target
    max_path_bytes: int = 4096
    #: uncompressed bytes in one layer (a decompression bomb stops here); 4 GiB is more
    #: than any teaching image and fits the disk of a 2 GB Binder session
    max_layer_bytes: int = 4 * 1024**3
    #: bytes in one JSON document (manifest.json, index.json, a config)
    max_json_bytes: int = 16 * 1024**2
    #: bytes of extended attributes on one entry
    max_xattr_bytes: int = 64 * 1024
    #: uncompressed / compressed bytes of a layer, checked once it is past 256 MiB: 100 KB
    #: of zstd that inflates to 3 GiB (30,000x) stops at 256 MiB, while real layers
    #: compress 2-10x (a file of zeros can reach 1,000x)
    max_expansion: int = 1000
    #: manifest descriptors walked in an OCI layout's indexes (all levels together)
    max_manifests: int = 10_000


DEFAULT_LIMITS = Limits()
