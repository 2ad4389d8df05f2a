"""Typed measurements: what the chat and the probe measured, as the decision reads it."""

from __future__ import annotations

import pytest

from quantviz.ollama.client import ChatMetrics
from quantviz.report.measurements import (
    Measurements,
    ProbeScore,
    SpeedSample,
    speed_sample,
)


def _metrics(tokens_per_s: float | None) -> ChatMetrics:
    return ChatMetrics(0.2, tokens_per_s, 10, 40, 0.1, 0.05, 1.0, 1.3, "stop", 1.4)


def test_chat_speeds_come_first_and_are_averaged_per_tag():
    """A tag's speed is the mean of its chat and side-by-side replies; the probe's answers
    count only for a tag the chat never measured. 'x' and 'x:latest' are one tag."""
    m = Measurements()
    m.add_speed(SpeedSample("a:q4", "Q4", 40.0, 0.2, "chat"))
    m.add_speed(SpeedSample("a:q4", "Q4", 50.0, 0.3, "side_by_side"))
    m.record_probe([], [SpeedSample("a:q4", "Q4", 10.0, None, "probe")])
    m.record_probe([], [SpeedSample("b", "Q6", 30.0, None, "probe")])
    q4, q6 = m.speed("a:q4"), m.speed("b:latest")
    assert q4 is not None and (q4.tokens_per_s, q4.samples, q4.text) == (45.0, 2, "chat, mean of 2")
    assert q6 is not None and (q6.tokens_per_s, q6.text) == (30.0, "quality probe answers")
    assert m.speed("c") is None and set(m.speeds_of(["a:q4", "b", "c"])) == {"a:q4", "b"}


def test_a_new_probe_run_replaces_the_last_ones_scores_and_speeds():
    """Scores and probe speeds are the last run's; chat speeds stay."""
    m = Measurements()
    m.add_speed(SpeedSample("a", "Q4", 40.0, 0.2, "chat"))
    m.record_probe([ProbeScore("a", "Q4", 3, 8)], [SpeedSample("a", "Q4", 9.0, None, "probe")])
    m.record_probe([ProbeScore("a:latest", "Q4", 7, 8)], [])
    score = m.probe_score("a")
    assert score is not None and (score.passed, score.total) == (7, 8)
    assert [s.source for s in m.speeds] == ["chat"]


def test_a_session_keeps_a_bounded_number_of_speeds():
    """Past the cap the oldest samples go; a reply without a speed adds nothing."""
    m = Measurements(max_speeds=3)
    for speed in (1.0, 2.0, 3.0, 4.0):
        m.add_speed(SpeedSample("a", "Q4", speed, None, "chat"))
    m.add_speed(speed_sample(_metrics(None), "a", "Q4", "chat"))
    assert [s.tokens_per_s for s in m.speeds] == [2.0, 3.0, 4.0]


def test_speed_sample_reads_what_the_server_reported():
    """tokens/s, time to first token and output tokens from a reply's metrics; none without."""
    sample = speed_sample(_metrics(25.0), "a", "Q4", "side_by_side")
    assert sample == SpeedSample("a", "Q4", 25.0, 0.2, "side_by_side", 40)
    assert speed_sample(None, "a", "Q4", "chat") is None
    assert speed_sample(_metrics(0.0), "a", "Q4", "chat") is None


def test_measured_text_names_each_value_and_is_none_before_any_measurement():
    """A record field's pre-fill: one 'Label: value' line per measured key, in the order the lab
    names them; None while nothing is measured; an unknown key is a KeyError (the lab parser
    refuses one first)."""
    from quantviz.decision.storage import StorageRow, compare_sizes
    from quantviz.report.measurements import MEASURED, StorageMeasurement, measured_text

    m = Measurements()
    assert measured_text(m, ["storage.ratio", "chat.speed"]) is None
    q4 = StorageRow("Q4", "m:q4", 3_000_000_000, 5_000_000_000, "Q4_K_M")
    q6 = StorageRow("Q6", "m:q6", 4_000_000_000, 5_000_000_000, "Q6_K")
    m.record_storage(StorageMeasurement((q4, q6), compare_sizes(q4, q6), None))
    text = measured_text(m, ["storage.ratio", "storage.bits_per_weight", "storage.recipe_ratio"])
    # 3e9 / 4e9 = 0.75; 3e9 × 8 / 5e9 = 4.80 and 4e9 × 8 / 5e9 = 6.40 bits per weight
    assert text == (
        "Size ratio: 0.750 (size(Q4) / size(Q6))\n"
        "Bits per weight: Q4 4.80 bits per weight; Q6 6.40 bits per weight"
    )
    assert set(MEASURED) >= {"storage.ratio", "probe.passes", "decision.fit"}
    with pytest.raises(KeyError):
        measured_text(m, ["no.such"])
