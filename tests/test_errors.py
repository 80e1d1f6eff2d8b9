"""One exception tree: every class is defined in layerlab.errors, derives from LayerlabError
(three documented exceptions), is drawn in the module's docstring, and is importable from the
places it always was."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import warnings

import pytest

import layerlab
from layerlab import errors

#: not errors, on purpose; each is explained in layerlab.errors' docstring
NOT_IN_THE_TREE = {
    "layerlab.shell.interp.ShellExit",  # control flow, like SystemExit
    "layerlab._sandbox.SetupError",  # a separate, standard-library-only program
    "layerlab.widgets.playground._NotRunning",  # a widget's private signal
    "layerlab._codecs.GzipError",  # a codec's own error, as zlib.error (with perf's codecs)
}

#: the old places each class could be imported from; they must stay the same objects
OLD_PATHS = [
    ("layerlab.store", "StoreError"),
    ("layerlab.store", "StoreFullError"),
    ("layerlab.store.store", "StoreError"),
    ("layerlab.store.store", "StoreFullError"),
    ("layerlab.store.containerd_layout", "MetadataError"),
    ("layerlab.realmode", "RealModeUnavailable"),
    ("layerlab.realmode", "RealModeError"),
    ("layerlab.build.errors", "BuildLimitExceededError"),
    ("layerlab.build.errors", "BuildError"),
    ("layerlab.shell.expand", "ExpansionError"),
    ("layerlab.shell.lexer", "ShellSyntaxError"),
    ("layerlab.shell.lexer", "ShellUnsupportedError"),
    ("layerlab.shell.commands.registry", "UsageError"),
]


def _modules() -> list[str]:
    return sorted(i.name for i in pkgutil.walk_packages(layerlab.__path__, prefix="layerlab."))


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _modules():
        with warnings.catch_warnings():  # an old name kept for one release warns on import
            warnings.simplefilter("ignore", DeprecationWarning)
            module = importlib.import_module(name)
        for obj in vars(module).values():
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and obj.__module__ == name):
                found[f"{name}.{obj.__qualname__}"] = obj
    return found


def test_every_exception_class_is_in_errors_and_under_layerlab_error() -> None:
    found = _exception_classes()
    assert {f"layerlab.errors.{n}" for n in errors.__all__} <= set(found)
    outside = {name for name in found if not name.startswith("layerlab.errors.")}
    assert outside <= NOT_IN_THE_TREE, "define new errors in layerlab/errors.py"
    assert "layerlab.shell.interp.ShellExit" in outside
    for name, cls in found.items():
        if name not in NOT_IN_THE_TREE:
            assert issubclass(cls, errors.LayerlabError), name
    for name in outside:
        assert not issubclass(found[name], errors.LayerlabError), name
        assert name.rsplit(".", 1)[1] in (errors.__doc__ or ""), f"{name} is not explained"


def test_the_docstring_draws_every_class_of_the_tree() -> None:
    doc = errors.__doc__ or ""
    drawn = set(re.findall(r"[├└]── (\w+)", doc))
    assert drawn == set(errors.__all__) - {"LayerlabError"}
    assert "    LayerlabError\n" in doc


@pytest.mark.parametrize(("module", "name"), OLD_PATHS)
def test_old_import_paths_give_the_same_class(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is getattr(errors, name)


def test_filesystem_errors_are_what_the_shell_catches() -> None:
    fs = {n for n in errors.__all__ if issubclass(getattr(errors, n), errors.FilesystemError)}
    assert fs == {"FilesystemError", "UnsafePathError", "ContextEscapeError", "PathLookupError",
                  "PathNotFoundError", "PathExistsError", "NotADirectoryError_",
                  "IsADirectoryError_", "DirectoryNotEmptyError"}
    # the errors that must go up through the shell's file-error handlers
    for name in ("ContainerStateError", "ShellError", "InvalidImageError", "StoreError",
                 "LimitExceededError", "BrokenHardlinkError"):
        assert not issubclass(getattr(errors, name), errors.FilesystemError), name
    # the os-like ones still answer to the built-in types a Python programmer tries first
    assert issubclass(errors.PathNotFoundError, FileNotFoundError)
    assert issubclass(errors.IsADirectoryError_, IsADirectoryError)


def test_subclass_constructors_keep_their_fields() -> None:
    usage = errors.UsageError("ls: bad option", 2)
    assert (usage.message, usage.status, str(usage)) == ("ls: bad option", 2, "ls: bad option")
    assert errors.RedirectError("cannot open x").status == 2
    both = errors.BuildLimitExceededError("too big", step=2, line=3, instruction="ADD x /")
    assert isinstance(both, errors.LimitExceededError) and both.step == 2
    assert str(both) == "step 2 (line 3) 'ADD x /': too big"
