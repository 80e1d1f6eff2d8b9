"""Errors a build raises; they live in :mod:`layerlab.errors` with the rest of the tree."""

from __future__ import annotations

from ..errors import BuildError, ContextEscapeError, DockerfileError

__all__ = ["BuildError", "ContextEscapeError", "DockerfileError"]
