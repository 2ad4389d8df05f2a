"""A local HTTP listener standing in for an attacker's server: it records every request it gets.

Hostile model output and hostile server strings in the tests point at `recorder.url(...)`; a
browser that renders them as an image (or follows a link) shows up in `recorder.hits`. It answers
every GET with a 1x1 PNG, so an image that does load really renders.
"""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class HitRecorder:
    """`with HitRecorder() as rec:` -> `rec.url('/x.png')`, then `rec.hits` (paths requested)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    owner._hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG_1X1)))
                self.end_headers()
                self.wfile.write(PNG_1X1)

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    @property
    def hits(self) -> list[str]:
        with self._lock:
            return list(self._hits)

    def __enter__(self) -> HitRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
