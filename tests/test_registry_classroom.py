"""The classroom registry: stand-ins pulled with the real client, twice, offline."""

from __future__ import annotations

import pytest

from layerlab.analysis import compare_images, compare_images_text
from layerlab.registry import classroom
from layerlab.registry.classroom import classroom_registry, standin_images


def test_pull_the_standins_through_the_classroom_registry() -> None:
    images = standin_images()
    with classroom_registry() as reg:
        assert reg.url is not None and reg.url.startswith("http://127.0.0.1:")
        full = reg.pull("python:3.12")
        slim = reg.pull("docker.io/library/python:3.12-slim")
        assert full.endpoint == reg.url  # served as a Docker Hub mirror
        assert full.image.id == images["python:3.12"].id
        assert slim.image.id == images["python:3.12-slim"].id
        assert full.stats.blobs_downloaded == 7  # 6 layers and the config
        assert slim.stats.blobs_cached == 1  # the identical symlink layer's blob
        again = reg.pull("python:3.12")
        assert again.stats.bytes_downloaded == 0 and again.stats.blobs_downloaded == 0
    rows = {r["image"]: r for r in compare_images({"full": full.image, "slim": slim.image})}
    assert rows["full"]["shared_layers"] == rows["slim"]["shared_layers"] == 0
    assert rows["slim"]["download_bytes"] < rows["full"]["download_bytes"] / 2
    assert 0.5 < rows["full"]["efficiency"] < 1 and rows["full"]["wasted_bytes"] > 0
    text = compare_images_text({"full": full.image})
    assert text.splitlines()[0].split() == ["IMAGE", "LAYERS", "DOWNLOAD", "SIZE",
                                            "EFFICIENCY", "WASTED", "SHARED"]


def test_standins_are_deterministic() -> None:
    ids = {name: img.id for name, img in standin_images().items()}
    standin_images.cache_clear()
    assert {name: img.id for name, img in standin_images().items()} == ids


def test_the_old_names_of_the_comparison_warn_and_are_the_analysis_functions() -> None:
    for old, new in (("compare", compare_images), ("compare_text", compare_images_text)):
        with pytest.warns(DeprecationWarning, match=f"layerlab.analysis.{new.__name__}"):
            assert getattr(classroom, old) is new
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        classroom.nope  # noqa: B018
