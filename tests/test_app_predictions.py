"""The explorers' "predict, then look" boxes on Objective 1: a guess, the observed answer, both
in the evidence as one `explorer` record."""

from __future__ import annotations

import numpy as np
from apptest_utils import open_page, texts

from quantviz.quant.absmax import toy_layer
from quantviz.ui import session
from quantviz.ui.context import widget_key

GRID = widget_key("lab2-objective1", "quantization-grid-explorer") + "-predict"
WEIGHT = widget_key("lab2-objective1", "quantization-explorer") + "-predict"


def _zeros_at_4_bits(w: np.ndarray) -> int:
    """The seed's formula written out: one absmax scale, 15 levels."""
    scale = np.abs(w).max() / 7
    return int(np.sum(np.clip(np.round(w / scale), -7, 7) == 0))


def _fewest_bits_within_1_percent(w: float, max_abs: float) -> int:
    for bits in range(2, 9):
        scale = max_abs / (2 ** (bits - 1) - 1)
        if abs(w - round(w / scale) * scale) <= 0.01 * abs(w):
            return bits
    raise AssertionError("no width within 1 %")


def test_grid_prediction_records_the_guess_and_the_observed_zeros():
    """The grid explorer asks how many of 16 weights read back as 0 with the outlier at int4;
    reveal stays disabled until a guess is written; then one click shows the observed count
    and records {question, guess, observed} as an explorer record."""
    at = open_page("lab2-objective1")
    reveal = at.button(key=f"{GRID}-reveal")
    assert reveal.disabled
    asks = [m.value for m in at.markdown if m.value.startswith("**Predict, then look.**")]
    assert len(asks) == 2  # one box per explorer
    question = next(q for q in asks if "16 weights" in q)
    assert "16 weights" in question and "4 bits" in question and "outlier" in question
    at.text_input(key=f"{GRID}-guess").input("5").run()
    assert not at.button(key=f"{GRID}-reveal").disabled
    assert session.EVIDENCE not in at.session_state or not at.session_state[session.EVIDENCE]
    at.button(key=f"{GRID}-reveal").click().run()
    assert not at.exception, at.exception
    zeros = _zeros_at_4_bits(toy_layer(7, "outlier"))
    assert zeros == 14  # the seed's outlier layer: 14 of the 16 collapse onto the zero level
    records = at.session_state[session.EVIDENCE].records
    assert [r.kind for r in records] == ["explorer"]
    assert records[0].title.startswith("Prediction: weights read back as 0")
    payload = records[0].payload
    assert payload["guess"] == "5" and payload["setting"] == "seed 7"
    assert payload["observed"].startswith(f"{zeros} of 16 read back as 0 at 4 bits")
    assert payload["question"] in question
    shown = texts(at)
    assert "Your guess: **5**" in shown and f"Observed: **{zeros} of 16" in shown


def test_weight_prediction_records_the_fewest_bits_within_one_percent():
    """The single-weight explorer asks how many bits w = 0.156347 needs to land within 1 %;
    the observed answer is the smallest such width, 8 bits (7 bits is 1.65 % off)."""
    at = open_page("lab2-objective1")
    at.text_input(key=f"{WEIGHT}-guess").input("6 bits").run()
    at.button(key=f"{WEIGHT}-reveal").click().run()
    assert not at.exception, at.exception
    bits = _fewest_bits_within_1_percent(0.156347, 0.910203)
    assert bits == 8
    record = at.session_state[session.EVIDENCE].records[0]
    assert record.kind == "explorer"
    assert record.payload["guess"] == "6 bits"
    assert record.payload["observed"].startswith(f"{bits} bits (ŵ = 0.157673")
    assert record.payload["setting"] == "w = 0.156347, max|w| = 0.910203"
    assert "within 1 %" in record.payload["question"]


def test_weight_prediction_answers_for_the_weight_the_explorer_shows_now():
    """The box answers for the explorer's current w: with w = max|w| = 0.5, w is a level at
    every width, so 2 bits already reproduce it exactly."""
    at = open_page("lab2-objective1")
    explorer = widget_key("lab2-objective1", "quantization-explorer")
    at.number_input(key=f"{explorer}-max").set_value(0.5).run()
    at.number_input(key=f"{explorer}-w").set_value(0.5).run()
    at.text_input(key=f"{WEIGHT}-guess").input("8").run()
    at.button(key=f"{WEIGHT}-reveal").click().run()
    record = at.session_state[session.EVIDENCE].records[0]
    assert record.payload["setting"] == "w = 0.500000, max|w| = 0.500000"
    assert record.payload["observed"].startswith("2 bits (ŵ = 0.500000")


def test_a_guess_is_shown_back_as_plain_text():
    """Markup in a guess is shown as the characters typed, never as a link or emphasis."""
    at = open_page("lab2-objective1")
    at.text_input(key=f"{GRID}-guess").input("**bold** [x](http://example.org)").run()
    at.button(key=f"{GRID}-reveal").click().run()
    line = next(m.value for m in at.markdown if m.value.startswith("Your guess:"))
    assert "**bold**" not in line and "](http" not in line
    assert at.session_state[session.EVIDENCE].records[0].payload["guess"].startswith("**bold**")


def test_a_revealed_prediction_prefills_the_objectives_record_field():
    """The Execute item "Record your guess and the observed number of weights that read back as
    0" is a record field pre-filled from the grid explorer's reveal (`data-measured=
    "explorer.grid_prediction"`): before the reveal it is empty, after it the field holds the
    student's guess and the observed count, without the student copying them."""
    at = open_page("lab2-objective1")
    field = "record-lab2-obj1-outlier-zeros"
    assert not at.text_area(key=field).value
    at.text_input(key=f"{GRID}-guess").input("5").run()
    at.button(key=f"{GRID}-reveal").click().run()
    at.run()  # the page's next full run draws the fields below the explorer
    assert not at.exception, at.exception
    zeros = _zeros_at_4_bits(toy_layer(7, "outlier"))
    value = at.text_area(key=field).value or ""
    assert value.startswith("Prediction: your guess 5; observed ")
    assert f"{zeros} of 16 read back as 0 at 4 bits" in value and value.endswith("(seed 7)")
    assert not at.text_area(key="record-lab2-obj1-fewest-bits").value  # the other box: no reveal
