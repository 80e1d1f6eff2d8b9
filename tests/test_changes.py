"""The one change model (layerlab.changes): Docker Engine 29's ``docker diff`` answer, and
every caller giving it: ``Container.diff``, a commit's layer over its parent, the
builder's step changes, the analysis rows and ``layerlab diff``."""

from __future__ import annotations

import pytest

from layerlab import Image, Layer, Whiteout
from layerlab.build import Builder
from layerlab.changes import Change, between, deletion_why, differences, of_layer
from layerlab.cli import diff_views
from layerlab.entry import Dir, Entry, EntryKind, Opaque

SETUP = ("mkdir -p /d /etc/conf /old/sub && echo 1 > /d/a && echo 2 > /d/b && "
         "echo hi > /etc/motd && echo x > /etc/conf/x && echo f > /old/sub/f && echo t > /f")

#: (case, the script run in a container of the image SETUP made, docker diff's answer)
CASES = [
    # the script of issue 18: /d/a existed, so it is C (not A: the opaque directory the
    # read-write layer holds does not make it new), /d has changes inside, /d/b is gone
    ("rm -r, mkdir, write", "rm -r /d; mkdir /d; echo new > /d/a",
     ["C /d", "C /d/a", "D /d/b"]),
    # union-semantics row 10: a dir recreated over a whiteout keeps its old children away
    ("row 10: rm -rf d; mkdir d; touch d/n", "rm -rf /d; mkdir /d; touch /d/n",
     ["C /d", "D /d/a", "D /d/b", "A /d/n"]),
    # row 11: metadata changes of a lower file; its parent is listed (changes inside)
    ("row 11: chmod", "chmod 600 /etc/motd", ["C /etc", "C /etc/motd"]),
    ("row 11: chown", "chown 1000:1000 /etc/motd", ["C /etc", "C /etc/motd"]),
    ("row 11: touch a file", "touch /etc/motd", ["C /etc", "C /etc/motd"]),
    # a directory's mtime is not compared (moby issue 9874): touching it is no change
    ("row 11: touch a dir", "touch /etc/conf", []),
    # row 12: rename of a lower dir: D of the old top only, A of the whole new tree
    ("row 12: mv dir", "mv /old /new", ["A /new", "A /new/sub", "A /new/sub/f", "D /old"]),
    # only the top of a removed tree is listed
    ("rm -r a tree", "rm -r /old", ["D /old"]),
    # a dir replaced by a file: C, and no D for the old children
    ("dir becomes a file", "rm -r /old; echo now-a-file > /old", ["C /old"]),
    ("file becomes a dir", "rm /f; mkdir /f; echo y > /f/y", ["C /f", "A /f/y"]),
    ("new tree", "mkdir -p /n/m; echo z > /n/m/z", ["A /n", "A /n/m", "A /n/m/z"]),
]


@pytest.fixture(scope="module")
def base() -> Image:
    builder = Builder(f"FROM layerlab/tiny\nRUN {SETUP}\n")
    builder.run()
    return builder.image


def _strs(changes: list[Change]) -> list[str]:
    return [str(c) for c in changes]


@pytest.mark.parametrize(("case", "script", "expected"), CASES, ids=[c[0] for c in CASES])
def test_every_caller_gives_dockers_answer(base: Image, case: str, script: str,
                                           expected: list[str]) -> None:
    from layerlab.analysis import layer_changes

    container = base.create_container(name="c")
    result = container.run_command(script)
    assert result.exit_code == 0, result.stderr
    assert _strs(container.diff()) == expected, "Container.diff"

    committed = container.commit()
    assert _strs(of_layer(committed, -1)) == expected, "of_layer over the commit"

    builder = Builder(f"FROM base\nRUN {script}\n", images={"base": base})
    builder.run()
    step = builder.results[-1]
    assert _strs(list(step.changes)) == expected, "builder step changes"
    assert [f"{k} {p}" for k in "ACD" for p in step.paths(k)] == \
        [e for k in "ACD" for e in expected if e[0] == k]

    rows = layer_changes(builder.image, -1)
    assert [f"{r.change} {r.path}" for r in rows] == expected, "analysis rows"

    cli = diff_views(base.view(), builder.image.view())
    letters = {"added": "A", "changed": "C", "deleted": "D"}
    got = sorted((item["path"], f"{letters[key]} {item['path']}")
                 for key, items in cli.items() for item in items)
    assert [line for _, line in got] == expected, "layerlab diff"


def test_why_says_what_differs(base: Image) -> None:
    c = base.create_container()
    c.run_command("rm -r /d; mkdir /d; echo new > /d/a; chmod 600 /etc/motd; rm -r /old")
    whys = {str(ch): ch.why for ch in c.diff()}
    assert whys["C /d"] == "changes inside"
    assert whys["C /d/a"].split(", ")[0] == "mtime" and "content" in whys["C /d/a"]
    assert whys["D /d/b"] == "opaque /d"
    assert whys["D /old"] == "whiteout /old"
    assert whys["C /etc/motd"].split(", ")[0] == "mode"


def test_a_layer_over_its_parent() -> None:
    img = Image.from_layers([
        Layer.from_dict({"/o": Dir(), "/o/x": "12345", "/k": "same", "/w/z": "1"}),
        Layer.from_dict({"/o": Opaque(), "/o/y": "1234567", "/k": "same", "/nope": Whiteout(),
                         "/w": Whiteout()}),
    ])
    # /k is supplied again, identical: no change (Docker compares the trees); a whiteout of
    # nothing (row 14) deletes nothing
    assert [(str(c), c.why) for c in of_layer(img, 1)] == [
        ("C /o", "changes inside"), ("D /o/x", "opaque /o"), ("A /o/y", "new"),
        ("D /w", "whiteout /w")]
    assert _strs(of_layer(img, 0)) == ["A /k", "A /o", "A /o/x", "A /w", "A /w/z"]
    assert of_layer(img, -1) == of_layer(img, 1)
    with pytest.raises(IndexError):
        of_layer(img, 2)


def test_touched_gives_the_whole_walks_answer(base: Image) -> None:
    c = base.create_container()
    c.run_command("rm -r /d; mkdir /d; echo new > /d/a; mv /old /new; chmod 600 /etc/motd; "
                  "touch /etc/conf; mkdir -p /n/m")
    rw = c.rw
    fast = between(base.view(), c.view(), touched={*rw.paths(), *rw.opaques})
    assert fast == between(base.view(), c.view())
    assert fast == c.diff() and fast


def test_differences_follow_docker_stat_rules() -> None:
    f = Entry("/f", EntryKind.FILE, mode=0o644, mtime=10, size=3, digest="sha256:1")
    assert differences(f, f) == []
    assert differences(f, Entry("/f", EntryKind.FILE, mode=0o644, mtime=11, size=3,
                                digest="sha256:1")) == ["mtime"]
    # layerlab's addition: same mtime and size, other content
    assert differences(f, Entry("/f", EntryKind.FILE, mode=0o644, mtime=10, size=3,
                                digest="sha256:2")) == ["content"]
    link = Entry("/f", EntryKind.HARDLINK, mode=0o644, mtime=10, size=3, digest="sha256:1",
                 linkname="/g")
    assert differences(f, link) == []  # a hardlink is a regular file in a mounted tree
    cap = Entry("/f", EntryKind.FILE, mode=0o644, mtime=10, size=3, digest="sha256:1",
                xattrs=(("security.capability", b"\x01"),))
    assert differences(f, cap) == ["capability"]
    d1 = Entry("/d", EntryKind.DIR, mode=0o755, mtime=1)
    assert differences(d1, Entry("/d", EntryKind.DIR, mode=0o755, mtime=2)) == []
    assert differences(d1, Entry("/d", EntryKind.DIR, mode=0o700, uid=1)) == ["mode", "owner"]
    assert differences(d1, f) == ["type", "mode"]
    s1 = Entry("/s", EntryKind.SYMLINK, mode=0o777, linkname="ab")
    assert differences(s1, Entry("/s", EntryKind.SYMLINK, mode=0o777, linkname="abc")) == [
        "size", "link target"]
    c1 = Entry("/c", EntryKind.CHAR, mode=0o600, devmajor=1, devminor=3)
    assert differences(c1, Entry("/c", EntryKind.CHAR, mode=0o600, devmajor=1,
                                 devminor=5)) == ["device"]


def test_deletion_why() -> None:
    assert deletion_why("/a/b", {"/a"}, {"/a"}) == "whiteout /a"
    assert deletion_why("/a/b/c", set(), {"/a"}) == "opaque /a"
    assert deletion_why("/a/b", set(), {"/a/b"}) == "gone"  # an opaque dir hides below it
    assert deletion_why("/x", set(), {"/"}) == "opaque /"
    assert deletion_why("/x", set(), set()) == "gone"


def test_change_equality_ignores_why_and_old_import_still_works() -> None:
    from layerlab import Change as Public
    from layerlab.container import Change as FromContainer

    assert Public is Change is FromContainer
    assert Change("C", "/etc") == Change("C", "/etc", "changes inside")
    assert str(Change("D", "/x", "gone")) == "D /x"


def test_between_an_empty_tree_and_an_image() -> None:
    img = Image.from_layers([Layer.from_dict({"/a/b": "1"})])
    assert _strs(between(None, img.view())) == ["A /a", "A /a/b"]
    assert between(img.view(), img.view()) == []


def test_a_tree_deeper_than_the_recursion_limit() -> None:
    import sys

    depth = sys.getrecursionlimit() + 500  # 1,500 levels of "/d": within max_path_bytes
    deep = "/d" * depth
    img = Image.from_layers([Layer.from_dict({deep + "/f": "1"})])
    c = img.create_container()
    c.write(deep + "/f", "22")
    changes = c.diff()
    assert len(changes) == depth + 1  # every directory on the way has a change inside
    assert changes[-1] == Change("C", deep + "/f") and changes[0] == Change("C", "/d")
    assert all(ch.why == "changes inside" for ch in changes[:-1])
    assert len(between(None, img.view())) == depth + 1


def test_a_deleted_dangling_symlink_is_one_row_of_its_own_size() -> None:
    # A layer that removes a symlink whose target never existed: the row is the link alone
    # (walking through the link raised PathNotFoundError before).
    from layerlab import Image, Layer, Whiteout
    from layerlab.analysis import layer_changes
    from layerlab.entry import Entry, EntryKind

    base = Layer.from_entries([Entry("/opt", EntryKind.DIR, mode=0o755),
                               Entry("/opt/link", EntryKind.SYMLINK, linkname="/nowhere/x")], {})
    img = Image.from_layers([base, Layer.from_dict({"/opt/link": Whiteout()})])
    rows = layer_changes(img, 1)
    assert [(r.change, r.path) for r in rows] == [("C", "/opt"), ("D", "/opt/link")]
    assert rows[1].size == 0
