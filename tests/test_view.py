"""View: lookups in a merged filesystem, symlinks with chroot semantics, provenance, shadowed."""

from __future__ import annotations

import pytest

from layerlab import (
    Dir,
    EntryKind,
    File,
    Image,
    Layer,
    LayerlabError,
    Opaque,
    PathLookupError,
    PathNotFoundError,
    Symlink,
    View,
    Whiteout,
)
from layerlab.errors import IsADirectoryError_, NotADirectoryError_


@pytest.fixture(scope="module")
def image() -> Image:
    return Image.from_layers([
        Layer.from_dict({
            "/etc/os-release": "ID=base\n",
            "/usr/lib/libc.so": "libc",
            "/usr/share/doc/README": "doc",
            "/lib": Symlink("usr/lib"),
            "/abs": Symlink("/usr"),
            "/up": Symlink("../../.."),
            "/usr/share/back": Symlink("../../etc"),
            "/loop1": Symlink("loop2"),
            "/loop2": Symlink("loop1"),
            "/self": Symlink("self"),
            "/dangling": Symlink("/nowhere"),
            "/to-dir": Symlink("/usr/share"),
            "/file-link": Symlink("etc/os-release"),
            "/etc/via-root": Symlink("/etc/os-release"),
        }),
        Layer.from_dict({"/etc/os-release": "ID=top\n", "/usr/share/doc": Whiteout()}),
    ])


@pytest.fixture(scope="module")
def view(image: Image) -> View:
    return image.view()


# --- symlinks in intermediate components ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("/lib/libc.so", b"libc"),
        ("lib/libc.so", b"libc"),
        ("/abs/lib/libc.so", b"libc"),  # absolute target: root-relative
        ("/up/etc/os-release", b"ID=top\n"),  # '..' above the root stays at the root
        ("/up/up/up/usr/lib/libc.so", b"libc"),
        ("/usr/share/back/os-release", b"ID=top\n"),
        ("/to-dir/back/os-release", b"ID=top\n"),
        ("/file-link", b"ID=top\n"),
        ("/etc/via-root", b"ID=top\n"),
        ("/../../etc/os-release", b"ID=top\n"),
        ("//etc/./os-release", b"ID=top\n"),
        ("/usr/lib/../../etc/os-release", b"ID=top\n"),
    ],
)
def test_read_follows_symlinks_inside_the_root(view: View, path: str, content: bytes) -> None:
    assert view.read(path) == content


def test_dotdot_after_a_symlink_is_the_parent_of_its_target(view: View) -> None:
    # like the kernel: /lib -> usr/lib, so /lib/.. is /usr, not /
    assert view.stat("/lib/..").path == "/usr"
    assert view.listdir("/lib/..") == ["lib", "share"]
    with pytest.raises(PathNotFoundError):
        view.read("/lib/../etc/os-release")  # there is no /usr/etc
    assert view.read("/lib/../../etc/os-release") == b"ID=top\n"


def test_dotdot_after_a_file_is_not_a_directory(view: View) -> None:
    with pytest.raises(NotADirectoryError_):
        view.stat("/etc/os-release/..")


def test_stat_does_not_follow_the_last_component_unless_asked(view: View) -> None:
    link = view.stat("/lib")
    assert (link.kind, link.linkname, link.path) == (EntryKind.SYMLINK, "usr/lib", "/lib")
    target = view.stat("/lib", follow_symlinks=True)
    assert (target.kind, target.path) == (EntryKind.DIR, "/usr/lib")
    assert view.stat("/lib/libc.so").path == "/usr/lib/libc.so"
    assert view.readlink("/lib") == "usr/lib"
    assert view.readlink("/abs/../lib") == "usr/lib"  # /abs -> /usr, then .. is /


def test_listdir_and_walk_follow_symlinks(view: View) -> None:
    assert view.listdir("/lib") == ["libc.so"]
    assert view.listdir("/to-dir") == ["back"]
    assert [e.path for e in view.walk("/abs")] == ["/usr/lib", "/usr/lib/libc.so", "/usr/share",
                                                   "/usr/share/back"]
    assert list(view.walk("/etc/os-release")) == []


def test_exists_counts_dangling_links_but_not_what_is_behind_them(view: View) -> None:
    assert view.exists("/dangling")
    assert "/dangling" in view
    assert not view.exists("/dangling/x")
    assert not view.exists("/lib/missing")
    assert view.exists("/lib/libc.so")
    with pytest.raises(PathNotFoundError):
        view.read("/dangling")
    with pytest.raises(PathNotFoundError):
        view.stat("/dangling", follow_symlinks=True)


@pytest.mark.parametrize("path", ["/loop1", "/self", "/loop1/x", "/loop2/a/b"])
def test_symlink_loops_are_path_lookup_errors(view: View, path: str) -> None:
    with pytest.raises(PathLookupError, match="too many levels of symbolic links"):
        view.read(path)
    assert view.exists("/loop1")  # the link itself is there
    assert not view.exists("/loop1/x")


# --- errors: layerlab's and the builtin OSError at once --------------------------------------


@pytest.mark.parametrize(
    ("call", "builtin", "ours"),
    [
        (lambda v: v.read("/missing"), FileNotFoundError, PathNotFoundError),
        (lambda v: v.stat("/etc/missing/x"), FileNotFoundError, PathNotFoundError),
        (lambda v: v.listdir("/missing"), FileNotFoundError, PathNotFoundError),
        (lambda v: v.read("/usr/share/doc/README"), FileNotFoundError, PathNotFoundError),
        (lambda v: v.provenance("/missing"), FileNotFoundError, PathNotFoundError),
        (lambda v: v.listdir("/etc/os-release"), NotADirectoryError, NotADirectoryError_),
        (lambda v: v.stat("/etc/os-release/x"), NotADirectoryError, NotADirectoryError_),
        (lambda v: v.read("/etc"), IsADirectoryError, IsADirectoryError_),
        (lambda v: v.read("/to-dir"), IsADirectoryError, IsADirectoryError_),
    ],
)
def test_errors_are_layerlab_and_oserror(view: View, call, builtin, ours) -> None:
    with pytest.raises(ours) as info:
        call(view)
    assert isinstance(info.value, builtin)
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, LayerlabError)
    assert isinstance(info.value, PathLookupError)


def test_readlink_of_a_non_link_is_an_error(view: View) -> None:
    with pytest.raises(PathLookupError, match="not a symbolic link"):
        view.readlink("/etc/os-release")


def test_read_of_a_device_is_an_error() -> None:
    from layerlab import CharDevice

    view = Image.from_layers([Layer.from_dict({"/dev/null": CharDevice(1, 3)})]).view()
    with pytest.raises(PathLookupError, match="not a regular file"):
        view.read("/dev/null")


def test_paths_must_be_strings(view: View) -> None:
    with pytest.raises(TypeError):
        view.read(b"/etc/os-release")


# --- the whole view ---------------------------------------------------------------------------


def test_paths_len_iter_and_root(view: View) -> None:
    paths = view.paths()
    assert paths == sorted(paths, key=lambda p: p.split("/"))
    assert "/usr/share/doc" not in paths and "/usr/share/doc/README" not in paths
    assert len(view) == len(paths) == len(list(view))
    assert view.root.kind is EntryKind.DIR and view.root.path == "/"
    assert repr(view) == f"<View upto=1 of 2 layers, {len(paths)} paths>"
    assert view.read_text("/etc/os-release") == "ID=top\n"


def test_nodes_pair_entries_with_their_layer(view: View) -> None:
    nodes = dict((e.path, layer) for e, layer in view.nodes())
    assert nodes["/etc/os-release"] == 1
    assert nodes["/etc"] == 0  # the implied parent of the upper file keeps the lower dir
    assert nodes["/usr/lib/libc.so"] == 0


# --- provenance and shadowed ------------------------------------------------------------------


def test_provenance(image: Image) -> None:
    view = image.view()
    assert view.provenance("/etc/os-release") == 1
    assert view.provenance("/usr/lib/libc.so") == 0
    assert view.provenance("/lib/libc.so") == 0  # intermediate symlink resolved
    assert view.provenance("/lib") == 0  # the link itself
    assert view.provenance("/") == -1  # nobody described the root
    assert image.view(upto=0).provenance("/etc/os-release") == 0


def stack() -> Image:
    """Five layers changing /p and /d in every way there is."""
    return Image.from_layers([
        Layer.from_dict({"/p": "v0", "/d/a": "a0", "/d/b": "b0"}),
        Layer.from_dict({"/p": "v1", "/d/a": "a1"}),
        Layer.from_dict({"/p": Whiteout(), "/d": Opaque(), "/d/c": "c2"}),
        Layer.from_dict({"/p": "v3"}),
        Layer.from_dict({"/d": "now a file"}),
    ])


def test_shadowed_across_several_layers() -> None:
    img = stack()
    view = img.view()
    assert [(s.layer, s.hidden_by, s.reason, s.by_path) for s in view.shadowed("/p")] == [
        (0, 1, "replaced", "/p"), (1, 2, "whiteout", "/p")]
    assert [img.layers[s.layer].read_content(s.entry) for s in view.shadowed("/p")] == [
        b"v0", b"v1"]
    assert [(s.layer, s.hidden_by, s.reason, s.by_path) for s in view.shadowed("/d/a")] == [
        (0, 1, "replaced", "/d/a"), (1, 2, "opaque", "/d")]
    assert [(s.layer, s.hidden_by, s.reason, s.by_path) for s in view.shadowed("/d/c")] == [
        (2, 4, "parent replaced", "/d")]
    [d] = view.shadowed("/d")  # implied by layer 0; the opaque marker keeps the directory
    assert (d.layer, d.hidden_by, d.reason, d.entry.kind) == (0, 4, "replaced", EntryKind.DIR)
    assert view.read("/p") == b"v3"


@pytest.mark.parametrize(
    ("upto", "expected"),
    [(0, []), (1, [(0, 1, "replaced")]), (2, [(0, 1, "replaced"), (1, 2, "whiteout")]),
     (3, [(0, 1, "replaced"), (1, 2, "whiteout")])],
)
def test_shadowed_depends_on_the_view(upto: int, expected: list[tuple[int, int, str]]) -> None:
    shadowed = stack().view(upto=upto).shadowed("/p")
    assert [(s.layer, s.hidden_by, s.reason) for s in shadowed] == expected


def test_shadowed_of_a_path_nobody_had_is_empty() -> None:
    assert stack().view().shadowed("/never") == []


def test_views_are_independent_snapshots() -> None:
    img = stack()
    early, late = img.view(upto=1), img.view()
    assert early.read("/p") == b"v1" and late.read("/p") == b"v3"
    assert early.listdir("/d") == ["a", "b"]
    assert late.stat("/d").kind is EntryKind.FILE
    # asking the late view first must not change the early one (views are cached per depth)
    assert img.view(upto=1).listdir("/d") == ["a", "b"]


def test_implied_parent_metadata() -> None:
    view = Image.from_layers([Layer.from_dict({"/a/b/c": File(b"x", uid=5)})]).view()
    for implied in ("/a", "/a/b"):
        e = view.stat(implied)
        assert (e.kind, e.mode, e.uid, e.gid, e.mtime) == (EntryKind.DIR, 0o755, 0, 0, 0)
    assert view.stat("/a/b/c").uid == 5
    described = Image.from_layers([Layer.from_dict({"/a": Dir(mode=0o700)})]).view()
    assert described.stat("/a").mode == 0o700
