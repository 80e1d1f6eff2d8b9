"""Real images in and out: docker-archive, OCI layouts and oci-archive, and flatten.

>>> import layerlab as ll
>>> from layerlab import formats
>>> img = ll.Image.from_layers([ll.Layer.from_dict({"/hello.txt": "hi\\n"})])
>>> formats.save(img, "hello.tar", format="docker-archive", tag="hello:1")  # doctest: +SKIP
>>> formats.load("hello.tar").diff_ids == img.diff_ids  # doctest: +SKIP
True

:func:`load` tells the formats apart by what is inside (a ``manifest.json`` means
``docker save``, an ``index.json`` an OCI layout). skopeo's transports are accepted too:
``docker://REF`` (pulled from a registry, see :func:`layerlab.registry.pull`),
``oci:DIR[:REF]``, ``oci-archive:PATH[:REF]`` and ``docker-archive:PATH[:REF]``, where
``REF`` is the ``org.opencontainers.image.ref.name`` of an OCI layout, or for a
docker-archive a name matched against ``RepoTags`` as Docker normalizes both (``app`` is
``docker.io/library/app:latest``) or ``@N``, the N-th image in ``manifest.json``.
:func:`read` returns the image together with its tags, platform and legacy v1 layer
documents.
"""

from __future__ import annotations

import os
from typing import Literal

from ..errors import InvalidImageError
from ..image import Image
from ..limits import DEFAULT_LIMITS, Limits
from .descriptors import Platform, host_platform
from .dockerarchive import read_docker_archive, write_docker_archive
from .flatten import FlattenResult, flatten
from .loaded import LoadedImage
from .oci import read_oci, write_oci
from .sinks import DirSink, Sink, TarSink
from .sources import DirSource, open_source

__all__ = [
    "FORMATS",
    "FlattenResult",
    "LoadedImage",
    "Platform",
    "flatten",
    "host_platform",
    "load",
    "read",
    "save",
    "split_transport",
]

Format = Literal["oci", "oci-archive", "docker-archive"]

#: what :func:`save` can write
FORMATS: tuple[str, ...] = ("oci", "oci-archive", "docker-archive")

_PREFIXES = ("oci:", "oci-archive:", "docker-archive:")
DOCKER_TRANSPORT = "docker://"


def _split_prefix(path: str | os.PathLike[str]) -> tuple[str, str]:
    text = os.fspath(path)
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            return prefix[:-1], text[len(prefix):]
    return "", text


def split_transport(path: str | os.PathLike[str]) -> tuple[str, str, str | None]:
    """``(transport, path, ref)`` as skopeo splits ``oci:DIR:REF`` (at the first colon after
    the transport; a path that exists with its colons wins).

    >>> split_transport("oci:/tmp/layout:v1")
    ('oci', '/tmp/layout', 'v1')
    >>> split_transport("docker-archive:app.tar:app:1")
    ('docker-archive', 'app.tar', 'app:1')
    >>> split_transport("docker://alpine")
    ('docker', 'alpine', None)
    """
    text = os.fspath(path)
    if text.startswith(DOCKER_TRANSPORT):
        return "docker", text[len(DOCKER_TRANSPORT):], None
    prefix, rest = _split_prefix(text)
    if not prefix or os.path.exists(rest) or ":" not in rest:
        return prefix, rest, None
    real, _, ref = rest.partition(":")
    return prefix, real, ref or None


def read(
    path: str | os.PathLike[str],
    *,
    platform: str | None = None,
    tag: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    spool_dir: str | None = None,
    progress: bool | None = None,
) -> LoadedImage:
    """Read an image and what its file said about it (format, tags, legacy v1 layers).

    ``platform`` (``"linux/arm64"``) picks from a multi-platform index; the default is
    this machine's platform when there is a choice. ``tag`` picks among several images
    in one file. Every blob is verified; on any error nothing is returned and the
    temporary spool files are gone.
    """
    prefix, real, ref = split_transport(path)
    if prefix == "docker":
        from ..registry.pull import pull_image

        pulled = pull_image(real, platform=platform, limits=limits, spool_dir=spool_dir,
                            progress=progress)
        return LoadedImage(pulled.image, "docker", (str(pulled.reference),), pulled.platform)
    tag = tag if tag is not None else ref
    with open_source(real, limits=limits, spool_dir=spool_dir) as source:
        kind = prefix or ("docker-archive" if source.exists("manifest.json") else "")
        if kind == "docker-archive":
            return read_docker_archive(source, platform=platform, tag=tag, limits=limits,
                                       spool_dir=spool_dir, progress=progress)
        if kind in ("oci", "oci-archive") or source.exists("index.json"):
            fmt = "oci" if isinstance(source, DirSource) else "oci-archive"
            return read_oci(source, format=fmt, platform=platform, tag=tag, limits=limits,
                            spool_dir=spool_dir, progress=progress)
        raise InvalidImageError(
            f"{real}: not an image: no manifest.json (docker save) or index.json (OCI layout)"
        )


def load(
    path: str | os.PathLike[str],
    *,
    platform: str | None = None,
    tag: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    spool_dir: str | None = None,
    progress: bool | None = None,
) -> Image:
    """Load an image from a docker-archive, an OCI layout directory or an oci-archive.

    >>> img = load("python.tar", platform="linux/arm64")  # doctest: +SKIP

    What the file said beyond the image (its tags, and the legacy ``<id>/json``
    documents of a ``docker save`` with their ``parent`` pointers, as the file wrote
    them) comes with :func:`read`. :attr:`Image.legacy_layers` is something else: ids
    recomputed from the config by Docker's rule, which need not match what a file wrote
    (skopeo, for one, writes ids of its own).

    >>> for legacy in read("python.tar").legacy_layers:  # doctest: +SKIP
    ...     print(legacy.index, legacy.id[:12], (legacy.parent or "-")[:12])
    """
    return read(path, platform=platform, tag=tag, limits=limits, spool_dir=spool_dir,
                progress=progress).image


def save(
    image: Image,
    path: str | os.PathLike[str],
    format: str = "oci",
    *,
    tag: str | None = None,
    progress: bool | None = None,
) -> None:
    """Write ``image`` as an OCI layout directory (``"oci"``), an ``"oci-archive"`` tar or
    a ``"docker-archive"`` tar (what ``docker load`` reads). Output is deterministic:
    the same image saved twice gives identical bytes.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    sink: Sink = DirSink(path) if format == "oci" else TarSink(path)
    try:
        if format == "docker-archive":
            write_docker_archive(image, sink, tag=tag, progress=progress)
        else:
            write_oci(image, sink, tag=tag, progress=progress)
        sink.commit()
    except BaseException:
        sink.abort()
        raise
