"""The core's every-width helpers behind the explorers' own bits sliders, and the Pareto front."""

from __future__ import annotations

import numpy as np
import pytest

from quantviz.quant.absmax import fewest_bits_within, toy_layer, weight_states
from quantviz.quant.schemes import SchemeComparison, layer_states, pareto_front, scheme_sweep


def test_weight_states_cover_two_to_eight_bits_with_the_seeds_buckets():
    """Seven states in order; the seed's w = 0.156347, max|w| = 0.910203 lands in buckets
    0, 1, 5, 22 at 2, 4, 6, 8 bits (the lab's table), with 3, 15, 63, 255 levels."""
    states = weight_states(0.156347, 0.910203)
    assert [s.bits for s in states] == list(range(2, 9))
    by_bits = {s.bits: s for s in states}
    assert [by_bits[b].q for b in (2, 4, 6, 8)] == [0, 1, 5, 22]
    assert [by_bits[b].n_levels for b in (2, 4, 6, 8)] == [3, 15, 63, 255]
    assert by_bits[8].w_hat == pytest.approx(22 * 0.910203 / 127)
    assert by_bits[4].levels.size == 15 and by_bits[4].levels[-1] == pytest.approx(0.910203)
    assert weight_states(0.0, 1.0)[0].rel_error is None  # w = 0: no relative error


def test_fewest_bits_within_a_tolerance():
    """8 bits is the first width within 1 % of the seed's weight (7 bits: 1.65 % off); a weight
    no width reaches gives None; an exact weight counts at once."""
    states = weight_states(0.156347, 0.910203)
    assert fewest_bits_within(states, 0.01) == 8
    assert fewest_bits_within(states, 0.02) == 7
    assert fewest_bits_within(weight_states(0.001, 1.0), 0.01) is None
    assert fewest_bits_within(weight_states(0.5, 0.5), 0.0) == 2  # max|w| itself is a level


def test_layer_states_count_the_weights_that_read_back_as_zero():
    """With the outlier, 14 of the seed layer's 16 weights read back as 0 at 4 bits: one
    absmax scale of max|w| / 7, every |w| below half of it rounds to q = 0."""
    w = toy_layer(7, "outlier")
    four = next(s for s in layer_states(w) if s.bits == 4)
    scale = np.abs(w).max() / 7
    assert four.zeros == int(np.sum(np.abs(w) < scale / 2)) == 14
    assert four.kept_rmse is None and four.n_clipped == 0


def _row(bpw: float, rmse: float) -> SchemeComparison:
    return SchemeComparison("symmetric", "tensor", 4, 16, 1, rmse, rmse, 0, bpw)


def test_pareto_front_keeps_what_nothing_beats_on_both():
    """Cheapest first; a row costing more bits for no less error is dropped, ties included."""
    a, b, c, d, e = _row(2, 0.5), _row(3, 0.2), _row(3, 0.3), _row(4, 0.25), _row(5, 0.1)
    assert pareto_front([e, d, c, b, a]) == [a, b, e]
    assert pareto_front([]) == []
    assert pareto_front([_row(2, 0.5), _row(2, 0.5)]) == [_row(2, 0.5)]


def test_scheme_sweep_is_every_scheme_at_every_width():
    """Six settings (two schemes x three granularities) at each of the seven widths."""
    rows = scheme_sweep(toy_layer(7), 2)
    assert len(rows) == 42
    assert sorted({r.bits for r in rows}) == list(range(2, 9))
    assert {(r.scheme, r.granularity) for r in rows if r.bits == 4} == {
        (s, g) for s in ("symmetric", "asymmetric") for g in ("tensor", "row", "group")
    }
