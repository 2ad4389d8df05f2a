"""The OIDC test provider (tests/oidc_server.py) against Authlib's own Starlette client, the one
Streamlit's st.login drives: discovery, authorization, token, ID token checks. Authlib is the
judge here (its parse_id_token checks issuer, audience, expiry, nonce and signature), so the
browser test's provider is known to speak the protocol before the browser is involved."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.starlette_client import OAuth
from oidc_server import AUTHORIZE_PATH, OidcTestServer
from streamlit_ws import run

REDIRECT = "http://localhost:8501/oauth2callback"


@pytest.fixture(scope="module")
def provider():
    with OidcTestServer(client_id="quantviz", client_secret="test-secret-1") as server:
        yield server


def _client(provider: OidcTestServer, secret: str | None = None):
    oauth = OAuth()
    oauth.register(
        "school",
        client_id=provider.client_id,
        client_secret=secret or provider.client_secret,
        server_metadata_url=provider.metadata_url,
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )
    return oauth.create_client("school")


async def _authorize(client) -> tuple[dict, dict[str, str]]:
    """Authlib's authorization request, followed one hop: (its data, the callback's query)."""
    data = await client.create_authorization_url(REDIRECT)
    answer = httpx.get(data["url"])
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return data, {k: v[0] for k, v in parse_qs(location.query).items()}


def test_authlib_logs_in_as_the_chosen_account(provider):
    """Discovery, an authorization that comes straight back with a code and the same state, a
    token exchange with PKCE, and an ID token Authlib accepts, carrying the chosen email, the
    nonce Authlib sent, audience = client_id and issuer = the metadata's issuer."""
    provider.login_as("teacher@school.example")

    async def flow():
        client = _client(provider)
        data, callback = await _authorize(client)
        assert callback["state"] == data["state"] and callback["code"]
        token = await client.fetch_access_token(
            code=callback["code"], redirect_uri=REDIRECT, code_verifier=data["code_verifier"]
        )
        return data, token, await client.parse_id_token(token, nonce=data["nonce"])

    data, token, user = run(flow())
    assert token["token_type"] == "Bearer" and token["access_token"]
    assert user["email"] == "teacher@school.example" and user["email_verified"] is True
    assert user["nonce"] == data["nonce"] and user["aud"] == "quantviz"
    assert user["iss"] == provider.url and user["exp"] > user["iat"]
    sent = provider.authorizations[-1]
    assert sent["code_challenge_method"] == "S256" and "openid" in sent["scope"].split()


def test_the_email_is_settable_per_login(provider):
    """login_as changes who the next authorization logs in, verified or not."""
    provider.login_as("student@school.example", verified=False)

    async def flow():
        client = _client(provider)
        data, callback = await _authorize(client)
        token = await client.fetch_access_token(
            code=callback["code"], redirect_uri=REDIRECT, code_verifier=data["code_verifier"]
        )
        return await client.parse_id_token(token, nonce=data["nonce"])

    user = run(flow())
    assert user["email"] == "student@school.example" and user["email_verified"] is False


def test_authlib_rejects_an_id_token_for_another_nonce(provider):
    """The nonce is the one of the authorization request: checked against another, Authlib
    refuses the token (so the test provider cannot pass a replayed login)."""

    async def flow():
        client = _client(provider)
        data, callback = await _authorize(client)
        token = await client.fetch_access_token(
            code=callback["code"], redirect_uri=REDIRECT, code_verifier=data["code_verifier"]
        )
        await client.parse_id_token(token, nonce="not-the-nonce-that-was-sent")

    with pytest.raises(Exception, match="nonce"):
        run(flow())


def _token_post(provider: OidcTestServer, form: dict[str, str], secret: str) -> httpx.Response:
    basic = base64.b64encode(f"{provider.client_id}:{secret}".encode()).decode()
    return httpx.post(
        provider.url + "/token", data=form, headers={"Authorization": f"Basic {basic}"}
    )


def test_the_token_endpoint_refuses_a_wrong_secret_a_reused_code_and_a_wrong_verifier(provider):
    """RFC 6749 5.2 errors: a wrong client secret is 401 invalid_client; a code works once; a
    PKCE verifier that does not hash to the challenge is invalid_grant."""

    async def codes():
        client = _client(provider)
        return [await _authorize(client) for _ in range(2)]

    (first, first_cb), (_, second_cb) = run(codes())
    form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT}
    good = {**form, "code": first_cb["code"], "code_verifier": first["code_verifier"]}
    wrong = _token_post(provider, good, "not-the-secret")
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid_client"}
    ok = _token_post(provider, good, provider.client_secret)
    assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store"
    again = _token_post(provider, good, provider.client_secret)
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
    bad_pkce = {**form, "code": second_cb["code"], "code_verifier": first["code_verifier"]}
    refused = _token_post(provider, bad_pkce, provider.client_secret)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_the_authorization_endpoint_refuses_bad_requests(provider):
    """An unknown client gets a 400 page (never a redirect); a request without the openid scope
    goes back to the client with error=invalid_request and its state."""
    base = {"response_type": "code", "redirect_uri": REDIRECT, "state": "s-123", "scope": "openid"}
    unknown = httpx.get(provider.url + AUTHORIZE_PATH, params={**base, "client_id": "someone"})
    assert unknown.status_code == 400 and "location" not in unknown.headers
    no_openid = httpx.get(
        provider.url + AUTHORIZE_PATH,
        params={**base, "client_id": provider.client_id, "scope": "email"},
    )
    assert no_openid.status_code == 302
    query = parse_qs(urlsplit(no_openid.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and query["state"] == ["s-123"]
