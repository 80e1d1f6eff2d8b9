"""Registries: pull and push images over the OCI Distribution API (what Docker Hub speaks).

>>> import layerlab as ll
>>> img = ll.pull("python:3.12-slim")                    # doctest: +SKIP
>>> img.push("localhost:5000/class/python:slim")          # doctest: +SKIP

Modules: :mod:`.auth` (credentials, ``WWW-Authenticate`` challenges), :mod:`.client` (the HTTP
requests and their errors), :mod:`.pull`, :mod:`.push`. Blobs are cached content-addressed in
a :class:`~layerlab.store.content.ContentStore`, so a second pull downloads nothing.

Why a client of our own on plain ``httpx`` (measured 2026-12 on the course machine, Python 3.11):

* ``oras`` 0.2.43: 12 packages, 8.3 MB installed (jsonschema, rpds-py, requests), and
  ``import oras.client`` takes 0.90 s; it is made for OCI artifacts: no platform selection
  from an index, no diff_id check, downloads restart from zero (no ``Range`` resume).
* ``python-dxf`` 12.1.1: 8 packages (requests, www-authenticate, ...), one of them an sdist
  (www-authenticate) that failed to build offline here; no resume of a cut blob either, and
  it verifies digests only after the whole blob is in memory or on disk.
* ``httpx`` 0.28: already installed (JupyterLab depends on it), so 0 new packages; imports
  in 0.055 s; streaming bodies, HTTP/1.1 keep-alive, a thread-safe client for parallel
  layer downloads, and ``MockTransport`` for tests. What the Distribution API needs on top
  (token flow, Range resume, verification into the content store) is about 600 lines here.
"""

from __future__ import annotations

from .auth import Credentials, docker_config_credentials
from .client import RegistryClient, TransferStats
from .pull import PullResult, default_cache, default_platform, pull, pull_image
from .push import PushResult, push

__all__ = ["Credentials", "PullResult", "PushResult", "RegistryClient", "TransferStats",
           "default_cache", "default_platform", "docker_config_credentials", "pull",
           "pull_image", "push"]
