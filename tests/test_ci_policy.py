"""The CI policy in conftest.py: with CI=true, a skipped ``reference`` test fails."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

TESTS = """
import pytest

@pytest.fixture
def umoci():
    pytest.skip("umoci not found on PATH")

@pytest.mark.reference
def test_skip_in_body():
    pytest.skip("skopeo not found on PATH")

@pytest.mark.reference
def test_skip_in_fixture(umoci):
    pass

@pytest.mark.reference
@pytest.mark.skipif(True, reason="overlayfs needs root or unshare -Urm")
def test_skipif():
    pass

@pytest.mark.reference
class TestMarkedClass:
    def test_skip(self):
        pytest.skip("attr not installed")

@pytest.mark.reference
@pytest.mark.xfail(reason="known difference")
def test_xfail():
    raise AssertionError

def test_unmarked_skip():
    pytest.skip("not a reference test")

@pytest.mark.reference
def test_passes():
    pass
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # The inner runs need no third-party plugins; loading them (nbval, hypothesis) is slow.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini("[pytest]\nmarkers =\n    reference: needs real tools\n")
    pytester.makepyfile(test_tools=TESTS)
    return pytester


def test_ci_true_turns_reference_skips_into_failures(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = project.runpytest("-ra")
    # Skips raised during setup (fixture, skipif) are reported as errors, in the body as failures.
    result.assert_outcomes(passed=1, failed=2, errors=2, skipped=1, xfailed=1)
    for reason in (
        "skopeo not found on PATH",
        "umoci not found on PATH",
        "overlayfs needs root or unshare -Urm",
        "attr not installed",
    ):
        result.stdout.fnmatch_lines([f"*CI=true: reference tool missing: {reason}"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("value", [None, "", "false"])
def test_without_ci_reference_tests_skip(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    result = project.runpytest()
    result.assert_outcomes(passed=1, skipped=5, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
