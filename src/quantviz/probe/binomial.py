"""How sure a pass count is: Wilson score intervals for k passes of n, and whether two overlap.

A probe of 8 prompts cannot tell 1 of 8 from 1 of 8, nor 6 of 8 from 8 of 8: both pairs lie
within each other's 95 % interval. The deployment decision says so instead of calling equal
counts a tie or a difference of two a win.

Wilson's interval (E. B. Wilson, 1927) rather than the normal approximation p ± z·√(p(1-p)/n),
which collapses to a single point at 0 of n and n of n, exactly the counts a small probe gives:

    centre = (p + z²/2n) / (1 + z²/n)
    half   = z / (1 + z²/n) · √(p(1-p)/n + z²/4n²)
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95 % interval


def wilson_interval(passed: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a pass rate `passed` / `total`, as (low, high) in [0, 1]."""
    if total <= 0:
        raise ValueError(f"an interval needs at least one trial, got {total}")
    if not 0 <= passed <= total:
        raise ValueError(f"passes must be 0-{total}, got {passed}")
    p = passed / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    # exact ends where the formula meets them up to rounding
    low = 0.0 if passed == 0 else max(0.0, centre - half)
    high = 1.0 if passed == total else min(1.0, centre + half)
    return low, high


def can_tell_apart(a: tuple[int, int], b: tuple[int, int], z: float = Z95) -> bool:
    """True when the two pass counts' intervals do not overlap: the difference is not noise.

    Non-overlap of two 95 % intervals is a conservative test (it needs a larger gap than a
    two-proportion test at 5 %), which suits a decision a student should not over-read.
    """
    low_a, high_a = wilson_interval(*a, z=z)
    low_b, high_b = wilson_interval(*b, z=z)
    return high_a < low_b or high_b < low_a


def interval_text(passed: int, total: int) -> str:
    """'2–47 %': the 95 % interval of a pass rate in whole percent."""
    low, high = wilson_interval(passed, total)
    return f"{math.floor(low * 100)}–{math.ceil(high * 100)} %"
