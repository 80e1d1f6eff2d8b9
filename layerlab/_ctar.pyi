"""Types of the optional C accelerator of :mod:`layerlab.fasttar` (layerlab/_ctar.c)."""

from collections.abc import Callable
from typing import Any

def configure(entry_type: type, member_type: type, setters: tuple[Any, ...],
              kinds: tuple[Any, ...], sha256: Callable[..., Any], /) -> None: ...
def scan(buf: bytes | memoryview, at: int, base: int, count: int, max_entries: int,
         max_layer_bytes: int, max_path_bytes: int, members: list[Any], /) -> tuple[int, int]: ...
