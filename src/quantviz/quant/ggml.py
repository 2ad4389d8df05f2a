"""GGUF block formats, byte for byte as llama.cpp's reference quantizers write them on x86-64.

`quantize(x, qtype)` and `dequantize(data, qtype)` follow the calling convention of
`gguf.quants.quantize` / `gguf.quants.dequantize`: the last axis is a multiple of the block size,
blocks are laid out in row order, and `qtype` is a name such as ``"Q4_K"`` or a
`gguf.GGMLQuantizationType`.

`FORMATS` is the one description of the block types this app shows, one entry per type: its
fields in byte order, the formula that turns them into weights, its quantizer and the unpacker
that decodes one block. Adding a type is adding an entry. Sizes (block length, bytes per block)
come from gguf-py's `GGML_QUANT_SIZES`, for these types and every other one a tensor may have
(`type_sizes`, `tensor_bytes`, `bits_per_weight`, `bytes_per_element`).

gguf-py already does most of the work: that size table, every dequantizer, and the Q8_0 and
Q4_0 quantizers. What it lacks are the K-quant quantizers that
`llama-quantize` runs when no importance matrix is given (`quantize_row_q{4,5,6}_K_ref` in
`ggml/src/ggml-quants.c`). They are written here, vectorized across blocks, with the C code's
float32 semantics kept exactly:

* every product and sum is float32, with no fused multiply-add (numpy never fuses);
* sums over the values of a sub-block run in C's order (`_seq_sum`), never numpy's pairwise sum;
* `nearest_int` is C's magic-number trick: round half to even, and for out-of-range input
  the same bits C would produce (`_nearest_int`);
* divisions stay divisions and multiplications by an inverse stay multiplications;
* d and dmin are rounded to fp16 before the values are requantized against them;
* comparisons keep C's NaN semantics: once the weighted sums x^2 * x * l and x^2 * l^2 of
  make_qx_quants overflow float32 (|x| beyond about 7e12 and 6e17), a Q6_K sub-block scale can
  be inf * 0 or inf / inf = NaN, which C's `>` never picks as the largest.

What "byte-exact" means. The bytes are those of the C reference built without fused
multiply-add (FMA) contraction, which is what llama.cpp's default x86-64 build gives: the
`_ref` functions live in `ggml-base`, which gets no `-march` flags (only the CPU backend does),
and baseline x86-64 has no FMA instruction to contract to. A build for a target that has one
(`-march=native` or `haswell` applied to `ggml-base`, and every AArch64 build, Apple silicon
included) may turn `a*b + c` into one `fma(a, b, c)`: GCC does so even across statements in
its default GNU C modes (`-ffp-contract=fast`), Clang within one expression
(`-ffp-contract=on`). The fused result is rounded once instead of twice, so its last bit can
differ. The operations affected are the running sums of products in the scale searches
(`sum_x += w*x`, `sum_l2 += w*l*l`, `sumlx += w*x*l`, the weighted errors), the determinant
and numerators of the least-squares fit (`sum_w*sum_l2 - sum_l*sum_l`), the trial scales
(`rmin + rdelta*is + nmax`, `nmax + 0.1f*is`) and Q4_0's `x*id + 8.5f` before its truncation. A
last-bit change flips a scale search now and then: on 1 M weights of N(0, 0.02) a GCC 12
`-march=haswell` build of `ggml-quants.c` wrote other bytes than the plain x86-64 build for
5.9 % of Q4_K super-blocks, 29 % of Q5_K, 0.3 % of Q6_K and 1 of 32,768 Q4_0 blocks (how: see
`tests/data/README.md`). Q8_0 (`roundf(x*id)`, nothing added) is unaffected. A file quantized
on an ARM machine (an Apple silicon Mac, say) may therefore differ from this module's bytes.
Where C's behaviour is undefined (Q4_0 converts inf or NaN to int8 when 1/d overflows, for a
block whose largest |x| is below 2.4e-38), the bytes are x86-64's: code 0.

NaN and infinite weights are refused with `NonFiniteWeightError`, naming the first one. C
quantizes them without a word: a NaN slips past the comparisons that find the largest weight
and its block decodes to finite but wrong values; an inf mostly becomes an inf scale, which
`llama-quantize` only catches after quantizing ("quantized data validation failed").

The kernels work on position-major arrays: `x[i]` is value `i` of every sub-block at once, so a
loop over the 16 or 32 positions of a sub-block is vectorized across all blocks and rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf import quants as gguf_quants
from numpy.typing import ArrayLike, NDArray

QK_K = 256  # values per K-quant super-block
GROUP_MAX_EPS = np.float32(1e-15)  # below this a group counts as all zero (ggml-quants.c)
_MAGIC = np.float32(12582912.0)  # 1.5 * 2**23: adding it leaves round(v) in the low mantissa bits
_CHUNK_BLOCKS = 1024  # super-blocks per kernel call: keeps the temporaries in cache

QType = str | GGMLQuantizationType
Kernel = Callable[[NDArray[np.float32]], NDArray[np.uint8]]  # rows -> their blocks' bytes
Unpacker = Callable[[NDArray[np.uint8]], dict[str, Any]]  # one block's bytes -> its fields
# float32 arrays, as numpy computes them; its type stubs widen float32 arithmetic to float64
Floats = NDArray[np.floating[Any]]


class NonFiniteWeightError(ValueError):
    """A weight given to `quantize` is NaN, infinite, or beyond float32's range.

    llama.cpp's reference quantizers write a block anyway (finite but wrong values for a NaN,
    mostly an inf scale for an inf, which `llama-quantize` rejects only after quantizing).
    Here the input is refused before any block is written, naming the first bad weight.
    """

    def __init__(
        self,
        qtype: str,
        index: tuple[int, ...],
        value: float,
        block: int,
        block_values: int,
        count: int,
    ) -> None:
        self.qtype = qtype
        self.index = index  # of the first bad weight in the input, in row order
        self.value = value  # as given: nan, inf, -inf, or a finite value float32 cannot hold
        self.block = block  # block number of that weight, counting blocks in row order
        self.position = index[-1] % block_values if index else 0  # its place in the block
        self.count = count  # bad weights in the whole input
        if np.isnan(value):
            what = "NaN"
        elif np.isinf(value):
            what = "+inf" if value > 0 else "-inf"
        else:
            what = f"{value:.6g}, beyond float32's range of ±3.4e38"
        where = str(index[0]) if len(index) == 1 else str(index)
        more = f"; {count} weights in all are not finite" if count > 1 else ""
        super().__init__(
            f"{qtype} needs finite weights, but weight {where} is {what} (block {block}, "
            f"weight {self.position} of its {block_values}){more}"
        )


def _type_name(qtype: str | GGMLQuantizationType) -> str:
    name = qtype.name if isinstance(qtype, GGMLQuantizationType) else str(qtype).upper()
    if name not in GGMLQuantizationType.__members__:
        raise ValueError(f"unknown GGML type {qtype!r}")
    return name


def type_sizes(qtype: QType) -> tuple[int, int]:
    """(weights per block, bytes per block) of any GGML type gguf knows (F32: (1, 4)).

    ValueError for a type gguf does not know.
    """
    return GGML_QUANT_SIZES[GGMLQuantizationType[_type_name(qtype)]]


def tensor_bytes(qtype: QType, n_weights: int) -> int:
    """Bytes `n_weights` weights take in a tensor of this type: whole blocks of block_bytes."""
    block_values, block_bytes = type_sizes(qtype)
    return n_weights // block_values * block_bytes


def bits_per_weight(qtype: QType) -> float:
    """Bits per weight of any GGML type in gguf's table (F32 32, Q8_0 8.5, Q4_K 4.5, ...)."""
    block_values, block_bytes = type_sizes(qtype)
    return block_bytes * 8 / block_values


def bytes_per_element(qtype: QType) -> Fraction:
    """Exact bytes per value of any GGML type (f16: 2, q8_0: 34/32), as a KV cache stores them."""
    block_values, block_bytes = type_sizes(qtype)
    return Fraction(block_bytes, block_values)


# ---------------------------------------------------------------------------------------------
# float32 helpers with C semantics


def _seq_sum(a: NDArray[np.float32]) -> NDArray[np.float32]:
    """a[0] + a[1] + ... in that order, as C's `for` loop adds: (n, m) -> (m,)."""
    s = a[0].copy()
    for row in a[1:]:
        s += row
    return s


def _nearest_int(v: Floats, out: NDArray[np.float32] | None = None) -> NDArray[np.int32]:
    """ggml's nearest_int: the low mantissa bits of v + 1.5*2^23, as int32.

    That is round half to even for |v| < 2^22 (C asserts |v| <= 4194303) and, beyond, the same
    bits a release build of C produces. `out` (float32, v's shape) is reused for the result.
    """
    t = np.add(v, _MAGIC, out=out).view(np.int32)
    t &= 0x7FFFFF
    t -= 0x400000
    return t


def _fp16(v: NDArray[np.float32]) -> NDArray[np.float16]:
    """GGML_FP32_TO_FP16: round to nearest even, subnormals kept, overflow to inf."""
    return v.astype(np.float16)


def _div_where(
    num: np.float32 | NDArray[np.float32], den: NDArray[np.float32], ok: NDArray[np.bool_]
) -> NDArray[np.float32]:
    """num / den where `ok`, else 0 (C's `ok ? num/den : 0`), with no division by zero."""
    return np.where(ok, num / np.where(ok, den, np.float32(1)), np.float32(0))


# ---------------------------------------------------------------------------------------------
# K-quant kernels (position-major: axis 0 is the position inside a sub-block)


def _make_qkx2_quants(
    x: NDArray[np.float32],
    w: NDArray[np.float32],
    nmax: int,
    rmin: float,
    rdelta: float,
    nstep: int,
) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.float32]]:
    """Scale and min of each sub-block by a weighted least-squares search (make_qkx2_quants).

    x, w: (n, m) for m sub-blocks of n values. Returns the codes L (n, m) in 0..nmax, the
    scale (m,) and the min to subtract (m,), >= 0, so that x ~= scale * L - min.
    """
    f32 = np.float32
    mn = np.minimum(x.min(axis=0), f32(0))  # (m,) the min is never above zero
    mx = x.max(axis=0)  # (m,)
    flat = mx == mn  # nothing to fit: codes 0, scale 0
    sum_w = _seq_sum(w)
    sum_x = _seq_sum(w * x)
    q = np.empty_like(x)  # (n, m) codes of the current try, as float (C: Laux)
    err = np.empty_like(x)

    def codes(iscale: Floats, mn: Floats) -> NDArray[np.int32]:
        v = np.subtract(x, mn, out=err)
        v *= iscale
        q = _nearest_int(v, out=v)
        return np.clip(q, 0, nmax, out=q)

    def error(scale: NDArray[np.float32], mn: NDArray[np.float32]) -> NDArray[np.float32]:
        diff = np.multiply(scale, q, out=err)  # C: scale*L + min - x, squared, times w
        diff += mn
        diff -= x
        diff *= diff
        diff *= w
        return _seq_sum(diff)

    iscale: Floats = _div_where(f32(nmax), mx - mn, ~flat)
    scale = _div_where(f32(1), iscale, ~flat)
    best_iscale, best_mn = iscale, mn  # the codes are recomputed from these at the end
    q[:] = codes(iscale, mn)
    best = error(scale, mn)
    for step in range(nstep + 1):
        rng = np.where(flat, f32(1), mx - mn)  # mn follows the best fit so far
        iscale = (f32(rmin) + f32(rdelta) * f32(step) + f32(nmax)) / rng
        q[:] = codes(iscale, mn)
        wl = w * q
        sum_l = _seq_sum(wl)
        sum_xl = _seq_sum(wl * x)
        sum_l2 = _seq_sum(np.multiply(wl, q, out=wl))
        D = sum_w * sum_l2 - sum_l * sum_l
        ok = D > 0
        this_scale = _div_where(sum_w * sum_xl - sum_x * sum_l, D, ok)
        this_min = _div_where(sum_l2 * sum_x - sum_l * sum_xl, D, ok)
        clamp = this_min > 0  # a positive min is dropped and the scale refitted without it
        this_min = np.where(clamp, f32(0), this_min)
        this_scale = np.where(clamp, _div_where(sum_xl, sum_l2, clamp), this_scale)
        cur = error(this_scale, this_min)
        better = ok & (cur < best) & ~flat  # (m,)
        best_iscale = np.where(better, iscale, best_iscale)
        best_mn = np.where(better, mn, best_mn)
        best = np.where(better, cur, best)
        scale = np.where(better, this_scale, scale)
        mn = np.where(better, this_min, mn)

    L = np.where(flat, 0, codes(best_iscale, best_mn))
    return L, np.where(flat, f32(0), scale), -mn


def _pack_scale_min_k4(ls: NDArray[np.uint8], lm: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Eight 6-bit scales and eight 6-bit mins into 12 bytes: (n_blocks, 8) x2 -> (n_blocks, 12).

    Bytes 0-3 hold scales 0-3, bytes 4-7 mins 0-3, each with the top two bits of scale/min 4-7
    in bits 6-7; bytes 8-11 hold the low nibbles of scales 4-7 and, above them, of mins 4-7.
    """
    lo = ls[:, :4] | ((ls[:, 4:] >> 4) << 6)
    mid = lm[:, :4] | ((lm[:, 4:] >> 4) << 6)
    hi = (ls[:, 4:] & 0xF) | ((lm[:, 4:] & 0xF) << 4)
    return np.concatenate([lo, mid, hi], axis=1)


def _unpack_scale_min_k4(scales: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """get_scale_min_k4 for all eight sub-blocks: (n_blocks, 12) -> (n_blocks, 8) x2."""
    lo, mid, hi = scales[:, :4], scales[:, 4:8], scales[:, 8:]
    sc = np.concatenate([lo & 63, (hi & 0xF) | ((lo >> 6) << 4)], axis=1)
    m = np.concatenate([mid & 63, (hi >> 4) | ((mid >> 6) << 4)], axis=1)
    return sc, m


def _quantize_qkx(
    blocks: NDArray[np.float32], nmax: int, rmin: float, rdelta: float, nstep: int
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]]:
    """What Q4_K and Q5_K share: codes (n_blocks, 256) in 0..nmax and d, dmin, packed scales."""
    f32 = np.float32
    n_blocks = blocks.shape[0]
    x = np.ascontiguousarray(blocks.reshape(n_blocks * 8, 32).T)  # (32, n_blocks * 8)

    av_x = np.sqrt(_seq_sum(x * x) / f32(32))  # (n_blocks * 8,)
    w = av_x + np.abs(x)  # (32, n_blocks * 8)
    L, scales, mins = _make_qkx2_quants(x, w, nmax, rmin, rdelta, nstep)
    scales = scales.reshape(n_blocks, 8)
    mins = mins.reshape(n_blocks, 8)

    max_scale = np.where(scales > 0, scales, f32(0)).max(axis=1, keepdims=True)  # (n_blocks, 1)
    max_min = np.where(mins > 0, mins, f32(0)).max(axis=1, keepdims=True)
    inv_scale = _div_where(f32(63), max_scale, max_scale > 0)
    inv_min = _div_where(f32(63), max_min, max_min > 0)
    # uint8_t ls = nearest_int(...): the int wraps to a byte before MIN(63, ls)
    ls = np.minimum(_nearest_int(inv_scale * scales).astype(np.uint8), 63)  # (n_blocks, 8)
    lm = np.minimum(_nearest_int(inv_min * mins).astype(np.uint8), 63)
    d = _fp16(max_scale / f32(63))  # (n_blocks, 1)
    dmin = _fp16(max_min / f32(63))

    # requantize against the stored fp16 d * sc and dmin * m; where d * sc == 0 the codes of
    # make_qkx2_quants stay, as in C's `if (!d) continue;`
    sub_d = d.astype(f32) * ls.astype(f32)  # (n_blocks, 8)
    sub_m = dmin.astype(f32) * lm.astype(f32)
    sub_d = sub_d.reshape(1, -1)  # (1, n_blocks * 8), matching x
    sub_m = sub_m.reshape(1, -1)
    has_d = sub_d != 0
    q = _nearest_int((x + sub_m) / np.where(has_d, sub_d, f32(1)))
    codes = np.where(has_d, np.clip(q, 0, nmax), L).astype(np.uint8)  # (32, n_blocks * 8)

    codes = codes.T.reshape(n_blocks, QK_K)
    return codes, d.view(np.uint8), dmin.view(np.uint8), _pack_scale_min_k4(ls, lm)


def _quantize_q4_k(blocks: NDArray[np.float32]) -> NDArray[np.uint8]:
    """quantize_row_q4_K_ref: d, dmin, 8 x (6-bit scale, 6-bit min), 256 4-bit codes."""
    n_blocks = blocks.shape[0]
    L, d, dmin, scales = _quantize_qkx(blocks, 15, -1.0, 0.1, 20)
    L = L.reshape(n_blocks, 4, 2, 32)
    qs = (L[:, :, 0] | (L[:, :, 1] << 4)).reshape(n_blocks, 128)  # values j and j+32 per byte
    return np.concatenate([d, dmin, scales, qs], axis=1)


def _quantize_q5_k(blocks: NDArray[np.float32]) -> NDArray[np.uint8]:
    """quantize_row_q5_K_ref: like Q4_K, with codes 0..31 and their 5th bits in qh."""
    n_blocks = blocks.shape[0]
    L, d, dmin, scales = _quantize_qkx(blocks, 31, -0.5, 0.1, 15)
    L = L.reshape(n_blocks, 4, 2, 32)
    low = L & 0xF
    qs = (low[:, :, 0] | (low[:, :, 1] << 4)).reshape(n_blocks, 128)
    shift = np.arange(8, dtype=np.uint8).reshape(1, 4, 2, 1)  # bit 2k (+1 for the upper half)
    qh = ((L >> 4) << shift).sum(axis=(1, 2), dtype=np.uint8)  # (n_blocks, 32)
    return np.concatenate([d, dmin, scales, qh, qs], axis=1)


def _make_qx_quants(x: NDArray[np.float32], nmax: int) -> tuple[NDArray[np.int8], NDArray]:
    """Signed scale of each sub-block, weighted by x^2 (make_qx_quants, rmse_type 1, no qw).

    x: (n, m). Returns the codes L (n, m) in 0..2*nmax-1 (code - nmax is the signed level) and
    the scale (m,). An all-zero sub-block gets codes 0 and scale 0.
    """
    f32 = np.float32
    ax = np.abs(x)
    imax = ax.argmax(axis=0)  # first largest |x|, as C's strict `>`
    cols = np.arange(x.shape[1])
    amax = ax[imax, cols]  # (m,)
    zero = ~(amax >= GROUP_MAX_EPS)
    top = np.where(zero, f32(1), x[imax, cols])  # signed value of largest magnitude

    w = x * x
    wx = w * x  # C: w*x[i]*l == (w*x[i])*l
    q = np.empty_like(x)  # (n, m) levels of the current try, as float (C: l)

    def levels(iscale: Floats) -> NDArray[np.float32]:
        # here |iscale * x| <= nmax + 1, where nearest_int is rint
        np.multiply(iscale, x, out=q)
        np.rint(q, out=q)
        return np.clip(q, f32(-nmax), f32(nmax - 1), out=q)

    def sums(q: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        wl = w * q
        suml2 = _seq_sum(np.multiply(wl, q, out=wl))  # C: w*l*l == (w*l)*l
        return _seq_sum(np.multiply(wx, q, out=q)), suml2  # (w*x)*l; q is spent

    best_iscale = f32(-nmax) / top  # (m,) the codes are recomputed from it at the end
    sumlx, suml2 = sums(levels(best_iscale))
    scale = _div_where(sumlx, suml2, suml2 != 0)
    best = scale * sumlx
    for step in (*range(-9, 0), *range(1, 10)):
        iscale = -(f32(nmax) + f32(0.1) * f32(step)) / top
        sumlx, suml2 = sums(levels(iscale))
        better = (suml2 > 0) & (sumlx * sumlx > best * suml2)  # (m,)
        best_iscale = np.where(better, iscale, best_iscale)
        scale = np.where(better, _div_where(sumlx, suml2, better), scale)
        best = np.where(better, scale * sumlx, best)

    L = np.where(zero, f32(0), levels(best_iscale) + f32(nmax)).astype(np.int8)
    return L, np.where(zero, f32(0), scale)


def _quantize_q6_k(blocks: NDArray[np.float32]) -> NDArray[np.uint8]:
    """quantize_row_q6_K_ref: 16 int8 scales, one fp16 d, 256 6-bit codes (ql + qh)."""
    f32 = np.float32
    n_blocks = blocks.shape[0]
    x = np.ascontiguousarray(blocks.reshape(n_blocks * 16, 16).T)  # (16, n_blocks * 16)
    L, scales = _make_qx_quants(x, 32)
    scales = scales.reshape(n_blocks, 16)

    # C keeps the first |scale| strictly above the largest so far, starting from 0, so a NaN
    # scale (make_qx_quants' sums overflowed: inf * 0 or inf / inf) is never picked; numpy's
    # argmax would pick the first NaN. Ranking NaN as 0 keeps C's choice.
    abs_scales = np.abs(scales)
    abs_scales[np.isnan(abs_scales)] = f32(0)
    ibig = abs_scales.argmax(axis=1)[:, None]  # first largest |scale|
    max_abs = np.take_along_axis(abs_scales, ibig, axis=1)  # (n_blocks, 1)
    live = max_abs >= GROUP_MAX_EPS  # a dead block is stored as 210 zero bytes
    max_scale = np.where(live, np.take_along_axis(scales, ibig, axis=1), f32(0))  # signed
    iscale = _div_where(f32(-128), max_scale, live)
    d = _fp16(_div_where(f32(1), iscale, live))  # (n_blocks, 1)
    sc = np.minimum(_nearest_int(iscale * scales), 127).astype(np.int8)  # (n_blocks, 16)

    sub_d = (d.astype(f32) * sc.astype(f32)).reshape(1, -1)  # (1, n_blocks * 16)
    has_d = sub_d != 0
    q = _nearest_int(x / np.where(has_d, sub_d, f32(1)))
    L = np.where(has_d, np.clip(q, -32, 31) + 32, L).astype(np.uint8)  # (16, n_blocks * 16)

    L = L.T.reshape(n_blocks, 2, 4, 32)  # (half, quarter, position)
    ql = (L[:, :, :2] & 0xF) | ((L[:, :, 2:] & 0xF) << 4)  # quarters 0,1 low, 2,3 high nibble
    shift = np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)
    qh = ((L >> 4) << shift).sum(axis=2, dtype=np.uint8)  # (n_blocks, 2, 32)
    out = np.concatenate(
        [ql.reshape(n_blocks, 128), qh.reshape(n_blocks, 64), sc.view(np.uint8), d.view(np.uint8)],
        axis=1,
    )
    return np.where(live, out, np.uint8(0))


def _by_blocks(kernel: Callable[[NDArray[np.float32]], NDArray[np.uint8]], name: str) -> Kernel:
    """A super-block kernel applied to rows, a chunk of blocks at a time."""
    block_bytes = type_sizes(name)[1]

    def quantize_rows(rows: NDArray[np.float32]) -> NDArray[np.uint8]:
        blocks = rows.reshape(-1, QK_K)  # (n_blocks, 256)
        out = np.empty((blocks.shape[0], block_bytes), dtype=np.uint8)
        for start in range(0, blocks.shape[0], _CHUNK_BLOCKS):
            out[start : start + _CHUNK_BLOCKS] = kernel(blocks[start : start + _CHUNK_BLOCKS])
        return out

    return quantize_rows


def _gguf_kernel(name: str) -> Kernel:
    """gguf-py's own quantizer, row by row (it works through rows, 16 at a time)."""
    qtype = GGMLQuantizationType[name]

    def quantize_rows(rows: NDArray[np.float32]) -> NDArray[np.uint8]:
        if name == "Q4_0":
            # C starts from max = +0.0, so an all-zero block stores d = +0.0 / -8 = -0.0;
            # gguf-py takes the first value as max. Adding +0.0 turns -0.0 into +0.0.
            rows = rows + np.float32(0)
        return gguf_quants.quantize(rows, qtype)

    return quantize_rows


# ---------------------------------------------------------------------------------------------
# what one block stores


@dataclass(frozen=True)
class BlockFields:
    """The fields of one stored block, decoded.

    A weight is `d * scales[s] * (q - zero_point) - dmin * mins[s]` with `s = i // sub_block`
    (for Q4_0 and Q8_0 read `scales` as [1] and `mins` as [0]).
    """

    qtype: str
    d: float  # block (Q4_0, Q8_0) or super-block scale, as stored in fp16
    dmin: float  # super-block scale of the mins (Q4_K, Q5_K); 0.0 for the others
    scales: NDArray[np.int16]  # sub-block scales: 6-bit (Q4_K/Q5_K, 8), int8 (Q6_K, 16); else []
    mins: NDArray[np.int16]  # 6-bit sub-block mins (Q4_K/Q5_K, 8); else []
    q: NDArray[np.int16]  # stored integer code of every weight, in weight order
    zero_point: int  # subtracted from q: 8 (Q4_0), 32 (Q6_K), 0 otherwise (Q8_0 is signed)
    sub_block: int  # weights per sub-block scale
    values: NDArray[np.float32]  # the dequantized weights

    @property
    def sub_scales(self) -> NDArray[np.float32]:
        """The float scale of each sub-block: d * scales (just [d] for Q4_0/Q8_0)."""
        sc = self.scales if self.scales.size else np.ones(1, np.int16)
        return np.float32(self.d) * sc.astype(np.float32)

    @property
    def sub_mins(self) -> NDArray[np.float32]:
        """The float min of each sub-block: dmin * mins (zeros where there are no mins)."""
        if not self.mins.size:
            return np.zeros(self.sub_scales.size, np.float32)
        return np.float32(self.dmin) * self.mins.astype(np.float32)


def _half(b: NDArray[np.uint8]) -> float:
    return float(b.view(np.float16)[0])


def _nibbles_k(qs: NDArray[np.uint8]) -> NDArray[np.int16]:
    """Q4_K/Q5_K qs (128,) -> 256 low 4-bit codes: byte j of chunk k holds 64k+j and 64k+32+j."""
    q = qs.reshape(4, 32)
    return np.stack([q & 0xF, q >> 4], axis=1).reshape(QK_K).astype(np.int16)


def _unpack_d_qs(b: NDArray[np.uint8], signed: bool) -> dict[str, Any]:
    """Q4_0 / Q8_0: one fp16 d, then 32 codes (4-bit j / j+16 per byte, or int8)."""
    qs = b[2:]
    q = qs.view(np.int8) if signed else np.concatenate([qs & 0xF, qs >> 4])
    return {"d": _half(b[:2]), "q": q.astype(np.int16)}


def _unpack_q4_k(b: NDArray[np.uint8]) -> dict[str, Any]:
    sc, m = _unpack_scale_min_k4(b[None, 4:16])  # (1, 8) each
    return {"d": _half(b[:2]), "dmin": _half(b[2:4]), "scales": sc[0], "mins": m[0],
            "q": _nibbles_k(b[16:144])}  # fmt: skip


def _unpack_q5_k(b: NDArray[np.uint8]) -> dict[str, Any]:
    sc, m = _unpack_scale_min_k4(b[None, 4:16])
    bits = (b[16:48][None, :] >> np.arange(8, dtype=np.uint8)[:, None]) & 1  # (8, 32)
    q = _nibbles_k(b[48:176]) + 16 * bits.reshape(QK_K).astype(np.int16)
    return {"d": _half(b[:2]), "dmin": _half(b[2:4]), "scales": sc[0], "mins": m[0], "q": q}


def _unpack_q6_k(b: NDArray[np.uint8]) -> dict[str, Any]:
    # Per half of 128, ql byte j holds codes j (low) and j+64 (high), byte 32+j codes j+32 and
    # j+96; qh byte j holds the top two bits of j, j+32, j+64, j+96.
    ql = b[:128].reshape(2, 2, 32)  # (half, byte group, j)
    qh = b[128:192].reshape(2, 1, 32)
    low = np.stack([ql[:, 0] & 0xF, ql[:, 1] & 0xF, ql[:, 0] >> 4, ql[:, 1] >> 4], axis=1)
    high = (qh >> np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 4, 1)) & 3  # (2, 4, 32)
    return {"d": _half(b[208:210]), "scales": b[192:208].view(np.int8),
            "q": (low | (high << 4)).reshape(QK_K).astype(np.int16)}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# the table: one entry per block type


@dataclass(frozen=True)
class Field:
    """One field of a block, in byte order: its name in ggml's C struct, bytes, and encoding."""

    name: str  # d, dmin, scales, qh, qs, ql
    n_bytes: int
    encoding: str  # fp16, 6-bit, int8, 4-bit, ...

    def __str__(self) -> str:
        return f"{self.name} {self.encoding} ({self.n_bytes})"


@dataclass(frozen=True)
class GGMLFormat:
    """One quantized block type: its fields, its formula, how to write and read a block."""

    name: str
    sub_block: int  # weights that share one scale (the whole block for Q4_0 and Q8_0)
    fields: tuple[Field, ...]  # in byte order
    formula: str  # w = ... from the fields, i the weight's place in the block
    zero_point: int  # subtracted from a stored code before scaling (Q8_0 codes are signed)
    kernel: Kernel = field(repr=False, compare=False)
    unpack: Unpacker = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if sum(f.n_bytes for f in self.fields) != self.block_bytes:
            raise ValueError(f"the fields of {self.name} do not add up to its block size")

    @property
    def qtype(self) -> GGMLQuantizationType:
        return GGMLQuantizationType[self.name]

    @property
    def block_values(self) -> int:
        return type_sizes(self.name)[0]

    @property
    def block_bytes(self) -> int:
        return type_sizes(self.name)[1]

    @property
    def bits_per_weight(self) -> float:
        """Storage per weight with the scales included: block_bytes * 8 / block_values."""
        return self.block_bytes * 8 / self.block_values

    @property
    def layout(self) -> str:
        """The fields of one block, in byte order: 'd fp16 (2) · qs 4-bit (16)'."""
        return " · ".join(str(f) for f in self.fields)


def _fields(*spec: tuple[str, str, int]) -> tuple[Field, ...]:
    return tuple(Field(name, n, encoding) for name, encoding, n in spec)


_D = ("d", "fp16", 2)
_DMIN = ("dmin", "fp16", 2)
_K_SCALES = ("scales", "6-bit", 12)  # eight 6-bit scales and eight 6-bit mins, packed
_K_FORMULA = "ŵ = d · sc[s] · q − dmin · m[s], s = i // 32"

# The types this module quantizes, in order of bits per weight.
FORMATS: dict[str, GGMLFormat] = {
    f.name: f
    for f in (
        GGMLFormat(
            name="Q4_0",
            sub_block=32,
            fields=_fields(_D, ("qs", "4-bit", 16)),
            formula="ŵ = d · (q − 8), one d per block of 32",
            zero_point=8,
            kernel=_gguf_kernel("Q4_0"),
            unpack=lambda b: _unpack_d_qs(b, signed=False),
        ),
        GGMLFormat(
            name="Q4_K",
            sub_block=32,
            fields=_fields(_D, _DMIN, _K_SCALES, ("qs", "4-bit", 128)),
            formula=_K_FORMULA,
            zero_point=0,
            kernel=_by_blocks(_quantize_q4_k, "Q4_K"),
            unpack=_unpack_q4_k,
        ),
        GGMLFormat(
            name="Q5_K",
            sub_block=32,
            fields=_fields(_D, _DMIN, _K_SCALES, ("qh", "1-bit", 32), ("qs", "4-bit", 128)),
            formula=_K_FORMULA + " (q has 5 bits: 4 in qs, 1 in qh)",
            zero_point=0,
            kernel=_by_blocks(_quantize_q5_k, "Q5_K"),
            unpack=_unpack_q5_k,
        ),
        GGMLFormat(
            name="Q6_K",
            sub_block=16,
            fields=_fields(("ql", "4-bit", 128), ("qh", "2-bit", 64), ("scales", "int8", 16), _D),
            formula="ŵ = d · sc[s] · (q − 32), s = i // 16 (q has 6 bits: 4 in ql, 2 in qh)",
            zero_point=32,
            kernel=_by_blocks(_quantize_q6_k, "Q6_K"),
            unpack=_unpack_q6_k,
        ),
        GGMLFormat(
            name="Q8_0",
            sub_block=32,
            fields=_fields(_D, ("qs", "int8", 32)),
            formula="ŵ = d · q, one d per block of 32 (q is signed)",
            zero_point=0,
            kernel=_gguf_kernel("Q8_0"),
            unpack=lambda b: _unpack_d_qs(b, signed=True),
        ),
    )
}


def get_format(qtype: QType) -> GGMLFormat:
    """The format of `qtype`; ValueError for an unknown type or one this module cannot quantize."""
    name = _type_name(qtype)
    if name not in FORMATS:
        raise ValueError(f"{name} is not supported here; supported: {', '.join(FORMATS)}")
    return FORMATS[name]


# ---------------------------------------------------------------------------------------------
# public API


def quantize(x: ArrayLike, qtype: QType) -> NDArray[np.uint8]:
    """Quantize float weights to GGUF blocks, byte-identical to llama.cpp's reference.

    `x` has any leading shape; its last axis must be a multiple of the block size (32 for
    Q4_0/Q8_0, 256 for K-quants). The result has the same leading shape and, on the last axis,
    `x.shape[-1] / block_values * block_bytes` bytes. Raises NonFiniteWeightError (a
    ValueError) for a NaN or infinite weight, ValueError for a bad last axis or an unknown or
    unsupported type.
    """
    fmt = get_format(qtype)
    given = x
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: named below
        x = np.asarray(x, dtype=np.float32)
    if x.ndim == 0 or x.shape[-1] % fmt.block_values:
        raise ValueError(
            f"{fmt.name} needs a last axis that is a multiple of {fmt.block_values}, "
            f"got shape {x.shape}"
        )
    _require_finite(x, given, fmt)
    out_shape = (*x.shape[:-1], x.shape[-1] // fmt.block_values * fmt.block_bytes)
    if x.size == 0:
        return np.zeros(out_shape, np.uint8)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
        out = fmt.kernel(x.reshape(-1, x.shape[-1]))
    return out.reshape(out_shape)


def _require_finite(x: NDArray[np.float32], given: ArrayLike, fmt: GGMLFormat) -> None:
    """Raise NonFiniteWeightError for the first NaN or inf in `x` (the float32 of `given`)."""
    finite = np.isfinite(x)
    if finite.all():
        return
    bad = ~finite
    first = np.unravel_index(int(np.argmax(bad)), x.shape)
    index = tuple(int(i) for i in first)
    value = float(np.asarray(given)[index])  # as given, before the cast to float32
    block = int(np.ravel_multi_index(index, x.shape)) // fmt.block_values
    raise NonFiniteWeightError(
        fmt.name, index, value, block, fmt.block_values, int(np.count_nonzero(bad))
    )


def dequantize(data: ArrayLike | bytes, qtype: str | GGMLQuantizationType) -> NDArray[np.float32]:
    """Float32 weights from GGUF blocks (gguf-py's dequantizers, equal to llama.cpp's).

    `data` is uint8 (or bytes) with a last axis that is a multiple of the block's byte size; the
    result has the same leading shape. Raises ValueError for other data or an unknown type.
    """
    fmt = get_format(qtype)
    data = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else np.asarray(data)
    if data.dtype != np.uint8:
        raise ValueError(f"quantized data must be uint8, got {data.dtype}")
    if data.ndim == 0 or data.shape[-1] % fmt.block_bytes:
        raise ValueError(
            f"{fmt.name} data needs a last axis that is a multiple of {fmt.block_bytes} bytes, "
            f"got shape {data.shape}"
        )
    out_shape = (*data.shape[:-1], data.shape[-1] // fmt.block_bytes * fmt.block_values)
    if data.size == 0:
        return np.zeros(out_shape, np.float32)
    # a scale that overflowed fp16 decodes to inf or NaN, as in C: no warning for it
    with np.errstate(over="ignore", invalid="ignore"):
        return gguf_quants.dequantize(data, fmt.qtype)


def unpack_block(data: ArrayLike | bytes, qtype: QType, index: int = 0) -> BlockFields:
    """Decode block number `index` (in row order) of quantized `data` into its fields."""
    fmt = get_format(qtype)
    raw = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else np.asarray(data)
    if raw.dtype != np.uint8 or raw.size % fmt.block_bytes:
        raise ValueError(f"{fmt.name} data must be uint8 whole blocks of {fmt.block_bytes} bytes")
    b = raw.reshape(-1, fmt.block_bytes)[index]  # (block_bytes,)
    fields = fmt.unpack(b)
    none = np.zeros(0, np.int16)
    return BlockFields(
        qtype=fmt.name,
        d=fields["d"],
        dmin=fields.get("dmin", 0.0),
        scales=np.asarray(fields.get("scales", none)).astype(np.int16),
        mins=np.asarray(fields.get("mins", none)).astype(np.int16),
        q=fields["q"],
        zero_point=fmt.zero_point,
        sub_block=fmt.sub_block,
        values=dequantize(b, fmt.name),
    )
