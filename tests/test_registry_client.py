"""The registry client without a server: challenges, credentials, one-line errors, caps and
digest checks (httpx.MockTransport plays the registry)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import ssl
from pathlib import Path

import httpx
import pytest

from layerlab import Image, Layer
from layerlab.errors import (
    DigestMismatchError,
    LimitExceededError,
    RateLimitedError,
    RegistryAuthError,
    RegistryNotFoundError,
    RegistryUnavailableError,
)
from layerlab.formats.oci import manifest_bytes
from layerlab.limits import Limits
from layerlab.registry import Credentials, docker_config_credentials, pull_image
from layerlab.registry.auth import parse_challenge
from layerlab.registry.client import endpoint_url

SECRET = "hunter2-very-secret"


def test_parse_challenge() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.example/token", "service": "reg",
                      "scope": "repository:a/b:pull"}
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic",
                                                               {"realm": "Registry Realm"})
    assert parse_challenge('Bearer realm="x\\"y",error=invalid_token')[1] == {
        "realm": 'x"y', "error": "invalid_token"}


def test_credentials_never_show_the_password() -> None:
    c = Credentials("alice", SECRET)
    assert SECRET not in repr(c) and SECRET not in str(c)
    assert c.basic_header() == "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()


def test_docker_config_auths(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:hubpw").decode()},
        "localhost:5000": {"username": "loc", "password": "locpw"},
        "https://ghcr.io": {"auth": base64.b64encode(b"gh:ghpw").decode()},
        "bad.example": {"auth": "!!!not base64"},
    }, "credsStore": "desktop"}))
    assert docker_config_credentials("docker.io", path=cfg) == Credentials("hub", "hubpw")
    assert docker_config_credentials("localhost:5000", path=cfg) == Credentials("loc", "locpw")
    assert docker_config_credentials("ghcr.io", path=cfg) == Credentials("gh", "ghpw")
    assert docker_config_credentials("bad.example", path=cfg) is None
    assert docker_config_credentials("quay.io", path=cfg) is None
    assert docker_config_credentials("quay.io", path=tmp_path / "missing.json") is None


def test_endpoints() -> None:
    assert endpoint_url("127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert endpoint_url("localhost:5000") == "http://localhost:5000"
    assert endpoint_url("[::1]:5000") == "http://[::1]:5000"
    assert endpoint_url("ghcr.io") == "https://ghcr.io"
    assert endpoint_url("reg.lan", insecure=True) == "http://reg.lan"
    assert endpoint_url("https://mirror.gcr.io/") == "https://mirror.gcr.io"


class FakeRegistry:
    """Serves one image; ``token`` requires the bearer flow with basic credentials."""

    def __init__(self, *, token: bool = False, env: list[str] | None = None) -> None:
        self.image = Image.from_layers([Layer.from_dict({"/hello": "hi\n"})],
                                       config={"Env": env or []})
        self.manifest = manifest_bytes(self.image)
        self.digest = "sha256:" + hashlib.sha256(self.manifest).hexdigest()
        layer = self.image.layers[0]
        self.blobs = {layer.digest: layer.blob(), self.image.id: self.image.config_bytes()}
        self.token = token
        self.override: dict[str, httpx.Response] = {}
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path
        for key, resp in self.override.items():
            if key in path:
                return resp
        if path == "/token":
            if request.headers.get("Authorization") != Credentials("u", SECRET).basic_header():
                return httpx.Response(401, json={"errors": [{"code": "UNAUTHORIZED",
                                                             "message": "bad login"}]})
            return httpx.Response(200, json={"token": "tok123"})
        if self.token and request.headers.get("Authorization") != "Bearer tok123":
            return httpx.Response(401, headers={"WWW-Authenticate": (
                'Bearer realm="http://reg.test/token",service="reg.test",'
                'scope="repository:team/app:pull"')})
        if "/manifests/" in path:
            return httpx.Response(200, content=self.manifest, headers={
                "Content-Type": "application/vnd.oci.image.manifest.v1+json",
                "Docker-Content-Digest": self.digest})
        digest = path.rsplit("/", 1)[1]
        if digest in self.blobs:
            return httpx.Response(200, content=self.blobs[digest])
        return httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN", "message": "x"}]})


def _pull(reg: FakeRegistry, tmp_path: Path, **kw: object) -> object:
    return pull_image("reg.test/team/app:1", cache=tmp_path / "cache", insecure=True,
                      transport=httpx.MockTransport(reg), **kw)  # type: ignore[arg-type]


def test_bearer_token_flow_with_credentials(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    reg = FakeRegistry(token=True)
    result = _pull(reg, tmp_path, auth=("u", SECRET))
    assert result.image.id == reg.image.id  # type: ignore[attr-defined]
    token_requests = [r for r in reg.seen if r.url.path == "/token"]
    assert len(token_requests) == 1  # cached for the rest of the pull
    assert token_requests[0].url.params.get_list("scope") == ["repository:team/app:pull"]
    with pytest.raises(RegistryAuthError, match=r"reg\.test/team/app:1: token from reg\.test: "
                       r"401 unauthorized") as info:
        _pull(FakeRegistry(token=True), tmp_path / "b", auth=("u", "wrong"))
    assert SECRET not in str(info.value) and "wrong" not in str(info.value)


@pytest.mark.parametrize(("status", "headers", "error", "words"), [
    (403, {}, RegistryAuthError, "403 forbidden"),
    (404, {}, RegistryNotFoundError, "404 not found"),
    (429, {"Retry-After": "120"}, RateLimitedError, "retry in 120 s, or use a mirror"),
    (429, {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}, RateLimitedError, "retry in"),
    (503, {}, RegistryUnavailableError, "server error 503"),
])
def test_http_failures_are_one_line_errors(tmp_path: Path, status: int,
                                           headers: dict[str, str], error: type,
                                           words: str) -> None:
    reg = FakeRegistry()
    reg.override["/manifests/"] = httpx.Response(status, headers=headers, json={"errors": [
        {"code": "DENIED", "message": "nope"}]})
    with pytest.raises(error, match=r"^reg\.test/team/app:1: manifest: ") as info:
        _pull(reg, tmp_path, retries=0)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "cache" / "refs").exists()


@pytest.mark.parametrize(("exc", "words"), [
    (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
     "TLS failure talking to reg.test"),
    (httpx.ConnectError("[Errno -2] Name or service not known"),
     "cannot resolve reg.test (DNS failure): offline?"),
    (httpx.ConnectError("[Errno 111] Connection refused"), "cannot connect to reg.test"),
    (httpx.ReadTimeout("timed out"), "reg.test timed out"),
])
def test_transport_failures(tmp_path: Path, exc: Exception, words: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        if "SSL" in str(exc):
            raise exc from ssl.SSLError(1, "certificate verify failed")
        raise exc

    with pytest.raises(RegistryUnavailableError, match=re.escape(words)):
        pull_image("reg.test/team/app:1", cache=tmp_path / "c", insecure=True,
                   transport=httpx.MockTransport(fail))


def test_manifest_caps_and_digest_checks(tmp_path: Path) -> None:
    reg = FakeRegistry()
    with pytest.raises(LimitExceededError, match="max_json_bytes=100"):
        _pull(reg, tmp_path, limits=Limits(max_json_bytes=100))
    big = FakeRegistry(env=[f"V{i}=" + "x" * 50 for i in range(20)])
    small = len(big.manifest) + 1  # the manifest fits, the config does not
    assert len(big.image.config_bytes()) > small
    with pytest.raises(LimitExceededError, match=rf"config of \d+ bytes .*max_json_bytes={small}"):
        _pull(big, tmp_path / "c1", limits=Limits(max_json_bytes=small))
    reg.override["/manifests/"] = httpx.Response(200, content=reg.manifest + b" ", headers={
        "Docker-Content-Digest": reg.digest})
    with pytest.raises(DigestMismatchError, match="the registry says"):
        _pull(reg, tmp_path)
    ref = f"reg.test/team/app@{'sha256:' + '0' * 64}"
    with pytest.raises(DigestMismatchError, match="asked for sha256:0000"):
        pull_image(ref, cache=tmp_path / "c2", insecure=True,
                   transport=httpx.MockTransport(FakeRegistry()))


def test_blob_with_the_wrong_bytes(tmp_path: Path) -> None:
    reg = FakeRegistry()
    layer_digest = reg.image.layers[0].digest
    good = reg.blobs[layer_digest]
    reg.blobs[layer_digest] = good[:-1] + bytes([good[-1] ^ 1])
    with pytest.raises(DigestMismatchError, match=rf"blob {layer_digest}"):
        _pull(reg, tmp_path)
    assert not (tmp_path / "cache" / "refs").exists()


def test_mirror_first_then_docker_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    reg = FakeRegistry()
    hosts: list[str] = []

    def route(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        if request.url.host == "mirror.test":
            return httpx.Response(503)
        return reg(request)

    monkeypatch.setenv("LAYERLAB_REGISTRY_MIRROR", "http://mirror.test")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    result = pull_image("team/app:1", cache=tmp_path / "cache", retries=0, progress=True,
                        transport=httpx.MockTransport(route))
    assert result.endpoint == "https://registry-1.docker.io"
    assert hosts[0] == "mirror.test" and "registry-1.docker.io" in hosts
    assert result.image.id == reg.image.id
    assert "pull team/app:1" in capsys.readouterr().err  # the tqdm bar, with bytes
    # a mirror is only for Docker Hub names
    hosts.clear()
    pull_image("reg.test/team/app:1", cache=tmp_path / "c2", insecure=True,
               transport=httpx.MockTransport(route))
    assert "mirror.test" not in hosts
