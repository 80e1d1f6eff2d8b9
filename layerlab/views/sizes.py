"""Several images side by side: stored bytes, layers, dive's efficiency and wasted bytes.

Used by ``09-smaller-images``: the same program built three ways (naive, cleanup in the
same ``RUN``, multi-stage). :func:`size_comparison` is the table, :func:`size_chart`
the chart; both only read the engine (:func:`layerlab.analysis.efficiency`).

>>> from layerlab.build import build
>>> small = build("FROM layerlab/tiny\\n")
>>> big = build("FROM layerlab/tiny\\nRUN echo data > /d && rm /d\\n")
>>> list(size_comparison({"small": small, "big": big})["layers"])
[1, 2]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..analysis import efficiency
from .charts import _figure, _fs, _human_axis, _lecture, _style
from .palette import OKABE_ITO

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from ..image import Image

__all__ = ["size_chart", "size_comparison"]


def size_comparison(images: Mapping[str, Image]) -> pd.DataFrame:
    """One row per image, in the order given, indexed by name: ``layers``, ``size``
    (bytes of file content in all layers), ``user_size`` (all but the base layer),
    ``efficiency`` and ``wasted_bytes`` (dive's figures)."""
    import pandas as pd

    rows = []
    for name, image in images.items():
        report = efficiency(image)
        rows.append({"image": name, "layers": len(image.layers), "size": report.size_bytes,
                     "user_size": report.user_size_bytes,
                     "efficiency": round(report.efficiency, 4),
                     "wasted_bytes": report.wasted_bytes})
    return pd.DataFrame(rows).set_index("image")


def size_chart(images: Mapping[str, Image]) -> Figure:
    """Horizontal bars per image: bytes stored, and dive's wasted bytes beside them
    (a logarithmic axis: the sizes differ by orders of magnitude). In lecture mode the
    rows are taller and the legend sits below the axes instead of over the bars."""
    table = size_comparison(images)
    names = list(table.index)
    lecture = _lecture()
    # lecture mode: the same width, taller rows for the bigger labels, the legend below
    fig = _figure(9.0, 2.4 + 1.25 * len(names) if lecture else 1.0 + 0.9 * len(names))
    ax = fig.subplots()
    _style(ax, "bytes stored and wasted bytes (log scale)")
    ys = list(range(len(names)))
    ax.barh([y + 0.2 for y in ys], table["size"], height=0.38, color=OKABE_ITO["blue"],
            edgecolor="#333333", linewidth=0.6, label="stored")
    ax.barh([y - 0.2 for y in ys], [max(w, 1) for w in table["wasted_bytes"]], height=0.38,
            color=OKABE_ITO["orange"], edgecolor="#333333", linewidth=0.6, hatch="//",
            label="wasted (dive)")
    ax.set_xscale("log")
    _human_axis(ax.xaxis)
    ax.set_yticks(ys, [f"{n}\n{int(table.loc[n, 'layers'])} layers" for n in names])
    ax.invert_yaxis()
    if lecture:
        fig.legend(fontsize=_fs(9), loc="outside lower center", ncol=2, frameon=False)
    else:
        ax.legend(fontsize=_fs(9), loc="lower right")
    return fig
