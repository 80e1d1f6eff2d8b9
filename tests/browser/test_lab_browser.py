"""End to end in a real browser: JupyterLab, Debian's chromium, Playwright (Python).

Starts JupyterLab on 127.0.0.1 (free port, a token, a temporary root holding a copy of
a notebook that uses every widget), opens the notebook in headless chromium, runs all
cells, then moves the LayerExplorer slider (the tree text must change) and types a
command in the ContainerPlayground (the diff must show ``A /happy.txt``). Screenshots go
to a temporary artifacts directory whose paths are printed. Needs ``/usr/bin/chromium``
(``apt-get install chromium``) and the ``playwright`` package; never ``playwright
install``: no browser download. Skips without them, fails instead when ``CI=true``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
STARTUP_TIMEOUT = 40.0
UI_TIMEOUT_MS = 30_000
TREE_OPTIONS = ".layerlab-explorer .layerlab-mono select option"
#: the explorer tree's text; ipywidgets pads Select labels with no-break spaces
TREE_JS = (f"Array.from(document.querySelectorAll('{TREE_OPTIONS}'))"
           ".map(o => o.textContent.replace(/\\u00a0/g, ' ')).join('\\n')")

CELLS = [
    """\
from layerlab import Image, Layer, Whiteout
from layerlab.build import base_image
from layerlab.store import Store
from layerlab.widgets import BuildStepper, ContainerPlayground, LayerExplorer, StoreBrowser

image = Image.from_layers([
    Layer.from_dict({"/etc/motd": "hello\\n", "/old.txt": "bye\\n"}, created_by="ADD base /"),
    Layer.from_dict({"/etc/motd": "changed\\n", "/old.txt": Whiteout(),
                     "/app/main.py": "print('hi')\\n"}, created_by="RUN change"),
])
store = Store.temporary()
store.add(base_image("layerlab/tiny"), tag="tiny")""",
    "LayerExplorer(image, upto=0)",
    'ContainerPlayground(store.create_container("tiny", name="demo"))',
    'BuildStepper("FROM layerlab/tiny\\nRUN echo hi > /hi.txt\\n")',
    "StoreBrowser(store)",
]


def _notebook() -> dict[str, object]:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}",
                   "metadata": {}, "outputs": [], "source": source}
                  for i, source in enumerate(CELLS)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_server(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"jupyter lab did not answer {url} within {STARTUP_TIMEOUT:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A running JupyterLab: (base url, token); the notebook is ``widgets.ipynb``."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "widgets.ipynb").write_text(json.dumps(_notebook(), indent=1))
    start = Path(__file__).resolve().parents[2] / "notebooks" / "00-start-here.ipynb"
    shutil.copy(start, root / start.name)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ,
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "IPYTHONDIR": str(tmp_path / "ipython"),
           "MPLCONFIGDIR": str(tmp_path / "matplotlib")}
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    log = open(tmp_path / "jupyter.log", "wb")  # noqa: SIM115 - closed in the finally
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(f"{base}/api/status?token={token}", proc)
        yield base, token
    finally:
        _stop(proc)
        log.close()


_READY_JS = """async (timeout) => {
  const give_up = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('kernel not ready')), timeout));
  const ready = (async () => {
    const panel = window.jupyterapp.shell.currentWidget;
    await panel.context.ready;
    await panel.sessionContext.ready;
    if (!panel.sessionContext.session || !panel.sessionContext.session.kernel) {
      await panel.sessionContext.changeKernel({name: 'python3'});
    }
    await panel.sessionContext.session.kernel.info;
  })();
  await Promise.race([ready, give_up]);
}"""


def _tree_text(page: Any) -> str:
    return str(page.evaluate(f"() => {TREE_JS}"))


@contextlib.contextmanager
def _browser(shots: list[Path], artifacts: Path) -> Iterator[Any]:
    """A page in headless Debian chromium; a screenshot of it when the test fails."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install playwright)")
    profile = tempfile.mkdtemp(prefix="layerlab-chromium-profile-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000})
            try:
                page = context.new_page()
                page.set_default_timeout(UI_TIMEOUT_MS)
                yield page
            except Exception:
                shots.append(artifacts / "failure.png")
                context.pages[-1].screenshot(path=str(shots[-1]), full_page=True)
                raise
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
        for shot in shots:
            print(f"screenshot: {shot}")


@pytest.mark.reference
def test_widgets_in_jupyterlab(lab: tuple[str, str]) -> None:
    base, token = lab
    artifacts = Path(tempfile.mkdtemp(prefix="layerlab-browser-artifacts-"))
    shots: list[Path] = []
    with _browser(shots, artifacts) as page:
        _drive(page, base, token, artifacts, shots)


def run_all_until(page: Any, selector: str) -> None:
    """Run every cell (once the kernel is ready) until ``selector`` is on the page; a
    "Select Kernel" dialog is answered with the default and the run started again."""
    def run_all() -> None:
        page.evaluate(_READY_JS, UI_TIMEOUT_MS)
        page.evaluate("() => { void window.jupyterapp.commands.execute("
                      "'notebook:run-all-cells'); }")

    run_all()
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while not page.locator(selector).count():
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count():
            accept.first.click()
            run_all()
        if time.monotonic() > deadline:
            raise TimeoutError("the notebook's widgets did not appear")
        page.wait_for_timeout(250)


def _drive(page: Any, base: str, token: str, artifacts: Path, shots: list[Path]) -> None:
    """Open the notebook, run it, move the slider, type a command; screenshots on the way."""
    page.goto(f"{base}/lab/tree/widgets.ipynb?token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    page.wait_for_function("() => window.jupyterapp !== undefined")
    # wait for the notebook's kernel (starting one if JupyterLab did not), then run all
    run_all_until(page, ".layerlab-storebrowser")
    for name in ("explorer", "playground", "stepper", "storebrowser"):
        page.wait_for_selector(f".layerlab-{name}")
    page.wait_for_function(
        f"() => document.querySelectorAll('{TREE_OPTIONS}')"
        ".length > 0")
    shots.append(artifacts / "01-all-cells-run.png")
    page.screenshot(path=str(shots[-1]), full_page=True)

    # the explorer: move the slider one layer to the right
    before = _tree_text(page)
    assert "🟦L0" in before and "old.txt" in before
    handle = page.locator(".layerlab-explorer .noUi-handle").first
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"(before) => {TREE_JS} !== before", arg=before)
    after = _tree_text(page)
    assert "D old.txt  (whiteout in layer 1)" in after, after
    assert "A ▸ app/  🟧L1" in after, after
    page.locator(".layerlab-explorer").scroll_into_view_if_needed()
    shots.append(artifacts / "02-explorer-layer-1.png")
    page.locator(".layerlab-explorer").screenshot(path=str(shots[-1]))

    # the playground: type a command and press Enter
    box = page.locator(".layerlab-playground input[type='text']").first
    box.fill("echo hi > /happy.txt")
    box.press("Enter")
    page.locator(".layerlab-playground .layerlab-diff-line",
                 has_text="A /happy.txt").wait_for()
    assert "exit status 0" in page.locator(".layerlab-playground").inner_text()
    page.locator(".layerlab-playground").scroll_into_view_if_needed()
    shots.append(artifacts / "03-playground-happy.png")
    page.locator(".layerlab-playground").screenshot(path=str(shots[-1]))


@pytest.mark.reference
def test_start_notebook_shows_the_tour(lab: tuple[str, str]) -> None:
    """The kit's first notebook, opened and run in a real browser, ends with the slider."""
    base, token = lab
    artifacts = Path(tempfile.mkdtemp(prefix="layerlab-browser-artifacts-"))
    shots: list[Path] = []
    with _browser(shots, artifacts) as page:
        page.goto(f"{base}/lab/tree/00-start-here.ipynb?token={token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
        page.wait_for_function("() => window.jupyterapp !== undefined")
        page.evaluate(_READY_JS, UI_TIMEOUT_MS)
        page.evaluate("() => { void window.jupyterapp.commands.execute("
                      "'notebook:run-all-cells'); }")
        page.wait_for_selector(".layerlab-explorer")
        page.wait_for_function(
            f"() => document.querySelectorAll('{TREE_OPTIONS}').length > 0")
        text = page.locator(".jp-NotebookPanel").inner_text()
        assert "A /happy.txt" in text
        assert "Welcome to the app!" in text
        before = _tree_text(page)
        handle = page.locator(".layerlab-explorer .noUi-handle").first
        handle.focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(f"(before) => {TREE_JS} !== before", arg=before)
        page.locator(".layerlab-explorer").scroll_into_view_if_needed()
        shots.append(artifacts / "04-start-here-tour.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
