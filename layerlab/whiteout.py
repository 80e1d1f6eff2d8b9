"""How a deletion is spelled on disk: the one codec for whiteouts and opaque markers.

A layer says "delete ``/a``" or "hide every lower child of ``/d``" with two marker
entries (:attr:`~layerlab.entry.EntryKind.WHITEOUT`, :attr:`~layerlab.entry.EntryKind.OPAQUE`).
What the markers *do* is the merge, in :mod:`layerlab.union`; this module only knows how
they are written, as umoci keeps them beside its tar code:

* **tar layers** (OCI image spec layer.md, Docker's AUFS conventions): a whiteout is an
  empty member ``<dir>/.wh.<name>``, an opaque directory is ``<dir>/.wh..wh..opq``;
  other ``.wh..wh.*`` names (``.wh..wh.plnk``, ``.wh..wh.aufs``) are AUFS bookkeeping;
* **overlayfs directories** (the kernel's overlayfs, Docker's overlay2 and containerd's
  overlayfs snapshotter): a whiteout is a character device 0/0, or (kernel >= 6.7, no
  privileges needed) a zero-size file with the xattr ``<ns>.overlay.whiteout`` whose
  directory carries ``<ns>.overlay.opaque = "x"``; an opaque directory carries
  ``<ns>.overlay.opaque = "y"``. ``<ns>`` is ``trusted`` (real root) or ``user``
  (``userxattr`` mounts in a user namespace).

>>> classify_name("/etc/.wh.motd")
('whiteout', '/etc/motd')
>>> marker_member_name(Entry("/var/cache", EntryKind.OPAQUE))
'var/cache/.wh..wh..opq'
>>> overlay_xattr("user", OVERLAY_OPAQUE_XATTR)
'user.overlay.opaque'
"""

from __future__ import annotations

import contextlib
import os
import stat
from typing import Literal

from .entry import Entry, EntryKind
from .errors import MalformedWhiteoutError
from .paths import ROOT, join, split

__all__ = [
    "AUFS_META_PREFIX",
    "OPAQUE_MARKER",
    "OVERLAY_HAS_XWHITEOUTS",
    "OVERLAY_OPAQUE",
    "OVERLAY_OPAQUE_XATTR",
    "OVERLAY_WHITEOUT_XATTR",
    "OVERLAY_XATTR_NAMESPACES",
    "OVERLAY_XATTR_PREFIX",
    "WHITEOUT_DEVICE",
    "WHITEOUT_PREFIX",
    "canonical_key",
    "classify_name",
    "is_aufs_metadata",
    "is_overlay_opaque",
    "is_overlay_whiteout",
    "is_overlay_xattr",
    "is_reserved_name",
    "is_whiteout_device",
    "marker_member_name",
    "overlay_xattr",
    "whiteout_name",
    "whiteout_target",
]

# --- tar layers: OCI / AUFS names --------------------------------------------------------

#: ``.wh.<name>`` deletes ``<name>`` from the layers below
WHITEOUT_PREFIX = ".wh."
#: ``.wh..wh.*``: AUFS bookkeeping, except :data:`OPAQUE_MARKER`
AUFS_META_PREFIX = ".wh..wh."
#: ``<dir>/.wh..wh..opq`` hides every lower child of ``<dir>``
OPAQUE_MARKER = ".wh..wh..opq"

# --- overlayfs directories ----------------------------------------------------------------

#: the xattr namespaces overlayfs reads its markers from: real root, then user namespaces
OVERLAY_XATTR_NAMESPACES = ("trusted", "user")
#: after ``<ns>.``: every xattr overlayfs reserves for itself starts so
OVERLAY_XATTR_PREFIX = "overlay."
#: a zero-size file carrying ``<ns>.overlay.whiteout`` is a whiteout (kernel >= 6.7)
OVERLAY_WHITEOUT_XATTR = "overlay.whiteout"
#: a directory's ``<ns>.overlay.opaque``: :data:`OVERLAY_OPAQUE` or :data:`OVERLAY_HAS_XWHITEOUTS`
OVERLAY_OPAQUE_XATTR = "overlay.opaque"
#: ``overlay.opaque`` value of an opaque directory
OVERLAY_OPAQUE = b"y"
#: ``overlay.opaque`` value of a directory that holds xattr whiteouts (not opaque)
OVERLAY_HAS_XWHITEOUTS = b"x"
#: (major, minor) of the character device that is a whiteout
WHITEOUT_DEVICE = (0, 0)


# --- tar names ------------------------------------------------------------------------------


def classify_name(
    path: str, *, where: str = ""
) -> tuple[Literal["whiteout", "opaque"], str] | None:
    """Interpret a clean member path as a marker.

    Returns ``("whiteout", deleted_path)``, ``("opaque", directory)``, ``None`` for an
    ordinary entry, or raises :class:`MalformedWhiteoutError`. Only the basename counts.
    AUFS metadata (``.wh..wh.*`` other than the opaque marker, and anything below it) is
    recognized by :func:`is_aufs_metadata`; test that first.

    >>> classify_name("/etc/.wh.motd")
    ('whiteout', '/etc/motd')
    >>> classify_name("/var/cache/.wh..wh..opq")
    ('opaque', '/var/cache')
    >>> classify_name("/.wh.etc/somefile") is None
    True
    """
    parent, name = split(path)
    if not name.startswith(WHITEOUT_PREFIX):
        return None
    if name == OPAQUE_MARKER:
        return ("opaque", parent)
    target = name[len(WHITEOUT_PREFIX) :]
    if target in ("", ".", ".."):
        prefix = f"{where}: " if where else ""
        raise MalformedWhiteoutError(
            f"{prefix}entry {path!r}: whiteout names nothing ({name!r} would delete "
            f"{target or 'an empty name'!r}); the OCI spec says implementations SHOULD error"
        )
    return ("whiteout", join(parent, target))


def is_aufs_metadata(path: str) -> bool:
    """True for AUFS bookkeeping (``.wh..wh.plnk``, ``.wh..wh.aufs`` and what is below them).

    >>> is_aufs_metadata("/.wh..wh.plnk/123.456"), is_aufs_metadata("/d/.wh..wh..opq")
    (True, False)
    """
    if AUFS_META_PREFIX not in path:
        return False
    return any(
        part.startswith(AUFS_META_PREFIX) and part != OPAQUE_MARKER for part in path.split("/")
    )


def marker_member_name(entry: Entry) -> str:
    """The tar member name that spells a whiteout or opaque marker entry.

    >>> marker_member_name(Entry("/etc/motd", EntryKind.WHITEOUT))
    'etc/.wh.motd'
    >>> marker_member_name(Entry("/", EntryKind.OPAQUE))
    '.wh..wh..opq'
    """
    if entry.kind is EntryKind.OPAQUE:
        return join(entry.path, OPAQUE_MARKER)[1:]
    parent, name = split(entry.path)
    return join(parent, WHITEOUT_PREFIX + name)[1:]


def is_reserved_name(name: str) -> bool:
    """True for a basename that a layer could not tell apart from a marker (union row 22).

    >>> is_reserved_name(".wh.x"), is_reserved_name(".whx")
    (True, False)
    """
    return name.startswith(WHITEOUT_PREFIX)


def whiteout_name(name: str) -> str:
    """The basename that whites out ``name``: ``motd`` -> ``.wh.motd``."""
    return WHITEOUT_PREFIX + name


def whiteout_target(path: str) -> tuple[str, bool]:
    """``(path without the whiteout prefix of its last name, True)`` for a whiteout's
    spelling, ``(path, False)`` otherwise: ``/etc/.wh.motd`` -> ``('/etc/motd', True)``.

    Unlike :func:`classify_name` this never raises and does not single out the opaque
    marker (dive reads whiteout names this way).

    >>> whiteout_target("/etc/.wh.motd"), whiteout_target("/etc/motd")
    (('/etc/motd', True), ('/etc/motd', False))
    """
    parent, name = split(path)
    if name.startswith(WHITEOUT_PREFIX):
        return join(parent, name[len(WHITEOUT_PREFIX) :]), True
    return path, False


def canonical_key(entry: Entry) -> tuple[tuple[int, str], ...]:
    """Sort key for generated layers: by path, parents first, markers before siblings
    (an opaque marker first in its directory, a whiteout before the other names)."""
    if entry.path == ROOT:
        return ((-1, ""),) if entry.kind is not EntryKind.OPAQUE else ((-1, ""), (0, ""))
    parts = entry.path[1:].split("/")
    key = [(2, part) for part in parts]
    if entry.kind is EntryKind.OPAQUE:
        key.append((0, ""))
    elif entry.kind is EntryKind.WHITEOUT:
        key[-1] = (1, parts[-1])
    return ((-1, ""), *key)


# --- overlayfs spellings ------------------------------------------------------------------


def overlay_xattr(namespace: str, key: str) -> str:
    """The full xattr name: ``overlay_xattr("trusted", "overlay.opaque")`` is
    ``"trusted.overlay.opaque"``."""
    return f"{namespace}.{key}"


def is_overlay_xattr(name: str, namespaces: tuple[str, ...] = OVERLAY_XATTR_NAMESPACES) -> bool:
    """True for an xattr overlayfs keeps for itself (``<ns>.overlay.*``, ``<ns>`` in
    ``namespaces``): a layer's own xattr of that name would be read as a marker.

    >>> is_overlay_xattr("trusted.overlay.opaque"), is_overlay_xattr("user.mime_type")
    (True, False)
    """
    ns, _, rest = name.partition(".")
    return ns in namespaces and rest.startswith(OVERLAY_XATTR_PREFIX)


def is_whiteout_device(st: os.stat_result) -> bool:
    """True if ``st`` (from ``os.lstat``) is the character device 0/0 of a whiteout."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(*WHITEOUT_DEVICE)


def is_overlay_whiteout(
    host: str | os.PathLike[str], *, namespaces: tuple[str, ...] = OVERLAY_XATTR_NAMESPACES
) -> bool:
    """True if the object at ``host`` is an overlayfs whiteout in either form: a character
    device 0/0, or a zero-size regular file with ``<ns>.overlay.whiteout``. Symlinks are
    not followed; a missing path is not a whiteout."""
    try:
        st = os.lstat(host)
    except (FileNotFoundError, NotADirectoryError):
        return False
    if is_whiteout_device(st):
        return True
    if not stat.S_ISREG(st.st_mode) or st.st_size != 0:
        return False
    for ns in namespaces:
        with contextlib.suppress(OSError):
            os.getxattr(host, overlay_xattr(ns, OVERLAY_WHITEOUT_XATTR), follow_symlinks=False)
            return True
    return False


def is_overlay_opaque(
    host: str | os.PathLike[str], *, namespaces: tuple[str, ...] = OVERLAY_XATTR_NAMESPACES
) -> bool:
    """True if the directory at ``host`` is opaque to overlayfs (``<ns>.overlay.opaque``
    is ``"y"``); ``"x"`` only says it holds xattr whiteouts, and is not opaque. Symlinks
    are not followed; a missing path is not opaque."""
    for ns in namespaces:
        try:
            value = os.getxattr(host, overlay_xattr(ns, OVERLAY_OPAQUE_XATTR),
                                follow_symlinks=False)
        except OSError:
            continue
        if value == OVERLAY_OPAQUE:
            return True
    return False
