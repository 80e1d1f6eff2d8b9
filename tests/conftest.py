"""Shared pytest configuration for layerlab's tests.

Policy for ``@pytest.mark.reference`` tests, which compare layerlab with real tools (kernel
overlayfs, umoci, skopeo): on a developer's machine they skip, with a reason, when a tool is
missing. With ``CI=true`` such a skip is turned into a failure, so CI cannot go green
without having run them. Skip from a fixture or the test body (or ``skipif``), not at module
level: a module that skips while importing never yields test items to check.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

pytest_plugins = ["pytester"]


def _ci_requires_reference_tools() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    # A skip's longrepr is (path, lineno, "Skipped: <reason>").
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if (
        report.skipped
        and not hasattr(report, "wasxfail")  # an xfail is an expected outcome, not a skip
        and item.get_closest_marker("reference") is not None
        and _ci_requires_reference_tools()
    ):
        report.outcome = "failed"
        report.longrepr = f"CI=true: reference tool missing: {_skip_reason(report)}"
    return report
