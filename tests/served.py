"""What the project's protocol test servers share: an HTTP server in a daemon thread.

`tests/ollama_server.py` (the Ollama API), `tests/registry_server.py` (a model registry) and
`tests/oidc_server.py` (an OpenID provider) each keep their own routes and state; this holds the
plumbing around them, so it is written once.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar

OwnerT = TypeVar("OwnerT")


class QuietHttpd(ThreadingHTTPServer):
    """A threading server that knows its owner and does not log clients that hung up."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, owner: Any) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (timeout, Stop button) is normal here, not worth a traceback.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class QuietHandler(BaseHTTPRequestHandler, Generic[OwnerT]):
    """A handler that speaks HTTP/1.1 (chunked streams and keep-alive, like Go's net/http),
    logs nothing, and reaches the test server that owns it as `self.owner`."""

    protocol_version = "HTTP/1.1"
    server: QuietHttpd

    def log_message(self, fmt: str, *args: Any) -> None:
        pass  # keep test output clean

    @property
    def owner(self) -> OwnerT:
        owner: OwnerT = self.server.owner
        return owner


class ServedInThread:
    """Start/stop of `self._httpd` in a daemon thread; a context manager.

    Subclasses set `self._httpd` (a `QuietHttpd`) and `self._stop` (an Event their slow
    handlers wait on, so stopping wakes them) in `__init__`.
    """

    _httpd: QuietHttpd
    _stop: threading.Event
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def host_name(self) -> str:
        host = self._httpd.server_address[0]
        return f"{host if isinstance(host, str) else host.decode()}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host_name}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes handlers sleeping in a slow answer
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
