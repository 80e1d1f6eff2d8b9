"""Programs found in the container's PATH that the simulated shell cannot run.

Installing ``curl`` writes ``/usr/bin/curl`` (pseudo-random bytes, see
:mod:`layerlab.shell.packages`). ``which curl`` finds it and ``curl --version`` answers from
the catalogue, but running it for real is refused with status 126 ("found, cannot execute")
and a message that says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..interp import IO
from ..packages import PACKAGES

if TYPE_CHECKING:
    from ..interp import Shell

__all__ = ["run_program"]


def _package_of(sh: Shell, path: str) -> tuple[str, str] | None:
    name = path.rsplit("/", 1)[-1]
    for pkg in PACKAGES.values():
        for f in pkg.files:
            if f.path.rsplit("/", 1)[-1] == name and "/bin/" in f.path:
                return pkg.name, pkg.version
    return None


def run_program(sh: Shell, path: str, argv: list[str], io: IO) -> int:
    """Run (or explain why we cannot run) a program file found in the container."""
    from . import COMMANDS

    args = argv[1:]
    name = path.rsplit("/", 1)[-1]
    if name.startswith("python") and args[:2] == ["-m", "pip"]:
        return COMMANDS["pip"](sh, ["pip", *args[2:]], io)
    owner = _package_of(sh, path)
    if owner is not None and args[:1] in (["--version"], ["-V"], ["version"], ["-v"]):
        io.out.write(f"{name} {owner[1]} (layerlab simulated {owner[0]} package)\n")
        return 0
    io.err.write(f"{sh.argv0}: 1: {argv[0]}: {path} exists in the container, but layerlab's "
                 "simulated shell cannot execute programs\n")
    return 126
