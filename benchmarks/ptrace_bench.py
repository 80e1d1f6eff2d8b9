"""ptrace: what ptrace mode adds to a command, against ``flatten`` of the same image.

Ptrace mode materializes the container's merged view (``flatten`` into a private tmpfs
directory, plus a snapshot of every path's ``lstat``), runs the command under PRoot, and
compares the tree with the snapshot to apply the changes (issue 22's goal: materialize +
diff of a 10,000-file image at most 3x the time ``flatten`` takes for it). The command
itself is left out of the goal (it is the program's own time); a second row shows a whole
``true`` run when the tree is reused.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from . import Row, Scale, benchmark, measured, median

PTRACE = "ptrace"
GOAL = 3.0


def _image(files: int):  # type: ignore[no-untyped-def]
    from layerlab import Image, Layer

    spec: dict[str, object] = {}
    for i in range(files):
        spec[f"/usr/share/d{i % 100:03d}/f{i:05d}"] = f"file {i}\n" * (1 + i % 7)
    return Image.from_layers([Layer.from_dict(spec)])  # type: ignore[arg-type]


@benchmark(PTRACE, "ptrace mode: materialize + diff of a 10,000-file image vs flatten "
                   "(goal <= 3x)")
def run_ptrace_bench(scale: Scale, workdir: Path) -> list[Row]:
    from layerlab.formats import flatten
    from layerlab.ptracemode import MaterializedTree, detect

    files = max(scale.tar_entries // 5, 50)  # 10,000 at full scale
    image = _image(files)
    runs = max(scale.index_runs, 1)
    flat: list[float] = []
    ours: list[float] = []
    for n in range(runs):  # interleaved, so drift hits both sides alike
        dest = workdir / f"flat{n}"
        t0 = time.perf_counter()
        flatten(image, dest)
        flat.append(time.perf_counter() - t0)
        shutil.rmtree(dest)
        container = image.create_container(name=f"bench{n}")
        tree = MaterializedTree()
        try:
            t0 = time.perf_counter()
            tree.materialize(container)
            tree.apply(container)  # the diff after a command that changed nothing
            ours.append(time.perf_counter() - t0)
            assert not container.diff()
        finally:
            tree.remove()
    detail = f"median of {runs}; {files:,} files in 100 directories"
    rows = [measured(PTRACE, "materialize + diff (view -> tmpfs tree)", median(ours), "s",
                     reference=median(flat), reference_name="flatten (view -> dir)",
                     max_ratio=GOAL, detail=detail)]
    support = detect()
    if support.available:
        from layerlab.busybox import busybox_image
        from layerlab.ptracemode import run_ptrace

        c = busybox_image().create_container(name="bench-run")
        t0 = time.perf_counter()
        run_ptrace(c, ["true"])
        first = time.perf_counter() - t0
        again: list[float] = []
        for _ in range(runs):
            t0 = time.perf_counter()
            run_ptrace(c, ["true"])
            again.append(time.perf_counter() - t0)
        c.rm()
        rows.append(measured(PTRACE, "`true` under PRoot, tree reused", median(again), "s",
                             reference=first, reference_name="first run (materializes)",
                             detail=f"busybox image; {support.how}"))
    return rows
