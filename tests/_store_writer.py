"""The writer process of the store fault tests (every layout): it imports images into a
store, and with ``commit`` also makes a container per image and commits it, with
``prune`` prunes after each image. The tests kill it with -9 at random moments, or run
several at once on one store directory."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable

WRITER = r"""
import random, sys
from layerlab import Image, Layer
from layerlab.store import Store

root, driver, seed, images, width = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
steps = set(sys.argv[6:])
store = Store(root, driver=driver)
rng = random.Random(seed)
base = Layer.from_dict({"/etc/os-release": "ID=shared\n"}, created_by="shared base")
print("ready", flush=True)
for n in range(images):
    layers = [base] + [
        Layer.from_dict({f"/l{i}/f{j}": rng.randbytes(rng.randint(0, 4000)) for j in range(15)},
                        created_by=f"{seed}-{n}-{i}")
        for i in range(width)
    ]
    store.add(Image.from_layers(layers), tag=f"w{seed}-{n}")
    if "commit" in steps:
        c = store.create_container(f"w{seed}-{n}", name=f"c{seed}-{n}")
        c.write("/happy.txt", f"{seed}-{n}\n")
        store.add(c.commit(message="checkpoint"), tag=f"commit{seed}-{n}")
    if "prune" in steps:
        store.prune()
print("done", flush=True)
"""


def spawn(root: str, *, driver: str, seed: int, images: int, layers: int,
          steps: Iterable[str] = ()) -> subprocess.Popen[str]:
    """A writer on the store at ``root``: ``images`` images of a shared base layer and
    ``layers`` random ones each; ``steps`` adds ``"commit"`` and/or ``"prune"``. It prints
    ``ready`` before its first write and ``done`` after its last."""
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, root, driver, str(seed), str(images), str(layers),
         *steps],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
