"""Reading the class board's figures out of evidence reports."""

from __future__ import annotations

from board_reports import Q4_TAG, Q6_TAG, report

from quantviz.board.extract import figures_from_report
from quantviz.report.evidence import EvidenceLog, ReportContext, report_dict


def test_figures_of_a_full_report():
    """Sizes and bits/weight from storage, tokens/s and decision from the decision record, probe
    passes from the probe record, each on its own side."""
    f = figures_from_report(report())
    assert (f.q4.size_bytes, f.q4.bits_per_weight, f.q4.tokens_per_s) == (3_110_000_000, 4.97, 42.0)
    assert (f.q6.size_bytes, f.q6.bits_per_weight, f.q6.tokens_per_s) == (4_080_000_000, 6.52, 31.5)
    assert (f.q4.probe_passed, f.q4.probe_total, f.q6.probe_passed, f.q6.probe_total) == (
        6,
        8,
        7,
        8,
    )
    assert f.decision == "Q4"
    assert f.decision_text == "Q4 fits with 0.4 GB to spare; Q6 does not fit."
    assert figures_from_report(report(choice=None)).decision == "none"
    assert figures_from_report(report(choice=Q6_TAG)).decision == "Q6"


def test_speeds_from_chats_when_there_is_no_decision():
    """Without a decision record, tokens/s is the mean over chat and side-by-side replies that
    measured one; a reply without metrics is skipped."""
    log = EvidenceLog()
    log.append("chat", "Q4 reply", {"label": "Q4", "tag": Q4_TAG, "metrics": {"tokens_per_s": 40}})
    log.append("chat", "Q6 reply", {"label": "Q6", "tag": Q6_TAG, "metrics": None})
    log.append(
        "side_by_side",
        "Side by side: hi",
        {
            "replies": [
                {"label": "Q4", "tag": Q4_TAG, "metrics": {"tokens_per_s": 50.0}},
                {"label": "Q6", "tag": Q6_TAG, "metrics": {"tokens_per_s": 30.0}},
            ]
        },
    )
    context = ReportContext(models={"Q4": Q4_TAG, "Q6": Q6_TAG})
    f = figures_from_report(report_dict(log, context))
    assert (f.q4.tokens_per_s, f.q6.tokens_per_s) == (45.0, 30.0)
    assert f.decision is None and f.q4.size_bytes is None and not f.empty


def test_other_labels_take_the_sides_in_order():
    """A lab that labels its tags "small" and "large" puts the first on the Q4 side."""
    log = EvidenceLog()
    log.append(
        "storage",
        "Storage",
        {
            "tags": [
                {"label": "small", "tag": "m:a", "size_bytes": 100, "bits_per_weight": 4.5},
                {"label": "large", "tag": "m:b", "size_bytes": 200, "bits_per_weight": 8.5},
            ]
        },
    )
    log.append("decision", "Decision", {"choice": "m:b", "tokens_per_s": {"m:a": 9.0}})
    f = figures_from_report(
        report_dict(log, ReportContext(models={"small": "m:a", "large": "m:b"}))
    )
    assert (f.q4.size_bytes, f.q6.size_bytes, f.q4.tokens_per_s) == (100, 200, 9.0)
    assert f.q6.tokens_per_s is None and f.decision == "Q6"


def test_unusable_values_are_left_out():
    """Text, negative numbers, NaN and impossible probe counts do not become figures."""
    log = EvidenceLog()
    log.append(
        "storage",
        "Storage",
        {
            "tags": [
                {"label": "Q4", "tag": Q4_TAG, "size_bytes": "3 GB", "bits_per_weight": -4},
                {"label": "Q6", "tag": Q6_TAG, "size_bytes": 4e9, "bits_per_weight": float("nan")},
            ]
        },
    )
    log.append("probe", "Probe", {"passes": {Q4_TAG: [9, 8], Q6_TAG: [1, 0], "x": "8/8"}})
    f = figures_from_report(report_dict(log, ReportContext(models={"Q4": Q4_TAG, "Q6": Q6_TAG})))
    assert (f.q4.size_bytes, f.q4.bits_per_weight) == (None, None)
    assert (f.q6.size_bytes, f.q6.bits_per_weight) == (4_000_000_000, None)
    assert f.q4.probe_total is None and f.q6.probe_total is None
    assert f.empty is False


def test_empty_report():
    """A report without storage, speed, probe or decision records has no figures."""
    log = EvidenceLog()
    log.append("note", "Note", {"text": "nothing measured"})
    assert figures_from_report(report_dict(log)).empty
    assert figures_from_report({}).empty


def test_the_students_own_choice_and_reason_reach_the_board_and_records_do_not_disturb():
    """A decision saved by the student-first widget carries the student's choice and reason
    (`choice`, `decision`) beside the widget's reading: the board shows the student's, not the
    reading's. Saved record fields (kind `record`) change none of the figures."""
    log = EvidenceLog()
    log.append(
        "record",
        "Objective 3: Record each tag's size",
        {"id": "obj3-savings", "objective": "Objective 3", "value": "Q4 9 GB, Q6 1 GB"},
    )
    log.append(
        "decision",
        "Decision at 8.00 GB and 8k context: choose Q6",
        {
            "choice": Q6_TAG,
            "decision": "Q6: my probe runs favour it.",
            "widget_choice": Q4_TAG,
            "widget_reading": "Q4 fits ... Choose Q4: both fit, and the probe cannot tell apart",
            "tokens_per_s": {Q4_TAG: 40.0, Q6_TAG: 30.0},
        },
    )
    context = ReportContext(models={"Q4": Q4_TAG, "Q6": Q6_TAG})
    f = figures_from_report(report_dict(log, context))
    assert f.decision == "Q6"
    assert f.decision_text == "Q6: my probe runs favour it."
    assert (f.q4.tokens_per_s, f.q6.tokens_per_s) == (40.0, 30.0)
    assert f.q4.size_bytes is None and f.q6.size_bytes is None  # a record field is no measurement
