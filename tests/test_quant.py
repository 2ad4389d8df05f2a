"""The seed's toy quantizer."""

import numpy as np
import pytest

from quantviz.quant.absmax import (
    levels,
    qmax,
    quantize_symmetric,
    toy_layer,
)


@pytest.mark.parametrize(
    ("bits", "bucket", "w_hat"),
    [(2, 0, 0.0), (4, 1, 0.130029), (6, 5, 0.146806), (8, 22, 0.1577)],
)
def test_seed_worked_example(bits, bucket, w_hat):
    """0.156347 in a layer with max|w| 0.910203 lands in the seed's buckets 0/1/5/22."""
    q, scale, rec = quantize_symmetric(0.156347, bits, max_abs=0.910203)
    assert int(q) == bucket
    assert scale == pytest.approx(0.910203 / (2 ** (bits - 1) - 1))
    assert float(rec) == pytest.approx(w_hat, abs=5e-5 if bits == 8 else 1e-6)


def test_round_trip_error_within_half_a_step():
    """Every weight reconstructs within scale/2 at every bit width."""
    w = np.random.default_rng(0).normal(0, 0.02, size=(64, 64))
    for bits in range(2, 9):
        _, scale, w_hat = quantize_symmetric(w, bits)
        assert np.max(np.abs(w - w_hat)) <= scale / 2 + 1e-15


def test_all_zero_layer_gives_zeros_without_nan():
    """A layer of zeros has scale 0 and reconstructs to zeros, with no NaN or warning."""
    with np.errstate(all="raise"):
        q, scale, w_hat = quantize_symmetric(np.zeros((4, 4)), 4)
    assert scale == 0
    assert not np.isnan(w_hat).any()
    assert (q == 0).all() and (w_hat == 0).all()


@pytest.mark.parametrize("bits", [1, 9, 0, -3, 4.5, True])
def test_bits_outside_2_to_8_raise(bits):
    """Bit widths outside 2..8 (or not whole numbers) are refused with ValueError."""
    with pytest.raises(ValueError, match="bits"):
        quantize_symmetric(0.1, bits)


def test_values_beyond_max_abs_clamp_to_the_largest_bucket():
    """A weight larger than the given layer maximum is clamped to ±qmax."""
    q, _, _ = quantize_symmetric([2.0, -2.0], 4, max_abs=1.0)
    assert q.tolist() == [7, -7]


def test_shapes_and_scalars():
    """Scalars give 0-d results; arrays keep their shape."""
    q, _, w_hat = quantize_symmetric(0.5, 3)
    assert np.ndim(q) == 0 and np.ndim(w_hat) == 0
    q, _, w_hat = quantize_symmetric(np.ones((2, 3)), 3)
    assert q.shape == w_hat.shape == (2, 3)


def test_levels_run_from_minus_to_plus_qmax():
    """Levels run from -qmax to +qmax."""
    assert qmax(4) == 7
    assert levels(2, 0.5).tolist() == [-0.5, 0.0, 0.5]


def test_toy_layer_is_seeded():
    """The same seed draws the same layer; another seed a different one."""
    assert np.array_equal(toy_layer(5), toy_layer(5))
    assert not np.array_equal(toy_layer(5), toy_layer(6))
    with pytest.raises(ValueError):
        toy_layer(1, "uniform")  # type: ignore[arg-type]  # on purpose
