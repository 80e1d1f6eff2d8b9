"""The ``layerlab`` command (also ``python -m layerlab``): look at real images from a shell.

::

    layerlab inspect python.tar            layers, config, file counts
    layerlab flatten python.tar rootfs/    the merged filesystem as a directory (or .tar)
    layerlab diff old.tar new.tar          what changed between two images
    layerlab save app.tar app-oci --format oci     (``convert`` is the same command)

SRC is a ``docker save`` archive, an OCI layout directory or an oci-archive; a
skopeo-style prefix (``oci:``, ``oci-archive:``, ``docker-archive:``) is accepted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from . import formats
from .digest import short
from .entry import Entry, EntryKind
from .errors import LayerlabError
from .image import Image
from .limits import Limits
from .union import View

__all__ = ["build_parser", "diff_views", "inspect_image", "main"]

EPILOG = """\
exit status:
  0  success
  1  the image could not be read, verified or written (a LayerlabError or an
     OS error); one line on stderr names the problem
  2  usage error (unknown command or option)
"""


def inspect_image(loaded: formats.LoadedImage) -> dict[str, Any]:
    """What ``layerlab inspect --json`` prints: layers, config, history and file counts."""
    image = loaded.image
    layers = []
    for (hist, layer), chain in zip(
        [(h, lyr) for h, lyr in image.layer_history() if lyr is not None], image.chain_ids,
        strict=True,
    ):
        assert layer is not None
        counts: dict[str, int] = {}
        for entry in layer.entries:
            counts[str(entry.kind)] = counts.get(str(entry.kind), 0) + 1
        layers.append({
            "digest": layer.digest,
            "diff_id": layer.diff_id,
            "chain_id": chain,
            "media_type": layer.media_type,
            "size": layer.size,
            "compressed_size": layer.compressed_size,
            "created_by": hist.created_by,
            "entries": counts,
        })
    view_counts: dict[str, int] = {}
    for entry in image.view().walk():
        view_counts[str(entry.kind)] = view_counts.get(str(entry.kind), 0) + 1
    return {
        "id": image.id,
        "format": loaded.format,
        "repo_tags": list(loaded.repo_tags),
        "platform": loaded.platform,
        "architecture": image.architecture,
        "os": image.os,
        "created": image.created,
        "config": image.config.to_json(),
        "layers": layers,
        "history": [h.to_json() for h in image.history],
        "files": view_counts,
        "legacy_layers": [{"id": lg.id, "parent": lg.parent} for lg in loaded.legacy_layers],
    }


def _print_inspect(info: dict[str, Any], out: TextIO) -> None:
    tags = ", ".join(info["repo_tags"]) or "<none>"
    out.write(f"image {short(info['id'])}  {info['format']}  {info['os']}/{info['architecture']}"
              f"  tags: {tags}\n")
    out.write(f"{'#':>3}  {'digest':12}  {'diff_id':12}  {'chain_id':12}  {'size':>10}  "
              "created_by\n")
    for i, layer in enumerate(info["layers"]):
        out.write(f"{i:>3}  {short(layer['digest'])}  {short(layer['diff_id'])}  "
                  f"{short(layer['chain_id'])}  {layer['size']:>10}  "
                  f"{layer['created_by'][:60]}\n")
    out.write("config:\n")
    for key, value in info["config"].items():
        out.write(f"  {key}: {json.dumps(value)}\n")
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(info["files"].items()))
    out.write(f"files in the merged view: {counts or 'none'}\n")


def diff_views(old: View, new: View) -> dict[str, list[dict[str, Any]]]:
    """Paths added, changed and deleted from ``old`` to ``new`` (mtime-only changes ignored).

    Each item has ``path``, ``kind`` and ``size`` (``old_size`` too for a change).
    """
    before = {e.path: e for e in old.walk()}
    after = {e.path: e for e in new.walk()}

    def size(entry: Entry) -> int:
        return entry.size if entry.is_regular else 0

    added = [{"path": p, "kind": str(e.kind), "size": size(e)}
             for p, e in after.items() if p not in before]
    deleted = [{"path": p, "kind": str(e.kind), "size": size(e)}
               for p, e in before.items() if p not in after]
    changed = [
        {"path": p, "kind": str(e.kind), "size": size(e), "old_size": size(before[p])}
        for p, e in after.items()
        if p in before and not _same(before[p], e)
    ]
    return {"added": added, "changed": changed, "deleted": deleted}


def _same(a: Entry, b: Entry) -> bool:
    """True if ``a`` and ``b`` look the same in a tree (a hardlink counts as its file)."""

    def key(e: Entry) -> tuple[Any, ...]:
        kind = EntryKind.FILE if e.kind is EntryKind.HARDLINK else e.kind
        link = e.linkname if e.kind is EntryKind.SYMLINK else ""
        return (kind, e.mode, e.uid, e.gid, e.size, e.digest, link, e.devmajor, e.devminor,
                e.xattrs)

    return key(a) == key(b)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed so the help text can be tested)."""
    parser = argparse.ArgumentParser(
        prog="layerlab",
        description="Look inside container images: inspect, flatten, diff and convert "
                    "docker-archive, OCI layout and oci-archive images.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"layerlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, aliases: Sequence[str] = ()) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, aliases=list(aliases),
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--platform", help="os/arch[/variant] to pick from a multi-platform "
                                          "image (default: this machine's)")
        p.add_argument("--tag", help="which image, when the file holds several")
        p.add_argument("--max-json-bytes", type=int, default=Limits().max_json_bytes,
                       help="largest JSON document accepted (default: %(default)s)")
        p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show progress bars (default: when stderr is a terminal)")
        return p

    p = add("inspect", "show layers (digest, diff_id, chain_id, size, created_by), config "
                       "and file counts")
    p.add_argument("src", metavar="SRC")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add("flatten", "write the merged filesystem to DEST (a directory, or a .tar file)")
    p.add_argument("src", metavar="SRC")
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--allow-setuid", action="store_true",
                   help="keep setuid/setgid bits and file capabilities")

    p = add("diff", "paths added, changed and deleted between the merged views of two images")
    p.add_argument("src", metavar="SRC1")
    p.add_argument("src2", metavar="SRC2")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add("save", "write SRC in another format", aliases=["convert"])
    p.add_argument("src", metavar="SRC")
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--format", required=True, choices=formats.FORMATS)
    p.add_argument("--save-tag", dest="save_tag", metavar="NAME[:TAG]",
                   help="name to record in DEST (RepoTags, or the OCI ref.name)")
    return parser


def _load(args: argparse.Namespace, src: str) -> formats.LoadedImage:
    return formats.read(src, platform=args.platform, tag=args.tag,
                        limits=Limits(max_json_bytes=args.max_json_bytes), progress=args.progress)


def _run(args: argparse.Namespace, out: TextIO) -> None:
    command = args.command
    if command == "inspect":
        info = inspect_image(_load(args, args.src))
        if args.json:
            json.dump(info, out, indent=2)
            out.write("\n")
        else:
            _print_inspect(info, out)
    elif command == "flatten":
        image: Image = _load(args, args.src).image
        result = formats.flatten(image, args.dest, allow_setuid=args.allow_setuid,
                                 progress=args.progress)
        out.write(f"wrote {result.entries} entries to {result.dest}\n")
        for label, items in (("device nodes not created", result.skipped_devices),
                             ("setuid/setgid/capabilities dropped", result.dropped_privileges),
                             ("hardlinks written as copies", result.copied_hardlinks)):
            if items:
                out.write(f"{label}: {', '.join(items)}\n")
    elif command == "diff":
        changes = diff_views(_load(args, args.src).image.view(),
                             _load(args, args.src2).image.view())
        if args.json:
            json.dump(changes, out, indent=2)
            out.write("\n")
        else:
            for letter, key in (("A", "added"), ("C", "changed"), ("D", "deleted")):
                for item in changes[key]:
                    sizes = (f"{item['old_size']} -> {item['size']}" if key == "changed"
                             else str(item["size"]))
                    out.write(f"{letter} {item['path']}  {sizes}\n")
    else:  # save / convert
        image = _load(args, args.src).image
        formats.save(image, args.dest, format=args.format, tag=args.save_tag,
                     progress=args.progress)
        out.write(f"saved {len(image.layers)} layers to {args.dest} ({args.format})\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    try:
        _run(args, sys.stdout)
    except (LayerlabError, OSError, ValueError) as exc:
        message = " ".join(str(exc).split())
        sys.stderr.write(f"layerlab: error: {type(exc).__name__}: {message}\n")
        return 1
    return 0
