"""Chromium against `streamlit run`: a pull streams into progress bars that reach 100 %."""

from __future__ import annotations

import pytest
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer
from streamlit_process import streamlit_app

from quantviz.ui.context import widget_key

WIDGET = f".st-key-{widget_key('lab2-objective2', 'model-pull')}"
PULL_Q4 = f"{WIDGET}-pull-Q4"
BARS = '[data-testid="stProgress"] [role="progressbar"]'


@pytest.fixture(scope="module")
def pull_server():
    """Q4 not yet on the endpoint; each pull step takes a moment, so progress is visible."""
    with OllamaTestServer(installed=(Q6_TAG,), pull_step_delay=0.15) as server:
        yield server


@pytest.fixture(scope="module")
def pull_app(browser, pull_server):
    with streamlit_app(env={"OLLAMA_HOST": pull_server.url}) as url:
        yield url


def _values(page) -> list[int]:
    return [int(v) for v in page.locator(BARS).evaluate_all(
        "bars => bars.map(b => b.getAttribute('aria-valuenow'))"
    )]  # fmt: skip


def test_pull_progress_reaches_100_percent(page, pull_app, pull_server):
    """Clicking Pull shows per-layer bars filling part-way, then every bar at 100 %, success,
    and the tag listed as on the endpoint."""
    page.goto(f"{pull_app}/lab2-objective2")
    page.get_by_text(f"{Q4_TAG} · not on this endpoint").wait_for()
    page.locator(PULL_Q4).get_by_role("button", name="Pull").click()

    # Part-way: at least one bar strictly between 0 and 100 while the stream runs.
    page.wait_for_function(
        """sel => [...document.querySelectorAll(sel)].some(b => {
            const v = Number(b.getAttribute('aria-valuenow'));
            return v > 0 && v < 100;
        })""",
        arg=BARS,
    )
    page.get_by_text(f"Pulled Q4 {Q4_TAG}: 4 layers").wait_for()
    values = _values(page)
    assert len(values) == 5 and set(values) == {100}, values
    texts = page.locator('[data-testid="stProgress"]').all_inner_texts()
    weights = pull_server.catalog[Q4_TAG].layers[0][1]
    assert any(f"({weights:,} / {weights:,} bytes)" in t for t in texts), texts
    assert page.get_by_text("Status: success").is_visible()
    page.get_by_text(f"{Q4_TAG} · on the endpoint").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    assert len(pull_server.requests_to("/api/pull")) == 1
