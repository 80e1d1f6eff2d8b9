"""Cleaning and checking names: the one place that decides what is unsafe.

layerlab's public paths are absolute POSIX paths inside an image: ``/``, ``/etc``,
``/etc/hostname``. Tar member names such as ``./etc/hostname`` or ``etc/hostname``
come from untrusted archives; they are called ``unsafe_*`` until
:func:`clean_member_name` has turned them into a clean path or refused them.

Two cleaners, on purpose:

* :func:`clean_member_name` is for names read from archives. A name that climbs
  above the root (``../x``, ``/../x``, ``a/../../x``, ``..``) is refused, never
  clamped, because a real unpacker would have written outside its root.
* :func:`normalize` is for paths a user types into a lookup (``view.read("etc/../etc/x")``);
  it follows chroot semantics, where ``/..`` is ``/``, exactly as a process inside
  the container would see it.
"""

from __future__ import annotations

from collections.abc import Iterator

from .errors import LimitExceededError, UnsafePathError

__all__ = [
    "ROOT",
    "ancestors",
    "basename",
    "clean_member_name",
    "dirname",
    "join",
    "normalize",
    "split",
]

ROOT = "/"

#: Default longest path accepted from an archive, in UTF-8 bytes (Linux PATH_MAX).
MAX_PATH_BYTES = 4096
#: Longest single name (path component) in bytes, Linux NAME_MAX: not a cap one can raise.
NAME_MAX = 255


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part and part != "."]


def clean_member_name(
    unsafe_name: str, *, where: str = "", max_bytes: int = MAX_PATH_BYTES
) -> str:
    """Turn an archive member name into a clean absolute path, or refuse it.

    >>> clean_member_name("./etc/hostname")
    '/etc/hostname'
    >>> clean_member_name("a/b/../c")
    '/a/c'
    >>> clean_member_name("../x")
    Traceback (most recent call last):
    ...
    layerlab.errors.UnsafePathError: entry '../x': path escapes the root

    ``where`` prefixes the error message (for example ``"layer 2 (sha256:ab12…)"``).
    """
    # the common case, already clean: no '.', '..' or empty components, no NUL
    bare = unsafe_name[2:] if unsafe_name.startswith("./") else unsafe_name
    bare = bare.strip("/")
    framed = f"/{bare}/"
    if (
        bare
        and "//" not in framed
        and "/./" not in framed
        and "/../" not in framed
        and "\x00" not in bare
        and len(bare) * 4 <= max_bytes  # UTF-8 is at most 4 bytes a character
        and (len(bare) * 4 <= NAME_MAX or max(map(len, bare.split("/"))) * 4 <= NAME_MAX)
    ):
        return "/" + bare
    prefix = f"{where}: " if where else ""
    if "\x00" in unsafe_name:
        raise UnsafePathError(f"{prefix}entry {unsafe_name!r}: name contains a NUL byte")
    if len(unsafe_name.encode("utf-8", "surrogateescape")) > max_bytes:
        raise LimitExceededError(
            f"{prefix}entry {unsafe_name[:60]!r}...: name is longer than "
            f"max_path_bytes={max_bytes}; raise Limits.max_path_bytes to accept it"
        )
    parts: list[str] = []
    for part in _components(unsafe_name):
        if part == "..":
            if not parts:
                raise UnsafePathError(f"{prefix}entry {unsafe_name!r}: path escapes the root")
            parts.pop()
        else:
            if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX:
                raise LimitExceededError(
                    f"{prefix}entry {unsafe_name[:60]!r}...: a name in it is longer than "
                    f"NAME_MAX={NAME_MAX} bytes, which no Linux filesystem can hold"
                )
            parts.append(part)
    return "/" + "/".join(parts)


def normalize(path: str) -> str:
    """Clean a user-supplied lookup path with chroot semantics (``/..`` is ``/``).

    >>> normalize("etc//./hostname")
    '/etc/hostname'
    >>> normalize("/../../etc")
    '/etc'
    """
    if not isinstance(path, str):
        raise TypeError(f"path must be a str, not {type(path).__name__}")
    parts: list[str] = []
    for part in _components(path):
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)


def split(path: str) -> tuple[str, str]:
    """Split a clean path into (parent, name); the root splits into ('/', '')."""
    if path == ROOT:
        return ROOT, ""
    head, _, name = path.rpartition("/")
    return head or ROOT, name


def dirname(path: str) -> str:
    return split(path)[0]


def basename(path: str) -> str:
    return split(path)[1]


def join(parent: str, name: str) -> str:
    return parent + name if parent == ROOT else f"{parent}/{name}"


def ancestors(path: str) -> Iterator[str]:
    """Yield the proper ancestors of a clean path, root first, excluding the root itself.

    >>> list(ancestors("/a/b/c"))
    ['/a', '/a/b']
    """
    parts = path.split("/")[1:-1]
    acc = ""
    for part in parts:
        acc = f"{acc}/{part}"
        yield acc


def is_within(path: str, top: str) -> bool:
    """True if clean ``path`` is ``top`` or lies below it."""
    return top == ROOT or path == top or path.startswith(top + "/")
