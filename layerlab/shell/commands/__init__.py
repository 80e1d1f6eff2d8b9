"""The commands of layerlab's simulated shell, by name (see :data:`COMMANDS`)."""

from __future__ import annotations

from . import fs, pkgmgr, system, text  # noqa: F401  (importing registers the commands)
from .programs import run_program
from .registry import COMMANDS

__all__ = ["COMMANDS", "run_program"]
