"""BuildStepper driven through its buttons and editor, no browser."""

from __future__ import annotations

from pathlib import Path

from layerlab.build import BuildCache
from layerlab.widgets import BuildStepper

DOCKERFILE = """\
FROM layerlab/tiny
WORKDIR /app
RUN echo one > one.txt
RUN echo two > two.txt
CMD ["cat", "one.txt"]
"""


def test_next_runs_one_instruction_at_a_time() -> None:
    stepper = BuildStepper(DOCKERFILE)
    assert stepper.steps == [] and "step 0/5" in stepper.progress.value
    stepper.next_button.click()
    assert [s.text for s in stepper.steps] == ["FROM layerlab/tiny"]
    stepper.next_button.click()
    stepper.next_button.click()
    step = stepper.steps[-1]
    assert step.cache == "miss" and step.layer is not None
    assert "one.txt" in stepper.current.value and "added" in stepper.current.value
    assert stepper.table.value.count("layerlab-step-miss") == 2
    assert "opacity:0.5" in stepper.table.value  # the two steps still to come
    assert repr(stepper) == "<BuildStepper: step 3/5, build 1, 2 cache entries>"


def test_run_all_then_rebuild_hits_the_cache() -> None:
    stepper = BuildStepper(DOCKERFILE)
    stepper.run_button.click()
    assert stepper.done and stepper.image is not None
    assert "finished" in stepper.progress.value
    assert stepper.image.view().read_text("/app/two.txt") == "two\n"
    stepper.reset_button.click()
    stepper.run_button.click()
    assert [s.cache for s in stepper.steps] == ["none", "hit", "hit", "hit", "hit"]
    assert "empty layer" in stepper.table.value


def test_an_edit_invalidates_the_cache_from_the_edited_step_on() -> None:
    cache = BuildCache()
    stepper = BuildStepper(DOCKERFILE, cache=cache)
    stepper.run_all()
    first = stepper.image
    stepper.editor.value = DOCKERFILE.replace("echo one", "echo ONE")
    stepper.reset_button.click()
    stepper.run_all()
    assert [s.cache for s in stepper.steps] == ["none", "hit", "miss", "miss", "miss"]
    assert "previous step missed" in stepper.steps[3].why
    assert stepper.builds == 2 and stepper.cache is cache
    assert stepper.image is not None and first is not None and stepper.image.id != first.id


def test_a_broken_dockerfile_shows_the_error() -> None:
    stepper = BuildStepper(DOCKERFILE)
    stepper.editor.value = "FROM layerlab/tiny\nFROBNICATE now\n"
    stepper.reset()
    assert stepper.error and "error" in stepper.current.value
    assert stepper.next() is None and "failed" in stepper.progress.value
    stepper.editor.value = "FROM layerlab/tiny\nRUN nosuchcommand\n"
    stepper.reset()
    stepper.run_all()
    assert stepper.error and "failed" in stepper.progress.value


def test_a_context_and_a_dockerfile_path(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / "Dockerfile").write_text("FROM layerlab/tiny\nCOPY app.py /app/\n")
    stepper = BuildStepper(tmp_path / "Dockerfile", tmp_path)
    stepper.run_all()
    assert stepper.steps[-1].paths("A")[-1] == "/app/app.py"
    (tmp_path / "app.py").write_text("print('changed')\n")
    stepper.reset()
    stepper.run_all()
    assert "source checksum changed: app.py" in stepper.steps[-1].why


def test_static_html_lists_the_steps() -> None:
    stepper = BuildStepper(DOCKERFILE)
    stepper.run_all()
    html = stepper._repr_mimebundle_()["text/html"]
    assert "Step 3/5 : RUN echo one &gt; one.txt" in html
    assert "Image " in html
