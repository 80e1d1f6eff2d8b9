"""The containerd layout under kill -9 (import and commit) and under concurrent writers.

A writer killed at a random moment must leave a store that verifies: what it was
writing is held by a lease or is unreferenced garbage (a leftover), never a recorded
image with a missing blob or snapshot.
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
    prunes after its commits."""
    return spawn(root, driver="containerd", seed=seed, images=images, layers=4,
                 steps=("commit", "prune") if extra else ("commit",))


def _write_loop(store: Store, rng: random.Random, mark: Callable[[bytes], None]) -> None:
    while True:
        name = f"w{rng.getrandbits(32):08x}"
        image = Image.from_layers(random_layers(rng, 4, name))
        mark(b"W")
        store.add(image, tag=name)
        c = store.create_container(name, name=f"c-{name}")
        c.write("/happy.txt", f"{name}\n")
        store.add(c.commit(message="checkpoint"), tag=f"commit-{name}")
        mark(b"w")


def test_kill_9_during_import_and_commit_leaves_a_store_that_verifies(
        tmp_path: os.PathLike[str]) -> None:
    root = os.path.join(tmp_path, "store")
    Store(root, driver="containerd")

    def check(n: int, markers: bytes) -> None:
        store = Store(root, driver="containerd")
        report = store.verify(deep=n % 10 == 0)
        assert report.ok, f"after kill {n}: {report}"
        for record in store.images():  # every recorded image is whole
            assert len(store.get(record.id).layers) == record.layers
        for c in store.containers():
            assert c.view().listdir("/")

    # killed inside the import, the container's creation, its write or the commit, just
    # before a file-system call picked at random (tests/_kill.py: no sleeps)
    kills, landed, calls = _kill.kill_rounds(lambda: Store(root, driver="containerd"),
                                             _write_loop, b"W", kills=30, seed=2026, after=check)
    assert kills == landed == 30, f"only {landed} of {kills} kills landed inside the writing"
    assert calls > 30
    store = Store(root, driver="containerd")
    store.prune()
    final = store.verify()
    assert final.ok and final.leftovers == [], final


def test_three_concurrent_writers_lose_nothing(tmp_path: os.PathLike[str]) -> None:
    root = os.path.join(tmp_path, "store")
    Store(root, driver="containerd")
    procs = [_spawn(root, seed, 2, "prune") for seed in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.split() == ["ready", "done"]
    store = Store(root, driver="containerd")
    report = store.verify()
    assert report.ok and report.leftovers == [], report
    expected = {f"{kind}{seed}-{n}:latest" for kind in ("w", "commit")
                for seed in range(3) for n in range(2)}
    assert set(store.tags()) == expected
    for seed in range(3):
        for n in range(2):
            want = f"{seed}-{n}\n".encode()
            assert store.get(f"commit{seed}-{n}").view().read("/happy.txt") == want
            assert store.container(f"c{seed}-{n}").read("/happy.txt") == want
    numbers = [r["number"] for r in store.snapshot_records()]
    assert len(numbers) == len(set(numbers))  # no two writers got the same directory
    base = store.get("w0-0").chain_ids[0]
    assert sum(r["key"] == base for r in store.snapshot_records()) == 1
