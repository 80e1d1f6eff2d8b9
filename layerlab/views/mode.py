"""Which mode a notebook cell ran in, said in its output.

A notebook that uses real mode (namespaces or ptrace, :mod:`layerlab.executors`) must
give the same stored outputs where real mode is unavailable (Binder, macOS, a locked-down
hub): the cells that show mode-dependent text say so in their own output, and are kept out
of the compared outputs (nbval's ``nbval-ignore-output`` tag); the compared cells show only
what every mode gives.

>>> import os
>>> os.environ["LAYERLAB_REAL_MODE"] = "off"
>>> print(mode_line())
real mode: off (turned off by LAYERLAB_REAL_MODE), so these cells ran in layerlab's simulated shell
>>> del os.environ["LAYERLAB_REAL_MODE"]
"""

from __future__ import annotations

__all__ = ["mode_line", "ran_real", "real_mode"]


def real_mode() -> str:
    """The executor ``real=True`` picks here: ``"namespaces"``, ``"ptrace"`` or
    ``"simulated"`` (:func:`layerlab.executors.choose`)."""
    from ..executors import choose

    return choose(True).executor.name


def ran_real() -> bool:
    """Will ``real=True`` run real processes here (namespaces or ptrace)? (``False``: the
    simulated shell.)"""
    return real_mode() != "simulated"


def mode_line() -> str:
    """One line: which mode ``real=True`` runs in here, and why."""
    from ..executors import choose

    choice = choose(True)
    support = choice.executor.support()
    if choice.executor.name == "namespaces":
        return (f"real mode: on (kernel overlayfs, {support.how}), so these cells ran real "
                "processes on a real overlay mount")
    why = "; ".join(choice.reasons) or "forced by LAYERLAB_REAL_MODE"
    if choice.executor.name == "ptrace":
        return (f"real mode: ptrace (PRoot, {support.how}; {why}), so these cells ran real "
                "processes on a private copy of the merged view, with no namespaces")
    return f"real mode: off ({why}), so these cells ran in layerlab's simulated shell"
