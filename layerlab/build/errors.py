"""Errors a build raises; they live in :mod:`layerlab.errors` with the rest of the tree,
except :class:`BuildLimitExceededError`, which is both a build error and a cap."""

from __future__ import annotations

from ..errors import BuildError, ContextEscapeError, DockerfileError, LimitExceededError

__all__ = ["BuildError", "BuildLimitExceededError", "ContextEscapeError", "DockerfileError"]


class BuildLimitExceededError(BuildError, LimitExceededError):
    """A step hit a resource cap (an ``ADD`` decompression bomb, ``ENV`` doubling): a
    :class:`BuildError` naming the step and line, and a :class:`LimitExceededError`
    naming the cap; the engine's own error is its ``__cause__``."""
