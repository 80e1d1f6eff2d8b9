"""A classroom registry: small stand-ins for ``python:3.12`` and ``python:3.12-slim``, served
by a read-only OCI Distribution server on 127.0.0.1, so a notebook can pull "real" tags with
the real client when there is no network (tests, a train, Docker Hub's rate limit).

The stand-ins copy the *shape* of the official images, not their bytes (sizes are about a
thousandth): ``python:3.12`` is built on ``buildpack-deps:bookworm`` (Debian plus curl, then
git and friends, then compilers and ``-dev`` packages), ``python:3.12-slim`` on
``debian:bookworm-slim`` plus a few runtime packages; both then build CPython. Every apt step
rewrites ``/var/lib/dpkg/status`` and friends, which is what dive counts as waste.

>>> with classroom_registry() as reg:                      # doctest: +SKIP
...     slim = reg.pull("python:3.12-slim").image
>>> with classroom_registry(live=True) as reg:             # doctest: +SKIP
...     slim = reg.pull("python:3.12-slim").image          # from Docker Hub itself

The table comparing the pulled tags is :func:`layerlab.analysis.compare_images_text`
(analysis sits above the registry; ``compare`` and ``compare_text`` here are its deprecated
old names).
"""

from __future__ import annotations

import http.server
import random
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..digest import sha256_digest
from ..formats.descriptors import OCI_MANIFEST
from ..formats.oci import manifest_bytes
from ..image import Image
from ..layer import Layer
from .pull import PullResult, pull_image

__all__ = ["ClassroomRegistry", "classroom_registry", "standin_images"]

_EPOCH = "2024-06-13T00:00:00Z"


def _blob(seed: str, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _apt_state(step: str, packages: int) -> dict[str, Any]:
    """What every ``apt-get install`` leaves, rewritten each time (dive's usual suspects)."""
    return {
        "/var/lib/dpkg/status": _blob(f"status-{step}", 40 * packages),
        "/var/cache/debconf/templates.dat": _blob(f"debconf-{step}", 20 * packages),
        "/var/log/dpkg.log": _blob(f"dpkglog-{step}", 6 * packages),
        "/etc/ld.so.cache": _blob(f"ldcache-{step}", 500 + 2 * packages),
    }


def _files(prefix: str, seed: str, count: int, size: int) -> dict[str, Any]:
    return {f"{prefix}/{seed}-{i:02d}": _blob(f"{seed}-{i}", size) for i in range(count)}


@cache
def standin_images() -> dict[str, Image]:
    """``{"python:3.12": ..., "python:3.12-slim": ...}``, the same bytes on every machine."""
    python = {**_files("/usr/local/lib/python3.12", "stdlib", 12, 9_000),
              "/usr/local/bin/python3.12": _blob("python-bin", 14_000),
              "/usr/local/bin/python3": "python3.12"}
    links = {"/usr/local/bin/python": "python3", "/usr/local/bin/pip": "pip3"}
    env = ["PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG=C.UTF-8", "PYTHON_VERSION=3.12.4"]
    full = Image.from_layers([
        Layer.from_dict({"/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
                         **_files("/usr/bin", "coreutils", 10, 9_000),
                         **_files("/usr/lib/x86_64-linux-gnu", "libc", 6, 8_000),
                         **_apt_state("base", 90)},
                        created_by="# debian.sh --arch 'amd64' out/ 'bookworm' '@1718236800'"),
        Layer.from_dict({**_files("/usr/lib/x86_64-linux-gnu", "curl", 3, 7_000),
                         **_apt_state("curl", 120)},
                        created_by="RUN apt-get update && apt-get install -y --no-install-"
                                   "recommends ca-certificates curl gnupg netbase wget && rm "
                                   "-rf /var/lib/apt/lists/*"),
        Layer.from_dict({**_files("/usr/lib/git-core", "git", 8, 8_000),
                         **_apt_state("scm", 160)},
                        created_by="RUN apt-get update && apt-get install -y --no-install-"
                                   "recommends git mercurial openssh-client subversion procps "
                                   "&& rm -rf /var/lib/apt/lists/*"),
        Layer.from_dict({**_files("/usr/lib/gcc/x86_64-linux-gnu/12", "cc1", 30, 12_000),
                         **_files("/usr/include", "headers", 20, 4_000),
                         **_apt_state("devel", 400)},
                        created_by="RUN apt-get update && apt-get install -y --no-install-"
                                   "recommends autoconf automake bzip2 dpkg-dev file g++ gcc "
                                   "libssl-dev make ... && rm -rf /var/lib/apt/lists/*"),
        Layer.from_dict(python, created_by="RUN set -eux; wget -O python.tar.xz ...; "
                                           "./configure ...; make -j; make install; ..."),
        Layer.from_dict({k: _symlink(v) for k, v in links.items()},
                        created_by="RUN set -eux; for src in idle3 pip3 pydoc3 python3 "
                                   "python3-config; do ln -svT ...; done"),
    ], config={"Env": env, "Cmd": ["python3"]}, created=_EPOCH)
    slim = Image.from_layers([
        Layer.from_dict({"/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
                         **_files("/usr/bin", "coreutils-slim", 10, 6_000),
                         **_files("/usr/lib/x86_64-linux-gnu", "libc", 6, 8_000),
                         **_apt_state("slim-base", 80)},
                        created_by="# debian.sh --arch 'amd64' out/ 'bookworm' '@1718236800'"),
        Layer.from_dict({**_files("/usr/share/zoneinfo", "tz", 4, 3_000),
                         **_apt_state("slim-runtime", 90)},
                        created_by="RUN set -eux; apt-get update; apt-get install -y --no-"
                                   "install-recommends ca-certificates netbase tzdata; rm -rf "
                                   "/var/lib/apt/lists/*"),
        Layer.from_dict({**python, "/usr/local/lib/python3.12/slim-build": "stripped\n",
                         **_apt_state("slim-python", 95)},
                        created_by="RUN set -eux; savedAptMark=...; apt-get install ... "
                                   "build deps; ./configure ...; make install; apt-mark "
                                   "auto '.*'; apt-get purge -y --auto-remove ..."),
        Layer.from_dict({k: _symlink(v) for k, v in links.items()},
                        created_by="RUN set -eux; for src in idle3 pip3 pydoc3 python3 "
                                   "python3-config; do ln -svT ...; done"),
    ], config={"Env": env, "Cmd": ["python3"]}, created=_EPOCH)
    return {"python:3.12": full, "python:3.12-slim": slim}


def _symlink(target: str) -> Any:
    from ..entry import Symlink

    return Symlink(target)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    _PATH = re.compile(r"^/v2/(?P<repo>[a-z0-9._/-]+)/(?P<kind>manifests|blobs)/(?P<ref>[^/?]+)$")

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, code: int, body: bytes = b"", headers: Mapping[str, str] | None = None
              ) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/v2/":
            self._send(200, b"{}", {"Content-Type": "application/json"})
            return
        m = self._PATH.match(self.path)
        if not m:
            self._send(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"not found"}]}')
            return
        repo, kind, ref = m["repo"], m["kind"], m["ref"]
        digest = self.server.tags.get(f"{repo}:{ref}", ref) if kind == "manifests" else ref
        body = self.server.blobs.get(digest)
        if body is None or (kind == "manifests" and digest not in self.server.manifests):
            code = "MANIFEST_UNKNOWN" if kind == "manifests" else "BLOB_UNKNOWN"
            self._send(404, f'{{"errors":[{{"code":"{code}","message":"unknown"}}]}}'.encode())
            return
        headers = {"Docker-Content-Digest": digest, "Content-Type": OCI_MANIFEST
                   if kind == "manifests" else "application/octet-stream"}
        rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if rng and kind == "blobs" and int(rng[1]) < len(body):
            start = int(rng[1])
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
            self._send(206, body[start:], headers)
            return
        self._send(200, body, headers)

    do_HEAD = do_GET


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    blobs: dict[str, bytes]
    manifests: set[str]
    tags: dict[str, str]


@dataclass
class ClassroomRegistry:
    """A running classroom registry (or, with ``live``, just the pull settings for the real
    Docker Hub). :meth:`pull` takes Docker Hub names (``python:3.12-slim``)."""

    live: bool
    url: str | None
    cache: str | None

    def pull(self, name: str, **options: Any) -> PullResult:
        """Pull ``name``: from the classroom registry as a Docker Hub mirror, or (live) from
        Docker Hub itself. The cache is this registry's own, so stand-ins never mix with
        real images."""
        if self.live:
            return pull_image(name, progress=False, **options)
        return pull_image(name, mirrors=[str(self.url)], cache=self.cache, progress=False,
                          **options)

    def __repr__(self) -> str:
        where = "Docker Hub (live)" if self.live else "stand-ins on 127.0.0.1"
        return f"<ClassroomRegistry: {where}>"


@contextmanager
def classroom_registry(*, live: bool = False,
                       images: Mapping[str, Image] | None = None) -> Iterator[ClassroomRegistry]:
    """Start the classroom registry (stopped on exit); ``live=True`` starts nothing."""
    if live:
        yield ClassroomRegistry(True, None, None)
        return
    server = _Server(("127.0.0.1", 0), _Handler)
    server.blobs, server.manifests, server.tags = {}, set(), {}
    for name, image in (images or standin_images()).items():
        repo, _, tag = name.rpartition(":")
        repo = repo if "/" in repo else f"library/{repo}"
        for layer in image.layers:
            server.blobs[layer.digest] = layer.blob()
        server.blobs[image.id] = image.config_bytes()
        manifest = manifest_bytes(image)
        digest = sha256_digest(manifest)
        server.blobs[digest] = manifest
        server.manifests.add(digest)
        server.tags[f"{repo}:{tag}"] = digest
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        with tempfile.TemporaryDirectory(prefix="layerlab-classroom-") as cache_dir:
            yield ClassroomRegistry(False, f"http://{host!s}:{port}", cache_dir)
    finally:
        server.shutdown()
        server.server_close()


_MOVED = {"compare": "compare_images", "compare_text": "compare_images_text"}


def __getattr__(name: str) -> Any:
    # compare() and compare_text() moved to layerlab.analysis (the registry does not import
    # the analysis above it); the old names work, with a warning, for one release
    if name in _MOVED:
        import warnings

        from .. import analysis

        warnings.warn(f"layerlab.registry.classroom.{name} moved to "
                      f"layerlab.analysis.{_MOVED[name]}; the old name goes in the next "
                      "release", DeprecationWarning, stacklevel=2)
        return getattr(analysis, _MOVED[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
