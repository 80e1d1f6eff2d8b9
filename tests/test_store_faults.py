"""The store under kill -9 and under four concurrent writers.

Each test runs real child processes against one store directory. A writer killed at any
point of its writing must leave a store that verifies, with no half-recorded image: an image is
recorded only after all of its layers, and a layer only after its blob and its files.
"""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Callable

import _kill
from _store_writer import random_layers, spawn

from layerlab import Image
from layerlab.store import Store


def _spawn(root: str, seed: int, images: int, *extra: str) -> subprocess.Popen[str]:
    """The shared writer (tests/_store_writer.py); with ``extra`` it also
    commits and prunes."""
    return spawn(root, driver="overlay2", seed=seed, images=images, layers=5,
                 steps=("commit", "prune") if extra else ())


def _import_loop(store: Store, rng: random.Random, mark: Callable[[bytes], None]) -> None:
    while True:
        name = f"w{rng.getrandbits(32):08x}"
        image = Image.from_layers(random_layers(rng, 5, name))
        mark(b"I")
        store.add(image, tag=name)
        mark(b"i")


def test_kill_9_during_import_leaves_a_consistent_store(tmp_path: os.PathLike[str]) -> None:
    root = os.path.join(tmp_path, "store")
    Store(root)

    def check(n: int, markers: bytes) -> None:
        store = Store(root)
        report = store.verify(deep=n % 10 == 0)
        assert report.ok, f"after kill {n}: {report}"
        # every recorded image is whole: it loads and every layer's bytes are readable
        for record in store.images():
            image = store.get(record.id)
            assert len(image.layers) == record.layers == 6

    # the first round imports one image whole; every round is killed inside an import, just
    # before one of its file-system calls picked at random (tests/_kill.py: no sleeps)
    kills, landed, calls = _kill.kill_rounds(lambda: Store(root), _import_loop, b"I",
                                             kills=50, seed=2026, after=check)
    assert kills == landed == 50, f"only {landed} of {kills} kills landed inside store.add"
    assert calls > 50  # an import is many steps; the kills spread over them
    store = Store(root)
    # the first round's import, and those killed after the config was written (untagged
    # then): whole, as check() saw after every kill
    assert len(store.images()) >= 1
    store.prune()
    final = store.verify()
    assert final.ok and final.leftovers == [], final


def test_four_concurrent_writers_lose_nothing(tmp_path: os.PathLike[str]) -> None:
    root = os.path.join(tmp_path, "store")
    Store(root)
    procs = [_spawn(root, seed, 3, "commit") for seed in range(4)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.split() == ["ready", "done"]
    store = Store(root)
    report = store.verify()
    assert report.ok and report.leftovers == [], report
    tags = store.tags()
    expected = {f"{kind}{seed}-{n}:latest" for kind in ("w", "commit")
                for seed in range(4) for n in range(3)}
    assert set(tags) == expected
    for seed in range(4):
        for n in range(3):
            want = f"{seed}-{n}\n".encode()
            assert store.get(f"commit{seed}-{n}").view().read("/happy.txt") == want
            assert store.container(f"c{seed}-{n}").read("/happy.txt") == want
    # the shared base layer is stored once
    base_chain = store.get("w0-0").chain_ids[0]
    assert all(store.get(t).chain_ids[0] == base_chain for t in tags)
