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


BIT_WIDTHS: tuple[int, ...] = tuple(range(MIN_BITS, MAX_BITS + 1))


@dataclass(frozen=True)
class WeightState:
    """One weight at one bit width: what the single-weight explorer shows for that width."""

    bits: int
    scale: float
    q: int
    w_hat: float
    abs_error: float
    rel_error: float | None  # |w − ŵ| / |w|; None for w = 0
    levels: NDArray[np.float64]  # every value the width can reconstruct, ascending

    @property
    def n_levels(self) -> int:
        return 2 * qmax(self.bits) + 1


def weight_states(w: float, max_abs: float) -> tuple[WeightState, ...]:
    """The single-weight explorer at every bit width from 2 to 8: seven states, in order.

    The explorer's figure carries all seven, so moving its bits slider needs no server.
    """
    states = []
    for bits in BIT_WIDTHS:
        q, scale, w_hat = quantize_symmetric(w, bits, max_abs)
        err = abs(float(w) - float(w_hat))
        states.append(
            WeightState(
                bits=bits,
                scale=float(scale),
                q=int(q),
                w_hat=float(w_hat),
                abs_error=err,
                rel_error=err / abs(float(w)) if w else None,
                levels=levels(bits, float(scale)),
            )
        )
    return tuple(states)


def fewest_bits_within(states: tuple[WeightState, ...], tolerance: float) -> int | None:
    """The smallest bit width whose relative error is at most `tolerance` (None: none of them)."""
    within = (s.bits for s in states if s.abs_error == 0 or (s.rel_error or 0.0) <= tolerance)
    return next(within, None)
