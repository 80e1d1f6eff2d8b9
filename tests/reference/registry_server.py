"""Real registry servers for the tests: Debian's ``docker-registry`` (the CNCF distribution
registry) on 127.0.0.1, a token issuer, and a fault-injecting proxy in front of either.

Each server binds a free port on 127.0.0.1 and is stopped by its fixture.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REGISTRY = shutil.which("docker-registry")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check:
        assert done.returncode == 0, f"{' '.join(argv)} failed: {done.stderr}"
    return done


def need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found on PATH (Debian: apt-get install {tool})")


class Registry:
    """``docker-registry serve`` with a temporary config; ``auth`` is the YAML of the
    ``auth:`` section (indented two spaces) or empty for an open registry."""

    def __init__(self, workdir: Path, auth: str = "") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n" + (f"auth:\n{auth}" if auth else ""))
        self._log = open(workdir / "registry.log", "wb")  # noqa: SIM115 - closed in stop()
        assert REGISTRY is not None
        self.proc = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # 401 from an auth registry: it is up
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("docker-registry did not start: "
                                       + (workdir / "registry.log").read_text()[-2000:]) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def skopeo_push(src: str, dest_host: str, repo_tag: str, *extra: str,
                creds: str | None = None) -> None:
    argv = ["skopeo", "copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false", *extra]
    if creds:
        argv += ["--dest-creds", creds]
    run(*argv, src, f"docker://{dest_host}/{repo_tag}")


def skopeo_raw(host: str, repo_tag: str, *extra: str) -> bytes:
    done = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", *extra,
                           f"docker://{host}/{repo_tag}"], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


# --- a token issuer ------------------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """Docker's token protocol: ``GET /token?service=...&scope=...`` answers a JWT signed
    (RS256, with ``openssl dgst``) by a test key whose certificate the registry trusts.
    Anyone may pull; pushing needs ``users`` credentials (Basic on the token request)."""

    def __init__(self, workdir: Path, users: dict[str, str]) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = workdir / "key.pem", workdir / "cert.pem"
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
            str(self.key), "-out", str(self.cert), "-days", "2", "-subj", "/CN=layerlab-token")
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
                             capture_output=True, check=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.users = users
        self.requests: list[dict[str, Any]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/token"
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                issuer.answer(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def auth_yaml(self) -> str:
        return ("  token:\n"
                f"    realm: {self.url}\n"
                "    service: layerlab-test\n"
                "    issuer: layerlab-test-issuer\n"
                f"    rootcertbundle: {self.cert}\n")

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "x5c": [self.x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}." \
                        f"{_b64url(json.dumps(claims).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                             input=signing_input.encode(), capture_output=True,
                             check=True).stdout
        return f"{signing_input}.{_b64url(sig)}"

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        from urllib.parse import parse_qs, urlparse

        query = parse_qs(urlparse(handler.path).query)
        user = None
        header = handler.headers.get("Authorization", "")
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if self.users.get(name) != password:
                handler.send_response(401)
                handler.end_headers()
                return
            user = name
        self.requests.append({"user": user, "scope": query.get("scope", [])})
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            granted = [a for a in actions.split(",") if a == "pull" or user is not None]
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        token = self.sign({"iss": "layerlab-test-issuer", "sub": user or "", "aud":
                           query.get("service", [""])[0], "exp": now + 300, "nbf": now - 10,
                           "iat": now, "jti": os.urandom(8).hex(), "access": access})
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- a fault-injecting proxy ---------------------------------------------------------------

Fault = Callable[["FaultProxy", http.server.BaseHTTPRequestHandler], bool]
"""Called for every request; returns True when it has answered the request itself."""


class FaultProxy:
    """Forwards to ``upstream`` (``host:port``). ``fault`` may answer a request itself;
    ``body_hook(path, data) -> data`` may rewrite a forwarded body; ``cut_after`` bytes of a
    blob body (once) and ``chunk_delay`` seconds between chunks simulate a dying or slow
    server. ``log`` records ``(method, path, Range header)``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.fault: Fault | None = None
        self.body_hook: Callable[[str, bytes], bytes] | None = None
        self.cut_after: int | None = None
        self.chunk_delay = 0.0
        self.log: list[tuple[str, str, str]] = []
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.forward(self)

            do_HEAD = do_GET
            do_POST = do_GET
            do_PUT = do_GET
            do_PATCH = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        # a client that hung up mid-answer (the faults do that) is not worth a traceback
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, h: http.server.BaseHTTPRequestHandler) -> None:
        self.log.append((h.command, h.path, h.headers.get("Range", "")))
        if self.fault is not None and self.fault(self, h):
            return
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection")}
        try:
            conn.request(h.command, h.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError:  # the registry is gone (a test stopped it): a gateway error
            answer(h, 502, {})
            return
        finally:
            conn.close()
        is_blob = "/blobs/sha256:" in h.path and h.command == "GET"
        if self.body_hook is not None and is_blob:
            data = self.body_hook(h.path, data)
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            if k.lower() == "location":  # keep the client talking to the proxy
                v = v.replace(self.upstream, self.host)
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command == "HEAD":
            return
        cut = self.cut_after if is_blob and resp.status in (200, 206) else None
        sent = 0
        step = 16384
        while sent < len(data):
            piece = data[sent:sent + step]
            if cut is not None and sent + len(piece) > cut:
                h.wfile.write(data[sent:cut])
                h.wfile.flush()
                self.cut_after = None  # once
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            h.wfile.write(piece)
            sent += len(piece)
            if self.chunk_delay:
                h.wfile.flush()
                time.sleep(self.chunk_delay)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def answer(h: http.server.BaseHTTPRequestHandler, status: int, headers: dict[str, str],
           body: bytes = b"") -> None:
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)
