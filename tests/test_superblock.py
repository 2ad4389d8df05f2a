"""One super-block under every scheme: the draw, codes, bytes, decoded blocks and the caption."""

from __future__ import annotations

import numpy as np
import pytest
from gguf import quants as gguf_quants

from quantviz.quant import ggml
from quantviz.quant.schemes import error_stats
from quantviz.quant.superblock import (
    block_fields,
    block_rows,
    draw_superblock,
    formula,
    hex_dump,
    outlier_caption,
    quantize_gguf,
    quantize_toy,
    sub_block_rows,
)


def test_draw_is_seeded_and_the_outlier_stands_out() -> None:
    """The same seed gives the same 256 weights; "outlier" puts one at 10-20 sigma."""
    normal = draw_superblock(4)
    assert normal.shape == (256,) and normal.dtype == np.float32
    np.testing.assert_array_equal(normal, draw_superblock(4))
    assert np.abs(normal).max() < 0.1
    outlier = draw_superblock(4, "outlier")
    assert 0.2 <= np.abs(outlier).max() <= 0.4
    with pytest.raises(ValueError):
        draw_superblock(4, "uniform")  # type: ignore[arg-type]  # on purpose


def test_gguf_result_is_llama_cpp_bytes_and_its_decoded_blocks() -> None:
    """quantize_gguf keeps ggml.quantize's bytes, one decoded block per 32 (Q4_0) or 256."""
    w = draw_superblock(2, "outlier")
    q40 = quantize_gguf(w, "Q4_0")
    np.testing.assert_array_equal(q40.data, ggml.quantize(w, "Q4_0"))
    np.testing.assert_array_equal(q40.w_hat, ggml.dequantize(ggml.quantize(w, "Q4_0"), "Q4_0"))
    assert (len(q40.blocks), q40.n_bytes, q40.bits_per_weight) == (8, 144, 4.5)
    q6k = quantize_gguf(w, "Q6_K")
    assert (len(q6k.blocks), q6k.n_bytes, q6k.sub_block) == (1, 210, 16)
    assert q6k.codes.min() >= 0 and q6k.codes.max() <= 63


def test_toy_stores_one_fp16_scale_and_packed_codes() -> None:
    """Toy int4: 2 + 128 bytes, 4 + 16/256 bits per weight, codes q + 8."""
    w = draw_superblock(2)
    toy = quantize_toy(w, 4)
    assert (toy.n_bytes, toy.bits_per_weight) == (130, 4.0625)
    assert toy.codes.min() >= 1 and toy.codes.max() <= 15
    np.testing.assert_allclose(toy.w_hat, (toy.codes - 8) * toy.scale)


def test_error_stats_and_snr() -> None:
    """RMSE, max error and SNR in dB; an exact copy has infinite SNR."""
    w = np.array([1.0, -1.0, 1.0, -1.0])
    stats = error_stats(w, w * 0.9)
    assert stats.rmse == pytest.approx(0.1)
    assert stats.max_error == pytest.approx(0.1)
    assert stats.snr_db == pytest.approx(20.0)
    assert error_stats(w, w).snr_db == float("inf")


def test_hex_dump_labels_every_field_of_a_q4_k_block() -> None:
    """Q4_K's 144 bytes split into d, dmin, scales and qs, 16 bytes a line after the offset."""
    fields = block_fields("Q4_K")
    assert fields == [("d", 2), ("dmin", 2), ("scales", 12), ("qs", 128)]
    assert block_fields("Q6_K") == [("ql", 128), ("qh", 64), ("scales", 16), ("d", 2)]
    data = ggml.quantize(draw_superblock(0), "Q4_K")
    lines = hex_dump(fields, data).splitlines()
    assert len(lines) == 3 + 8
    assert lines[0].split() == ["d", "(2", "B)", "000", *(f"{b:02x}" for b in data[:2])]
    assert lines[3].startswith("qs (128 B)") and lines[3].split()[3] == "010"
    assert lines[-1].split() == ["080", *(f"{b:02x}" for b in data[128:])]


def test_outlier_caption_is_computed_from_the_numbers() -> None:
    """The caption names the outlier, the toy scale, the weights rounded to 0 and Q4_K's RMSE."""
    w = draw_superblock(1, "outlier")
    toy, q4k = quantize_toy(w, 4), quantize_gguf(w, "Q4_K")
    text = outlier_caption(w, toy, q4k, 4, "outlier")
    i = int(np.abs(w).argmax())
    assert f"w[{i}]" in text
    assert f"{toy.scale:.3g}" in text
    assert f"{int(np.sum(toy.codes == 8))} of 256 weights round to 0" in text
    assert f"sub-block {i // 32}" in text
    assert f"{error_stats(w, q4k.w_hat).rmse:.3g}" in text


def test_scales_tables_follow_the_type_table() -> None:
    """Q4_K: a row per sub-block of 32 with its 6-bit scale and min and d·scale, dmin·min as
    llama.cpp decodes them (gguf's get_scale_min); Q6_K: int8 scales and no mins; Q4_0: a row
    per block of 32 with its fp16 d and that d's two bytes."""
    w = draw_superblock(3, "outlier")
    q4k = quantize_gguf(w, "Q4_K")
    rows = sub_block_rows(q4k.blocks[0])
    sc, m = gguf_quants.Q4_K.get_scale_min(q4k.data[4:16].reshape(1, 12))
    assert [r["6-bit scale"] for r in rows] == sc[0].tolist()
    assert [r["6-bit min"] for r in rows] == m[0].tolist()
    d = float(q4k.data[:2].view(np.float16)[0])
    assert rows[3]["d·scale"] == pytest.approx(d * sc[0][3])
    assert rows[7]["weights"] == "224–255"
    q6k = sub_block_rows(quantize_gguf(w, "Q6_K").blocks[0], 256, encodings=False)
    assert len(q6k) == 16 and "min" not in q6k[0] and q6k[1]["weights"] == "272–287"
    assert q6k[0]["scale"] == int(quantize_gguf(w, "Q6_K").data[192:193].view(np.int8)[0])
    q40 = quantize_gguf(w, "Q4_0")
    blocks = block_rows(q40)
    assert len(blocks) == 8 and blocks[1]["weights"] == "32–63"
    assert blocks[1]["d bytes"] == f"{q40.data[18]:02x} {q40.data[19]:02x}"


def test_formulas_come_from_the_type_table_and_the_toy_names_its_offset() -> None:
    """Each GGUF type's formula is its table entry's; the toy's offset is 2^(bits-1)."""
    assert formula("Q6_K", 4).startswith("ŵ = d · sc[s] · (q − 32)")
    assert formula("toy", 6) == "ŵ = scale · (code − 32)"
