"""Keyboard only: a chat exchange (one model, then side by side), the quality probe, a record
field and the deployment decision, with Tab, Shift+Tab, Enter, Space, the arrow keys and typing
(issue 18, SC 2.1.1); focus shows at every stop (SC 2.4.7); axe-core after each interaction.

No mouse: no `.click()`, no `.fill()`, only `page.keyboard`. The app runs against the project's
Ollama test server (the session-wide `served_app`), whose replies echo the prompt.
"""

from __future__ import annotations

from axe import axe_source, check_now, settle
from figure_slider import Frames, readout
from keyboard import KeyboardWalk
from live_region import said, wait_changed, wait_said
from playwright.sync_api import expect

from quantviz.ui.context import widget_key

CHAT = widget_key("lab2-objective5", "compare-chat")
PROBE = widget_key("lab2-objective5", "quality-probe")
DECISION = widget_key("lab2-objective6", "tradeoff-decision")
MESSAGES = f'.st-key-{CHAT}-box [data-testid="stChatMessage"]'


def _type_and_send(page, text: str) -> None:
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_objective_5_chat_probe_and_a_record_by_keyboard(page, served_app):
    """Tab to the chat box, type, Enter: the Q4 reply comes; arrow to "Side by side", Tab back
    to the box, ask again: both tags reply; Tab to "Run the probe", Enter: it finishes; type a
    record and save it with Enter. Every focus stop shows; axe passes after each step."""
    source = axe_source()
    page.goto(f"{served_app}/lab2-objective5")
    settle(page)
    walk = KeyboardWalk(page)
    main = page.locator('[data-testid="stMain"]')

    walk.tab_to(f".st-key-{CHAT}-input textarea")
    _type_and_send(page, "Why is Q4 smaller?")
    page.locator(MESSAGES).filter(has_text='You asked: "Why is Q4 smaller?"').first.wait_for()
    check_now(page, "/lab2-objective5 (chat answered)", source)

    walk.tab_to(f".st-key-{CHAT}-mode input", back=True)
    page.keyboard.press("ArrowRight")  # a radio group moves its choice with the arrows
    expect(page.locator(f".st-key-{CHAT}-mode input").nth(1)).to_be_checked()
    walk.tab_to(f".st-key-{CHAT}-input textarea")
    _type_and_send(page, "And side by side?")
    expect(main.get_by_text('You asked: "And side by side?"')).to_have_count(2)
    check_now(page, "/lab2-objective5 (side by side answered)", source)

    walk.tab_to(f".st-key-{PROBE}-run button")
    page.keyboard.press("Enter")
    main.get_by_text("Finished: ").wait_for(timeout=120_000)
    check_now(page, "/lab2-objective5 (probe run)", source)

    walk.tab_to('[data-testid="stTextArea"] textarea')
    page.keyboard.type(" Q4 answered at 40 tokens/s.")
    walk.tab_to('[data-testid="stButton"] button')
    page.keyboard.press("Enter")
    main.get_by_text("Saved in your evidence.").first.wait_for()
    check_now(page, "/lab2-objective5 (record saved)", source)

    assert walk.stops > 10
    assert walk.invisible == [], walk.invisible


def test_objective_6_decision_by_keyboard(page, served_app):
    """Arrow to a tag in the decision's radio group, Tab to the reason, type it, Tab to
    "Commit my choice" and press Enter: the widget's reading appears beside the student's
    choice; Tab to the save button, Enter: the decision is saved. Focus shows at every stop;
    axe passes after the decision is made."""
    source = axe_source()
    page.goto(f"{served_app}/lab2-objective6")
    settle(page)
    walk = KeyboardWalk(page)
    main = page.locator('[data-testid="stMain"]')

    walk.tab_to(f".st-key-{DECISION}-student-choice input")
    page.keyboard.press("Space")  # the first option, Q4
    expect(page.locator(f".st-key-{DECISION}-student-choice input").first).to_be_checked()
    walk.tab_to(f".st-key-{DECISION}-student-reason textarea")
    page.keyboard.type("Q4 fits my 4 GB card with room for the context.")
    walk.tab_to(f".st-key-{DECISION}-commit button")
    page.keyboard.press("Enter")
    expect(main).to_contain_text("The widget's reading of the figures")
    check_now(page, "/lab2-objective6 (decision made)", source)
    walk.tab_to(f".st-key-{DECISION}-save button")
    page.keyboard.press("Enter")
    main.get_by_text("Decision saved to your evidence.").wait_for()
    check_now(page, "/lab2-objective6 (decision saved)", source)
    assert walk.invisible == [], walk.invisible


def test_the_focus_check_sees_a_missing_indicator(page):
    """On a page of its own, a button whose focus style is removed is reported, one with a
    box-shadow ring and a field whose border changes on focus are not."""
    page.set_content(
        "<style>button, input { outline: none; } #ring:focus { box-shadow: 0 0 0 3px #4f46e5; }"
        " input:focus { border-color: #4f46e5; }</style>"
        "<button id='bare'>bare</button><button id='ring'>ring</button><input id='field'>"
        "<button id='end'>end</button>"
    )
    walk = KeyboardWalk(page)
    walk.tab_to("#end")
    walk.tab_to("#bare", back=True)
    assert walk.invisible == ['button "bare"', 'button "end"']


WEIGHT = widget_key("lab2-objective1", "quantization-explorer")
GRID = widget_key("lab2-objective1", "quantization-grid-explorer")


def _said(page, key: str, text: str) -> None:
    """Wait until the polite live region of widget `key` says `text`."""
    wait_said(page, f"{key}-live", text)


def test_objective_1_explorers_by_keyboard(page, served_app):
    """Objective 1 by keyboard: type a new weight and press Enter (the live region then reads
    the 4-bit sentence for it); draw a new layer with Enter; open the scheme controls with
    Enter and pick "asymmetric" with an arrow and Space (the grid explorer's live region names
    it). Tab reaches each figure's own bits slider (plotly draws it in SVG; `ui.slider_keys`
    makes it an ARIA slider): End moves the single-weight figure to 8 bits and Home the grid's
    to 2, the readouts in the figures change, and no websocket frame leaves or reaches the
    page meanwhile (the weight's Enter does send one, so the count is live). Focus shows at
    every stop; axe passes after the explorers have moved."""
    source = axe_source()
    frames = Frames().attach(page)
    page.goto(f"{served_app}/lab2-objective1")
    settle(page)
    walk = KeyboardWalk(page)
    main = page.locator('[data-testid="stMain"]')

    line, heatmaps = f".st-key-{WEIGHT}-line", f".st-key-{GRID}-heatmaps"
    slider = f"{line} g.slider-container[role=slider]"
    expect(page.locator(slider)).to_have_attribute("aria-valuenow", "4")
    expect(page.locator(slider)).to_have_attribute("aria-label", "bits")
    assert readout(page, line, "levels") == "15"
    walk.tab_to(slider)
    sent, received = frames.count
    page.keyboard.press("End")
    expect(page.locator(slider)).to_have_attribute("aria-valuenow", "8")
    expect(page.locator(slider)).to_have_attribute("aria-valuetext", "bits: 8")
    assert readout(page, line, "levels") == "255"  # 2^8 - 1: the 8-bit step, drawn
    page.keyboard.press("ArrowLeft")
    expect(page.locator(slider)).to_have_attribute("aria-valuenow", "7")
    assert readout(page, line, "levels") == "127"
    assert frames.count == (sent, received), "a keyboard bits move reached the server"

    walk.tab_to(f".st-key-{WEIGHT}-w input", back=True)
    page.keyboard.press("Control+A")
    page.keyboard.type("0.4")
    page.keyboard.press("Enter")
    _said(page, WEIGHT, "w = 0.400000 is stored as q = 3")  # round(0.4 / (0.910203 / 7)) = 3
    assert frames.count[0] > sent  # the counter is live: a control that round-trips did send
    expect(main.locator("table").filter(has_text="|w − ŵ|")).to_have_count(1)

    _said(page, GRID, "At 4 bits")  # filled in once its script has loaded
    grid_slider = f"{heatmaps} g.slider-container[role=slider]"
    walk.tab_to(grid_slider)
    sent, received = frames.count
    page.keyboard.press("Home")
    expect(page.locator(grid_slider)).to_have_attribute("aria-valuenow", "2")
    assert readout(page, heatmaps, "levels used") == "3 of 3"  # 2 bits: -1, 0, +1
    assert frames.count == (sent, received), "a keyboard bits move reached the server"

    before = said(page, f"{GRID}-live")
    walk.tab_to(f".st-key-{GRID}-new button", back=True)
    page.keyboard.press("Enter")
    wait_changed(page, f"{GRID}-live", before)
    walk.tab_to(f".st-key-{GRID}-controls summary")
    page.keyboard.press("Enter")
    # A segmented control is one tab stop (its chosen option); the arrows move between options.
    walk.tab_to(f".st-key-{GRID}-scheme button", text="symmetric absmax")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    _said(page, GRID, "asymmetric")
    expect(main.locator("table").filter(has_text="levels used")).to_have_count(1)
    check_now(page, "/lab2-objective1 (explorers moved by keyboard)", source)
    assert walk.invisible == [], walk.invisible
