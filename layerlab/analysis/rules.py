"""Dive's CI rules (``dive --ci`` and ``.dive-ci``): thresholds and sizes as dive reads them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .efficiency import EfficiencyReport, efficiency

if TYPE_CHECKING:
    from ..image import Image

__all__ = ["efficiency_check", "parse_bytes"]


_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
    "t": 1000**4, "tb": 1000**4, "p": 1000**5, "pb": 1000**5, "e": 1000**6, "eb": 1000**6,
    "ki": 1024, "kib": 1024, "mi": 1024**2, "mib": 1024**2, "gi": 1024**3, "gib": 1024**3,
    "ti": 1024**4, "tib": 1024**4, "pi": 1024**5, "pib": 1024**5, "ei": 1024**6, "eib": 1024**6,
}
_BYTES_RE = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)\s*$")


def parse_bytes(text: str | int) -> int:
    """Parse a size the way dive's ``.dive-ci`` does (go-humanize ``ParseBytes``).

    ``"20MB"`` and ``"20M"`` are SI (20,000,000); ``"20MiB"`` is binary (20,971,520);
    case does not matter; a bare number is bytes.

    >>> parse_bytes("20MB"), parse_bytes("1.5 KiB"), parse_bytes("512")
    (20000000, 1536, 512)
    """
    if isinstance(text, int):
        return text
    match = _BYTES_RE.match(text)
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"invalid size {text!r}: expected a number and a unit like 20MB or 1GiB")
    number = float(match.group(1).replace(",", ""))
    return int(number * _UNITS[match.group(2).lower()])


def _rule_value(name: str, value: float | str | None) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "disabled"):
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise ValueError(f"{name}: invalid config value {value!r}") from exc
    if not 0 <= number <= 1:
        raise ValueError(f"{name} config value is outside allowed range (0-1), given {value!r}")
    return number


def efficiency_check(
    image: Image | EfficiencyReport,
    *,
    lowest_efficiency: float | str | None = 0.9,
    highest_wasted_bytes: str | int | None = "20MB",
    highest_user_wasted_percent: float | str | None = 0.1,
) -> tuple[bool, list[str]]:
    """Dive's CI rules (``dive --ci``): ``(ok, reasons)``, one reason per failed rule.

    The thresholds take ``.dive-ci`` formats: ``lowestEfficiency`` and
    ``highestUserWastedPercent`` are fractions in 0..1, ``highestWastedBytes`` a size
    such as ``"20MB"``; ``"disabled"`` (or ``None``) skips a rule. Like dive, the checks
    use dive's own wasted-bytes figure. Out-of-range or unparsable thresholds raise
    :class:`ValueError` (dive reports "CI Misconfigured").

    >>> from layerlab import Image, Layer
    >>> efficiency_check(Image.from_layers([Layer.from_dict({"/a": "1"})]))
    (True, [])
    """
    low = _rule_value("lowestEfficiency", lowest_efficiency)
    pct = _rule_value("highestUserWastedPercent", highest_user_wasted_percent)
    limit: int | None = None
    if highest_wasted_bytes is not None and not (
        isinstance(highest_wasted_bytes, str) and highest_wasted_bytes.strip().lower() == "disabled"
    ):
        limit = parse_bytes(highest_wasted_bytes)
    report = image if isinstance(image, EfficiencyReport) else efficiency(image)
    reasons: list[str] = []
    if low is not None and low > report.efficiency:
        reasons.append(f"lowestEfficiency: image efficiency is too low "
                       f"(efficiency={report.efficiency:.4f} < threshold={low})")
    if limit is not None and report.wasted_bytes > limit:
        reasons.append(f"highestWastedBytes: too many bytes wasted "
                       f"(wasted-bytes={report.wasted_bytes} > threshold={limit})")
    # written as dive writes it: NaN (no user bytes, nothing wasted) passes
    if pct is not None and pct < report.user_wasted_percent:
        reasons.append(f"highestUserWastedPercent: too many bytes wasted, relative to the user "
                       f"bytes added (%-user-wasted-bytes={report.user_wasted_percent:.4f} > "
                       f"threshold={pct})")
    return (not reasons, reasons)
