"""A small, built-in package catalogue for the simulated ``apt-get``, ``apk`` and ``pip``.

**This is a simulation.** Nothing is downloaded. Installing a package writes files with the
names a real package installs and with sizes *scaled down* by :data:`SCALE` (100: a 35 MB
``cc1`` becomes 350 KB), so that notebooks stay fast while the proportions that make the
"why is my image so big" lessons work stay true: compilers are heavy, ``jq`` is light, the
apt package lists are large and ``.deb`` archives linger until ``apt-get clean``.

Contents are deterministic pseudo-random bytes seeded by package name, version and path,
so the same install gives byte-identical layers (and digests) every time.

>>> PACKAGES["curl"].depends
('libcurl4',)
>>> len(file_bytes(PACKAGES["jq"], PACKAGES["jq"].files[0])) == PACKAGES["jq"].files[0].size
True
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "APK_ALIASES",
    "APT_LISTS",
    "PACKAGES",
    "PIP_PACKAGES",
    "SCALE",
    "AptIndex",
    "Package",
    "PkgFile",
    "apt_indexes",
    "blob",
    "file_bytes",
]

#: real sizes are divided by this factor (documented in every install's first output line)
SCALE = 100


@dataclass(frozen=True)
class PkgFile:
    """One file a package installs: ``size`` bytes (already scaled), or a symlink/dir."""

    path: str
    size: int = 0
    link: str = ""
    is_dir: bool = False


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    files: tuple[PkgFile, ...]
    depends: tuple[str, ...] = ()
    recommends: tuple[str, ...] = ()
    section: str = "main"

    @property
    def installed_size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def archive_size(self) -> int:
        """The (scaled) size of the downloaded archive: about 40% of what it unpacks to."""
        return max(self.installed_size * 2 // 5, 512)


def _f(path: str, real_kb: float) -> PkgFile:
    return PkgFile(path, max(int(real_kb * 1024) // SCALE, 16))


def _l(path: str, target: str) -> PkgFile:
    return PkgFile(path, link=target)


def _d(path: str) -> PkgFile:
    return PkgFile(path, is_dir=True)


def _doc(name: str) -> PkgFile:
    return _f(f"/usr/share/doc/{name}/copyright", 12)


_LIB = "{lib}"  # /usr/lib/x86_64-linux-gnu on Debian and Ubuntu, /usr/lib on Alpine

_CATALOGUE = [
    Package("ca-certificates", "20240203", (
        _f("/etc/ssl/certs/ca-certificates.crt", 219),
        _f("/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt", 2),
        _f("/usr/share/ca-certificates/mozilla/DigiCert_Global_Root_G2.crt", 2),
        _f("/usr/sbin/update-ca-certificates", 6), _doc("ca-certificates"))),
    Package("libssl3", "3.0.13", (
        _f(f"{_LIB}/libssl.so.3", 687), _f(f"{_LIB}/libcrypto.so.3", 4451),
        _f(f"{_LIB}/engines-3/afalg.so", 27), _doc("libssl3"))),
    Package("openssl", "3.0.13", (
        _f("/usr/bin/openssl", 1009), _f("/etc/ssl/openssl.cnf", 12),
        _f("/usr/share/man/man1/openssl.1ssl.gz", 4), _doc("openssl")), ("libssl3",)),
    Package("libcurl4", "8.5.0", (
        _f(f"{_LIB}/libcurl.so.4.8.0", 727), _l(f"{_LIB}/libcurl.so.4", "libcurl.so.4.8.0"),
        _doc("libcurl4")), ("libssl3",), ("ca-certificates",)),
    Package("curl", "8.5.0", (
        _f("/usr/bin/curl", 268), _f("/usr/share/man/man1/curl.1.gz", 38), _doc("curl")),
        ("libcurl4",)),
    Package("wget", "1.21.4", (
        _f("/usr/bin/wget", 507), _f("/etc/wgetrc", 5), _f("/usr/share/man/man1/wget.1.gz", 16),
        _doc("wget")), ("libssl3",), ("ca-certificates",)),
    Package("less", "590", (
        _f("/usr/bin/less", 180), _f("/usr/share/man/man1/less.1.gz", 16), _doc("less"))),
    Package("git", "2.43.0", (
        _f("/usr/bin/git", 3928), _f("/usr/lib/git-core/git-remote-http", 1651),
        _l("/usr/lib/git-core/git-remote-https", "git-remote-http"),
        _f("/usr/lib/git-core/git-daemon", 1490),
        _f("/usr/share/git-core/templates/description", 1),
        _f("/usr/share/perl5/Git.pm", 52), _doc("git")),
        ("libcurl4",), ("less", "ca-certificates")),
    Package("python3", "3.12.3", (
        _f("/usr/bin/python3.12", 6634), _l("/usr/bin/python3", "python3.12"),
        _f("/usr/lib/python3.12/os.py", 39), _f("/usr/lib/python3.12/typing.py", 128),
        _f("/usr/lib/python3.12/asyncio/base_events.py", 78),
        _f("/usr/lib/python3.12/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so", 232),
        _f("/usr/lib/python3.12/pydoc_data/topics.py", 726),
        _f("/usr/lib/python3.12/encodings/cp1252.py", 13),
        _f("/usr/lib/python3.12/__pycache__/typing.cpython-312.pyc", 149),
        _f("/usr/lib/python3.12/bundle.zip", 12288), _doc("python3")), ("libssl3",)),
    Package("python3-pip", "24.0", (
        _f("/usr/bin/pip3", 1), _l("/usr/bin/pip", "pip3"),
        _f("/usr/lib/python3/dist-packages/pip/_internal/cli/main.py", 3),
        _f("/usr/lib/python3/dist-packages/pip/_vendor/rich/console.py", 99),
        _f("/usr/lib/python3/dist-packages/pip/_vendor/bundle.zip", 8704),
        _doc("python3-pip")), ("python3",), ("build-essential",)),
    Package("nginx", "1.24.0", (
        _f("/usr/sbin/nginx", 1320), _f("/etc/nginx/nginx.conf", 1.5),
        _f("/etc/nginx/mime.types", 5), _f("/etc/nginx/sites-available/default", 2),
        _l("/etc/nginx/sites-enabled/default", "/etc/nginx/sites-available/default"),
        _f("/var/www/html/index.nginx-debian.html", 1), _d("/var/log/nginx"),
        _doc("nginx")), ("libssl3",)),
    Package("vim", "9.1.0016", (
        _f("/usr/bin/vim.basic", 3847), _l("/usr/bin/vim", "vim.basic"),
        _f("/usr/share/vim/vim91/doc/help.txt", 9), _f("/usr/share/vim/vim91/syntax/c.vim", 18),
        _f("/usr/share/vim/vim91/runtime.tar", 30720), _doc("vim"))),
    Package("make", "4.3", (_f("/usr/bin/make", 253), _doc("make"))),
    Package("binutils", "2.42", (
        _f("/usr/bin/ld.bfd", 1925), _l("/usr/bin/ld", "ld.bfd"), _f("/usr/bin/as", 912),
        _f(f"{_LIB}/libbfd-2.42-system.so", 2560), _doc("binutils"))),
    Package("libc6-dev", "2.39", (
        _f("/usr/include/stdio.h", 31), _f("/usr/include/stdlib.h", 41),
        _f(f"{_LIB}/libc.a", 6144), _f(f"{_LIB}/libc_nonshared.a", 60),
        _f("/usr/include/linux/bundle.h", 12288), _doc("libc6-dev"))),
    Package("gcc", "13.2.0", (
        _f("/usr/bin/gcc-13", 1003), _l("/usr/bin/gcc", "gcc-13"), _l("/usr/bin/cc", "gcc"),
        _f("/usr/libexec/gcc/x86_64-linux-gnu/13/cc1", 35840),
        _f("/usr/libexec/gcc/x86_64-linux-gnu/13/lto1", 33792),
        _f("/usr/lib/gcc/x86_64-linux-gnu/13/libgcc.a", 3072), _doc("gcc")),
        ("binutils", "libc6-dev")),
    Package("g++", "13.2.0", (
        _f("/usr/bin/g++-13", 1007), _l("/usr/bin/g++", "g++-13"),
        _f("/usr/libexec/gcc/x86_64-linux-gnu/13/cc1plus", 38912),
        _f("/usr/include/c++/13/bundle.h", 15360), _doc("g++")), ("gcc",)),
    Package("build-essential", "12.10", (
        _f("/usr/share/build-essential/list", 1), _doc("build-essential")),
        ("gcc", "g++", "make", "libc6-dev")),
    Package("jq", "1.7.1", (
        _f("/usr/bin/jq", 39), _f(f"{_LIB}/libjq.so.1.0.4", 351),
        _f(f"{_LIB}/libonig.so.5.4.0", 598), _doc("jq"))),
    Package("tzdata", "2024a", (
        _f("/usr/share/zoneinfo/UTC", 0.1), _f("/usr/share/zoneinfo/Europe/Berlin", 2.3),
        _f("/usr/share/zoneinfo/America/New_York", 3.5), _f("/usr/share/zoneinfo/Asia/Tokyo", 0.3),
        _f("/usr/share/zoneinfo/tzdata.zi", 107), _f("/usr/share/zoneinfo/bundle.tzif", 3584),
        _doc("tzdata"))),
]

#: name -> package (Debian/Ubuntu names)
PACKAGES: dict[str, Package] = {p.name: p for p in _CATALOGUE}

#: Alpine names of the same packages
APK_ALIASES = {"build-base": "build-essential", "py3-pip": "python3-pip", "libcurl": "libcurl4",
               "openssl-libs": "libssl3", "libssl": "libssl3"}


def _pip(name: str, version: str, real_kb: float, module: str, *deps: str) -> Package:
    site = "/usr/local/lib/python3.12/site-packages"
    info = f"{site}/{name.replace('-', '_')}-{version}.dist-info"
    return Package(name, version, (
        _f(f"{site}/{module}/__init__.py", 4), _f(f"{site}/{module}/_bundle.bin", real_kb),
        _f(f"{info}/METADATA", 5), _f(f"{info}/RECORD", 3)), deps)


_PIP = [
    _pip("certifi", "2024.2.2", 292, "certifi"),
    _pip("idna", "3.6", 339, "idna"),
    _pip("urllib3", "2.2.1", 539, "urllib3"),
    _pip("charset-normalizer", "3.3.2", 536, "charset_normalizer"),
    _pip("requests", "2.31.0", 270, "requests", "certifi", "idna", "urllib3",
         "charset-normalizer"),
    _pip("markupsafe", "2.1.5", 47, "markupsafe"),
    _pip("jinja2", "3.1.3", 806, "jinja2", "markupsafe"),
    _pip("click", "8.1.7", 507, "click"),
    _pip("itsdangerous", "2.1.2", 64, "itsdangerous"),
    _pip("blinker", "1.7.0", 47, "blinker"),
    _pip("werkzeug", "3.0.1", 1114, "werkzeug", "markupsafe"),
    _pip("flask", "3.0.2", 290, "flask", "werkzeug", "jinja2", "itsdangerous", "click",
         "blinker"),
    _pip("numpy", "1.26.4", 61440, "numpy"),
]

#: pip's catalogue (lower-case project names)
PIP_PACKAGES: dict[str, Package] = {p.name: p for p in _PIP}

@dataclass(frozen=True)
class AptIndex:
    """One file ``apt-get update`` fetches: the ``InRelease`` of ``dist`` (``component``
    empty) or the amd64 ``Packages`` index of one component, from the archive at ``base``
    (``deb.debian.org/debian``). ``download_kb`` is what apt prints in brackets (the
    ``.xz`` on the wire), ``stored_kb`` what the file takes in ``/var/lib/apt/lists``:
    Docker's Debian and Ubuntu images set ``Acquire::GzipIndexes`` (their
    ``/etc/apt/apt.conf.d/docker-gzip-indexes``), so apt keeps the indexes compressed, as
    ``.lz4``. Both are real sizes in KB; the simulation divides them by :data:`SCALE`.

    >>> i = AptIndex("deb.debian.org/debian-security", "bookworm-security", "main", 241, 500)
    >>> i.filename
    'deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.lz4'
    >>> i.get_line
    'http://deb.debian.org/debian-security bookworm-security/main amd64 Packages'
    """

    base: str
    dist: str
    component: str
    download_kb: float
    stored_kb: float

    @property
    def filename(self) -> str:
        """The name apt gives the file in ``/var/lib/apt/lists`` (``/`` turned to ``_``)."""
        prefix = f"{self.base.replace('/', '_')}_dists_{self.dist}"
        if not self.component:
            return f"{prefix}_InRelease"
        return f"{prefix}_{self.component}_binary-amd64_Packages.lz4"

    @property
    def get_line(self) -> str:
        """What apt prints after ``Get:N``, before the size."""
        if not self.component:
            return f"http://{self.base} {self.dist} InRelease"
        return f"http://{self.base} {self.dist}/{self.component} amd64 Packages"


def apt_indexes(distro: str, suite: str) -> tuple[AptIndex, ...]:
    """What ``apt-get update`` fetches in Docker's ``debian`` or ``ubuntu`` image of
    ``suite``, in the order the simulation prints it (the release files, then the
    indexes).

    Debian (bookworm, trixie: ``/etc/apt/sources.list.d/debian.sources``) has one
    component, ``main``, in ``SUITE``, ``SUITE-updates`` and, from ``deb.debian.org/
    debian-security``, ``SUITE-security``. Ubuntu (noble: ``ubuntu.sources``) has ``main
    restricted universe multiverse`` in ``SUITE``, ``SUITE-updates`` and
    ``SUITE-backports`` from ``archive.ubuntu.com`` and ``SUITE-security`` from
    ``security.ubuntu.com``. Sizes are rounded figures of real runs.

    >>> [i.get_line for i in apt_indexes("debian", "trixie")][3]
    'http://deb.debian.org/debian trixie/main amd64 Packages'
    >>> sorted({i.component for i in apt_indexes("ubuntu", "noble")} - {""})
    ['main', 'multiverse', 'restricted', 'universe']
    """
    if distro == "debian":
        main, security = "deb.debian.org/debian", "deb.debian.org/debian-security"
        return (
            AptIndex(main, suite, "", 151, 151),
            AptIndex(main, f"{suite}-updates", "", 55.4, 55.4),
            AptIndex(security, f"{suite}-security", "", 48.0, 48.0),
            AptIndex(main, suite, "main", 8780, 17408),
            AptIndex(main, f"{suite}-updates", "main", 13.5, 28),
            AptIndex(security, f"{suite}-security", "main", 241, 512),
        )
    archive, security = "archive.ubuntu.com/ubuntu", "security.ubuntu.com/ubuntu"
    # (dist, host, {component: (download KB, stored KB)})
    layout = (
        (suite, archive, {"main": (1808, 5939), "restricted": (117, 380),
                          "universe": (19300, 30720), "multiverse": (331, 1024)}),
        (f"{suite}-updates", archive, {"main": (1200, 4096), "restricted": (1100, 3072),
                                       "universe": (1400, 4608), "multiverse": (27, 96)}),
        (f"{suite}-backports", archive, {"main": (48, 160), "universe": (30, 100)}),
        (f"{suite}-security", security, {"main": (900, 2560), "restricted": (1000, 2816),
                                         "universe": (1000, 3584), "multiverse": (22, 80)}),
    )
    releases = [AptIndex(host, dist, "", 256 if dist == suite else 126,
                         256 if dist == suite else 126) for dist, host, _ in layout]
    indexes = [AptIndex(host, dist, component, down, stored)
               for dist, host, components in layout
               for component, (down, stored) in components.items()]
    return (*releases, *indexes)


#: (file name, stored KB) of what ``apt-get update`` writes to /var/lib/apt/lists in
#: Docker's Debian bookworm image; :func:`apt_indexes` has every distribution and suite
APT_LISTS = tuple((i.filename, i.stored_kb) for i in apt_indexes("debian", "bookworm"))


def blob(seed: str, size: int, *, text: bool = False) -> bytes:
    """Deterministic filler: pseudo-random bytes (binaries, archives) or readable lines."""
    if text:
        line = f"# layerlab simulated content: {seed}\n".encode()
        return (line * (size // len(line) + 1))[:size]
    return random.Random(seed).randbytes(size)


def file_bytes(package: Package, f: PkgFile) -> bytes:
    textual = f.path.startswith(("/etc/", "/usr/share/doc/", "/usr/include/")) or \
        f.path.endswith((".py", ".txt", ".vim", ".pm", ".h", ".conf", "METADATA", "RECORD"))
    return blob(f"{package.name} {package.version} {f.path}", f.size, text=textual)
