"""Registry credentials and the ``WWW-Authenticate`` challenge flow.

A registry answers an anonymous request with ``401`` and a challenge. ``Basic realm=...``
means "send a user name and password with every request"; ``Bearer realm=...,service=...,
scope=...`` (Docker Hub, GHCR, Quay) means "fetch a token from the realm for this scope, then
send it as ``Authorization: Bearer``". The token request itself carries the credentials (Basic)
when there are any, and is anonymous otherwise: that is how ``docker pull alpine`` works
without a login.

Credentials come from the ``auth=`` argument, else from ``~/.docker/config.json`` (or
``$DOCKER_CONFIG/config.json``): its ``auths`` section maps a registry to
``{"auth": base64("user:password")}`` (or ``username``/``password``). Credential helpers
(``credsStore``, ``credHelpers``) are programs layerlab does not run.

Secrets are never printed: :class:`Credentials` hides its password in ``repr`` and error
messages name the registry and the user only.

>>> parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"')
('bearer', {'realm': 'https://auth.docker.io/token', 'service': 'registry.docker.io'})
>>> Credentials("alice", "s3cret")
Credentials(username='alice', password='***')
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Credentials", "docker_config_credentials", "parse_challenge"]

HUB_CONFIG_KEY = "https://index.docker.io/v1/"
_HUB_NAMES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.docker.io"}


@dataclass(frozen=True)
class Credentials:
    """A user name and a password (or access token). ``repr`` never shows the password."""

    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def as_credentials(auth: Any) -> Credentials | None:
    """Accept ``Credentials``, a ``(user, password)`` pair or ``{"username":, "password":}``."""
    if auth is None or isinstance(auth, Credentials):
        return auth
    if isinstance(auth, (tuple, list)) and len(auth) == 2:
        return Credentials(str(auth[0]), str(auth[1]))
    if isinstance(auth, Mapping) and "username" in auth:
        return Credentials(str(auth["username"]), str(auth.get("password", "")))
    raise TypeError("auth: expected Credentials, (username, password) or "
                    "{'username': ..., 'password': ...}")


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _host_of(key: str) -> str:
    key = re.sub(r"^[a-z]+://", "", key)
    return key.split("/", 1)[0]


def docker_config_credentials(registry: str, *, path: Path | None = None) -> Credentials | None:
    """The credentials ``docker login`` stored for ``registry``, if any.

    Docker Hub is stored under ``https://index.docker.io/v1/``; other registries under their
    host (``localhost:5000``), sometimes with a scheme or a path, which are ignored here.
    """
    path = path or docker_config_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        return None
    wanted = {registry} | (_HUB_NAMES if registry in _HUB_NAMES else set())
    for key, entry in auths.items():
        if not isinstance(key, str) or not isinstance(entry, dict):
            continue
        if key != HUB_CONFIG_KEY and _host_of(key) not in wanted:
            continue
        if key == HUB_CONFIG_KEY and registry not in _HUB_NAMES:
            continue
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            if sep:
                return Credentials(user, password)
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return Credentials(entry["username"], entry["password"])
    return None


_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``(scheme, params)`` of a ``WWW-Authenticate`` header (scheme lower-cased)."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if not m or m.end() == pos:
            break
        value = m.group(2) if m.group(2) is not None else m.group(3) or ""
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
        pos = m.end()
    return scheme.lower(), params
