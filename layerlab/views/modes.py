"""Text renderings of :mod:`layerlab.modes`: the three modes side by side.

>>> from layerlab.modes import facts, side_by_side
>>> print(facts_text(facts(side_by_side(None, live=False))).splitlines()[2])
PID 1 is the container's own command                   yes         no        yes
"""

from __future__ import annotations

from ..modes import PROBES, ModeRun

__all__ = ["facts_text", "side_by_side_text"]


def side_by_side_text(runs: list[ModeRun]) -> str:
    """Each probe's output in each mode, every column labelled live or recorded."""
    out = ["modes: " + "; ".join(run.label for run in runs), ""]
    for probe, command in PROBES.items():
        out.append(f"### {probe}   ($ {command})")
        for run in runs:
            status, text = run.outputs[probe]
            tag = "live" if run.live else "recorded"
            suffix = f"  [exit status {status}]" if status else ""
            out.append(f"--- {run.mode} ({tag}){suffix}")
            out.extend("    " + line for line in text.rstrip("\n").splitlines())
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def facts_text(rows: list[tuple[str, dict[str, bool | None]]]) -> str:
    """The yes/no answers as a fixed-width table (``-``: the probe gave no answer)."""
    modes = list(rows[0][1]) if rows else []
    width = max(len(question) for question, _ in rows) if rows else 0

    def cell(value: bool | None) -> str:
        return "-" if value is None else ("yes" if value else "no")

    lines = ["".ljust(width) + "".join(m.rjust(11) for m in modes)]
    lines.append("-" * (width + 11 * len(modes)))
    for question, answers in rows:
        lines.append(question.ljust(width) + "".join(cell(answers[m]).rjust(11) for m in modes))
    return "\n".join(lines) + "\n"
