"""The probe's words about its own figures: server versions, pass-count uncertainty."""

from __future__ import annotations

import pytest

from quantviz.ollama.client import returns_logprobs
from quantviz.probe.run import ProbeSummary, pass_uncertainty


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.33.0", True),  # later than 0.12.11 as a version, earlier as text
        ("0.33", True),
        ("0.12.11", True),
        ("0.13.0", True),
        ("1.0.0", True),
        ("0.12.10", False),
        ("0.12.3", False),
        ("0.9.6", False),
        ("0.12.11-rc1", False),  # a release candidate comes before its release
        ("0.0.0", None),  # a development build says nothing about its features
        ("", None),
        (None, None),
        ("nightly", None),
    ],
)
def test_logprob_support_is_decided_by_comparing_versions(version, expected):
    """Ollama returns logprobs from 0.12.11 on: versions compare as numbers, not as text."""
    assert returns_logprobs(version) is expected


def _summary(passes: dict[str, int], answered: dict[str, int]) -> ProbeSummary:
    tags = tuple(answered)
    return ProbeSummary(
        tags=tags,
        completed=min(answered.values()),
        total=max(answered.values()),
        cancelled=False,
        passes=passes,
        answered=answered,
        passes_by_category={},
        answered_by_category={},
        mean_similarity=None,
        identical=0,
        logprobs_supported=None,
        mean_abs_logprob_diff=None,
        mean_topk_jaccard=None,
        mean_tokens_per_s={t: None for t in tags},
        errors=0,
    )


LABELS = {"q4": "Q4", "q6": "Q6"}


def test_five_of_eight_against_eight_of_eight_is_within_noise():
    """5/8 and 8/8: Wilson 95 % intervals 30.6-86.3 % and 67.6-100 % (published tables)
    overlap, so the sentence says the probe cannot tell the two apart."""
    text = pass_uncertainty(_summary({"q4": 5, "q6": 8}, {"q4": 8, "q6": 8}), LABELS)
    assert text.startswith(
        "Q4 5/8 passed (95 % interval 30–87 %), Q6 8/8 passed (95 % interval 67–100 %)."
    )
    assert "within noise" in text and "cannot tell them apart" in text


def test_equal_counts_are_within_noise_not_a_tie():
    """1/8 against 1/8 is not a measured tie: the intervals (2.2-47.1 %) say within noise."""
    text = pass_uncertainty(_summary({"q4": 1, "q6": 1}, {"q4": 8, "q6": 8}), LABELS)
    assert "(95 % interval 2–48 %)" in text
    assert "within noise" in text


def test_zero_of_twenty_against_twenty_of_twenty_is_more_than_noise():
    """0/20 (0-16.1 %) and 20/20 (83.9-100 %) do not overlap: more than noise."""
    text = pass_uncertainty(_summary({"q4": 0, "q6": 20}, {"q4": 20, "q6": 20}), LABELS)
    assert "(95 % interval 0–17 %)" in text and "(95 % interval 83–100 %)" in text
    assert "do not overlap" in text and "within noise" not in text


def test_a_tag_without_answers_is_left_out():
    """Only answered tags get an interval; nothing answered gives no sentence."""
    one = pass_uncertainty(_summary({"q4": 1, "q6": 0}, {"q4": 2, "q6": 0}), LABELS)
    assert one == "Q4 1/2 passed (95 % interval 9–91 %)."
    assert pass_uncertainty(_summary({"q4": 0, "q6": 0}, {"q4": 0, "q6": 0}), LABELS) == ""
