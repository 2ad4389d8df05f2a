"""The seed lab's toy quantizer: one absmax scale, symmetric integer buckets.

    scale = max|w| / (2^(bits-1) - 1)
    q     = round(w / scale)
    w_hat = q * scale

Everything here is numpy in, numpy out, with no streamlit, so the explorers, the tests and the
benchmarks share one implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

MIN_BITS = 2
MAX_BITS = 8

Distribution = Literal["normal", "outlier"]


def _check_bits(bits: int) -> int:
    if isinstance(bits, bool) or int(bits) != bits or not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"bits must be an integer from {MIN_BITS} to {MAX_BITS}, got {bits!r}")
    return int(bits)


def qmax(bits: int) -> int:
    """Largest stored integer of the symmetric scheme: 2^(bits-1) - 1."""
    return 2 ** (_check_bits(bits) - 1) - 1


def quantize_symmetric(
    w: ArrayLike, bits: int, max_abs: float | None = None
) -> tuple[NDArray[np.int64], np.float64, NDArray[np.float64]]:
    """Quantize `w` with the seed's absmax formula.

    Returns `(q, scale, w_hat)`; `q` and `w_hat` have the shape of `w` (0-d for a scalar).
    `max_abs` is the layer's max|w| (defaults to max|w| of `w` itself). A layer of zeros has
    scale 0 and reconstructs to zeros, never NaN. Values beyond `max_abs` are clamped to the
    largest bucket.
    """
    top = qmax(bits)
    w = np.asarray(w, dtype=np.float64)
    m = np.float64(np.max(np.abs(w)) if max_abs is None else abs(float(max_abs)))
    scale = np.float64(m / top)
    codes = np.round(w / scale) if scale > 0 else np.zeros_like(w)
    q = np.clip(codes, -top, top).astype(np.int64)
    return q, scale, q * scale


def levels(bits: int, scale: float) -> NDArray[np.float64]:
    """Every value the symmetric scheme can reconstruct: -qmax*scale ... +qmax*scale."""
    top = qmax(bits)
    return np.arange(-top, top + 1, dtype=np.float64) * scale


@dataclass(frozen=True)
class LayerStats:
    """What quantizing a toy layer did, as the grid explorer reports it."""

    bits: int
    scale: float
    representable_levels: int
    used_levels: int
    rmse: float
    max_error: float
    storage_bits: int
    fp16_bits: int
    fp32_bits: int

    @property
    def ratio_vs_fp16(self) -> float:
        return self.fp16_bits / self.storage_bits

    @property
    def ratio_vs_fp32(self) -> float:
        return self.fp32_bits / self.storage_bits


def layer_stats(w: ArrayLike, bits: int, scale_bits: int = 16) -> LayerStats:
    """Quantize a layer and measure it. Storage counts the codes plus one fp16 scale."""
    w = np.asarray(w, dtype=np.float64)
    q, scale, w_hat = quantize_symmetric(w, bits)
    err = np.abs(w - w_hat)
    return LayerStats(
        bits=bits,
        scale=float(scale),
        representable_levels=2 * qmax(bits) + 1,
        used_levels=int(np.unique(q).size),
        rmse=float(np.sqrt(np.mean(err**2))) if err.size else 0.0,
        max_error=float(err.max()) if err.size else 0.0,
        storage_bits=w.size * bits + scale_bits,
        fp16_bits=w.size * 16,
        fp32_bits=w.size * 32,
    )


def bucket_counts(q: ArrayLike, bits: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """How many weights land in each bucket: `(buckets, counts)` over every representable q."""
    top = qmax(bits)
    buckets = np.arange(-top, top + 1)
    counts = np.bincount(np.asarray(q, dtype=np.int64).ravel() + top, minlength=buckets.size)
    return buckets, counts


def toy_layer(
    seed: int, distribution: Distribution = "normal", shape: tuple[int, int] = (4, 4)
) -> NDArray[np.float64]:
    """A seeded toy layer of N(0, 0.3) weights, optionally with one large outlier."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 0.3, size=shape)
    if distribution == "outlier":
        idx = np.unravel_index(rng.integers(w.size), shape)
        w[idx] = rng.choice([-1.0, 1.0]) * rng.uniform(4.0, 6.0)
    elif distribution != "normal":
        raise ValueError(f"unknown distribution {distribution!r}")
    return np.round(w, 6)
