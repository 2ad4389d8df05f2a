"""What a person sees in Chromium: deep links, the bits slider, no exceptions anywhere."""

from pathlib import Path

from figure_slider import click_step, readout, wait_readout

from quantviz.lab import Lab
from quantviz.lab.load import load_labs
from quantviz.ui.context import widget_key

ROOT = Path(__file__).resolve().parents[2]
LINE = f".st-key-{widget_key('lab2-objective1', 'quantization-explorer')}-line .js-plotly-plot"


def test_deep_link_to_objective_1_and_the_bits_slider(page, app_url):
    """The objective 1 deep link opens that page; moving bits changes q and redraws the chart.

    The bits slider is the figure's own (tests/browser/test_browser_explorers.py counts its
    websocket frames: none)."""
    page.goto(f"{app_url}/lab2-objective1")
    heading = page.locator("h2").filter(has_text="Objective 1:")
    heading.wait_for()
    chart = page.locator(LINE)
    chart.wait_for()
    assert readout(page, LINE, "stored q") == "1"
    before = chart.inner_html()

    click_step(page, LINE, "8")
    page.wait_for_function(
        "([sel, old]) => document.querySelector(sel).innerHTML !== old", arg=[LINE, before]
    )
    wait_readout(page, LINE, "stored q", "22")
    assert page.locator(f"{LINE} .slider-label").first.text_content() == "bits: 8"
    assert page.url.endswith("/lab2-objective1")
    assert page.locator('[data-testid="stException"]').count() == 0


def test_no_page_shows_an_exception(page, app_url):
    """Every page of the app renders without a Streamlit exception box."""
    paths = [
        "",
        *(
            s.url_path
            for lab in load_labs(ROOT / "labs")
            if isinstance(lab, Lab)
            for s in lab.sections
        ),
    ]
    for path in paths:
        page.goto(f"{app_url}/{path}")
        page.locator('[data-testid="stMain"] h1, [data-testid="stMain"] h2').first.wait_for()
        page.wait_for_load_state("networkidle")
        assert page.locator('[data-testid="stException"]').count() == 0, path
        if path:
            assert page.url.endswith(f"/{path}"), (path, page.url)
