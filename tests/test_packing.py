"""Packing integer codes into bytes: nibbles, Q4_0 and Q6_K layouts, fp16 scale bytes, bpw."""

from __future__ import annotations

import numpy as np
import pytest
from gguf import GGMLQuantizationType, quants

from quantviz.quant import ggml
from quantviz.quant.absmax import quantize_symmetric, toy_layer
from quantviz.quant.packing import (
    Layout,
    bits_per_weight,
    fp16_bytes,
    fp16_hex,
    hex_bytes,
    pack_4bit,
    pack_6bit,
    pack_bitstream,
    pack_layer,
    to_unsigned,
    unpack_4bit,
    unpack_6bit,
    unpack_bitstream,
)
from quantviz.quant.schemes import quantize_grouped

LAYOUTS = ("sequential", "ggml")


def _codes(bits: int, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**bits, size=n).astype(np.uint8)


def test_signed_codes_offset_to_unsigned() -> None:
    """Seed codes -7..7 at 4 bits are stored as 1..15 (q + 8), and come back."""
    q = np.arange(-7, 8)
    u = to_unsigned(q, 4)
    assert u.tolist() == list(range(1, 16))
    np.testing.assert_array_equal(u.astype(np.int64) - 8, q)  # stored = q + 2^(bits-1)
    assert to_unsigned([-31, 0, 31], 6).tolist() == [1, 32, 63]


def test_codes_out_of_range_raise() -> None:
    """A code that does not fit the width raises ValueError."""
    with pytest.raises(ValueError):
        to_unsigned([8], 4)
    with pytest.raises(ValueError):
        pack_4bit([16])
    with pytest.raises(ValueError):
        pack_bitstream([1], 9)


def test_sequential_nibbles_low_first() -> None:
    """Sequential 4-bit packing: byte j = code 2j (low nibble) | code 2j+1 (high nibble)."""
    assert pack_4bit([0x9, 0x6, 0xF, 0x1]).tolist() == [0x69, 0x1F]
    assert hex_bytes(pack_4bit(to_unsigned([1, -2], 4))) == "69"


def test_ggml_nibbles_split_the_block_in_halves() -> None:
    """Q4_0 order: byte j = q[j] | q[j + 16] << 4 in a 32-block; a 16-value layer uses j + 8."""
    block = np.arange(32) % 16
    packed = pack_4bit(block, "ggml")
    assert packed.size == 16
    assert packed.tolist() == [(j % 16) | ((j + 16) % 16) << 4 for j in range(16)]
    small = pack_4bit(np.arange(16), "ggml")
    assert hex_bytes(small) == "80 91 a2 b3 c4 d5 e6 f7"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n", [16, 32, 96])
def test_4bit_round_trip(layout: Layout, n: int) -> None:
    """unpack_4bit(pack_4bit(codes)) == codes, in both layouts."""
    codes = _codes(4, n, n)
    packed = pack_4bit(codes, layout)
    assert packed.size == n // 2
    np.testing.assert_array_equal(unpack_4bit(packed, n, layout), codes)


def test_sequential_4bit_odd_length_pads_one_nibble() -> None:
    """An odd number of codes takes ceil(n/2) bytes and still round-trips."""
    codes = _codes(4, 7)
    packed = pack_4bit(codes)
    assert packed.size == 4 and packed[-1] >> 4 == 0
    np.testing.assert_array_equal(unpack_4bit(packed, 7), codes)


def test_ggml_layout_rejects_partial_blocks() -> None:
    """The ggml layout needs whole blocks: 40 codes (not 32k, not a small even block) raise."""
    with pytest.raises(ValueError):
        pack_4bit(_codes(4, 40), "ggml")
    with pytest.raises(ValueError):
        pack_6bit(_codes(6, 10), "ggml")


def test_6bit_sequential_known_bytes() -> None:
    """6-bit sequential: ql holds low nibbles like 4-bit, qh the top 2 bits at bit 0, 2, 4, 6."""
    codes = np.array([0b110101, 0b000001, 0b101111, 0b011000])  # 53, 1, 47, 24
    ql, qh = pack_6bit(codes)
    assert ql.tolist() == [0x15, 0x8F]
    assert qh.tolist() == [0b01_10_00_11]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n", [16, 128, 256])
def test_6bit_round_trip(layout: Layout, n: int) -> None:
    """unpack_6bit(pack_6bit(codes)) == codes; ql is n/2 bytes and qh n/4 bytes."""
    codes = _codes(6, n, n)
    ql, qh = pack_6bit(codes, layout)
    assert (ql.size, qh.size) == (n // 2, n // 4)
    np.testing.assert_array_equal(unpack_6bit(ql, qh, n, layout), codes)


def test_6bit_sequential_ragged_length_round_trips() -> None:
    """6 codes (not a multiple of 4) pad qh and still round-trip."""
    codes = _codes(6, 6, 3)
    ql, qh = pack_6bit(codes)
    assert (ql.size, qh.size) == (3, 2)
    np.testing.assert_array_equal(unpack_6bit(ql, qh, 6), codes)


@pytest.mark.parametrize("bits", range(1, 9))
def test_bitstream_round_trip_and_size(bits: int) -> None:
    """Any width packs to ceil(n * bits / 8) bytes and unpacks to the same codes."""
    codes = _codes(bits, 21, bits)
    data = pack_bitstream(codes, bits)
    assert data.size == -(-21 * bits // 8)
    np.testing.assert_array_equal(unpack_bitstream(data, bits, 21), codes)


def test_bitstream_is_little_endian() -> None:
    """3-bit codes 1, 2, 7 fill bits 0-2, 3-5, 6-8: bytes 0xd1 0x01."""
    assert pack_bitstream([1, 2, 7], 3).tolist() == [0b11_010_001, 0b1]


def test_fp16_scale_bytes_little_endian() -> None:
    """The scale is stored as fp16 low byte first: 1.0 is 00 3c, the seed's 4-bit scale 29 30."""
    assert fp16_hex(1.0) == "00 3c"
    _, scale, _ = quantize_symmetric(0.156347, 4, max_abs=0.910203)
    assert fp16_hex(scale) == "29 30"
    assert fp16_bytes([1.0, -2.0]).tolist() == [0x00, 0x3C, 0x00, 0xC0]
    assert hex_bytes([0, 255, 16], sep="") == "00ff10"


def test_bits_per_weight_includes_the_scale() -> None:
    """16 codes at 4 bits with one fp16 scale: 5 bits/weight; Q4_0 and Q6_K by their tables."""
    assert bits_per_weight(4, 16) == 5.0
    assert bits_per_weight(4, 32, n_scales=1) == ggml.FORMATS["Q4_0"].bits_per_weight == 4.5
    assert ggml.FORMATS["Q6_K"].bits_per_weight == 6.5625


@pytest.mark.parametrize(
    ("bits", "layout"),
    [(b, "sequential") for b in range(2, 9)] + [(4, "ggml"), (6, "ggml")],
)
def test_pack_layer_round_trips_the_toy_layer(bits: int, layout: Layout) -> None:
    """The toy layer's signed codes survive pack_layer → unpack → minus the 2^(bits-1) offset."""
    q, scale, _ = quantize_symmetric(toy_layer(5), bits)
    packed = pack_layer(q, bits, scale, layout)
    np.testing.assert_array_equal(packed.unpack().astype(np.int64) - 2 ** (bits - 1), q.ravel())
    assert packed.n_codes == 16 and packed.n_scales == 1
    assert packed.bits_per_weight == bits_per_weight(bits, 16)
    assert packed.hex["scale"] == fp16_hex(scale)


def test_pack_layer_names_arrays_like_ggml() -> None:
    """4 bits → qs (8 bytes for 16 codes); 6 bits → ql (8) + qh (4); hex for each plus scale."""
    w = toy_layer(5)
    q4, s4, _ = quantize_symmetric(w, 4)
    p4 = pack_layer(q4, 4, s4)
    assert list(p4.arrays) == ["qs"] and p4.code_bytes == 8 and p4.total_bytes == 10
    assert list(p4.hex) == ["qs", "scale"] and len(p4.hex["qs"].split()) == 8
    q6, s6, _ = quantize_symmetric(w, 6)
    p6 = pack_layer(q6, 6, s6, "ggml")
    assert {k: v.size for k, v in p6.arrays.items()} == {"ql": 8, "qh": 4}
    assert p6.bits_per_weight == (12 + 2) * 8 / 16


def test_pack_layer_unsigned_codes_and_group_scales() -> None:
    """Asymmetric codes pack with signed=False; several scales give 2 bytes each."""
    w = toy_layer(5)
    res = quantize_grouped(w, 4, "asymmetric")
    q, scale = res.q, res.scale[0]
    packed = pack_layer(q, 4, [scale, scale / 2], signed=False)
    np.testing.assert_array_equal(packed.unpack(), q.ravel())
    assert packed.n_scales == 2 and packed.bits_per_weight == (8 + 4) * 8 / 16


def test_pack_layer_rejects_ggml_for_other_widths_and_bad_layouts() -> None:
    """The ggml layout at 5 bits, or an unknown layout, raises ValueError."""
    with pytest.raises(ValueError):
        pack_layer(np.zeros(16, dtype=int), 5, 0.1, "ggml")
    with pytest.raises(ValueError):
        pack_layer(np.zeros(16, dtype=int), 4, 0.1, "zigzag")  # type: ignore[arg-type]


def test_ggml_4bit_layout_matches_llama_cpp_q4_0() -> None:
    """A Q4_0 block built from our ggml packing dequantizes (gguf-py) to d * (u - 8)."""
    q = np.random.default_rng(0).integers(-8, 8, size=64)
    codes = to_unsigned(q, 4)
    d = 0.25
    qs = pack_4bit(codes, "ggml").reshape(2, 16)
    blocks = np.concatenate([np.tile(fp16_bytes(d), (2, 1)), qs], axis=1)  # (2, 18)
    out = quants.dequantize(blocks.ravel(), GGMLQuantizationType.Q4_0)
    np.testing.assert_array_equal(out, d * q)


def test_ggml_6bit_layout_matches_llama_cpp_q6_k() -> None:
    """A Q6_K super-block built from our ggml ql/qh dequantizes (gguf-py) to d * (u - 32)."""
    q = np.random.default_rng(1).integers(-32, 32, size=256)
    ql, qh = pack_6bit(to_unsigned(q, 6), "ggml")
    sub_scales = np.ones(16, dtype=np.int8).view(np.uint8)
    block = np.concatenate([ql, qh, sub_scales, fp16_bytes(0.5)])
    assert block.size == ggml.FORMATS["Q6_K"].block_bytes
    out = quants.dequantize(block, GGMLQuantizationType.Q6_K)
    np.testing.assert_array_equal(out, 0.5 * q)
