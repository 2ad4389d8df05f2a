"""A tiny OpenID Connect provider for tests: real HTTP on 127.0.0.1, the authorization code flow
as Streamlit's `st.login` (Authlib's Starlette client) runs it, with no login form: whoever the
browser brings to the authorization endpoint is logged in at once as the test's chosen account.

Shapes from the specifications, not from quantviz:

* discovery (OpenID Connect Discovery 1.0, section 3, "OpenID Provider Metadata"): `issuer`,
  `authorization_endpoint`, `token_endpoint`, `jwks_uri`, `response_types_supported`,
  `subject_types_supported`, `id_token_signing_alg_values_supported` are required; the rest
  (`scopes_supported`, `token_endpoint_auth_methods_supported`, `claims_supported`,
  `code_challenge_methods_supported` of RFC 8414) tell the client what this one accepts. No
  `end_session_endpoint`: Streamlit's logout then only clears its own cookie;
* the authorization request (OpenID Connect Core 1.0, 3.1.2.1; RFC 6749, 4.1.1): `response_type=
  code`, `client_id`, `redirect_uri`, `scope` containing `openid`, `state`, `nonce`, and with
  PKCE (RFC 7636, 4.3) `code_challenge` and `code_challenge_method=S256`. The answer (3.1.2.5;
  RFC 6749, 4.1.2) is a 302 to `redirect_uri` with `code` and the same `state`; a bad request
  with a usable redirect_uri gets `error=invalid_request` there (4.1.2.1), otherwise a 400;
* the token request (Core 3.1.3.1; RFC 6749, 4.1.3 and 2.3.1): a form POST with `grant_type=
  authorization_code`, `code`, `redirect_uri`, `code_verifier` (RFC 7636, 4.5), the client
  authenticated with HTTP Basic (id and secret form-urlencoded first) or in the form. The answer
  (Core 3.1.3.3; RFC 6749, 5.1) is JSON `access_token`, `token_type=Bearer`, `expires_in`,
  `id_token`, with `Cache-Control: no-store`; errors are RFC 6749, 5.2 (`invalid_client` with
  401, `invalid_grant`, `invalid_request`, `unsupported_grant_type`);
* the ID token (Core, section 2 and 3.1.3.7): a JWS signed RS256 with the key the `jwks_uri`
  publishes (RFC 7517 JWK Set, its `kid` in the header), claims `iss` (= issuer), `sub`, `aud`
  (= client_id), `exp`, `iat`, `auth_time`, `nonce` (from the authorization request), plus the
  `email` and `email_verified` of the `email` scope (Core 5.4). Authlib's
  `AsyncOpenIDMixin.parse_id_token` (authlib 1.9, integrations/base_client/async_openid.py) is
  the check it must pass: issuer from the metadata, audience, expiry, nonce, signature by kid.

Signing and the key are joserfc's (the JOSE library of Authlib's author, which Authlib itself
requires); nothing here is hand-rolled but the PKCE S256 comparison RFC 7636 4.6 spells out.

    with OidcTestServer(client_id="quantviz", client_secret="...") as provider:
        provider.login_as("teacher@school.example")
        url = provider.metadata_url  # server_metadata_url for [auth]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey
from served import QuietHandler, QuietHttpd, ServedInThread

DISCOVERY_PATH = "/.well-known/openid-configuration"
AUTHORIZE_PATH = "/authorize"
TOKEN_PATH = "/token"
JWKS_PATH = "/jwks"
KEY_ID = "quantviz-test-key-1"
ID_TOKEN_LIFETIME_S = 300
CODE_LIFETIME_S = 60


@dataclass(frozen=True)
class Grant:
    """One authorization code: what the token endpoint must see again, and whom it logs in."""

    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None
    email: str
    email_verified: bool
    issued: float = field(default_factory=time.monotonic)


class OidcTestServer(ServedInThread):
    """An OIDC provider that approves every authorization at once, as the account set with
    `login_as`. Every request path is recorded in `requests` (method, path without query)."""

    def __init__(
        self,
        *,
        client_id: str = "quantviz-test",
        client_secret: str = "quantviz-test-client-secret",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._key = RSAKey.generate_key(
            2048, parameters={"kid": KEY_ID, "use": "sig", "alg": "RS256"}, private=True
        )
        self._grants: dict[str, Grant] = {}
        self._email = "student@school.example"
        self._email_verified = True
        self.requests: list[tuple[str, str]] = []
        self.authorizations: list[dict[str, str]] = []  # query of each authorization request
        self._httpd = QuietHttpd((host, port), _Handler, self)

    # -- what a test sets and reads --------------------------------------------------------

    def login_as(self, email: str, *, verified: bool = True) -> None:
        """The account the next authorization requests log in as."""
        with self._lock:
            self._email, self._email_verified = email, verified

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def metadata_url(self) -> str:
        return self.url + DISCOVERY_PATH

    def requested(self, path: str) -> int:
        """How many requests reached `path`."""
        with self._lock:
            return sum(1 for _, p in self.requests if p == path)

    # -- the protocol ----------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.url + AUTHORIZE_PATH,
            "token_endpoint": self.url + TOKEN_PATH,
            "jwks_uri": self.url + JWKS_PATH,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "grant_types_supported": ["authorization_code"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "email"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._key.as_dict(private=False)]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """The authorization endpoint: (status, headers, body)."""
        with self._lock:
            self.authorizations.append(dict(query))
            email, verified = self._email, self._email_verified
        redirect_uri = query.get("redirect_uri", "")
        target = urlsplit(redirect_uri)
        if query.get("client_id") != self.client_id or target.scheme not in ("http", "https"):
            # Never redirect to an address this client did not give (RFC 6749, 4.1.2.1).
            return 400, {"Content-Type": "text/plain"}, b"unknown client or redirect_uri"
        state = query.get("state")
        problem = None
        if query.get("response_type") != "code":
            problem = "response_type must be code"
        elif "openid" not in query.get("scope", "").split():
            problem = "scope must contain openid"
        elif not state:
            problem = "state is required here"
        elif "code_challenge" in query and query.get("code_challenge_method") != "S256":
            problem = "only the S256 code_challenge_method is supported"
        if problem is not None:
            params = {"error": "invalid_request", "error_description": problem}
            if state:
                params["state"] = state
            return 302, {"Location": _with_query(redirect_uri, params)}, b""
        code = secrets.token_urlsafe(24)
        grant = Grant(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            nonce=query.get("nonce"),
            code_challenge=query.get("code_challenge"),
            email=email,
            email_verified=verified,
        )
        with self._lock:
            self._grants[code] = grant
        location = _with_query(redirect_uri, {"code": code, "state": state or ""})
        return 302, {"Location": location}, b""

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """The token endpoint: (status, JSON body)."""
        client = _client_credentials(form, authorization)
        if client is None or not (
            hmac.compare_digest(client[0], self.client_id)
            and hmac.compare_digest(client[1], self.client_secret)
        ):
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)  # a code works once
        if (
            grant is None
            or time.monotonic() - grant.issued > CODE_LIFETIME_S
            or form.get("redirect_uri") != grant.redirect_uri
        ):
            return 400, {"error": "invalid_grant"}
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if not verifier or not hmac.compare_digest(expected, grant.code_challenge):
                return 400, {"error": "invalid_grant", "error_description": "PKCE check failed"}
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "user-" + hashlib.sha256(grant.email.encode()).hexdigest()[:16],
            "aud": grant.client_id,
            "exp": now + ID_TOKEN_LIFETIME_S,
            "iat": now,
            "auth_time": now,
            "email": grant.email,
            "email_verified": grant.email_verified,
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        id_token = jwt.encode({"alg": "RS256", "kid": KEY_ID, "typ": "JWT"}, claims, self._key)
        return 200, {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid email profile",
            "id_token": id_token,
        }


def _with_query(uri: str, params: dict[str, str]) -> str:
    """`uri` with `params` added to its query (RFC 6749, 3.1.2: keep the query it has)."""
    return uri + ("&" if urlsplit(uri).query else "?") + urlencode(params)


def _client_credentials(form: dict[str, str], authorization: str | None) -> tuple[str, str] | None:
    """(client_id, client_secret) from HTTP Basic or the form (RFC 6749, 2.3.1)."""
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except ValueError:
            return None
        client_id, sep, secret = decoded.partition(":")
        return (unquote_plus(client_id), unquote_plus(secret)) if sep else None
    if "client_id" in form and "client_secret" in form:
        return form["client_id"], form["client_secret"]
    return None


def _single(values: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in values.items() if v}


class _Handler(QuietHandler["OidcTestServer"]):
    def _record(self) -> tuple[str, str]:
        path, _, query = self.path.partition("?")
        with self.owner._lock:
            self.owner.requests.append((self.command, path))
        return path, query

    def do_GET(self) -> None:
        path, query = self._record()
        if path == DISCOVERY_PATH:
            self._send_json(200, self.owner.metadata())
        elif path == JWKS_PATH:
            self._send_json(200, self.owner.jwks())
        elif path == AUTHORIZE_PATH:
            status, headers, body = self.owner.authorize(_single(parse_qs(query)))
            self._send(status, headers, body)
        else:
            self._send_json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        path, _ = self._record()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        if path != TOKEN_PATH:
            self._send_json(404, {"error": "not_found"})
            return
        if "application/x-www-form-urlencoded" not in self.headers.get("Content-Type", ""):
            self._send_json(400, {"error": "invalid_request"})
            return
        status, answer = self.owner.token(
            _single(parse_qs(body)), self.headers.get("Authorization")
        )
        extra = {"WWW-Authenticate": 'Basic realm="token"'} if status == 401 else {}
        self._send_json(
            status, answer, {"Cache-Control": "no-store", "Pragma": "no-cache", **extra}
        )

    def _send_json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(document).encode()
        self._send(status, {"Content-Type": "application/json", **(headers or {})}, body)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
