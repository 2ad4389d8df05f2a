"""The HTTP transport under every request to Ollama: resolve, check, connect to what was checked.

A check at Save time cannot stop a name whose DNS answer changes afterwards (DNS rebinding), and
a resolver other than the connection's can disagree about which name is meant. So the check runs
where the connection is made: httpcore asks its network backend to `connect_tcp(host, port)`
for every new connection, and `PinnedBackend` resolves `host` (through `endpoint.resolve_host`),
applies the endpoint rule to every address, and opens the socket to one of exactly those
addresses. Nothing else changes: httpcore still sends the URL's name as the Host header and
uses it for TLS (SNI and certificate verification; `httpcore/_sync/connection.py`, `_connect`,
passes `server_hostname=origin.host` to `start_tls`), so https works as before.

`pinned_transport` builds the httpx transport for one client. httpx's `HTTPTransport` takes no
network backend, so the transport is an `HTTPTransport` whose connection pool is replaced by one
built from httpcore's public `ConnectionPool(network_backend=...)`; request and error handling
stay httpx's own. An explicit transport also means httpx reads no proxy from the environment: a
proxy would make the connection go somewhere other than the checked address.

The transport also caps each answer's body (`max_bytes`): reading past it raises OllamaError
"too_large", so a hostile endpoint cannot make one request hold gigabytes in the shared process.
"""

from __future__ import annotations

import ipaddress
import ssl
import time
from collections.abc import Iterable, Iterator

import httpcore
import httpx

from quantviz.ollama import endpoint
from quantviz.ollama.errors import OllamaError


class PinnedBackend(httpcore.NetworkBackend):
    """Connects only to addresses the endpoint rule accepts, resolved at connection time.

    `allow_private`: None applies no rule (the instructor's own host is trusted); True refuses
    link-local, metadata and reserved addresses; False refuses loopback and private ones too.
    """

    def __init__(self, allow_private: bool | None) -> None:
        self.allow_private = allow_private
        self._sockets = httpcore.SyncBackend()

    def addresses(self, host: str, port: int) -> tuple[str, ...]:
        """What `host` resolves to now, every address checked; raises OllamaError "blocked"."""
        try:
            ipaddress.ip_address(host.split("%")[0])
            found: tuple[str, ...] = (host,)
        except ValueError:
            try:
                found = endpoint.resolve_host(host, port)
            except (OSError, UnicodeError) as exc:
                raise httpcore.ConnectError(f"{host}: {exc}") from exc
        if not found:
            raise httpcore.ConnectError(f"{host}: no address associated with the name")
        if self.allow_private is not None:
            endpoint.check_addresses(host, found, self.allow_private)
        return found

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        error: Exception | None = None
        for address in self.addresses(host, port):
            try:
                return self._sockets.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc  # try the next checked address, as a resolver-driven connect would
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise OllamaError("blocked", "Unix sockets are not an Ollama endpoint here.")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)  # httpcore's retry back-off; retries are off


class _CappedBody(httpx.SyncByteStream):
    """A response body that raises OllamaError "too_large" once it passes `limit` bytes."""

    def __init__(self, stream: httpx.SyncByteStream, limit: int) -> None:
        self._stream = stream
        self._limit = limit

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self._stream:
            seen += len(chunk)
            if seen > self._limit:
                raise OllamaError(
                    "too_large",
                    f"The server's answer passed this class's limit of {self._limit:,} bytes; "
                    "it was not read further.",
                )
            yield chunk

    def close(self) -> None:
        self._stream.close()


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport with `PinnedBackend` under its pool and a cap on every body."""

    def __init__(
        self, allow_private: bool | None, ssl_context: ssl.SSLContext, max_bytes: int
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=PinnedBackend(allow_private)
        )
        self.max_bytes = max_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _CappedBody(response.stream, self.max_bytes)
        return response


def pinned_transport(
    allow_private: bool | None, ssl_context: ssl.SSLContext, max_bytes: int
) -> httpx.HTTPTransport:
    """The transport for one client: pinned, checked connections and capped answers."""
    return PinnedTransport(allow_private, ssl_context, max_bytes)
