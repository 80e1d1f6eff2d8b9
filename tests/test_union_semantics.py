"""Every row of docs/union-semantics.md as a test.

Rows 1-9 and 14-21 build their layers twice: with ``Layer.from_dict`` and as real tar
streams written by hand with :mod:`tarfile` (literal ``.wh.`` member names, in the order
given) and read with ``Layer.from_tar``. Both must give the same merged view.
Rows 10-12 need a container; they are at the end of the file.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest

from layerlab import (
    BrokenHardlinkError,
    CharDevice,
    Dir,
    EntryKind,
    File,
    Hardlink,
    Image,
    Layer,
    MalformedWhiteoutError,
    Opaque,
    Symlink,
    UnsafePathError,
    View,
    Whiteout,
)
from layerlab.entry import Spec

# --- building layers by hand -------------------------------------------------------------


@dataclass(frozen=True)
class M:
    """One tar member written by hand: ``kind`` is f(ile) d(ir) l(symlink) h(ardlink) c(har)."""

    name: str
    kind: str = "f"
    data: bytes = b""
    link: str = ""
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    xattrs: tuple[tuple[str, str], ...] = ()


_TYPES = {"f": tarfile.REGTYPE, "d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE,
          "h": tarfile.LNKTYPE, "c": tarfile.CHRTYPE}


def tar_bytes(members: Sequence[M]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.type = _TYPES[m.kind]
            info.mode = m.mode if m.mode is not None else (0o755 if m.kind == "d" else 0o644)
            info.uid, info.gid, info.mtime = m.uid, m.gid, m.mtime
            info.linkname = m.link
            if m.xattrs:
                info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in m.xattrs}
            info.size = len(m.data)
            tf.addfile(info, io.BytesIO(m.data) if m.data else None)
    return buf.getvalue()


def from_tar(members: Sequence[M]) -> Layer:
    return Layer.from_tar(io.BytesIO(tar_bytes(members)))


@dataclass(frozen=True)
class Case:
    """The same stack described twice: as dicts and as tar members (base first)."""

    dicts: Sequence[dict[str, Spec]]
    tars: Sequence[Sequence[M]]


def build(case: Case, how: str) -> Image:
    if how == "dict":
        layers = [Layer.from_dict(d) for d in case.dicts]
    else:
        layers = [from_tar(ms) for ms in case.tars]
    return Image.from_layers(layers)


BUILDS = ["dict", "tar"]


def files(view: View) -> dict[str, str]:
    """path -> kind letter (and content for regular files): the whole merged view at once."""
    out = {}
    for e in view.walk():
        out[e.path] = f"-{view.read(e.path).decode()}" if e.is_regular else e.kind.letter
    return out


def no_markers_shown(view: View) -> None:
    assert not [p for p in view.paths() if ".wh." in p]


# --- row 1: a ; .wh.a -------------------------------------------------------------------

ROW1 = Case(
    dicts=[{"/a": "1", "/keep": "k"}, {"/a": Whiteout()}],
    tars=[[M("a", data=b"1"), M("keep", data=b"k")], [M(".wh.a")]],
)


@pytest.mark.parametrize("how", BUILDS)
def test_row01_whiteout_removes_a_file(how: str) -> None:
    img = build(ROW1, how)
    view = img.view()
    assert files(view) == {"/keep": "-k"}
    no_markers_shown(view)
    assert not view.exists("/.wh.a")
    [hidden] = view.shadowed("/a")
    assert (hidden.layer, hidden.hidden_by, hidden.reason, hidden.by_path) == (
        0, 1, "whiteout", "/a")
    assert img.layers[1].whiteouts == {"/a"}
    assert img.layers[1].content_entries == ()
    assert files(img.view(upto=0)) == {"/a": "-1", "/keep": "-k"}


# --- row 2: d/... ; .wh.d ---------------------------------------------------------------

ROW2 = Case(
    dicts=[{"/d/x": "x", "/d/sub/y": "y", "/d/sub/deeper/z": "z", "/e": "e"}, {"/d": Whiteout()}],
    tars=[[M("d", "d"), M("d/x", data=b"x"), M("d/sub", "d"), M("d/sub/y", data=b"y"),
           M("d/sub/deeper/z", data=b"z"), M("e", data=b"e")],
          [M(".wh.d")]],
)


@pytest.mark.parametrize("how", BUILDS)
def test_row02_whiteout_removes_a_whole_subtree(how: str) -> None:
    view = build(ROW2, how).view()
    assert files(view) == {"/e": "-e"}
    for gone in ("/d", "/d/x", "/d/sub", "/d/sub/deeper/z"):
        assert not view.exists(gone)
    [hidden] = view.shadowed("/d/sub/deeper/z")
    assert (hidden.layer, hidden.reason, hidden.by_path) == (0, "whiteout", "/d")


# --- row 3: d/x d/y ; d/.wh..wh..opq d/z ------------------------------------------------


def row3(marker_first: bool) -> Case:
    upper = [M("d/z", data=b"z")]
    upper.insert(0 if marker_first else 1, M("d/.wh..wh..opq"))
    return Case(
        dicts=[{"/d/x": "x", "/d/y": "y", "/d/sub/w": "w"}, {"/d": Opaque(), "/d/z": "z"}],
        tars=[[M("d", "d"), M("d/x", data=b"x"), M("d/y", data=b"y"), M("d/sub/w", data=b"w")],
              upper],
    )


@pytest.mark.parametrize("how", BUILDS)
@pytest.mark.parametrize("marker_first", [True, False], ids=["marker-first", "marker-after-z"])
def test_row03_opaque_marker_hides_lower_children_wherever_it_stands(
    how: str, marker_first: bool
) -> None:
    img = build(row3(marker_first), how)
    view = img.view()
    assert view.listdir("/d") == ["z"]
    assert files(view) == {"/d": "d", "/d/z": "-z"}
    no_markers_shown(view)
    assert img.layers[1].opaques == {"/d"}
    for lower in ("/d/x", "/d/y", "/d/sub/w"):
        [hidden] = view.shadowed(lower)
        assert (hidden.layer, hidden.hidden_by, hidden.reason, hidden.by_path) == (
            0, 1, "opaque", "/d")


def test_row03_marker_position_does_not_change_the_entries() -> None:
    first, after = (from_tar(row3(flag).tars[1]) for flag in (True, False))
    assert first.entries == after.entries
    assert first.diff_id != after.diff_id  # different bytes, same meaning


# --- row 4: f and .wh.f in one layer ------------------------------------------------------


@pytest.mark.parametrize("how", BUILDS)
@pytest.mark.parametrize("whiteout_first", [True, False])
def test_row04_whiteout_only_hides_lower_layers(how: str, whiteout_first: bool) -> None:
    pair = [M(".wh.f"), M("f", data=b"new")]
    if not whiteout_first:
        pair.reverse()
    case = Case(dicts=[{"/f": "old"}, {"/f": "new", "/g": Whiteout()}],
                tars=[[M("f", data=b"old")], pair])
    if how == "dict":
        # a dict cannot hold "/f" twice; spell the whiteout with an equivalent key
        case = Case(dicts=[{"/f": "old"}, {"/f": "new", "./f": Whiteout()}], tars=case.tars)
    view = build(case, how).view()
    assert files(view) == {"/f": "-new"}
    # alone in a single-layer image, too
    alone = Image.from_layers([from_tar(pair)]).view()
    assert files(alone) == {"/f": "-new"}


# --- row 5: root opaque marker plus .abc and foobar -------------------------------------
# Read as two names, `.abc` and `foobar` (the upper layer's own entries).

ROW5 = Case(
    dicts=[{"/a": "a", "/b/c": "c", "/.abc": "old"},
           {"/": Opaque(), "/.abc": "new", "/foobar": "f"}],
    tars=[[M("a", data=b"a"), M("b/c", data=b"c"), M(".abc", data=b"old")],
          [M(".abc", data=b"new"), M(".wh..wh..opq"), M("foobar", data=b"f")]],
)


@pytest.mark.parametrize("how", BUILDS)
def test_row05_root_opaque_marker_keeps_only_the_layers_own_entries(how: str) -> None:
    img = build(ROW5, how)
    view = img.view()
    assert files(view) == {"/.abc": "-new", "/foobar": "-f"}
    assert img.layers[1].opaques == {"/"}
    [hidden] = view.shadowed("/b/c")
    assert (hidden.reason, hidden.by_path) == ("opaque", "/")
    [replaced] = view.shadowed("/.abc")
    assert (replaced.layer, replaced.reason) == (0, "replaced")


# --- row 6: a/foo b/bar ; .wh.a ; a/baz ---------------------------------------------------

ROW6 = Case(
    dicts=[{"/a/foo": "foo", "/b/bar": "bar"}, {"/a": Whiteout()}, {"/a/baz": "baz"}],
    tars=[[M("a/foo", data=b"foo"), M("b/bar", data=b"bar")], [M(".wh.a")],
          [M("a", "d"), M("a/baz", data=b"baz")]],
)


@pytest.mark.parametrize("how", BUILDS)
def test_row06_recreated_directory_does_not_bring_back_whited_out_children(how: str) -> None:
    img = build(ROW6, how)
    assert files(img.view()) == {"/a": "d", "/a/baz": "-baz", "/b": "d", "/b/bar": "-bar"}
    assert files(img.view(upto=1)) == {"/b": "d", "/b/bar": "-bar"}
    [hidden] = img.view().shadowed("/a/foo")
    assert (hidden.layer, hidden.hidden_by, hidden.reason, hidden.by_path) == (
        0, 1, "whiteout", "/a")


# --- row 7: d/x (dir) ; d (file) ----------------------------------------------------------

ROW7 = Case(
    dicts=[{"/d": Dir(), "/d/x": Dir(), "/d/x/y": "y"}, {"/d": "now a file"}],
    tars=[[M("d", "d"), M("d/x", "d"), M("d/x/y", data=b"y")], [M("d", data=b"now a file")]],
)


@pytest.mark.parametrize("how", BUILDS)
def test_row07_file_over_directory_replaces_the_subtree(how: str) -> None:
    view = build(ROW7, how).view()
    assert files(view) == {"/d": "-now a file"}
    assert view.stat("/d").kind is EntryKind.FILE
    assert not view.exists("/d/x")
    by_reason = {s.entry.path: (s.reason, s.by_path) for s in
                 view.shadowed("/d") + view.shadowed("/d/x") + view.shadowed("/d/x/y")}
    assert by_reason == {"/d": ("replaced", "/d"), "/d/x": ("parent replaced", "/d"),
                         "/d/x/y": ("parent replaced", "/d")}


# --- row 8: f (file) ; f/ + f/y -----------------------------------------------------------

ROW8 = Case(
    dicts=[{"/f": "file"}, {"/f": Dir(), "/f/y": "y"}],
    tars=[[M("f", data=b"file")], [M("f/", "d"), M("f/y", data=b"y")]],
)


@pytest.mark.parametrize("how", BUILDS)
def test_row08_directory_over_file(how: str) -> None:
    view = build(ROW8, how).view()
    assert files(view) == {"/f": "d", "/f/y": "-y"}
    assert view.listdir("/f") == ["y"]
    [hidden] = view.shadowed("/f")
    assert (hidden.entry.kind, hidden.reason) == (EntryKind.FILE, "replaced")


# --- row 9: dir over dir ------------------------------------------------------------------

ROW9 = Case(
    dicts=[{"/d": Dir(mode=0o700, uid=1, gid=2, mtime=10, xattrs={"user.low": "1"}), "/d/a": "a"},
           {"/d": Dir(mode=0o1777, uid=3, gid=4, mtime=20, xattrs={"user.up": "2"}),
            "/d/b": "b"}],
    tars=[[M("d", "d", mode=0o700, uid=1, gid=2, mtime=10, xattrs=(("user.low", "1"),)),
           M("d/a", data=b"a")],
          [M("d", "d", mode=0o1777, uid=3, gid=4, mtime=20, xattrs=(("user.up", "2"),)),
           M("d/b", data=b"b")]],
)


@pytest.mark.parametrize("how", BUILDS)
def test_row09_directory_over_directory_merges_children_upper_metadata_wins(how: str) -> None:
    view = build(ROW9, how).view()
    assert view.listdir("/d") == ["a", "b"]
    d = view.stat("/d")
    assert (d.mode, d.uid, d.gid, d.mtime, d.xattr_dict) == (0o1777, 3, 4, 20, {"user.up": b"2"})
    assert (view.provenance("/d"), view.provenance("/d/a"), view.provenance("/d/b")) == (1, 0, 1)
    [hidden] = view.shadowed("/d")
    assert (hidden.layer, hidden.hidden_by, hidden.reason, hidden.entry.mode) == (
        0, 1, "replaced", 0o700)
    assert view.shadowed("/d/a") == []


# --- row 13: hardlinks to lower files -----------------------------------------------------


def test_row13_hardlink_to_a_lower_file_resolves() -> None:
    base = Layer.from_dict({"/usr/bin/perl": File(b"#!perl", mode=0o755)})
    for link_layer in (Layer.from_dict({"/usr/bin/perl5": Hardlink("/usr/bin/perl")}),
                       from_tar([M("usr/bin/perl5", "h", link="usr/bin/perl")]),
                       from_tar([M("usr/bin/perl5", "h", link="/usr/bin/perl")])):
        view = Image.from_layers([base, link_layer]).view()
        assert view.read("/usr/bin/perl5") == b"#!perl"
        link = view.stat("/usr/bin/perl5")
        assert (link.kind, link.linkname, link.mode) == (EntryKind.HARDLINK, "/usr/bin/perl", 0o755)
        assert view.provenance("/usr/bin/perl5") == 1


@pytest.mark.parametrize("target", ["/missing", "/dir"])
@pytest.mark.parametrize("how", BUILDS)
def test_row13_broken_hardlink_is_an_error(target: str, how: str) -> None:
    base = Layer.from_dict({"/dir": Dir(), "/dir/f": "f"})
    upper = (Layer.from_dict({"/h": Hardlink(target)}) if how == "dict"
             else from_tar([M("h", "h", link=target.lstrip("/"))]))
    with pytest.raises(BrokenHardlinkError, match=re.escape(f"'/h' -> '{target}'")):
        Image.from_layers([base, upper]).view()


def test_row13_hardlink_to_a_whited_out_file_is_broken() -> None:
    layers = [Layer.from_dict({"/f": "f"}), Layer.from_dict({"/f": Whiteout()}),
              Layer.from_dict({"/h": Hardlink("/f")})]
    with pytest.raises(BrokenHardlinkError):
        Image.from_layers(layers).view()


def test_row13_unlink_and_recreate_of_the_target_breaks_the_link() -> None:
    layers = [
        Layer.from_dict({"/f": "old"}),
        from_tar([M("h", "h", link="f")]),
        Layer.from_dict({"/f": Whiteout()}),
        Layer.from_dict({"/f": "new"}),
    ]
    img = Image.from_layers(layers)
    assert (img.view().read("/h"), img.view().read("/f")) == (b"old", b"new")
    assert img.view(upto=2).read("/h") == b"old"
    assert not img.view(upto=2).exists("/f")
    # and the other way round: replacing the link leaves the target alone
    relinked = img.add_layer(Layer.from_dict({"/h": "replaced"}))
    assert (relinked.view().read("/h"), relinked.view().read("/f")) == (b"replaced", b"new")


# --- row 14: whiteout of a path that does not exist below -------------------------------

ROW14 = Case(
    dicts=[{"/a": "a"}, {"/nope": Whiteout(), "/no/such/dir": Whiteout(), "/a/under": Whiteout()}],
    tars=[[M("a", data=b"a")], [M(".wh.nope"), M("no/such/.wh.dir"), M("a/.wh.under")]],
)


@pytest.mark.parametrize("how", BUILDS)
def test_row14_whiteout_of_nothing_deletes_nothing(how: str) -> None:
    """The whiteouts delete nothing, but their parents are directories of their layer,
    as Docker's overlay2 extracts it (MkdirAll in the layer's own directory): ``/no/such``
    appears and the lower file ``/a`` is replaced by a directory (the kernel agrees:
    tests/reference/test_lower_symlink.py)."""
    img = build(ROW14, how)
    assert files(img.view(upto=0)) == {"/a": "-a"}
    assert files(img.view()) == {"/a": "d", "/no": "d", "/no/such": "d"}
    assert img.view().listdir("/a") == []


# --- row 15: .wh.link where link is a symlink -------------------------------------------

ROW15 = Case(
    dicts=[{"/target/file": "t", "/link": Symlink("target"), "/abs": Symlink("/target/file")},
           {"/link": Whiteout(), "/abs": Whiteout()}],
    tars=[[M("target/file", data=b"t"), M("link", "l", link="target"),
           M("abs", "l", link="/target/file")],
          [M(".wh.link"), M(".wh.abs")]],
)


@pytest.mark.parametrize("how", BUILDS)
def test_row15_whiteout_of_a_symlink_removes_the_link_not_its_target(how: str) -> None:
    img = build(ROW15, how)
    assert files(img.view()) == {"/target": "d", "/target/file": "-t"}
    assert img.view(upto=0).read("/link/file") == b"t"


# --- row 16: .wh.etc/somefile -------------------------------------------------------------
# The rule layerlab chose (union.py): only the basename counts. `.wh.etc/somefile` is a
# regular file `somefile` in a directory named `.wh.etc`; it deletes nothing.

ROW16 = Case(
    dicts=[{"/etc/passwd": "root"}, {"/.wh.etc/somefile": "some"}],
    tars=[[M("etc/passwd", data=b"root")], [M(".wh.etc/somefile", data=b"some")]],
)


@pytest.mark.parametrize("how", BUILDS)
def test_row16_only_the_basename_makes_a_whiteout(how: str) -> None:
    img = build(ROW16, how)
    view = img.view()
    assert files(view) == {"/.wh.etc": "d", "/.wh.etc/somefile": "-some",
                           "/etc": "d", "/etc/passwd": "-root"}
    assert view.stat("/.wh.etc").kind is EntryKind.DIR
    assert img.layers[1].whiteouts == frozenset()


# --- row 17: AUFS metadata ----------------------------------------------------------------


def test_row17_aufs_metadata_is_skipped() -> None:
    lower = from_tar([M("plnk-victim", data=b"v"), M("d/x", data=b"x")])
    upper = from_tar([
        M(".wh..wh.plnk", "d"), M(".wh..wh.plnk/123", data=b"hardlink farm"),
        M(".wh..wh.aufs"), M(".wh..wh.orph", "d"), M(".wh..wh.orph/junk", data=b"j"),
        M("d/.wh..wh.other"), M("new", data=b"n"),
    ])
    assert [e.path for e in upper.entries] == ["/new"]
    assert upper.whiteouts == upper.opaques == frozenset()
    view = Image.from_layers([lower, upper]).view()
    assert files(view) == {"/d": "d", "/d/x": "-x", "/new": "-n", "/plnk-victim": "-v"}


@pytest.mark.parametrize("path", ["/.wh..wh.plnk/123", "/.wh..wh.aufs", "/d/.wh..wh.x"])
def test_row17_aufs_names_cannot_be_made_by_hand(path: str) -> None:
    # from_dict cannot describe what from_tar would silently skip
    with pytest.raises(UnsafePathError, match=re.escape("'.wh.'")):
        Layer.from_dict({path: "x"})


# --- row 18: the overlayfs on-disk form ---------------------------------------------------
# A tar layer spells whiteouts as `.wh.` names. A character device 0/0 in a *tar* is a
# device node (metadata), not a whiteout; the on-disk overlay form is converted by
# layerlab.overlaydir, tested with the container and overlay tests.


@pytest.mark.parametrize("how", BUILDS)
def test_row18_char_device_0_0_in_a_tar_layer_is_a_device_not_a_whiteout(how: str) -> None:
    case = Case(dicts=[{"/a": "a"}, {"/a": CharDevice(0, 0)}],
                tars=[[M("a", data=b"a")], [M("a", "c")]])
    img = build(case, how)
    entry = img.view().stat("/a")
    assert (entry.kind, entry.devmajor, entry.devminor) == (EntryKind.CHAR, 0, 0)
    assert img.layers[1].whiteouts == frozenset()


# --- row 19: nondir/foo/bar where nondir is a file below --------------------------------

ROW19 = Case(
    dicts=[{"/nondir": "file", "/other": "o"}, {"/nondir/foo/bar": "bar"}],
    tars=[[M("nondir", data=b"file"), M("other", data=b"o")], [M("nondir/foo/bar", data=b"bar")]],
)


@pytest.mark.parametrize("how", BUILDS)
def test_row19_file_below_is_replaced_by_implied_directories(how: str) -> None:
    view = build(ROW19, how).view()
    assert files(view) == {"/nondir": "d", "/nondir/foo": "d", "/nondir/foo/bar": "-bar",
                           "/other": "-o"}
    for implied in ("/nondir", "/nondir/foo"):
        e = view.stat(implied)
        assert (e.kind, e.mode, e.uid, e.gid, e.mtime) == (EntryKind.DIR, 0o755, 0, 0, 0)
        assert view.provenance(implied) == 1
    [hidden] = view.shadowed("/nondir")
    assert (hidden.entry.kind, hidden.layer, hidden.hidden_by) == (EntryKind.FILE, 0, 1)


# --- row 20: the same path twice in one layer ---------------------------------------------


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ([M("a", data=b"1"), M("a", data=b"2")], {"/a": "-2"}),
        ([M("a", "d"), M("a", data=b"file")], {"/a": "-file"}),
        ([M("a", data=b"file"), M("a", "d")], {"/a": "d"}),
        ([M("a", data=b"1"), M("./a", data=b"2")], {"/a": "-2"}),
        ([M("a/b", data=b"child"), M("a", data=b"file")], {"/a": "-file"}),
        ([M("a", data=b"file"), M("a/b", data=b"child")], {"/a": "d", "/a/b": "-child"}),
        ([M("l", "l", link="x"), M("l", "l", link="y")], {"/l": "l"}),
    ],
    ids=["file-file", "dir-file", "file-dir", "spelled-twice", "child-then-file",
         "file-then-child", "symlink-symlink"],
)
def test_row20_repeated_path_in_a_tar_later_entry_wins(members: list[M], expected: dict) -> None:
    layer = from_tar(members)
    assert files(Image.from_layers([layer]).view()) == expected
    if members[-1].kind == "l":
        assert layer.get("/l").linkname == "y"


def test_row20_repeated_path_in_a_dict_later_key_wins() -> None:
    layer = Layer.from_dict({"/a": "1", "a": "2", "./b/../a": "3"})
    assert layer.read("/a") == b"3"
    assert len(layer.content_entries) == 1


# --- row 21: malformed whiteouts ------------------------------------------------------------


@pytest.mark.parametrize("name", [".wh.", ".wh..", ".wh...", "d/.wh.."])
def test_row21_malformed_whiteout_in_a_tar_is_an_error_naming_the_entry(name: str) -> None:
    with pytest.raises(MalformedWhiteoutError, match=re.escape(f"entry '/{name}'")):
        from_tar([M("ok", data=b"fine"), M(name)])


@pytest.mark.parametrize("path", ["/", "/.wh.", "/.wh..", "/.wh...", "/d/.wh..", "/d/.wh.x"])
def test_row21_malformed_whiteout_by_hand_is_an_error(path: str) -> None:
    with pytest.raises(MalformedWhiteoutError, match="entry '/"):
        Layer.from_dict({path: Whiteout()})


# --- row 22 at the layer level: user files named .wh.* ----------------------------------


@pytest.mark.parametrize(
    "spec",
    [{"/.wh.x": "data"}, {"/d/.wh.x": Dir()}, {"/.wh.x": Symlink("y")},
     {"/.wh..wh..opq": "x"}, {"/d/.wh.": "x"}],
)
def test_row22_user_file_named_like_a_whiteout_is_refused(spec: dict[str, Spec]) -> None:
    [path] = spec
    pattern = re.escape(f"entry '{path}'") + ".*" + re.escape("'.wh.'")
    with pytest.raises(UnsafePathError, match=pattern):
        Layer.from_dict(spec)


def test_row22_from_entries_refuses_too() -> None:
    ok = Layer.from_dict({"/.wh.x/inner": "fine: only the basename counts (row 16)"})
    entry = ok.get("/.wh.x/inner").with_path("/.wh.inner")
    with pytest.raises(UnsafePathError, match=re.escape("'/.wh.inner'")):
        Layer.from_entries([entry], lambda e: b"")


# --- the same stack, two builds: identical entries ----------------------------------------

ALL_CASES: dict[str, Case] = {
    "row1": ROW1, "row2": ROW2, "row5": ROW5, "row6": ROW6, "row7": ROW7, "row8": ROW8,
    "row9": ROW9, "row14": ROW14, "row15": ROW15, "row16": ROW16, "row19": ROW19,
}


@pytest.mark.parametrize("name", sorted(ALL_CASES))
def test_dict_and_tar_builds_agree_on_every_path(name: str) -> None:
    case = ALL_CASES[name]
    by_dict, by_tar = build(case, "dict").view(), build(case, "tar").view()
    assert files(by_dict) == files(by_tar)
    assert list(by_dict.nodes()) == list(by_tar.nodes())


# --- rows 10, 11, 12: a container's read-write layer ----------------------------------------
# These need layerlab.container (Container, its read-write layer and commit).

from layerlab.container import Container  # noqa: E402 - kept with the rows that need it


def lower_image() -> Image:
    return Image.from_layers([Layer.from_dict({
        "/d/x": "x", "/d/y": "y",
        "/f": File(b"file data", mode=0o644, uid=0, gid=0, mtime=7),
        "/e": Dir(mtime=5), "/e/k": "k",
        "/src/a": "a", "/src/sub/b": "b",
    })])


def member_names(layer: Layer) -> list[str]:
    return tarfile.open(fileobj=io.BytesIO(layer.to_tar())).getnames()


def test_row10_directory_recreated_over_a_whiteout_is_opaque() -> None:
    c: Container = lower_image().create_container(name="row10")
    c.remove("/d", recursive=True)
    c.mkdir("/d")
    c.touch("/d/n")
    assert c.view().listdir("/d") == ["n"]
    layer = c.rw.to_layer()
    assert layer.opaques == {"/d"}
    assert "/d" not in layer.whiteouts
    names = member_names(layer)
    assert "d/.wh..wh..opq" in names
    assert names.index("d") < names.index("d/.wh..wh..opq") < names.index("d/n")
    committed = c.commit()
    assert committed.view().listdir("/d") == ["n"]
    assert committed.view().shadowed("/d/x")[0].reason == "opaque"


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (lambda c: c.chmod("/f", 0o600), {"mode": 0o600}),
        (lambda c: c.chown("/f", 1000, 1000), {"uid": 1000, "gid": 1000}),
        (lambda c: c.touch("/f"), {}),
    ],
    ids=["chmod", "chown", "touch"],
)
def test_row11_metadata_change_copies_the_whole_file_up(
    operation: Callable[[Container], None], expected: dict[str, int]
) -> None:
    c: Container = lower_image().create_container(name="row11")
    operation(c)
    layer = c.rw.to_layer()
    entry = layer.get("/f")
    assert entry is not None and entry.kind is EntryKind.FILE
    assert layer.read("/f") == b"file data"  # the whole file again: tar has no metadata-only entry
    assert entry.size == len(b"file data")
    for field, value in expected.items():
        assert getattr(entry, field) == value
    if not expected:
        assert entry.mtime != 7
    assert [(u.path, u.from_layer) for u in c.copy_ups] == [("/f", 0)]
    assert c.commit().view().read("/f") == b"file data"


def test_row11_touched_directory_is_re_emitted_without_its_children() -> None:
    c: Container = lower_image().create_container(name="row11-dir")
    c.touch("/e")
    layer = c.rw.to_layer()
    assert [e.path for e in layer.entries] == ["/e"]
    assert layer.get("/e").kind is EntryKind.DIR
    assert layer.get("/e").mtime != 5
    assert c.commit().view().listdir("/e") == ["k"]


def test_row12_rename_of_a_lower_directory_is_whiteout_plus_full_copy() -> None:
    c: Container = lower_image().create_container(name="row12")
    c.rename("/src", "/dst")
    layer = c.rw.to_layer()
    assert layer.whiteouts == {"/src"}
    assert [e.path for e in layer.content_entries] == ["/dst", "/dst/a", "/dst/sub", "/dst/sub/b"]
    assert (layer.read("/dst/a"), layer.read("/dst/sub/b")) == (b"a", b"b")
    assert member_names(layer)[0] == ".wh.src"
    view = c.commit().view()
    assert not view.exists("/src")
    assert files(view)["/dst/sub/b"] == "-b"
