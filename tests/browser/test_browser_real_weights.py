"""What a person sees of the real-weights view in Chromium, served from a local Ollama's blobs."""

from __future__ import annotations

import shutil

import pytest
from gguf_pair import TinyModel
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer
from streamlit_process import streamlit_app

from quantviz.ui.context import widget_key

KEY = f".st-key-{widget_key('lab2-objective4', 'real-weights')}"


@pytest.fixture(scope="module")
def weights_app(tiny_pair: TinyModel, tmp_path_factory):
    """The app with OLLAMA_HOST at a test server whose modelfiles name blobs on this disk."""
    models = tmp_path_factory.mktemp("ollama-models")
    with OllamaTestServer(models_dir=models) as srv:
        for tag, src in ((Q4_TAG, tiny_pair.q4), (Q6_TAG, tiny_pair.q6)):
            srv.blob_path(tag).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, srv.blob_path(tag))
        with streamlit_app({"OLLAMA_HOST": srv.url}) as url:
            yield url


def test_default_view_draws_both_files_tile_histogram_and_profile(page, weights_app) -> None:
    """Objective 4 shows the default Q4_K tensor of layer 0 as three heatmaps, the histogram
    with its outlier, one super-block's bytes and the profile; nothing leaves the origin."""
    foreign: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(weights_app) else foreign.append(r.url),
    )
    page.goto(f"{weights_app}/lab2-objective4")
    page.locator("h3").filter(has_text="Real weights: one tensor").wait_for()
    tile = page.locator(f"{KEY}-tile .js-plotly-plot")
    tile.wait_for()
    assert tile.locator(".heatmaplayer image, .heatmaplayer .hm").count() >= 3
    assert "Q4 file (Q4_K)" in tile.inner_text() and "Q6 file (Q6_K)" in tile.inner_text()
    # The selectbox shows its choice as text or as its input's value: wait until either has it.
    page.wait_for_function(
        """([selector, wanted]) => {
            const box = document.querySelector(selector);
            if (!box) return false;
            const values = [...box.querySelectorAll("input")].map((x) => x.value || x.placeholder);
            return (box.innerText + " " + values.join(" ")).includes(wanted);
        }""",
        arg=[f"{KEY}-tensor", "blk.0.attn_q.weight · Q4_K / Q6_K · 256 × 256"],
    )
    hist = page.locator(f"{KEY}-hist .js-plotly-plot")
    hist.wait_for()
    assert "outliers: beyond ±4 σ (1)" in hist.inner_text()
    page.get_by_text("Q4 file (Q4_K): 144 bytes, in file order").wait_for()
    profile = page.locator(f"{KEY}-profile .js-plotly-plot")
    profile.wait_for()
    assert "Q6_K in the Q4 file" in profile.inner_text()
    page.wait_for_load_state("networkidle")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert foreign == []


def test_picking_another_tensor_redraws_the_tile(page, weights_app) -> None:
    """Choosing a Q6_K-in-both tensor says the files store it alike and redraws the heatmaps."""
    page.goto(f"{weights_app}/lab2-objective4")
    tile = page.locator(f"{KEY}-tile .js-plotly-plot")
    tile.wait_for()
    before = tile.inner_html()
    page.locator(f"{KEY}-tensor input").click()
    page.keyboard.type("blk.2.attn_v")  # the list is long and virtualized: filter it first
    page.get_by_role("option", name="blk.2.attn_v.weight · Q6_K / Q6_K · 256 × 256").click()
    page.get_by_text("Both files store this tensor byte for byte alike").wait_for()
    page.wait_for_function(
        "([sel, old]) => document.querySelector(sel).innerHTML !== old",
        arg=[f"{KEY}-tile .js-plotly-plot", before],
    )
    assert page.locator('[data-testid="stException"]').count() == 0


def test_after_moving_the_view_the_page_stays_accessible(page, weights_app) -> None:
    """axe after the real-weights view's interactions: another tensor picked by typing and
    Enter, the profile switched to relative with Space, the tile's data table opened with
    Enter; no serious or critical violation."""
    from axe import axe_source, check_now, open_data_table

    source = axe_source()
    page.goto(f"{weights_app}/lab2-objective4")
    tile = page.locator(f"{KEY}-tile .js-plotly-plot")
    tile.wait_for()
    before = tile.inner_html()
    page.locator(f"{KEY}-tensor input").focus()
    page.keyboard.type("blk.2.attn_v")
    page.keyboard.press("Enter")
    page.get_by_text("Both files store this tensor byte for byte alike").wait_for()
    page.wait_for_function(
        "([sel, old]) => document.querySelector(sel).innerHTML !== old",
        arg=[f"{KEY}-tile .js-plotly-plot", before],
    )
    page.locator(f"{KEY}-relative input").focus()
    page.keyboard.press("Space")
    page.locator(f"{KEY}-profile .js-plotly-plot").get_by_text("RMS(Q4 − Q6) / RMS(w)").wait_for()
    open_data_table(page, '[data-testid="stMain"]', "the tile's weights")
    check_now(page, "/lab2-objective4 (another tensor, relative profile, table open)", source)
