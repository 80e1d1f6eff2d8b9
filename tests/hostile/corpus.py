"""The hostile corpus: every class of docs/hostile-input.md, made as bytes at test time.

Nothing binary is checked in. Tar headers are written by hand here (:func:`header`,
:func:`member`), not by :mod:`tarfile`, so a case can hold what a careful writer would
refuse: NUL bytes in names, names that climb out, a ``.`` that is a symlink, bad checksums.

A :class:`Case` is either *layer-level* (``layers``: one or more layer streams, base first,
which the tests also wrap into a docker-archive and an OCI layout with an honest config) or
*image-level* (``image``: a function that writes a broken image file or directory). Its
``outcomes`` say, per entry point, what must happen: :class:`Reject` (the error class and a
regex the message must match, naming the entry and the rule) or :class:`Accept` (legal
content, handled without touching anything outside the destination).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

from layerlab.errors import (
    BrokenHardlinkError,
    DigestMismatchError,
    InvalidImageError,
    InvalidLayerError,
    IsADirectoryError_,
    LayerlabError,
    LimitExceededError,
    MalformedWhiteoutError,
    PathNotFoundError,
    TruncatedError,
    UnsafePathError,
    UnsupportedEntryError,
)
from layerlab.limits import Limits

__all__ = ["CASES", "ENTRY_POINTS", "Accept", "Case", "Reject", "docker_archive", "header",
           "member", "oci_layout", "sha", "tar"]

#: every entry point that reads untrusted image input
ENTRY_POINTS = ("from_tar", "load:docker-archive", "load:oci", "flatten", "store", "build:ADD")
#: the entry points an image-level case (a broken manifest, config, index...) goes through
IMAGE_ENTRY_POINTS = ("load", "flatten", "store")

BLOCK = 512
END = b"\0" * (2 * BLOCK)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- tar bytes by hand ---------------------------------------------------------------------

def _octal(value: int, width: int) -> bytes:
    return (b"%0*o" % (width - 1, value))[: width - 1] + b"\0"


def header(name: bytes, *, typeflag: bytes = b"0", size: int = 0, mode: int = 0o644,
           linkname: bytes = b"", uid: int = 0, gid: int = 0, mtime: int = 0,
           devmajor: int = 0, devminor: int = 0, magic: bytes = b"ustar\x0000",
           checksum_delta: int = 0) -> bytes:
    """One 512-byte ustar header; fields that do not fit are cut (as a raw header would be)."""
    h = bytearray(BLOCK)
    h[0:100] = name[:100].ljust(100, b"\0")
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(uid, 8)
    h[116:124] = _octal(gid, 8)
    h[124:136] = _octal(size, 12)
    h[136:148] = _octal(mtime, 12)
    h[148:156] = b" " * 8
    h[156:157] = typeflag[:1] or b"\0"
    h[157:257] = linkname[:100].ljust(100, b"\0")
    h[257:265] = magic[:8].ljust(8, b"\0")
    h[329:337] = _octal(devmajor, 8)
    h[337:345] = _octal(devminor, 8)
    checksum = (sum(h) + checksum_delta) % 0o1000000
    h[148:156] = b"%06o\0 " % checksum
    return bytes(h)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % BLOCK)


def pax(records: Mapping[str, bytes]) -> bytes:
    """A PAX extended header (type ``x``) carrying ``records`` for the next member."""
    body = b""
    for key, value in records.items():
        line = b" " + key.encode() + b"=" + value + b"\n"
        n = len(line) + 1
        while len(str(n).encode() + line) != n:
            n += 1
        body += str(n).encode() + line
    return header(b"PaxHeader", typeflag=b"x", size=len(body)) + _pad(body)


_TYPEFLAGS = {"file": b"0", "hardlink": b"1", "symlink": b"2", "char": b"3", "block": b"4",
              "dir": b"5", "fifo": b"6"}


def member(name: str | bytes, kind: str = "file", data: bytes = b"", *, link: str | bytes = b"",
           mode: int | None = None, uid: int = 0, gid: int = 0, mtime: int = 0,
           dev: tuple[int, int] = (0, 0), xattrs: Mapping[str, bytes] | None = None) -> bytes:
    """One tar member; the name and link go into a PAX header when ustar cannot hold them."""
    raw_name = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    raw_link = link.encode("utf-8", "surrogateescape") if isinstance(link, str) else link
    records: dict[str, bytes] = {}
    if len(raw_name) > 100 or b"\0" in raw_name or not raw_name.isascii():
        records["path"] = raw_name
    if len(raw_link) > 100 or b"\0" in raw_link:
        records["linkpath"] = raw_link
    for key, value in (xattrs or {}).items():
        records["SCHILY.xattr." + key] = value
    if mode is None:
        mode = 0o755 if kind == "dir" else 0o644
    out = pax(records) if records else b""
    size = len(data) if kind == "file" else 0
    out += header(raw_name.replace(b"\0", b"_"), typeflag=_TYPEFLAGS[kind], size=size,
                  mode=mode, linkname=raw_link.replace(b"\0", b"_"), uid=uid, gid=gid,
                  mtime=mtime, devmajor=dev[0], devminor=dev[1])
    return out + (_pad(data) if size else b"")


def tar(*members: bytes, end: bytes = END) -> bytes:
    """A tar stream: the members, then the end-of-archive marker (two zero blocks)."""
    return b"".join(members) + end


def uncompressed(layer: bytes) -> bytes:
    """The tar inside ``layer`` if it decompresses, else ``layer`` itself."""
    try:
        if layer[:2] == b"\x1f\x8b":
            return gzip.decompress(layer)
        if layer[:4] == b"\x28\xb5\x2f\xfd":
            return zstandard.ZstdDecompressor().decompressobj().decompress(layer)
    except Exception:  # a broken stream: the config names its raw bytes
        return layer
    return layer


# --- images around layers ------------------------------------------------------------------

def _write_tar_file(path: Path, files: list[tuple[str, Any]]) -> Path:
    """A tar file of ``(name, bytes | ("symlink", target) | ("dir", None))``."""
    parts = []
    for name, value in files:
        if isinstance(value, tuple):
            kind, target = value
            parts.append(member(name, kind, link=target or b""))
        else:
            parts.append(member(name, "file", value))
    path.write_bytes(tar(*parts))
    return path


def config_doc(layers: list[bytes], diff_ids: list[str] | None = None) -> dict[str, Any]:
    return {"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers",
                       "diff_ids": diff_ids or [sha(uncompressed(t)) for t in layers]},
            "history": [{"created_by": f"hostile layer {i}"} for i in range(len(layers))],
            "config": {}}


def docker_archive(path: Path, layers: list[bytes], *, diff_ids: list[str] | None = None,
                   config: bytes | None = None, manifest: bytes | None = None,
                   parents: Mapping[int, str | None] | None = None,
                   extra: list[tuple[str, Any]] | None = None,
                   layer_names: list[str] | None = None) -> Path:
    """A legacy ``docker save`` archive of ``layers`` (honest unless told otherwise)."""
    ids = [f"{i + 1:064x}" for i in range(len(layers))]
    config = config if config is not None else json.dumps(config_doc(layers, diff_ids)).encode()
    files: list[tuple[str, Any]] = []
    for i, raw in enumerate(layers):
        parent = ids[i - 1] if i else None
        if parents is not None and i in parents:
            parent = parents[i]
        doc = {"id": ids[i], **({"parent": parent} if parent else {})}
        files += [(f"{ids[i]}/json", json.dumps(doc).encode()), (f"{ids[i]}/layer.tar", raw)]
    config_name = sha(config)[7:] + ".json"
    files.append((config_name, config))
    names = layer_names if layer_names is not None else [f"{i}/layer.tar" for i in ids]
    files.append(("manifest.json", manifest if manifest is not None else json.dumps(
        [{"Config": config_name, "RepoTags": ["hostile:1"], "Layers": names}]).encode()))
    return _write_tar_file(path, files + (extra or []))


def _media_type(blob: bytes) -> str:
    if blob[:2] == b"\x1f\x8b":
        return "application/vnd.oci.image.layer.v1.tar+gzip"
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        return "application/vnd.oci.image.layer.v1.tar+zstd"
    return "application/vnd.oci.image.layer.v1.tar"


def oci_layout(root: Path, layers: list[bytes], *, diff_ids: list[str] | None = None,
               config: bytes | None = None,
               edit_manifest: Callable[[dict[str, Any]], object] | None = None,
               edit_index: Callable[[dict[str, Any]], object] | None = None,
               index: bytes | None = None, skip_blobs: tuple[int, ...] = ()) -> Path:
    """An OCI layout directory of ``layers`` (honest unless told otherwise).

    ``skip_blobs`` leaves layer blobs out (a manifest naming a missing blob).
    """
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes, media_type: str, *, store: bool = True) -> dict[str, Any]:
        if store:
            (blobs / sha(data)[7:]).write_bytes(data)
        return {"mediaType": media_type, "digest": sha(data), "size": len(data)}

    config = config if config is not None else json.dumps(config_doc(layers, diff_ids)).encode()
    manifest: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": put(config, "application/vnd.oci.image.config.v1+json"),
        "layers": [put(t, _media_type(t), store=i not in skip_blobs)
                   for i, t in enumerate(layers)],
    }
    if edit_manifest is not None:
        edit_manifest(manifest)
    desc = put(json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    index_doc: dict[str, Any] = {"schemaVersion": 2,
                                 "mediaType": "application/vnd.oci.image.index.v1+json",
                                 "manifests": [desc]}
    if edit_index is not None:
        edit_index(index_doc)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    if index is None:
        index = json.dumps(index_doc).encode()
    (root / "index.json").write_bytes(index)
    return root


# --- cases ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reject:
    """The entry point must raise ``error`` with a message matching ``pattern``."""

    error: type[LayerlabError]
    pattern: str


@dataclass(frozen=True)
class Accept:
    """Legal content: the entry point succeeds (and stays inside its destination)."""

    why: str = ""


Outcome = Reject | Accept


@dataclass(frozen=True)
class Case:
    name: str
    #: the class number in hostile-input.md
    klass: int
    #: "*" is the default; keys are ENTRY_POINTS (layer-level) or IMAGE_ENTRY_POINTS
    outcomes: Mapping[str, Outcome]
    layers: tuple[bytes, ...] = ()
    #: image-level: writes the image under the given directory and returns what to load
    image: Callable[[Path], Path] | None = None
    #: config diff_ids for the wrapped images (default: honest)
    diff_ids: tuple[str, ...] | None = None
    limits: Limits = field(default_factory=Limits)

    def outcome(self, entry: str) -> Outcome:
        if entry in self.outcomes:
            return self.outcomes[entry]
        key = entry.partition(":")[0]
        return self.outcomes.get(key, self.outcomes["*"])

    @property
    def entry_points(self) -> tuple[str, ...]:
        return IMAGE_ENTRY_POINTS if self.image is not None else ENTRY_POINTS


def _q(text: str) -> str:
    """A regex matching ``text`` quoted as Python's repr quotes it."""
    return "'" + "".join("\\" + c if c in ".^$*+?()[]{}|\\" else c for c in text) + "'"


def _layer_cases() -> list[Case]:
    cases: list[Case] = []

    def add(name: str, klass: int, layers: list[bytes], outcomes: Mapping[str, Outcome],
            **kw: Any) -> None:
        cases.append(Case(name, klass, outcomes, layers=tuple(layers), **kw))

    ok = {"*": Accept()}

    # 1. path traversal in names: refused, never clamped
    for label, name in [("dotdot", "../x"), ("slash-dotdot", "/../x"),
                        ("deep-dotdot", "a/../../x"), ("bare-dotdot", ".."),
                        ("dot-dotdot", "./../x"), ("dotdot-dir", "../x/")]:
        kind = "dir" if name.endswith((".", "/")) else "file"
        shown = name.rstrip("/") or name  # tar drops a directory's trailing slash
        add(f"1-traversal-{label}", 1, [tar(member(name, kind, b"evil" * (kind == "file")))],
            {"*": Reject(UnsafePathError, _q(shown) + r".*path escapes the root")})
    add("1-traversal-symlink-named-dotdot", 1, [tar(member("a/../../up", "symlink", link="/"))],
        {"*": Reject(UnsafePathError, r"'a/\.\./\.\./up'.*path escapes the root")})

    # 2. writing through a symlink: resolved inside the root (accepted, stays inside)
    # ADD resolves 'link/file' through the link inside the image, to '/victim/file', whose
    # parent does not exist there: an error, as Docker's own unpacker gives (ENOENT)
    def via(entry: str, link: str) -> dict[str, Outcome]:
        return {"*": Accept(), "build": Reject(
            PathNotFoundError, f"entry '{entry}': '{link}': no such file or directory")}

    add("2-symlink-then-write-one-hop", 2,
        [tar(member("link", "symlink", link="../victim")), tar(member("link/file", data=b"e"))],
        via("/link/file", "/link"))
    add("2-symlink-then-write-same-layer", 2,
        [tar(member("link", "symlink", link="../victim"), member("link/file", data=b"e"))],
        via("/link/file", "/link"))
    add("2-two-hop-chain", 2,
        [tar(member("in", "dir"), member("in/up", "symlink", link="..")),
         tar(member("in/up/esc", "symlink", link="../victim")),
         tar(member("in/up/esc/new", data=b"e"))], via("/in/up/esc/new", "/in/up/esc"))
    add("2-link-to-root", 2,
        [tar(member("foo", "symlink", link="/")), tar(member("foo/tmp/x", data=b"e"))], ok)
    add("2-absolute-escape", 2,
        [tar(member("abs", "symlink", link="/../victim")), tar(member("abs/f", data=b"e"))],
        via("/abs/f", "/abs"))
    add("2-dir-over-symlink", 2,
        [tar(member("d", "symlink", link="../victim")), tar(member("d", "dir", mode=0o777))], ok)

    # 3. the root changing type
    for label, name, kind in [("dot-symlink", ".", "symlink"), ("dot-slash-symlink", "./",
                                                                  "symlink"),
                              ("slash-symlink", "/", "symlink"), ("dot-file", ".", "file"),
                              ("dot-fifo", ".", "fifo")]:
        add(f"3-root-{label}", 3,
            [tar(member(name, kind, link="/" if kind == "symlink" else b""),
                 member("etc/x", data=b"e"))],
            {"*": Reject(UnsafePathError, r"entry '\.' is a .*root must be a directory")})
    add("3-root-hardlink", 3, [tar(member("f", data=b"x"), member(".", "hardlink", link="f"))],
        {"*": Reject(UnsafePathError, r"entry '\.' is a hardlink.*root must be a directory")})

    # 4. hardlink escapes
    for label, target in [("up", "../victim/f"), ("slash-up", "/../victim/f"),
                          ("sibling-prefix", "../dest-evil/f"), ("deep-up", "a/../../victim/f")]:
        add(f"4-hardlink-{label}", 4, [tar(member("h", "hardlink", link=target))],
            {"*": Reject(UnsafePathError, r"hardlink 'h' ->.*" + _q(target)
                         + r".*path escapes the root")})
    to_dir = Reject(BrokenHardlinkError, r"'/h' -> '/d'.*the target is a directory")
    add("4-hardlink-to-directory", 4, [tar(member("d", "dir"), member("h", "hardlink", link="d"))],
        {"*": Accept("a layer may list it"), "flatten": to_dir, "store": Reject(
            UnsupportedEntryError, r"'/h'.*hardlink to '/d', which is not a regular file"),
         "build": Reject(IsADirectoryError_, r"entry '/h': '/d': hard links to directories "
                         "are not allowed")})
    add("4-hardlink-absolute-is-root-relative", 4,
        [tar(member("usr/bin/perl", data=b"#!perl"),
             member("usr/bin/perl5", "hardlink", link="/usr/bin/perl"))], ok)
    add("4-hardlink-whose-target-sorts-after-it", 4,
        [tar(member("z/target", data=b"t"), member("a/link", "hardlink", link="z/target"))], ok)
    add("4-hardlink-to-missing-target", 4, [tar(member("h", "hardlink", link="nowhere"))],
        {"*": Accept("a layer may link into the layers below"),
         "flatten": Reject(BrokenHardlinkError, r"'/h' -> '/nowhere'.*(missing|does not exist)"),
         "store": Reject(UnsupportedEntryError, r"'/h'.*'/nowhere'.*not a regular file"),
         "build": Reject(PathNotFoundError, r"entry '/h': '/nowhere': no such file")})

    # 5. metadata that follows links
    across = Reject(UnsupportedEntryError,
                    r"entry '/h': hardlink to '/s', which is not a regular file of this layer")
    add("5-symlink-to-host-file-with-owner-and-times", 5,
        [tar(member("s", "symlink", link="../victim/f", uid=1234, gid=1234, mtime=5)),
         tar(member("h", "hardlink", link="s", mode=0o777, mtime=9))],
        {"*": Accept(), "store": across})
    add("5-hardlink-to-symlink-to-host-file", 5,
        [tar(member("s", "symlink", link="../victim/f"),
             member("h", "hardlink", link="s", mode=0o777, mtime=9))],
        {"*": Accept(), "store": across})
    add("5-file-replaces-symlink-to-host", 5,
        [tar(member("s", "symlink", link="../victim/f")),
         tar(member("s", data=b"new", mode=0o4777, uid=7, mtime=3))], ok)
    add("5-chmod-dir-through-link", 5,
        [tar(member("v", "symlink", link="../victim")),
         tar(member("v", "dir", mode=0o777, uid=99, mtime=1))], ok)

    # 6. malformed whiteouts
    for name in [".wh.", ".wh..", ".wh...", "d/.wh..", "d/.wh."]:
        add(f"6-whiteout-{name.replace('/', '-')}", 6, [tar(member(name, data=b""))],
            {"*": Reject(MalformedWhiteoutError,
                         "'/?" + _q(name)[1:] + r": whiteout names nothing")})

    # 7. devices, FIFOs, setuid: metadata in the model, never real nodes without root
    add("7-devices-fifo-setuid-caps", 7,
        [tar(member("dev/null", "char", dev=(1, 3), mode=0o666),
             member("dev/sda", "block", dev=(8, 0), mode=0o660),
             member("run/pipe", "fifo", mode=0o600),
             member("bin/su", data=b"su", mode=0o4755),
             member("bin/wall", data=b"wall", mode=0o2755),
             member("bin/ping", data=b"ping", mode=0o755,
                    xattrs={"security.capability": b"\x01\x00\x00\x02" + b"\0" * 16}),
             member("x/overlay", data=b"o",
                    xattrs={"trusted.overlay.opaque": b"y"}))],
        {"*": Accept(), "store": Reject(UnsupportedEntryError,
                                        r"'/x/overlay'.*'trusted\.overlay\.opaque'.*overlayfs")})

    # 8. digest and size mismatches: bytes after the end marker
    clean = tar(member("etc/motd", data=b"hi\n"))
    add("8-bytes-after-end-marker", 8, [clean + b"TRAILING" + b"\0" * 504],
        {"*": Reject(DigestMismatchError, r"diff_id.*" + sha(clean)[:20]),
         "from_tar": Accept("nothing to compare with: the diff_id covers the extra bytes"),
         "build": Accept("Docker unpacks it too")},
        diff_ids=(sha(clean),))

    # 9. truncated and corrupt streams
    body = tar(member("etc/motd", data=b"hello\n" * 300), member("etc/x", data=b"x"))
    trunc = Reject(TruncatedError, r"truncated")
    add("9-truncated-in-header", 9, [body[:BLOCK + 100]], {"*": trunc})
    add("9-truncated-in-content", 9, [body[:BLOCK * 3]], {"*": trunc})
    add("9-no-end-marker", 9, [body[:-2 * BLOCK]], {"*": trunc})
    add("9-bad-header-checksum", 9,
        [header(b"etc/motd", checksum_delta=7) + END],
        {"*": Reject(InvalidLayerError, r"(bad tar header|not a tar archive|truncated|checksum)"),
         "build": Reject(InvalidLayerError, r"(bad tar header|not a tar archive|checksum)")})
    gz = gzip.compress(body, mtime=0)
    zs = zstandard.ZstdCompressor(write_checksum=True).compress(body)
    add("9-gzip-truncated", 9, [gz[: len(gz) // 2]],
        {"*": Reject(TruncatedError, r"gzip stream is truncated")})
    add("9-gzip-corrupt", 9, [gz[:12] + bytes(b ^ 0x55 for b in gz[12:40]) + gz[40:]],
        {"*": Reject(InvalidLayerError, r"(corrupt|truncated) gzip stream|gzip stream is trunc")})
    add("9-gzip-bad-crc", 9, [gz[:-8] + bytes(b ^ 0xFF for b in gz[-8:-4]) + gz[-4:]],
        {"*": Reject(InvalidLayerError, r"corrupt gzip stream.*CRC")})
    add("9-zstd-truncated", 9, [zs[: len(zs) // 2]],
        {"*": Reject(TruncatedError, r"zstd stream is truncated")})
    add("9-zstd-corrupt", 9, [zs[:-4] + bytes(b ^ 0xFF for b in zs[-4:])],
        {"*": Reject(InvalidLayerError, r"corrupt zstd stream")})
    add("9-sparse-member", 9, [tar(header(b"sparse", typeflag=b"S"))],
        {"*": Reject(UnsupportedEntryError, r"'sparse'.*unsupported tar entry \(sparse file\)")})
    add("9-bzip2-layer", 9, [b"BZh91AY&SY" + b"\0" * 100],
        {"*": Reject(InvalidLayerError, r"bzip2 compressed layers are not supported"),
         "build": Accept("Docker would unpack it; layerlab copies it as a plain file")})

    # 10. resource exhaustion (caps lowered so the test is fast; defaults are documented)
    small = Limits(max_entries=50, max_layer_bytes=1 << 20, max_path_bytes=4096)
    add("10-gzip-bomb", 10, [gzip.compress(tar(member("zero", data=b"\0" * (8 << 20))), 9)],
        {"*": Reject(LimitExceededError, r"max_layer_bytes=1048576.*raise Limits\.max_layer_bytes"),
         "build": Accept("ADD uses the default Limits (64 GiB)")}, limits=small)
    add("10-zstd-bomb", 10,
        [zstandard.ZstdCompressor(level=19).compress(tar(member("z", data=b"\0" * (8 << 20))))],
        {"*": Reject(LimitExceededError, r"max_layer_bytes=1048576"),
         "build": Accept("ADD uses the default Limits (64 GiB)")}, limits=small)
    add("10-many-entries", 10, [tar(*(member(f"f{i}", data=b"") for i in range(60)))],
        {"*": Reject(LimitExceededError, r"max_entries=50.*raise Limits\.max_entries"),
         "build": Accept("ADD uses the default Limits (1 000 000 entries)")}, limits=small)
    long_name = "d/" * 2100 + "x"
    add("10-very-long-name", 10, [tar(member(long_name, data=b"x"))],
        {"*": Reject(LimitExceededError, r"'d/d/d.*max_path_bytes=4096.*raise "
                     r"Limits\.max_path_bytes")})
    add("10-name-longer-than-name-max", 10, [tar(member("d/" + "n" * 256, data=b"x"))],
        {"*": Reject(LimitExceededError, r"'d/nnn.*longer than NAME_MAX=255 bytes")})
    add("10-very-long-link-target", 10, [tar(member("l", "symlink", link="t" * 5000))],
        {"*": Reject(LimitExceededError, r"'l'.*link target longer than max_path_bytes=4096")})
    add("10-huge-xattr", 10, [tar(member("f", data=b"", xattrs={"user.big": b"v" * 70_000}))],
        {"*": Reject(LimitExceededError, r"'f'.*max_xattr_bytes=65536")})
    add("10-nul-in-name", 1, [tar(member(b"etc/pass\0wd", data=b"x"))],
        {"*": Reject(UnsafePathError, r"'etc/pass\\x00wd'.*NUL")})
    return cases


def _image_cases() -> list[Case]:
    good = tar(member("etc/motd", data=b"hi\n"))
    other = tar(member("etc/other", data=b"x\n"))
    cases: list[Case] = []

    def add(name: str, klass: int, image: Callable[[Path], Path],
            outcome: Outcome, **kw: Any) -> None:
        cases.append(Case(name, klass, {"*": outcome}, image=image, **kw))

    def oci(layers: list[bytes] | None = None, **kw: Any) -> Callable[[Path], Path]:
        return lambda root: oci_layout(root / "oci", layers or [good], **kw)

    def docker(layers: list[bytes] | None = None, **kw: Any) -> Callable[[Path], Path]:
        return lambda root: docker_archive(root / "image.tar", layers or [good], **kw)

    def bump_size(m: dict[str, Any]) -> None:
        m["layers"][0]["size"] += 1

    def wrong_digest(m: dict[str, Any]) -> None:
        m["layers"][0]["digest"] = sha(other)

    # 8. digest and size
    add("8-oci-layer-size-mismatch", 8, oci(edit_manifest=bump_size),
        Reject(DigestMismatchError, r"layer 0 .*size is \d+ bytes, the descriptor says \d+"))
    add("8-oci-layer-digest-mismatch", 8, oci(edit_manifest=wrong_digest, layers=[good]),
        Reject(InvalidImageError, r"layer 0 sha256:[0-9a-f]+ is missing"))
    add("8-oci-diff-id-mismatch", 8, oci(diff_ids=[sha(other)]),
        Reject(DigestMismatchError, r"layer 0.*diff_id.*rootfs\.diff_ids says " + sha(other)))
    add("8-docker-diff-id-mismatch", 8, docker(diff_ids=[sha(other)]),
        Reject(DigestMismatchError, r"layer 0.*layer\.tar.*diff_id.*rootfs\.diff_ids says"))
    add("8-docker-tampered-config", 8, _tampered_docker_config,
        Reject(DigestMismatchError, r"config '[0-9a-f]{64}\.json'.*sha256"))

    # 9. missing blobs, configs that are not JSON, broken legacy parent chains
    add("9-oci-missing-layer-blob", 9, oci(skip_blobs=(0,)),
        Reject(InvalidImageError, r"layer 0 sha256:[0-9a-f]+ is missing \(no blobs/sha256/"))
    add("9-docker-missing-layer", 9,
        docker(layer_names=["0" * 64 + "/layer.tar"]),
        Reject(InvalidImageError, r"'0{64}/layer\.tar' is missing"))
    add("9-oci-config-not-json", 9, oci(config=b"{not json"),
        Reject(InvalidImageError, r"config sha256:[0-9a-f]+: not valid JSON"))
    add("9-docker-config-not-json", 9, docker(config=b"\xff\xfe garbage"),
        Reject(InvalidImageError, r"config '[0-9a-f]{64}\.json'.*not valid JSON"))
    add("9-docker-manifest-not-json", 9, docker(manifest=b"[{"),
        Reject(InvalidImageError, r"manifest\.json: not valid JSON"))
    add("9-docker-cyclic-parent", 9,
        docker(layers=[good, other], parents={0: f"{2:064x}"}),
        Reject(InvalidImageError, r"legacy parent chain is cyclic"))
    add("9-docker-dangling-parent", 9,
        docker(layers=[good, other], parents={1: "f" * 64}),
        Reject(InvalidImageError, r"legacy parent chain is dangling: .* names parent f{64}"))
    add("9-oci-index-not-json", 9, oci(index=b"\0\0\0"),
        Reject(InvalidImageError, r"index\.json: not valid JSON"))

    # 10. huge documents at the default cap (16 MiB)
    cap = Limits().max_json_bytes
    add("10-huge-manifest-json", 10, docker(manifest=b"[" + b" " * cap + b"]"),
        Reject(LimitExceededError, r"'manifest\.json' is \d+ bytes, larger than "
               r"max_json_bytes=16777216; raise Limits\.max_json_bytes"))
    add("10-huge-index-json", 10, oci(index=b"{" + b" " * cap + b"}"),
        Reject(LimitExceededError, r"'index\.json' is \d+ bytes, larger than max_json_bytes"))
    add("10-huge-config", 10, oci(config=b"{" + b" " * cap + b"}"),
        Reject(LimitExceededError, r"config sha256:[0-9a-f]+.*max_json_bytes=16777216"))

    # 11. media-type confusion
    def also_index(m: dict[str, Any]) -> None:
        m["manifests"] = []

    def unknown_types(m: dict[str, Any]) -> None:
        m["layers"][0]["mediaType"] = "application/x-never-heard-of-it"
        m["config"]["mediaType"] = "application/x-strange-config"

    def contradicting(m: dict[str, Any]) -> None:
        m["mediaType"] = "application/vnd.oci.image.index.v1+json"

    def extra_artifact(ix: dict[str, Any]) -> None:
        ix["manifests"].append({"mediaType": "application/x-signature", "size": 10,
                                "digest": sha(b"no such blob")})

    add("11-manifest-that-is-also-an-index", 11, oci(edit_manifest=also_index),
        Reject(InvalidImageError, r"ambiguous document: it has both 'manifests'"))
    add("11-manifest-claiming-index-type", 11, oci(edit_manifest=contradicting),
        Reject(InvalidImageError, r"ambiguous document: mediaType .*index.* says one kind"))
    add("11-index-json-is-a-manifest", 11,
        oci(index=json.dumps({"schemaVersion": 2, "config": {}, "layers": []}).encode()),
        Reject(InvalidImageError, r"index\.json: is a manifest, an OCI layout needs an index"))
    add("11-unknown-media-types-alone-are-fine", 11, oci(edit_manifest=unknown_types), Accept())
    add("11-unknown-artifact-beside-the-image", 11, oci(edit_index=extra_artifact), Accept())

    # 12. symlinks inside a docker-archive: resolved inside the archive only
    def symlinked(target: str) -> Callable[[Path], Path]:
        def make(root: Path) -> Path:
            return docker_archive(root / "image.tar", [good], extra=[
                ("link/layer.tar", ("symlink", target))], layer_names=["link/layer.tar"])
        return make

    for label, target in [("up", "../../victim/f"), ("absolute-host", "/etc/passwd"),
                          ("deep-up", "../../../../../../victim/f")]:
        add(f"12-layer-symlink-{label}", 12, symlinked(target),
            Reject(InvalidImageError, r"'link/layer\.tar' is missing"))
    add("12-layer-symlink-inside-is-fine", 12, symlinked(f"../{1:064x}/layer.tar"), Accept())
    add("12-layer-symlink-absolute-inside", 12, symlinked(f"/{1:064x}/layer.tar"), Accept())
    add("12-manifest-symlink-to-host", 12, _manifest_link_out,
        Reject(InvalidImageError, r"not an image: no manifest\.json"))
    add("12-member-name-escapes", 12,
        lambda root: _write_tar_file(root / "image.tar", [("../manifest.json", b"[]")]),
        Reject(UnsafePathError, r"'\.\./manifest\.json'.*path escapes the root"))
    add("12-layer-symlink-loop", 12,
        lambda root: docker_archive(root / "image.tar", [good], extra=[
            ("a", ("symlink", "b")), ("b", ("symlink", "a"))], layer_names=["a/layer.tar"]),
        Reject(InvalidImageError, r"'a/(json|layer\.tar)': too many levels of symbolic links"))
    return cases


def _tampered_docker_config(root: Path) -> Path:
    good = tar(member("etc/motd", data=b"hi\n"))
    config = json.dumps(config_doc([good])).encode()
    name = sha(config)[7:] + ".json"
    manifest = json.dumps([{"Config": name, "Layers": [f"{1:064x}/layer.tar"]}]).encode()
    path = docker_archive(root / "image.tar", [good], manifest=manifest,
                          extra=[(name, config.replace(b"amd64", b"arm64"))])
    return path


def _manifest_link_out(root: Path) -> Path:
    return _write_tar_file(root / "image.tar", [("manifest.json", ("symlink", "../victim/f"))])


CASES: dict[str, Case] = {c.name: c for c in [*_layer_cases(), *_image_cases()]}

#: classes of hostile-input.md each covered by at least one case
CLASSES = sorted({c.klass for c in CASES.values()})
