"""The build cache, keyed as Docker keys it.

A step's key is the digest of three things: the parent image (its id, which covers every
layer and history entry below), the instruction text after variable substitution, and,
for ``COPY``/``ADD``, the checksums of the source files (path, type, mode and content;
**not** mtimes, so a fresh ``git clone`` still hits the cache). Change one instruction
and its key changes; every later step then has a new parent, so it misses too.

The cache remembers why it could not answer, so a miss can be explained:

>>> from layerlab.build.base import base_image
>>> cache = BuildCache()
>>> parent = base_image("layerlab/tiny")
>>> key = step_key(parent.id, "COPY app.py /app/", {"app.py": "sha256:1"})
>>> cache.lookup(key) is None
True
>>> cache.store(CacheEntry(key, "COPY app.py /app/", parent.id, {"app.py": "sha256:1"},
...                        parent, None))
>>> cache.explain_miss(parent.id, "COPY app.py /app/", {"app.py": "sha256:2"})
'COPY source checksum changed: app.py'
>>> cache.explain_miss(parent.id, "COPY other.py /app/", {})
'no cache entry for this parent + instruction'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..digest import sha256_digest, short
from ..image import Image
from ..layer import Layer

__all__ = ["BuildCache", "CacheEntry", "CacheRow", "step_key"]


def step_key(parent_id: str, instruction: str, sources: Mapping[str, str] | None = None) -> str:
    """The cache key of a step: ``sha256`` of (parent image id, instruction, source sums)."""
    doc = [parent_id, instruction, sorted((sources or {}).items())]
    return sha256_digest(json.dumps(doc, separators=(",", ":")).encode())


@dataclass
class CacheEntry:
    """What a step produced, kept so the same step can be skipped next time."""

    key: str
    instruction: str
    parent: str
    sources: Mapping[str, str]
    image: Image
    layer: Layer | None
    hits: int = 0


@dataclass(frozen=True)
class CacheRow:
    """One row of :meth:`BuildCache.entries` (a plain record for tables)."""

    key: str
    instruction: str
    parent: str
    result: str
    hits: int


@dataclass
class BuildCache:
    """Step results by key; share one across builds like the Docker daemon's cache.

    Only builds fill it; nothing is evicted (clear it with :meth:`clear`).
    """

    _entries: dict[str, CacheEntry] = field(default_factory=dict)

    def lookup(self, key: str) -> CacheEntry | None:
        """The entry for ``key`` (counted as a hit), or ``None``."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.hits += 1
        return entry

    def store(self, entry: CacheEntry) -> None:
        self._entries[entry.key] = entry

    def explain_miss(self, parent: str, instruction: str, sources: Mapping[str, str]) -> str:
        """Why there is no entry for this step (assumes the lookup missed)."""
        same_parent = [e for e in self._entries.values() if e.parent == parent]
        if not same_parent:
            return "no cache entry for this parent image"
        same = [e for e in same_parent if e.instruction == instruction]
        if not same:
            return "no cache entry for this parent + instruction"
        old = same[-1].sources
        keyword = instruction.split(" ", 1)[0]
        changed = sorted(p for p in set(old) | set(sources) if old.get(p) != sources.get(p))
        shown = ", ".join(changed[:5]) + (f" (+{len(changed) - 5} more)" if len(changed) > 5
                                          else "")
        return f"{keyword} source checksum changed: {shown}"

    def entries(self) -> list[CacheRow]:
        """Rows for a table: key, instruction, parent, result (layer diff_id or
        ``empty layer``) and hits, in the order they were stored."""
        return [
            CacheRow(
                key=short(e.key),
                instruction=e.instruction,
                parent=short(e.parent),
                result=e.layer.diff_id if e.layer is not None else "empty layer",
                hits=e.hits,
            )
            for e in self._entries.values()
        ]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<BuildCache: {len(self._entries)} entries>"
