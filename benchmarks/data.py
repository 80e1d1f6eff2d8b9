"""Synthetic, seeded test data: layer tars and a realistic stack of layers.

Nothing is downloaded. Everything is written with :mod:`tarfile` (PAX format, what
``docker save`` and BuildKit produce) into a directory the caller gives, meant to be on a
tmpfs.
"""

from __future__ import annotations

import random
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LayerSpec", "Member", "StackSpec", "make_index_tar", "make_stack", "write_tar"]

_WORDS = (
    "lib", "core", "util", "net", "data", "io", "auth", "cache", "conf", "doc", "man", "share",
    "python", "perl", "ssl", "crypto", "locale", "zone", "font", "icon", "test", "tools",
)
_EXTS = ("", ".so", ".py", ".pyc", ".conf", ".txt", ".h", ".gz", ".json", ".1")
_MTIME = 1_700_000_000


@dataclass(frozen=True)
class Member:
    """A tar member to write: ``name`` without a leading slash."""

    name: str
    kind: str  # "file" | "dir" | "symlink"
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644


def write_tar(path: Path, members: Iterable[Member]) -> int:
    """Write ``members`` in the order given as a plain PAX tar; returns the entry count."""
    count = 0
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.mtime = _MTIME
            info.uname = info.gname = "root"
            info.mode = m.mode
            if m.kind == "dir":
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            elif m.kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = m.linkname
                tf.addfile(info)
            else:
                info.size = len(m.data)
                tf.addfile(info, _Bytes(m.data))
            count += 1
    return count


class _Bytes:
    """The smallest file object ``TarFile.addfile`` accepts (no BytesIO copy)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._pos + size
        chunk = self._data[self._pos : end]
        self._pos += len(chunk)
        return chunk


def _name(rng: random.Random, serial: int, ext: bool) -> str:
    base = f"{rng.choice(_WORDS)}{serial}"
    return base + rng.choice(_EXTS) if ext else base


def _split_key(name: str) -> list[str]:
    return name.split("/")


# --- one big layer ---------------------------------------------------------------------


def make_index_tar(path: Path, entries: int, *, seed: int = 1, max_file: int = 4096) -> dict:
    """A layer tar of ``entries`` members: ~12% dirs, ~6% symlinks, files of 0..max_file bytes.

    Returns counts by kind and the tar size.
    """
    rng = random.Random(seed)
    members = _tree(rng, entries, max_file=max_file)
    write_tar(path, members)
    counts: dict[str, int] = {}
    for m in members:
        counts[m.kind] = counts.get(m.kind, 0) + 1
    return {"entries": len(members), "bytes": path.stat().st_size, **counts}


def _tree(rng: random.Random, n: int, *, max_file: int, top: str = "",
          serial0: int = 0) -> list[Member]:
    """``n`` members forming a tree (parents first after sorting), below ``top``."""
    roots = ["bin", "etc", "lib", "opt", "usr", "usr/bin", "usr/lib", "usr/share",
             "usr/share/doc", "var", "var/lib", "var/cache"]
    dirs = [f"{top}/{r}" if top else r for r in roots] if not top else [top]
    members = [Member(d, "dir", mode=0o755) for d in dirs]
    files: list[str] = []
    serial = serial0
    while len(members) < n:
        serial += 1
        parent = rng.choice(dirs)
        roll = rng.random()
        if roll < 0.12 and parent.count("/") < 7:
            d = f"{parent}/{_name(rng, serial, False)}"
            dirs.append(d)
            members.append(Member(d, "dir", mode=0o755))
        elif roll < 0.18 and files:
            link = rng.choice(files)
            members.append(Member(f"{parent}/{_name(rng, serial, True)}", "symlink",
                                  linkname="/" + link, mode=0o777))
        else:
            f = f"{parent}/{_name(rng, serial, True)}"
            files.append(f)
            members.append(Member(f, "file", rng.randbytes(rng.randint(0, max_file)),
                                  mode=0o755 if roll > 0.95 else 0o644))
    members.sort(key=lambda m: _split_key(m.name))
    return members


# --- a stack of layers ----------------------------------------------------------------


@dataclass
class LayerSpec:
    """What one generated layer does, by kind of change."""

    path: Path
    entries: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"{k} {v}" for k, v in sorted(self.counts.items()) if v]
        return f"{self.entries} entries ({', '.join(parts)})"


@dataclass
class StackSpec:
    layers: list[LayerSpec]

    @property
    def total_entries(self) -> int:
        return sum(spec.entries for spec in self.layers)


class _State:
    """The merged tree as the generator sees it, to pick real targets for changes."""

    def __init__(self) -> None:
        self.kind: dict[str, str] = {}
        self.kids: dict[str, set[str]] = {"": set()}
        self.file_list: list[str] = []
        self.dir_list: list[str] = []

    def add(self, path: str, kind: str) -> None:
        parent, _, name = path.rpartition("/")
        if path in self.kind:
            self.remove(path)
        self.kind[path] = kind
        self.kids.setdefault(parent, set()).add(name)
        if kind == "dir":
            self.kids.setdefault(path, set())
            self.dir_list.append(path)
        elif kind == "file":
            self.file_list.append(path)

    def remove(self, path: str) -> None:
        parent, _, name = path.rpartition("/")
        self.kids.get(parent, set()).discard(name)
        stack = [path]
        while stack:
            p = stack.pop()
            if self.kind.pop(p, None) == "dir":
                stack.extend(f"{p}/{n}" for n in self.kids.pop(p, ()))

    def clear_children(self, path: str) -> None:
        for name in list(self.kids.get(path, ())):
            self.remove(f"{path}/{name}")

    def pick(self, rng: random.Random, kind: str, min_depth: int = 0) -> str | None:
        pool = self.file_list if kind == "file" else self.dir_list
        for _ in range(50):
            p = rng.choice(pool)
            if self.kind.get(p) == kind and p.count("/") >= min_depth:
                return p
        return None


def make_stack(workdir: Path, total: int, layers: int, *, seed: int = 7) -> StackSpec:
    """``layers`` tars whose entry counts add up to about ``total``: a base of ~half,
    a big "install" layer of ~15% and smaller layers that add, modify, chmod, replace,
    white out files and directories and make directories opaque."""
    rng = random.Random(seed)
    base_n = int(total * 0.5) if layers > 1 else total
    budgets = [base_n]
    if layers > 1:
        budgets.append(int(total * 0.15) if layers > 2 else total - base_n)
    rest = total - sum(budgets)
    weights = [rng.uniform(0.4, 1.6) for _ in range(layers - len(budgets))]
    budgets += [max(20, int(rest * w / sum(weights))) for w in weights]

    state = _State()
    specs: list[LayerSpec] = []
    base = _tree(rng, base_n, max_file=512)
    for m in base:
        state.add(m.name, m.kind)
    spec = LayerSpec(workdir / "layer00.tar", counts={"add": len(base)})
    spec.entries = write_tar(spec.path, base)
    specs.append(spec)
    serial = 10 * total
    for k in range(1, layers):
        out: dict[str, Member] = {}
        counts = dict.fromkeys(("add", "modify", "chmod", "replace", "whiteout", "whiteout-dir",
                                "opaque", "parents"), 0)
        touched: set[str] = set()

        def parents(path: str, out: dict[str, Member] = out, counts: dict[str, int] = counts,
                    touched: set[str] = touched) -> None:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in out:
                    out[d] = Member(d, "dir", mode=0o755)
                    touched.add(d)
                    counts["parents"] += 1

        def fresh(rng: random.Random = rng) -> bytes:
            return rng.randbytes(rng.randint(0, 512))

        # one opaque directory and two deleted directories per layer
        plans = ["opaque", "whiteout-dir", "whiteout-dir", "replace"]
        while len(out) < budgets[k]:
            op = plans.pop() if plans else rng.choices(
                ("add", "modify", "whiteout", "chmod"), (50, 30, 15, 5))[0]
            serial += 1
            if op == "add":
                parent = state.pick(rng, "dir")
                if parent is None:
                    continue
                pkg = f"{parent}/{_name(rng, serial, False)}"
                sub = _tree(rng, rng.randint(3, 25), max_file=512, top=pkg, serial0=serial)
                serial += len(sub)
                parents(pkg)
                for m in sub:
                    out[m.name] = m
                    state.add(m.name, m.kind)
                    touched.add(m.name)
                counts["add"] += len(sub)
            elif op == "modify":
                f = state.pick(rng, "file")
                if f is None or f in touched:
                    continue
                parents(f)
                out[f] = Member(f, "file", fresh())
                touched.add(f)
                counts["modify"] += 1
            elif op == "chmod":
                d = state.pick(rng, "dir", 1)
                if d is None or d in touched:
                    continue
                parents(d)
                out[d] = Member(d, "dir", mode=0o750)
                touched.add(d)
                counts["chmod"] += 1
            elif op == "whiteout":
                f = state.pick(rng, "file")
                if f is None or f in touched:
                    continue
                parent, _, name = f.rpartition("/")
                parents(f)
                marker = f"{parent}/.wh.{name}" if parent else f".wh.{name}"
                out[marker] = Member(marker, "file")
                state.remove(f)
                touched.add(f)
                counts["whiteout"] += 1
            elif op == "whiteout-dir":
                d = state.pick(rng, "dir", 2)
                if d is None or any(t == d or t.startswith(d + "/") for t in touched):
                    continue
                parent, _, name = d.rpartition("/")
                parents(d)
                marker = f"{parent}/.wh.{name}"
                out[marker] = Member(marker, "file")
                state.remove(d)
                touched.add(d)
                counts["whiteout-dir"] += 1
            elif op == "opaque":
                d = state.pick(rng, "dir", 2)
                if d is None or any(t == d or t.startswith(d + "/") for t in touched):
                    continue
                parents(f"{d}/x")
                out[f"{d}/.wh..wh..opq"] = Member(f"{d}/.wh..wh..opq", "file")
                state.clear_children(d)
                for i in range(rng.randint(2, 8)):
                    f = f"{d}/regen{serial}_{i}"
                    out[f] = Member(f, "file", fresh())
                    state.add(f, "file")
                touched.add(d)
                counts["opaque"] += 1
            elif op == "replace":
                # a directory becomes a symlink (its subtree goes) and a file becomes a dir
                d = state.pick(rng, "dir", 2)
                f = state.pick(rng, "file", 2)
                if d is None or f is None or f.startswith(d + "/"):
                    continue
                parents(d)
                out[d] = Member(d, "symlink", linkname="/usr/lib", mode=0o777)
                state.remove(d)
                state.add(d, "symlink")
                parents(f)
                out[f] = Member(f, "dir", mode=0o755)
                out[f"{f}/inner"] = Member(f"{f}/inner", "file", fresh())
                state.add(f, "dir")
                state.add(f"{f}/inner", "file")
                touched.update((d, f))
                counts["replace"] += 2
        spec = LayerSpec(workdir / f"layer{k:02d}.tar", counts=counts)
        spec.entries = write_tar(spec.path, sorted(out.values(), key=lambda m: _split_key(m.name)))
        specs.append(spec)
    return StackSpec(specs)


# --- a realistic image layer --------------------------------------------------------------

#: where Debian keeps downloaded packages; their data.tar members make a real rootfs layer
APT_ARCHIVES = Path("/var/cache/apt/archives")


def _deb_data(deb: Path) -> tuple[str, bytes] | None:
    """(compression, bytes) of a .deb's ``data.tar.*`` member (a .deb is an ``ar`` archive)."""
    with open(deb, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            return None
        while header := f.read(60):
            if len(header) < 60:
                return None
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip())
            data = f.read(size)
            if size % 2:
                f.read(1)
            if name.startswith("data.tar"):
                return name[len("data.tar"):].lstrip(".") or "none", data
    return None


def make_debian_tar(path: Path, target_bytes: int, *, seed: int = 3) -> dict | None:
    """A rootfs-like layer from the .deb files in :data:`APT_ARCHIVES` (their contents
    merged, first occurrence of a path wins), about ``target_bytes`` uncompressed; ``None``
    when there are no usable packages (xz or gzip data only: zstd would need a tool)."""
    import io
    import lzma
    import zlib

    debs = sorted(APT_ARCHIVES.glob("*_amd64.deb")) + sorted(APT_ARCHIVES.glob("*_all.deb"))
    debs = [d for d in debs if d.stat().st_size < 3 << 20]  # a rootfs is many small packages
    if not debs:
        return None
    random.Random(seed).shuffle(debs)
    seen: set[str] = set()
    counts: dict[str, int] = {}
    total = 0
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as out:
        for deb in debs:
            found = _deb_data(deb)
            if found is None or found[0] not in ("xz", "gz", "none"):
                continue
            kind, blob = found
            raw = (lzma.decompress(blob) if kind == "xz"
                   else zlib.decompress(blob, 31) if kind == "gz" else blob)
            with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
                for info in tf:
                    name = info.name.lstrip("./")
                    if not name or name in seen:
                        continue
                    seen.add(name)
                    info.name = name
                    if info.islnk():
                        info.linkname = info.linkname.lstrip("./")
                        if info.linkname not in seen:
                            continue
                    fileobj = tf.extractfile(info) if info.isreg() else None
                    out.addfile(info, fileobj)
                    label = ("file" if info.isreg() else "dir" if info.isdir()
                             else "symlink" if info.issym() else "hardlink" if info.islnk()
                             else "other")
                    counts[label] = counts.get(label, 0) + 1
                    total += info.size if info.isreg() else 0
            if total >= target_bytes:
                break
    if total < target_bytes // 4:
        return None
    return {"entries": sum(counts.values()), "bytes": path.stat().st_size,
            "source": "Debian packages", **counts}


def _text_corpus(rng: random.Random, size: int) -> bytes:
    """Compressible bytes (about 3:1 with gzip), like the text and code of a rootfs."""
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz_.-/0123456789")
                   for _ in range(rng.randint(2, 12))) for _ in range(4000)]
    out = bytearray()
    while len(out) < size:
        out += b" ".join(rng.choices(words, k=64)) + b"\n"
    return bytes(out[:size])


def make_realistic_tar(path: Path, target_bytes: int, *, seed: int = 4) -> dict:
    """A synthetic rootfs-like layer of about ``target_bytes``: ~20 bytes of content per
    ... thousands of small files (log-normal sizes, median ~3 KB) in directories up to 9
    deep, a few large ones (up to 16 MB; half compressible text, half random like
    compressed data), ~8 % symlinks and ~2 % hardlinks."""
    rng = random.Random(seed)
    corpus = _text_corpus(rng, 16 << 20)
    noise = rng.randbytes(16 << 20)
    members: list[Member] = []
    dirs = ["usr", "usr/lib", "usr/share", "usr/bin", "etc", "var/lib"]
    for d in ["var", *dirs]:
        members.append(Member(d, "dir", mode=0o755))
    files: list[str] = []
    hardlinks: list[tuple[str, str]] = []
    total = 0
    serial = 0
    big_budget = target_bytes // 3
    while big_budget > 0:  # the large files: libraries, locales, databases
        serial += 1
        size = min(rng.randint(2 << 20, 16 << 20), big_budget)
        big_budget -= size
        src = corpus if serial % 2 else noise
        start = rng.randrange(0, len(src) - size + 1)
        name = f"usr/lib/x86_64-linux-gnu/lib{rng.choice(_WORDS)}{serial}.so.{serial % 7}"
        members.append(Member(name, "file", src[start:start + size]))
        files.append(name)
        total += size
    members.append(Member("usr/lib/x86_64-linux-gnu", "dir", mode=0o755))
    while total < target_bytes:
        serial += 1
        roll = rng.random()
        parent = rng.choice(dirs)
        if roll < 0.10 and parent.count("/") < 8:
            d = f"{parent}/{_name(rng, serial, False)}"
            dirs.append(d)
            members.append(Member(d, "dir", mode=0o755))
        elif roll < 0.18 and files:
            members.append(Member(f"{parent}/{_name(rng, serial, True)}", "symlink",
                                  linkname="/" + rng.choice(files), mode=0o777))
        elif roll < 0.20 and files:
            hardlinks.append((f"{parent}/{_name(rng, serial, True)}", rng.choice(files)))
        else:
            size = min(int(rng.lognormvariate(8.0, 1.6)), 1 << 20)
            src = corpus if rng.random() < 0.8 else noise
            start = rng.randrange(0, len(src) - size + 1)
            name = f"{parent}/{_name(rng, serial, True)}"
            members.append(Member(name, "file", src[start:start + size],
                                  mode=0o755 if roll > 0.97 else 0o644))
            files.append(name)
            total += size
    members.sort(key=lambda m: _split_key(m.name))
    counts: dict[str, int] = {}
    for m in members:
        counts[m.kind] = counts.get(m.kind, 0) + 1
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.mtime = _MTIME
            info.mode = m.mode
            if m.kind == "dir":
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            elif m.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, m.linkname
                tf.addfile(info)
            else:
                info.size = len(m.data)
                tf.addfile(info, _Bytes(m.data))
        for name, target in hardlinks:  # after their targets, as tar writes them
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = tarfile.LNKTYPE, target, _MTIME
            tf.addfile(info)
    counts["hardlink"] = len(hardlinks)
    return {"entries": sum(counts.values()), "bytes": path.stat().st_size,
            "source": "synthetic", **counts}
