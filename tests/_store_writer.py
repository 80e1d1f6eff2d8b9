"""The writer process of the store fault tests (every layout): it imports images into a
store, and with ``commit`` also makes a container per image and commits it, with
``prune`` prunes after each image. The tests kill it with -9 at random moments, or run
several at once on one store directory."""

from __future__ import annotations

import functools
import os
import random
import subprocess
import sys
from collections.abc import Iterable

from layerlab import Layer

WRITER = r"""
import random, sys
sys.path.insert(0, sys.argv.pop(1))  # the tests directory: this module's random_layers
from _store_writer import random_layers
from layerlab import Image
from layerlab.store import Store

root, driver, seed, images, width = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
steps = set(sys.argv[6:])
store = Store(root, driver=driver)
rng = random.Random(seed)
print("ready", flush=True)
for n in range(images):
    store.add(Image.from_layers(random_layers(rng, width, f"{seed}-{n}")), tag=f"w{seed}-{n}")
    if "commit" in steps:
        c = store.create_container(f"w{seed}-{n}", name=f"c{seed}-{n}")
        c.write("/happy.txt", f"{seed}-{n}\n")
        store.add(c.commit(message="checkpoint"), tag=f"commit{seed}-{n}")
    if "prune" in steps:
        store.prune()
print("done", flush=True)
"""


@functools.cache
def shared_base() -> Layer:
    """The base layer every writer's images share (so layers are deduplicated)."""
    return Layer.from_dict({"/etc/os-release": "ID=shared\n"}, created_by="shared base")


def random_layers(rng: random.Random, width: int, label: str) -> list[Layer]:
    """:func:`shared_base` and ``width`` layers of 15 random files (0 to 4,000 bytes)
    each, made by ``label-<i>``: the images every fault test writes."""
    return [shared_base()] + [
        Layer.from_dict({f"/l{i}/f{j}": rng.randbytes(rng.randint(0, 4000)) for j in range(15)},
                        created_by=f"{label}-{i}")
        for i in range(width)
    ]


def spawn(root: str, *, driver: str, seed: int, images: int, layers: int,
          steps: Iterable[str] = ()) -> subprocess.Popen[str]:
    """A writer on the store at ``root``: ``images`` images of a shared base layer and
    ``layers`` random ones each; ``steps`` adds ``"commit"`` and/or ``"prune"``. It prints
    ``ready`` before its first write and ``done`` after its last."""
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, os.path.dirname(os.path.abspath(__file__)), root, driver,
         str(seed), str(images), str(layers), *steps],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
