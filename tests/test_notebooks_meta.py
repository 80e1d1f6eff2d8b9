"""The lessons in notebooks/ are stored executed, cleanly, and each one has an exercise.

nbval (``make test``) re-runs every notebook and compares outputs; these checks catch what
it does not: cells left unexecuted or out of order, error outputs stored as "expected",
temporary paths that only a sanitizer hides, and a lesson without a "predict, then
check" exercise whose solution is hidden.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ALL = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
LESSONS = [p for p in ALL if not p.name.startswith("00-")]
# host temporary directories (tempfile.mkdtemp names); "/tmp/x" inside an image is fine
TEMP_PATH = re.compile(r"(/(var/)?tmp/tmp\w{8}|/var/folders/|layerlab-store-)")
CHECK_CALL = re.compile(r"\bex\.check_\w+\(")


def _load(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def _code_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell: dict[str, Any]) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else str(src)


def _output_texts(cell: dict[str, Any]) -> list[str]:
    texts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            texts.append("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
        for mime, value in out.get("data", {}).items():
            if mime.startswith("text/") or mime.endswith("json"):
                texts.append(json.dumps(value) if not isinstance(value, (str, list))
                             else "".join(value) if isinstance(value, list) else value)
    return texts


def test_the_curriculum_is_all_there() -> None:
    numbers = [p.name[:2] for p in ALL]
    # 00-08 at least, numbered without gaps (new lessons are appended: 09, 10, ...)
    assert numbers == [f"{i:02d}" for i in range(len(numbers))] and len(numbers) >= 9, numbers


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_executed_top_to_bottom(path: Path) -> None:
    cells = _code_cells(_load(path))
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: execution counts {counts}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_kernelspec_is_python3(path: Path) -> None:
    assert _load(path)["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_errors_or_stderr_stored(path: Path) -> None:
    for i, cell in enumerate(_code_cells(_load(path)), start=1):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name} cell {i}: error output"
            assert out.get("name") != "stderr", f"{path.name} cell {i}: stderr output"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_temporary_paths_in_outputs(path: Path) -> None:
    for i, cell in enumerate(_code_cells(_load(path)), start=1):
        for text in _output_texts(cell):
            found = TEMP_PATH.search(text)
            assert found is None, f"{path.name} cell {i}: temporary path in output: {found}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_cell_ends_with_a_semicolon(path: Path) -> None:
    # nbval mishandles a cell whose last line ends with ';' (its output is suppressed)
    for i, cell in enumerate(_code_cells(_load(path)), start=1):
        assert not _source(cell).rstrip().endswith(";"), f"{path.name} cell {i}"


def _is_answer_cell(cell: dict[str, Any]) -> bool:
    return "exercise" in cell.get("metadata", {}).get("layerlab", {})


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_each_lesson_has_an_exercise_with_a_hidden_solution(path: Path) -> None:
    nb = _load(path)
    cells = nb["cells"]
    answers = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and _is_answer_cell(c)]
    if not answers:
        # the first edition's form (a check cell, then a hidden solution code cell) until a
        # notebook is converted to the format of layerlab/exercises.py
        _legacy_exercises(path, _code_cells(nb))
        return
    for i in answers:
        ask = cells[i]
        assert re.match(r"answer = \.\.\.", _source(ask)), \
            f"{path.name} cell {i}: an exercise cell should start from 'answer = ...'"
        shown = "".join(_output_texts(ask))
        assert "Not answered yet" in shown, f"{path.name}: stored exercise output is not neutral"
        after = cells[i + 1] if i + 1 < len(cells) else {"cell_type": "", "source": ""}
        assert after["cell_type"] == "markdown" and "<details>" in _source(after), \
            f"{path.name} cell {i}: the solution must follow in a collapsed <details> block"
    for i, cell in enumerate(_code_cells(nb), start=1):
        shown = "".join(_output_texts(cell))
        assert "Correct:" not in shown and "Not quite:" not in shown, \
            f"{path.name} code cell {i}: a stored verdict (solutions must not be executed)"


def _legacy_exercises(path: Path, cells: list[dict[str, Any]]) -> None:
    asks = [c for c in cells if CHECK_CALL.search(_source(c))
            and not c["metadata"].get("jupyter", {}).get("source_hidden")]
    solutions = [c for c in cells if CHECK_CALL.search(_source(c))
                 and c["metadata"].get("jupyter", {}).get("source_hidden")]
    assert asks, f"{path.name}: no exercise (a cell calling ex.check_...)"
    assert len(solutions) == len(asks), f"{path.name}: every exercise needs a hidden solution"
    for ask in asks:
        assert re.search(r"^answer = \.\.\.", _source(ask), re.M), \
            f"{path.name}: an exercise cell should start from 'answer = ...'"
        shown = "".join(_output_texts(ask))
        assert "Not answered yet" in shown, f"{path.name}: stored exercise output is not neutral"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_mode_dependent_cells_say_which_mode_ran(path: Path) -> None:
    # outputs that differ with real mode on and off (Binder) are not compared by nbval,
    # and each such cell says in its output which mode ran and why
    cells = _code_cells(_load(path))
    for i, cell in enumerate(cells, start=1):
        if "nbval-ignore-output" in cell["metadata"].get("tags", []):
            assert "mode_line()" in _source(cell), f"{path.name} cell {i}: say which mode ran"
            assert "real mode: " in "".join(_output_texts(cell)), f"{path.name} cell {i}"
    if any("real=True" in _source(c) for c in cells):
        assert any("mode_line()" in _source(c) for c in cells), \
            f"{path.name}: uses real mode but never says which mode ran"
