"""Plotly figures of a class: anonymous for students, named (and escaped) for the instructor."""

from __future__ import annotations

import json
from datetime import datetime

import plotly.graph_objects as go

from quantviz.board.extract import Figures, SideFigures
from quantviz.board.store import Submission
from quantviz.figures.board import (
    decision_counts,
    decisions_figure,
    decisions_text,
    paired_figure,
    paired_text,
    probe_figure,
    probe_text,
    sizes_figure,
    sizes_text,
    speed_figure,
    speed_memory_figure,
    speed_memory_text,
    speed_text,
)

EVIL = "Zelda<a href='https://evil.example'>click</a>"


def _row(i: int, name: str, q4: tuple, q6: tuple, decision: str | None, own: bool = False):
    """q4/q6 = (size bytes, bits/weight, tokens/s, probe passed, probe total)."""
    return Submission(
        id=i,
        name=name,
        submitted_at=datetime(2025, 10, 1),
        updated_at=None,
        resubmissions=0,
        figures=Figures(SideFigures(*q4), SideFigures(*q6), decision, None),
        reason="",
        report_bytes=10,
        own=own,
    )


ROWS = [
    _row(1, "Ada", (3_100_000_000, 4.9, 40.0, 6, 8), (4_100_000_000, 6.5, 30.0, 7, 8), "Q4"),
    _row(2, EVIL, (3_000_000_000, 4.8, 20.0, 5, 8), (4_000_000_000, 6.6, 18.0, 8, 8), "Q6", True),
    _row(3, "Cy", (None, None, 55.0, None, None), (None, None, None, None, None), "none"),
    _row(4, "Di", (None, None, None, 4, 8), (None, None, None, 6, 8), None),
]


def _validated(fig: go.Figure) -> go.Figure:
    """Rebuild with plotly's validation on: a misspelt property raises here."""
    return go.Figure(fig.to_dict())


def _trace(fig: go.Figure, name: str):
    return next(t for t in fig.data if t.name == name)


def test_student_figures_are_anonymous_and_mark_the_student():
    """No student name reaches a student figure; the asking student's point is a star named
    'You' at their own values; every axis has a title."""
    for build in (sizes_figure, speed_figure, probe_figure, decisions_figure):
        fig = _validated(build(ROWS))
        text = fig.to_json()
        assert "Ada" not in text and "Zelda" not in text and "evil.example" not in text
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    sizes = sizes_figure(ROWS)
    you = _trace(sizes, "You")
    assert you.marker.symbol == "star"
    assert sorted(zip(you.x, you.y, strict=True)) == [(4.8, 3.0), (6.6, 4.0)]
    assert list(_trace(sizes, "Q4").x) == [4.9, 4.8]  # Cy and Di measured no sizes
    speed = speed_figure(ROWS)
    assert list(_trace(speed, "You").x) == [20.0] and list(_trace(speed, "You").y) == [18.0]
    assert len(_trace(speed, "a student's machine").x) == 2  # Cy has no Q6 speed
    probe = probe_figure(ROWS)
    assert sorted(_trace(probe, "You").y) == [62.5, 100.0]
    assert sorted(_trace(probe, "Q6").y) == [75.0, 87.5, 100.0]


def test_q4_and_q6_differ_by_shape_not_only_colour():
    """The two tags use different marker symbols as well as different colours."""
    fig = sizes_figure(ROWS)
    q4, q6 = _trace(fig, "Q4"), _trace(fig, "Q6")
    assert q4.marker.symbol != q6.marker.symbol
    assert q4.marker.color != q6.marker.color


def test_decisions_bar_counts_and_marks_the_students_own():
    """One bar per decision with its count as text; the student's own bar says '(yours)'."""
    assert decision_counts(ROWS) == {"Q4": 1, "Q6": 1, "none": 1, "undecided": 1}
    fig = _validated(decisions_figure(ROWS))
    (bar,) = fig.data
    assert list(bar.x) == ["Q4", "Q6", "nothing fits", "no decision"]
    assert list(bar.y) == [1, 1, 1, 1]
    assert list(bar.text) == ["1", "1 (yours)", "1", "1"]
    assert list(bar.marker.pattern.shape) == ["", "/", "", ""]


def test_instructor_figures_show_names_as_plain_text():
    """Names label the instructor's rows, with plotly's markup escaped: no link is made."""
    for fig in (
        paired_figure(ROWS, "tokens_per_s", title="Tokens/s", axis_title="tokens/s"),
        paired_figure(ROWS, "pass_rate", title="Probe", axis_title="% passed"),
        speed_memory_figure(ROWS),
    ):
        text = json.dumps(_validated(fig).to_dict())
        assert "<a href" not in text
        assert "Zelda&lt;a href='https://evil.example'&gt;click&lt;/a&gt;" in text
    paired = paired_figure(ROWS, "tokens_per_s", title="Tokens/s", axis_title="tokens/s")
    assert list(_trace(paired, "Q4").x) == [40.0, 20.0, 55.0]
    assert _trace(paired, "Q4").y[0] == "Ada (#1)"
    assert list(_trace(paired, "pair").x) == [40.0, 30.0, None, 20.0, 18.0, None]
    sizes = paired_figure(ROWS, "size_bytes", title="Sizes", axis_title="GB")
    assert list(_trace(sizes, "Q6").x) == [4.1, 4.0]
    memory = speed_memory_figure(ROWS)
    assert list(_trace(memory, "Q4").x) == [3.1, 3.0] and list(_trace(memory, "Q4").y) == [40, 20]


def test_empty_class():
    """A class with no submissions still gives valid, empty figures."""
    for fig in (sizes_figure([]), speed_figure([]), probe_figure([]), decisions_figure([])):
        _validated(fig)
    assert list(decisions_figure([]).data[0].y) == [0, 0, 0, 0]


def test_student_chart_texts_are_anonymous_and_carry_the_plotted_numbers():
    """Each student figure's text alternative names no classmate, gives the key numbers in one
    sentence (medians worked out by hand from ROWS) and holds every plotted value in its table,
    the asking student's row as "you"."""
    texts = [build(ROWS) for build in (sizes_text, speed_text, probe_text, decisions_text)]
    for alt in texts:
        blob = repr(alt)
        assert "Ada" not in blob and "Zelda" not in blob and "Cy" not in blob
        assert alt.summary.endswith(".") and alt.summary.count(". ") <= 1
    sizes, speed, probe, decisions = texts
    # Q4 sizes 3.1 and 3.0 GB -> median 3.05; bits 4.9 and 4.8 -> 4.85.
    assert "Q4 median 3.05 GB at 4.85 bits per weight (2 submissions)" in sizes.summary
    assert "Q6 median 4.05 GB at 6.55 bits per weight" in sizes.summary
    assert ("you", "Q6", 6.6, 4.0) in sizes.rows
    assert ("student 1", "Q4", 4.9, 3.1) in sizes.rows
    # Only Ada and the asking student measured both speeds; Q4 was faster on both.
    assert "for 2 students: Q4 was faster on 2 machines and not faster on 0" in speed.summary
    assert speed.rows == (("student 1", 40.0, 30.0), ("you", 20.0, 18.0))
    assert "Q4 median 62.5 % (3 students)" in probe.summary  # 75, 62.5, 50
    assert ("student 4", "Q6", 6, 8, 75.0) in probe.rows
    assert decisions.summary == (
        "Decisions taken by 4 students: Q4 1, Q6 1, nothing fits 1 and no decision 1. Yours: Q6."
    )
    assert decisions.table() == {
        "decision": ["Q4", "Q6", "nothing fits", "no decision"],
        "students": [1, 1, 1, 1],
    }


def test_instructor_chart_texts_name_students_as_typed():
    """The instructor's texts name each student as typed (the UI shows them inert) with the
    pair of values the figure joins."""
    paired = paired_text(ROWS, "tokens_per_s", title="Tokens/s, Q4 and Q6", axis_title="tok/s")
    assert paired.rows[0] == ("Ada (#1)", 40.0, 30.0)
    assert paired.rows[1] == (f"{EVIL} (#2)", 20.0, 18.0)
    assert paired.rows[2] == ("Cy (#3)", 55.0, None)
    assert "Q4 above Q6 for 2 of the 2 with both values" in paired.summary
    memory = speed_memory_text(ROWS)
    assert ("Ada (#1)", "Q6", 4.1, 30.0) in memory.rows
    assert "Q4 median 3.05 GB at 40 tokens/s" in memory.summary  # speeds 40, 20, 55
