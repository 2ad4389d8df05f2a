"""The `[auth]` section (Streamlit's OIDC login) as far as the instructor page relies on it.

Pure (no streamlit): pass `st.secrets["auth"]` (or any mapping). Streamlit's `st.login` checks
that the keys are there (`streamlit/auth_util.py`, `validate_auth_credentials`) but not what
they hold: a `server_metadata_url` that is not an http(s) URL or a `redirect_uri` off
`/oauth2callback` pass it and fail only after the redirect, as a bare "Authentication error"
page or a login that never comes back. `login_problems` names those, so the page can stay locked
with a sentence the instructor can act on. Messages name keys, never their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

CALLBACK_PATH = "/oauth2callback"  # the only callback route Streamlit serves
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def provider_names(auth: Mapping[str, Any]) -> list[str]:
    """Named providers (`[auth.<name>]` tables), in the order the secrets list them."""
    return [name for name, value in auth.items() if isinstance(value, Mapping)]


def login_problems(auth: Mapping[str, Any], provider: str | None) -> list[str]:
    """What in `[auth]` keeps `st.login(provider)` from ending in a logged-in session.

    `provider` None is Streamlit's "default" provider: the keys directly under `[auth]`. A key
    that is missing is left to Streamlit, whose own message names it; this checks the values.
    """
    problems: list[str] = []
    where = "[auth]" if provider is None else f"[auth.{provider}]"
    section: Mapping[str, Any] = auth if provider is None else auth.get(provider) or {}
    secret = auth.get("cookie_secret")
    if secret is not None and (not isinstance(secret, str) or not secret.strip()):
        problems.append("[auth] cookie_secret must be a non-empty text (a long random string)")
    redirect = auth.get("redirect_uri")
    if redirect is not None:
        path = urlsplit(redirect).path if _is_http_url(redirect) else ""
        if not path.endswith(CALLBACK_PATH):
            problems.append(
                "[auth] redirect_uri must be the app's own address ending in /oauth2callback, "
                "e.g. https://your-app.streamlit.app/oauth2callback"
            )
    for key in ("client_id", "client_secret"):
        value = section.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.append(f"{where} {key} must be a non-empty text")
    metadata = section.get("server_metadata_url")
    if metadata is not None and not _is_http_url(metadata):
        problems.append(
            f"{where} server_metadata_url must be an http(s) URL, usually ending in "
            "/.well-known/openid-configuration"
        )
    return problems
