"""axe-core after the main interactions, not only on pages in their default state (issue 18).

Each test drives one widget the way a person would (the keyboard where it can), waits until the
result is drawn, and audits the whole page: no serious or critical violation. The pages' default
state is audited by test_browser_accessibility.py; the class board's and the real weights'
interactions are audited in their own modules, on the servers those already start.
"""

from __future__ import annotations

from axe import axe_source, check_now, open_data_table, settle
from figure_slider import click_step, readout
from live_region import wait_said
from script_run import one_run

from quantviz.ui.context import widget_key

GGUF = f".st-key-{widget_key('lab2-objective1', 'gguf-formats')}"


def test_gguf_explorer_moved_by_keyboard_stays_accessible(page, served_app):
    """Objective 1's GGUF explorer: the toy bits moved with the arrow keys (its polite live
    region then says "toy int5"), the colour-range switch flipped with Space, a chart's data
    table opened with Enter; then axe finds no serious or critical violation."""
    source = axe_source()
    with page.expect_websocket() as opened:
        page.goto(f"{served_app}/lab2-objective1")
    socket = opened.value
    settle(page)
    live_key = f"{widget_key('lab2-objective1', 'gguf-formats')}-live"
    wait_said(page, live_key, "toy int4", start=True)
    page.locator(f"{GGUF}-bits input").focus()
    with one_run(socket):
        page.keyboard.press("ArrowRight")
    wait_said(page, live_key, "toy int5", start=True)
    page.locator(f"{GGUF}-shared input").focus()
    with one_run(socket):  # the switch's rerun is over before the audit, not only its click
        page.keyboard.press("Space")
    page.wait_for_function(
        "sel => document.querySelector(sel)?.getAttribute('aria-checked') === 'false'"
        " || document.querySelector(sel)?.checked === false",
        arg=f"{GGUF}-shared input",
    )
    open_data_table(page, '[data-testid="stMain"]', "the weights and every scheme's error")
    check_now(page, "/lab2-objective1 (GGUF explorer moved)", source)


def test_explorers_figure_sliders_moved_stay_accessible(page, served_app):
    """Objective 1's two explorers with their figures' own bits sliders moved by pointer (the
    keyboard's way is `test_browser_keyboard.py`) to 8 bits, the figures redrawn in the browser;
    then axe finds no serious or critical violation."""
    source = axe_source()
    page.goto(f"{served_app}/lab2-objective1")
    settle(page)
    weight = (
        f".st-key-{widget_key('lab2-objective1', 'quantization-explorer')}-line .js-plotly-plot"
    )
    grid = (
        f".st-key-{widget_key('lab2-objective1', 'quantization-grid-explorer')}-heatmaps"
        " .js-plotly-plot"
    )
    click_step(page, weight, "8")
    page.wait_for_function(
        "sel => document.querySelector(sel).innerText.includes('bits: 8')", arg=weight
    )
    assert readout(page, weight, "levels") == "255"
    click_step(page, grid, "8")
    page.wait_for_function(
        "sel => document.querySelector(sel).innerText.includes('bits: 8')", arg=grid
    )
    check_now(page, "/lab2-objective1 (figure sliders at 8 bits)", source)
