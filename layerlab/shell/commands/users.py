"""User and group names: the container's /etc/passwd and /etc/group, else a small builtin map."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import FilesystemError

if TYPE_CHECKING:
    from ..interp import Shell

__all__ = ["group_id", "group_name", "user_id", "user_name"]

_USERS = {"root": 0, "daemon": 1, "bin": 2, "sys": 3, "www-data": 33, "nobody": 65534}
_GROUPS = {"root": 0, "daemon": 1, "bin": 2, "sys": 3, "www-data": 33, "nogroup": 65534,
           "nobody": 65534}


def _table(sh: Shell, path: str, builtin: dict[str, int]) -> dict[str, int]:
    try:
        text = sh.container.read(path).decode("utf-8", "replace")
    except FilesystemError:
        return builtin
    table: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            table.setdefault(fields[0], int(fields[2]))
    return table or builtin


def users(sh: Shell) -> dict[str, int]:
    return _table(sh, "/etc/passwd", _USERS)


def groups(sh: Shell) -> dict[str, int]:
    return _table(sh, "/etc/group", _GROUPS)


def user_id(sh: Shell, name: str) -> int | None:
    return int(name) if name.isdigit() else users(sh).get(name)


def group_id(sh: Shell, name: str) -> int | None:
    return int(name) if name.isdigit() else groups(sh).get(name)


def _name(table: dict[str, int], number: int) -> str:
    return next((n for n, i in table.items() if i == number), str(number))


def user_name(sh: Shell, uid: int) -> str:
    return _name(users(sh), uid)


def group_name(sh: Shell, gid: int) -> str:
    return _name(groups(sh), gid)
