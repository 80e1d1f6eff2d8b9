"""Simulated package managers: ``apt-get``/``apt``, ``apk`` and ``pip``.

They install from :mod:`layerlab.shell.packages` (no network) and write what the real tools
leave behind, because that is what the image-size lessons are about:

* ``apt-get update`` fills ``/var/lib/apt/lists`` (``rm -rf /var/lib/apt/lists/*`` in the
  *same* ``RUN`` is what keeps them out of the image); ``install`` fails with "Unable to
  locate package" while the lists are empty, as on a fresh Debian or Ubuntu image;
* ``apt-get install`` leaves ``.deb`` archives in ``/var/cache/apt/archives`` until
  ``apt-get clean`` (unless the image has Docker's ``apt.conf.d/docker-clean``), and
  installs recommended packages unless ``--no-install-recommends``;
* ``apk add`` keeps its index in ``/var/cache/apk`` unless ``--no-cache``;
* ``pip install`` keeps wheels in ``~/.cache/pip`` unless ``--no-cache-dir``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import FilesystemError
from ..interp import IO, from_bytes, to_bytes
from ..packages import (
    APK_ALIASES,
    PACKAGES,
    PIP_PACKAGES,
    SCALE,
    Package,
    apt_indexes,
    blob,
    file_bytes,
)
from .registry import UsageError, command

if TYPE_CHECKING:
    from ..interp import Shell

__all__ = ["NOTICE"]

NOTICE = f"layerlab: simulated package install (no network; sizes scaled down {SCALE}x)\n"
_APT_LISTS_DIR = "/var/lib/apt/lists"
_APT_ARCHIVES = "/var/cache/apt/archives"
_DPKG_INFO = "/var/lib/dpkg/info"
_APK_DB = "/lib/apk/db/installed"


def _split_args(args: list[str], valued: tuple[str, ...]) -> tuple[set[str], list[str]]:
    """(flags, operands); options in ``valued`` (``-o X``, ``--virtual NAME``) eat a value."""
    flags: set[str] = set()
    operands: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a.startswith("-"):
            flags.add(a)
            skip = a in valued
        else:
            operands.append(a)
    return flags, operands


def _exists(sh: Shell, path: str) -> bool:
    return sh.container.exists(path)


def _read(sh: Shell, path: str) -> str:
    try:
        return from_bytes(sh.container.read(path))
    except FilesystemError:
        return ""


def _put(sh: Shell, path: str, data: bytes) -> None:
    parent = path.rsplit("/", 1)[0] or "/"
    sh.container.mkdir(parent, parents=True)
    sh.container.write(path, data)


def _kb(n: int) -> str:
    return f"{n / 1000:,.1f} kB"


def _os_release(sh: Shell) -> tuple[str, str]:
    """(distribution id, codename) from /etc/os-release; Ubuntu noble if absent."""
    fields = dict(line.split("=", 1) for line in _read(sh, "/etc/os-release").splitlines()
                  if "=" in line)
    distro = fields.get("ID", "").strip('"')
    codename = fields.get("VERSION_CODENAME", "bookworm" if distro == "debian" else "noble")
    return distro, codename.strip('"')


def _apt_distro(sh: Shell) -> tuple[str, str]:
    distro, codename = _os_release(sh)
    return ("debian" if distro == "debian" else "ubuntu"), codename


def _install_files(sh: Shell, pkg: Package, lib: str) -> list[str]:
    written: list[str] = []
    for f in pkg.files:
        path = f.path.replace("{lib}", lib)
        if f.is_dir:
            sh.container.mkdir(path, parents=True)
        elif f.link:
            sh.container.mkdir(path.rsplit("/", 1)[0] or "/", parents=True)
            sh.container.remove(path, missing_ok=True)
            sh.container.symlink(f.link, path)
        else:
            _put(sh, path, file_bytes(pkg, f))
        written.append(path)
    return written


def _resolve(names: list[str], catalogue: dict[str, Package], installed: set[str], *,
             recommends: bool) -> list[Package]:
    """Packages to install, dependencies first, skipping what is installed."""
    order: list[Package] = []
    seen = set(installed)

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        pkg = catalogue[name]
        for dep in (*pkg.depends, *(pkg.recommends if recommends else ())):
            visit(dep)
        order.append(pkg)

    for name in names:
        visit(name)
    return order


# --- apt-get ----------------------------------------------------------------------------------
def _apt_installed(sh: Shell) -> set[str]:
    try:
        names = sh.container.listdir(_DPKG_INFO)
    except FilesystemError:
        return set()
    return {n[:-5] for n in names if n.endswith(".list")}


@command("apt-get", "apt")
def apt_get(sh: Shell, argv: list[str], io: IO) -> int:
    if _exists(sh, "/etc/alpine-release") or _os_release(sh)[0] == "alpine":
        io.err.write(f"{sh.argv0}: 1: {argv[0]}: not found\n")
        return 127
    flags, args = _split_args(argv[1:], ("-o", "-t", "--target-release"))
    if not args:
        raise UsageError("E: No command given (try: update, install, remove, clean)", 100)
    action, names = args[0], args[1:]
    if action == "update":
        return _apt_update(sh, io)
    if action == "install":
        return _apt_install(sh, names, io, recommends="--no-install-recommends" not in flags)
    if action in ("remove", "purge", "autoremove"):
        return _apt_remove(sh, names, io)
    if action in ("clean", "autoclean"):
        for name in sh.container.listdir(_APT_ARCHIVES) if _exists(sh, _APT_ARCHIVES) else []:
            if name.endswith(".deb"):
                sh.container.remove(f"{_APT_ARCHIVES}/{name}")
        return 0
    if action in ("upgrade", "dist-upgrade"):
        io.out.write("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n")
        return 0
    raise UsageError(f"E: Invalid operation {action}", 100)


def _apt_update(sh: Shell, io: IO) -> int:
    distro, suite = _apt_distro(sh)
    io.out.write("layerlab: simulated package index download (no network)\n")
    for k, index in enumerate(apt_indexes(distro, suite), start=1):
        size = int(index.stored_kb * 1024) // SCALE
        _put(sh, f"{_APT_LISTS_DIR}/{index.filename}", blob(index.filename, size))
        io.out.write(f"Get:{k} {index.get_line} "
                     f"[{_kb(int(index.download_kb * 1024) // SCALE)}]\n")
    sh.container.mkdir(f"{_APT_LISTS_DIR}/partial", parents=True)
    io.out.write("Reading package lists... Done\n")
    return 0


def _apt_install(sh: Shell, names: list[str], io: IO, *, recommends: bool) -> int:
    io.out.write(NOTICE + "Reading package lists... Done\nBuilding dependency tree... Done\n")
    lists = [n for n in (sh.container.listdir(_APT_LISTS_DIR) if _exists(sh, _APT_LISTS_DIR)
                         else []) if n != "partial" and n != "lock"]
    missing = [n for n in names if not lists or n not in PACKAGES]
    if missing:
        for n in missing:
            io.err.write(f"E: Unable to locate package {n}\n")
        if not lists:
            io.err.write("layerlab: the package lists are empty: run apt-get update first\n")
        return 100
    installed = _apt_installed(sh)
    for n in names:
        if n in installed:
            io.out.write(f"{n} is already the newest version ({PACKAGES[n].version}).\n")
    todo = _resolve(names, PACKAGES, installed, recommends=recommends)
    if todo:
        io.out.write("The following NEW packages will be installed:\n  "
                     + " ".join(sorted(p.name for p in todo)) + "\n")
    io.out.write(f"0 upgraded, {len(todo)} newly installed, 0 to remove and 0 not upgraded.\n")
    if not todo:
        return 0
    io.out.write(f"Need to get {_kb(sum(p.archive_size for p in todo))} of archives.\n"
                 f"After this operation, {_kb(sum(p.installed_size for p in todo))} of "
                 "additional disk space will be used.\n")
    distro, suite = _apt_distro(sh)
    archive = "deb.debian.org/debian" if distro == "debian" else "archive.ubuntu.com/ubuntu"
    keep_debs = not _exists(sh, "/etc/apt/apt.conf.d/docker-clean")
    for k, pkg in enumerate(todo, start=1):
        io.out.write(f"Get:{k} http://{archive} {suite}/{pkg.section} amd64 {pkg.name} amd64 "
                     f"{pkg.version} [{_kb(pkg.archive_size)}]\n")
        if keep_debs:
            deb = f"{pkg.name}_{pkg.version}_amd64.deb"
            _put(sh, f"{_APT_ARCHIVES}/{deb}", blob(deb, pkg.archive_size))
    for pkg in todo:
        written = _install_files(sh, pkg, "/usr/lib/x86_64-linux-gnu")
        _put(sh, f"{_DPKG_INFO}/{pkg.name}.list", to_bytes("".join(f"{p}\n" for p in written)))
        sh.container.mkdir("/var/lib/dpkg", parents=True)
        sh.container.append("/var/lib/dpkg/status", (
            f"Package: {pkg.name}\nStatus: install ok installed\nVersion: {pkg.version}\n"
            f"Installed-Size: {pkg.installed_size // 1024}\n\n"))
        io.out.write(f"Setting up {pkg.name} ({pkg.version}) ...\n")
    return 0


def _apt_remove(sh: Shell, names: list[str], io: IO) -> int:
    installed = _apt_installed(sh)
    for name in names:
        if name not in installed:
            io.out.write(f"Package '{name}' is not installed, so not removed\n")
            continue
        listing = f"{_DPKG_INFO}/{name}.list"
        for path in reversed(_read(sh, listing).splitlines()):
            entry = sh.container.stat(path) if _exists(sh, path) else None
            if entry is not None and not (entry.is_dir and sh.container.listdir(path)):
                sh.container.remove(path)
        sh.container.remove(listing)
        stanzas = _read(sh, "/var/lib/dpkg/status").split("\n\n")
        kept = [s for s in stanzas if s.strip() and not s.startswith(f"Package: {name}\n")]
        sh.container.write("/var/lib/dpkg/status", "".join(f"{s}\n\n" for s in kept))
        io.out.write(f"Removing {name} ({PACKAGES[name].version if name in PACKAGES else ''})"
                     " ...\n")
    return 0


# --- apk --------------------------------------------------------------------------------------
def _apk_installed(sh: Shell) -> set[str]:
    return {line[2:] for line in _read(sh, _APK_DB).splitlines() if line.startswith("P:")}


def _apk_index(sh: Shell, io: IO, *, cache: bool) -> None:
    for repo in ("main", "community"):
        io.out.write(f"fetch https://dl-cdn.alpinelinux.org/alpine/v3.20/{repo}/x86_64/"
                     "APKINDEX.tar.gz\n")
        if cache:
            name = f"APKINDEX.{blob(repo, 4).hex()}.tar.gz"
            _put(sh, f"/var/cache/apk/{name}",
                 blob(name, (450 if repo == "main" else 1400) * 1024 // SCALE))


@command("apk")
def apk(sh: Shell, argv: list[str], io: IO) -> int:
    if _exists(sh, "/etc/debian_version") or _os_release(sh)[0] in ("debian", "ubuntu"):
        io.err.write(f"{sh.argv0}: 1: {argv[0]}: not found\n")
        return 127
    flags, args = _split_args(argv[1:], ("-t", "--virtual", "-X", "--repository"))
    if not args:
        raise UsageError("usage: apk [<OPTIONS>...] COMMAND [<ARGUMENTS>...]", 1)
    action, names = args[0], [APK_ALIASES.get(n, n) for n in args[1:]]
    cache = "--no-cache" not in flags
    if action == "update":
        io.out.write("layerlab: simulated package index download (no network)\n")
        _apk_index(sh, io, cache=True)
        return 0
    if action == "del":
        installed = _apk_installed(sh)
        for name in names:
            if name not in installed:
                continue
            for f in PACKAGES[name].files:
                path = f.path.replace("{lib}", "/usr/lib")
                if _exists(sh, path) and not f.is_dir:
                    sh.container.remove(path)
            lines = _read(sh, _APK_DB).split("\n\n")
            sh.container.write(_APK_DB, "\n\n".join(s for s in lines
                                                      if not s.startswith(f"P:{name}\n")))
            io.out.write(f"(1/1) Purging {name} ({PACKAGES[name].version}-r0)\n")
        return 0
    if action != "add":
        raise UsageError(f"apk: unknown command '{action}'", 1)
    io.out.write(NOTICE)
    unknown = [n for n in names if n not in PACKAGES]
    if unknown:
        io.err.write("ERROR: unable to select packages:\n" + "".join(
            f"  {n} (no such package):\n    required by: world[{n}]\n" for n in unknown))
        return 1
    if cache or not _exists(sh, "/var/cache/apk"):
        _apk_index(sh, io, cache=cache)
    todo = _resolve(names, PACKAGES, _apk_installed(sh), recommends=False)
    for k, pkg in enumerate(todo, start=1):
        io.out.write(f"({k}/{len(todo)}) Installing {pkg.name} ({pkg.version}-r0)\n")
        _install_files(sh, pkg, "/usr/lib")
        sh.container.mkdir("/lib/apk/db", parents=True)
        sh.container.append(_APK_DB, f"P:{pkg.name}\nV:{pkg.version}-r0\n\n")
    total = sum(PACKAGES[n].installed_size for n in _apk_installed(sh) if n in PACKAGES)
    io.out.write(f"OK: {total / 1024:.1f} KiB in {len(_apk_installed(sh))} packages\n")
    return 0


# --- pip --------------------------------------------------------------------------------------
@command("pip", "pip3")
def pip(sh: Shell, argv: list[str], io: IO) -> int:
    if sh.which("pip") is None and sh.which("pip3") is None:
        io.err.write(f"{sh.argv0}: 1: {argv[0]}: not found\n")
        return 127
    flags, args = _split_args(argv[1:], ("-i", "--index-url", "-c", "--constraint"))
    if "--version" in flags:
        io.out.write("pip 24.0 from /usr/lib/python3/dist-packages/pip (layerlab simulated)\n")
        return 0
    if not args or args[0] not in ("install", "uninstall", "list", "--version"):
        raise UsageError("ERROR: layerlab's pip supports install, uninstall and list", 1)
    site = "/usr/local/lib/python3.12/site-packages"
    installed = {n.split("-")[0].replace("_", "-").lower() for n in
                 (sh.container.listdir(site) if _exists(sh, site) else [])
                 if n.endswith(".dist-info")}
    if args[0] == "list":
        io.out.write("".join(f"{n} {PIP_PACKAGES[n].version}\n" for n in sorted(installed)
                             if n in PIP_PACKAGES))
        return 0
    names = [a.split("==")[0].lower() for a in args[1:]]
    if args[0] == "uninstall":
        for name in names:
            if name in installed:
                for f in PIP_PACKAGES[name].files:
                    sh.container.remove(f.path, missing_ok=True)
                io.out.write(f"Successfully uninstalled {name}-{PIP_PACKAGES[name].version}\n")
        return 0
    io.out.write(NOTICE)
    unknown = [n for n in names if n not in PIP_PACKAGES]
    if unknown:
        io.err.write(f"ERROR: Could not find a version that satisfies the requirement "
                     f"{unknown[0]} (from versions: none)\n"
                     f"ERROR: No matching distribution found for {unknown[0]}\n")
        return 1
    todo = _resolve(names, PIP_PACKAGES, installed, recommends=False)
    cache = "--no-cache-dir" not in flags and not sh.vars.get("PIP_NO_CACHE_DIR")
    home = sh.vars.get("HOME") or "/root"
    for pkg in todo:
        wheel = f"{pkg.name.replace('-', '_')}-{pkg.version}-py3-none-any.whl"
        io.out.write(f"Collecting {pkg.name}\n  Downloading {wheel} ({_kb(pkg.archive_size)})\n")
        if cache:
            key = blob(wheel, 8).hex()
            _put(sh, f"{home}/.cache/pip/http-v2/{key[:2]}/{key[2:4]}/{key}",
                 blob(wheel, pkg.archive_size))
    for pkg in todo:
        _install_files(sh, pkg, "/usr/lib")
    if todo:
        io.out.write("Installing collected packages: " + ", ".join(p.name for p in todo) + "\n"
                     "Successfully installed "
                     + " ".join(f"{p.name}-{p.version}" for p in todo) + "\n")
    return 0
