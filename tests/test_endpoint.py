"""quantviz.ollama.endpoint: URL normalisation and the hosted-safety rule."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from ollama._client import _parse_host

from quantviz.ollama.endpoint import (
    EndpointURL,
    check_endpoint,
    classify_address,
    normalize_url,
)
from quantviz.ollama.errors import OllamaError


def fake_resolver(*addresses: str) -> Any:
    """A getaddrinfo stand-in that resolves every name to `addresses`."""

    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        out = []
        for a in addresses:
            family = socket.AF_INET6 if ":" in a else socket.AF_INET
            out.append((family, socket.SOCK_STREAM, 6, "", (a, port)))
        return out

    return resolve


def failing_resolver(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("localhost", "http://localhost:11434"),
        ("localhost:8080", "http://localhost:8080"),
        ("http://localhost", "http://localhost:80"),
        ("https://ollama.example.org", "https://ollama.example.org:443"),
        ("https://ollama.example.org:8443/", "https://ollama.example.org:8443"),
        ("HTTP://Ollama.Example.ORG:11434", "http://ollama.example.org:11434"),
        ("https://gpu.example.edu/ollama/", "https://gpu.example.edu:443/ollama"),
        ("[::1]", "http://[::1]:11434"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("  10.0.0.5:11434  ", "http://10.0.0.5:11434"),
        ("0.0.0.0", "http://0.0.0.0:11434"),
    ],
)
def test_normalize_url(raw: str, url: str) -> None:
    """Addresses normalise to scheme://host:port[/path] with the ollama client's default ports."""
    assert normalize_url(raw).url == url


@pytest.mark.parametrize(
    "raw",
    ["localhost", "example.com:56789/", "http://1.2.3.4", "https://example.com",
     "[0001:002:003:0004::1]:56789/path", "https://example.com:56789/path"],
)  # fmt: skip
def test_normalize_url_agrees_with_the_ollama_client(raw: str) -> None:
    """Where both accept an address, ours and the client's _parse_host give the same URL."""
    assert normalize_url(raw).url == _parse_host(raw)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("", "Enter the server address"),
        ("ftp://example.com", "http:// or https://"),
        ("http://", "no host name"),
        (":11434", "no host name"),
        ("http://user:sk-secret@example.com", "its own field"),
        ("http://example.com/?key=sk-secret", "? or #"),
        ("http://example.com:99999", "port"),
        ("http://example.com:abc", "port"),
        ("http://exa mple.com", "spaces"),
        ("http://bad_host!.com", "not a valid host name"),
    ],
)
def test_normalize_url_rejects_malformed(raw: str, needle: str) -> None:
    """Malformed addresses raise kind bad_url with a message that says what is wrong."""
    with pytest.raises(OllamaError) as info:
        normalize_url(raw)
    assert info.value.kind == "bad_url" and needle in info.value.message
    assert "sk-secret" not in info.value.message


def test_endpoint_url_fields() -> None:
    """EndpointURL keeps scheme, host, port and path apart."""
    assert normalize_url("https://h.example/x") == EndpointURL("https", "h.example", 443, "x")
    assert str(normalize_url("h")) == "http://h:11434"


@pytest.mark.parametrize(
    ("address", "cls"),
    [
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("::ffff:169.254.169.254", "metadata"),
        ("64:ff9b::a9fe:a9fe", "metadata"),
        ("169.254.1.1", "link_local"),
        ("fe80::1", "link_local"),
        ("fe80::1%eth0", "link_local"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.10", "private"),
        ("100.64.0.1", "private"),
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("224.0.0.1", "reserved"),
        ("240.0.0.1", "reserved"),
        ("8.8.8.8", "public"),
        ("2606:4700:4700::1111", "public"),
    ],
)
def test_classify_address(address: str, cls: str) -> None:
    """Addresses fall into metadata, link-local, loopback, private, reserved or public."""
    assert classify_address(address) == cls


def test_public_endpoint_passes() -> None:
    """A name resolving only to public addresses passes, with what it resolved to."""
    checked = check_endpoint(
        "https://ollama.example.org", allow_private=False, resolve=fake_resolver("93.184.216.34")
    )
    assert checked.url == "https://ollama.example.org:443"
    assert checked.resolved == ("93.184.216.34",) and not checked.is_private


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "100.100.100.200"])
def test_metadata_addresses_are_always_refused(address: str) -> None:
    """Cloud-metadata addresses are refused even when private endpoints are allowed."""
    with pytest.raises(OllamaError) as info:
        check_endpoint(
            "http://innocent.example", allow_private=True, resolve=fake_resolver(address)
        )
    assert info.value.kind == "blocked" and "cloud-metadata" in info.value.message


@pytest.mark.parametrize("address", ["169.254.10.10", "fe80::1234"])
def test_link_local_is_always_refused(address: str) -> None:
    """Link-local addresses are refused even when private endpoints are allowed."""
    with pytest.raises(OllamaError) as info:
        check_endpoint("x.example", allow_private=True, resolve=fake_resolver(address))
    assert info.value.kind == "blocked" and "link-local" in info.value.message


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.5", "192.168.1.20"])
def test_loopback_and_private_need_allow_private(address: str) -> None:
    """Loopback and private ranges are refused unless allow_private is true."""
    with pytest.raises(OllamaError) as info:
        check_endpoint("box.lan", allow_private=False, resolve=fake_resolver(address))
    assert info.value.kind == "blocked" and "instructor" in info.value.message
    checked = check_endpoint("box.lan", allow_private=True, resolve=fake_resolver(address))
    assert checked.is_private


def test_every_resolved_address_must_pass() -> None:
    """One bad address among several is enough to refuse the endpoint."""
    resolve = fake_resolver("93.184.216.34", "169.254.169.254")
    with pytest.raises(OllamaError) as info:
        check_endpoint("multi.example", allow_private=True, resolve=resolve)
    assert info.value.kind == "blocked" and "169.254.169.254" in info.value.message


def test_unresolvable_name_is_bad_url() -> None:
    """A name that does not resolve is kind bad_url."""
    with pytest.raises(OllamaError) as info:
        check_endpoint("no-such-host.invalid", allow_private=True, resolve=failing_resolver)
    assert info.value.kind == "bad_url" and "does not resolve" in info.value.message


def test_real_resolver_refuses_metadata_literals() -> None:
    """With the real getaddrinfo, literal and decimal forms of 169.254.169.254 are refused."""
    for raw in ("http://169.254.169.254/latest", "http://2852039166", "http://[::ffff:a9fe:a9fe]"):
        with pytest.raises(OllamaError) as info:
            check_endpoint(raw, allow_private=True)
        assert info.value.kind == "blocked", raw


def test_real_resolver_localhost() -> None:
    """localhost resolves to loopback: allowed only with allow_private."""
    assert check_endpoint("http://127.0.0.1:11434", allow_private=True).is_private
    with pytest.raises(OllamaError):
        check_endpoint("http://127.0.0.1:11434", allow_private=False)
