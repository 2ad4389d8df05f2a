"""Endpoint URLs: normalisation the way the `ollama` client reads them, and the hosted-safety rule.

Normalisation mirrors the client (and Ollama's own OLLAMA_HOST parsing): no scheme means
`http://` and port 11434; an explicit `http://` or `https://` without a port means 80 or 443. The
result always names the port, so the settings page can show exactly where requests go.

A host name is spelled one way: UTS 46 mapping then IDNA 2008 (the `idna` package), giving the
ASCII A-label that is checked, resolved and connected to (`ß.example` is `xn--zca.example`, not
the `ss.example` of Python's IDNA 2003 codec).

The safety rule (for a deployment where students type their own endpoint): every address the name
resolves to must pass. Link-local (169.254.0.0/16, fe80::/10) and cloud-metadata addresses are
always refused; loopback and private ranges only when `allow_private` is true (the instructor
allows them, or the app runs on the student's own machine). `check_endpoint` applies it when a
student saves an endpoint; `quantviz.ollama.transport` applies it again on every connection, to the
addresses it then connects to, so a name whose DNS answer changes afterwards (rebinding) is
refused at the request.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import idna

from quantviz.ollama.errors import OllamaError

DEFAULT_PORT = 11434
SCHEME_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressClass = Literal["public", "private", "loopback", "link_local", "metadata", "reserved"]

# Instance-metadata services that live outside the link-local ranges, plus the best-known ones
# inside them (named in messages). AWS: IMDS at 169.254.169.254 and fd00:ec2::254, ECS task
# credentials at 169.254.170.2, EKS Pod Identity at 169.254.170.23 / fd00:ec2::23 (AWS keeps all
# of fd00:ec2::/32 for such services); Alibaba Cloud: 100.100.100.200. GCP, Azure, Oracle,
# DigitalOcean and OpenStack use 169.254.169.254.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "169.254.170.23", "100.100.100.200")
)
METADATA_NETWORKS = (ipaddress.ip_network("fd00:ec2::/32"),)
LINK_LOCAL_NETWORKS = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
# Carrier-grade NAT space: not internet-routable, treated as private.
SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")
NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")

Resolver = Callable[..., Sequence[tuple[Any, ...]]]
# The resolver of the check and of every connection (`resolve_host`); tests script it here.
getaddrinfo: Resolver = socket.getaddrinfo


@dataclass(frozen=True)
class EndpointURL:
    """A normalised endpoint address; `url` is what the client is given."""

    scheme: str
    hostname: str  # lower-case; IPv6 without brackets
    port: int
    path: str = ""  # a reverse-proxy prefix, without leading or trailing slash

    @property
    def url(self) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        base = f"{self.scheme}://{host}:{self.port}"
        return f"{base}/{self.path}" if self.path else base

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class CheckedEndpoint:
    """An address that passed the safety rule, with what its name resolved to."""

    address: EndpointURL
    resolved: tuple[str, ...]
    classes: tuple[AddressClass, ...]

    @property
    def url(self) -> str:
        return self.address.url

    @property
    def is_private(self) -> bool:
        """True when it reaches loopback or a private network (the student's own machine/LAN)."""
        return any(c in ("loopback", "private") for c in self.classes)


def _bad(message: str) -> OllamaError:
    return OllamaError("bad_url", message)


def normalize_hostname(host: str) -> str | None:
    """The one spelling of a host: an IP literal lower-cased, a name as its ASCII A-label.

    Names go through UTS 46 mapping (full-width forms, case) and IDNA 2008 with the `idna`
    package, as a browser would; None when the name is not valid.
    """
    try:
        ipaddress.ip_address(host)
        return host.lower()
    except ValueError:
        pass
    try:
        ascii_host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None
    labels = ascii_host.rstrip(".").split(".")
    if len(ascii_host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        return None
    return ascii_host.lower()


def normalize_url(raw: str) -> EndpointURL:
    """Parse an endpoint the way the `ollama` client does, rejecting what it would guess at.

    'localhost' -> http://localhost:11434; 'https://ollama.example.org' -> port 443;
    '[::1]:8080' -> http://[::1]:8080. Credentials, queries and fragments are refused: the
    API key has its own field and must never sit in a URL.
    """
    text = (raw or "").strip()
    if not text:
        raise _bad("Enter the server address, for example http://localhost:11434.")
    if any(ch.isspace() for ch in text):
        raise _bad("The address contains spaces.")
    scheme, sep, rest = text.partition("://")
    if sep:
        scheme = scheme.lower()
        if scheme not in SCHEME_PORTS:
            raise _bad(f"Use http:// or https://, not {scheme}://.")
        default_port = SCHEME_PORTS[scheme]
    else:
        scheme, rest, default_port = "http", text, DEFAULT_PORT
    split = urllib.parse.urlsplit(f"{scheme}://{rest}")
    if "@" in split.netloc:
        raise _bad("Put the API key in its own field, not in the address.")
    if split.query or split.fragment or "?" in rest or "#" in rest:
        raise _bad("The address must not contain ? or #.")
    host = split.hostname or ""
    if not host:
        raise _bad("The address has no host name, for example http://localhost:11434.")
    ascii_host = normalize_hostname(host)
    if ascii_host is None:
        raise _bad(f"{host!r} is not a valid host name.")
    try:
        port = split.port or default_port
    except ValueError:
        raise _bad("The port must be a number from 1 to 65535.") from None
    if not 0 < port < 65536:
        raise _bad("The port must be a number from 1 to 65535.")
    return EndpointURL(scheme, ascii_host, port, split.path.strip("/"))


def _embedded_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one wraps (mapped, NAT64, 6to4), else the address itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in NAT64_NETWORK:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def classify_address(address: str | IPAddress) -> AddressClass:
    """Which side of the safety rule an address falls on."""
    ip = ipaddress.ip_address(address.split("%")[0] if isinstance(address, str) else address)
    ip = _embedded_ipv4(ip)
    if ip in METADATA_ADDRESSES or any(ip in net for net in METADATA_NETWORKS):
        return "metadata"
    if ip.is_link_local or any(ip in net for net in LINK_LOCAL_NETWORKS):
        return "link_local"
    if ip.is_loopback or ip.is_unspecified:  # 0.0.0.0 reaches this machine on Linux
        return "loopback"
    if ip.is_multicast or ip.is_reserved:
        return "reserved"
    if ip.is_private or ip in SHARED_NETWORK:
        return "private"
    if not ip.is_global:
        return "reserved"
    return "public"


def resolve_host(host: str, port: int, resolver: Resolver | None = None) -> tuple[str, ...]:
    """Every address `host` resolves to, in the resolver's order, without duplicates.

    Raises socket.gaierror (or UnicodeError) when the name does not resolve.
    """
    infos = (resolver or getaddrinfo)(host, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal(hostname: str, address: str, allow_private: bool) -> str | None:
    """Why the rule refuses `address` (what `hostname` resolved to), or None when it passes."""
    ip = address.split("%")[0]
    cls = classify_address(ip)
    where = hostname if hostname == ip else f"{hostname} ({ip})"
    if cls == "metadata":
        return f"{where} is a cloud-metadata address; endpoints there are always refused."
    if cls == "link_local":
        return f"{where} is a link-local address; endpoints there are always refused."
    if cls == "reserved":
        return f"{where} is not a usable host address."
    if cls in ("loopback", "private") and not allow_private:
        return (
            f"{where} is a {'loopback' if cls == 'loopback' else 'private-network'} address. "
            "This deployment only allows public endpoints; ask your instructor, or run the app "
            "on your own machine to use a local Ollama."
        )
    return None


def check_addresses(hostname: str, addresses: Sequence[str], allow_private: bool) -> None:
    """Apply the rule to every address; raises OllamaError kind "blocked" for the first refused."""
    for address in addresses:
        reason = refusal(hostname, address, allow_private)
        if reason is not None:
            raise OllamaError("blocked", reason)


def check_endpoint(
    raw: str, *, allow_private: bool, resolve: Resolver | None = None
) -> CheckedEndpoint:
    """Normalise `raw`, resolve it, and apply the safety rule to every address it resolves to.

    Raises OllamaError kind "bad_url" (malformed, or the name does not resolve) or "blocked".
    """
    address = normalize_url(raw)
    try:
        found = resolve_host(address.hostname, address.port, resolve)
    except (socket.gaierror, UnicodeError):
        raise _bad(f"The name {address.hostname!r} does not resolve: check the spelling.") from None
    resolved = tuple(dict.fromkeys(ip.split("%")[0] for ip in found))
    if not resolved:
        raise _bad(f"The name {address.hostname!r} does not resolve: check the spelling.")
    check_addresses(address.hostname, resolved, allow_private)
    return CheckedEndpoint(address, resolved, tuple(classify_address(ip) for ip in resolved))
