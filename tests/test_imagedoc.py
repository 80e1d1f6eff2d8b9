"""An image's own documents, below the store: the OCI manifest and config -> Image."""

from __future__ import annotations

import json
import re

import pytest

from layerlab import Image, Layer
from layerlab.errors import InvalidImageError
from layerlab.formats import descriptors, loaded, oci
from layerlab.formats.descriptors import Descriptor, parse_json, parse_manifest
from layerlab.imagedoc import OCI_CONFIG, OCI_MANIFEST, image_from_config, manifest_bytes


def _image() -> Image:
    base = Layer.from_dict({"/etc/motd": "hi\n"}, created_by="ADD rootfs /")
    return Image.from_layers([base]).add_layer(Layer.from_dict({"/app/a": "1\n"}),
                                               created_by="COPY a /app/")


def test_the_manifest_is_what_the_formats_descriptors_spell() -> None:
    img = _image()
    raw = manifest_bytes(img)
    config, layers = parse_manifest(parse_json(raw, where="manifest"), where="manifest")
    assert config == Descriptor(OCI_CONFIG, img.id, len(img.config_bytes()))
    assert layers == [Descriptor(layer.media_type, layer.digest, layer.compressed_size)
                      for layer in img.layers]
    doc = json.loads(raw)
    assert doc["mediaType"] == OCI_MANIFEST and doc["schemaVersion"] == 2
    # canonical: sorted keys, no spaces, so the digest is the same everywhere
    assert raw == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def test_the_formats_keep_their_names_for_the_moved_pieces() -> None:
    assert oci.manifest_bytes is manifest_bytes
    assert loaded.image_from_config is image_from_config
    assert descriptors.OCI_MANIFEST == OCI_MANIFEST


def test_a_config_reads_back_into_the_same_image_and_checks_its_layer_count() -> None:
    img = _image()
    config = json.loads(img.config_bytes())
    again = image_from_config(config, 2, lambda i, diff_id, h: img.layers[i], where="x",
                              raw=img.config_bytes())
    assert again.id == img.id
    assert [h.created_by for h in again.history] == ["ADD rootfs /", "COPY a /app/"]
    with pytest.raises(InvalidImageError, match=re.escape(
            "demo: the manifest lists 1 layers but rootfs.diff_ids has 2")):
        image_from_config(config, 1, lambda i, d, h: img.layers[i], where="demo")
    with pytest.raises(InvalidImageError, match="demo: expected a JSON object"):
        image_from_config([], 0, lambda i, d, h: img.layers[i], where="demo")
