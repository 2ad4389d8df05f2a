"""Two browser sessions against one `streamlit run`: nothing of one reaches the other.

Session A points the app at its own endpoint (a second test server that demands a key) and
enters the key; session B, open at the same time in another browser context, must still see the
default endpoint, no key, and must send its requests without an Authorization header.
"""

from __future__ import annotations

import pytest
from ollama_server import OllamaTestServer
from playwright.sync_api import expect
from streamlit_process import streamlit_app

from quantviz.ui.pages import settings

SECRET = "sk-session-a-4be1-secret"


@pytest.fixture(scope="module")
def servers():
    """The default endpoint (no key) and session A's private one (demands SECRET)."""
    with OllamaTestServer() as default, OllamaTestServer(api_key=SECRET) as private:
        yield default, private


@pytest.fixture(scope="module")
def shared_app(browser, servers):
    default, _ = servers
    with streamlit_app(env={"OLLAMA_HOST": default.url}) as url:
        yield url


def _session(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(45_000)
    return context, page


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def _go_to_objective_2(page) -> None:
    """Navigate inside the session (sidebar link), keeping its session state."""
    page.locator('[data-testid="stSidebarNav"] a[href$="/lab2-objective2"]').click()
    page.locator("h2").filter(has_text="Objective 2:").wait_for()


def test_one_sessions_endpoint_and_key_are_invisible_to_another(browser, shared_app, servers):
    """A's endpoint and key are used for A only: B sees the default endpoint and no key, and
    none of B's requests carries an Authorization header or reaches A's endpoint."""
    default, private = servers
    a_context, a = _session(browser)
    b_context, b = _session(browser)
    try:
        a.goto(f"{shared_app}/settings")
        b.goto(f"{shared_app}/settings")
        for page in (a, b):
            page.get_by_text(f"127.0.0.1:{default.port} (from OLLAMA_HOST)").wait_for()

        # A: own endpoint and key, saved and checked.
        a.locator(f".st-key-{settings.HOST_INPUT} input").fill(private.url)
        key_field = a.locator(f".st-key-{settings.KEY_INPUT} input")
        assert key_field.get_attribute("type") == "password"
        key_field.fill(SECRET)
        a.get_by_role("button", name="Save").click()
        a.get_by_text(f"Saved. Requests now go to 127.0.0.1:{private.port}").wait_for()
        expect(key_field).to_have_value("", timeout=45_000)  # the server empties the field
        a.get_by_text("A key is set for this session.").wait_for()
        a.get_by_role("button", name="Check connection").click()
        a.get_by_text("Connected: Ollama 0.12.11").wait_for()
        assert private.requests_to("/api/version")[-1].headers["authorization"] == (
            f"Bearer {SECRET}"
        )
        assert SECRET not in a.content()

        # B, a moment later, in the same server process: nothing of A.
        private_seen = len(private.requests)
        b.reload()
        b.get_by_text(f"127.0.0.1:{default.port} (from OLLAMA_HOST)").wait_for()
        b_text = _main_text(b)
        assert "no API key" in b_text
        assert str(private.port) not in b_text
        assert "A key is set" not in b_text
        assert SECRET not in b.content()
        assert b.locator(f".st-key-{settings.KEY_INPUT} input").input_value() == ""
        b.get_by_role("button", name="Check connection").click()
        b.get_by_text(f"Connected: Ollama 0.12.11 answers at 127.0.0.1:{default.port}").wait_for()
        _go_to_objective_2(b)
        b.get_by_text(f"Endpoint 127.0.0.1:{default.port} (from OLLAMA_HOST)").wait_for()
        b.get_by_text("on the endpoint").first.wait_for()

        # A's widgets keep using A's endpoint with A's key.
        _go_to_objective_2(a)
        a.get_by_text(
            f"Endpoint 127.0.0.1:{private.port} (set by you for this session) · your API key"
        ).wait_for()
        a.get_by_text("on the endpoint").first.wait_for()

        assert len(private.requests) > private_seen  # A's model list, after B was done
        assert all(r.headers.get("authorization") == f"Bearer {SECRET}" for r in private.requests)
        b_requests = default.requests
        assert {r.path for r in b_requests} >= {"/api/version", "/api/tags"}
        assert all("authorization" not in r.headers for r in b_requests)
        assert all(SECRET not in r.path + r.query for r in b_requests + private.requests)
        for page in (a, b):
            assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        a_context.close()
        b_context.close()
