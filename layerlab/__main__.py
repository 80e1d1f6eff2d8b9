"""``python -m layerlab``: the same as the ``layerlab`` command."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
