"""Probe and decision figures: the numbers drawn are the numbers computed."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest
from probe_runs import run_to_end

from quantviz.decision.facts import BUILTIN_LAYOUT, builtin_weights_bytes
from quantviz.decision.memory import fit_tags
from quantviz.figures.probe import (
    logprob_diff_figure,
    memory_figure,
    probe_pass_figure,
    similarity_figure,
    token_logprob_figure,
)
from quantviz.probe.battery import load_battery
from quantviz.probe.compare import simple_tokens
from quantviz.probe.run import ProbeRun
from quantviz.units import GB

LABELS = {"q4": "Q4", "q6": "Q6"}
PROBES = load_battery(
    [
        {
            "id": "add",
            "category": "arithmetic",
            "prompt": "2+2?",
            "check": {"kind": "number", "expected": 4},
        },
        {
            "id": "mul",
            "category": "arithmetic",
            "prompt": "3*3?",
            "check": {"kind": "number", "expected": 9},
        },
        {
            "id": "cap",
            "category": "fact",
            "prompt": "Capital of France?",
            "check": {"kind": "contains", "any": ["Paris"]},
        },
    ]
)
ANSWERS = {
    ("q4", "2+2?"): "It is 4",
    ("q6", "2+2?"): "It is 4",
    ("q4", "3*3?"): "It is 6",
    ("q6", "3*3?"): "It is 9",
    ("q4", "Capital of France?"): "Paris",
    ("q6", "Capital of France?"): "Paris.",
}


def make_run(with_logprobs: bool) -> ProbeRun:
    def ask(tag: str, prompt: str):
        text = ANSWERS[(tag, prompt)]
        lps = None
        if with_logprobs:
            lps = [
                {
                    "token": t,
                    "logprob": -0.5 if tag == "q4" else -0.25,
                    "top_logprobs": [{"token": t, "logprob": -0.25}, {"token": tag, "logprob": -3}],
                }
                for t in simple_tokens(text)
            ]
        return text, lps, None

    return run_to_end(PROBES, ["q4", "q6"], ask)


def test_pass_figure_counts_per_tag_and_category() -> None:
    """One bar trace per tag; x is 'all' then each category; y the passes, hover 'k of n'."""
    fig = probe_pass_figure(make_run(True).summary(), LABELS)
    assert [t.name for t in fig.data] == ["Q4", "Q6"]
    assert list(fig.data[0].x) == ["all", "arithmetic", "fact"]
    assert list(fig.data[0].y) == [2, 1, 1]
    assert list(fig.data[1].y) == [3, 2, 1]
    assert list(fig.data[0].customdata) == [3, 2, 1]
    assert list(fig.data[0].text) == ["2/3", "1/2", "1/1"]


def test_pass_figure_whiskers_are_the_wilson_interval_in_prompts() -> None:
    """Each bar's whisker spans its 95 % Wilson interval times the prompts asked: 2 of 3 is
    20.8-93.9 %, 3 of 3 43.9-100 %, 1 of 1 20.7-100 % (published Wilson values)."""
    fig = probe_pass_figure(make_run(True).summary(), LABELS)
    q4, q6 = fig.data
    assert q4.error_y.array[0] == pytest.approx(0.939 * 3 - 2, abs=0.005)
    assert q4.error_y.arrayminus[0] == pytest.approx(2 - 0.208 * 3, abs=0.005)
    assert q6.error_y.array[0] == pytest.approx(0.0)
    assert q6.error_y.arrayminus[0] == pytest.approx(3 - 0.439 * 3, abs=0.005)
    assert q4.error_y.arrayminus[2] == pytest.approx(1 - 0.207, abs=0.005)


def test_pass_figure_ticks_stop_at_the_number_of_prompts() -> None:
    """Three prompts: the axis is labelled 0 to 3, never 4 (the range above is label room)."""
    fig = probe_pass_figure(make_run(True).summary(), LABELS)
    assert list(fig.layout.yaxis.tickvals) == [0, 1, 2, 3]
    assert fig.layout.yaxis.range[1] > 3


def test_similarity_figure_marks_identical_and_diverging_answers() -> None:
    """Similarity per probe, with the first differing token in the hover text."""
    fig = similarity_figure(make_run(False), LABELS)
    assert list(fig.data[0].x) == ["add", "mul", "cap"]
    assert fig.data[0].y[0] == pytest.approx(1.0)
    assert fig.data[0].customdata[0] == "identical (compared word by word)"
    assert fig.data[0].customdata[1] == "first differs at word 2 (compared word by word)"
    assert "Q4 and Q6" in fig.layout.title.text


def test_logprob_figure_shows_mean_difference_and_jaccard() -> None:
    """With logprobs: bars of mean |Δ logprob| and Jaccard markers on a second axis."""
    fig = logprob_diff_figure(make_run(True), LABELS)
    bars, markers = fig.data
    assert list(bars.y) == pytest.approx([0.25, 0.25, 0.25])
    # top-k sets {tok, 'q4'} vs {tok, 'q6'} share 1 of 3 tokens
    assert list(markers.y) == pytest.approx([1 / 3] * 3)
    assert markers.yaxis == "y2"


def test_logprob_figure_names_an_endpoint_without_support() -> None:
    """Without logprobs the figure is an explicit notice, not an empty chart."""
    fig = logprob_diff_figure(make_run(False), LABELS)
    assert len(fig.data) == 0
    assert "not supported" in fig.layout.annotations[0].text


def test_token_logprob_figure_marks_the_first_difference() -> None:
    """Per-token lines for both tags and a dashed line at the first differing token."""
    run = make_run(True)
    fig = token_logprob_figure(run.results[1], LABELS)
    assert [t.name for t in fig.data] == ["Q4", "Q6"]
    assert list(fig.data[1].y) == pytest.approx([-0.25, -0.25, -0.25])
    assert fig.layout.shapes[0].x0 == 2
    assert (
        "No logprobs" in token_logprob_figure(make_run(False).results[0]).layout.annotations[0].text
    )


def test_memory_figure_stacks_weights_and_kv_under_the_budget_line() -> None:
    """Stacked GB bars per tag, the budget as a horizontal line and a verdict per tag."""
    sizes = builtin_weights_bytes()
    weights = {"q4": sizes["Q4"], "q6": sizes["Q6"]}
    fits = fit_tags(3_500_000_000, 8192, weights, layout=BUILTIN_LAYOUT, labels=LABELS)
    fig = memory_figure(fits)
    names = [t.name for t in fig.data]
    assert names == ["weights", "KV cache"]
    assert list(fig.data[0].x) == ["Q4", "Q6"]
    assert list(fig.data[0].y) == pytest.approx([w / GB for w in weights.values()])
    assert list(fig.data[1].y) == pytest.approx([f.kv_bytes / GB for f in fits])
    assert fig.layout.barmode == "stack"
    assert fig.layout.shapes[0].y0 == pytest.approx(3.5)
    verdicts = [a.text for a in fig.layout.annotations]
    assert any(v.startswith("fits,") for v in verdicts)
    assert any(v.startswith("short by") for v in verdicts)


def test_memory_figure_shows_overhead_when_given() -> None:
    """A non-zero overhead adds a third stacked trace."""
    fits = fit_tags(8 * GB, 4096, {"q4": 3 * GB}, layout=BUILTIN_LAYOUT, overhead_bytes=500_000_000)
    assert [t.name for t in memory_figure(fits).data] == ["weights", "KV cache", "overhead"]


def test_empty_inputs_give_notices() -> None:
    """Nothing to draw yields a notice figure rather than an exception."""
    empty = ProbeRun(tags=("q4", "q6"), probes=tuple(PROBES))
    for fig in (
        probe_pass_figure(empty.summary()),
        similarity_figure(empty),
        logprob_diff_figure(empty),
        memory_figure([]),
    ):
        assert isinstance(fig, go.Figure) and len(fig.data) == 0
        assert fig.layout.annotations[0].text


def test_figures_serialise_to_json_and_pass_plotly_validation() -> None:
    """Every figure serialises, as Streamlit needs to send it to the browser, and plotly's own
    validation accepts it (the app builds them without that pass)."""
    run = make_run(True)
    fits = fit_tags(4 * GB, 8192, {"q4": 3 * GB}, layout=BUILTIN_LAYOUT)
    empty = ProbeRun(tags=("q4", "q6"), probes=tuple(PROBES))
    for fig in (
        probe_pass_figure(run.summary()),
        similarity_figure(run),
        logprob_diff_figure(run),
        token_logprob_figure(run.results[1]),
        memory_figure(fits),
        similarity_figure(empty),
    ):
        json.loads(fig.to_json())
        go.Figure(fig.to_dict())  # raises on any property plotly does not know


def test_probe_texts_give_the_counts_and_the_numbers_per_probe() -> None:
    """The pass chart's text: Q4 passed 2 of 3 (it answered 6 to 3*3), Q6 3 of 3, with a row
    per category and tag and its Wilson interval; the agreement text counts the identical
    answers (2+2 and the capital: "It is 4" twice, "Paris" / "Paris." differ) and names the
    least alike; no answer text reaches a summary sentence."""
    from quantviz.figures.probe import (
        logprob_diff_text,
        probe_pass_text,
        similarity_text,
        token_logprob_text,
    )

    run = make_run(True)
    passes = probe_pass_text(run.summary(), LABELS)
    assert "overall Q4 2 of 3 (67 %) and Q6 3 of 3 (100 %)" in passes.summary
    rows = {(r[0], r[1]): r for r in passes.rows}
    assert rows[("arithmetic", "Q4")][2:4] == (1, 2)
    low, high = rows[("all", "Q6")][4:6]
    assert isinstance(low, float) and 0.4 < low < 1.0 and high == pytest.approx(1.0)
    agree = similarity_text(run, LABELS)
    assert "on 3 probes" in agree.summary and "1 identical" in agree.summary
    assert "lowest" in agree.summary and "on probe mul" in agree.summary
    assert [r[0] for r in agree.rows] == ["add", "mul", "cap"]
    assert len(logprob_diff_text(run, LABELS).rows) >= 1
    tokens = token_logprob_text(run.results[1], LABELS)
    assert ("Q4", 0, "'It'", -0.5) in tokens.rows
    for text in (passes, agree, tokens):
        assert "Paris" not in text.summary and "It is" not in text.summary


def test_memory_text_says_which_tag_fits_the_budget() -> None:
    """The memory chart's text names the budget and, per tag, its total and whether it fits,
    with the GB of each part in the table."""
    from quantviz.figures.probe import memory_text

    sizes = builtin_weights_bytes()
    fits = fit_tags(3_500_000_000, 8192, {"q4": sizes["Q4"], "q6": sizes["Q6"]},
                    layout=BUILTIN_LAYOUT, labels=LABELS)  # fmt: skip
    alt = memory_text(fits)
    assert alt.summary.startswith("Memory at ")
    assert "against a budget of 3.50 GB" in alt.summary
    assert "(fits, " in alt.summary and "(short by " in alt.summary
    assert [r[0] for r in alt.rows] == ["Q4", "Q6"]
    assert [r[6] for r in alt.rows] == ["yes", "no"]
    assert alt.rows[0][1] == pytest.approx(sizes["Q4"] / GB)
