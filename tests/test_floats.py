"""FP32, FP16 and BF16 encodings of a single weight: bits, decoded values, rounding errors."""

from __future__ import annotations

import numpy as np
import pytest

from quantviz.quant.floats import (
    BF16,
    FORMATS,
    FP16,
    FP32,
    BitCell,
    FloatFormat,
    decode_bits,
    encode,
    encode_all,
    format_bits,
)

SEED_WEIGHT = 0.156347


def _bf16_from_fp32_bits(pattern: int) -> int:
    return int(format_bits(np.uint32(pattern).view(np.float32), BF16))


def test_format_table() -> None:
    """FP32 is 1+8+23 bits (bias 127), FP16 1+5+10 (bias 15), BF16 1+8+7 (bias 127)."""
    assert [(f.name, f.total_bits, f.bias) for f in FORMATS] == [
        ("FP32", 32, 127),
        ("FP16", 16, 15),
        ("BF16", 16, 127),
    ]


def test_seed_weight_in_fp16() -> None:
    """0.156347 is stored in FP16 as 0x3101 = 0.1563720703125, 2.5e-5 too high."""
    e = encode(SEED_WEIGHT, FP16)
    assert e.decoded == 0.1563720703125
    assert e.hex == "3101"
    assert (e.sign, e.exponent, e.mantissa) == ("0", "01100", "0100000001")
    assert e.error == pytest.approx(0.1563720703125 - SEED_WEIGHT)
    assert e.exponent_value == -3 and e.kind == "normal"


def test_seed_weight_in_bf16() -> None:
    """0.156347 is stored in BF16 as 0x3e20 = 0.15625 exactly, 9.7e-5 too low."""
    e = encode(SEED_WEIGHT, BF16)
    assert e.decoded == 0.15625
    assert e.hex == "3e20"
    assert (e.sign, e.exponent, e.mantissa) == ("0", "01111100", "0100000")
    assert e.error == pytest.approx(-9.7e-5)
    assert e.rel_error == pytest.approx(9.7e-5 / SEED_WEIGHT)


def test_seed_weight_in_fp32() -> None:
    """0.156347 in FP32 is 0x3e20196e, off by under 1e-8: 32 bits are not exact either."""
    e = encode(SEED_WEIGHT, FP32)
    assert e.hex == "3e20196e"
    assert e.decoded == float(np.float32(SEED_WEIGHT))
    assert 0 < e.abs_error < 1e-8
    assert e.bits == e.sign + e.exponent + e.mantissa and len(e.bits) == 32


def test_more_bits_buy_smaller_errors() -> None:
    """For the seed weight the error shrinks BF16 > FP16 > FP32, in format order from encode_all."""
    fp32, fp16, bf16 = encode_all(SEED_WEIGHT)
    assert (fp32.fmt, fp16.fmt, bf16.fmt) == (FP32, FP16, BF16)
    assert bf16.abs_error > fp16.abs_error > fp32.abs_error


def test_bf16_rounds_to_nearest_even_on_fp32_bits() -> None:
    """BF16 rounds the dropped 16 bits to nearest, ties to even, not by truncation."""
    assert _bf16_from_fp32_bits(0x3F808000) == 0x3F80  # tie, even stays
    assert _bf16_from_fp32_bits(0x3F818000) == 0x3F82  # tie, odd rounds up
    assert _bf16_from_fp32_bits(0x3F80C000) == 0x3F81  # above half rounds up
    assert _bf16_from_fp32_bits(0x3F807FFF) == 0x3F80  # below half rounds down
    assert _bf16_from_fp32_bits(0x7F7FFFFF) == 0x7F80  # largest fp32 rounds to infinity


def test_bf16_keeps_nan_and_infinity() -> None:
    """NaN stays a (quiet) NaN and infinity stays infinity in BF16 and FP16."""
    nan = encode(float("nan"), BF16)
    assert np.isnan(nan.decoded) and nan.kind == "nan"
    assert encode(float("-inf"), BF16).decoded == float("-inf")
    assert encode(float("inf"), FP16).kind == "inf"


def test_fp16_overflow_and_subnormals() -> None:
    """70000 overflows FP16 to inf (BF16 keeps it); 1e-7 is an FP16 subnormal."""
    over = encode(70000.0, FP16)
    assert over.decoded == float("inf") and over.error == float("inf")
    assert encode(70000.0, BF16).decoded == 70144.0
    tiny = encode(1e-7, FP16)
    assert tiny.kind == "subnormal" and tiny.decoded == 2 * 2.0**-24


def test_zero_and_negative_zero() -> None:
    """0.0 and -0.0 are exact, differ only in the sign bit, and have zero relative error."""
    pos, neg = encode(0.0, FP16), encode(-0.0, FP16)
    assert pos.kind == "zero" and pos.rel_error == 0.0 and pos.error == 0.0
    assert pos.bits == "0" * 16 and neg.bits == "1" + "0" * 15


def test_negative_value_sign_bit() -> None:
    """-2.5 is exact in all three formats with the sign bit set."""
    for e in encode_all(-2.5):
        assert e.sign == "1" and e.decoded == -2.5 and e.error == 0.0


def test_strip_tags_every_bit_with_its_field() -> None:
    """The bit strip lists every bit MSB first: 1 sign, then exponent, then mantissa cells."""
    for e in encode_all(SEED_WEIGHT):
        strip = e.strip
        assert len(strip) == e.total_bits
        assert all(isinstance(c, BitCell) for c in strip)
        assert "".join(str(c.bit) for c in strip) == e.bits
        fields = [c.field for c in strip]
        assert fields[0] == "sign"
        assert fields.count("exponent") == e.fmt.exponent_bits
        assert fields.count("mantissa") == e.fmt.mantissa_bits
        assert fields == sorted(fields, key=["sign", "exponent", "mantissa"].index)


def test_bits_of_a_whole_layer_agree_with_encode() -> None:
    """format_bits and decode_bits on an array match encode value by value, in every format."""
    w = np.random.default_rng(0).normal(0, 0.3, size=(4, 4))
    for fmt in FORMATS:
        out = decode_bits(format_bits(w, fmt), fmt)
        assert out.shape == w.shape
        assert out.tolist() == [[encode(v, fmt).decoded for v in row] for row in w]


def test_decode_inverts_format_bits() -> None:
    """Decoding a stored pattern and storing it again gives the same pattern."""
    w = np.random.default_rng(1).normal(0, 10, size=50)
    for fmt in FORMATS:
        raw = format_bits(w, fmt)
        np.testing.assert_array_equal(format_bits(decode_bits(raw, fmt), fmt), raw)


def test_unknown_format_raises() -> None:
    """A format outside FP32 / FP16 / BF16 raises ValueError."""
    fp8 = FloatFormat("FP8", 4, 3)
    with pytest.raises(ValueError):
        format_bits(1.0, fp8)
    with pytest.raises(ValueError):
        decode_bits(0, fp8)
