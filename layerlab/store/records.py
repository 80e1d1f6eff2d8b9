"""The store's answers as values: rows of ``docker images`` and ``docker system df -v``,
and the reports of :meth:`~layerlab.store.Store.verify` and :meth:`~layerlab.store.Store.prune`.

Every layout returns these same types; they hold no paths to open and no store to call.

>>> report = VerifyReport(problems=[], leftovers=["/s/blobs/sha256/ab.tmp-1"], layers=2)
>>> report.ok, str(report).splitlines()[0]
(True, 'ok: 2 layers, 0 images, 0 containers checked')
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DfRow", "ImageRecord", "PruneReport", "VerifyReport"]


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
    """What :meth:`Store.prune` removed: layers (chain ids), the bytes their records gave,
    and the leftovers of interrupted writes."""

    layers_removed: tuple[str, ...]
    bytes_reclaimed: int
    leftovers_removed: tuple[str, ...]
