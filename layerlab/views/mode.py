"""Which mode a notebook cell ran in, said in its output.

A notebook that uses real mode (:mod:`layerlab.realmode`) must give the same stored
outputs where real mode is unavailable (Binder, macOS, a locked-down hub): the cells that
show mode-dependent text say so in their own output, and are kept out of the compared
outputs (nbval's ``nbval-ignore-output`` tag); the compared cells show only what both
modes give.

>>> import os
>>> os.environ["LAYERLAB_REAL_MODE"] = "off"
>>> print(mode_line())
real mode: off (turned off by LAYERLAB_REAL_MODE), so these cells ran in layerlab's simulated shell
>>> del os.environ["LAYERLAB_REAL_MODE"]
"""

from __future__ import annotations

__all__ = ["mode_line", "ran_real"]


def ran_real() -> bool:
    """Will ``real=True`` run with the kernel here? (``False``: the simulated shell.)"""
    from ..realmode import detect

    return detect().available


def mode_line() -> str:
    """One line: real mode on (and how) or off (and why)."""
    from ..realmode import detect

    support = detect()
    if support.available:
        return (f"real mode: on (kernel overlayfs, {support.how}), so these cells ran real "
                "processes on a real overlay mount")
    return (f"real mode: off ({support.reason}), so these cells ran in layerlab's simulated "
            "shell")
