"""Building images from a Dockerfile, step by step, with a visible build cache.

>>> from layerlab.build import build, history
>>> img = build('''
... FROM layerlab/tiny
... WORKDIR /app
... RUN echo hi > hello.txt
... CMD ["cat", "hello.txt"]
... ''')
>>> for row in history(img)[:3]:
...     print(row.image_id_column, row.size, row.created_by)
c034c603f951 0 /bin/sh -c #(nop)  CMD ["cat" "hello.txt"]
<missing> 3 /bin/sh -c echo hi > hello.txt
<missing> 0 /bin/sh -c #(nop) WORKDIR /app

Modules: :mod:`.parser` (Dockerfile text to instructions), :mod:`.builder` (the steps),
:mod:`.cache` (the build cache), :mod:`.context` (the build context and its checksums),
:mod:`.history` (``docker history`` rows, and the classic builder next to BuildKit),
:mod:`.base` (built-in teaching base images), :mod:`.ignore` (``.dockerignore`` rules),
:mod:`.copying` (what COPY and ADD write).
"""

from __future__ import annotations

from .base import BASE_IMAGES, base_image
from .builder import BUILDERS, Builder, BuildStep, StagePlan, build
from .cache import BuildCache, CacheEntry, CacheRow
from .context import BuildContext
from .errors import BuildError, BuildLimitExceededError, ContextEscapeError, DockerfileError
from .history import BuilderRow, HistoryRow, compare_builders, history
from .ignore import IgnoreMatcher
from .parser import Dockerfile, Heredoc, Instruction, Stage, parse_dockerfile

__all__ = [
    "BASE_IMAGES",
    "BUILDERS",
    "BuildCache",
    "BuildContext",
    "BuildError",
    "BuildLimitExceededError",
    "BuildStep",
    "Builder",
    "BuilderRow",
    "CacheEntry",
    "CacheRow",
    "ContextEscapeError",
    "Dockerfile",
    "DockerfileError",
    "Heredoc",
    "HistoryRow",
    "IgnoreMatcher",
    "Instruction",
    "Stage",
    "StagePlan",
    "base_image",
    "build",
    "compare_builders",
    "history",
    "parse_dockerfile",
]
