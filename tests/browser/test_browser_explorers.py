"""The two quantization explorers in Chromium: their bits sliders are the figures' own, so a
move redraws the chart and its readouts without one websocket frame; and the figures and
controls hold together at 1024 and 1440 px."""

from __future__ import annotations

import pytest
from figure_slider import Frames, click_step, readout, wait_readout

from quantviz.ui.context import widget_key

PAGE = "lab2-objective1"
WEIGHT = f".st-key-{widget_key(PAGE, 'quantization-explorer')}-line .js-plotly-plot"
GRID = f".st-key-{widget_key(PAGE, 'quantization-grid-explorer')}-heatmaps .js-plotly-plot"
GRID_CONTROLS = f".st-key-{widget_key(PAGE, 'quantization-grid-explorer')}-dist"
GRID_SAVE = f".st-key-{widget_key(PAGE, 'quantization-grid-explorer')}-save"


def _open(page, app_url) -> Frames:
    frames = Frames().attach(page)
    page.goto(f"{app_url}/{PAGE}")
    page.locator(GRID).wait_for()
    page.locator(WEIGHT).wait_for()
    # The page's run is over once the last widget (the GGUF explorer's chart) is drawn and the
    # status widget is gone; frames from here on belong to what the test does.
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached")
    return frames


def test_figure_bits_sliders_redraw_without_a_websocket_frame(page, app_url):
    """Clicking 8 then 2 on the single-weight figure's slider shows q = 22, ŵ = 0.157673, then
    q = 0 with 3 levels; clicking 2 on the grid's shows 3 levels in use and redraws ŵ. No
    websocket frame goes either way meanwhile. A control that does round-trip (max|w|)
    afterwards does send one, so the counter is live."""
    frames = _open(page, app_url)
    assert readout(page, WEIGHT, "stored q") == "1"
    before = frames.count
    grid_before = page.locator(GRID).inner_html()

    click_step(page, WEIGHT, "8")
    wait_readout(page, WEIGHT, "stored q", "22")
    assert readout(page, WEIGHT, "ŵ = q·scale") == "0.157673"
    assert page.locator(f"{WEIGHT} .slider-label").first.text_content() == "bits: 8"
    click_step(page, WEIGHT, "2")
    wait_readout(page, WEIGHT, "stored q", "0")
    assert readout(page, WEIGHT, "levels") == "3"

    assert readout(page, GRID, "levels used") == "10 of 15"  # seed 7: 10 distinct codes
    click_step(page, GRID, "2")
    wait_readout(page, GRID, "levels used", "3 of 3")
    assert page.locator(GRID).inner_html() != grid_before
    assert frames.count == before, "a bits move must not talk to the server"

    field = page.get_by_role("spinbutton", name="layer max|w|")
    field.fill("0.5")
    field.press("Enter")
    wait_readout(page, WEIGHT, "scale", "0.071429")
    assert frames.count[0] > before[0]  # that control did send


def _boxes(page, selector: str) -> list[dict]:
    return page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel)).map(e => {
            const r = e.getBoundingClientRect();
            return {text: e.textContent, x: r.x, y: r.y, w: r.width, h: r.height};
        }).filter(b => b.w > 0 && b.h > 0)""",
        selector,
    )


def _overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["w"] - 1
        and b["x"] < a["x"] + a["w"] - 1
        and a["y"] < b["y"] + b["h"] - 1
        and b["y"] < a["y"] + a["h"] - 1
    )


@pytest.mark.parametrize("width", [1024, 1440])
def test_explorer_layouts_hold_at_1024_and_1440(browser, app_url, width):
    """At 1024 and 1440 px: no two annotations (panel titles, readouts) of either figure
    overlap, every annotation and slider label lies inside its figure, no colour bar overlaps
    a panel title, and no control label of the grid explorer is cut (its text fits its box)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(45_000)
    try:
        _open(page, app_url)
        for plot in (WEIGHT, GRID):
            page.locator(plot).scroll_into_view_if_needed()
            frame = _boxes(page, plot)[0]
            notes = _boxes(page, f"{plot} .annotation")
            assert len(notes) >= 6, plot
            for i, a in enumerate(notes):
                assert frame["x"] - 1 <= a["x"] and a["x"] + a["w"] <= frame["x"] + frame["w"] + 1
                for b in notes[i + 1 :]:
                    assert not _overlap(a, b), (width, a["text"], b["text"])
            bars = _boxes(page, f"{plot} .colorbar")
            assert bars or plot == WEIGHT, "the grid's colour bars were not found"
            for bar in bars:
                for a in notes:
                    assert not _overlap(bar, a), (width, a["text"])
            for label in _boxes(page, f"{plot} .slider-label"):
                assert label["x"] + label["w"] <= frame["x"] + frame["w"] + 1, label["text"]
        labels, cut = page.evaluate(
            """([sel, save]) => {
                let root = document.querySelector(sel);
                while (!root.querySelector(save)) root = root.parentElement;
                const shown = Array.from(root.querySelectorAll(
                    '[data-testid="stWidgetLabel"] p, button p, button div'))
                  .filter(e => e.offsetWidth > 0);
                return [shown.length, shown.filter(e => e.scrollWidth > e.clientWidth + 1)
                  .map(e => e.textContent)];
            }""",
            [GRID_CONTROLS, GRID_SAVE],
        )
        assert labels >= 3, (width, labels)  # distribution, seed, "Draw a new layer" at least
        assert cut == [], (width, cut)
    finally:
        context.close()


def test_a_revealed_prediction_fills_its_record_field_at_once(page, app_url):
    """The single-weight explorer's prediction box reruns only its own fragment, but the lab's
    record field for it (Objective 1, "obj1-fewest-bits") sits outside: after "Reveal", the
    page reruns once and the field is pre-filled with the guess and the observed answer,
    without the student touching anything else (it stayed empty until the next full run)."""
    _open(page, app_url)
    box = page.locator(f".st-key-{widget_key(PAGE, 'quantization-explorer')}-predict-box")
    record = page.locator(".st-key-record-lab2-obj1-fewest-bits textarea")
    assert record.input_value() == ""
    box.locator("input").fill("5 bits")
    box.locator("input").press("Enter")
    reveal = box.get_by_role("button", name="Reveal the answer and record my guess")
    reveal.wait_for()
    page.wait_for_function("el => !el.disabled", arg=reveal.element_handle())
    reveal.click()
    box.get_by_text("Observed:").wait_for()
    # 8 bits is the fewest within 1 %: q = round(0.156347 / (0.910203 / 127)) = 22, ŵ = 0.157673
    page.wait_for_function(
        "el => el.value.includes('your guess 5 bits') && el.value.includes('observed 8 bits')",
        arg=record.element_handle(),
    )
