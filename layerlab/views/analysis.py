"""Deprecated: the numbers behind the views moved below them, to :mod:`layerlab.analysis`.

``import layerlab.views.analysis`` keeps working for one release, with a
:class:`DeprecationWarning`; import from :mod:`layerlab.analysis` instead.
"""

from __future__ import annotations

import warnings

from ..analysis import *  # noqa: F403
from ..analysis import __all__ as __all__

warnings.warn(
    "layerlab.views.analysis moved to layerlab.analysis (engine code below the views); "
    "import it from there: the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
