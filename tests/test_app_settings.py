"""AppTest of the settings page: what is in use, Check connection, Save, and the safety rules."""

from __future__ import annotations

import pytest
from apptest_utils import open_page, page_bytes, texts
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer
from streamlit.proto.TextInput_pb2 import TextInput
from streamlit_process import free_port

from quantviz.ui.pages import settings
from quantviz.ui.session import API_KEY, HOST_KEY, SERVER_VERSION

SAVE = "FormSubmitter:settings-form-Save"
SECRET = "sk-student-7f3a-never-shown"
INSTRUCTOR = {"host": "https://ollama.example.edu", "api_key": "instructor-key-9c2e"}


@pytest.fixture
def server(ollama_server: OllamaTestServer, monkeypatch) -> OllamaTestServer:
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    return ollama_server


def _errors(at) -> str:
    return "\n".join(e.value for e in at.error).replace("\\", "")


def _session_host(at) -> str:
    return at.session_state.get(HOST_KEY, "")


def _save(at, host: str = "", key: str = ""):
    at.text_input(key=settings.HOST_INPUT).input(host)
    at.text_input(key=settings.KEY_INPUT).input(key)
    return at.button(key=SAVE).click().run()


def _check(at):
    return at.button(key="settings-check").click().run()


def test_settings_page_shows_the_host_in_use_its_source_and_the_tags(server):
    """The endpoint (host only) and where it came from, no key, every configured tag."""
    at = open_page("settings")
    assert not at.exception
    page = texts(at)
    assert f"**Endpoint**: `127.0.0.1:{server.port}` (from OLLAMA_HOST)" in page
    assert "**API key**: no API key" in page
    tags = at.dataframe[0].value
    assert {Q4_TAG, Q6_TAG} <= set(tags["tag"])
    assert "Lab 2 - Quantization Tradeoffs: Comparing 4-bit and 6-bit" in set(tags["named by"])
    assert "**allowed**" in page  # private endpoints on a local run


def test_instructor_host_is_labelled_as_such_and_its_key_never_shown(ollama_server):
    """An instructor's host says so; the instructor's key is 'hidden', never on the page."""
    at = open_page("settings", secrets={"ollama": {**INSTRUCTOR, "host": ollama_server.url}})
    assert "(set by the instructor)" in texts(at)
    assert "the instructor's API key (hidden)" in texts(at)
    assert INSTRUCTOR["api_key"].encode() not in page_bytes(at)


def test_check_connection_shows_the_server_version(server):
    """Check connection answers with GET /api/version's version and remembers it."""
    server.set_version("0.13.4")
    at = _check(open_page("settings"))
    assert any(
        f"Ollama 0\\.13\\.4 answers at `127.0.0.1:{server.port}`" in s.value for s in at.success
    )
    assert at.session_state[SERVER_VERSION] == {server.url: "0.13.4"}


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("refused", "Nothing is answering at this address (connection refused)"),
        ("auth", "(HTTP 401): check the API key"),
        ("forbidden", "(HTTP 403): check the API key"),
        ("html", "Something answered, but not an Ollama server (it sent text/html, not JSON)"),
        ("no_api", "This address has no Ollama API (HTTP 404"),
    ],
)
def test_check_connection_gives_the_clear_reason(server, monkeypatch, fault, reason):
    """Each failure of Check connection names its cause."""
    if fault == "refused":
        monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{free_port()}")
    elif fault == "auth":
        server.set_api_key("class-key")
    elif fault == "forbidden":
        server.force_status("/api/version", 403)
    elif fault == "html":
        server.force_status("/api/version", 200, "<html>hi</html>", content_type="text/html")
    else:
        server.force_status("/api/version", 404, "404 page not found", content_type="text/plain")
    at = _check(open_page("settings"))
    assert not at.exception
    assert reason in _errors(at)
    assert not at.success


def test_save_endpoint_and_key_uses_them_and_never_shows_the_key(server):
    """A saved endpoint and key are used (Bearer header) while the page never echoes the key:
    the password field is empty again and says only that a key is set."""
    other = OllamaTestServer(api_key=SECRET).start()
    try:
        at = _save(open_page("settings"), other.url, SECRET)
        assert not at.exception
        key_input = at.text_input(key=settings.KEY_INPUT)
        assert key_input.proto.type == TextInput.PASSWORD
        assert key_input.value == ""
        assert any(f"`127.0.0.1:{other.port}` with your API key" in s.value for s in at.success)
        assert "A key is set for this session." in texts(at)
        assert _session_host(at) == other.url
        assert "(set by you for this session)" in texts(at)
        at = _check(at)
        assert at.success and not at.error
        assert other.requests_to("/api/version")[-1].headers["authorization"] == f"Bearer {SECRET}"
        assert not server.requests_to("/api/version")
        assert SECRET.encode() not in page_bytes(at)
        assert SECRET not in other.requests_to("/api/version")[-1].path
    finally:
        other.stop()


def test_clear_key_removes_it_from_the_session(server):
    """Clear key drops the key: the next request carries no Authorization header."""
    at = _save(open_page("settings"), "", SECRET)
    assert at.session_state[API_KEY] == SECRET
    at.button(key="settings-clear-key").click().run()
    assert API_KEY not in at.session_state
    assert "A key is set" not in texts(at)
    _check(at)
    assert "authorization" not in server.requests_to("/api/version")[-1].headers


def test_malformed_url_is_refused_with_the_reason(server):
    """A URL the client would misread is refused at Save, and the old endpoint stays."""
    at = _save(open_page("settings"), "htp://example.org")
    assert "This endpoint is not valid: Use http:// or https://, not htp://." in _errors(at)
    assert not _session_host(at)
    assert f"`127.0.0.1:{server.port}` (from OLLAMA_HOST)" in texts(at)


def test_cloud_metadata_address_is_always_refused(server):
    """169.254.169.254 is refused even where private endpoints are allowed; nothing is saved."""
    at = _save(open_page("settings"), "http://169.254.169.254:80")
    assert "This endpoint is refused: 169.254.169.254 is a cloud-metadata address" in _errors(at)
    assert not _session_host(at)
    assert f"`127.0.0.1:{server.port}`" in texts(at)


def test_private_endpoint_refused_when_the_instructor_disallows_it(ollama_server):
    """With allow_private_endpoints = false a loopback endpoint is refused, and never asked."""
    at = open_page("settings", secrets={"ollama": {**INSTRUCTOR, "allow_private_endpoints": False}})
    assert "**refused** (the instructor's `allow_private_endpoints = false`)" in texts(at)
    at = _save(at, ollama_server.url)
    assert "127.0.0.1 is a loopback address" in _errors(at)
    assert "`ollama.example.edu:443` (set by the instructor)" in texts(at)
    assert not ollama_server.requests


def test_endpoint_is_fixed_when_the_instructor_says_so(ollama_server):
    """allow_custom_endpoint = false disables the fields and Save, says why, and ignores a
    session endpoint set some other way."""
    secrets = {"ollama": {"host": ollama_server.url, "allow_custom_endpoint": False}}
    at = open_page("settings", secrets=secrets)
    assert at.text_input(key=settings.HOST_INPUT).disabled
    assert at.text_input(key=settings.KEY_INPUT).disabled
    assert at.button(key=SAVE).disabled
    assert "The instructor has fixed the endpoint for this class" in at.info[0].value
    at.session_state[HOST_KEY] = "http://10.1.2.3:11434"
    at.run()
    assert f"`127.0.0.1:{ollama_server.port}` (set by the instructor)" in texts(at)
    assert "fixed the endpoint for this class; it cannot be changed" in at.warning[0].value


def test_two_sessions_do_not_see_each_others_endpoint_or_key(server):
    """Session A's endpoint and key are absent from session B, which sends no Authorization."""
    other = OllamaTestServer(api_key=SECRET).start()
    try:
        a = _save(open_page("settings"), other.url, SECRET)
        b = _check(open_page("settings"))
        assert f"`127.0.0.1:{server.port}` (from OLLAMA_HOST)" in texts(b)
        assert str(other.port).encode() not in page_bytes(b)
        assert SECRET.encode() not in page_bytes(b)
        assert API_KEY not in b.session_state
        assert "authorization" not in server.requests_to("/api/version")[-1].headers
        assert f"`127.0.0.1:{other.port}`" in texts(a)
    finally:
        other.stop()
