"""A model-registry test server: real HTTP on 127.0.0.1, answering like registry.ollama.ai.

It serves the part of the registry API that `ollama pull` reads first, the manifest
(`GET /v2/<namespace>/<model>/manifests/<tag>`), plus the config blob, for the lab's two tags.
Shapes come from the ollama source and real answers, cited in docs/model-facts.md ("Registry
manifests"), never from quantviz:

* a manifest is `{"schemaVersion":2,"mediaType":<MANIFEST_V2>,"config":{...},"layers":[{"mediaType",
  "digest","size"}, ...]}`, compact JSON as Go marshals it (manifest/manifest.go, layer.go);
* the config blob is ollama's `ConfigV2` JSON (`types/model/config.go`), its digest the sha256 of
  its bytes;
* the layers are the Ollama test server's catalog (`tests/ollama_server.py`): the weights blob of
  each tag (its size is the one that server reports for the tag's GGUF) and the template, license
  and params blobs, which both tags share under one digest;
* an unknown model or tag gets 404 with `{"errors":[{"code":"MANIFEST_UNKNOWN","message":
  "manifest unknown","detail":{"Tag":...}}]}` (ollama issue #180);
* with `require_token`, every request without a bearer token gets 401 and a
  `WWW-Authenticate: Bearer realm=...,service="ollama",scope=...` challenge (server/auth_test.go).

Faults, switchable at runtime from any thread: the 401 challenge, a connection cut mid-body, slow
answers (a delay before the headers, a body trickled in small pieces), a replaced body (malformed
JSON, wrong fields, oversize), a forced status. Every request and every accepted connection is
recorded.

    with RegistryTestServer() as registry:
        url = registry.url  # http://127.0.0.1:<port>

or standalone: `python tests/registry_server.py --port 5000`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ollama_server import MANIFEST_KINDS, Q4_TAG, Q6_TAG, ModelSpec, e2b_model
from served import QuietHandler, QuietHttpd, ServedInThread

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.ollama.image.{kind}"
TOKEN_PATH = "/v2/token"

_MANIFEST_PATH = re.compile(r"^/v2/(?P<repo>.+)/manifests/(?P<ref>[^/]+)$")
_BLOB_PATH = re.compile(r"^/v2/(?P<repo>.+)/blobs/(?P<digest>[^/]+)$")


def split_tag(tag: str) -> tuple[str, str]:
    """'batiai/gemma4-e2b:q4' -> ('batiai/gemma4-e2b', 'q4'); a bare model is in 'library/'."""
    repo, _, ref = tag.rpartition(":")
    if "/" not in repo:
        repo = f"library/{repo}"
    return repo, ref


def config_blob(spec: ModelSpec) -> bytes:
    """ollama's ConfigV2 for a GGUF tag: the fields a pull writes, in the struct's order."""
    details = spec.details
    config = {
        "model_format": details["format"],
        "model_family": details["family"],
        "model_families": details["families"],
        "model_type": details["parameter_size"],
        "file_type": details["quantization_level"],
        "architecture": "amd64",
        "os": "linux",
    }
    return json.dumps(config, separators=(",", ":")).encode()


def manifest_document(spec: ModelSpec) -> dict[str, Any]:
    """The manifest of a catalog tag: its layers in order, then the config blob's descriptor."""
    config = config_blob(spec)
    return {
        "schemaVersion": 2,
        "mediaType": MANIFEST_V2,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
            "size": len(config),
        },
        "layers": [
            {"mediaType": LAYER_MEDIA_TYPE.format(kind=kind), "digest": digest, "size": size}
            for kind, (digest, size) in zip(MANIFEST_KINDS, spec.layers, strict=True)
        ],
    }


def _compact(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


@dataclass
class Override:
    """A replaced answer for one manifest reference (a tag), optionally for `times` requests."""

    body: bytes
    status: int = 200
    content_type: str = MANIFEST_V2
    headers: Mapping[str, str] = field(default_factory=dict)
    times: int | None = None


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    received: float = field(default_factory=time.monotonic)


class RegistryTestServer(ServedInThread):
    """A ThreadingHTTPServer answering like an Ollama model registry; setters are thread-safe."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        catalog: Mapping[str, ModelSpec] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._stop = threading.Event()
        if catalog is None:
            catalog = {Q4_TAG: e2b_model(Q4_TAG, "Q4_K_M"), Q6_TAG: e2b_model(Q6_TAG, "Q6_K")}
        self.catalog = dict(catalog)
        self.manifests: dict[tuple[str, str], bytes] = {}
        self.blobs: dict[str, bytes] = {}
        for tag, spec in self.catalog.items():
            self.manifests[split_tag(tag)] = _compact(manifest_document(spec))
            config = config_blob(spec)
            self.blobs["sha256:" + hashlib.sha256(config).hexdigest()] = config
        self.manifest_content_type = MANIFEST_V2
        self.token: str | None = None  # None: no sign-in asked
        self.headers_delay = 0.0
        self.trickle: tuple[int, float] | None = None  # (bytes a piece, seconds between)
        self.cut_after: int | None = None  # bytes of a manifest body sent before the cut
        self.announce_length = True  # False: no Content-Length, the body ends when it closes
        self.overrides: dict[str, Override] = {}
        self.forced: dict[str, Override] = {}
        self.requests: list[RecordedRequest] = []
        self.connections = 0
        self._httpd = _Httpd((host, port), _Handler, self)

    # -- what it serves

    def manifest_bytes(self, tag: str) -> bytes:
        """The exact bytes served for a catalog tag's manifest."""
        return self.manifests[split_tag(tag)]

    def manifest_json(self, tag: str) -> dict[str, Any]:
        return json.loads(self.manifest_bytes(tag))

    # -- faults (thread-safe)

    def require_token(self, token: str | None = "test-registry-token") -> None:
        """Ask for sign-in: without `Authorization: Bearer <token>` every /v2/ path gets 401."""
        with self._lock:
            self.token = token

    def set_delays(
        self, *, headers: float | None = None, trickle: tuple[int, float] | None = None
    ) -> None:
        """Wait `headers` seconds before answering; send bodies `trickle[0]` bytes at a time,
        `trickle[1]` seconds apart."""
        with self._lock:
            if headers is not None:
                self.headers_delay = headers
            self.trickle = trickle

    def cut_manifests_after(self, n_bytes: int | None) -> None:
        """Announce the whole manifest, send `n_bytes` of it, then drop the connection."""
        with self._lock:
            self.cut_after = n_bytes

    def set_announce_length(self, announce: bool) -> None:
        """False: send bodies without Content-Length, ended by closing the connection (HTTP/1.1
        allows it), so a client learns the size only by reading."""
        with self._lock:
            self.announce_length = announce

    def set_manifest_content_type(self, content_type: str) -> None:
        """registry.ollama.ai once sent manifests as text/plain (ollama issue #6470)."""
        with self._lock:
            self.manifest_content_type = content_type

    def replace_manifest(
        self,
        ref: str,
        body: str | bytes | Mapping[str, Any] | list[Any],
        *,
        status: int = 200,
        content_type: str = MANIFEST_V2,
        times: int | None = None,
    ) -> None:
        """Answer manifest requests for tag `ref` (of any repository) with `body`."""
        if isinstance(body, (Mapping, list)):
            data = _compact(body)
        else:
            data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self.overrides[ref] = Override(data, status, content_type, times=times)

    def force_status(
        self,
        path: str,
        status: int,
        body: str | Mapping[str, Any] = "",
        *,
        content_type: str = "application/json; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer `path` (exact) with `status`, e.g. a 307 with a Location header, or a 500."""
        data = _compact(body) if isinstance(body, Mapping) else body.encode()
        with self._lock:
            self.forced[path] = Override(data, status, content_type, dict(headers or {}))

    def clear_faults(self) -> None:
        with self._lock:
            self.token = None
            self.headers_delay = 0.0
            self.trickle = None
            self.cut_after = None
            self.announce_length = True
            self.overrides.clear()
            self.forced.clear()
            self.manifest_content_type = MANIFEST_V2

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- used by the handler

    def _take(self, table: dict[str, Override], key: str) -> Override | None:
        with self._lock:
            found = table.get(key)
            if found is None:
                return None
            if found.times is not None:
                if found.times <= 0:
                    return None
                found.times -= 1
            return found

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; True when it is."""
        return seconds > 0 and self._stop.wait(seconds)


class _Httpd(QuietHttpd):
    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.owner._lock:
            self.owner.connections += 1
        return True


class _Cut(Exception):
    pass


class _Handler(QuietHandler["RegistryTestServer"]):
    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        owner = self.owner
        path = self.path.partition("?")[0]
        with owner._lock:
            owner.requests.append(
                RecordedRequest(self.command, path, {k.lower(): v for k, v in self.headers.items()})
            )
            delay, token = owner.headers_delay, owner.token
        try:
            if owner._sleep(delay):
                return
            self._route(path, token)
        except _Cut:
            self.close_connection = True
            self.wfile.flush()
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, path: str, token: str | None) -> None:
        owner = self.owner
        forced = owner._take(owner.forced, path)
        if forced is not None:
            self._send(forced.status, forced.body, forced.content_type, forced.headers)
            return
        if path == TOKEN_PATH:
            self._send_json(200, {"token": "test-registry-token"})
            return
        if token is not None and self.headers.get("Authorization") != f"Bearer {token}":
            repo = _MANIFEST_PATH.match(path)
            scope = f"repository:{repo['repo']}:pull" if repo else "-"
            challenge = f'Bearer realm="{owner.url}{TOKEN_PATH}",service="ollama",scope="{scope}"'
            body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
            self._send_json(401, body, {"WWW-Authenticate": challenge})
            return
        if path in ("/v2", "/v2/"):
            self._send_json(200, {})
            return
        if (m := _MANIFEST_PATH.match(path)) is not None:
            self._manifest(m["repo"], m["ref"])
            return
        if (m := _BLOB_PATH.match(path)) is not None:
            blob = owner.blobs.get(m["digest"])
            if blob is None:
                body = {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry"}]}
                self._send_json(404, body)
            else:
                self._send(200, blob, "application/octet-stream")
            return
        self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

    def _manifest(self, repo: str, ref: str) -> None:
        owner = self.owner
        override = owner._take(owner.overrides, ref)
        if override is not None:
            self._send(override.status, override.body, override.content_type, cut=True)
            return
        with owner._lock:
            body = owner.manifests.get((repo, ref))
            content_type = owner.manifest_content_type
        if body is None:
            error = {
                "code": "MANIFEST_UNKNOWN",
                "message": "manifest unknown",
                "detail": {"Tag": ref},
            }
            self._send_json(404, {"errors": [error]})
            return
        self._send(200, body, content_type, cut=True)

    def _send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        self._send(status, _compact(payload), "application/json; charset=utf-8", headers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        *,
        cut: bool = False,
    ) -> None:
        owner = self.owner
        with owner._lock:
            trickle = owner.trickle
            cut_after = owner.cut_after if cut else None
            announce = owner.announce_length
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if announce:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if cut_after is not None:
            body = body[:cut_after]
        if trickle is None:
            self.wfile.write(body)
        else:
            size, interval = trickle
            for start in range(0, len(body), size):
                if start and owner._sleep(interval):
                    raise _Cut
                self.wfile.write(body[start : start + size])
                self.wfile.flush()
        if cut_after is not None:
            raise _Cut


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the quantviz model-registry test server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--require-token", action="store_true", help="answer 401 without one")
    args = parser.parse_args(argv)
    server = RegistryTestServer(host=args.host, port=args.port)
    if args.require_token:
        server.require_token()
    print(f"Registry test server on {server.url} (Ctrl-C to stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.start()
        threading.Event().wait()
    server.stop()


if __name__ == "__main__":
    main()
