"""Chromium against `streamlit run`: the decision and metadata pages on a real-shaped E2B endpoint.

The test server answers `/api/show` the way a real Ollama does for Gemma 4 E2B (every per-layer
array null unless verbose, towers in the tensor list); what a student reads must be the true
figures: a 63 MB KV cache at 8k f16, and no false alarm from the recipe check.
"""

from __future__ import annotations

import pytest
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer
from streamlit_process import streamlit_app

from quantviz.ui.context import widget_key

DECISION = f".st-key-{widget_key('lab2-objective6', 'tradeoff-decision')}"
BUDGET = f"{DECISION}-budget"
OVERHEAD = 1_000_000_000  # the documented default (docs/model-facts.md, "Runtime overhead")


@pytest.fixture(scope="module")
def e2b_server():
    with OllamaTestServer() as server:
        yield server


@pytest.fixture(scope="module")
def e2b_app(e2b_server):
    with streamlit_app(env={"OLLAMA_HOST": e2b_server.url}) as url:
        yield url


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def test_decision_page_shows_the_true_e2b_kv_cache(page, e2b_app, e2b_server):
    """At 8k f16 the chart says 63 MB of KV cache for each tag (3 full layers × 8192 cells and 12
    sliding layers × 1024 cells; 20 shared layers hold none); at a 5.75 GB budget, with the
    default 1 GB runtime overhead, Q4 fits with 5.47 GB (its 4.41 GB file, 63 MB of cache, the
    overhead) and Q6 does not; once the student commits a choice the widget's reading picks Q4;
    the assumptions name the shared layers and the window; no exception."""
    page.goto(f"{e2b_app}/lab2-objective6")
    page.get_by_text("summed over the 15 layers that hold a cache").wait_for()
    text = _main_text(page)
    assert "12 sliding-window layers attend to the last 512 tokens" in text
    assert "the last 20 layers reuse an earlier layer's cache and hold none" in text
    assert "overestimate" not in text

    budget = page.locator(f"{BUDGET} input")
    budget.fill("5.75")
    budget.press("Enter")
    q4 = e2b_server.catalog[Q4_TAG].size + 62_914_560 + OVERHEAD
    chart = page.locator(f"{DECISION}-fig-memory .js-plotly-plot")
    chart.get_by_text(f"fits, {(5.75e9 - q4) / 1e6:.0f} MB spare").wait_for()
    q6 = e2b_server.catalog[Q6_TAG].size + 62_914_560 + OVERHEAD
    chart.get_by_text(f"short by {(q6 - 5.75e9) / 1e6:.0f} MB").wait_for()

    main = page.locator('[data-testid="stMain"]')
    main.locator('[data-testid="stRadio"]').get_by_text("Q4", exact=True).click()
    reason = page.get_by_label("Your reason, from your own figures (one or two sentences)")
    reason.fill("Only Q4 fits my budget with the runtime counted.")
    reason.press("Control+Enter")
    page.get_by_role("button", name="Commit my choice").click()
    reading = page.locator("p", has_text="The widget's reading of the figures")
    reading.filter(
        has_text="Choose Q4: it is the only one that fits 5.75 GB at 8k context."
    ).wait_for()
    assert f"Q4 fits with 8k context ({q4 / 1e9:.2f} GB of 5.75 GB" in _main_text(page)
    assert {"model": Q4_TAG, "verbose": True} in [
        r.body for r in e2b_server.requests_to("/api/show")
    ]
    assert page.locator('[data-testid="stException"]').count() == 0


def test_metadata_page_finds_the_q4_file_on_recipe(page, e2b_app):
    """The metadata page reads the real tensor list (towers included): every tensor of the Q4
    file has the recipe's type, the towers are named as left alone, per_layer_token_embd is
    explained, and the claims are verified."""
    page.goto(f"{e2b_app}/lab2-objective4")
    page.get_by_text("has the type llama.cpp's Q4_K_M recipe gives it").wait_for()
    text = _main_text(page)
    assert "differ from llama.cpp's" not in text
    assert "in the vision and audio towers" in text
    assert "per_layer_token_embd.weight is Gemma's per-layer embedding table" in text
    assert "Same layer count: verified (35 / 35)" in text
    assert page.locator('[data-testid="stException"]').count() == 0
