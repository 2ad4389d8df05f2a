"""The address that was checked is the address connected to, on every request.

Real HTTP (and real TLS) against local servers; only name resolution is scripted, through the
resolver `quantviz.ollama.endpoint` uses for the check at Save and for every connection.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from apptest_utils import open_page
from ollama_server import Q4_TAG

from quantviz.chat.runs import collect_reply
from quantviz.ollama import client as ollama_api
from quantviz.ollama import endpoint as endpoint_module
from quantviz.ollama.client import Endpoint, check_connection, list_models, pull, show
from quantviz.ollama.endpoint import check_endpoint, normalize_url
from quantviz.ollama.errors import OllamaError
from quantviz.ui.pages import settings


class ScriptedDNS:
    """getaddrinfo that answers names from a script, one answer per call, and records them.

    `answers[name]` is a list of address lists: the first call gets the first, later calls the
    next, the last repeats. IP literals resolve to themselves.
    """

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.asked: list[str] = []

    def set(self, name: str, *answers: list[str]) -> ScriptedDNS:
        self.answers[name] = list(answers)
        return self

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.asked.append(name)
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
            addresses = [name]
        except OSError:
            if name not in self.answers:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            script = self.answers[name]
            addresses = script.pop(0) if len(script) > 1 else script[0]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]


@pytest.fixture
def dns(monkeypatch) -> ScriptedDNS:
    scripted = ScriptedDNS()
    monkeypatch.setattr(endpoint_module, "getaddrinfo", scripted)
    return scripted


# --------------------------------------------------------------------------- rebinding


def test_a_name_that_rebinds_after_the_check_is_refused_at_the_request(dns, ollama_server):
    """The check at Save sees the loopback test server; by the request the name points at the
    cloud-metadata address: the request is refused and nothing is sent anywhere."""
    dns.set("rebind.test", ["127.0.0.1"], ["169.254.169.254"])
    url = f"http://rebind.test:{ollama_server.port}"
    checked = check_endpoint(url, allow_private=True)
    assert checked.resolved == ("127.0.0.1",)
    with pytest.raises(OllamaError) as info:
        check_connection(Endpoint(checked.url, allow_private=True))
    assert info.value.kind == "blocked" and "169.254.169.254" in info.value.message
    assert ollama_server.requests == []
    assert dns.asked == ["rebind.test", "rebind.test"]  # resolved again for the request


def test_rebinding_to_a_private_address_is_refused_on_a_public_only_deployment(dns, ollama_server):
    """Public at the check, loopback (the test server) at the request, on a deployment that
    refuses private endpoints: refused for every kind of request, none of which arrives."""
    dns.set("flip.test", ["93.184.216.34"], ["127.0.0.1"])
    checked = check_endpoint(f"http://flip.test:{ollama_server.port}", allow_private=False)
    endpoint = Endpoint(checked.url, allow_private=False)
    hello = [{"role": "user", "content": "hi"}]
    calls = {
        "version": lambda: check_connection(endpoint),
        "tags": lambda: list_models(endpoint),
        "show": lambda: show(endpoint, Q4_TAG),
        "pull": lambda: list(pull(endpoint, Q4_TAG)),
        "chat": lambda: collect_reply(endpoint, Q4_TAG, hello, max_chars=10**6),
    }
    for name, call in calls.items():
        with pytest.raises(OllamaError) as info:
            call()
        assert info.value.kind == "blocked" and "loopback" in info.value.message, name
    assert ollama_server.requests == []


def test_every_address_of_the_answer_is_checked_at_the_request(dns, ollama_server):
    """An answer that mixes the allowed server with a metadata address is refused whole."""
    dns.set("mixed.test", ["127.0.0.1", "169.254.169.254"])
    with pytest.raises(OllamaError) as info:
        check_connection(Endpoint(f"http://mixed.test:{ollama_server.port}", allow_private=True))
    assert info.value.kind == "blocked"
    assert ollama_server.requests == []


def test_the_checked_address_is_the_one_connected_to(dns, ollama_server):
    """A name resolving to the loopback test server reaches it, with the name in Host."""
    dns.set("lab.test", ["127.0.0.1"])
    url = f"http://lab.test:{ollama_server.port}"
    assert check_connection(Endpoint(url, allow_private=True)) == "0.12.11"
    assert ollama_server.requests_to("/api/version")[-1].headers["host"] == (
        f"lab.test:{ollama_server.port}"
    )


def test_loopback_is_reachable_for_local_runs_and_refused_when_hosted(ollama_server):
    """The loopback test server answers a session endpoint where private endpoints are allowed
    (a student's own machine) and is refused, unsent, where they are not; the instructor's
    host (no rule: allow_private None) is reached as before."""
    assert check_connection(Endpoint(ollama_server.url, allow_private=True)) == "0.12.11"
    assert check_connection(Endpoint(ollama_server.url)) == "0.12.11"
    seen = len(ollama_server.requests)
    with pytest.raises(OllamaError) as info:
        check_connection(Endpoint(ollama_server.url, allow_private=False))
    assert info.value.kind == "blocked" and "127.0.0.1 is a loopback address" in info.value.message
    assert len(ollama_server.requests) == seen


def test_settings_page_refuses_a_saved_endpoint_that_rebinds(dns, ollama_server):
    """On the settings page: Save accepts the name and Check connection reaches the test
    server; then DNS points the name at the metadata service, and the next Check connection
    says it is refused, without sending anything."""
    dns.set("class.test", ["127.0.0.1"])
    at = open_page("settings")
    at.text_input(key=settings.HOST_INPUT).input(f"http://class.test:{ollama_server.port}")
    at.button(key="FormSubmitter:settings-form-Save").click().run()
    assert any("Saved." in s.value for s in at.success), [e.value for e in at.error]
    at.button(key="settings-check").click().run()
    assert any("Connected: Ollama 0.12.11" in s.value.replace("\\", "") for s in at.success)
    assert len(ollama_server.requests) == 1

    dns.set("class.test", ["169.254.169.254"])  # the rebinding, after every check at Save
    at.button(key="settings-check").click().run()
    errors = "\n".join(e.value for e in at.error).replace("\\", "")
    assert f"No connection to `class.test:{ollama_server.port}`" in errors
    assert "class.test (169.254.169.254) is a cloud-metadata address" in errors
    assert len(ollama_server.requests) == 1
    assert not at.exception


# --------------------------------------------------------------------------- one spelling


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("http://ß.example", "xn--zca.example"),  # IDNA 2008 keeps ß; IDNA 2003 made it "ss"
        ("http://xn--zca.example", "xn--zca.example"),
        ("http://SS.example", "ss.example"),
        ("http://ＥＸＡＭＰＬＥ．org", "example.org"),  # UTS 46 maps full-width forms
        ("http://Bücher.example:8080/x", "xn--bcher-kva.example"),
    ],
)
def test_hostnames_have_one_spelling(raw, host):
    """Unicode names normalise once, to the A-label the connection uses (UTS 46, IDNA 2008)."""
    assert normalize_url(raw).hostname == host


def test_the_check_and_the_connection_resolve_the_same_name(dns, ollama_server):
    """`ß.example` is checked as xn--zca.example and connected to as xn--zca.example, never as
    ss.example (where a different address could be waiting)."""
    dns.set("xn--zca.example", ["127.0.0.1"]).set("ss.example", ["169.254.169.254"])
    checked = check_endpoint(f"http://ß.example:{ollama_server.port}", allow_private=True)
    assert check_connection(Endpoint(checked.url, allow_private=True)) == "0.12.11"
    assert dns.asked == ["xn--zca.example", "xn--zca.example"]
    assert ollama_server.requests[-1].headers["host"] == f"xn--zca.example:{ollama_server.port}"


def test_a_name_idna_refuses_is_a_clear_error():
    """A name that is not valid IDNA 2008 is refused with the reason, not a traceback."""
    with pytest.raises(OllamaError) as info:
        normalize_url("http://a\u200db.example")  # a zero-width joiner outside its context
    assert info.value.kind == "bad_url" and "not a valid host name" in info.value.message


# --------------------------------------------------------------------------- TLS


class _TLSVersionServer:
    """An HTTPS server answering /api/version with a certificate for `name`; records the SNI
    names and Host headers it receives."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.sni: list[str | None] = []
        self.hosts: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hosts.append(self.headers.get("Host", ""))
                body = json.dumps({"version": "0.12.11"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda sock, name, ctx: self.sni.append(name)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tls_server(tmp_path, monkeypatch) -> Iterator[_TLSVersionServer]:
    """HTTPS with a self-signed certificate for ollama.test, which the client is told to
    trust (the certificate is its own CA)."""
    openssl = shutil.which("openssl")
    assert openssl, "the TLS test needs the openssl command (Debian package openssl)"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=ollama.test",
         "-addext", "subjectAltName=DNS:ollama.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    trusting = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(ollama_api, "_ssl_context", lambda: trusting)
    server = _TLSVersionServer(cert, key)
    yield server
    server.close()


def test_https_keeps_the_name_for_sni_host_and_certificate(dns, tls_server):
    """Connecting to the pinned 127.0.0.1 for https://ollama.test: the TLS handshake names
    ollama.test (SNI), the certificate is verified for ollama.test, and Host says ollama.test."""
    dns.set("ollama.test", ["127.0.0.1"])
    url = f"https://ollama.test:{tls_server.port}"
    assert check_connection(Endpoint(url, allow_private=True)) == "0.12.11"
    assert tls_server.sni == ["ollama.test"]
    assert tls_server.hosts == [f"ollama.test:{tls_server.port}"]


def test_https_certificate_is_verified_for_the_name_not_the_address(dns, tls_server):
    """The same server reached under another name fails verification: pinning the address does
    not weaken the certificate check."""
    dns.set("other.test", ["127.0.0.1"])
    with pytest.raises(OllamaError) as info:
        check_connection(Endpoint(f"https://other.test:{tls_server.port}", allow_private=True))
    assert info.value.kind == "refused" and "TLS" in info.value.message
    assert tls_server.hosts == []


def test_redirects_stay_refused(dns, ollama_server):
    """A redirect from a checked endpoint is reported, not followed."""
    dns.set("hop.test", ["127.0.0.1"])
    ollama_server.force_status("/api/version", 307, "", content_type="text/plain")
    with pytest.raises(OllamaError) as info:
        check_connection(Endpoint(f"http://hop.test:{ollama_server.port}", allow_private=True))
    assert info.value.kind == "bad_url" and "Redirects are not followed" in info.value.message
