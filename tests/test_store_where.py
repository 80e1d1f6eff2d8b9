"""Where an image and a container live in each layout."""

from __future__ import annotations

import os

import pytest

from layerlab import Image, Layer
from layerlab.store import Store
from layerlab.store.where import generic, happy_txt_home, matches, places


@pytest.fixture(params=["aufs", "overlay2", "containerd"])
def store(request: pytest.FixtureRequest) -> Store:
    return Store.temporary(driver=request.param)


def test_places_are_real_paths_in_the_store(store: Store) -> None:
    image = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"}),
                               Layer.from_dict({"/app/a": "a"})])
    store.add(image, tag="tiny")
    c = store.create_container("tiny", name="web")
    c.write("/happy.txt", "here\n")
    found = places(store, "tiny", c)
    for place in found:
        assert os.path.exists(os.path.join(store.root, place.path)), place
    home = happy_txt_home(store, c)
    assert found[-1].path == home
    assert os.listdir(os.path.join(store.root, home)) == ["happy.txt"]
    expected = {"aufs": "aufs/diff/<id>", "overlay2": "overlay2/<id>/diff",
                "containerd": "io.containerd.snapshotter.v1.overlayfs/snapshots/<n>/fs"}
    assert generic(store, home) == expected[store.driver]
    whats = [p.what for p in found]
    assert ("container: -init layer" in whats) == (store.driver != "aufs")
    if store.driver == "containerd":
        assert whats[:2] == ["layer 0: compressed blob", "layer 0: unpacked files"]


def test_matches_takes_the_path_or_a_pattern() -> None:
    actual = "overlay2/" + "a" * 64 + "/diff"
    assert matches(actual, actual)
    assert matches("overlay2/<mount-id>/diff", actual)
    assert matches("/overlay2/<x>/diff/", actual)
    assert not matches("overlay2/<mount-id>", actual)
    assert not matches("overlay2/*/diff", actual)
    assert not matches("aufs/diff/<id>", actual)


def test_happy_txt_question_judges_against_what_was_on_disk_when_asked() -> None:
    from layerlab.exercises import HappyTxtHomes

    image = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"})])
    stores = [Store.temporary(driver=d) for d in ("aufs", "overlay2", "containerd")]
    for s in stores:
        s.add(image, tag="t")
        s.create_container("t", name="web").write("/happy.txt", "x")
    q = HappyTxtHomes(stores, "web")
    right = {"aufs": "aufs/diff/<container-id>", "overlay2": "overlay2/<mount-id>/diff",
             "containerd": "io.containerd.snapshotter.v1.overlayfs/snapshots/<n>/fs"}
    assert not q.check(...).answered
    assert q.check(right).correct
    exact = {s.driver: happy_txt_home(s, s.container("web")) for s in stores}
    assert q.check(exact).correct
    for s in stores:  # later changes do not move the truth
        s.container("web").rm()
    assert q.check(right).correct
    wrong = dict(right, containerd="io.containerd.content.v1.content/blobs/sha256/<digest>")
    verdict = q.check(wrong)
    assert not verdict.correct and "active snapshot" in verdict.message
    assert "['containerd']" in verdict.message
    init = dict(right, overlay2="overlay2/<mount-id>-init/diff")
    assert "-init layer is read-only" in q.check(init).message
    assert "not a dict" in q.check(["aufs"]).message


def test_the_old_home_of_the_question_warns_and_gives_the_same_class() -> None:
    import layerlab.store.where as where
    from layerlab.exercises import HappyTxtHomes

    with pytest.warns(DeprecationWarning, match="layerlab.exercises.HappyTxtHomes"):
        old = where.HappyTxtHomes
    assert old is HappyTxtHomes
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        where.Nope  # noqa: B018
