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
