"""layerlab against a real registry (Debian's ``docker-registry``) and skopeo/umoci.

skopeo pushes fixtures in, layerlab pulls them (manifests byte for byte as ``skopeo inspect
--raw`` sees them, trees as ``umoci unpack`` makes them); layerlab pushes, skopeo copies out.
Open, htpasswd (basic) and token auth; a multi-arch index; faults from a proxy in front.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from layerlab import Image, Layer
from layerlab.errors import (
    DigestMismatchError,
    InvalidImageError,
    RateLimitedError,
    RegistryAuthError,
    RegistryNotFoundError,
    RegistryUnavailableError,
)
from layerlab.formats import flatten, save
from layerlab.registry import pull, pull_image, push
from layerlab.store import Store
from layerlab.store.content import ContentStore

from .registry_server import (
    FaultProxy,
    Registry,
    TokenIssuer,
    answer,
    free_port,
    need,
    run,
    skopeo_push,
    skopeo_raw,
)
from .test_skopeo_umoci_interop import ROOTLESS, tree

pytestmark = pytest.mark.reference


@pytest.fixture
def work() -> Iterator[Path]:
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=base, prefix="layerlab-registry-") as tmp:
        yield Path(tmp)


@pytest.fixture
def registry(work: Path) -> Iterator[Registry]:
    need("docker-registry", "skopeo")
    reg = Registry(work / "registry")
    yield reg
    reg.stop()


def base_layer() -> Layer:
    noise = random.Random(17).randbytes(400_000)  # does not compress: a blob worth cutting
    return Layer.from_dict({"/etc/os-release": "ID=tiny\n", "/bin/sh": b"\x7fELF" * 300,
                            "/usr/share/doc/big.bin": noise}, created_by="ADD rootfs /")


def fixture_image(extra: str = "app", arch: str = "amd64",
                  middle: Literal["gzip", "zstd"] = "zstd") -> Image:
    """Three layers: a shared gzip base, a zstd layer and an uncompressed one (umoci 0.4
    reads no zstd, so the tests that compare with it ask for ``middle="gzip"``)."""
    return Image.from_layers([
        base_layer(),
        Layer.from_dict({f"/{extra}/main.py": f"print('{extra}')\n", "/etc/motd": "hi\n"},
                        created_by=f"COPY {extra} /{extra}", compression=middle),
        Layer.from_dict({"/etc/motd": "bye\n", f"/{extra}/arch": arch},
                        created_by="RUN echo bye", compression="none"),
    ], config={"Cmd": ["python", f"/{extra}/main.py"]}, architecture=arch)


def put_fixture(img: Image, work: Path, host: str, repo_tag: str, **kw: str) -> None:
    layout = work / f"fixture-{hashlib.sha256(repo_tag.encode()).hexdigest()[:8]}"
    save(img, layout, format="oci", tag="t")
    skopeo_push(f"oci:{layout}:t", host, repo_tag, **kw)


def umoci_tree_of(host: str, repo_tag: str, work: Path, *, platform: str = "") -> object:
    out = work / f"out-{hashlib.sha256((repo_tag + platform).encode()).hexdigest()[:8]}"
    extra = ["--override-arch", platform] if platform else []
    run("skopeo", "copy", "--quiet", "--src-tls-verify=false", *extra,
        f"docker://{host}/{repo_tag}", f"oci:{out}:t")
    run("umoci", "unpack", *ROOTLESS, "--image", f"{out}:t", str(out / "bundle"))
    return tree(out / "bundle" / "rootfs")


def our_tree(img: Image, dest: Path) -> object:
    flatten(img, dest, allow_setuid=True)
    return tree(dest)


def test_pull_what_skopeo_pushed(registry: Registry, work: Path) -> None:
    need("umoci")
    img = fixture_image()
    put_fixture(img, work, registry.host, "team/app:1")
    put_fixture(fixture_image(middle="gzip"), work, registry.host, "team/app:gz")
    cache = ContentStore(work / "cache")
    store = Store(str(work / "store"))
    result = pull_image(f"{registry.host}/team/app:1", cache=cache, store=store,
                        progress=False)
    raw = skopeo_raw(registry.host, "team/app:1")
    assert result.manifest_digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert cache.path(result.manifest_digest).read_bytes() == raw
    assert result.image.diff_ids == img.diff_ids
    assert result.image.id == img.id
    assert [layer.compression for layer in result.image.layers] == ["gzip", "zstd", "none"]
    assert list(result.image.config.cmd or ()) == ["python", "/app/main.py"]
    assert f"{registry.host}/team/app:1" in store.tags()
    assert result.stats.blobs_downloaded == 4 and result.stats.blobs_cached == 0
    gz = pull(f"{registry.host}/team/app:gz", cache=cache, progress=False)
    assert our_tree(gz, work / "ours") == umoci_tree_of(registry.host, "team/app:gz", work)
    assert cache.verify() == []


def test_second_pull_downloads_nothing_and_shared_layers_once(registry: Registry,
                                                              work: Path) -> None:
    put_fixture(fixture_image("one"), work, registry.host, "team/one:1")
    put_fixture(fixture_image("two"), work, registry.host, "team/two:1")
    cache = work / "cache"
    first = pull_image(f"{registry.host}/team/one:1", cache=cache, progress=False)
    assert first.stats.blobs_downloaded == 4
    again = pull_image(f"{registry.host}/team/one:1", cache=cache, progress=False)
    assert again.stats.bytes_downloaded == 0  # the HEAD said the manifest is cached
    assert again.stats.blobs_downloaded == 0
    assert again.image.id == first.image.id
    other = pull_image(f"{registry.host}/team/two:1", cache=cache, progress=False)
    assert other.stats.blobs_cached == 1  # the shared base layer
    assert other.stats.blobs_downloaded == 3
    base = first.image.layers[0]
    assert other.image.layers[0].diff_id == base.diff_id


def test_push_then_skopeo_copies_out(registry: Registry, work: Path) -> None:
    need("umoci")
    img = fixture_image("pushed", middle="gzip")
    result = push(img, f"{registry.host}/class/demo:1")
    raw = skopeo_raw(registry.host, "class/demo:1")
    assert raw == result.manifest
    assert result.stats.blobs_uploaded == 4
    config = json.loads(run("skopeo", "inspect", "--config", "--tls-verify=false",
                            f"docker://{registry.host}/class/demo:1").stdout)
    assert config["rootfs"]["diff_ids"] == img.diff_ids
    assert umoci_tree_of(registry.host, "class/demo:1", work) == our_tree(img, work / "ours")
    # the same image again: every blob is there already (HEAD), only the manifest goes
    again = img.push(f"{registry.host}/class/demo:2")
    assert again.stats.blobs_uploaded == 0 and again.stats.blobs_skipped == 4
    # another repository: the blobs are mounted from the first, not uploaded
    mounted = push(img, f"{registry.host}/other/demo:1", mount_from=["class/demo"])
    assert mounted.stats.blobs_mounted == 4 and mounted.stats.blobs_uploaded == 0
    assert skopeo_raw(registry.host, "other/demo:1") == result.manifest
    # and layerlab pulls back what it pushed
    back = pull(f"{registry.host}/other/demo:1", cache=work / "cache", progress=False)
    assert back.id == img.id
    assert [layer.compression for layer in back.layers] == ["gzip", "gzip", "none"]


def multi_arch_layout(work: Path) -> tuple[Path, dict[str, Image]]:
    images = {arch: fixture_image("multi", arch, "gzip") for arch in ("amd64", "arm64")}
    layout = work / "multi"
    save(images["amd64"], layout, format="oci", tag="t")
    save(images["arm64"], work / "arm", format="oci", tag="t")
    index = json.loads((layout / "index.json").read_text())
    arm_index = json.loads((work / "arm" / "index.json").read_text())
    for blob in (work / "arm" / "blobs" / "sha256").iterdir():
        target = layout / "blobs" / "sha256" / blob.name
        if not target.exists():
            target.write_bytes(blob.read_bytes())
    manifests = [index["manifests"][0], arm_index["manifests"][0]]
    for m in manifests:
        m.pop("annotations", None)
    inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": manifests}, sort_keys=True).encode()
    digest = hashlib.sha256(inner).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(inner)
    (layout / "index.json").write_text(json.dumps({
        "schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": f"sha256:{digest}",
            "size": len(inner), "annotations": {"org.opencontainers.image.ref.name": "t"}}]}))
    return layout, images


def test_multi_arch_index_and_platform_selection(registry: Registry, work: Path) -> None:
    need("umoci")
    layout, images = multi_arch_layout(work)
    skopeo_push(f"oci:{layout}:t", registry.host, "team/multi:1", "--all")
    ref = f"{registry.host}/team/multi:1"
    cache = work / "cache"
    arm = pull_image(ref, platform="linux/arm64", cache=cache, progress=False)
    assert arm.image.architecture == "arm64" and arm.image.id == images["arm64"].id
    assert arm.index_digest == "sha256:" + hashlib.sha256(skopeo_raw(registry.host,
                                                                     "team/multi:1")).hexdigest()
    amd = pull_image(ref, platform="linux/amd64", cache=cache, progress=False)
    assert amd.image.id == images["amd64"].id
    assert amd.stats.blobs_cached == 2  # only the top layer and the config differ
    with pytest.raises(InvalidImageError, match=r"no image for platform linux/s390x; "
                       r"available: linux/amd64, linux/arm64"):
        pull(ref, platform="linux/s390x", cache=cache)
    assert our_tree(arm.image, work / "ours") == umoci_tree_of(registry.host, "team/multi:1",
                                                               work, platform="arm64")


def test_not_found_and_connection_refused_are_one_line_errors(registry: Registry,
                                                              work: Path) -> None:
    put_fixture(fixture_image(), work, registry.host, "team/app:1")
    with pytest.raises(RegistryNotFoundError, match=r"^127\.0\.0\.1:\d+/team/app:nope: "
                       r"manifest: 404 not found"):
        pull(f"{registry.host}/team/app:nope", cache=work / "cache")
    with pytest.raises(RegistryNotFoundError, match="404"):
        pull(f"{registry.host}/no/such:1", cache=work / "cache")
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(RegistryUnavailableError, match=rf"^{dead}/x/y:1: cannot connect to "
                       r"127\.0\.0\.1: .*offline") as info:
        pull(f"{dead}/x/y:1", cache=work / "cache")
    assert "\n" not in str(info.value)
    with pytest.raises(RegistryUnavailableError, match=r"cannot resolve no-such-host\.invalid"):
        pull("no-such-host.invalid/x/y:1", cache=work / "cache", timeout=5)


def test_offline_uses_the_cache(work: Path, caplog: pytest.LogCaptureFixture) -> None:
    need("docker-registry", "skopeo")
    reg = Registry(work / "registry")
    try:
        put_fixture(fixture_image(), work, reg.host, "team/app:1")
        first = pull_image(f"{reg.host}/team/app:1", cache=work / "cache")
    finally:
        reg.stop()
    with caplog.at_level(logging.WARNING, logger="layerlab.registry"):
        again = pull_image(f"{reg.host}/team/app:1", cache=work / "cache")
    assert again.offline and again.image.id == first.image.id
    assert any("offline" in r.getMessage() and "cached copy" in r.getMessage()
               for r in caplog.records)
    with pytest.raises(RegistryUnavailableError):  # not cached: the error stands
        pull(f"{reg.host}/team/other:1", cache=work / "cache")


def test_mirror_serves_docker_hub_names(registry: Registry, work: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    put_fixture(fixture_image("mirrored"), work, registry.host, "library/layerlab-demo:1")
    monkeypatch.setenv("LAYERLAB_REGISTRY_MIRROR", registry.url)
    result = pull_image("layerlab-demo:1", cache=work / "cache")
    assert result.endpoint == registry.url
    assert result.image.diff_ids == fixture_image("mirrored").diff_ids


# --- auth ------------------------------------------------------------------------------

def test_htpasswd_basic_auth(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need("docker-registry", "skopeo")
    bcrypt = pytest.importorskip("bcrypt", reason="htpasswd needs bcrypt hashes: pip install "
                                 "bcrypt (in the test extra)")
    password = "correct horse battery"
    htpasswd = work / "htpasswd"
    htpasswd.write_text("alice:" + bcrypt.hashpw(password.encode(),
                                                 bcrypt.gensalt(rounds=5)).decode() + "\n")
    reg = Registry(work / "registry", auth=f"  htpasswd:\n    realm: test\n    path: {htpasswd}\n")
    try:
        put_fixture(fixture_image(), work, reg.host, "team/app:1", creds=f"alice:{password}")
        ref = f"{reg.host}/team/app:1"
        monkeypatch.setenv("DOCKER_CONFIG", str(work / "nodocker"))
        with pytest.raises(RegistryAuthError, match=rf"^{ref}: manifest: 401 unauthorized"):
            pull(ref, cache=work / "c0")
        with pytest.raises(RegistryAuthError, match="401") as info:
            pull(ref, auth=("alice", "wrong password"), cache=work / "c1")
        assert "wrong password" not in str(info.value)
        img = pull(ref, auth=("alice", password), cache=work / "c2")
        assert img.diff_ids == fixture_image().diff_ids
        # ~/.docker/config.json auths, as docker login writes them
        (work / "docker").mkdir()
        import base64

        (work / "docker" / "config.json").write_text(json.dumps({"auths": {reg.host: {
            "auth": base64.b64encode(f"alice:{password}".encode()).decode()}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(work / "docker"))
        assert pull(ref, cache=work / "c3").id == img.id
        pushed = push(fixture_image("mine"), f"{reg.host}/team/mine:1")
        assert skopeo_raw(reg.host, "team/mine:1", "--creds", f"alice:{password}") \
            == pushed.manifest
    finally:
        reg.stop()


def test_token_auth(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need("docker-registry", "skopeo", "openssl")
    monkeypatch.setenv("DOCKER_CONFIG", str(work / "nodocker"))
    issuer = TokenIssuer(work / "issuer", {"teacher": "s3cret-token-pw"})
    reg = Registry(work / "registry", auth=issuer.auth_yaml())
    try:
        img = fixture_image("tok")
        pushed = push(img, f"{reg.host}/class/tok:1", auth=("teacher", "s3cret-token-pw"))
        assert any(r["user"] == "teacher" and "repository:class/tok:pull,push" in r["scope"]
                   for r in issuer.requests)
        # anonymous pull: the challenge flow gets a pull-only token without credentials
        result = pull_image(f"{reg.host}/class/tok:1", cache=work / "cache")
        assert result.image.id == img.id
        assert any(r["user"] is None for r in issuer.requests)
        raw = skopeo_raw(reg.host, "class/tok:1")
        assert raw == pushed.manifest
        # anonymous push is refused with a one-line auth error
        with pytest.raises(RegistryAuthError, match=r"class/anon:1: .*40[13]"):
            push(img, f"{reg.host}/class/anon:1")
        with pytest.raises(RegistryAuthError) as info:
            push(img, f"{reg.host}/class/anon:1", auth=("teacher", "nope"))
        assert "nope" not in str(info.value)
    finally:
        reg.stop()
        issuer.stop()


# --- faults ----------------------------------------------------------------------------

@pytest.fixture
def proxied(registry: Registry, work: Path) -> Iterator[tuple[FaultProxy, Image]]:
    img = fixture_image("faulty")
    put_fixture(img, work, registry.host, "team/faulty:1")
    proxy = FaultProxy(registry.host)
    yield proxy, img
    proxy.stop()


def _big_blob_path(img: Image) -> str:
    big = max(img.layers, key=lambda layer: layer.compressed_size)
    return f"/blobs/{big.digest}"


def test_server_killed_mid_blob_resumes_with_range(proxied: tuple[FaultProxy, Image],
                                                   work: Path) -> None:
    proxy, img = proxied
    proxy.cut_after = 20_000
    result = pull_image(f"{proxy.host}/team/faulty:1", cache=work / "cache", workers=1)
    assert result.image.id == img.id
    assert result.stats.resumed >= 1
    ranges = [r for _m, path, r in proxy.log if r]
    assert ranges and ranges[0].startswith("bytes=") and ranges[0] != "bytes=0-"
    assert ContentStore(work / "cache").verify() == []


def test_server_gone_mid_pull_records_nothing_then_resumes(registry: Registry,
                                                           work: Path) -> None:
    img = fixture_image("gone")
    put_fixture(img, work, registry.host, "team/gone:1")
    proxy = FaultProxy(registry.host)
    big = _big_blob_path(img)

    def die(p: FaultProxy, h: object) -> bool:
        if big in getattr(h, "path", "") and getattr(h, "command", "") == "GET":
            p.cut_after = 10_000  # cut every time: the server "stays dead" for this blob
        return False

    proxy.fault = die
    store = Store(str(work / "store"))
    try:
        with pytest.raises(RegistryUnavailableError, match="team/gone:1"):
            pull(f"{proxy.host}/team/gone:1", cache=work / "cache", store=store, retries=1,
                 workers=1)
        assert store.tags() == {} and list(store.images()) == []
        cs = ContentStore(work / "cache")
        assert cs.ingests(), "the partial blob is kept for resume"
        assert not (work / "cache" / "refs").exists()
        proxy.fault = None
        result = pull_image(f"{proxy.host}/team/gone:1", cache=work / "cache", store=store)
        assert result.image.id == img.id and result.stats.resumed == 1
    finally:
        proxy.stop()


def test_blob_with_wrong_digest_is_refused(proxied: tuple[FaultProxy, Image],
                                           work: Path) -> None:
    proxy, img = proxied
    big = _big_blob_path(img)
    proxy.body_hook = lambda path, data: (data[:-1] + bytes([data[-1] ^ 1])) \
        if big in path else data
    store = Store(str(work / "store"))
    with pytest.raises(DigestMismatchError, match=r"content hashes to sha256:"):
        pull(f"{proxy.host}/team/faulty:1", cache=work / "cache", store=store)
    assert list(store.images()) == []
    cs = ContentStore(work / "cache")
    assert big.removeprefix("/blobs/") not in list(cs.digests())
    assert not (work / "cache" / "refs").exists()
    assert cs.verify() == []


def test_429_with_retry_after(proxied: tuple[FaultProxy, Image], work: Path) -> None:
    proxy, img = proxied
    seen = {"n": 0}

    def limited(p: FaultProxy, h: object, after: str) -> bool:
        if "/manifests/" in getattr(h, "path", ""):
            seen["n"] += 1
            if seen["n"] == 1 or after != "1":
                answer(h, 429, {"Retry-After": after})  # type: ignore[arg-type]
                return True
        return False

    proxy.fault = lambda p, h: limited(p, h, "3600")
    with pytest.raises(RateLimitedError, match=r"429 too many requests.*retry in 3600 s.*"
                       r"LAYERLAB_REGISTRY_MIRROR") as info:
        pull(f"{proxy.host}/team/faulty:1", cache=work / "cache")
    assert info.value.retry_after == 3600
    seen["n"] = 0
    proxy.fault = lambda p, h: limited(p, h, "1")
    assert pull(f"{proxy.host}/team/faulty:1", cache=work / "cache").id == img.id
    assert seen["n"] >= 2


def test_slow_server(proxied: tuple[FaultProxy, Image], work: Path) -> None:
    proxy, img = proxied
    proxy.chunk_delay = 0.02  # trickles, but keeps talking: the pull succeeds
    assert pull(f"{proxy.host}/team/faulty:1", cache=work / "c1", timeout=5).id == img.id
    proxy.chunk_delay = 1.5  # stalls longer than the read timeout
    with pytest.raises(RegistryUnavailableError, match=r"timed out|connection to"):
        pull(f"{proxy.host}/team/faulty:1", cache=work / "c2", timeout=0.5, retries=0)


# --- the command line and the docker:// transport ---------------------------------------

def test_cli_pull_push_and_docker_transport(registry: Registry, work: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from layerlab.cli import main
    from layerlab.formats import load

    monkeypatch.setenv("LAYERLAB_CACHE", str(work / "cache"))
    img = fixture_image("cli")
    save(img, work / "app.tar", format="docker-archive", tag="app:1")
    assert main(["push", str(work / "app.tar"), f"{registry.host}/class/cli:1"]) == 0
    out = capsys.readouterr().out
    assert "blobs uploaded: 4" in out and f"{registry.host}/class/cli:1: pushed sha256:" in out
    assert main(["pull", f"{registry.host}/class/cli:1", "--save", str(work / "back.tar")]) == 0
    out = capsys.readouterr().out
    assert "blobs downloaded: 4, cached: 0" in out
    assert load(work / "back.tar").id == img.id
    assert main(["pull", f"{registry.host}/class/cli:1"]) == 0
    assert "blobs downloaded: 0, cached: 4; bytes downloaded: 0" in capsys.readouterr().out
    assert load(f"docker://{registry.host}/class/cli:1").id == img.id
    assert main(["inspect", f"docker://{registry.host}/class/cli:1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == img.id
    assert main(["pull", f"{registry.host}/class/none:1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "class/none:1: manifest: 404 not found" in err
