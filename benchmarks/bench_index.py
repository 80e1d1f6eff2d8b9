"""index: ``Layer.from_tar`` on a plain 50,000-entry tar vs ``tar -tvf`` on the same file
and vs the floor (reading the bytes + sha256); with the C accelerator of the indexer
(layerlab/_ctar.c) when it is built, and once more on the pure-Python path, which is what
an install without a compiler (Pyodide, say) runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from . import Row, Scale, benchmark, measured, median, spooling
from .data import make_index_tar

NAME = "index"


@benchmark(NAME, "Layer.from_tar on a plain layer tar vs tar -tvf (goal <= 3x)")
@spooling
def run(scale: Scale, workdir: Path) -> list[Row]:
    tar_path = workdir / "index.tar"
    info = make_index_tar(tar_path, scale.tar_entries)
    if shutil.which("tar") is None:
        raise RuntimeError("the index benchmark needs GNU tar (or bsdtar) on PATH")
    # the same measurements as the read benchmark's (one implementation of each)
    from .read_bench import _from_tar, _tar_tvf, floor_seconds

    _from_tar(tar_path)  # warm the page cache and imports for both sides
    _tar_tvf(tar_path)

    from layerlab import fasttar

    ours: list[float] = []
    pure: list[float] = []
    ref: list[float] = []
    floor: list[float] = []
    for _ in range(scale.index_runs):  # interleaved, so drift hits every side alike
        ours.append(_from_tar(tar_path))
        ref.append(_tar_tvf(tar_path))
        floor.append(floor_seconds(tar_path))
        if fasttar.ACCELERATED:
            with fasttar.pure_python():
                pure.append(_from_tar(tar_path))
    detail = (
        f"median of {scale.index_runs}; {info['entries']:,} entries "
        f"(d {info.get('dir', 0)}, f {info.get('file', 0)}, l {info.get('symlink', 0)}), "
        f"{info['bytes'] / 2**20:.0f} MiB; "
        + ("C accelerator" if fasttar.ACCELERATED else "pure Python: _ctar not built")
    )
    name = f"Layer.from_tar ({info['entries']:,} entries)"
    rows = [
        measured(NAME, name, median(ours), "s",
                 reference=median(ref), reference_name="tar -tvf", max_ratio=3, detail=detail),
        measured(NAME, name, median(ours), "s",
                 reference=median(floor), reference_name="floor: read + sha256",
                 detail="tar -tvf reads no file content; layerlab must hash all of it"),
    ]
    if pure:
        rows.append(measured(NAME, f"{name}, pure Python", median(pure), "s",
                             reference=median(ref), reference_name="tar -tvf",
                             detail="LAYERLAB_ACCEL=0, or an install without a C compiler"))
    return rows
