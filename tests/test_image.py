"""Image: content addressing, config, history, the legacy parent chain, immutability."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from layerlab import HistoryEntry, Image, ImageConfig, InvalidImageError, Layer, chain_ids


def three_layers() -> list[Layer]:
    return [
        Layer.from_dict({"/a": "1"}, created_by="ADD rootfs /"),
        Layer.from_dict({"/b": "2"}, created_by="RUN make", comment="build"),
        Layer.from_dict({"/a": "3", "/c": "4"}, created_by="COPY . /"),
    ]


def test_chain_ids_by_the_spec_formula() -> None:
    img = Image.from_layers(three_layers())
    d0, d1, d2 = img.diff_ids
    c1 = "sha256:" + hashlib.sha256(f"{d0} {d1}".encode("ascii")).hexdigest()
    c2 = "sha256:" + hashlib.sha256(f"{c1} {d2}".encode("ascii")).hexdigest()
    assert img.chain_ids == [d0, c1, c2]
    assert chain_ids([]) == []
    assert chain_ids([d2]) == [d2]


def test_diff_ids_are_the_layers_in_order() -> None:
    layers = three_layers()
    img = Image.from_layers(layers)
    assert img.diff_ids == [layer.diff_id for layer in layers]
    assert img.layers == tuple(layers)
    assert len(img) == 3


def test_image_id_is_the_digest_of_the_config_bytes() -> None:
    img = Image.from_layers(three_layers(), config={"Env": ["A=1"], "Cmd": ["sh"]})
    raw = img.config_bytes()
    assert img.id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert json.loads(raw) == img.config_json()
    assert raw == json.dumps(img.config_json(), sort_keys=True, separators=(",", ":")).encode()
    assert repr(img) == f"<Image {img.id[7:19]}: 3 layers>"


def test_config_json_has_the_oci_shape() -> None:
    img = Image.from_layers(three_layers(), config={"env": {"PATH": "/bin"}, "cmd": "sh",
                                                    "workdir": "/app", "labels": {"k": "v"},
                                                    "SomethingUnknown": 1})
    img = img.with_history(HistoryEntry(created_by='ENV X=1'))
    doc = img.config_json()
    assert {"architecture", "os", "created", "config", "rootfs", "history"} <= set(doc)
    assert doc["rootfs"] == {"type": "layers", "diff_ids": img.diff_ids}
    assert doc["config"] == {"Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/app",
                             "Labels": {"k": "v"}}
    history = doc["history"]
    assert [h["created_by"] for h in history] == ["ADD rootfs /", "RUN make", "COPY . /",
                                                  "ENV X=1"]
    assert [h.get("empty_layer", False) for h in history] == [False, False, False, True]
    assert history[1]["comment"] == "build"
    # as many non-empty history entries as diff_ids: the OCI invariant
    assert sum(not h.get("empty_layer") for h in history) == len(doc["rootfs"]["diff_ids"])


@pytest.mark.parametrize(
    "history",
    [[], [HistoryEntry("one")], [HistoryEntry(str(i)) for i in range(4)],
     [HistoryEntry("a"), HistoryEntry("b"), HistoryEntry("c", empty_layer=True)]],
    ids=["none", "too-few", "too-many", "empty-layer-does-not-count"],
)
def test_history_that_does_not_match_the_layers_is_refused(history: list[HistoryEntry]) -> None:
    with pytest.raises(InvalidImageError, match=r"history has \d+ entries .* 3 layers"):
        Image(three_layers(), history=history)


def test_history_with_empty_layers_matches() -> None:
    history = [HistoryEntry("a"), HistoryEntry("ENV x", empty_layer=True), HistoryEntry("b"),
               HistoryEntry("c")]
    img = Image(three_layers(), history=history)
    pairs = img.layer_history()
    assert [(h.created_by, layer is None) for h, layer in pairs] == [
        ("a", False), ("ENV x", True), ("b", False), ("c", False)]
    assert pairs[3][1] is img.layers[2]


def test_layers_must_be_layers() -> None:
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        Image([Layer.from_dict({}), "not a layer"])  # type: ignore[list-item]


# --- the legacy model ------------------------------------------------------------------------


def test_legacy_parent_chain_walks_top_to_base() -> None:
    img = Image.from_layers(three_layers())
    legacy = img.legacy_layers
    assert [entry.index for entry in legacy] == [0, 1, 2]
    for entry in legacy:
        assert re.fullmatch(r"[0-9a-f]{64}", entry.id)
        assert entry.json["id"] == entry.id
    assert legacy[0].parent is None and "parent" not in legacy[0].json
    assert [entry.parent for entry in legacy[1:]] == [legacy[0].id, legacy[1].id]
    assert legacy[2].json["parent"] == legacy[1].id
    assert legacy[1].json["container_config"]["Cmd"][-1] == "RUN make"
    assert [entry.index for entry in img.parent_chain()] == [2, 1, 0]
    assert len({entry.id for entry in legacy}) == 3


def test_legacy_ids_are_deterministic_and_depend_on_what_is_below() -> None:
    one = Image.from_layers(three_layers()).legacy_layers
    two = Image.from_layers(three_layers()).legacy_layers
    assert [e.id for e in one] == [e.id for e in two]
    # the same top layer on another base gets another id (the id names the whole chain)
    other = Image.from_layers([Layer.from_dict({"/z": "z"}), *three_layers()[1:]]).legacy_layers
    assert other[2].id != one[2].id


def test_scratch_has_no_legacy_layers() -> None:
    assert Image.scratch().legacy_layers == ()
    assert Image.scratch().parent_chain() == []


# --- new images from old ones ----------------------------------------------------------------


def test_add_layer_returns_a_new_image_and_leaves_the_original() -> None:
    base = Image.from_layers(three_layers()[:1])
    before = (base.id, base.diff_ids, base.history)
    top = Layer.from_dict({"/new": "n"}, created_by="from the layer")
    bigger = base.add_layer(top)
    explicit = base.add_layer(top, created_by="RUN touch /new", comment="c")
    assert (base.id, base.diff_ids, base.history) == before
    assert len(base) == 1 and len(bigger) == 2
    assert bigger.layers[-1] is top
    assert bigger.history[-1].created_by == "from the layer"
    assert (explicit.history[-1].created_by, explicit.history[-1].comment) == (
        "RUN touch /new", "c")
    assert bigger.id != base.id
    assert not base.view().exists("/new") and bigger.view().exists("/new")


def test_with_config_returns_a_new_image_and_leaves_the_original() -> None:
    img = Image.from_layers(three_layers(), config={"cmd": ["sh"]})
    before = (img.id, img.config)
    changed = img.with_config(cmd=["bash", "-l"], env=["A=1"], user="1000")
    assert (img.id, img.config) == before
    assert changed.config.cmd == ("bash", "-l")
    assert changed.config.env_dict() == {"A": "1"}
    assert changed.config.user == "1000"
    assert changed.id != img.id
    assert changed.diff_ids == img.diff_ids and changed.history == img.history
    with pytest.raises(TypeError):
        img.with_config(no_such_field=1)


def test_with_history_adds_an_empty_layer_entry() -> None:
    img = Image.from_layers(three_layers())
    more = img.with_history(HistoryEntry("ENV A=1"))
    assert more.history[-1].empty_layer is True
    assert len(img.history) == 3 and len(more.history) == 4
    assert more.diff_ids == img.diff_ids and more.id != img.id


def test_image_and_config_are_immutable() -> None:
    img = Image.from_layers(three_layers())
    with pytest.raises(AttributeError):
        img.layers = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        img.config.cmd = ("x",)  # type: ignore[misc]
    assert isinstance(img.layers, tuple)


def test_equal_content_means_equal_images() -> None:
    assert Image.from_layers(three_layers()) == Image.from_layers(three_layers())
    assert len({Image.from_layers(three_layers()), Image.from_layers(three_layers())}) == 1


def test_image_config_accepts_both_spellings() -> None:
    snake = ImageConfig.from_dict({"env": ["A=1"], "entrypoint": "/init",
                                   "exposed_ports": ["80/tcp"]})
    oci = ImageConfig.from_dict({"Env": ["A=1"], "Entrypoint": ["/init"],
                                 "ExposedPorts": {"80/tcp": {}}})
    assert snake == oci
    assert oci.to_json() == {"Env": ["A=1"], "Entrypoint": ["/init"],
                             "ExposedPorts": {"80/tcp": {}}}


# --- views -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upto", "expected"),
    [(None, ["/a", "/b", "/c"]), (0, ["/a"]), (1, ["/a", "/b"]), (2, ["/a", "/b", "/c"]),
     (-1, ["/a", "/b", "/c"]), (-2, ["/a", "/b"]), (-3, ["/a"])],
)
def test_view_upto_every_layer(upto: int | None, expected: list[str]) -> None:
    img = Image.from_layers(three_layers())
    view = img.view(upto=upto)
    assert view.paths() == expected
    assert view.upto == (2 if upto is None else upto % 3)
    assert view.read("/a") == (b"1" if view.upto < 2 else b"3")


@pytest.mark.parametrize("upto", [3, 4, -4, -100])
def test_view_out_of_range_is_an_index_error(upto: int) -> None:
    with pytest.raises(IndexError, match=f"upto={upto} is out of range .* 3 layers"):
        Image.from_layers(three_layers()).view(upto=upto)


@pytest.mark.parametrize("upto", [True, 1.0, "1"])
def test_view_upto_must_be_an_int(upto: object) -> None:
    with pytest.raises(TypeError):
        Image.from_layers(three_layers()).view(upto=upto)  # type: ignore[arg-type]


def test_scratch_image_view_is_empty() -> None:
    img = Image.scratch()
    view = img.view()
    assert (view.paths(), len(view), view.listdir("/")) == ([], 0, [])
    assert view.root.is_dir
    assert (img.diff_ids, img.chain_ids, len(img)) == ([], [], 0)
    assert img.config_json()["rootfs"] == {"type": "layers", "diff_ids": []}
