"""Wilson score intervals for probe pass counts (`quantviz.probe.binomial`).

Expected values are Newcombe's published table, not this code: R. G. Newcombe, "Two-sided
confidence intervals for the single proportion: comparison of seven methods", Statistics in
Medicine 17 (1998) 857-872, Table II, method 3 (Wilson score interval without continuity
correction), four decimals.
"""

import pytest

from quantviz.probe.binomial import can_tell_apart, interval_text, wilson_interval


@pytest.mark.parametrize(
    ("passed", "total", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe_table(passed, total, low, high):
    """The 95 % interval agrees with Newcombe's Table II to the four decimals he prints."""
    got = wilson_interval(passed, total)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_interval_is_symmetric_under_swapping_passes_and_failures():
    """k of n and (n-k) of n give mirrored intervals (a property of the score interval)."""
    low, high = wilson_interval(2, 8)
    mirror_low, mirror_high = wilson_interval(6, 8)
    assert (mirror_low, mirror_high) == pytest.approx((1 - high, 1 - low))


def test_equal_and_close_small_counts_cannot_be_told_apart():
    """1/8 against 1/8 and 6/8 against 8/8 overlap: the probe cannot tell them apart; 0/20
    against 20/20 can be (upper 0.1611 for 0/20, so lower 0.8389 for 20/20)."""
    assert not can_tell_apart((1, 8), (1, 8))
    assert not can_tell_apart((6, 8), (8, 8))
    assert can_tell_apart((0, 20), (20, 20))
    assert can_tell_apart((20, 20), (0, 20))


def test_interval_text_rounds_outwards_to_whole_percent():
    """'6–17 %' for 15 of 148 (0.0624–0.1605): the low end rounds down, the high end up."""
    assert interval_text(15, 148) == "6–17 %"
    assert interval_text(0, 20) == "0–17 %"


@pytest.mark.parametrize(("passed", "total"), [(0, 0), (3, 2), (-1, 5)])
def test_impossible_counts_are_refused_with_a_message(passed, total):
    """No trials, more passes than trials, or negative passes raise ValueError naming why."""
    with pytest.raises(ValueError, match=r"trial|passes"):
        wilson_interval(passed, total)
