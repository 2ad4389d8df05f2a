"""Quantization schemes beyond the seed's absmax: zero-point, scale granularity and clipping.

Two schemes share one grid of ``bits``-bit codes:

- **symmetric** (the seed's formula, `quant.quantize_symmetric`):
  ``scale = max|w| / (2^(b-1) - 1)``, ``q = round(w / scale)`` in
  ``[-(2^(b-1) - 1), 2^(b-1) - 1]``, ``w_hat = q * scale``.
- **asymmetric** (min-max with a zero-point): ``scale = (max - min) / (2^b - 1)``,
  ``zero_point = round(-min / scale)``, ``q = clamp(round(w / scale) + zero_point, 0, 2^b - 1)``,
  ``w_hat = (q - zero_point) * scale``. The range is widened to contain 0 (``min <= 0 <= max``),
  as PyTorch and GPTQ do: the zero-point then fits in ``b`` bits, 0.0 is stored exactly, and a
  constant layer still gets a non-zero scale.

Granularity decides how many weights share one scale: the whole tensor, each row (last axis), or
each group of ``group_size`` consecutive values in row-major (C) order. Groups run along the
flattened array, so when the row length is a multiple of ``group_size`` every group lies inside one
row, exactly like llama.cpp's 32-value blocks along a row; a larger group spans several rows, and
the last group is shorter when ``group_size`` does not divide the size.

Clipping narrows each group's range to a threshold ``c`` on ``|w|`` (a percentile of ``|w|``, or
``k`` standard deviations measured about zero); weights with ``|w| > c`` are clipped to the edge
and reported in a boolean mask. Both schemes use the same threshold, so they clip the same weights.

Kernels work on ``(n_groups, group_len)`` arrays with no Python loop over groups; a group whose
range is zero gets scale 0 and reconstructs to zeros, never NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quantviz.quant.absmax import BIT_WIDTHS, qmax

Scheme = Literal["symmetric", "asymmetric"]
Granularity = Literal["tensor", "row", "group"]
ClipMethod = Literal["none", "percentile", "std"]

SCHEMES: tuple[Scheme, ...] = ("symmetric", "asymmetric")
GRANULARITIES: tuple[Granularity, ...] = ("tensor", "row", "group")
SCALE_BITS = 16  # each scale is stored as one fp16


def code_max(bits: int) -> int:
    """Largest stored code of the asymmetric scheme: 2^bits - 1 (bits from 2 to 8)."""
    qmax(bits)  # validates bits
    return 2**bits - 1


def _safe_divide(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """``a / b`` where ``b > 0``, else 0 (a zero-range group)."""
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)


def _symmetric_kernel(
    blocks: NDArray[np.float64], max_abs: NDArray[np.float64], bits: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    top = qmax(bits)
    scale = max_abs / top  # (n_groups, 1)
    q = np.clip(np.round(_safe_divide(blocks, scale)), -top, top).astype(np.int64)
    return q, scale, q * scale


def _asymmetric_kernel(
    blocks: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64], bits: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    top = code_max(bits)
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)  # (n_groups, 1), range holds 0
    scale = (hi - lo) / top
    zero_point = np.round(_safe_divide(-lo, scale)).astype(np.int64)
    q = np.clip(np.round(_safe_divide(blocks, scale)) + zero_point, 0, top).astype(np.int64)
    return q, scale, zero_point, (q - zero_point) * scale


@dataclass(frozen=True)
class ClipSpec:
    """How to narrow each group's range: not at all, at a percentile of |w|, or at k sigma."""

    method: ClipMethod = "none"
    value: float = 100.0

    def __post_init__(self) -> None:
        if self.method not in ("none", "percentile", "std"):
            raise ValueError(f"unknown clip method {self.method!r}")
        if self.method == "percentile" and not 0.0 < self.value <= 100.0:
            raise ValueError(f"percentile must be in (0, 100], got {self.value}")
        if self.method == "std" and not self.value > 0.0:
            raise ValueError(f"k (standard deviations) must be positive, got {self.value}")

    @classmethod
    def percentile(cls, p: float) -> ClipSpec:
        """Clip at the p-th percentile of |w| in each group (100 = no clipping)."""
        return cls("percentile", float(p))

    @classmethod
    def std(cls, k: float) -> ClipSpec:
        """Clip at k standard deviations of w about zero (the RMS) in each group."""
        return cls("std", float(k))

    @property
    def label(self) -> str:
        if self.method == "percentile":
            return f"clip at p{self.value:g} of |w|"
        if self.method == "std":
            return f"clip at {self.value:g}σ"
        return "no clipping"


NO_CLIP = ClipSpec()


def clip_threshold(blocks: NDArray[np.float64], clip: ClipSpec) -> NDArray[np.float64]:
    """Per-group threshold on |w| for `(n_groups, group_len)` blocks (NaN = padding): `(n, 1)`.

    Never above the group's own max|w|, so clipping can only narrow a range.
    """
    mags = np.abs(blocks)
    top = np.nanmax(mags, axis=1, keepdims=True)
    if clip.method == "percentile":
        # nanpercentile is several times slower; only a short last group has NaN padding
        percentile = np.nanpercentile if np.isnan(blocks[-1]).any() else np.percentile
        c = percentile(mags, clip.value, axis=1, keepdims=True)
    elif clip.method == "std":
        c = clip.value * np.sqrt(np.nanmean(blocks**2, axis=1, keepdims=True))
    else:
        return top
    return np.minimum(c, top)


class GroupedQuant(NamedTuple):
    """Result of `quantize_grouped`, unpackable like the seed's `(q, scale, w_hat)` tuple.

    `q`, `w_hat`, `clipped` and `group` have the shape of `w`; `scale` and `zero_point` have one
    entry per group, so `scale[group]` is each weight's own scale. The symmetric scheme's
    zero-points are all 0.
    """

    q: NDArray[np.int64]
    scale: NDArray[np.float64]  # (n_groups,)
    zero_point: NDArray[np.int64]  # (n_groups,)
    w_hat: NDArray[np.float64]
    clipped: NDArray[np.bool_]
    group: NDArray[np.int64]

    @property
    def n_groups(self) -> int:
        return int(self.scale.size)


def group_length(shape: tuple[int, ...], granularity: Granularity, group_size: int | None) -> int:
    """How many consecutive (row-major) values share one scale for this granularity."""
    size = int(np.prod(shape))
    if granularity == "tensor":
        return size
    if granularity == "row":
        return shape[-1] if shape else 1
    if granularity == "group":
        if group_size is None or isinstance(group_size, bool) or int(group_size) < 1:
            raise ValueError(f"group_size must be a positive integer, got {group_size!r}")
        return min(int(group_size), size)
    raise ValueError(f"unknown granularity {granularity!r}")


def quantize_grouped(
    w: ArrayLike,
    bits: int,
    scheme: Scheme = "symmetric",
    granularity: Granularity = "tensor",
    group_size: int | None = None,
    clip: ClipSpec = NO_CLIP,
) -> GroupedQuant:
    """Quantize `w` with one scale (and zero-point) per tensor, per row or per group.

    `group_size` is required for ``granularity="group"`` and ignored otherwise. Per-tensor
    symmetric without clipping gives exactly `quantize_symmetric(w, bits)`.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0:
        raise ValueError("cannot quantize an empty array")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}")
    length = group_length(w.shape, granularity, group_size)
    n = w.size
    n_groups = -(-n // length)
    padded = np.full(n_groups * length, np.nan)
    padded[:n] = w.ravel()
    blocks = padded.reshape(n_groups, length)  # (n_groups, length), NaN pads a short last group
    c = clip_threshold(blocks, clip)  # (n_groups, 1)
    filled = np.nan_to_num(blocks, nan=0.0)

    if scheme == "symmetric":
        q, scale, w_hat = _symmetric_kernel(filled, c, bits)
        zero_point = np.zeros((n_groups, 1), dtype=np.int64)
    else:
        lo = np.maximum(np.nanmin(blocks, axis=1, keepdims=True), -c)
        hi = np.minimum(np.nanmax(blocks, axis=1, keepdims=True), c)
        q, scale, zero_point, w_hat = _asymmetric_kernel(filled, lo, hi, bits)

    clipped = np.abs(filled) > c
    group = np.arange(n, dtype=np.int64) // length
    return GroupedQuant(
        q=q.ravel()[:n].reshape(w.shape),
        scale=scale.ravel(),
        zero_point=zero_point.ravel(),
        w_hat=w_hat.ravel()[:n].reshape(w.shape),
        clipped=clipped.ravel()[:n].reshape(w.shape),
        group=group.reshape(w.shape),
    )


def scheme_levels(
    bits: int, scale: float, zero_point: int = 0, scheme: Scheme = "symmetric"
) -> NDArray[np.float64]:
    """Every value one group can reconstruct, ascending."""
    if scheme == "symmetric":
        top = qmax(bits)
        return np.arange(-top, top + 1, dtype=np.float64) * scale
    if scheme == "asymmetric":
        return (np.arange(code_max(bits) + 1) - zero_point) * np.float64(scale)
    raise ValueError(f"unknown scheme {scheme!r}")


def all_levels(result: GroupedQuant, bits: int, scheme: Scheme) -> NDArray[np.float64]:
    """The distinct values any group of `result` can reconstruct, ascending (for histograms)."""
    per_group = [
        scheme_levels(bits, float(s), int(z), scheme)
        for s, z in zip(result.scale, result.zero_point, strict=True)
    ]
    return np.unique(np.concatenate(per_group))


def bits_per_weight(
    bits: int,
    n_weights: int,
    n_groups: int,
    scheme: Scheme = "symmetric",
    scale_bits: int = SCALE_BITS,
    zero_point_bits: int | None = None,
) -> float:
    """Storage per weight: the code, plus each group's fp16 scale and (asymmetric) zero-point.

    The zero-point lies in 0 .. 2^bits - 1, so it costs `bits` bits unless told otherwise
    (GPTQ packs it that way; llama.cpp's Q4_1 stores an fp16 minimum instead: pass 16).
    """
    extra = scale_bits
    if scheme == "asymmetric":
        extra += bits if zero_point_bits is None else zero_point_bits
    return (n_weights * bits + n_groups * extra) / n_weights


@dataclass(frozen=True)
class SchemeComparison:
    """The error and storage cost of one scheme × granularity on one layer."""

    scheme: Scheme
    granularity: Granularity
    bits: int
    group_length: int  # weights that share one scale
    n_groups: int
    rmse: float
    max_error: float
    clipped: int  # how many weights were clipped
    bits_per_weight: float

    @property
    def granularity_label(self) -> str:
        if self.granularity == "group":
            return f"per group of {self.group_length}"
        return f"per {self.granularity}"

    @property
    def label(self) -> str:
        return f"{self.scheme} · {self.granularity_label}"


class ErrorStats(NamedTuple):
    """How far a reconstruction is from the weights."""

    rmse: float
    max_error: float
    snr_db: float  # 10·log10(Σw² / Σ(w − ŵ)²); inf for an exact reconstruction


def error_stats(w: ArrayLike, w_hat: ArrayLike) -> ErrorStats:
    """RMSE, largest error and signal-to-noise ratio of a reconstruction (zeros when empty)."""
    w = np.asarray(w, dtype=np.float64)
    err = w - np.asarray(w_hat, dtype=np.float64)
    if err.size == 0:
        return ErrorStats(0.0, 0.0, float("inf"))
    noise = float(np.sum(err * err))
    signal = float(np.sum(w * w))
    if noise == 0:
        snr = float("inf")
    elif signal == 0:
        snr = float("-inf")
    else:
        snr = float(10 * np.log10(signal / noise))
    return ErrorStats(float(np.sqrt(noise / err.size)), float(np.abs(err).max()), snr)


def compare_schemes(
    w: ArrayLike, bits: int, group_size: int, clip: ClipSpec = NO_CLIP
) -> list[SchemeComparison]:
    """RMSE, max error and bits per weight of every scheme × granularity at `bits`.

    Rows come scheme-major in the order of `SCHEMES` and `GRANULARITIES`.
    """
    w = np.asarray(w, dtype=np.float64)
    rows = []
    for scheme in SCHEMES:
        for granularity in GRANULARITIES:
            res = quantize_grouped(w, bits, scheme, granularity, group_size, clip)
            stats = error_stats(w, res.w_hat)
            rows.append(
                SchemeComparison(
                    scheme=scheme,
                    granularity=granularity,
                    bits=bits,
                    group_length=group_length(w.shape, granularity, group_size),
                    n_groups=res.n_groups,
                    rmse=stats.rmse,
                    max_error=stats.max_error,
                    clipped=int(res.clipped.sum()),
                    bits_per_weight=bits_per_weight(bits, w.size, res.n_groups, scheme),
                )
            )
    return rows


# --------------------------------------------------------------------------------------------
# A quantized layer in numbers (the grid explorer's metrics and its codes panel)


def code_range(bits: int, scheme: Scheme = "symmetric") -> tuple[int, int]:
    """The lowest and highest stored code: -qmax..qmax (symmetric), 0..2^bits - 1 (asymmetric)."""
    if scheme == "symmetric":
        return -qmax(bits), qmax(bits)
    if scheme == "asymmetric":
        return 0, code_max(bits)
    raise ValueError(f"unknown scheme {scheme!r}")


def bucket_counts(
    q: ArrayLike, bits: int, scheme: Scheme = "symmetric"
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """How many weights hold each representable code: `(codes, counts)`, every code listed."""
    low, high = code_range(bits, scheme)
    counts = np.bincount(np.asarray(q, dtype=np.int64).ravel() - low, minlength=high - low + 1)
    return np.arange(low, high + 1), counts


@dataclass(frozen=True)
class LayerSummary:
    """What quantizing a layer did: levels, errors and storage against FP16 and FP32."""

    representable_levels: int
    used_levels: int
    errors: ErrorStats
    storage_bits: int  # the codes plus each group's fp16 scale (and zero-point)
    fp16_bits: int
    fp32_bits: int

    @property
    def ratio_vs_fp16(self) -> float:
        return self.fp16_bits / self.storage_bits

    @property
    def ratio_vs_fp32(self) -> float:
        return self.fp32_bits / self.storage_bits


def summarize_layer(
    w: ArrayLike, result: GroupedQuant, bits: int, scheme: Scheme = "symmetric"
) -> LayerSummary:
    """Levels used of those representable, errors and stored bits of a quantized layer."""
    w = np.asarray(w, dtype=np.float64)
    low, high = code_range(bits, scheme)
    per_weight = bits_per_weight(bits, w.size, result.n_groups, scheme)
    return LayerSummary(
        representable_levels=high - low + 1,
        used_levels=int(np.unique(result.q).size),
        errors=error_stats(w, result.w_hat),
        storage_bits=round(per_weight * w.size),
        fp16_bits=w.size * 16,
        fp32_bits=w.size * 32,
    )


# --------------------------------------------------------------------------------------------
# Every bit width at once (the grid explorer's figure carries all seven)


@dataclass(frozen=True)
class LayerState:
    """A layer quantized at one bit width: what the grid explorer shows for that width."""

    bits: int
    result: GroupedQuant
    summary: LayerSummary
    buckets: NDArray[np.int64]  # every representable code ...
    counts: NDArray[np.int64]  # ... and how many weights hold it
    levels: NDArray[np.float64]  # every value any group can reconstruct, ascending
    kept_rmse: float | None  # with clipping: the RMSE of the weights that were not clipped

    @property
    def n_clipped(self) -> int:
        return int(self.result.clipped.sum())

    @property
    def zeros(self) -> int:
        """How many weights reconstruct to exactly 0."""
        return int(np.sum(self.result.w_hat == 0))


def layer_states(
    w: ArrayLike,
    scheme: Scheme = "symmetric",
    granularity: Granularity = "tensor",
    group_size: int | None = None,
    clip: ClipSpec = NO_CLIP,
) -> tuple[LayerState, ...]:
    """`quantize_grouped` and its summary at every bit width from 2 to 8: seven states."""
    w = np.asarray(w, dtype=np.float64)
    states = []
    for bits in BIT_WIDTHS:
        res = quantize_grouped(w, bits, scheme, granularity, group_size, clip)
        buckets, counts = bucket_counts(res.q, bits, scheme)
        kept_rmse = None
        if clip.method != "none":
            kept = ~res.clipped
            kept_rmse = error_stats(w[kept], res.w_hat[kept]).rmse
        states.append(
            LayerState(
                bits=bits,
                result=res,
                summary=summarize_layer(w, res, bits, scheme),
                buckets=buckets,
                counts=counts,
                levels=all_levels(res, bits, scheme),
                kept_rmse=kept_rmse,
            )
        )
    return tuple(states)


def scheme_sweep(w: ArrayLike, group_size: int, clip: ClipSpec = NO_CLIP) -> list[SchemeComparison]:
    """`compare_schemes` at every bit width from 2 to 8: the Pareto view's points."""
    return [row for bits in BIT_WIDTHS for row in compare_schemes(w, bits, group_size, clip)]


def pareto_front(rows: Sequence[SchemeComparison]) -> list[SchemeComparison]:
    """The rows no other row beats on both bits per weight and RMSE, cheapest first.

    A row is dominated when another costs no more bits per weight and has no larger RMSE,
    and is strictly better in one of the two.
    """
    ordered = sorted(rows, key=lambda r: (r.bits_per_weight, r.rmse))
    front: list[SchemeComparison] = []
    for row in ordered:
        if not front or row.rmse < front[-1].rmse:
            front.append(row)
    return front
