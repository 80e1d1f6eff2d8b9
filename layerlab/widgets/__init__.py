"""Interactive widgets (ipywidgets 8 core widgets) over the engine. They only read it.

One widget per module: :class:`LayerExplorer` (scrub through an image's layers),
:class:`ContainerPlayground` (a command line into a container), :class:`BuildStepper`
(a build one instruction at a time) and :class:`StoreBrowser` (the host's directory).
Without a kernel each one shows the static HTML repr of what it looks at.

Importing this package imports ipywidgets; ``import layerlab`` does not.
"""

from __future__ import annotations

from .explorer import LayerExplorer
from .playground import ContainerPlayground
from .stepper import BuildStepper
from .storebrowser import StoreBrowser

__all__ = ["BuildStepper", "ContainerPlayground", "LayerExplorer", "StoreBrowser"]
