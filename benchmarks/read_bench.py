"""read, load, scale: every read path beside its floor, measured in the same run.

The floor is what no Python engine can beat: reading the bytes and hashing them with
``hashlib.sha256`` (for a compressed layer also inflating them with the fastest inflater
installed, and hashing both forms, since a layer's digest and its diff_id are both
checked). Every row reports layerlab's time as a ratio to that floor.

* ``read``: ``Layer.from_tar`` on a realistic image layer, plain, gzip and zstd (goal: at
  most 2x the floor); built from the Debian packages in /var/cache/apt/archives when there
  are some (a rootfs: many small files, some big, deep directories, symlinks, hardlinks),
  else generated alike. Also the pure fallbacks: zlib instead of ISA-L, one thread.
* ``load``: ``layerlab.load`` of a four-layer image as a docker-archive (plain layers) and
  as an OCI layout (gzip layers), each against reading + hashing its files.
* ``scale``: how the cost grows with entries, with bytes and with layers, three points each,
  so a regression in the growth shows and not only at one size.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from . import Row, Scale, benchmark, measured, median, release, spooling
from .data import make_debian_tar, make_index_tar, make_realistic_tar

READ, LOAD, SCALE = "read", "load", "scale"
READ_GOAL = 2.0  # x the floor

#: uncompressed bytes of the realistic layer, per scale (FULL is the size of a Debian
#: bookworm minbase rootfs, ~170 MB)
_REAL_BYTES = {"full": 170 << 20, "quick": 40 << 20, "tiny": 2 << 20}
_CHUNK = 1 << 20


@contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _inflater(compression: str, backend: str | None = None) -> Callable[[bytes], Iterator[bytes]]:
    """The fastest decompressor for ``compression`` (or the named gzip backend), as a
    function from compressed chunks to uncompressed ones."""
    from layerlab._codecs import gzip_backend

    if compression == "gzip":
        make = gzip_backend(backend).decompressobj

        def gz(blob: bytes) -> Iterator[bytes]:
            d = make(31)
            view = memoryview(blob)
            for i in range(0, len(blob), _CHUNK):
                yield d.decompress(view[i:i + _CHUNK])
                while d.eof and d.unused_data:  # another member
                    rest = d.unused_data
                    d = make(31)
                    yield d.decompress(rest)

        return gz
    if compression == "zstd":
        import zstandard

        def zs(blob: bytes) -> Iterator[bytes]:
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob),
                                                                read_across_frames=True)
            while chunk := reader.read(_CHUNK):
                yield chunk

        return zs
    return lambda blob: iter(())


def floor_seconds(path: Path, compression: str = "none", backend: str | None = None) -> float:
    """Read ``path``, sha256 it and (compressed) inflate it and sha256 the result."""
    inflate = _inflater(compression, backend)
    start = time.perf_counter()
    with open(path, "rb") as f:
        blob = f.read()
    hashlib.sha256(blob).hexdigest()
    if compression != "none":
        h = hashlib.sha256()
        for chunk in inflate(blob):
            h.update(chunk)
        h.hexdigest()
    return time.perf_counter() - start


def _from_tar(path: Path) -> float:
    from layerlab import Layer

    start = time.perf_counter()
    layer = Layer.from_tar(path)
    elapsed = time.perf_counter() - start
    assert len(layer) > 0
    release([layer])
    return elapsed


def _compressed(plain: Path, compression: str) -> Path:
    from layerlab.tarstream import compress

    out = plain.with_suffix(f".tar.{compression}")
    with open(plain, "rb") as src, open(out, "wb") as dst:
        compress(src, dst, compression)
    return out


def _interleaved(runs: int, *sides: Callable[[], float]) -> list[float]:
    """Median seconds of each side, run in turn so drift hits all alike."""
    times: list[list[float]] = [[] for _ in sides]
    for side in sides:  # warm the page cache and imports
        side()
    for _ in range(runs):
        for i, side in enumerate(sides):
            times[i].append(side())
    return [median(t) for t in times]


def real_layer(workdir: Path, scale: Scale) -> tuple[Path, dict]:
    """The realistic layer tar: Debian packages when present (FULL and QUICK), else made."""
    target = _REAL_BYTES.get(scale.label, _REAL_BYTES["tiny"])
    path = workdir / "real.tar"
    info = make_debian_tar(path, target) if scale.label != "tiny" else None
    if info is None:
        info = make_realistic_tar(path, target)
    return path, info


def _describe(info: dict) -> str:
    kinds = ", ".join(f"{k} {info[k]:,}" for k in ("file", "dir", "symlink", "hardlink")
                      if info.get(k))
    return (f"{info['source']}: {info['entries']:,} entries ({kinds}), "
            f"{info['bytes'] / 2**20:.0f} MiB")


@benchmark(READ, "Layer.from_tar on a realistic layer, plain / gzip / zstd, vs read + sha256 "
                 "(+ fastest inflater) (goal <= 2x)")
@spooling
def run_read(scale: Scale, workdir: Path) -> list[Row]:
    from layerlab._codecs import gzip_backend

    plain, info = real_layer(workdir, scale)
    what = _describe(info)
    runs = max(scale.index_runs, 1)
    rows: list[Row] = []
    fast = gzip_backend().name
    cases: list[tuple[str, Path, str, str | None, dict[str, str], float | None]] = [
        ("plain", plain, "none", None, {}, READ_GOAL),
    ]
    gz = _compressed(plain, "gzip")
    zs = _compressed(plain, "zstd")
    cases += [
        (f"gzip ({fast})", gz, "gzip", fast, {}, READ_GOAL),
        ("zstd", zs, "zstd", None, {}, READ_GOAL),
    ]
    if fast != "zlib":
        cases.append(("gzip (zlib: the pure fallback)", gz, "gzip", "zlib",
                      {"LAYERLAB_GZIP": "zlib"}, None))
    cases.append(("plain, one thread (Pyodide's path)", plain, "none", None,
                  {"LAYERLAB_THREADS": "0"}, None))
    for label, path, compression, backend, env, goal in cases:
        with _env(**env):
            if "LAYERLAB_THREADS" in env:
                from layerlab import tarstream

                saved = list(tarstream._THREADS)
                tarstream._THREADS[:] = [False]
            try:
                ours, floor = _interleaved(runs, lambda p=path: _from_tar(p),
                                           lambda p=path, c=compression, b=backend:
                                           floor_seconds(p, c, b))
            finally:
                if "LAYERLAB_THREADS" in env:
                    tarstream._THREADS[:] = saved
        size = path.stat().st_size
        rows.append(measured(
            READ, f"Layer.from_tar, {label}", ours, "s", reference=floor,
            reference_name="floor: read + sha256" + (" + inflate" if compression != "none"
                                                      else ""),
            max_ratio=goal,
            detail=f"median of {runs}; {what}; {size / 2**20:.0f} MiB as read, "
                   f"{size / 2**20 / ours:.0f} MiB/s"))
    return rows


def _save_image(workdir: Path, scale: Scale, layers: int, fmt: str) -> tuple[Path, int]:
    """An image of ``layers`` realistic layers saved as ``fmt``; (path, bytes of layers)."""
    from layerlab import Image, Layer
    from layerlab.formats import save

    per_layer = max(_REAL_BYTES.get(scale.label, _REAL_BYTES["tiny"]) // 4, 1 << 20)
    made = []
    for k in range(layers):
        path = workdir / f"gen{k}.tar"
        make_realistic_tar(path, per_layer, seed=100 + k)
        made.append(Layer.from_tar(path).with_compression("gzip" if fmt == "oci" else "none"))
    out = workdir / (f"image-{layers}.tar" if fmt == "docker-archive" else f"layout-{layers}")
    save(Image.from_layers(made), out, format=fmt, tag="bench:1")
    total = sum(layer.tar_size for layer in made)
    release(made)
    for k in range(layers):
        (workdir / f"gen{k}.tar").unlink()
    return out, total


def _load(path: Path) -> float:
    from layerlab.formats import load

    start = time.perf_counter()
    image = load(path)
    elapsed = time.perf_counter() - start
    assert image.layers
    release(image.layers)
    return elapsed


def _files(path: Path) -> list[tuple[Path, str]]:
    """The files a load reads and how each is compressed (by magic bytes)."""
    from layerlab.tarstream import detect_compression

    found = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    out = []
    for p in found:
        with open(p, "rb") as f:
            head = f.read(8)
        out.append((p, detect_compression(head) if p.is_file() else "none"))
    return out


def _floor_files(files: list[tuple[Path, str]]) -> float:
    return sum(floor_seconds(p, c) for p, c in files)


@benchmark(LOAD, "layerlab.load of a docker-archive and an OCI layout vs read + sha256 "
                 "(+ inflate) of their files (goal <= 2x)")
@spooling
def run_load(scale: Scale, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    runs = max(min(scale.index_runs, 3), 1)
    for fmt, how in (("docker-archive", "plain layers"), ("oci", "gzip layers")):
        path, total = _save_image(workdir, scale, 4, fmt)
        files = _files(path)
        ours, floor = _interleaved(runs, lambda p=path: _load(p),
                                   lambda f=files: _floor_files(f))
        rows.append(measured(
            LOAD, f"load {fmt} (4 layers, {how})", ours, "s", reference=floor,
            reference_name="floor: read + sha256 (+ inflate) of its files", max_ratio=READ_GOAL,
            detail=f"median of {runs}; {total / 2**20:.0f} MiB of layer tars"))
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return rows


def _tar_tvf(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["tar", "-tvf", str(path)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _big_file_tar(path: Path, size: int) -> None:
    import tarfile

    from .data import _Bytes

    block = os.urandom(1 << 20)
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("opt/blob.bin")
        info.size = size
        tf.addfile(info, _Bytes(block * (size >> 20)))


#: (entries, MiB, layers) at each of the three points, per scale
_POINTS = {
    "full": ((5_000, 20_000, 50_000), (32, 128, 512), (2, 8, 32)),
    "quick": ((2_000, 8_000, 32_000), (16, 64, 256), (2, 4, 8)),
    "tiny": ((100, 200, 400), (1, 2, 4), (1, 2, 3)),
}


@benchmark(SCALE, "growth: cost per entry, per byte and per layer at three sizes each "
                  "(a flat column is linear growth)")
@spooling
def run_scale(scale: Scale, workdir: Path) -> list[Row]:
    from layerlab import Image, Layer
    from layerlab.formats import save

    entries, mibs, layer_counts = _POINTS.get(scale.label, _POINTS["tiny"])
    runs = max(min(scale.index_runs, 3), 1)
    rows: list[Row] = []
    for n in entries:
        path = workdir / f"entries-{n}.tar"
        info = make_index_tar(path, n)
        ours, ref = _interleaved(runs, lambda p=path: _from_tar(p), lambda p=path: _tar_tvf(p))
        rows.append(measured(SCALE, f"per entry, {n:,} entries", ours / n * 1e6, "us",
                             reference=ref / n * 1e6, reference_name="tar -tvf",
                             detail=f"Layer.from_tar {ours:.3f} s; "
                                    f"{info['bytes'] / 2**20:.0f} MiB"))
        path.unlink()
    for mib in mibs:
        path = workdir / f"bytes-{mib}.tar"
        _big_file_tar(path, mib << 20)
        ours, floor = _interleaved(runs, lambda p=path: _from_tar(p),
                                   lambda p=path: floor_seconds(p))
        rows.append(measured(SCALE, f"per MiB, one {mib} MiB file", ours / mib * 1e3, "ms",
                             reference=floor / mib * 1e3, reference_name="floor: read + sha256",
                             detail=f"Layer.from_tar {ours:.3f} s "
                                    f"({mib / ours:.0f} MiB/s)"))
        path.unlink()
    per = 2_000 if scale.label != "tiny" else 100
    for count in layer_counts:
        layers = []
        for k in range(count):
            path = workdir / f"l{k}.tar"
            make_index_tar(path, per, seed=k, max_file=2048)
            layers.append(Layer.from_tar(path))
        archive = workdir / f"stack-{count}.tar"
        save(Image.from_layers(layers), archive, format="docker-archive", tag="s:1")
        release(layers)
        for k in range(count):
            (workdir / f"l{k}.tar").unlink()
        files = _files(archive)
        ours, floor = _interleaved(runs, lambda p=archive: _load(p),
                                   lambda f=files: _floor_files(f))
        rows.append(measured(SCALE, f"per layer, {count} layers of {per:,} entries",
                             ours / count * 1e3, "ms", reference=floor / count * 1e3,
                             reference_name="floor: read + sha256",
                             detail=f"load docker-archive {ours:.3f} s"))
        archive.unlink()
    return rows
