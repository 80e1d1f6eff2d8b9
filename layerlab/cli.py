"""The ``layerlab`` command (also ``python -m layerlab``): look at real images from a shell.

::

    layerlab inspect python.tar            layers, config, file counts
    layerlab flatten python.tar rootfs/    the merged filesystem as a directory (or .tar)
    layerlab diff old.tar new.tar          what changed between two images
    layerlab efficiency app.tar --ci       dive's efficiency and wasted bytes; CI rules
    layerlab build -t app:1 -o type=docker,dest=app.tar .   build, step by step
    layerlab save app.tar app-oci --format oci     (``convert`` is the same command)
    layerlab pull alpine:3.20              from a registry (cached: a second pull downloads 0 B)
    layerlab push app.tar localhost:5000/class/app:1   to a registry

SRC is a ``docker save`` archive, an OCI layout directory or an oci-archive; skopeo's
transports are accepted: ``docker://REF``, ``oci:DIR[:REF]``, ``oci-archive:PATH[:REF]``,
``docker-archive:PATH[:REF]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from . import formats
from .analysis import EfficiencyReport, efficiency, efficiency_check, parse_bytes
from .digest import short
from .entry import Entry
from .errors import LayerlabError
from .image import Image
from .limits import Limits
from .union import View

if TYPE_CHECKING:
    from .build import BuildStep

__all__ = ["build_parser", "diff_views", "efficiency_json", "inspect_image", "main"]

EPILOG = """\
exit status:
  0  success (for efficiency --ci: every rule passed or was disabled)
  1  the image could not be read, verified, built or written (a LayerlabError or
     an OS error); one line on stderr names the problem. efficiency --ci: a rule
     failed (the report says which)
  2  usage error (unknown command or option, a threshold out of range)
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
    """Paths added, changed and deleted from ``old`` to ``new``, as Docker computes
    ``docker diff`` (:func:`layerlab.changes.between`): a directory with changes inside is
    changed, only the top of a removed tree is deleted.

    Each item has ``path``, ``kind``, ``size`` and ``why`` (``old_size`` too for a
    change); ``kind`` and ``size`` describe the removed version for a deletion.
    """
    from .changes import between

    def size(entry: Entry) -> int:
        return entry.size if entry.is_regular else 0

    out: dict[str, list[dict[str, Any]]] = {"added": [], "changed": [], "deleted": []}
    for change in between(old, new):
        side = old if change.kind == "D" else new
        node = side.lookup(change.path)
        assert node is not None
        entry = node.entry
        item: dict[str, Any] = {"path": change.path, "kind": str(entry.kind), "size": size(entry)}
        if change.kind == "C":
            before = old.lookup(change.path)
            assert before is not None
            item["old_size"] = size(before.entry)
        item["why"] = change.why
        key = {"A": "added", "C": "changed", "D": "deleted"}[change.kind]
        out[key].append(item)
    return out


# --- efficiency (dive's figures and CI rules) ------------------------------------------

#: dive's rule names and their defaults when ``--ci`` is given without a threshold
_RULES = (("lowestEfficiency", "lowest_efficiency", "0.9"),
          ("highestWastedBytes", "highest_wasted_bytes", "20MB"),
          ("highestUserWastedPercent", "highest_user_wasted_percent", "0.1"))


def _human(n: float) -> str:
    """Bytes as dive prints them (go-humanize: ``32 kB``, ``2.0 kB``, ``7 B``)."""
    from .analysis import go_humanize_bytes

    return go_humanize_bytes(int(n)) if n >= 0 else "-" + go_humanize_bytes(int(-n))


def _finite(x: float) -> float | None:
    return x if x == x and x not in (float("inf"), float("-inf")) else None


def _fraction(text: str) -> str:
    """argparse type: a fraction 0..1 or ``disabled`` (dive's .dive-ci values)."""
    if text.strip().lower() != "disabled":
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'disabled'") from None
        if not 0 <= value <= 1:
            raise argparse.ArgumentTypeError(f"{text!r} is outside the allowed range 0..1")
    return text


def _size(text: str) -> str:
    """argparse type: a size such as ``20MB`` or ``1GiB``, or ``disabled``."""
    if text.strip().lower() != "disabled":
        try:
            parse_bytes(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _rule_results(report: EfficiencyReport, args: argparse.Namespace) -> list[dict[str, str]]:
    """Each dive rule on its own: ``name``, ``status`` (PASS/FAIL/SKIP), ``message``."""
    results = []
    for name, attr, default in _RULES:
        value = getattr(args, attr) or default
        if value.strip().lower() == "disabled":
            results.append({"name": name, "status": "SKIP", "message": "rule disabled"})
            continue
        only = {a: (value if a == attr else None) for _, a, _ in _RULES}
        ok, reasons = efficiency_check(report, **only)
        message = reasons[0].split(": ", 1)[1] if reasons else ""
        results.append({"name": name, "status": "PASS" if ok else "FAIL", "message": message})
    return results


def efficiency_json(report: EfficiencyReport, rules: list[dict[str, str]] | None = None,
                    ) -> dict[str, Any]:
    """What ``layerlab efficiency --json`` prints (non-finite percentages become ``null``)."""
    doc: dict[str, Any] = {
        "efficiency": report.efficiency,
        "size_bytes": report.size_bytes,
        "user_size_bytes": report.user_size_bytes,
        "wasted_bytes": report.wasted_bytes,
        "user_wasted_percent": _finite(report.user_wasted_percent),
        "reclaimable_bytes": report.reclaimable_bytes,
        "reclaimable_user_percent": _finite(report.reclaimable_user_percent),
        "inefficiencies": [
            {"path": p.path, "count": p.count, "wasted_bytes": p.dive_wasted,
             "reclaimable_bytes": p.reclaimable, "why": p.why}
            for p in report.dive_inefficiencies
        ],
    }
    if rules is not None:
        doc["rules"] = rules
        doc["result"] = "FAIL" if any(r["status"] == "FAIL" for r in rules) else "PASS"
    return doc


def _print_efficiency(doc: dict[str, Any], out: TextIO) -> None:
    """dive's CI report, plus layerlab's reclaimable figure."""
    pct = doc["user_wasted_percent"]
    out.write(f"  efficiency: {doc['efficiency'] * 100:2.4f} %\n")
    out.write(f"  wastedBytes: {doc['wasted_bytes']} bytes ({_human(doc['wasted_bytes'])})\n")
    if pct is None:  # no user bytes: nothing to waste them on (dive would print "NaN %")
        pct = 0.0 if doc["wasted_bytes"] == 0 else float("inf")
    out.write(f"  userWastedPercent: {pct * 100:2.4f} %\n".replace("inf", "+Inf"))
    out.write(f"  reclaimableBytes: {doc['reclaimable_bytes']} bytes "
              f"({_human(doc['reclaimable_bytes'])}; all copies but the one kept, where "
              "wastedBytes counts every copy: dive issue #684)\n")
    rows = doc["inefficiencies"]
    if rows:
        out.write("Inefficient Files:\n")
        # dive's "%5s  %12s  %-s" columns, with layerlab's reclaimable bytes before the path
        out.write(f"{'Count':>5}  {'Wasted Space':>12}  {'Reclaimable':>12}  File Path\n")
        for row in rows:
            out.write(f"{row['count']:>5}  {_human(row['wasted_bytes']):>12}  "
                      f"{_human(row['reclaimable_bytes']):>12}  {row['path']}\n")
    rules = doc.get("rules")
    if rules is None:
        return
    out.write("Results:\n")
    for rule in rules:
        tail = f": {rule['message']}" if rule["message"] else ""
        out.write(f"  {rule['status']}: {rule['name']}{tail}\n")
    counts = {s: sum(r["status"] == s for r in rules) for s in ("PASS", "FAIL", "SKIP")}
    out.write(f"Result:{doc['result']} [Total:{len(rules)}] [Passed:{counts['PASS']}] "
              f"[Failed:{counts['FAIL']}] [Warn:0] [Skipped:{counts['SKIP']}]\n")


# --- build -----------------------------------------------------------------------------


def _print_step(step: BuildStep, out: TextIO) -> None:
    """One build step as ``docker build`` (classic builder) shows it."""
    out.write(f"Step {step.index}/{step.total} : {step.text}\n")
    if step.cache == "hit":
        out.write(f" ---> Using cache ({step.why})\n")
    elif step.cache == "miss":
        out.write(f" ---> Cache miss: {step.why}\n")
    else:
        out.write(f" ---> {step.why}\n")
    for line in step.output.splitlines():
        out.write(f"     | {line}\n")
    if step.layer is not None:
        out.write(f" ---> new layer {step.layer.short_id}  {step.layer.size} bytes  "
                  f"(+{len(step.paths('A'))} ~{len(step.paths('C'))} "
                  f"-{len(step.paths('D'))} paths)\n")
    elif step.empty_layer:
        out.write(" ---> empty layer (config and history only)\n")
    out.write(f" ---> image {short(step.image.id)}\n")


def _build(args: argparse.Namespace, out: TextIO) -> None:
    from .build.command import run_build  # the builder loads only for this command

    run_build(args, out, _print_step)


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
        p.add_argument("--max-layer-bytes", type=_byte_count, default=Limits().max_layer_bytes,
                       metavar="N", help="largest uncompressed layer, e.g. 512MiB (default: "
                                         "%(default)s); a decompression bomb stops here")
        p.add_argument("--max-expansion", type=int, default=Limits().max_expansion,
                       metavar="X", help="largest uncompressed/compressed ratio of a layer "
                                         "past 256 MiB (default: %(default)s)")
        p.add_argument("--max-entries", type=int, default=Limits().max_entries, metavar="N",
                       help="most entries in one layer (default: %(default)s)")
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
    p.add_argument("--create-devices", action="store_true",
                   help="make the image's device nodes (root only; off by default)")

    p = add("diff", "paths added, changed and deleted between the merged views of two images")
    p.add_argument("src", metavar="SRC1")
    p.add_argument("src2", metavar="SRC2")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add("efficiency", "dive's image efficiency, wasted bytes and inefficient files; "
                          "with --ci, dive's rules decide the exit status")
    p.add_argument("src", metavar="SRC")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--ci", action="store_true",
                   help="check dive's CI rules (defaults: lowest efficiency 0.9, highest "
                        "wasted bytes 20MB, highest user-wasted percent 0.1); exit 1 if one "
                        "fails. A threshold option implies --ci")
    p.add_argument("--lowest-efficiency", type=_fraction, metavar="X",
                   help="fail below this efficiency (0..1, or 'disabled')")
    p.add_argument("--highest-wasted-bytes", type=_size, metavar="X",
                   help="fail above this many wasted bytes (20MB, 1GiB..., or 'disabled')")
    p.add_argument("--highest-user-wasted-percent", type=_fraction, metavar="X",
                   help="fail above this fraction of wasted user bytes (0..1, or 'disabled')")

    p = sub.add_parser("build", help="build an image from a Dockerfile, step by step",
                       description="Build an image as `docker build` does: layerlab build "
                                   "[-f DOCKERFILE] [-t NAME[:TAG]]... [--target STAGE] "
                                   "[--build-arg K=V]... [--no-cache] [-o DEST] CONTEXT. "
                                   "Each step is printed: the instruction, cache hit or miss "
                                   "and why, the new layer. The older form DOCKERFILE "
                                   "[CONTEXT] still works.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", metavar="CONTEXT", nargs="+",
                   help="the build context directory (or, in the older form, DOCKERFILE "
                        "[CONTEXT])")
    p.add_argument("-f", "--file", dest="file", metavar="DOCKERFILE",
                   help="the Dockerfile (default: CONTEXT/Dockerfile; - reads stdin)")
    p.add_argument("-t", "--tag", dest="build_tag", metavar="NAME[:TAG]", action="append",
                   help="name for the image (repeatable; recorded by --output/--save)")
    p.add_argument("--target", metavar="STAGE", help="build this stage (and what it needs)")
    p.add_argument("--build-arg", dest="build_args", metavar="K=V", action="append",
                   default=[], help="set a build arg (K alone takes it from the environment)")
    p.add_argument("-o", "--output", metavar="DEST",
                   help="DEST (a directory: the final filesystem) or type=oci|docker|tar|"
                        "local,dest=PATH")
    p.add_argument("--builder", choices=("classic", "buildkit"), default=None,
                   help="which Docker builder to imitate (default: classic, or buildkit "
                        "when DOCKER_BUILDKIT=1)")
    p.add_argument("--save", metavar="PATH", help="write the image to PATH")
    p.add_argument("--format", choices=formats.FORMATS, default="docker-archive",
                   help="format for --save (default: %(default)s)")
    p.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show progress bars (default: when stderr is a terminal)")

    p = add("save", "write SRC in another format", aliases=["convert"])
    p.add_argument("src", metavar="SRC")
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--format", required=True, choices=formats.FORMATS)
    p.add_argument("--save-tag", dest="save_tag", metavar="NAME[:TAG]",
                   help="name to record in DEST (RepoTags, or the OCI ref.name)")

    def registry_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--insecure", action="store_true",
                       help="allow plain HTTP and unverified TLS (loopback is always allowed)")
        p.add_argument("--username", help="registry user (default: ~/.docker/config.json)")
        p.add_argument("--password-stdin", action="store_true",
                       help="read the password from standard input (never from the command "
                            "line, where other users can see it)")

    p = add("pull", "pull REF from a registry (docker.io by default) into the blob cache")
    p.add_argument("ref", metavar="REF")
    registry_options(p)
    p.add_argument("--cache", metavar="DIR", help="blob cache (default: $LAYERLAB_CACHE or "
                                                  "the user cache directory)")
    p.add_argument("--save", metavar="PATH", help="also write the image to PATH")
    p.add_argument("--format", choices=formats.FORMATS, default="docker-archive",
                   help="format for --save (default: %(default)s)")

    p = add("push", "push SRC to a registry as REF")
    p.add_argument("src", metavar="SRC")
    p.add_argument("ref", metavar="REF")
    registry_options(p)
    p.add_argument("--mount-from", action="append", default=[], metavar="REPO",
                   help="a repository of the same registry to mount blobs from")
    return parser


def quote_name(name: str) -> str:
    r"""``name`` as is when it is plain printable text, else quoted with escapes as Go's
    ``%q`` writes it (``ls -b`` style), so a name holding a newline or a terminal escape
    can neither forge an output line nor reach the terminal.

    >>> quote_name("/etc/motd")
    '/etc/motd'
    >>> print(quote_name("/x\nA /etc/passwd"))
    "/x\nA /etc/passwd"
    >>> print(quote_name("/\x1b[31mred"))
    "/\x1b[31mred"
    """
    if name.isprintable() and '"' not in name and "\\" not in name:
        return name
    out = ['"']
    for ch in name:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v"}


def _auth(args: argparse.Namespace) -> tuple[str, str] | None:
    if not args.username:
        return None
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else ""
    return (args.username, password)


def _pull(args: argparse.Namespace, out: TextIO) -> None:
    from .registry import pull_image

    result = pull_image(args.ref, platform=args.platform, auth=_auth(args),
                        insecure=args.insecure, cache=args.cache,
                        limits=Limits(max_json_bytes=args.max_json_bytes),
                        progress=args.progress)
    s = result.stats
    out.write(f"{result.reference}: pulled {result.manifest_digest} ({result.platform}"
              f"{', offline: from the cache' if result.offline else ''})\n")
    out.write(f"layers: {len(result.image.layers)}; blobs downloaded: {s.blobs_downloaded}, "
              f"cached: {s.blobs_cached}; bytes downloaded: {s.bytes_downloaded}\n")
    if args.save:
        formats.save(result.image, args.save, format=args.format,
                     tag=result.reference.familiar, progress=args.progress)
        out.write(f"saved to {args.save} ({args.format})\n")


def _push(args: argparse.Namespace, out: TextIO) -> None:
    from .registry import push

    image = _load(args, args.src).image
    result = push(image, args.ref, auth=_auth(args), insecure=args.insecure,
                  mount_from=args.mount_from)
    s = result.stats
    out.write(f"{result.reference}: pushed {result.manifest_digest}\n")
    out.write(f"blobs uploaded: {s.blobs_uploaded}, already there: {s.blobs_skipped}, "
              f"mounted: {s.blobs_mounted}; bytes uploaded: {s.bytes_uploaded}\n")


def _load(args: argparse.Namespace, src: str) -> formats.LoadedImage:
    limits = Limits(max_json_bytes=args.max_json_bytes, max_layer_bytes=args.max_layer_bytes,
                    max_expansion=args.max_expansion, max_entries=args.max_entries)
    return formats.read(src, platform=args.platform, tag=args.tag, limits=limits,
                        progress=args.progress)


def _byte_count(text: str) -> int:
    """argparse type: a byte count such as ``2147483648``, ``512MiB`` or ``2GB``."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return int(parse_bytes(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run(args: argparse.Namespace, out: TextIO) -> int:
    command = args.command
    if command == "efficiency":
        report = efficiency(_load(args, args.src).image)
        ci = args.ci or any(getattr(args, attr) is not None for _, attr, _ in _RULES)
        doc = efficiency_json(report, _rule_results(report, args) if ci else None)
        if args.json:
            json.dump(doc, out, indent=2)
            out.write("\n")
        else:
            _print_efficiency(doc, out)
        return 1 if doc.get("result") == "FAIL" else 0
    if command == "build":
        _build(args, out)
    elif command == "pull":
        _pull(args, out)
    elif command == "push":
        _push(args, out)
    elif command == "inspect":
        info = inspect_image(_load(args, args.src))
        if args.json:
            json.dump(info, out, indent=2)
            out.write("\n")
        else:
            _print_inspect(info, out)
    elif command == "flatten":
        image: Image = _load(args, args.src).image
        result = formats.flatten(image, args.dest, allow_setuid=args.allow_setuid,
                                 create_devices=args.create_devices or None,
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
                    out.write(f"{letter} {quote_name(item['path'])}  {sizes}\n")
    else:  # save / convert
        image = _load(args, args.src).image
        formats.save(image, args.dest, format=args.format, tag=args.save_tag,
                     progress=args.progress)
        out.write(f"saved {len(image.layers)} layers to {args.dest} ({args.format})\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error or a failed
    ``efficiency --ci`` rule, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    try:
        return _run(args, sys.stdout)
    except (LayerlabError, OSError, ValueError) as exc:
        message = " ".join(str(exc).split())
        sys.stderr.write(f"layerlab: error: {type(exc).__name__}: {message}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("layerlab: interrupted\n")
        return 130
    except Exception as exc:  # never a traceback: say what it was, in one line
        message = " ".join(str(exc).split())[:500]
        sys.stderr.write(f"layerlab: error: {type(exc).__name__}: {message} (unexpected; "
                         "please report it with the input that caused it)\n")
        return 1
