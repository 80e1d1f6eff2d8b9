"""Content addressing as Docker and the OCI image spec define it.

* a *digest* is ``sha256:`` plus the lowercase hex sha256 of a blob's bytes as stored;
* a layer's *diff_id* is the digest of its uncompressed tar stream;
* a *chain_id* names a stack: ``chain_id(L0) = diff_id(L0)`` and
  ``chain_id(Ln) = sha256("<chain_id(Ln-1)> <diff_id(Ln)>")``.

>>> a = "sha256:" + "a" * 64
>>> b = "sha256:" + "b" * 64
>>> chain_ids([a, b])[0] == a
True
>>> chain_ids([a, b])[1] == sha256_digest(f"{a} {b}".encode())
True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

__all__ = ["chain_ids", "is_digest", "sha256_digest", "short"]

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def sha256_digest(data: bytes) -> str:
    """The ``sha256:<hex>`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(value: str) -> bool:
    """True for a well-formed lowercase ``sha256:<64 hex>`` digest."""
    return bool(_DIGEST_RE.match(value))


def chain_ids(diff_ids: Sequence[str] | Iterable[str]) -> list[str]:
    """The chain_id of every prefix of a base-first list of diff_ids."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else sha256_digest(f"{out[-1]} {diff_id}".encode("ascii")))
    return out


def short(digest: str, length: int = 12) -> str:
    """The first ``length`` hex digits of a digest, as ``docker images`` shows ids.

    >>> short("sha256:" + "0123456789abcdef" * 4)
    '0123456789ab'
    """
    return digest.partition(":")[2][:length] if ":" in digest else digest[:length]
