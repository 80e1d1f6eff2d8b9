"""``layerlab build``: docker's command line over :class:`~layerlab.build.Builder`.

``layerlab build [-f DOCKERFILE] [-t NAME[:TAG]]... [--target STAGE] [--build-arg K=V]...
[--no-cache] [-o DEST | type=oci|docker|tar|local,dest=PATH] CONTEXT``, as ``docker build``
and ``docker buildx build`` take it: the context comes last and is required, ``-f``
defaults to ``CONTEXT/Dockerfile`` (a relative ``-f`` is taken from the current
directory, as Docker does) and ``-f -`` reads the Dockerfile from stdin.

``-o`` follows buildx: a bare ``DEST`` or ``type=local,dest=DIR`` writes the final
filesystem into a directory, ``type=tar,dest=FILE`` that filesystem as one tar,
``type=docker`` a ``docker load`` archive and ``type=oci`` an OCI layout tarball
(``oci-archive``). The older form ``layerlab build DOCKERFILE [CONTEXT]`` still works:
one argument that is a file (not a directory), or two arguments, mean that form.

>>> parse_output("type=oci,dest=out.tar")
('oci', 'out.tar')
>>> parse_output("rootfs/")
('local', 'rootfs/')
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TextIO

from .. import formats
from ..digest import short
from .builder import Builder, BuildStep
from .errors import BuildError

__all__ = ["parse_build_args", "parse_output", "resolve_paths", "run_build"]

_OUTPUT_TYPES = {"local": None, "tar": None, "docker": "docker-archive",
                 "oci": "oci-archive"}


def parse_output(spec: str) -> tuple[str, str]:
    """``-o`` as buildx reads it: ``(type, dest)``; a bare value is ``local``."""
    if "=" not in spec:
        return "local", spec
    fields: dict[str, str] = {}
    for part in spec.split(","):
        key, eq, value = part.partition("=")
        if not eq:
            raise BuildError(f"--output {spec!r}: {part!r} is not key=value")
        fields[key.strip()] = value.strip()
    kind = fields.get("type", "local")
    if kind not in _OUTPUT_TYPES:
        raise BuildError(f"--output type={kind}: use one of {', '.join(_OUTPUT_TYPES)}")
    dest = fields.get("dest", "")
    if not dest:
        raise BuildError(f"--output {spec!r}: needs dest=PATH")
    return kind, dest


def parse_build_args(items: list[str]) -> dict[str, str]:
    """``--build-arg K=V`` (``K`` alone takes the value from the environment, or is
    left out when unset, as Docker does)."""
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise BuildError(f"--build-arg {item!r}: needs a name (K=V)")
        if eq:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def resolve_paths(paths: list[str], file: str | None) -> tuple[str | None, str]:
    """``(dockerfile path or None for stdin/default, context)`` from the positional
    arguments and ``-f``; tells docker's form from the older ``DOCKERFILE [CONTEXT]``."""
    if len(paths) > 2:
        raise BuildError("build takes one CONTEXT (docker's form) or DOCKERFILE [CONTEXT]")
    if file is not None:
        if len(paths) != 1:
            raise BuildError("with -f, give exactly one CONTEXT")
        return (None if file == "-" else file), paths[0]
    if len(paths) == 2:  # the older form
        return paths[0], paths[1]
    only = paths[0]
    if os.path.isdir(only):
        return os.path.join(only, "Dockerfile"), only
    if os.path.isfile(only):  # the older form: DOCKERFILE, context its directory
        return only, os.path.dirname(os.path.abspath(only))
    raise BuildError(f"unable to prepare context: path {only!r} not found")


def run_build(args: argparse.Namespace, out: TextIO,
              print_step: Callable[[BuildStep, TextIO], None]) -> None:
    """Run ``layerlab build`` with parsed ``args``; steps are printed by ``print_step``."""
    dockerfile, context = resolve_paths(args.paths, args.file)
    if dockerfile is None:
        text: str | None = sys.stdin.read()
    else:
        if not os.path.isfile(dockerfile):
            raise BuildError(f"failed to read Dockerfile: {dockerfile!r} does not exist")
        text = None
    builder_kind = args.builder or ("buildkit" if os.environ.get("DOCKER_BUILDKIT") == "1"
                                    else "classic")
    output = parse_output(args.output) if args.output else None
    builder = Builder(text if text is not None else dockerfile, context,
                      no_cache=args.no_cache, target=args.target,
                      build_args=parse_build_args(args.build_args), builder=builder_kind)
    for plan in builder.stage_plan:
        if not plan.built:
            out.write(f"[{plan.label}] skipped: {plan.why}\n")
    image = builder.run(lambda step: print_step(step, out))
    for warning in builder.warnings:
        out.write(f"[Warning] {warning}\n")
    out.write(f"Successfully built {short(image.id)}\n")
    tags = list(args.build_tag or [])
    for tag in tags:
        out.write(f"Successfully tagged {tag}\n")
    tag = tags[0] if tags else None
    if output is not None:
        kind, dest = output
        if kind in ("local", "tar"):
            result = formats.flatten(image, dest, progress=args.progress)
            out.write(f"exported the final filesystem ({result.entries} entries) to {dest}\n")
        else:
            fmt = _OUTPUT_TYPES[kind]
            assert fmt is not None
            formats.save(image, dest, format=fmt, tag=tag, progress=args.progress)
            out.write(f"exported {len(image.layers)} layers to {dest} ({fmt})\n")
    if args.save:
        formats.save(image, args.save, format=args.format, tag=tag, progress=args.progress)
        out.write(f"saved {len(image.layers)} layers to {args.save} ({args.format})\n")
