"""Property test: random operation sequences on a container over a random base image.

After any sequence, ``container.commit().view()`` equals the container's live view, the
committed layer round-trips through its tar, and ``diff()`` agrees with the views. Paths come
from a three-letter alphabet so that operations collide (write into what was removed, rename
onto what exists, symlinks through symlinks...). An operation the engine refuses with a
:class:`PathLookupError` is skipped, as a shell would fail it.

The same generators drive tests/reference/test_container_overlay.py (the kernel's overlayfs).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerlab import Image, Layer
from layerlab.container import Container
from layerlab.entry import Dir, EntryKind, File, Symlink, Whiteout
from layerlab.errors import PathLookupError
from layerlab.processes import Host
from layerlab.union import View

NAMES = ("a", "b", "c")
#: a third of the paths at depth 1, so that operations often meet
PATHS = st.one_of(*(
    st.lists(st.sampled_from(NAMES), min_size=n, max_size=n).map(lambda p: "/" + "/".join(p))
    for n in (1, 2, 3)
))
TARGETS = st.one_of(PATHS, st.sampled_from(["a", "b/c", "../a", "../../b", "c/../a"]))
CONTENTS = st.sampled_from([b"", b"1", b"hello\n", b"x" * 700])
FILE_MODES = st.sampled_from([0o644, 0o600, 0o755])
DIR_MODES = st.sampled_from([0o755, 0o750, 0o700])
OWNERS = st.sampled_from([0, 0, 1000])

Op = tuple[Any, ...]
OPS: st.SearchStrategy[Op] = st.one_of(
    st.tuples(st.just("write"), PATHS, CONTENTS),
    st.tuples(st.just("append"), PATHS, CONTENTS),
    st.tuples(st.just("mkdir"), PATHS),
    st.tuples(st.just("rm"), PATHS),
    st.tuples(st.just("rename"), PATHS, PATHS),
    st.tuples(st.just("copy"), PATHS, PATHS),
    st.tuples(st.just("chmod"), PATHS, st.sampled_from([0o600, 0o640, 0o700, 0o755])),
    st.tuples(st.just("chown"), PATHS, OWNERS),
    st.tuples(st.just("touch"), PATHS),
    st.tuples(st.just("symlink"), TARGETS, PATHS),
)

#: single operations, plus "rm -rf d; mkdir -p d" (row 10), which rarely comes up by chance
OP_LISTS: st.SearchStrategy[list[Op]] = st.lists(
    st.one_of(OPS.map(lambda op: [op]), PATHS.map(lambda p: [("rm", p), ("mkdir", p)])),
    max_size=10,
).map(lambda groups: [op for group in groups for op in group])


@st.composite
def layer_specs(
    draw: st.DrawFn, prefix: str = "", depth: int = 0, whiteouts: bool = False
) -> dict[str, Any]:
    """A random tree (every directory listed, so no parent is implied)."""
    kinds = ["none", "none", "file", "dir", "symlink", *(["whiteout"] if whiteouts else [])]
    spec: dict[str, Any] = {}
    for name in NAMES:
        path = f"{prefix}/{name}"
        kind = draw(st.sampled_from(kinds))
        if kind == "file":
            spec[path] = File(draw(CONTENTS), mode=draw(FILE_MODES), uid=draw(OWNERS))
        elif kind == "dir" and depth < 2:
            spec[path] = Dir(mode=draw(DIR_MODES), uid=draw(OWNERS))
            spec.update(draw(layer_specs(path, depth + 1, whiteouts)))
        elif kind == "symlink":
            spec[path] = Symlink(draw(TARGETS))
        elif kind == "whiteout":
            spec[path] = Whiteout()
    return spec


#: one or two base layers; the second may white out what the first has
BASES = st.tuples(layer_specs(), st.one_of(st.none(), layer_specs(whiteouts=True)))


def base_image(specs: tuple[dict[str, Any], dict[str, Any] | None]) -> Image:
    return Image.from_layers([Layer.from_dict(s) for s in specs if s is not None])


def apply_op(c: Container, op: Op) -> bool:
    """Apply one operation; False if the engine refused it (a failed shell command)."""
    name, *args = op
    calls: dict[str, Callable[..., object]] = {
        "write": c.write,
        "append": c.append,
        "mkdir": lambda p: c.mkdir(p, parents=True),
        "rm": lambda p: c.remove(p, recursive=True),
        "rename": c.rename,
        "copy": lambda s, d: c.copy(s, d, recursive=True),
        "chmod": c.chmod,
        "chown": lambda p, uid: c.chown(p, uid, uid),
        "touch": c.touch,
        "symlink": c.symlink,
    }
    try:
        calls[name](*args)
    except PathLookupError:
        return False
    return True


def snapshot(view: View) -> dict[str, tuple[object, ...]]:
    """Everything a merged view says about each path, except mtimes."""
    out: dict[str, tuple[object, ...]] = {}
    for e in view.walk():
        kind = EntryKind.FILE if e.kind is EntryKind.HARDLINK else e.kind
        out[e.path] = (str(kind), oct(e.mode), e.uid, e.gid, e.size, e.digest, e.linkname)
    return out


def check_diff(c: Container) -> None:
    """docker diff agrees with the image's view and the live view."""
    before = snapshot(c.image.view()) if c.image.layers else {}
    after = snapshot(c.view())
    changes = {ch.path: ch.kind for ch in c.diff()}
    for path, kind in changes.items():
        assert kind in "ACD", (path, kind)
        if kind == "A":
            assert path in after and path not in before, path
        elif kind == "C":
            assert path in after and path in before, path
        else:
            assert path in before and path not in after, path
    for path in set(before) | set(after):
        if before.get(path) != after.get(path):
            assert path in changes or any(p in changes for p in _parents(path)), path


def _parents(path: str) -> list[str]:
    parts = path.split("/")[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=BASES, ops=OP_LISTS)
def test_commit_view_equals_live_view(specs, ops: list[Op]) -> None:
    image = base_image(specs)
    c = Container(image, host=Host())
    for op in ops:
        apply_op(c, op)
    live = snapshot(c.view())
    committed = c.commit(created_by="ops")
    assert snapshot(committed.view()) == live
    layer = committed.layers[-1]
    assert not any(".wh." in e.path for e in layer.content_entries)
    again = Layer.from_tar(io.BytesIO(layer.to_tar()))
    assert again.diff_id == layer.diff_id
    assert snapshot(Image.from_layers([*image.layers, again]).view()) == live
    check_diff(c)
