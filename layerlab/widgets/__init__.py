"""Interactive widgets (ipywidgets 8) over the engine. They only read it.

Importing this package imports ipywidgets; ``import layerlab`` does not.
"""

from __future__ import annotations

from .explorer import LayerExplorer

__all__ = ["LayerExplorer"]
