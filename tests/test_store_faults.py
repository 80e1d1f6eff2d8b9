"""The store under kill -9 and under four concurrent writers.

Each test runs real child processes against one store directory. A writer killed at a
random moment must leave a store that verifies, with no half-recorded image: an image is
recorded only after all of its layers, and a layer only after its blob and its files.
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
    commits and prunes."""
    return spawn(root, driver="overlay2", seed=seed, images=images, layers=5,
                 steps=("commit", "prune") if extra else ())


def test_kill_9_during_import_leaves_a_consistent_store(tmp_path: os.PathLike[str]) -> None:
    root = os.path.join(tmp_path, "store")
    Store(root)
    rng = random.Random(2026)
    # time one whole import on this machine, so the kills spread over the writing
    whole = _spawn(os.path.join(tmp_path, "timing"), 999, 2)
    assert whole.stdout is not None and whole.stdout.readline().strip() == "ready"
    start = time.monotonic()
    whole.communicate()
    took = time.monotonic() - start
    assert whole.returncode == 0
    kills = interrupted = 0
    for seed in range(50):
        proc = _spawn(root, seed, 2)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        time.sleep(rng.uniform(0.0, took * 0.9))
        proc.kill()
        _, err = proc.communicate()
        kills += 1
        if proc.returncode == -9:
            interrupted += 1
        else:
            assert proc.returncode == 0, err
        store = Store(root)
        report = store.verify(deep=seed % 10 == 0)
        assert report.ok, f"after kill {seed}: {report}"
        # every recorded image is whole: it loads and every layer's bytes are readable
        for record in store.images():
            image = store.get(record.id)
            assert len(image.layers) == record.layers == 6
    assert kills == 50
    assert interrupted >= 25, f"only {interrupted} of 50 kills landed before the writer finished"
    store = Store(root)
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
