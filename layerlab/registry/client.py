"""The HTTP side of the OCI Distribution API: requests, auth retries, errors, blob transfer.

Endpoints used (``<name>`` is the repository, ``library/alpine``)::

    GET  /v2/                                   ping (and the auth challenge)
    HEAD /v2/<name>/manifests/<tag|digest>      the digest a tag points at (no body)
    GET  /v2/<name>/manifests/<tag|digest>      a manifest or index
    GET  /v2/<name>/blobs/<digest>              a blob (``Range: bytes=N-`` to resume)
    HEAD /v2/<name>/blobs/<digest>              does the registry have it?
    POST /v2/<name>/blobs/uploads/?mount=<d>&from=<other>   cross-repository mount
    POST /v2/<name>/blobs/uploads/  then  PUT <location>?digest=<d>   a monolithic upload
    PUT  /v2/<name>/manifests/<tag>             a manifest

Every failure becomes one :class:`~layerlab.errors.RegistryError` line naming the reference
and the cause (see :func:`error_for_status` and :func:`error_for_transport`).
"""

from __future__ import annotations

import email.utils
import hashlib
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import httpx

from ..errors import (
    DigestMismatchError,
    LimitExceededError,
    RateLimitedError,
    RegistryAuthError,
    RegistryError,
    RegistryNotFoundError,
    RegistryUnavailableError,
)
from ..store.content import ContentStore, Ingest, check_digest
from .auth import Credentials, parse_challenge

__all__ = ["MANIFEST_ACCEPT", "RegistryClient", "TransferStats", "endpoint_url"]

MANIFEST_ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
MIRROR_HINT = ("use a mirror: set LAYERLAB_REGISTRY_MIRROR=https://mirror.gcr.io "
               "(or pass mirrors=[...])")
_CHUNK = 1 << 20


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:host.find("]")]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def endpoint_url(host: str, *, insecure: bool = False) -> str:
    """``http://`` for a loopback registry or ``insecure=True`` (as Docker treats
    ``127.0.0.0/8`` as an insecure registry), ``https://`` otherwise. A full URL is kept."""
    if "://" in host:
        return host.rstrip("/")
    return ("http://" if insecure or is_loopback(host) else "https://") + host


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _registry_says(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
        errs = doc.get("errors") if isinstance(doc, dict) else None
        if isinstance(errs, list) and errs and isinstance(errs[0], dict):
            code, msg = errs[0].get("code", ""), errs[0].get("message", "")
            return f" (registry says {str(code)[:40]}: {str(msg)[:160]})"
    except (ValueError, UnicodeDecodeError, httpx.ResponseNotRead):
        pass
    return ""


def error_for_status(resp: httpx.Response, ref: str, what: str) -> RegistryError:
    """The one-line error for an HTTP failure ``resp`` while getting ``what`` of ``ref``."""
    code = resp.status_code
    says = _registry_says(resp)
    if code == 401:
        return RegistryAuthError(f"{ref}: {what}: 401 unauthorized: authentication required, or "
                                 f"the credentials were refused{says}; log in (docker login) or "
                                 f"pass auth=(user, password)")
    if code == 403:
        return RegistryAuthError(f"{ref}: {what}: 403 forbidden: these credentials may not "
                                 f"access it{says}")
    if code == 404:
        return RegistryNotFoundError(f"{ref}: {what}: 404 not found: no such repository, tag or "
                                     f"blob (or it is private){says}")
    if code == 429:
        after = _retry_after(resp.headers.get("Retry-After"))
        when = f"retry in {after:.0f} s" if after is not None else "retry later"
        return RateLimitedError(f"{ref}: {what}: 429 too many requests (rate limited); {when}, "
                                f"or {MIRROR_HINT}", retry_after=after)
    if code >= 500:
        return RegistryUnavailableError(f"{ref}: {what}: server error {code}{says}")
    return RegistryError(f"{ref}: {what}: unexpected HTTP {code}{says}")


def error_for_transport(exc: httpx.TransportError, ref: str, url: str) -> RegistryError:
    """DNS, TLS, refused, timed out or cut: one line, saying "offline?" where it may be."""
    host = httpx.URL(url).host
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, ssl.SSLError) for e in chain) or "CERTIFICATE" in text or "SSL" in text:
        return RegistryUnavailableError(
            f"{ref}: TLS failure talking to {host}: {str(exc)[:200]}; for a registry with a "
            f"self-signed certificate pass insecure=True")
    if any(isinstance(e, socket.gaierror) for e in chain) or "Name or service not known" in text \
            or "Temporary failure in name resolution" in text or "nodename nor servname" in text:
        return RegistryUnavailableError(
            f"{ref}: cannot resolve {host} (DNS failure): offline? a cached copy is used when "
            f"there is one")
    if isinstance(exc, httpx.TimeoutException):
        return RegistryUnavailableError(f"{ref}: {host} timed out ({type(exc).__name__}); the "
                                        f"server is slow or unreachable")
    if isinstance(exc, httpx.ConnectError):
        return RegistryUnavailableError(
            f"{ref}: cannot connect to {host}: {str(exc)[:120] or 'connection refused'}: offline "
            f"or the registry is down? a cached copy is used when there is one")
    return RegistryUnavailableError(f"{ref}: connection to {host} lost: {str(exc)[:160]}")


@dataclass
class TransferStats:
    """What went over the wire: bytes of blob and manifest bodies, and blob counts."""

    bytes_downloaded: int = 0
    bytes_uploaded: int = 0
    blobs_downloaded: int = 0
    blobs_cached: int = 0
    blobs_uploaded: int = 0
    blobs_skipped: int = 0
    blobs_mounted: int = 0
    resumed: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, **counts: int) -> None:
        with self._lock:
            for key, n in counts.items():
                setattr(self, key, getattr(self, key) + n)


class RegistryClient:
    """One registry endpoint (``http(s)://host``) with its credentials and token cache.

    Thread-safe: layer downloads share one client. ``transport`` is for tests (an
    ``httpx.MockTransport``).
    """

    def __init__(self, url: str, *, credentials: Credentials | None = None,
                 insecure: bool = False, timeout: float = 30.0, retries: int = 3,
                 max_retry_wait: float = 10.0, transport: httpx.BaseTransport | None = None,
                 stats: TransferStats | None = None) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self.stats = stats if stats is not None else TransferStats()
        self._tokens: dict[str, str] = {}
        self._basic = False
        self._lock = threading.Lock()
        self._http = httpx.Client(
            verify=not insecure, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=True, transport=transport,
            headers={"User-Agent": "layerlab (+https://github.com/layerlab)"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- auth --------------------------------------------------------------------------
    def _auth_header(self, scope: str) -> dict[str, str]:
        with self._lock:
            if scope in self._tokens:
                return {"Authorization": f"Bearer {self._tokens[scope]}"}
            if self._basic and self.credentials is not None:
                return {"Authorization": self.credentials.basic_header()}
        return {}

    def _answer_challenge(self, resp: httpx.Response, scope: str, ref: str) -> bool:
        """Handle a 401's challenge; True when a retry may now succeed."""
        header = resp.headers.get("WWW-Authenticate", "")
        scheme, params = parse_challenge(header)
        if scheme == "basic":
            if self.credentials is None or self._basic:
                return False
            self._basic = True
            return True
        if scheme != "bearer" or "realm" not in params:
            return False
        with self._lock:
            if scope in self._tokens:  # a token we already had was refused
                return False
        query: list[tuple[str, str | int | float | bool | None]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        wanted = [s for s in scope.split(" ") if s]  # ours, with the registry's added
        wanted += [s for s in params.get("scope", "").split(" ") if s and s not in wanted]
        query += [("scope", s) for s in wanted]
        headers = {}
        if self.credentials is not None:
            headers["Authorization"] = self.credentials.basic_header()
            query.append(("account", self.credentials.username))
        try:
            tok = self._http.get(params["realm"], params=query,
                                 headers=headers)
        except httpx.TransportError as exc:
            raise error_for_transport(exc, ref, params["realm"]) from None
        if tok.status_code != 200:
            raise error_for_status(tok, ref, f"token from {httpx.URL(params['realm']).host}")
        try:
            doc = tok.json()
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryAuthError(f"{ref}: the token server {httpx.URL(params['realm']).host} "
                                    f"answered without a token")
        with self._lock:
            self._tokens[scope] = token
        return True

    # --- requests ----------------------------------------------------------------------
    @contextmanager
    def request(self, method: str, path: str, *, ref: str, what: str, scope: str,
                headers: dict[str, str] | None = None, ok: tuple[int, ...] = (200,),
                content: bytes | Iterator[bytes] | None = None,
                params: dict[str, str] | None = None) -> Iterator[httpx.Response]:
        """A streamed request with auth, 429 waits and errors; yields the response."""
        url = path if "://" in path else self.url + path
        attempts = 0
        while True:
            attempts += 1
            send_headers = {**(headers or {}), **self._auth_header(scope)}
            try:
                req = self._http.build_request(method, url, headers=send_headers,
                                               content=content, params=params)
                resp = self._http.send(req, stream=True)
            except httpx.TransportError as exc:
                raise error_for_transport(exc, ref, url) from None
            try:
                if resp.status_code == 401 and attempts <= 2 and content is None \
                        and self._answer_challenge(resp, scope, ref):
                    continue
                if resp.status_code == 429 and attempts <= self.retries:
                    wait = _retry_after(resp.headers.get("Retry-After"))
                    if wait is not None and wait <= self.max_retry_wait:
                        time.sleep(wait)
                        continue
                if resp.status_code not in ok:
                    resp.read()
                    raise error_for_status(resp, ref, what)
                yield resp
                return
            finally:
                resp.close()

    def ping(self, *, ref: str) -> None:
        with self.request("GET", "/v2/", ref=ref, what="ping /v2/", scope="", ok=(200,)):
            pass

    def manifest_digest(self, repo: str, identifier: str, *, ref: str) -> str | None:
        """HEAD the manifest: the digest the registry says it has (None if it does not say)."""
        with self.request("HEAD", f"/v2/{repo}/manifests/{identifier}", ref=ref,
                          what="manifest", scope=f"repository:{repo}:pull",
                          headers={"Accept": MANIFEST_ACCEPT}) as resp:
            found = resp.headers.get("Docker-Content-Digest")
        try:
            return check_digest(found) if found else None
        except ValueError:
            return None

    def get_manifest(self, repo: str, identifier: str, *, ref: str,
                     max_bytes: int) -> tuple[bytes, str]:
        """The manifest (or index) bytes and the media type; capped at ``max_bytes``."""
        with self.request("GET", f"/v2/{repo}/manifests/{identifier}", ref=ref, what="manifest",
                          scope=f"repository:{repo}:pull",
                          headers={"Accept": MANIFEST_ACCEPT}) as resp:
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise LimitExceededError(
                    f"{ref}: manifest of {length} bytes is larger than max_json_bytes="
                    f"{max_bytes}; raise Limits.max_json_bytes to accept it")
            body = bytearray()
            try:
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise LimitExceededError(
                            f"{ref}: manifest is larger than max_json_bytes={max_bytes}; raise "
                            f"Limits.max_json_bytes to accept it")
            except httpx.TransportError as exc:
                raise error_for_transport(exc, ref, self.url) from None
            media = resp.headers.get("Content-Type", "").split(";")[0].strip()
            header_digest = resp.headers.get("Docker-Content-Digest")
        self.stats.add(bytes_downloaded=len(body))
        data = bytes(body)
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if identifier.startswith("sha256:") and actual != identifier:
            raise DigestMismatchError(f"{ref}: manifest hashes to {actual}, asked for "
                                      f"{identifier}; nothing recorded")
        if header_digest and header_digest.startswith("sha256:") and header_digest != actual:
            raise DigestMismatchError(f"{ref}: manifest hashes to {actual}, the registry says "
                                      f"{header_digest}; nothing recorded")
        return data, media

    def fetch_blob(self, repo: str, digest: str, size: int, store: ContentStore, *, ref: str,
                   what: str, progress: Callable[[int], object] | None = None) -> None:
        """Download a blob into ``store`` (verified: size, then digest), resuming with Range
        after a cut connection; a blob the store has already is not fetched."""
        if store.has(digest) and store.size(digest) == size:
            self.stats.add(blobs_cached=1)
            if progress:
                progress(size)
            return
        cuts = 0
        while True:
            try:
                with store.ingest(f"{self.url}/{repo}@{digest}", expected_digest=digest,
                                  expected_size=size) as ing:
                    if ing.complete:
                        self.stats.add(blobs_cached=1)
                        return
                    self._download(ing, repo, digest, ref=ref, what=what, progress=progress)
            except (httpx.TransportError, RegistryUnavailableError) as exc:
                cuts += 1
                if cuts > self.retries:
                    if isinstance(exc, RegistryError):
                        raise
                    raise error_for_transport(exc, ref, self.url) from None
                time.sleep(min(0.2 * cuts, 1.0))
                continue  # the ingest kept what arrived: resume from there
            self.stats.add(blobs_downloaded=1)
            return

    def _download(self, ing: Ingest, repo: str, digest: str, *, ref: str, what: str,
                  progress: Callable[[int], object] | None) -> None:
        start = ing.offset
        headers = {"Range": f"bytes={start}-"} if start else {}
        if start:
            self.stats.add(resumed=1)
            if progress:
                progress(start)
        with self.request("GET", f"/v2/{repo}/blobs/{digest}", ref=ref, what=what,
                          scope=f"repository:{repo}:pull", headers=headers,
                          ok=(200, 206)) as resp:
            if start and resp.status_code == 200:  # Range ignored: start over
                ing.restart()
                if progress:
                    progress(-start)
            for chunk in resp.iter_bytes():  # as they arrive, so a cut keeps them
                ing.write(chunk)
                self.stats.add(bytes_downloaded=len(chunk))
                if progress:
                    progress(len(chunk))

    def blob_exists(self, repo: str, digest: str, *, ref: str, scope: str) -> bool:
        try:
            with self.request("HEAD", f"/v2/{repo}/blobs/{digest}", ref=ref, what="blob",
                              scope=scope):
                return True
        except RegistryNotFoundError:
            return False

    def mount_blob(self, repo: str, digest: str, from_repo: str, *, ref: str) -> str | None:
        """Ask for a cross-repository mount; None when mounted, else an upload URL."""
        scope = f"repository:{repo}:pull,push repository:{from_repo}:pull"
        with self.request("POST", f"/v2/{repo}/blobs/uploads/", ref=ref, what="blob mount",
                          scope=scope, ok=(201, 202),
                          params={"mount": digest, "from": from_repo}) as resp:
            if resp.status_code == 201:
                return None
            return self._location(resp)

    def start_upload(self, repo: str, *, ref: str) -> str:
        with self.request("POST", f"/v2/{repo}/blobs/uploads/", ref=ref, what="blob upload",
                          scope=f"repository:{repo}:pull,push", ok=(202,)) as resp:
            return self._location(resp)

    def _location(self, resp: httpx.Response) -> str:
        loc = resp.headers.get("Location", "")
        return str(resp.url.join(loc))

    def finish_upload(self, location: str, digest: str, size: int, body: Iterator[bytes], *,
                      repo: str, ref: str) -> None:
        sep = "&" if "?" in location else "?"
        with self.request("PUT", f"{location}{sep}digest={digest}", ref=ref, what="blob upload",
                          scope=f"repository:{repo}:pull,push", ok=(201,),
                          headers={"Content-Type": "application/octet-stream",
                                   "Content-Length": str(size)}, content=body):
            pass
        self.stats.add(bytes_uploaded=size, blobs_uploaded=1)

    def put_manifest(self, repo: str, tag: str, data: bytes, media_type: str, *,
                     ref: str) -> str | None:
        with self.request("PUT", f"/v2/{repo}/manifests/{tag}", ref=ref, what="manifest",
                          scope=f"repository:{repo}:pull,push", ok=(201,),
                          headers={"Content-Type": media_type}, content=data) as resp:
            found: str | None = resp.headers.get("Docker-Content-Digest")
            return found

    def ensure_push_token(self, repo: str, *, ref: str) -> None:
        """Bodies are streamed once, so get the push token before the first upload."""
        with self.request("GET", f"/v2/{repo}/tags/list", ref=ref, what="push access",
                          scope=f"repository:{repo}:pull,push", ok=(200, 404)):
            pass


def file_chunks(f: IO[bytes]) -> Iterator[bytes]:
    while chunk := f.read(_CHUNK):
        yield chunk
