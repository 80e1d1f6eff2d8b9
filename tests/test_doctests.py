"""Every docstring example in layerlab runs, and says what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import sys

import pytest

import layerlab

#: Deprecated aliases of moved modules: importing one warns (warnings are errors here); their
#: examples run under the new name.
DEPRECATED = {"layerlab.views.analysis": "layerlab.analysis"}

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(layerlab.__path__, prefix="layerlab.")
    if info.name not in DEPRECATED
)


def test_every_module_is_collected() -> None:
    assert {"layerlab.layer", "layerlab.union", "layerlab.image", "layerlab.paths"} <= set(MODULES)
    assert set(DEPRECATED.values()) <= set(MODULES)


@pytest.mark.parametrize("old", sorted(DEPRECATED))
def test_deprecated_module_warns_and_is_the_new_one(old: str) -> None:
    new = importlib.import_module(DEPRECATED[old])
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=DEPRECATED[old]):
        module = importlib.import_module(old)
    assert set(module.__all__) == set(new.__all__)


@pytest.mark.parametrize("name", ["layerlab", *MODULES])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
