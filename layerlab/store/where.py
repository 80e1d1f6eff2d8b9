"""Where an image and a container live on disk, in each of the three layouts.

:func:`places` lists, for one store, the directories and files that hold an image's
layers, its config and its tag, and a container's ``-init`` layer and upper directory,
relative to the store root (which plays ``/var/lib/docker`` or ``/var/lib/containerd``).
:func:`happy_txt_home` is the one the course asks about: the directory where a file
written in the container (``happy.txt``) lands (the question itself,
:class:`layerlab.exercises.HappyTxtHomes`, lives with the other exercises).

>>> from layerlab import Image, Layer
>>> from layerlab.store import Store
>>> image = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\\n"})])
>>> s = Store.temporary(driver="containerd")
>>> _ = s.add(image, tag="tiny")
>>> c = s.create_container("tiny", name="web")
>>> happy_txt_home(s, c)
'io.containerd.snapshotter.v1.overlayfs/snapshots/3/fs'
>>> generic(s, happy_txt_home(s, c))
'io.containerd.snapshotter.v1.overlayfs/snapshots/<n>/fs'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..digest import short
from .initlayer import overlay2_init_id

if TYPE_CHECKING:
    from ..container import Container
    from ..image import Image
    from .store import Store

__all__ = ["Place", "generic", "happy_txt_home", "matches", "places"]


@dataclass(frozen=True)
class Place:
    """One thing on disk: ``what`` it is, its ``path`` relative to the store root, and a
    ``note`` (the record that points at it)."""

    what: str
    path: str
    note: str = ""


def _rel(store: Store, path: str) -> str:
    return os.path.relpath(path, store.root)


def happy_txt_home(store: Store, container: Container) -> str:
    """The container's upper directory, relative to the store root."""
    return _rel(store, store.container_dir(container))


def places(store: Store, image: Image | str, container: Container | None = None
           ) -> list[Place]:
    """What holds ``image`` (and ``container``) in ``store`` (see the module docstring)."""
    from .containerd_layout import ContainerdLayout

    img = store.get(image) if isinstance(image, str) else image
    out: list[Place] = []
    lay = store.layout
    cd = lay if isinstance(lay, ContainerdLayout) else None
    for i, layer in enumerate(img.layers):
        chain = img.chain_ids[i]
        files = _rel(store, store.layer_dir(img, i))
        if cd is not None:
            out.append(Place(f"layer {i}: compressed blob", _rel(store, cd.blob(layer.digest)),
                             f"label containerd.io/uncompressed={short(layer.diff_id)}"))
            out.append(Place(f"layer {i}: unpacked files", files,
                             f"snapshot {short(chain)} in meta.db"))
        elif store.driver == "overlay2":
            out.append(Place(f"layer {i}: files", files, _rel(store, lay.layerdb(chain))))
        else:
            graph = os.path.join(lay.graph(lay.layer_id(chain)), "json")
            out.append(Place(f"layer {i}: files", files, _rel(store, graph)))
    if cd is not None:
        out.append(Place("image config", _rel(store, cd.blob(img.id)), "a blob like any other"))
        out.append(Place("tag", _rel(store, cd.meta_db()), "bucket image/<name> -> index blob"))
    else:
        out.append(Place("image config", _rel(store, lay.imagedb(img.id))))
        out.append(Place("tag", _rel(store, lay.repositories())))
    if container is not None:
        if cd is not None:
            out.append(Place("container: -init layer", _rel(store, cd.init_diff(container.id)),
                             f"committed snapshot {container.id[:12]}...-init"))
            note = f"active snapshot {container.id[:12]}..."
        elif store.driver == "overlay2":
            init = lay.layer_diff(overlay2_init_id(lay, container.id))
            out.append(Place("container: -init layer", _rel(store, init),
                             "layerdb/mounts/<id>/init-id"))
            note = "layerdb/mounts/<id>/mount-id"
        else:
            note = "aufs/layers/<id>"
        out.append(Place("container: upper directory (happy.txt)",
                         happy_txt_home(store, container), note))
    return out


_HEX = re.compile(r"^[0-9a-f]{64}$|^[0-9a-f]{64}-init$|^[A-Z2-7]{26}$")


def generic(store: Store, path: str) -> str:
    """``path`` with its ids replaced by what they are: ``<n>`` for a snapshot number,
    ``<id>`` for a 64-hex id, so two runs (or two machines) read the same."""
    parts = path.split("/")
    out = []
    for i, part in enumerate(parts):
        if part.isdigit() and i > 0 and parts[i - 1] == "snapshots":
            out.append("<n>")
        elif _HEX.match(part):
            out.append("<id>-init" if part.endswith("-init") else "<id>")
        else:
            out.append(part)
    return "/".join(out)


def matches(answer: str, actual: str) -> bool:
    """Does ``answer`` name the directory ``actual``? Either exactly, or as a pattern where
    each ``<...>`` stands for one path component (``overlay2/<mount-id>/diff``)."""
    answer = answer.strip().strip("/")
    if answer == actual:
        return True
    pattern = "/".join("[^/]+" if re.fullmatch(r"<[^<>/]*>", p) else re.escape(p)
                       for p in answer.split("/"))
    return re.fullmatch(pattern, actual) is not None


def __getattr__(name: str) -> Any:
    # HappyTxtHomes moved to layerlab.exercises (the store does not import the course);
    # the old name works, with a warning, for one release
    if name == "HappyTxtHomes":
        import warnings

        from ..exercises import HappyTxtHomes

        warnings.warn("layerlab.store.where.HappyTxtHomes moved to "
                      "layerlab.exercises.HappyTxtHomes; the old name goes in the next release",
                      DeprecationWarning, stacklevel=2)
        return HappyTxtHomes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
