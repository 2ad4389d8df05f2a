"""Statistics of every tensor over all its weights, streamed in row chunks.

The Q6 file is the reference: it is the closer of the two to the original weights, so its
weights give the mean, spread and extremes, and `diff` is always Q4 - Q6. A chunk of rows is
dequantized from both files, reduced to a few sums, and dropped, so memory stays bounded by the
chunk size whatever the tensor's size. Tensors whose bytes are identical in both files (Q6_K in
both, norms in F32) are dequantized once and have a difference of exactly zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from quantviz.weights.gguf_file import can_dequantize, dequantize
from quantviz.weights.pair import ModelPair, PairedTensor

CHUNK_WEIGHTS = 1 << 21  # weights per chunk: 8 MB of float32 per file, in cache-friendly pieces

Progress = Callable[[int], None]  # called with the number of weights just processed


@dataclass(frozen=True)
class TensorStats:
    """One tensor over all its weights. `ref_*` are the Q6 file's weights, `diff` is Q4 - Q6."""

    name: str
    n: int
    ref_mean: float
    ref_rms: float
    ref_min: float
    ref_max: float
    absmax_row: int  # where the largest |w| of the Q6 file is (first one on a tie)
    absmax_col: int
    q4_rms: float
    diff_rms: float
    diff_maxabs: float
    same_bytes: bool  # both files store this tensor byte for byte alike

    @property
    def ref_std(self) -> float:
        return math.sqrt(max(self.ref_rms**2 - self.ref_mean**2, 0.0))

    @property
    def ref_absmax(self) -> float:
        return max(abs(self.ref_min), abs(self.ref_max))

    @property
    def relative_diff(self) -> float:
        """RMS(Q4 - Q6) / RMS(Q6): the difference in units of the tensor's own size."""
        return self.diff_rms / self.ref_rms if self.ref_rms > 0 else 0.0


class _Accumulator:
    """Running sums over chunks, in float64 across chunks."""

    def __init__(self) -> None:
        self.n = 0
        self.sum = 0.0
        self.sumsq = 0.0
        self.q4_sumsq = 0.0
        self.diff_sumsq = 0.0
        self.diff_maxabs = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.i_min = self.i_max = 0  # flat indices in the tensor
        self.same = True

    def add(self, start: int, a: NDArray[np.float32] | None, b: NDArray[np.float32]) -> None:
        """Add a chunk: `b` the Q6 weights (flat), `a` the Q4 weights or None if identical."""
        i_lo, i_hi = int(np.argmin(b)), int(np.argmax(b))
        if b[i_lo] < self.min:
            self.min, self.i_min = float(b[i_lo]), start + i_lo
        if b[i_hi] > self.max:
            self.max, self.i_max = float(b[i_hi]), start + i_hi
        self.sum += float(np.sum(b, dtype=np.float64))
        b_sq = float(np.dot(b, b))
        self.sumsq += b_sq
        self.n += b.size
        if a is None:
            self.q4_sumsq += b_sq
            return
        self.same = False
        self.q4_sumsq += float(np.dot(a, a))
        d = np.subtract(a, b, out=a)  # a is spent
        self.diff_sumsq += float(np.dot(d, d))
        self.diff_maxabs = max(self.diff_maxabs, float(d.max()), -float(d.min()))

    def result(self, tensor: PairedTensor) -> TensorStats:
        n = max(self.n, 1)
        i = self.i_max if abs(self.max) >= abs(self.min) else self.i_min
        if self.n == 0:
            i = 0
        return TensorStats(
            name=tensor.name,
            n=self.n,
            ref_mean=self.sum / n,
            ref_rms=math.sqrt(self.sumsq / n),
            ref_min=self.min if self.n else 0.0,
            ref_max=self.max if self.n else 0.0,
            absmax_row=i // tensor.row_length,
            absmax_col=i % tensor.row_length,
            q4_rms=math.sqrt(self.q4_sumsq / n),
            diff_rms=math.sqrt(self.diff_sumsq / n),
            diff_maxabs=self.diff_maxabs,
            same_bytes=self.same,
        )


def tensor_stats(
    pair: ModelPair,
    name: str,
    *,
    chunk_weights: int = CHUNK_WEIGHTS,
    progress: Progress | None = None,
) -> TensorStats:
    """Statistics of one tensor over all its weights, `chunk_weights` at a time."""
    tensor = pair.tensor(name)
    acc = _Accumulator()
    same_type = tensor.q4_type == tensor.q6_type
    with np.errstate(over="ignore", invalid="ignore"):
        for start, raw4, raw6 in pair.chunks(name, chunk_weights):
            b = dequantize(raw6, tensor.q6_type).reshape(-1)
            identical = same_type and np.array_equal(raw4, raw6)
            a = None if identical else dequantize(raw4, tensor.q4_type).reshape(-1)
            if a is not None and not a.flags.writeable:
                a = a.copy()  # an F32 tensor dequantizes to a view of the read-only map
            acc.add(start * tensor.row_length, a, b)
            if progress is not None:
                progress(b.size)
    return acc.result(tensor)


def statistics_tensors(tensors: Iterable[PairedTensor]) -> list[PairedTensor]:
    """The tensors statistics are computed for: those gguf can dequantize in both files."""
    return [t for t in tensors if can_dequantize(t.q4_type) and can_dequantize(t.q6_type)]


def model_stats(
    pair: ModelPair,
    *,
    chunk_weights: int = CHUNK_WEIGHTS,
    progress: Progress | None = None,
) -> dict[str, TensorStats]:
    """`tensor_stats` of every tensor gguf can read in both files, in file order."""
    return {
        t.name: tensor_stats(pair, t.name, chunk_weights=chunk_weights, progress=progress)
        for t in statistics_tensors(pair.tensors)
    }


def total_weights(pair: ModelPair) -> int:
    """Weights `model_stats` reads from each file: the progress bar's total."""
    return sum(t.n_weights for t in statistics_tensors(pair.tensors))
