"""The import contract: which parts of layerlab may import which.

Read from the source with :mod:`ast`, so every import counts: at the top of a module, inside a
function (a lazy import) and under ``if TYPE_CHECKING:`` (a type is a dependency too). A module
may import its own layer and the layers below it; the only upward imports allowed are the
``_repr_html_`` hooks (:data:`REPR_HOOKS`, each pinned to the function that holds it), Image's
convenience methods (:data:`FACADES`, pinned likewise, each with the reason), the deprecated
old names of moved objects (:data:`DEPRECATED_SHIMS`, in the old module's
``__getattr__``) and the known violations in :data:`KNOWN_VIOLATIONS`, each commented with
who removes it or why it stays. When a violation is gone, the test says its entry is stale:
delete the entry.

The engine (everything but ``layerlab.views`` and ``layerlab.widgets``) imports no pandas,
matplotlib, ipywidgets or humanize, not even lazily; the views import pandas and matplotlib
only inside functions (or for type checking), so ``import layerlab.views`` stays light.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest

import layerlab

PACKAGE = Path(layerlab.__file__).parent

#: bottom to top; a module belongs to the layer of its longest matching name
LAYERS: list[tuple[str, list[str]]] = [
    ("base", ["layerlab.errors", "layerlab.paths", "layerlab.digest", "layerlab.limits",
              "layerlab._perf", "layerlab._fsutil", "layerlab.entry", "layerlab.blob",
              "layerlab.reference"]),
    # (layerlab._ctar is the optional C accelerator of fasttar)
    ("tar", ["layerlab.fasttar", "layerlab._ctar", "layerlab.tarstream", "layerlab.whiteout",
             "layerlab._codecs"]),
    ("layer", ["layerlab.layer", "layerlab.overlaydir"]),
    ("union", ["layerlab.union", "layerlab.materialize"]),
    # the image and its own documents (config <-> Image, the OCI manifest) and history rows
    ("image", ["layerlab.image", "layerlab.imagedoc", "layerlab.history"]),
    ("changes", ["layerlab.changes"]),
    # the container, what it runs with (the executor protocol, ExecResult) and its processes
    ("container", ["layerlab.container", "layerlab.execution", "layerlab.processes",
                   "layerlab.rwlayer"]),
    ("executors", ["layerlab.executors", "layerlab.shell", "layerlab.realmode",
                   "layerlab.ptracemode", "layerlab.busybox", "layerlab._sandbox",
                   "layerlab.modes"]),
    ("build", ["layerlab.build"]),
    ("store", ["layerlab.store"]),
    ("formats", ["layerlab.formats", "layerlab.registry"]),
    # engine code the views render (views/analysis.py is its deprecated old name)
    ("analysis", ["layerlab.analysis"]),
    ("views", ["layerlab.views"]),
    ("widgets", ["layerlab.widgets"]),
    # the command line and the course: `layerlab build` is command-line code kept with build
    ("top", ["layerlab", "layerlab.__main__", "layerlab.cli", "layerlab.build.command",
             "layerlab.exercises"]),
]

#: the display hooks: a lower object renders itself with the views, lazily, in _repr_html_
REPR_HOOKS = {
    ("layerlab.layer", "layerlab.views.html", "Layer._repr_html_"),
    ("layerlab.union", "layerlab.views.html", "View._repr_html_"),
    ("layerlab.image", "layerlab.views.html", "Image._repr_html_"),
    ("layerlab.container", "layerlab.views.html", "Container._repr_html_"),
    ("layerlab.store.store", "layerlab.views.html", "Store._repr_html_"),
}

#: Image's convenience methods that the notebooks and README use (public API that stays): each
#: reaches one module above the image, lazily, in that one method, and names the type it
#: returns under TYPE_CHECKING. (importer, target) -> (the method, why the code cannot move
#: below the image). ``history_rows()`` is not here: its rows moved to layerlab.history.
FACADES = {
    ("layerlab.image", "layerlab.container"): (
        "Image.create_container", "a container is an image plus a read-write layer: "
        "Container is built on Image (and the executors, the changes) one layer up"),
    ("layerlab.image", "layerlab.formats"): (
        "Image.save", "writing OCI layouts and docker-archive tars is the formats' code, "
        "which also reads archives into images and so sits above the image"),
    ("layerlab.image", "layerlab.registry.push"): (
        "Image.push", "the registry client (HTTP, auth, blob upload) sits with the formats "
        "whose manifests it sends, above the image"),
}

#: deprecated old names of moved public objects: the old module's ``__getattr__`` imports the
#: new home (upward) only when the old name is used, and warns. Each entry maps
#: (old module, new module) to {old name: new name}; delete it after one release.
DEPRECATED_SHIMS = {
    # the course's question about happy.txt moved to the exercises (0.x: notebook 07 used it)
    ("layerlab.store.where", "layerlab.exercises"): {"HappyTxtHomes": "HappyTxtHomes"},
    # the classroom's comparison table moved to the analysis (notebook 10 used it)
    ("layerlab.registry.classroom", "layerlab.analysis"): {
        "compare": "compare_images", "compare_text": "compare_images_text"},
}

#: upward imports tolerated for now, each with who removes it; empty since the #18 work
#: merged: a new upward import must go through FACADES (with its reason) or be moved.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()

HEAVY = ("pandas", "matplotlib", "ipywidgets", "humanize")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    function: str  # the enclosing function's qualified name, "" at module level
    type_only: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


#: the Python modules, and the compiled ones by their type stubs (layerlab/_ctar.pyi)
MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
MODULES.update({_module_name(p): p for p in sorted(PACKAGE.rglob("*.pyi"))
                if _module_name(p) not in MODULES})


def _resolve(name: str) -> str:
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imports(module: str, path: Path) -> list[Import]:
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[Import] = []

    def targets(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = node.module or ""
        if node.level:
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        # `from pkg import sub` imports the submodule pkg.sub when there is one
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                for a in node.names]

    def visit(node: ast.AST, scope: list[str], type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for name in targets(child):
                    found.append(Import(module, name, child.lineno, ".".join(scope), type_only))
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), scope, True)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), scope, type_only)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, [*scope, child.name], type_only)
            else:
                visit(child, scope, type_only)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), [], False)
    return found


ALL_IMPORTS = [imp for module, path in MODULES.items() for imp in _imports(module, path)]


def _layer(module: str) -> int:
    best, rank = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = prefix != "layerlab" and module.startswith(prefix + ".")  # the package
            if (module == prefix or inside) and len(prefix) > best:  # itself, not all of it
                best, rank = len(prefix), index
    return rank


def _is_function(imp: Import) -> bool:
    # a class body runs at import time; only a def delays the import
    tree = ast.parse(MODULES[imp.importer].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)) and inner.lineno == imp.line:
                    return True
    return False


def _upward() -> dict[tuple[str, str], list[Import]]:
    upward: dict[tuple[str, str], list[Import]] = {}
    for imp in ALL_IMPORTS:
        if not imp.imported.startswith("layerlab"):
            continue
        target = _resolve(imp.imported)
        if target == imp.importer or _layer(target) <= _layer(imp.importer):
            continue
        upward.setdefault((imp.importer, target), []).append(imp)
    return upward


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(m for m in MODULES if _layer(m) < 0)
    assert not unplaced, f"add these modules to a layer in LAYERS: {unplaced}"


def test_the_scanner_sees_lazy_and_type_only_imports() -> None:
    # the contract is only as good as the scan: one import of each kind that exists today
    kinds = {(i.importer, _resolve(i.imported)): i for i in ALL_IMPORTS}
    hook = kinds[("layerlab.layer", "layerlab.views.html")]
    assert hook.function == "Layer._repr_html_" and not hook.type_only
    assert kinds[("layerlab.shell.interp", "layerlab.container")].type_only
    assert kinds[("layerlab.union", "layerlab.layer")].type_only
    assert kinds[("layerlab.shell.interp", "layerlab.errors")].function == ""
    pandas = [i for i in ALL_IMPORTS if i.imported == "pandas"]
    assert any(i.importer == "layerlab.views.tables" and _is_function(i) for i in pandas)


def test_nothing_imports_upward_but_the_listed_hooks_and_known_violations() -> None:
    upward = _upward()
    problems: set[str] = set()
    for (importer, target), imports in sorted(upward.items()):
        if (importer, target) in KNOWN_VIOLATIONS:
            continue
        for imp in imports:
            if (importer, target, imp.function) in REPR_HOOKS and _is_function(imp):
                continue
            if (importer, target) in DEPRECATED_SHIMS and imp.function == "__getattr__" \
                    and not imp.type_only:
                continue
            if (importer, target) in FACADES and (
                    (imp.function == FACADES[(importer, target)][0] and _is_function(imp))
                    or (imp.function == "" and imp.type_only)):
                continue
            where = f" in {imp.function}()" if imp.function else ""
            kind = " (type only)" if imp.type_only else ""
            problems.add(f"{importer}:{imp.line}{where} imports {target}{kind}: "
                         f"layer {LAYERS[_layer(importer)][0]} below {LAYERS[_layer(target)][0]}")
    assert not problems, "upward imports:\n" + "\n".join(sorted(problems))


def test_every_listed_exception_is_still_needed() -> None:
    upward = _upward()
    waiting = {(i, t) for i, t in KNOWN_VIOLATIONS if i not in MODULES or t not in MODULES}
    stale = sorted(KNOWN_VIOLATIONS - waiting - set(upward))
    assert not stale, f"these violations are gone: delete them from KNOWN_VIOLATIONS: {stale}"
    used_hooks = {(i, t, imp.function) for (i, t), imps in upward.items() for imp in imps}
    unused = sorted(REPR_HOOKS - used_hooks)
    assert not unused, f"these hooks no longer import upward: delete them from REPR_HOOKS: {unused}"
    pinned = {(importer, target, method) for (importer, target), (method, _) in FACADES.items()}
    unused_facades = sorted(pinned - used_hooks)
    assert not unused_facades, f"these facades no longer import upward: delete them from " \
        f"FACADES: {unused_facades}"
    unused_shims = sorted(set(DEPRECATED_SHIMS) - set(upward))
    assert not unused_shims, f"these shims are gone: delete them from DEPRECATED_SHIMS: " \
        f"{unused_shims}"


@pytest.mark.parametrize(("old_module", "new_module"), sorted(DEPRECATED_SHIMS))
def test_every_deprecated_shim_warns_and_gives_the_new_object(old_module: str,
                                                              new_module: str) -> None:
    old, new = importlib.import_module(old_module), importlib.import_module(new_module)
    for old_name, new_name in DEPRECATED_SHIMS[(old_module, new_module)].items():
        with pytest.warns(DeprecationWarning, match=f"{new_module}.{new_name}"):
            found = getattr(old, old_name)
        assert found is getattr(new, new_name)
        assert old_name not in getattr(old, "__all__", ())  # `import *` does not warn


def test_the_engine_imports_no_pandas_matplotlib_or_ipywidgets() -> None:
    bad = []
    for imp in ALL_IMPORTS:
        top = imp.imported.split(".")[0]
        if top not in HEAVY:
            continue
        in_views = imp.importer.startswith("layerlab.views.")
        in_widgets = imp.importer.startswith("layerlab.widgets.")
        if in_widgets or (in_views and (imp.type_only or _is_function(imp))):
            continue
        bad.append(f"{imp.importer}:{imp.line} imports {imp.imported}")
    assert not bad, "heavy imports outside the views (or at import time of a view):\n" + \
        "\n".join(bad)
