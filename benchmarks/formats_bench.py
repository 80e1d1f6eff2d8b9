"""flatten and load-rss: real-image formats at scale.

* ``flatten``: an image of ``scale.tar_entries`` entries over 5 layers (whiteouts, opaque
  directories, replaced paths; gzip layers in an OCI layout) is loaded and flattened to a
  directory on tmpfs, next to ``umoci unpack`` of the same layout and GNU ``tar -xf`` of
  the same merged tree as one tar (goal: at most 0.5x umoci).
* ``load-rss``: a ~1 GB ``docker save`` archive (three big files and many small ones over
  four layers) is loaded by ``layerlab.load`` in a fresh interpreter whose peak RSS
  (its ``VmHWM``, see :func:`peak_rss`) is the figure (goal: <= 200 MB).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from . import Row, Scale, benchmark, measured, median, release
from .data import make_stack

FLATTEN = "flatten"
LOAD = "load-rss"
FLATTEN_GOAL = 0.5  # x umoci
RSS_GOAL_MB = 200.0
ROOTLESS = [] if os.geteuid() == 0 else ["--rootless"]

#: (big files, bytes each, small files) per scale: FULL is ~1 GB
_LOAD_SIZES = {"full": (3, 256 << 20, 20_000), "quick": (3, 24 << 20, 2_000),
               "tiny": (3, 1 << 20, 100)}


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    return path


def _ours(layout: Path, dest: Path) -> tuple[float, float, int]:
    """(load + flatten seconds, flatten seconds, entries written)."""
    from layerlab.formats import flatten, load

    start = time.perf_counter()
    image = load(layout)
    loaded = time.perf_counter()
    result = flatten(image, dest, allow_setuid=True)
    done = time.perf_counter()
    release(image.layers)
    return done - start, done - loaded, result.entries


@benchmark(FLATTEN, "load + flatten an image to tmpfs vs umoci unpack and tar -xf "
                    "(goal <= 0.5x umoci)")
def run_flatten(scale: Scale, workdir: Path) -> list[Row]:
    from layerlab import Image, Layer
    from layerlab.formats import flatten, save

    (workdir / "gen").mkdir()
    stack = make_stack(workdir / "gen", scale.tar_entries, 5)
    layers = [Layer.from_tar(spec.path).with_compression("gzip") for spec in stack.layers]
    image = Image.from_layers(layers)
    save(image, workdir / "layout", format="oci", tag="t")
    flatten(image, workdir / "flat.tar", allow_setuid=True)  # the same tree, for tar -xf
    paths = len(image.view())
    release(layers)
    shutil.rmtree(workdir / "gen")
    has_umoci = shutil.which("umoci") is not None
    umoci = ["umoci", "unpack", *ROOTLESS, "--image", f"{workdir / 'layout'}:t"]

    ours: list[float] = []
    flat_only: list[float] = []
    ref_umoci: list[float] = []
    ref_tar: list[float] = []
    runs = max(scale.index_runs, 1)
    for _ in range(runs):  # interleaved, so drift hits every side alike
        total, flat, _ = _ours(workdir / "layout", _fresh(workdir / "ours"))
        ours.append(total)
        flat_only.append(flat)
        shutil.rmtree(workdir / "ours")
        if has_umoci:
            ref_umoci.append(_timed([*umoci, str(_fresh(workdir / "bundle"))]))
            shutil.rmtree(workdir / "bundle")
        (workdir / "tarx").mkdir()
        ref_tar.append(_timed(["tar", "-xf", str(workdir / "flat.tar"), "-C",
                               str(workdir / "tarx")]))
        shutil.rmtree(workdir / "tarx")
    detail = (f"median of {runs}; {stack.total_entries:,} entries in {len(layers)} gzip layers, "
              f"{paths:,} paths in the view")
    rows = []
    if has_umoci:
        rows.append(measured(FLATTEN, "load + flatten (OCI layout -> dir)", median(ours), "s",
                             reference=median(ref_umoci), reference_name="umoci unpack",
                             max_ratio=FLATTEN_GOAL, detail=detail))
    else:
        rows.append(measured(FLATTEN, "load + flatten (OCI layout -> dir)", median(ours), "s",
                             detail=detail + "; umoci not found: no reference"))
    rows.append(measured(FLATTEN, "load + flatten (OCI layout -> dir)", median(ours), "s",
                         reference=median(ref_tar), reference_name="tar -xf (merged tree)",
                         detail="GNU tar extracts one tar of the same merged tree"))
    rows.append(measured(FLATTEN, "flatten only (image in memory -> dir)", median(flat_only),
                         "s", reference=median(ref_tar), reference_name="tar -xf (merged tree)",
                         detail="the writer alone: no reading, decompressing or verifying"))
    return rows


# --- load: peak RSS ------------------------------------------------------------------------


class _Pattern:
    """``size`` bytes of a repeated random block, handed out in chunks (never whole)."""

    def __init__(self, block: bytes, size: int) -> None:
        self._block = block
        self._left = size

    def read(self, n: int = -1) -> bytes:
        n = len(self._block) if n < 0 else min(n, len(self._block))
        n = min(n, self._left)
        self._left -= n
        return self._block[:n]


def _layer_tar(path: Path, rng: random.Random, *, big: list[tuple[str, int]], small: int,
               prefix: str) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for name, size in big:
            info = tarfile.TarInfo(name)
            info.size = size
            tf.addfile(info, _Pattern(rng.randbytes(1 << 20), size))
        for i in range(small):
            data = rng.randbytes(rng.randint(0, 24 << 10))
            info = tarfile.TarInfo(f"{prefix}/d{i % 97:02d}/f{i:05d}.bin")
            info.size = len(data)
            tf.addfile(info, _Pattern(data, len(data)))


def make_big_archive(workdir: Path, scale: Scale) -> tuple[Path, int, int]:
    """A docker-archive of about 1 GB (at FULL scale); returns (path, bytes, files)."""
    from layerlab import Image, Layer
    from layerlab.formats import save

    n_big, big_size, n_small = _LOAD_SIZES.get(scale.label, _LOAD_SIZES["tiny"])
    rng = random.Random(11)
    gen = workdir / "gen"
    gen.mkdir()
    specs = [
        {"big": [], "small": n_small // 2, "prefix": "usr/share"},
        {"big": [("opt/model/weights.bin", big_size)], "small": 0, "prefix": ""},
        {"big": [("opt/data/db.sqlite", big_size)], "small": n_small - n_small // 2,
         "prefix": "usr/lib"},
        {"big": [("var/cache/blob.bin", big_size)][: max(n_big - 2, 0)], "small": 0,
         "prefix": ""},
    ]
    paths = []
    for k, spec in enumerate(specs):
        path = gen / f"layer{k}.tar"
        _layer_tar(path, rng, big=spec["big"], small=spec["small"],  # type: ignore[arg-type]
                   prefix=str(spec["prefix"]))
        paths.append(path)
    layers = [Layer.from_tar(p) for p in paths]
    archive = workdir / "big.tar"
    save(Image.from_layers(layers), archive, format="docker-archive", tag="big:1")
    release(layers)
    shutil.rmtree(gen)
    return archive, archive.stat().st_size, n_big + n_small


_HWM = """
import os as _os, resource as _resource
try:
    with open("/proc/self/status") as _status:
        _kib = next(int(line.split()[1]) for line in _status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    _kib = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
_os.write(int(_os.environ["LAYERLAB_BENCH_HWM_FD"]), str(_kib).encode())
"""


def peak_rss(code: str, *args: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``python -c code args`` and return (peak RSS in MB of that process, seconds).

    The child reports its own ``VmHWM`` (the high-water mark of its address space) through
    a pipe when ``code`` is done. Not ``ru_maxrss``: on Linux a child started with
    ``vfork`` inherits the parent's high-water mark at ``exec``, so a big parent would
    hide a small child.
    """
    read_fd, write_fd = os.pipe()
    child_env = dict(os.environ if env is None else env, LAYERLAB_BENCH_HWM_FD=str(write_fd))
    start = time.perf_counter()
    try:
        proc = subprocess.Popen([sys.executable, "-c", code + _HWM, *args], env=child_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                pass_fds=(write_fd,))
    finally:
        os.close(write_fd)
    _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    with os.fdopen(read_fd, "rb") as report:
        kib = report.read()
    if proc.returncode != 0 or not kib:
        raise RuntimeError(f"python -c {code!r} failed: {err.decode(errors='replace')}")
    return int(kib) / 1024, elapsed


_LOAD_CODE = """\
import sys, layerlab
image = layerlab.load(sys.argv[1])
assert len(image.layers) == 4 and len(image.view()) > 0
"""


@benchmark(LOAD, "peak RSS of layerlab.load on a ~1 GB docker-archive (goal <= 200 MB)")
def run_load(scale: Scale, workdir: Path) -> list[Row]:
    archive, size, files = make_big_archive(workdir, scale)
    env = dict(os.environ, TMPDIR=str(workdir))  # spool files on the same tmpfs
    base, _ = peak_rss("import layerlab, layerlab.formats", env=env)
    rss, seconds = peak_rss(_LOAD_CODE, str(archive), env=env)
    return [measured(
        LOAD, f"load {size / 1e9:.2f} GB docker-archive: peak RSS", rss, "MB",
        reference=base, reference_name="import layerlab", max_figure=RSS_GOAL_MB,
        detail=f"{files:,} files in 4 layers; load + view took {seconds:.1f} s "
               f"({size / 2**20 / seconds:.0f} MiB/s)",
    )]
