"""The containerd layout under kill -9 (import and commit) and under concurrent writers.

A writer killed at a random moment must leave a store that verifies: what it was
writing is held by a lease or is unreferenced garbage (a leftover), never a recorded
image with a missing blob or snapshot.
"""

from __future__ import annotations

import os
import random
import subprocess
import time

from _store_writer import spawn

from layerlab.store import Store


def _spawn(root: str, seed: int, images: int, *extra: str) -> subprocess.Popen[str]:
    """The shared writer (tests/_store_writer.py); with ``extra`` it also
    prunes after its commits."""
    return spawn(root, driver="containerd", seed=seed, images=images, layers=4,
                 steps=("commit", "prune") if extra else ("commit",))


def test_kill_9_during_import_and_commit_leaves_a_store_that_verifies(
        tmp_path: os.PathLike[str]) -> None:
    root = os.path.join(tmp_path, "store")
    Store(root, driver="containerd")
    rng = random.Random(2026)
    whole = _spawn(os.path.join(tmp_path, "timing"), 999, 2)
    assert whole.stdout is not None and whole.stdout.readline().strip() == "ready"
    start = time.monotonic()
    _, err = whole.communicate()
    took = time.monotonic() - start
    assert whole.returncode == 0, err
    interrupted = 0
    for seed in range(30):
        proc = _spawn(root, seed, 2)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        time.sleep(rng.uniform(0.0, took * 0.9))
        proc.kill()
        _, err = proc.communicate()
        if proc.returncode == -9:
            interrupted += 1
        else:
            assert proc.returncode == 0, err
        store = Store(root, driver="containerd")
        report = store.verify(deep=seed % 10 == 0)
        assert report.ok, f"after kill {seed}: {report}"
        for record in store.images():  # every recorded image is whole
            assert len(store.get(record.id).layers) == record.layers
        for c in store.containers():
            assert c.view().listdir("/")
    assert interrupted >= 15, f"only {interrupted} of 30 kills landed before the writer finished"
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
