"""The second hostile round (issue 15): caps, raw exceptions and wrong results, as a corpus.

Every case is generated at test time (nothing binary is checked in). A :class:`Case2` writes
its input into a directory and lists, per entry point, the expected outcome: the name of the
:class:`~layerlab.errors.LayerlabError` subclass, or ``"ok"``. :func:`run_one` is what the
child process runs (``python round2.py CASE ENTRY DIR``): it prints one JSON line with the
outcome, the seconds taken and the peak resident memory. The test runs it under a timeout
and an address-space limit (``RLIMIT_AS``), so a hang or a blow-up fails in bounded time.
"""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script by the test
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from hostile.corpus import (  # type: ignore[no-redef]
        BLOCK,
        _pad,
        config_doc,
        docker_archive,
        header,
        member,
        oci_layout,
        pax,
        sha,
        tar,
    )
else:
    from .corpus import (
        BLOCK,
        _pad,
        config_doc,
        docker_archive,
        header,
        member,
        oci_layout,
        pax,
        sha,
        tar,
    )

MiB = 1 << 20


@dataclass
class Case2:
    name: str
    #: the class of problem (a row of the report)
    kind: str
    #: writes the input under a directory, returns the path to read
    make: Callable[[Path], Path]
    #: entry point -> "ok" or the LayerlabError subclass's name
    outcomes: dict[str, str]
    #: seconds and MiB of peak memory the slowest entry point may take
    seconds: float = 20.0
    peak_mib: int = 400
    extra: dict[str, Any] = field(default_factory=dict)


def _negative_base256(size: int) -> bytes:
    """A ustar header whose size field is GNU base-256 for ``-size``."""
    h = bytearray(header(b"f"))
    h[124:136] = (-size % (1 << 96)).to_bytes(12, "big")
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def _layer_case(raw: bytes) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        return docker_archive(d / "image.tar", [raw])
    return make


def _pax_member(records: dict[str, bytes]) -> bytes:
    return tar(pax(records) + header(b"f"))


def _nested_oci(width: int, depth: int) -> Callable[[Path], Path]:
    """An OCI layout whose index fans out ``width`` times per level over ``depth`` levels,
    every descriptor of a level naming the same nested index (40**4 walks without de-dup)."""
    def make(d: Path) -> Path:
        root = oci_layout(d / "layout", [tar(member("f", data=b"x"))])
        index = json.loads((root / "index.json").read_bytes())
        child = index
        for _ in range(depth):
            blob = json.dumps(child).encode()
            (root / "blobs/sha256" / sha(blob)[7:]).write_bytes(blob)
            desc = {"mediaType": "application/vnd.oci.image.index.v1+json",
                    "digest": sha(blob), "size": len(blob)}
            child = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                     "manifests": [desc] * width}
        (root / "index.json").write_bytes(json.dumps(child).encode())
        return root
    return make


def _many_artifacts(count: int) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        root = oci_layout(d / "layout", [tar(member("f", data=b"x"))])
        index = json.loads((root / "index.json").read_bytes())
        index["manifests"] += [{"mediaType": "application/x-artifact", "size": 3,
                                "digest": "sha256:" + f"{i:064x}"} for i in range(count)]
        (root / "index.json").write_bytes(json.dumps(index).encode())
        return root
    return make


def _same_layer(times: int, size: int) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        raw = tar(member("big", data=os.urandom(size)))
        return oci_layout(d / "layout", [raw] * times)
    return make


def _pax_redos(size: int) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        body = b"1" * size
        path = d / "outer.tar"
        path.write_bytes(tar(header(b"PaxHeader", typeflag=b"x", size=len(body)) + _pad(body)
                             + header(b"manifest.json")))
        return path
    return make


def _zstd_bomb(inflated: int) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        import zstandard

        path = d / "bomb.tar.zst"
        with open(path, "wb") as out, zstandard.ZstdCompressor(level=19).stream_writer(
                out, closefd=False) as zw:
            zw.write(header(b"zeros", size=inflated))
            zero = bytes(MiB)
            for _ in range(inflated // MiB):
                zw.write(zero)
        return docker_archive(d / "image.tar", [path.read_bytes()])
    return make


def _deep(depth: int) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        members = [member("d/" * i + "d", "dir") for i in range(depth)]
        return docker_archive(d / "image.tar", [tar(*members, member("d/" * depth + "f",
                                                                     data=b"x"))])
    return make


def _manifest_case(manifest: bytes) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        return docker_archive(d / "image.tar", [tar(member("f", data=b"x"))], manifest=manifest)
    return make


def _empty_history(d: Path) -> Path:
    raw = tar(member("f", data=b"x"))
    cfg = config_doc([raw])
    cfg["history"] = []
    return docker_archive(d / "image.tar", [raw], config=json.dumps(cfg).encode())


def _big_file(size: int) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        path = d / "layer.tar"
        with open(path, "wb") as f:
            f.write(header(b"big", size=size))
            chunk = os.urandom(MiB)
            for _ in range(size // MiB):
                f.write(chunk)
            f.write(b"\0" * (-size % BLOCK + 2 * BLOCK))
        layer = path.read_bytes()
        out = docker_archive(d / "image.tar", [layer])
        path.unlink()
        return out
    return make


_LAYER = ("from_tar", "load", "flatten", "store")
_IMAGE = ("load", "flatten", "store")


def _all(entries: tuple[str, ...], outcome: str) -> dict[str, str]:
    return dict.fromkeys(entries, outcome)


CASES2: list[Case2] = [
    Case2("negative-size-base256", "tar numbers", _layer_case(tar(_negative_base256(5))),
          _all(_LAYER, "InvalidLayerError"), seconds=10),
    Case2("negative-size-pax", "tar numbers", _layer_case(_pax_member({"size": b"-5"})),
          _all(_LAYER, "InvalidLayerError"), seconds=10),
    Case2("negative-size-huge", "tar numbers",
          _layer_case(tar(_negative_base256(2**80))), _all(_LAYER, "InvalidLayerError"),
          seconds=10),
    Case2("pax-mtime-1e400", "tar numbers", _layer_case(_pax_member({"mtime": b"1e400"})),
          _all(_LAYER, "InvalidLayerError"), seconds=10),
    Case2("pax-mtime-1e20", "tar numbers",
          _layer_case(_pax_member({"mtime": b"100000000000000000000"})),
          _all(_LAYER, "InvalidLayerError"), seconds=10),
    *[Case2(f"pax-uid-{label}", "tar numbers", _layer_case(_pax_member({"uid": value})),
            _all(_LAYER, "InvalidLayerError"), seconds=10)
      for label, value in (("2^64", str(2**64).encode()), ("-2", b"-2"),
                           ("2^32", str(2**32).encode()))],
    Case2("oci-fanout-40^4", "OCI index walk", _nested_oci(40, 4), _all(_IMAGE, "ok"),
          seconds=15),
    Case2("oci-nested-6-deep", "OCI index walk", _nested_oci(1, 6),
          _all(_IMAGE, "LimitExceededError"), seconds=10),
    Case2("oci-20k-artifacts", "OCI index walk", _many_artifacts(20_000),
          _all(_IMAGE, "LimitExceededError"), seconds=15),
    Case2("same-1MiB-layer-2000x", "repeated layer", _same_layer(2000, MiB),
          {"load": "ok", "flatten": "ok"}, seconds=5),
    Case2("pax-redos-300KiB", "tarfile PAX ReDoS", _pax_redos(300 * 1024),
          _all(_IMAGE, "InvalidImageError"), seconds=10),
    Case2("zstd-bomb-1GiB", "decompression bomb", _zstd_bomb(1024 * MiB),
          _all(_IMAGE, "LimitExceededError"), seconds=40),
    Case2("nested-1500-dirs", "deep nesting", _deep(1500),
          {"load": "ok", "flatten": "ok", "store": "ok", "efficiency": "ok"}, seconds=60),
    Case2("nested-2040-dirs", "deep nesting", _deep(2040),
          {"flatten": "ok", "efficiency": "ok", "store": "StoreError"}, seconds=60),
    Case2("json-100k-deep", "raw exceptions", _manifest_case(b"[" * 100_000),
          _all(_IMAGE, "InvalidImageError"), seconds=10),
    Case2("repotags-5", "raw exceptions",
          _manifest_case(json.dumps([{"Config": "x.json", "RepoTags": 5, "Layers": []}] * 2)
                         .encode()),
          _all(_IMAGE, "InvalidImageError"), seconds=10),
    Case2("xattr-user-on-symlink", "raw exceptions",
          _layer_case(tar(member("l", "symlink", link="t", xattrs={"user.x": b"1"}),
                          member("f", data=b"x", xattrs={"bogus.ns": b"1"}))),
          _all(_LAYER, "ok"), seconds=10),
    Case2("reserved-opaque-dir", "wrong results",
          _layer_case(tar(member("a/.wh..wh..opq", "dir"), member("a/.wh..wh..opq/x"))),
          _all(_LAYER, "MalformedWhiteoutError"), seconds=10),
    Case2("empty-history", "wrong results", _empty_history,
          {"load": "ok", "store": "ok"}, seconds=10),
    Case2("one-1GiB-file", "content in memory", _big_file(1024 * MiB),
          {"store": "ok"}, seconds=90, peak_mib=400),
]
BY_NAME = {c.name: c for c in CASES2}


def run_one(case: Case2, entry: str, work: Path, source: Path) -> dict[str, Any]:
    """Run one entry point on the input made earlier; the outcome and what it cost."""
    from layerlab import Layer, LayerlabError
    from layerlab.formats import flatten, load
    from layerlab.store import Store

    start = time.monotonic()
    try:
        if entry == "from_tar":
            with open(source, "rb") as f:
                import tarfile
                with tarfile.open(fileobj=f) as outer:  # the layer inside the archive
                    name = next(m.name for m in outer if m.name.endswith("layer.tar"))
                    data = outer.extractfile(name).read()  # type: ignore[union-attr]
            Layer.from_tar(io.BytesIO(data))
        elif entry == "load":
            load(source)
        elif entry == "flatten":
            flatten(load(source), work / "dest")
        elif entry == "store":
            store = Store(work / "store")
            image = load(source)
            store.add(image, tag="hostile:1")
            again = Store(work / "store")
            again.create_container("hostile:1")
        elif entry == "efficiency":
            from layerlab.analysis import efficiency
            efficiency(load(source))
        else:
            raise ValueError(f"unknown entry point {entry}")
        outcome = "ok"
    except LayerlabError as exc:
        outcome = type(exc).__name__
    except BaseException as exc:
        outcome = f"RAW {type(exc).__name__}: {str(exc)[:200]}"
    seconds = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return {"outcome": outcome, "seconds": round(seconds, 3), "peak_mib": peak}


if __name__ == "__main__":
    if sys.argv[1] == "make":  # python round2.py make CASE DIR: prints the input's path
        print(BY_NAME[sys.argv[2]].make(Path(sys.argv[3])))
    else:  # python round2.py run CASE ENTRY DIR INPUT
        print(json.dumps(run_one(BY_NAME[sys.argv[2]], sys.argv[3], Path(sys.argv[4]),
                                 Path(sys.argv[5]))))
