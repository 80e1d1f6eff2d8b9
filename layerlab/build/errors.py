"""Errors a build raises; they live in :mod:`layerlab.errors` with the rest of the tree
(:class:`BuildLimitExceededError` is both a build error and a cap) and are re-exported here."""

from __future__ import annotations

from ..errors import BuildError, BuildLimitExceededError, ContextEscapeError, DockerfileError

__all__ = ["BuildError", "BuildLimitExceededError", "ContextEscapeError", "DockerfileError"]
