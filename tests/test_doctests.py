"""Every docstring example in layerlab runs, and says what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import layerlab

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(layerlab.__path__, prefix="layerlab.")
)


def test_every_module_is_collected() -> None:
    assert {"layerlab.layer", "layerlab.union", "layerlab.image", "layerlab.paths"} <= set(MODULES)


@pytest.mark.parametrize("name", ["layerlab", *MODULES])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
