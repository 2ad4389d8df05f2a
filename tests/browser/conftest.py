"""Chromium (Debian's, driven by Playwright) against a real `streamlit run app.py`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ollama_server import OllamaTestServer
from streamlit_process import CHROMIUM, CHROMIUM_ARGS, streamlit_app

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(items):
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("QUANTVIZ_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def app_url(browser):
    """The project's app with its own labs/ (its first session is the first test's)."""
    with streamlit_app() as url:
        yield url


@pytest.fixture(scope="session")
def served_app(browser):
    """The app with a live endpoint (the Ollama test server), so the Ollama widgets show their
    tables and charts too; shared by the tests that walk every page."""
    with OllamaTestServer() as server, streamlit_app(env={"OLLAMA_HOST": server.url}) as url:
        yield url


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(45_000)  # a cold page with many plotly charts, on 2 shared cores
    yield pg
    if getattr(request.node, "rep_call", None) and request.node.rep_call.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
