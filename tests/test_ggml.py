"""GGUF block formats: byte-exact against llama.cpp's non-FMA reference, decoded like gguf-py."""

import platform
import warnings
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType

from quantviz.quant import ggml

GOLDEN = Path(__file__).parent / "data" / "ggml_quant_vectors.npz"
TYPES = ["Q4_0", "Q8_0", "Q4_K", "Q5_K", "Q6_K"]
CASES = [
    "normal",
    "heavy_tailed",
    "zero_blocks",
    "constant",
    "tiny",
    "mixed_range",
    "shifted",
    "ties",
    "llm_rows",
]


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as z:
        return {key: z[key] for key in z.files}


def bits(a):
    """Float32 values as their bit patterns, so -0.0 and NaN compare exactly."""
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def test_golden_file_matches_format_table(golden):
    """The golden file covers the five types and nine cases with gguf's block sizes."""
    assert list(golden["types"]) == TYPES
    assert list(golden["cases"]) == CASES
    for name, values, size in zip(
        TYPES, golden["block_values"], golden["block_bytes"], strict=True
    ):
        assert (ggml.FORMATS[name].block_values, ggml.FORMATS[name].block_bytes) == (values, size)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("qtype", TYPES)
def test_quantize_is_byte_identical_to_llama_cpp(golden, qtype, case):
    """quantize() writes every block exactly as llama.cpp's quantize_row_*_ref does."""
    fmt = ggml.FORMATS[qtype]
    want = golden[f"q_{qtype}_{case}"]
    got = ggml.quantize(golden[f"x_{case}"], qtype)
    assert got.dtype == np.uint8
    assert got.shape == want.shape
    bad = np.flatnonzero(
        (got.reshape(-1, fmt.block_bytes) != want.reshape(-1, fmt.block_bytes)).any(1)
    )
    assert bad.size == 0, f"{bad.size} blocks differ, first at block {bad[:5].tolist()}"


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("qtype", TYPES)
def test_dequantize_matches_llama_cpp(golden, qtype, case):
    """dequantize() of the golden bytes gives llama.cpp's dequantize_row_* values bit for bit."""
    got = ggml.dequantize(golden[f"q_{qtype}_{case}"], qtype)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(bits(got), bits(golden[f"deq_{qtype}_{case}"]))


# dequantize_row_q*_* of ggml-quants.c, written out here block by block (a test-side oracle:
# the module under test hands dequantizing to gguf-py, so gguf-py cannot be the reference).


def _f16(b: np.ndarray) -> np.float32:
    return np.float32(b.view(np.float16)[0])


def _scale_min_k4(j: int, q: np.ndarray) -> tuple[int, int]:
    """get_scale_min_k4 of ggml-quants.c."""
    if j < 4:
        return int(q[j] & 63), int(q[j + 4] & 63)
    return int((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4)), int((q[j + 4] >> 4) | ((q[j] >> 6) << 4))


def _c_block(qtype: str, b: np.ndarray) -> list[np.float32]:
    f32 = np.float32
    y: list[np.float32] = []
    if qtype == "Q8_0":
        d = _f16(b[:2])
        return [d * f32(q) for q in b[2:].view(np.int8)]
    if qtype == "Q4_0":
        d, qs = _f16(b[:2]), b[2:]
        return [d * f32(int(q & 0xF) - 8) for q in qs] + [d * f32(int(q >> 4) - 8) for q in qs]
    if qtype in ("Q4_K", "Q5_K"):
        d, dmin, scales = _f16(b[:2]), _f16(b[2:4]), b[4:16]
        qh = b[16:48] if qtype == "Q5_K" else None
        ql = b[48:176] if qtype == "Q5_K" else b[16:144]
        for j in range(4):  # 64 values: 32 low nibbles, then 32 high nibbles
            sc1, m1 = _scale_min_k4(2 * j, scales)
            sc2, m2 = _scale_min_k4(2 * j + 1, scales)
            d1, mn1, d2, mn2 = d * f32(sc1), dmin * f32(m1), d * f32(sc2), dmin * f32(m2)
            q = ql[32 * j : 32 * j + 32]
            hi1 = [16 * int(h >> (2 * j) & 1) for h in qh] if qh is not None else [0] * 32
            hi2 = [16 * int(h >> (2 * j + 1) & 1) for h in qh] if qh is not None else [0] * 32
            y += [d1 * f32(int(v & 0xF) + h) - mn1 for v, h in zip(q, hi1, strict=True)]
            y += [d2 * f32(int(v >> 4) + h) - mn2 for v, h in zip(q, hi2, strict=True)]
        return y
    assert qtype == "Q6_K"
    ql, qh, sc, d = b[:128], b[128:192], b[192:208].view(np.int8), _f16(b[208:210])
    for n in range(2):  # two halves of 128
        out = [f32(0)] * 128
        for i in range(32):
            s = n * 8 + i // 16
            l0, l1, h = int(ql[64 * n + i]), int(ql[64 * n + i + 32]), int(qh[32 * n + i])
            q1 = ((l0 & 0xF) | ((h >> 0 & 3) << 4)) - 32
            q2 = ((l1 & 0xF) | ((h >> 2 & 3) << 4)) - 32
            q3 = ((l0 >> 4) | ((h >> 4 & 3) << 4)) - 32
            q4 = ((l1 >> 4) | ((h >> 6 & 3) << 4)) - 32
            out[i] = d * f32(sc[s]) * f32(q1)
            out[i + 32] = d * f32(sc[s + 2]) * f32(q2)
            out[i + 64] = d * f32(sc[s + 4]) * f32(q3)
            out[i + 96] = d * f32(sc[s + 6]) * f32(q4)
        y += out
    return y


@pytest.mark.parametrize("qtype", TYPES)
def test_dequantize_follows_the_c_reference_on_any_bytes(qtype):
    """dequantize() of quantized weights and of random bytes (every code and scale value, with
    finite fp16 d and dmin) gives what ggml-quants.c's dequantize_row_* computes."""
    fmt = ggml.FORMATS[qtype]
    rng = np.random.default_rng(7)
    quantized = ggml.quantize(rng.normal(0, 0.02, (2, 512)).astype(np.float32), qtype)
    noise = rng.integers(0, 256, (6, fmt.block_bytes), dtype=np.uint8)
    halves = rng.uniform(-2, 2, (6, 2)).astype(np.float16).view(np.uint8)  # (6, 4): two fp16
    start = 0
    for field in fmt.fields:
        if field.name in ("d", "dmin"):  # finite scales: inf * 0 would be NaN on either side
            at = 2 if field.name == "dmin" else 0
            noise[:, start : start + 2] = halves[:, at : at + 2]
        start += field.n_bytes
    for data in (quantized.reshape(-1, fmt.block_bytes), noise):
        got = ggml.dequantize(data.ravel(), qtype).reshape(len(data), -1)
        want = np.array([_c_block(qtype, b) for b in data], dtype=np.float32)
        np.testing.assert_array_equal(bits(got), bits(want))


@pytest.mark.parametrize(
    ("qtype", "rel_rmse"),
    [("Q4_0", 0.0859), ("Q8_0", 0.00534), ("Q4_K", 0.0714), ("Q5_K", 0.0363), ("Q6_K", 0.0177)],
)
def test_reference_error_on_normal_weights(golden, qtype, rel_rmse):
    """On N(0, 0.02) weights the RMSE relative to the std is the golden README's figure."""
    x = golden["x_normal"]
    err = ggml.dequantize(ggml.quantize(x, qtype), qtype) - x
    assert np.sqrt(np.mean(err**2)) / x.std() == pytest.approx(rel_rmse, abs=5e-4)


@pytest.mark.parametrize("qtype", TYPES)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_zero_blocks_give_zeros(qtype, sign):
    """All-zero blocks, +0.0 or -0.0, quantize and decode to zeros with no NaN or warning."""
    x = sign * np.zeros((3, 512), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ggml.dequantize(ggml.quantize(x, qtype), qtype)
    np.testing.assert_array_equal(out, 0)


def test_q4_0_zero_block_stores_negative_zero_scale():
    """A Q4_0 block of zeros (either sign) stores d = -0.0 (00 80), as the C code does."""
    for x in (np.zeros(32, np.float32), -np.zeros(32, np.float32)):
        data = ggml.quantize(x, "Q4_0")
        assert data[:2].tolist() == [0x00, 0x80]
        assert (data[2:] == 0x88).all()  # every code is 8, the zero level


@pytest.mark.parametrize("qtype", TYPES)
def test_constant_blocks_reconstruct_closely(qtype):
    """A constant super-block comes back within 0.1 % when its fp16 scales are normal numbers."""
    values = np.array([0.5, 3.0, 20.0, -0.5, -3.0, -20.0], np.float32)
    x = np.repeat(values[:, None], 256, axis=1)
    out = ggml.dequantize(ggml.quantize(x, qtype), qtype)
    assert np.all(np.abs(out - x) <= 1e-3 * np.abs(x))


@pytest.mark.parametrize("qtype", TYPES)
def test_small_constant_blocks_stay_close(qtype):
    """Small constants (fp16-subnormal d, or d flushed to 0) never come back worse than zero."""
    # Q6_K's d of a constant block is about x/4096: for 1e-4 it underflows fp16 and the whole
    # block decodes to 0, as in llama.cpp
    values = np.array([3e-3, 1e-4, -3e-3, -1e-4], np.float32)
    x = np.repeat(values[:, None], 256, axis=1)
    out = ggml.dequantize(ggml.quantize(x, qtype), qtype)
    assert np.all(np.abs(out - x) <= np.abs(x))
    assert np.all(np.abs(out[[0, 2]] - x[[0, 2]]) <= 0.05 * np.abs(x[[0, 2]]))


@pytest.mark.parametrize("qtype", TYPES)
@pytest.mark.parametrize("scale", [1e-8, 1e-11, 1e-40])
def test_tiny_values_do_not_give_nan(qtype, scale):
    """Weights so small that the fp16 scale underflows (even float32 subnormals) stay finite."""
    x = (np.random.default_rng(3).normal(size=(4, 256)) * scale).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ggml.dequantize(ggml.quantize(x, qtype), qtype)
    assert np.isfinite(out).all()
    assert np.abs(out - x).max() <= 2 * np.abs(x).max()


@pytest.mark.parametrize("qtype", TYPES)
def test_leading_dimensions_round_trip(qtype):
    """Any leading shape is kept, and equals quantizing the same rows as a 2-D array."""
    fmt = ggml.FORMATS[qtype]
    x = np.random.default_rng(5).normal(0, 1, (2, 3, 512)).astype(np.float32)
    data = ggml.quantize(x, qtype)
    assert data.shape == (2, 3, 512 // fmt.block_values * fmt.block_bytes)
    np.testing.assert_array_equal(data.reshape(6, -1), ggml.quantize(x.reshape(6, 512), qtype))
    assert ggml.dequantize(data, qtype).shape == x.shape
    assert ggml.quantize(x[0, 0], qtype).shape == (data.shape[-1],)


@pytest.mark.parametrize("qtype", TYPES)
def test_empty_input_gives_empty_output(qtype):
    """Zero rows quantize to zero rows of bytes and back."""
    data = ggml.quantize(np.zeros((0, 256), np.float32), qtype)
    assert data.shape == (
        0,
        256 // ggml.FORMATS[qtype].block_values * ggml.FORMATS[qtype].block_bytes,
    )
    assert ggml.dequantize(data, qtype).shape == (0, 256)


@pytest.mark.parametrize("qtype", TYPES)
def test_bad_last_axis_raises(qtype):
    """A last axis that is not whole blocks (of values or of bytes) is a ValueError."""
    with pytest.raises(ValueError, match="multiple"):
        ggml.quantize(np.zeros((2, 100), np.float32), qtype)
    with pytest.raises(ValueError, match="multiple"):
        ggml.dequantize(np.zeros((2, ggml.FORMATS[qtype].block_bytes + 1), np.uint8), qtype)
    with pytest.raises(ValueError):
        ggml.quantize(np.float32(1.0), qtype)


def test_unknown_or_unsupported_type_raises():
    """An unknown type name, or a GGML type this module does not quantize, is a ValueError."""
    with pytest.raises(ValueError, match="unknown"):
        ggml.quantize(np.zeros(256, np.float32), "Q9_X")
    with pytest.raises(ValueError, match="not supported"):
        ggml.quantize(np.zeros(256, np.float32), "Q2_K")
    with pytest.raises(ValueError, match="not supported"):
        ggml.dequantize(np.zeros(84, np.uint8), GGMLQuantizationType.Q2_K)


def test_dequantize_rejects_non_bytes():
    """Quantized data must be uint8."""
    with pytest.raises(ValueError, match="uint8"):
        ggml.dequantize(np.zeros((1, 34), np.int16), "Q8_0")


def test_type_may_be_enum_or_any_case():
    """qtype is accepted as a GGMLQuantizationType or a name in any case."""
    x = np.random.default_rng(1).normal(size=256).astype(np.float32)
    want = ggml.quantize(x, "Q4_K")
    np.testing.assert_array_equal(ggml.quantize(x, GGMLQuantizationType.Q4_K), want)
    np.testing.assert_array_equal(ggml.quantize(x, "q4_k"), want)
    assert ggml.dequantize(bytes(want), "Q4_K").shape == (256,)


def test_format_table_bits_per_weight():
    """Bits per weight come from gguf's block table, scales included."""
    got = {name: f.bits_per_weight for name, f in ggml.FORMATS.items()}
    assert got == {"Q4_0": 4.5, "Q4_K": 4.5, "Q5_K": 5.5, "Q6_K": 6.5625, "Q8_0": 8.5}
    assert [ggml.bits_per_weight(t) for t in ("F32", "F16", "Q5_0")] == [32.0, 16.0, 5.5]
    assert ggml.get_format("Q6_K").sub_block == 16


@pytest.mark.parametrize("qtype", TYPES)
def test_unpack_block_fields_rebuild_the_values(golden, qtype):
    """d*scale*(q - zero_point) - dmin*min from the unpacked fields is exactly the decoded block."""
    fmt = ggml.FORMATS[qtype]
    data = golden[f"q_{qtype}_heavy_tailed"]
    deq = ggml.dequantize(data, qtype).reshape(-1, fmt.block_values)
    for index in (0, 5, data.size // fmt.block_bytes - 1):
        f = ggml.unpack_block(data, qtype, index)
        s = np.arange(fmt.block_values) // f.sub_block
        q = (f.q - f.zero_point).astype(np.float32)
        rebuilt = f.sub_scales[s] * q - f.sub_mins[s]
        np.testing.assert_array_equal(rebuilt, deq[index])
        np.testing.assert_array_equal(f.values, deq[index])


@pytest.mark.parametrize(
    ("qtype", "q_range", "n_scales", "scale_range"),
    [
        ("Q4_0", (0, 15), 0, None),
        ("Q8_0", (-128, 127), 0, None),
        ("Q4_K", (0, 15), 8, (0, 63)),
        ("Q5_K", (0, 31), 8, (0, 63)),
        ("Q6_K", (0, 63), 16, (-128, 127)),
    ],
)
def test_unpack_block_field_ranges(qtype, q_range, n_scales, scale_range):
    """Codes and sub-block scales stay in the ranges their bit widths allow."""
    x = np.random.default_rng(2).standard_t(3, 256).astype(np.float32)
    f = ggml.unpack_block(ggml.quantize(x, qtype), qtype)
    assert f.qtype == qtype
    assert f.q.shape == (ggml.FORMATS[qtype].block_values,)
    assert q_range[0] <= f.q.min() and f.q.max() <= q_range[1]
    assert f.scales.shape == (n_scales,)
    if scale_range:
        assert scale_range[0] <= f.scales.min() and f.scales.max() <= scale_range[1]
    assert f.mins.shape == ((8,) if qtype in ("Q4_K", "Q5_K") else (0,))
    assert (f.dmin != 0) == (qtype in ("Q4_K", "Q5_K"))


def _block(n: int, **values: float) -> np.ndarray:
    """n float32 zeros with the given slices set, e.g. _block(256, s0_16=1e18) sets x[0:16]."""
    x = np.zeros(n, np.float32)
    for key, v in values.items():
        start, stop = (int(p) for p in key[1:].split("_"))
        x[start:stop] = v
    return x


def test_q6_k_skips_a_nan_sub_block_scale_as_c_does():
    """A Q6_K sub-block whose weighted sums overflow to inf / inf = NaN is never the largest.

    Block: x[0:16] = 1e18, x[16] = -1, x[17:32] = 0, x[32:48] = 2, the rest 0.
    make_qx_quants(16, 32, rmse_type 1), sub-block 0: max = 1e18, iscale = -32/max, every
    l = -32 (L = 0); w = x*x = 1e36, w*x = inf, so sumlx = -inf; w*l*l = 1.024e39 = inf, so
    suml2 = inf; scale = -inf/inf = NaN, best = NaN, and no trial beats NaN: it returns NaN.
    Sub-block 1: max = -1, iscale = 32; l = -32 for -1 (L = 0), l = 0 for the zeros (L = 32);
    sumlx = 1*(-1)*(-32) = 32, suml2 = 1024, scale = 1/32, best = 1; every trial has l = -31
    or -32 and sumlx^2 = l^2 = best*suml2, never greater: scale 0.03125.
    Sub-block 2 (sixteen 2.0): iscale = -16, l = -32, w = 4; sumlx = 16*(4*2*-32) = -4096,
    suml2 = 16*4*1024 = 65536, scale = -0.0625; trials tie again. Sub-blocks 3-15: scale 0.
    quantize_row_q6_K_ref: `abs_scale > max_abs_scale` is false for NaN, so sub-block 1 and
    then 2 win: max_scale = -0.0625, iscale = -128/-0.0625 = 2048, d = fp16(1/2048) = 0x1000.
    scales: nearest_int(2048*NaN) = 0, nearest_int(64) = 64, nearest_int(-128) = -128 (0x80),
    the rest 0. Requantization skips d*sc == 0 (sub-blocks 0, 3-15 keep L = 0); sub-block 1
    has d = 2^-5: -1 -> -32 -> L 0, 0 -> L 32; sub-block 2 has d = -2^-4: 2 -> -32 -> L 0.
    Packing: every low nibble is 0; qh[l] = L[l] >> 4 = 2 for l = 17..31. numpy's argmax
    would have picked the NaN and written 210 zero bytes.
    """
    x = _block(256, s0_16=1e18, s16_17=-1.0, s32_48=2.0)
    want = np.zeros(210, np.uint8)
    want[128 + 17 : 128 + 32] = 0x02  # qh
    want[192:195] = [0x00, 0x40, 0x80]  # scales 0, 64, -128
    want[208:210] = [0x00, 0x10]  # d = 2^-11
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ggml.quantize(x, "Q6_K")
    np.testing.assert_array_equal(got, want)


def test_q6_k_keeps_an_infinite_sub_block_scale_as_c_does():
    """A Q6_K sub-block scale of -inf is the largest, as in C; the whole block becomes code 32.

    Block: x[0:16] = 1e15, the rest 0. make_qx_quants, sub-block 0: l = -32 everywhere,
    w*x = 1e45 = inf so sumlx = -inf, suml2 = 16*1.024e33 (finite), scale = -inf, best = +inf;
    no trial beats inf*suml2 = inf. Other sub-blocks: 0. quantize_row_q6_K_ref: max_scale =
    -inf, iscale = -128/-inf = +0, d = fp16(1/+0) = +inf (0x7C00); scales = nearest_int(0*-inf
    = NaN) = 0 and nearest_int(0) = 0. Every d*sc is inf*0 = NaN, which `if (!d)` does not
    skip, so every weight gets nearest_int(x/NaN) = 0, L = 32: ql all 0, qh all 0b10101010.
    llama-quantize would reject this block afterwards (inf scale); the _ref function writes it.
    """
    x = _block(256, s0_16=1e15)
    want = np.zeros(210, np.uint8)
    want[128:192] = 0xAA
    want[208:210] = [0x00, 0x7C]
    np.testing.assert_array_equal(ggml.quantize(x, "Q6_K"), want)


@pytest.mark.parametrize(("qtype", "n_qh"), [("Q4_K", 0), ("Q5_K", 32)])
def test_k_quants_with_overflowing_sums_keep_the_first_scale_as_c_does(qtype, n_qh):
    """Q4_K/Q5_K of 256 x 1e20: every least-squares trial sees D = NaN and is skipped.

    make_qkx2_quants per sub-block of 32: min = 0 (clamped), max = 1e20, iscale = nmax/1e20,
    scale = 1/iscale. sum_x2 = 32e40 = inf, so av_x and every weight are inf; in each trial
    sum_w * sum_l2 - sum_l * sum_l = inf - inf = NaN, and `D > 0` is false: the first scale
    stays, the min is -0. quantize_row_q4_K_ref / q5_K_ref: max_scale = scale, max_min = 0;
    ls = nearest_int(63/scale * scale) = 63, lm = 0; d = fp16(scale/63 ~ 1e17) = +inf (0x7C00),
    dmin = 0. Requantization: d*63 = inf is not skipped, l = nearest_int((1e20 + 0)/inf) = 0.
    scales bytes: 0-3 = 63 | (63 >> 4) << 6 = 0xFF, 4-7 = 0, 8-11 = (63 & 15) | 0 = 0x0F;
    every code 0, so qh (Q5_K) and qs are zeros.
    """
    x = np.full(256, 1e20, np.float32)
    want = np.array(
        [0x00, 0x7C, 0x00, 0x00] + [0xFF] * 4 + [0x00] * 4 + [0x0F] * 4 + [0] * (n_qh + 128),
        np.uint8,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ggml.quantize(x, qtype)
    np.testing.assert_array_equal(got, want)


def test_q8_0_and_q4_0_scales_overflow_fp16_as_c_does():
    """A block of 32 with 1e20 and -2.5e19: the fp16 scale is inf, the codes are still exact.

    Q8_0: amax = 1e20, d = amax/127 ~ 7.9e17 -> fp16 +inf (0x7C00), id = 1/d; roundf(1e20*id)
    = 127 (0x7F), roundf(-2.5e19*id = -31.75) = -32 (0xE0), the zeros 0.
    Q4_0: max = 1e20, d = max/-8 -> fp16 -inf (0xFC00), id = 1/d = -8e-20; (int8_t)(-8 + 8.5)
    = 0, (int8_t)(2 + 8.5) = 10, (int8_t)(-0 + 8.5) = 8; qs[j] = q[j] | q[j+16] << 4 gives
    0x80, 0x8A, then 0x88.
    """
    x = _block(32, s0_1=1e20, s1_2=-2.5e19)
    want_q8 = [0x00, 0x7C, 0x7F, 0xE0] + [0x00] * 30
    want_q4 = [0x00, 0xFC, 0x80, 0x8A] + [0x88] * 14
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ggml.quantize(x, "Q8_0").tolist() == want_q8
        assert ggml.quantize(x, "Q4_0").tolist() == want_q4


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="C's float -> int8 conversion of inf/NaN is undefined; the bytes are x86-64's",
)
def test_q4_0_block_whose_inverse_scale_overflows_writes_x86_codes():
    """Q4_0 of [1e-39, 0 x 31]: 1/d overflows and every code is 0, as x86-64 C writes it.

    max = 1e-39 (subnormal), d = max/-8 = -1.25e-40, id = 1.0f/d = -inf. x0 = x*id is -inf
    for 1e-39 and NaN (0 * -inf) for the zeros; x0 + 8.5f stays -inf / NaN, and x86-64's
    float -> int conversion (cvttss2si) gives 0x80000000, whose low byte is 0. d rounds to
    fp16 -0.0 (0x8000). Every qs byte is 0.
    """
    x = _block(32, s0_1=1e-39)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ggml.quantize(x, "Q4_0").tolist() == [0x00, 0x80] + [0x00] * 16


def test_q4_0_rounds_the_product_before_adding_as_the_unfused_build():
    """Q4_0 writes the code of the build without FMA: x*id is rounded before + 8.5f.

    Block: x[0] = 1.2185769 (0x3F9BFA54), x[1] = 0.68544954 (0x3F2F799F), the rest 0.
    d = x[0]/-8 = -0.15232211, fp16 0xB0E0; id = 1/d = -6.565035 (float32).
    x[1]*id = -4.50000013... exactly; rounded to float32 it is -4.5, and -4.5 + 8.5 = 4.0, so
    (int8_t) gives code 4. A build that fuses x*id + 8.5f rounds once: 3.99999987 -> float32
    3.9999998 -> code 3 (qs byte 0x83). x[0]: -8 + 8.5 -> 0; zeros: 8.
    qs[0] = 0 | 8 << 4 = 0x80, qs[1] = 4 | 8 << 4 = 0x84, the rest 0x88.
    """
    x = _block(32, s0_1=1.2185769, s1_2=0.68544954)
    assert x[:2].view(np.uint32).tolist() == [0x3F9BFA54, 0x3F2F799F]
    assert ggml.quantize(x, "Q4_0").tolist() == [0xE0, 0xB0, 0x80, 0x84] + [0x88] * 14


@pytest.mark.parametrize("qtype", TYPES)
@pytest.mark.parametrize(("bad", "shown"), [(np.nan, "NaN"), (np.inf, "+inf"), (-np.inf, "-inf")])
def test_non_finite_weight_is_a_clear_error_naming_where(qtype, bad, shown):
    """A NaN or inf weight raises NonFiniteWeightError naming it, its block and its position."""
    fmt = ggml.FORMATS[qtype]
    x = np.random.default_rng(4).normal(0, 0.02, (3, 512)).astype(np.float32)
    x[2, 300] = bad
    x[2, 301] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ggml.NonFiniteWeightError) as info:
            ggml.quantize(x, qtype)
    err = info.value
    assert isinstance(err, ValueError)
    block = (2 * 512 + 300) // fmt.block_values
    position = 300 % fmt.block_values
    assert (err.index, err.block, err.position, err.count) == ((2, 300), block, position, 2)
    assert str(err) == (
        f"{qtype} needs finite weights, but weight (2, 300) is {shown} (block {block}, "
        f"weight {position} of its {fmt.block_values}); 2 weights in all are not finite"
    )
    with pytest.raises(ggml.NonFiniteWeightError):
        ggml.dequantize(ggml.quantize(x, qtype), qtype)


def test_weight_beyond_float32_range_is_named_as_given():
    """A float64 weight too large for float32 is reported with its value, not as inf."""
    x = np.zeros(256)
    x[7] = -1e39
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ggml.NonFiniteWeightError, match=r"weight 7 is -1e\+39, beyond float32"):
            ggml.quantize(x, "Q6_K")


def test_largest_finite_weights_quantize_without_warnings():
    """float32's largest values are finite input: quantized with no error and no numpy warning."""
    big = np.finfo(np.float32).max
    x = (
        np.random.default_rng(6)
        .choice(np.array([-big, big, 1.0, 0.0]), (4, 256))
        .astype(np.float32)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for qtype in TYPES:
            fmt = ggml.FORMATS[qtype]
            assert ggml.quantize(x, qtype).shape == (4, 256 // fmt.block_values * fmt.block_bytes)
