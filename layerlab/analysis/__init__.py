"""The numbers behind the tables and charts, in plain Python (no pandas, no matplotlib).

Engine code: everything here only reads the engine, so the CLI prints the same figures
the notebooks show, and :mod:`layerlab.views` only renders them. Three families:

* **changes** (:mod:`.layers`) -- what a layer did to the view below it
  (:func:`layer_changes`, :func:`layer_stats`), Docker's answer from the one change
  model (:mod:`layerlab.changes`); the bytes each layer stores and still shows
  (:func:`stored_bytes`); one row per path of a view (:func:`file_rows`);
* **sharing** (:mod:`.sharing`) -- the layers several images share (:func:`sharing_rows`),
  and a table comparing tags (:func:`compare_images_text`);
* **efficiency** (:mod:`.efficiency`, :mod:`.rules`) -- dive's score and "wasted bytes",
  next to the bytes one could really reclaim, and dive's CI rules
  (:func:`efficiency_check`).

>>> from layerlab import Image, Layer
>>> img = Image.from_layers([Layer.from_dict({"/f": "x" * 100}),
...                          Layer.from_dict({"/f": "x" * 100})])
>>> report = efficiency(img)
>>> report.efficiency, report.wasted_bytes, report.reclaimable_bytes
(0.5, 200, 100)
"""

from __future__ import annotations

from .efficiency import (
    DiveNode,
    EfficiencyReport,
    PathEfficiency,
    efficiency,
    go_humanize_bytes,
    join_layers,
)
from .layers import (
    ChangeRow,
    FileRow,
    LayerStats,
    StoredBytes,
    file_rows,
    layer_changes,
    layer_stats,
    regular_size,
    stored_bytes,
)
from .rules import efficiency_check, parse_bytes
from .sharing import SharedLayer, compare_images, compare_images_text, sharing_rows

__all__ = [
    "ChangeRow",
    "DiveNode",
    "EfficiencyReport",
    "FileRow",
    "LayerStats",
    "PathEfficiency",
    "SharedLayer",
    "StoredBytes",
    "compare_images",
    "compare_images_text",
    "efficiency",
    "efficiency_check",
    "file_rows",
    "go_humanize_bytes",
    "join_layers",
    "layer_changes",
    "layer_stats",
    "parse_bytes",
    "regular_size",
    "sharing_rows",
    "stored_bytes",
]
