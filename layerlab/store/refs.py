"""Tags of the ``overlay2`` and ``aufs`` layouts: ``image/<driver>/repositories.json``.

Docker's file maps a repository to its references: ``{"Repositories": {"tiny":
{"tiny:latest": "sha256:..."}}}``. :class:`Repositories` reads and rewrites it (each write
is atomic, see :mod:`layerlab.store.durable`); it knows nothing of images or layers. The
containerd layout keeps its names in ``meta.db`` instead (:mod:`layerlab.store.containerd`).

>>> import tempfile, os
>>> repos = Repositories(os.path.join(tempfile.mkdtemp(), "repositories.json"))
>>> repos.set("tiny", "sha256:ab"); repos.set("me/app:1", "sha256:cd")
>>> repos.tags()
{'me/app:1': 'sha256:cd', 'tiny:latest': 'sha256:ab'}
>>> repos.remove("tiny"), repos.remove("tiny")
(True, False)
"""

from __future__ import annotations

import json

from .durable import atomic_write

__all__ = ["Repositories", "normalize_tag", "repository"]


def normalize_tag(name: str) -> str:
    """``name`` with its tag: a reference without one means ``:latest``.

    >>> normalize_tag("tiny"), normalize_tag("localhost:5000/x"), normalize_tag("a:1")
    ('tiny:latest', 'localhost:5000/x:latest', 'a:1')
    """
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def repository(tag: str) -> str:
    """The repository part of a tagged reference: ``me/app:1`` -> ``me/app``."""
    return normalize_tag(tag).rsplit(":", 1)[0]


class Repositories:
    """One ``repositories.json`` file (absent means no tags)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> dict[str, dict[str, str]]:
        """``{repository: {"name:tag": image id}}`` as on disk."""
        try:
            with open(self.path) as f:
                data: dict[str, dict[str, str]] = json.load(f).get("Repositories", {})
                return data
        except FileNotFoundError:
            return {}

    def write(self, repos: dict[str, dict[str, str]]) -> None:
        atomic_write(self.path,
                     json.dumps({"Repositories": repos}, sort_keys=True, indent=2).encode())

    def tags(self) -> dict[str, str]:
        """``{"name:tag": image id}`` for every tag."""
        return {t: i for repo in self.read().values() for t, i in repo.items()}

    def set(self, tag: str, image_id: str) -> None:
        """Point ``tag`` (``:latest`` when it has none) at ``image_id``."""
        tag = normalize_tag(tag)
        repos = self.read()
        repos.setdefault(repository(tag), {})[tag] = image_id
        self.write(repos)

    def remove(self, tag: str) -> bool:
        """Drop ``tag`` (and its repository once empty); false when there was no such tag."""
        tag = normalize_tag(tag)
        repos = self.read()
        repo = repos.get(repository(tag), {})
        if tag not in repo:
            return False
        del repo[tag]
        if not repo:
            del repos[repository(tag)]
        self.write(repos)
        return True

    def drop_image(self, image_id: str) -> None:
        """Drop every tag that points at ``image_id``."""
        repos = self.read()
        for name in list(repos):
            repos[name] = {t: i for t, i in repos[name].items() if i != image_id}
            if not repos[name]:
                del repos[name]
        self.write(repos)
