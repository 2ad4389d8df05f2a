"""What a person sees in Chromium: deep links, the bits slider, no exceptions anywhere."""

from pathlib import Path

from quantviz.lab import Lab
from quantviz.lab.load import load_labs
from quantviz.ui.context import widget_key

ROOT = Path(__file__).resolve().parents[2]
BITS = f".st-key-{widget_key('lab2-objective1', 'quantization-explorer')}-bits"
LINE = f".st-key-{widget_key('lab2-objective1', 'quantization-explorer')}-line"


def _metric(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def test_deep_link_to_objective_1_and_the_bits_slider(page, app_url):
    """The objective 1 deep link opens that page; moving bits changes q and redraws the chart."""
    page.goto(f"{app_url}/lab2-objective1")
    heading = page.locator("h2").filter(has_text="Objective 1:")
    heading.wait_for()
    chart = page.locator(f"{LINE} .js-plotly-plot")
    chart.wait_for()
    assert _metric(page, "stored q") == "1"
    before = chart.inner_html()

    thumb = page.locator(f'{BITS} input[type="range"]')
    thumb.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    page.locator('[data-testid="stMetric"]').filter(has_text="stored q").get_by_text(
        "22", exact=True
    ).wait_for()
    assert thumb.input_value() == "8"
    page.wait_for_function(
        "([sel, old]) => document.querySelector(sel).innerHTML !== old",
        arg=[f"{LINE} .js-plotly-plot", before],
    )
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
