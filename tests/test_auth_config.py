"""quantviz.config.auth: what in [auth] would let st.login start but never log anyone in."""

from __future__ import annotations

from quantviz.config.auth import login_problems, provider_names

SCHOOL = {
    "client_id": "quantviz",
    "client_secret": "s3cret-value",
    "server_metadata_url": "https://id.school.example/.well-known/openid-configuration",
}
GOOD: dict[str, object] = {
    "redirect_uri": "https://quantviz.school.example/oauth2callback",
    "cookie_secret": "a-long-random-cookie-secret",
    "school": SCHOOL,
}


def test_a_complete_section_has_no_problem():
    """The documented shape, with Streamlit's {port} placeholder or a base path too, passes."""
    assert login_problems(GOOD, "school") == []
    with_port = {**GOOD, "redirect_uri": "http://localhost:{port}/oauth2callback"}
    assert login_problems(with_port, "school") == []
    with_base = {**GOOD, "redirect_uri": "https://school.example/quantviz/oauth2callback"}
    assert login_problems(with_base, "school") == []


def test_missing_keys_are_left_to_streamlit():
    """A key that is absent is not reported here (Streamlit's st.login names it)."""
    assert login_problems({"school": {}}, "school") == []


def test_values_that_cannot_work_are_named_without_their_values():
    """A relative metadata URL, a callback elsewhere, an empty cookie secret and a client id of
    the wrong kind are each named by key; no value is quoted."""
    auth = {
        "redirect_uri": "https://quantviz.school.example/",
        "cookie_secret": "  ",
        "school": {**SCHOOL, "client_id": 42, "server_metadata_url": "id.example/x"},
    }
    problems = login_problems(auth, "school")
    assert problems == [
        "[auth] cookie_secret must be a non-empty text (a long random string)",
        "[auth] redirect_uri must be the app's own address ending in /oauth2callback, "
        "e.g. https://your-app.streamlit.app/oauth2callback",
        "[auth.school] client_id must be a non-empty text",
        "[auth.school] server_metadata_url must be an http(s) URL, usually ending in "
        "/.well-known/openid-configuration",
    ]
    assert not any("id.example/x" in p or "42" in p for p in problems)


def test_the_default_provider_is_the_keys_under_auth():
    """provider None (Streamlit's "default") checks the provider keys directly under [auth]."""
    flat = {k: v for k, v in GOOD.items() if k != "school"}
    flat["server_metadata_url"] = "ftp://id.school.example/openid"
    assert login_problems(flat, None) == [
        "[auth] server_metadata_url must be an http(s) URL, usually ending in "
        "/.well-known/openid-configuration"
    ]
    assert provider_names(flat) == [] and provider_names(GOOD) == ["school"]
