"""The public surface of ``layerlab``: pinned, so a change to it is a deliberate one."""

from __future__ import annotations

import subprocess
import sys

import layerlab

PUBLIC = [
    "BlockDevice", "BrokenHardlinkError", "BuildCache", "BuildError", "BuildStep", "Builder",
    "Change", "CharDevice", "Container", "ContainerState", "ContainerStateError",
    "ContextEscapeError", "CopyUp", "DigestMismatchError", "Dir", "DockerfileError", "Entry",
    "EntryKind", "Fifo", "File", "Hardlink", "HistoryEntry", "Image", "ImageConfig",
    "InvalidImageError", "InvalidLayerError", "Layer", "LayerlabError", "LegacyLayer",
    "LimitExceededError", "Limits", "MalformedWhiteoutError", "Opaque", "PathLookupError",
    "PathNotFoundError", "Shadowed", "Store", "Symlink", "TruncatedError", "UnsafePathError",
    "UnsupportedEntryError", "View", "Whiteout", "__version__", "build", "chain_ids", "load",
    "pull", "RegistryError",
]


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert sorted(layerlab.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(layerlab, name) is not None


def test_errors_share_one_root() -> None:
    for name in PUBLIC:
        obj = getattr(layerlab, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, layerlab.LayerlabError), name


def test_import_stays_light() -> None:
    code = ("import sys, layerlab; heavy = {'pandas', 'matplotlib', 'ipywidgets', "
            "'layerlab.build', 'layerlab.store', 'layerlab.formats'} & set(sys.modules); "
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
