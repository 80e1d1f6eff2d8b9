"""ExecResult: what running a command in a container gives back.

It lives in :mod:`layerlab.execution`, below the container that returns it; this module
keeps the old import path (``from layerlab.shell import ExecResult``) working.
"""

from __future__ import annotations

from ..execution import ExecResult

__all__ = ["ExecResult"]
