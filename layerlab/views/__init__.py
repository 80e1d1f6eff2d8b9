"""Seeing it: pandas tables, matplotlib charts and HTML reprs over the engine.

The views only read the engine. Importing :mod:`layerlab` imports none of this;
importing :mod:`layerlab.views` imports neither pandas nor matplotlib either -- each
table or chart imports its library when it is called.

>>> from layerlab import Image, Layer
>>> from layerlab import views
>>> img = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\\n"}, created_by="ADD motd /etc/")])
>>> views.files_table(img.view())["path"].tolist()
['/etc', '/etc/motd']
"""

from __future__ import annotations

from ..analysis import EfficiencyReport, efficiency, efficiency_check, parse_bytes
from .charts import efficiency_chart, layer_sizes, sharing_chart, stack_diagram
from .html import container_html, image_html, layer_html, view_html
from .lecture import is_lecture_mode, lecture_mode
from .mode import mode_line, ran_real
from .palette import OKABE_ITO
from .tables import (
    cache_table,
    changes_table,
    diff_table,
    efficiency_table,
    files_table,
    history_table,
    layers_table,
    sharing_summary,
    sharing_table,
)

__all__ = [
    "OKABE_ITO",
    "EfficiencyReport",
    "cache_table",
    "changes_table",
    "container_html",
    "diff_table",
    "efficiency",
    "efficiency_chart",
    "efficiency_check",
    "efficiency_table",
    "files_table",
    "history_table",
    "image_html",
    "is_lecture_mode",
    "layer_html",
    "layer_sizes",
    "layers_table",
    "lecture_mode",
    "mode_line",
    "parse_bytes",
    "ran_real",
    "sharing_chart",
    "sharing_summary",
    "sharing_table",
    "stack_diagram",
    "view_html",
]
