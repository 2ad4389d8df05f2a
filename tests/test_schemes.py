"""Asymmetric zero-point quantization, scale granularity, clipping and the scheme comparison."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from quantviz.quant.absmax import quantize_symmetric, toy_layer
from quantviz.quant.schemes import (
    GRANULARITIES,
    NO_CLIP,
    SCHEMES,
    ClipSpec,
    Granularity,
    Scheme,
    all_levels,
    bits_per_weight,
    bucket_counts,
    code_max,
    compare_schemes,
    group_length,
    quantize_grouped,
    scheme_levels,
    summarize_layer,
)

EPS = 1e-12
BITS = range(2, 9)
CASES = list(itertools.product(SCHEMES, GRANULARITIES))


def _per_tensor_asymmetric(w: np.ndarray, bits: int):
    """(q, scale, zero_point, w_hat) of the asymmetric scheme with one scale for all of `w`."""
    res = quantize_grouped(w, bits, "asymmetric", "tensor")
    return res.q, res.scale[0], res.zero_point[0], res.w_hat


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def test_asymmetric_follows_the_formula() -> None:
    """scale = (max - min) / (2^b - 1), zero_point = round(-min / scale), q = round(w/s) + zp."""
    w = np.array([-0.3, -0.1, 0.0, 0.25, 0.9])
    q, scale, zp, w_hat = _per_tensor_asymmetric(w, 4)
    assert scale == pytest.approx(1.2 / 15)
    assert zp == round(0.3 / (1.2 / 15))
    np.testing.assert_array_equal(q, np.clip(np.round(w / scale) + zp, 0, 15))
    np.testing.assert_allclose(w_hat, (q - zp) * scale)
    assert q.min() >= 0 and q.max() <= 15
    assert w_hat[2] == 0.0


@pytest.mark.parametrize("bits", BITS)
def test_asymmetric_round_trip_within_half_step(bits: int) -> None:
    """Every weight inside the range is reconstructed within scale/2."""
    w = np.random.default_rng(bits).normal(0.1, 0.4, size=(8, 8))
    _, scale, _, w_hat = _per_tensor_asymmetric(w, bits)
    assert np.all(np.abs(w - w_hat) <= scale / 2 + EPS)


def test_asymmetric_range_always_contains_zero() -> None:
    """An all-positive layer still has 0 in range, so its zero-point fits in the code range."""
    _, scale, zp, w_hat = _per_tensor_asymmetric(np.array([0.5, 0.6, 0.7]), 3)
    assert zp == 0
    assert scale == pytest.approx(0.7 / 7)
    assert np.all(np.abs(np.array([0.5, 0.6, 0.7]) - w_hat) <= scale / 2 + EPS)


def test_asymmetric_clipped_range_clamps_outside_values() -> None:
    """With the range clipped to [-1, 1] (the median of |w|), values beyond it land on the end
    codes and are marked clipped."""
    w = np.array([-5.0, -1.0, 0.0, 1.0, 5.0])
    res = quantize_grouped(w, 4, "asymmetric", clip=ClipSpec.percentile(50))
    scale, zp = res.scale[0], res.zero_point[0]
    assert scale == pytest.approx(2 / 15)
    assert res.q[[0, 2, 4]].tolist() == [0, zp, 15]
    assert res.w_hat[0] == pytest.approx(-zp * scale)
    assert res.clipped.tolist() == [True, False, False, False, True]


def test_asymmetric_rejects_bad_bits() -> None:
    """Bits outside 2..8 raise ValueError."""
    with pytest.raises(ValueError):
        quantize_grouped([0.1], 9, "asymmetric")
    with pytest.raises(ValueError):
        code_max(1)


def test_asymmetric_scalar_keeps_zero_d_shape() -> None:
    """A scalar weight gives 0-d q and w_hat."""
    q, scale, _, w_hat = _per_tensor_asymmetric(np.asarray(0.156347), 4)
    assert q.shape == () and w_hat.shape == ()
    assert abs(0.156347 - float(w_hat)) <= scale / 2


@pytest.mark.parametrize("value", [0.0, 0.37, -0.42])
@pytest.mark.parametrize(("scheme", "granularity"), CASES)
def test_constant_layer_is_finite(value: float, scheme: Scheme, granularity: Granularity) -> None:
    """A constant (or all-zero) layer gives finite output, exact reconstruction, no NaN."""
    w = np.full((4, 4), value)
    res = quantize_grouped(w, 4, scheme, granularity, group_size=4)
    assert np.all(np.isfinite(res.w_hat)) and np.all(np.isfinite(res.scale))
    np.testing.assert_allclose(res.w_hat, w, atol=1e-12)
    assert not res.clipped.any()
    if value == 0.0:
        assert np.all(res.scale == 0)
        assert np.all(res.w_hat == 0)


def test_all_zero_asymmetric_has_zero_scale_and_zero_point() -> None:
    """Asymmetric per tensor on zeros: scale 0, zero-point 0, codes 0, zeros back."""
    q, scale, zp, w_hat = _per_tensor_asymmetric(np.zeros((2, 3)), 5)
    assert scale == 0 and zp == 0
    assert np.all(q == 0) and np.all(w_hat == 0)


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize(("scheme", "granularity"), CASES)
@pytest.mark.parametrize("group_size", [2, 3, 4, 8])
def test_grouped_round_trip_within_own_scale(
    bits: int, scheme: Scheme, granularity: Granularity, group_size: int
) -> None:
    """Without clipping, each weight is within half its own group's scale of w_hat."""
    w = np.random.default_rng(100 + bits).normal(0, 0.3, size=(4, 6))
    res = quantize_grouped(w, bits, scheme, granularity, group_size)
    assert np.all(np.abs(w - res.w_hat) <= res.scale[res.group] / 2 + EPS)
    assert not res.clipped.any()


@pytest.mark.parametrize(("scheme", "granularity"), CASES)
def test_clipped_round_trip_bound_holds_inside_range(
    scheme: Scheme, granularity: Granularity
) -> None:
    """With clipping, unclipped weights stay within scale/2; clipped ones land on the edge."""
    w = toy_layer(7, "outlier", shape=(4, 8))
    res = quantize_grouped(w, 4, scheme, granularity, 8, ClipSpec.percentile(80))
    inside = ~res.clipped
    step = res.scale[res.group]
    assert np.all(np.abs(w - res.w_hat)[inside] <= step[inside] / 2 + EPS)
    assert res.clipped.any()
    end_codes = [-7, 7] if scheme == "symmetric" else [0, 15]
    assert np.all(np.isin(res.q[res.clipped], end_codes))


def test_per_tensor_symmetric_matches_the_seed() -> None:
    """Per-tensor symmetric without clipping is exactly quantize_symmetric."""
    w = np.random.default_rng(1).normal(0, 0.3, size=(4, 4))
    for bits in BITS:
        q, scale, w_hat = quantize_symmetric(w, bits)
        res = quantize_grouped(w, bits, "symmetric", "tensor")
        np.testing.assert_array_equal(res.q, q)
        np.testing.assert_array_equal(res.w_hat, w_hat)
        assert res.scale.tolist() == [scale]
        assert res.zero_point.tolist() == [0]


def test_per_tensor_asymmetric_is_the_min_max_formula() -> None:
    """Per-tensor asymmetric without clipping is the module's formula, written out here:
    the range widened to hold 0, scale = range / 31, zp = round(-min / scale)."""
    w = np.random.default_rng(2).normal(0.05, 0.3, size=(4, 4))
    lo, hi = min(w.min(), 0.0), max(w.max(), 0.0)
    scale = (hi - lo) / 31
    zp = round(-lo / scale)
    q = np.clip(np.round(w / scale) + zp, 0, 31)
    res = quantize_grouped(w, 5, "asymmetric", "tensor")
    np.testing.assert_array_equal(res.q, q)
    np.testing.assert_allclose(res.w_hat, (q - zp) * scale, rtol=0, atol=1e-15)
    assert res.scale.tolist() == pytest.approx([scale]) and res.zero_point.tolist() == [zp]


def test_groups_run_row_major_with_short_last_group() -> None:
    """Group g covers flat indices g*N..(g+1)*N-1; a 4x4 layer in groups of 6 has sizes 6, 6, 4."""
    w = np.random.default_rng(3).normal(0, 0.3, size=(4, 4))
    res = quantize_grouped(w, 4, "symmetric", "group", 6)
    assert res.n_groups == 3
    np.testing.assert_array_equal(res.group.ravel(), np.arange(16) // 6)
    for g in range(3):
        members = w.ravel()[res.group.ravel() == g]
        assert res.scale[g] == pytest.approx(np.abs(members).max() / 7)


def test_per_row_uses_one_scale_per_row() -> None:
    """Per-row scales are each row's max|w| / qmax, and equal groups of the row length."""
    w = np.random.default_rng(4).normal(0, 0.3, size=(3, 5))
    res = quantize_grouped(w, 3, "symmetric", "row")
    np.testing.assert_allclose(res.scale, np.abs(w).max(axis=1) / 3)
    np.testing.assert_array_equal(res.group, np.repeat(np.arange(3), 5).reshape(3, 5))
    by_group = quantize_grouped(w, 3, "symmetric", "group", 5)
    np.testing.assert_array_equal(by_group.w_hat, res.w_hat)


def test_one_dimensional_and_oversized_groups() -> None:
    """A 1-D layer is one row; a group larger than the layer is one group."""
    w = np.random.default_rng(5).normal(0, 0.3, size=10)
    assert quantize_grouped(w, 4, "asymmetric", "row").n_groups == 1
    assert quantize_grouped(w, 4, "asymmetric", "group", 64).n_groups == 1
    assert group_length((10,), "group", 64) == 10


def test_bad_arguments_raise() -> None:
    """Unknown scheme / granularity, a missing group size and an empty layer raise ValueError."""
    w = np.ones((2, 2))
    with pytest.raises(ValueError):
        quantize_grouped(w, 4, "nonsense")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        quantize_grouped(w, 4, "symmetric", "column")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        quantize_grouped(w, 4, "symmetric", "group")
    with pytest.raises(ValueError):
        quantize_grouped(w, 4, "symmetric", "group", 0)
    with pytest.raises(ValueError):
        quantize_grouped(np.array([]), 4)


def test_single_outlier_per_group_beats_per_tensor() -> None:
    """With one outlier, per-group and per-row RMSE are below per-tensor for both schemes."""
    w = toy_layer(11, "outlier")
    for scheme in SCHEMES:
        tensor = quantize_grouped(w, 4, scheme, "tensor")
        group = quantize_grouped(w, 4, scheme, "group", 4)
        row = quantize_grouped(w, 4, scheme, "row")
        assert _rmse(w, group.w_hat) < _rmse(w, tensor.w_hat)
        assert _rmse(w, row.w_hat) < _rmse(w, tensor.w_hat)


def test_outlier_crushes_per_tensor_levels() -> None:
    """Per tensor, the outlier leaves the other 15 weights few distinct codes; per group, more."""
    w = toy_layer(11, "outlier")
    tensor = quantize_grouped(w, 4, "symmetric", "tensor")
    group = quantize_grouped(w, 4, "symmetric", "group", 2)
    others = np.abs(w) < 2
    assert np.unique(tensor.w_hat[others]).size < np.unique(group.w_hat[others]).size


def test_percentile_clip_mask_matches_threshold() -> None:
    """The mask flags exactly the weights with |w| above the group's percentile of |w|."""
    w = np.random.default_rng(6).normal(0, 0.3, size=(4, 8))
    for granularity in GRANULARITIES:
        res = quantize_grouped(w, 4, "symmetric", granularity, 8, ClipSpec.percentile(75))
        length = group_length(w.shape, granularity, 8)
        blocks = np.abs(w).reshape(-1, length)
        c = np.percentile(blocks, 75, axis=1, keepdims=True)
        np.testing.assert_array_equal(res.clipped, (blocks > c).reshape(w.shape))
        asym = quantize_grouped(w, 4, "asymmetric", granularity, 8, ClipSpec.percentile(75))
        np.testing.assert_array_equal(asym.clipped, res.clipped)


def test_std_clip_uses_k_sigma_about_zero() -> None:
    """ClipSpec.std(k) clips |w| > k * sqrt(mean(w^2)) and sets the symmetric scale from it."""
    w = np.random.default_rng(8).normal(0, 0.3, size=(8, 8))
    w[0, 0] = 3.0
    res = quantize_grouped(w, 4, "symmetric", "tensor", clip=ClipSpec.std(2.0))
    c = 2.0 * np.sqrt(np.mean(w**2))
    np.testing.assert_array_equal(res.clipped, np.abs(w) > c)
    assert res.clipped[0, 0]
    assert res.scale[0] == pytest.approx(c / 7)


def test_full_percentile_and_no_clip_agree() -> None:
    """Clipping at p100 (or at a huge k) changes nothing."""
    w = np.random.default_rng(9).normal(0, 0.3, size=(4, 4))
    base = quantize_grouped(w, 4, "asymmetric", "row")
    for clip in (ClipSpec.percentile(100), ClipSpec.std(1000)):
        res = quantize_grouped(w, 4, "asymmetric", "row", clip=clip)
        np.testing.assert_array_equal(res.w_hat, base.w_hat)
        assert not res.clipped.any()


def test_clip_spec_validation() -> None:
    """Percentiles outside (0, 100], non-positive k and unknown methods raise ValueError."""
    for bad in (lambda: ClipSpec.percentile(0), lambda: ClipSpec.percentile(101)):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError):
        ClipSpec.std(0)
    with pytest.raises(ValueError):
        ClipSpec("median", 50)  # type: ignore[arg-type]
    assert NO_CLIP.label == "no clipping"
    assert ClipSpec.percentile(99).label == "clip at p99 of |w|"


def test_clipping_helps_when_the_outlier_is_not_measured() -> None:
    """Clipping a rare outlier lowers the error of the other weights (the reason to clip)."""
    w = toy_layer(11, "outlier", shape=(8, 8))
    others = np.abs(w) < 2
    plain = quantize_grouped(w, 4, "symmetric", "tensor")
    clipped = quantize_grouped(w, 4, "symmetric", "tensor", clip=ClipSpec.percentile(98))
    assert _rmse(w[others], clipped.w_hat[others]) < _rmse(w[others], plain.w_hat[others])


def test_scheme_levels() -> None:
    """Symmetric levels are -qmax..qmax steps; asymmetric levels are (0..2^b-1 - zp) steps."""
    np.testing.assert_allclose(scheme_levels(2, 0.5), [-0.5, 0.0, 0.5])
    np.testing.assert_allclose(scheme_levels(2, 0.5, 1, "asymmetric"), [-0.5, 0.0, 0.5, 1.0])
    with pytest.raises(ValueError):
        scheme_levels(2, 0.5, scheme="log")  # type: ignore[arg-type]


def test_all_levels_contain_every_reconstruction() -> None:
    """Every w_hat of a grouped result is one of all_levels (the histogram's lines)."""
    w = np.random.default_rng(10).normal(0, 0.3, size=(4, 4))
    for scheme in SCHEMES:
        res = quantize_grouped(w, 3, scheme, "group", 4)
        lv = all_levels(res, 3, scheme)
        assert np.all(np.min(np.abs(res.w_hat.ravel()[:, None] - lv[None, :]), axis=1) < 1e-12)


def test_bits_per_weight_counts_scales_and_zero_points() -> None:
    """16 weights at 4 bits: one fp16 scale is 5 bits/weight; 4 groups asymmetric is 9."""
    assert bits_per_weight(4, 16, 1) == 5.0
    assert bits_per_weight(4, 16, 4, "asymmetric") == (64 + 4 * (16 + 4)) / 16
    assert bits_per_weight(4, 32, 1, "asymmetric", zero_point_bits=16) == 5.0
    assert bits_per_weight(4, 32, 1) == 4.5  # Q4_0's 4.5 bits per weight


def test_compare_schemes_table() -> None:
    """compare_schemes gives six rows (scheme × granularity) whose numbers match a direct run."""
    w = toy_layer(11, "outlier")
    rows = compare_schemes(w, 4, 4, ClipSpec.percentile(95))
    assert [(r.scheme, r.granularity) for r in rows] == CASES
    for r in rows:
        res = quantize_grouped(w, 4, r.scheme, r.granularity, 4, ClipSpec.percentile(95))
        assert r.rmse == pytest.approx(_rmse(w, res.w_hat))
        assert r.max_error == pytest.approx(np.abs(w - res.w_hat).max())
        assert r.clipped == int(res.clipped.sum())
        assert r.n_groups == res.n_groups
        assert r.bits_per_weight == bits_per_weight(4, 16, r.n_groups, r.scheme)
    assert rows[0].label == "symmetric · per tensor"
    assert rows[2].granularity_label == "per group of 4"
    assert rows[0].group_length == 16 and rows[1].group_length == 4


def test_compare_schemes_reads_off_the_outlier_lesson() -> None:
    """On an outlier layer, the comparison shows per-group below per-tensor for each scheme."""
    rows = {(r.scheme, r.granularity): r for r in compare_schemes(toy_layer(11, "outlier"), 4, 2)}
    for scheme in SCHEMES:
        assert rows[scheme, "group"].rmse < rows[scheme, "tensor"].rmse
        assert rows[scheme, "group"].bits_per_weight > rows[scheme, "tensor"].bits_per_weight


# --- a layer in numbers (the grid explorer's metrics), moved from the seed module's tests ---


def test_bucket_counts_list_every_code_and_add_up_to_the_layer() -> None:
    """Symmetric codes run -qmax..qmax, asymmetric 0..2^b - 1; counts add up to the layer."""
    w = toy_layer(3)
    q, _, _ = quantize_symmetric(w, 3)
    buckets, counts = bucket_counts(q, 3)
    assert buckets.tolist() == [-3, -2, -1, 0, 1, 2, 3]
    assert counts.sum() == 16 and counts.tolist() == [np.sum(q == b) for b in buckets]
    res = quantize_grouped(w, 3, "asymmetric", "row")
    codes, counts = bucket_counts(res.q, 3, "asymmetric")
    assert codes.tolist() == list(range(8)) and counts.sum() == 16


def test_layer_summary_storage_and_levels() -> None:
    """Storage counts the codes plus one fp16 scale, and the levels actually used."""
    w = np.array([[0.0, 1.0], [-1.0, 0.5]])
    summary = summarize_layer(w, quantize_grouped(w, 4), 4)
    assert summary.storage_bits == 4 * 4 + 16
    assert summary.fp16_bits == 64 and summary.fp32_bits == 128
    assert summary.representable_levels == 15
    assert summary.used_levels == 4  # 0, 7, -7, round(3.5) = 4
    assert summary.ratio_vs_fp32 == pytest.approx(128 / 32)
    asym = summarize_layer(w, quantize_grouped(w, 4, "asymmetric"), 4, "asymmetric")
    assert asym.representable_levels == 16 and asym.storage_bits == 4 * 4 + 16 + 4


def test_outlier_crushes_the_rest_into_few_buckets() -> None:
    """With one outlier, the other 15 weights use fewer distinct buckets than without it."""
    normal, outlier = toy_layer(11, "normal"), toy_layer(11, "outlier")
    q_normal, q_outlier = quantize_grouped(normal, 4), quantize_grouped(outlier, 4)
    assert q_outlier.scale[0] > 5 * q_normal.scale[0]
    used_normal = summarize_layer(normal, q_normal, 4).used_levels
    assert summarize_layer(outlier, q_outlier, 4).used_levels < used_normal
