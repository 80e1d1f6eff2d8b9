"""File commands: ls, mkdir, touch, rm, cp, mv, ln, chmod, chown, stat, find, du.

Every change goes through the Container's file API, so copy-ups and whiteouts are recorded
exactly as if a program had made the change on an overlayfs mount.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ...entry import Entry, EntryKind
from ...errors import FilesystemError, PathNotFoundError
from ...paths import ROOT, split
from ..interp import IO, describe
from .registry import UsageError, command, options
from .users import group_id, group_name, user_id, user_name

if TYPE_CHECKING:
    from ..interp import Shell

__all__ = ["human_size", "long_time"]


def _stat(sh: Shell, path: str, *, follow: bool = False) -> Entry | None:
    try:
        return sh.container.stat(sh.abspath(path), follow_symlinks=follow)
    except FilesystemError:
        return None


def _is_dir(sh: Shell, path: str) -> bool:
    entry = _stat(sh, path, follow=True)
    return entry is not None and entry.is_dir


def _into(sh: Shell, src: str, dst: str) -> str:
    """``cp a dir`` / ``mv a dir`` / ``ln -s a dir`` act on ``dir/a``."""
    if _is_dir(sh, dst):
        name = split(sh.abspath(src))[1] or src
        return dst.rstrip("/") + "/" + name if dst.rstrip("/") else "/" + name
    return dst


def human_size(n: int) -> str:
    """``ls -h``/``du -h`` style: 900, 1.5K, 12M (rounded up, as GNU does)."""
    if n < 1024:
        return str(n)
    value = float(n)
    for unit in "KMGT":
        value /= 1024
        if value < 1024 or unit == "T":
            return f"{math.ceil(value * 10) / 10:.1f}{unit}" if value < 10 else \
                f"{math.ceil(value)}{unit}"
    raise AssertionError("unreachable")


def long_time(mtime: int) -> str:
    return datetime.fromtimestamp(mtime, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


# --- ls ---------------------------------------------------------------------------------------
def _ls_line(sh: Shell, entry: Entry, name: str, opts: dict[str, str]) -> str:
    if "l" not in opts:
        return name
    mode = entry.filemode
    nlink = 1
    if entry.kind is EntryKind.HARDLINK:
        mode, nlink = "-" + mode[1:], 2
    elif entry.is_dir:
        nlink = 2
    size = 4096 if entry.is_dir else entry.size
    if entry.kind in (EntryKind.CHAR, EntryKind.BLOCK):
        size_text = f"{entry.devmajor}, {entry.devminor}"
    else:
        size_text = human_size(size) if "h" in opts else str(size)
    link = f" -> {entry.linkname}" if entry.kind is EntryKind.SYMLINK else ""
    return (f"{mode} {nlink} {user_name(sh, entry.uid):<8} {group_name(sh, entry.gid):<8} "
            f"{size_text:>7} {long_time(entry.mtime)} {name}{link}")


def _ls_dir(sh: Shell, path: str, opts: dict[str, str], io: IO) -> list[str]:
    real = sh.abspath(path)
    names = sh.container.listdir(real)
    if "a" not in opts and "A" not in opts:
        names = [n for n in names if not n.startswith(".")]
    rows: list[tuple[str, Entry]] = []
    if "a" in opts:
        rows += [(".", sh.container.stat(real, follow_symlinks=True)),
                 ("..", sh.container.stat(split(real)[0], follow_symlinks=True))]
    rows += [(n, sh.container.stat(f"{real.rstrip('/')}/{n}")) for n in names]
    if "l" in opts:
        blocks = sum(math.ceil(e.size / 1024) for _, e in rows if e.is_regular)
        io.out.write(f"total {blocks}\n")
    for name, entry in rows:
        io.out.write(_ls_line(sh, entry, name, opts) + "\n")
    return [n for n, e in rows if e.is_dir and n not in (".", "..")]


@command("ls")
def ls(sh: Shell, argv: list[str], io: IO) -> int:
    opts, paths = options("ls", argv[1:], "laA1RdhFS", status=2)
    status = 0
    targets: list[str] = []
    files: list[tuple[str, Entry]] = []
    for p in paths or ["."]:
        entry = _stat(sh, p, follow="l" not in opts and "d" not in opts)
        if entry is None:
            io.err.write(f"ls: cannot access '{p}': No such file or directory\n")
            status = 2
        elif entry.is_dir and "d" not in opts:
            targets.append(p)
        else:
            files.append((p, entry))
    for p, entry in sorted(files):
        io.out.write(_ls_line(sh, entry, p, opts) + "\n")
    headers = len(paths) > 1 or "R" in opts
    queue = sorted(targets)
    first = not files
    while queue:
        p = queue.pop(0)
        if headers:
            io.out.write(("" if first else "\n") + f"{p}:\n")
        first = False
        subdirs = _ls_dir(sh, p, opts, io)
        if "R" in opts:
            queue[:0] = [f"{p.rstrip('/')}/{d}" if p != "/" else f"/{d}" for d in subdirs]
    return status


# --- creating ---------------------------------------------------------------------------------
@command("mkdir")
def mkdir(sh: Shell, argv: list[str], io: IO) -> int:
    opts, paths = options("mkdir", argv[1:], "pv", long={"--parents": "p"}, valued="m")
    if not paths:
        raise UsageError("mkdir: missing operand")
    mode = _mode(opts.get("m", ""), 0o755, is_dir=True) if "m" in opts else 0o755
    status = 0
    for p in paths:
        try:
            sh.container.mkdir(sh.abspath(p), parents="p" in opts, mode=mode)
        except FilesystemError as e:
            io.err.write(f"mkdir: cannot create directory '{p}': {describe(e)}\n")
            status = 1
    return status


@command("touch")
def touch(sh: Shell, argv: list[str], io: IO) -> int:
    opts, paths = options("touch", argv[1:], "cam")
    if not paths:
        raise UsageError("touch: missing file operand")
    status = 0
    for p in paths:
        if "c" in opts and _stat(sh, p) is None:
            continue
        try:
            sh.container.touch(sh.abspath(p))
        except FilesystemError as e:
            io.err.write(f"touch: cannot touch '{p}': {describe(e)}\n")
            status = 1
    return status


# --- removing ---------------------------------------------------------------------------------
@command("rm")
def rm(sh: Shell, argv: list[str], io: IO) -> int:
    opts, paths = options("rm", argv[1:], "rRfidv",
                          long={"--recursive": "r", "--force": "f", "--no-preserve-root": "N"})
    recursive = "r" in opts or "R" in opts
    if not paths and "f" not in opts:
        raise UsageError("rm: missing operand")
    status = 0
    for p in paths:
        real = sh.abspath(p)
        if split(p.rstrip("/"))[1] in (".", ".."):
            io.err.write(f"rm: refusing to remove '.' or '..' directory: skipping '{p}'\n")
            status = 1
            continue
        if real == ROOT and recursive:
            if "N" not in opts:
                io.err.write("rm: it is dangerous to operate recursively on '/'\n"
                             "rm: use --no-preserve-root to override this failsafe\n")
                status = 1
                continue
            for name in sh.container.listdir(ROOT):
                sh.container.remove("/" + name, recursive=True, missing_ok=True)
            continue
        entry = _stat(sh, p)
        if entry is None:
            if "f" not in opts:
                io.err.write(f"rm: cannot remove '{p}': No such file or directory\n")
                status = 1
            continue
        if entry.is_dir and not recursive and "d" not in opts:
            io.err.write(f"rm: cannot remove '{p}': Is a directory\n")
            status = 1
            continue
        try:
            sh.container.remove(real, recursive=recursive)
        except FilesystemError as e:
            io.err.write(f"rm: cannot remove '{p}': {describe(e)}\n")
            status = 1
    return status


@command("rmdir")
def rmdir(sh: Shell, argv: list[str], io: IO) -> int:
    _, paths = options("rmdir", argv[1:], "p")
    status = 0
    for p in paths:
        entry = _stat(sh, p)
        try:
            if entry is not None and not entry.is_dir:
                raise UsageError(f"rmdir: failed to remove '{p}': Not a directory")
            sh.container.remove(sh.abspath(p))
        except FilesystemError as e:
            io.err.write(f"rmdir: failed to remove '{p}': {describe(e)}\n")
            status = 1
    return status


# --- copying and moving -----------------------------------------------------------------------
def _merge_tree(sh: Shell, src: str, dst: str) -> None:
    """``cp -r src dst`` when ``dst`` already exists: copy over it entry by entry."""
    c = sh.container
    for entry in c.walk(src):
        target = dst + entry.path[len(src):]
        existing = _stat(sh, target)
        if entry.is_dir:
            if existing is None:
                c.mkdir(target, mode=entry.mode)
        elif entry.is_regular:
            c.write(target, c.read(entry.path), mode=entry.mode)
        else:
            if existing is not None:
                c.remove(target)
            if entry.kind is EntryKind.SYMLINK:
                c.symlink(entry.linkname, target)


@command("cp")
def cp(sh: Shell, argv: list[str], io: IO) -> int:
    opts, ops = options("cp", argv[1:], "rRapfvdPLnu",
                        long={"--recursive": "r", "--archive": "a", "--force": "f"})
    recursive = bool({"r", "R", "a"} & set(opts))
    if len(ops) < 2:
        raise UsageError("cp: missing file operand" if not ops else
                         f"cp: missing destination file operand after '{ops[0]}'")
    *srcs, dst = ops
    if len(srcs) > 1 and not _is_dir(sh, dst):
        raise UsageError(f"cp: target '{dst}' is not a directory")
    status = 0
    for s in srcs:
        entry = _stat(sh, s, follow=not recursive)
        if entry is None:
            io.err.write(f"cp: cannot stat '{s}': No such file or directory\n")
            status = 1
            continue
        if entry.is_dir and not recursive:
            io.err.write(f"cp: -r not specified; omitting directory '{s}'\n")
            status = 1
            continue
        src, target = sh.abspath(s), sh.abspath(_into(sh, s, dst))
        if src == target:
            io.err.write(f"cp: '{s}' and '{dst}' are the same file\n")
            status = 1
            continue
        try:
            if entry.is_dir and _stat(sh, target) is not None:
                _merge_tree(sh, src, target)
            else:
                sh.container.copy(src, target, recursive=recursive)
            if {"a", "p"} & set(opts):
                _keep_owner(sh, src, target)
        except FilesystemError as e:
            io.err.write(f"cp: cannot copy '{s}' to '{dst}': {describe(e)}\n")
            status = 1
    return status


def _keep_owner(sh: Shell, src: str, dst: str) -> None:
    """``cp -a``/``-p``: owners as in the source (content and mode are always kept)."""
    c = sh.container
    top = c.stat(src)
    entries = [top, *(c.walk(src) if top.is_dir else [])]
    for e in entries:
        target = dst + e.path[len(src):]
        if e.kind is not EntryKind.SYMLINK and (e.uid, e.gid) != (0, 0):
            c.chown(target, e.uid, e.gid)


@command("mv")
def mv(sh: Shell, argv: list[str], io: IO) -> int:
    _, ops = options("mv", argv[1:], "fvinuT", long={"--force": "f"})
    if len(ops) < 2:
        raise UsageError("mv: missing file operand" if not ops else
                         f"mv: missing destination file operand after '{ops[0]}'")
    *srcs, dst = ops
    if len(srcs) > 1 and not _is_dir(sh, dst):
        raise UsageError(f"mv: target '{dst}' is not a directory")
    status = 0
    for s in srcs:
        if _stat(sh, s) is None:
            io.err.write(f"mv: cannot stat '{s}': No such file or directory\n")
            status = 1
            continue
        target = _into(sh, s, dst)
        try:
            sh.container.rename(sh.abspath(s), sh.abspath(target))
        except FilesystemError as e:
            io.err.write(f"mv: cannot move '{s}' to '{target}': {describe(e)}\n")
            status = 1
    return status


@command("ln")
def ln(sh: Shell, argv: list[str], io: IO) -> int:
    opts, ops = options("ln", argv[1:], "sfnvTr", long={"--symbolic": "s", "--force": "f"})
    if not ops:
        raise UsageError("ln: missing file operand")
    target, link = ops[0], (ops[1] if len(ops) > 1 else split(sh.abspath(ops[0]))[1])
    if len(ops) > 2:
        raise UsageError("ln: only 'ln TARGET [LINK_NAME]' is supported")
    if "n" not in opts:
        link = _into(sh, target, link)
    kind = "symbolic link" if "s" in opts else "hard link"
    try:
        if "f" in opts and _stat(sh, link) is not None:
            sh.container.remove(sh.abspath(link))
        if "s" in opts:
            sh.container.symlink(target, sh.abspath(link))
        else:
            sh.container.hardlink(sh.abspath(target), sh.abspath(link))
    except FilesystemError as e:
        if isinstance(e, PathNotFoundError) and "s" not in opts:
            io.err.write(f"ln: failed to access '{target}': No such file or directory\n")
        else:
            io.err.write(f"ln: failed to create {kind} '{link}': {describe(e)}\n")
        return 1
    return 0


# --- metadata ---------------------------------------------------------------------------------
_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007, "a": 0o7777}


def _mode(spec: str, current: int, *, is_dir: bool) -> int:
    """An octal mode, or symbolic clauses like ``u+x``, ``a-w``, ``+x``, ``go=rx``."""
    if re.fullmatch(r"[0-7]{1,4}", spec):
        return int(spec, 8)
    mode = current
    for clause in spec.split(","):
        m = re.fullmatch(r"([ugoa]*)([-+=])([rwxXst]*)", clause)
        if m is None:
            raise UsageError(f"chmod: invalid mode: '{spec}'")
        mask = 0
        for who in m[1] or "a":
            mask |= _WHO[who]
        bits = 0
        for p in m[3]:
            if p == "X" and not (is_dir or current & 0o111):
                continue
            bits |= {"r": 0o444, "w": 0o222, "x": 0o111, "X": 0o111, "s": 0o6000,
                     "t": 0o1000}[p]
        bits &= mask
        if m[2] == "+":
            mode |= bits
        elif m[2] == "-":
            mode &= ~bits
        else:
            mode = (mode & ~mask) | bits
    return mode & 0o7777


def _targets(sh: Shell, path: str, recursive: bool) -> list[str]:
    real = sh.abspath(path)
    entry = sh.container.stat(real, follow_symlinks=True)
    if not (recursive and entry.is_dir):
        return [real]
    return [real, *(e.path for e in sh.container.walk(real) if e.kind is not EntryKind.SYMLINK)]


@command("chmod")
def chmod(sh: Shell, argv: list[str], io: IO) -> int:
    # "-w"/"-x" are modes, not options: take the mode first
    args = argv[1:]
    recursive = bool(args) and args[0] in ("-R", "--recursive")
    args = args[1:] if recursive else args
    if len(args) < 2:
        raise UsageError("chmod: missing operand")
    spec, paths = args[0], args[1:]
    status = 0
    for p in paths:
        try:
            for real in _targets(sh, p, recursive):
                entry = sh.container.stat(real, follow_symlinks=True)
                sh.container.chmod(real, _mode(spec, entry.mode, is_dir=entry.is_dir))
        except FilesystemError as e:
            io.err.write(f"chmod: cannot access '{p}': {describe(e)}\n")
            status = 1
    return status


@command("chown", "chgrp")
def chown(sh: Shell, argv: list[str], io: IO) -> int:
    name = argv[0].rsplit("/", 1)[-1]
    opts, ops = options(name, argv[1:], "Rhvf", long={"--recursive": "R"})
    if len(ops) < 2:
        raise UsageError(f"{name}: missing operand")
    spec, paths = ops[0], ops[1:]
    if name == "chgrp":
        spec = ":" + spec
    owner, _, group = spec.partition(":") if ":" in spec else spec.partition(".")
    uid = user_id(sh, owner) if owner else None
    gid = group_id(sh, group) if group else None
    if owner and uid is None:
        raise UsageError(f"{name}: invalid user: '{spec}'")
    if group and gid is None:
        raise UsageError(f"{name}: invalid group: '{spec}'")
    status = 0
    for p in paths:
        try:
            for real in _targets(sh, p, "R" in opts):
                current = sh.container.stat(real, follow_symlinks=True)
                sh.container.chown(real, current.uid if uid is None else uid,
                                   current.gid if gid is None else gid)
        except FilesystemError as e:
            io.err.write(f"{name}: cannot access '{p}': {describe(e)}\n")
            status = 1
    return status


_KIND_NAMES = {EntryKind.FILE: "regular file", EntryKind.DIR: "directory",
               EntryKind.SYMLINK: "symbolic link", EntryKind.HARDLINK: "regular file",
               EntryKind.CHAR: "character special file", EntryKind.BLOCK: "block special file",
               EntryKind.FIFO: "fifo"}


@command("stat")
def stat(sh: Shell, argv: list[str], io: IO) -> int:
    opts, paths = options("stat", argv[1:], "L", valued="c", long={"--format": "c"})
    if not paths:
        raise UsageError("stat: missing operand")
    status = 0
    for p in paths:
        e = _stat(sh, p, follow="L" in opts)
        if e is None:
            io.err.write(f"stat: cannot statx '{p}': No such file or directory\n")
            status = 1
            continue
        fields = {"n": p, "s": str(e.size), "a": f"{e.mode:o}", "A": e.filemode,
                  "u": str(e.uid), "g": str(e.gid), "U": user_name(sh, e.uid),
                  "G": group_name(sh, e.gid), "F": _KIND_NAMES.get(e.kind, str(e.kind)),
                  "Y": str(e.mtime), "y": long_time(e.mtime), "%": "%"}
        if "c" in opts:
            parts = re.split(r"%(.)", opts["c"])  # odd items are the directive letters
            io.out.write("".join(fields.get(t, "%" + t) if k % 2 else t
                                 for k, t in enumerate(parts)) + "\n")
            continue
        name = f"{p} -> {e.linkname}" if e.kind is EntryKind.SYMLINK else p
        io.out.write(f"  File: {name}\n  Size: {e.size:<10} {fields['F']}\n"
                     f"Access: ({e.mode:04o}/{e.filemode})  Uid: ({e.uid}/{fields['U']})"
                     f"   Gid: ({e.gid}/{fields['G']})\nModify: {long_time(e.mtime)}\n")
    return status


# --- searching and sizes ----------------------------------------------------------------------
@command("find")
def find(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    k = 0
    while k < len(args) and not args[k].startswith(("-", "!", "(")):
        k += 1
    tops, expr = args[:k] or ["."], args[k:]
    preds: list[tuple[bool, str, str]] = []
    maxdepth, mindepth, delete, negate = -1, 0, False, False
    i = 0
    while i < len(expr):
        tok = expr[i]
        if tok in ("!", "-not"):
            negate = True
        elif tok in ("-name", "-iname", "-type", "-path"):
            if i + 1 >= len(expr):
                raise UsageError(f"find: missing argument to `{tok}'")
            preds.append((negate, tok, expr[i + 1]))
            negate = False
            i += 1
        elif tok in ("-maxdepth", "-mindepth"):
            if i + 1 >= len(expr) or not expr[i + 1].isdigit():
                raise UsageError(f"find: invalid argument to `{tok}'")
            if tok == "-maxdepth":
                maxdepth = int(expr[i + 1])
            else:
                mindepth = int(expr[i + 1])
            i += 1
        elif tok == "-delete":
            delete = True
        elif tok not in ("-print", "-a", "-and", "-xdev"):
            raise UsageError(f"find: unknown predicate `{tok}'")
        i += 1
    status = 0
    for top in tops:
        found = _find_one(sh, top, preds, maxdepth, mindepth, io)
        if found is None:
            status = 1
            continue
        if not delete:
            io.out.write("".join(f"{shown}\n" for shown, _ in found))
            continue
        for shown, real in reversed(found):
            try:
                sh.container.remove(real, missing_ok=True)
            except FilesystemError as e:
                io.err.write(f"find: cannot delete '{shown}': {describe(e)}\n")
                status = 1
    return status


def _find_one(sh: Shell, top: str, preds: list[tuple[bool, str, str]], maxdepth: int,
              mindepth: int, io: IO) -> list[tuple[str, str]] | None:
    import fnmatch

    root = sh.abspath(top)
    first = _stat(sh, root)
    if first is None:
        io.err.write(f"find: '{top}': No such file or directory\n")
        return None
    entries = [first, *(sh.container.walk(root) if first.is_dir else [])]
    found: list[tuple[str, str]] = []
    for e in entries:
        rel = "" if e.path == root else (e.path if root == ROOT else e.path[len(root):])
        shown = top if not rel else top.rstrip("/") + rel
        depth = rel.count("/")
        if depth < mindepth or (maxdepth >= 0 and depth > maxdepth):
            continue
        ok = True
        for negated, name, arg in preds:
            if name == "-name":
                hit = fnmatch.fnmatchcase(split(e.path)[1] or "/", arg)
            elif name == "-iname":
                hit = fnmatch.fnmatchcase((split(e.path)[1] or "/").lower(), arg.lower())
            elif name == "-path":
                hit = fnmatch.fnmatchcase(shown, arg)
            else:
                hit = e.kind.letter.replace("-", "f").replace("h", "f") == arg
            ok = ok and (hit != negated)
        if ok:
            found.append((shown, e.path))
    return found


@command("du")
def du(sh: Shell, argv: list[str], io: IO) -> int:
    opts, paths = options("du", argv[1:], "shbkac", long={"--summarize": "s"})
    status = 0
    grand = 0

    def show(n: int) -> str:
        return human_size(n) if "h" in opts else str(n) if "b" in opts else str(
            math.ceil(n / 1024))

    for p in paths or ["."]:
        root = sh.abspath(p)
        top = _stat(sh, root)
        if top is None:
            io.err.write(f"du: cannot access '{p}': No such file or directory\n")
            status = 1
            continue
        totals: dict[str, int] = {root: top.size if top.is_regular else 0}
        order: list[str] = [root]
        for e in sh.container.walk(root) if top.is_dir else []:
            if e.is_dir:
                totals[e.path] = 0
                order.append(e.path)
            elif e.is_regular:
                parent = split(e.path)[0]
                while True:
                    totals[parent] = totals.get(parent, 0) + e.size
                    if parent in (root, ROOT):
                        break
                    parent = split(parent)[0]
        grand += totals[root]
        shown = order[:1] if "s" in opts else sorted(order, key=lambda d: (
            d != root, d), reverse=True)
        for d in shown:
            label = p if d == root else p.rstrip("/") + d[len(root):]
            io.out.write(f"{show(totals[d])}\t{label}\n")
    if "c" in opts:
        io.out.write(f"{show(grand)}\ttotal\n")
    return status
