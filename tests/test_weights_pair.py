"""The Q4 and Q6 file paired: the same model check, tiles, and statistics over all weights."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType
from gguf import quants as gguf_quants
from gguf_pair import TinyModel, tiny_layout, write_pair

from quantviz.quant.recipe import TensorSpec
from quantviz.weights.errors import ModelMismatchError, TensorTypeError, UnknownTensorError
from quantviz.weights.gguf_file import open_gguf
from quantviz.weights.pair import (
    TILE_COLS,
    TILE_ROWS,
    ModelPair,
    PairedTensor,
    default_tensor,
    pair_models,
    tile_origin,
)
from quantviz.weights.stats import model_stats, tensor_stats, total_weights


@pytest.fixture(scope="module")
def pair(tiny_pair: TinyModel) -> ModelPair:
    return pair_models(open_gguf(tiny_pair.q4), open_gguf(tiny_pair.q6))


def _gguf(raw: np.ndarray, qtype: str) -> np.ndarray:
    """gguf's own dequantization, the oracle for every value below."""
    return gguf_quants.dequantize(np.asarray(raw), GGMLQuantizationType[qtype]).astype(np.float64)


def test_pairing_lists_both_types_of_every_tensor(pair: ModelPair, tiny_pair: TinyModel) -> None:
    """Each tensor appears once with its type in the Q4 file and in the Q6 file."""
    assert [t.name for t in pair.tensors] == [s.name for s in tiny_pair.specs]
    for t in pair.tensors:
        assert (t.q4_type, t.q6_type) == (tiny_pair.types_q4[t.name], tiny_pair.types_q6[t.name])
    assert not pair.tensor("blk.0.attn_norm.weight").tileable  # F32 in both: no super-blocks
    assert pair.tensor("token_embd.weight").tileable
    with pytest.raises(UnknownTensorError, match="no tensor"):
        pair.tensor("blk.9.attn_q.weight")


def test_default_tensor_is_a_q4_k_tensor_of_layer_0(pair: ModelPair) -> None:
    """The view opens on the first Q4_K tensor of layer 0 (the attention query weights here)."""
    name = default_tensor(pair.tensors)
    assert name == "blk.0.attn_q.weight"
    assert pair.tensor(name).q4_type == "Q4_K" and pair.tensor(name).layer == 0


def test_files_of_different_models_are_refused(tiny_pair: TinyModel, tmp_path: Path) -> None:
    """Different tensor names, or the same names with other shapes, name the culprit."""
    fewer = write_pair(tmp_path / "fewer", specs=tiny_layout(n_layers=2))
    with pytest.raises(ModelMismatchError, match=r"names differ.*only model-q6_k\.gguf has blk\.2"):
        pair_models(open_gguf(fewer.q4), open_gguf(tiny_pair.q6))
    wider = [
        TensorSpec(s.name, (512, 256)) if s.name == "blk.0.attn_q.weight" else s
        for s in tiny_layout()
    ]
    other = write_pair(tmp_path / "wider", specs=wider)
    with pytest.raises(ModelMismatchError, match=r"blk\.0\.attn_q\.weight is 512 × 256"):
        pair_models(open_gguf(other.q4), open_gguf(tiny_pair.q6))


def test_tile_origin_stays_inside_the_tensor() -> None:
    """A tile centres its rows on the asked row, spans the super-block of the asked column."""
    t = PairedTensor("x", (1024, 300), "Q4_K", "Q6_K")  # rows of 1024, 300 rows
    assert tile_origin(t, 100, 700) == (100 - TILE_ROWS // 2, 512, TILE_ROWS, TILE_COLS)
    assert tile_origin(t, 0, 0) == (0, 0, TILE_ROWS, TILE_COLS)
    assert tile_origin(t, 299, 1023) == (300 - TILE_ROWS, 768, TILE_ROWS, TILE_COLS)
    assert tile_origin(t, -5, 99999) == (0, 768, TILE_ROWS, TILE_COLS)
    small = PairedTensor("y", (64, 4), "Q8_0", "Q8_0")  # 4 rows of 64
    assert tile_origin(small, 3, 40) == (0, 0, 4, 64)


def test_a_tile_is_the_tensors_real_super_blocks(pair: ModelPair) -> None:
    """A tile's weights equal gguf's dequantization of the whole tensor, sliced."""
    name = "blk.1.ffn_down.weight"  # rows of 512: two super-blocks per row
    t = pair.tensor(name)
    tile = pair.tile(name, 100, 300)
    assert (tile.row0, tile.col0, tile.rows, tile.cols) == (92, 256, 16, 256)
    whole4 = _gguf(pair.q4.rows(name), t.q4_type)
    whole6 = _gguf(pair.q6.rows(name), t.q6_type)
    np.testing.assert_array_equal(tile.values("Q4"), whole4[92:108, 256:512])
    np.testing.assert_array_equal(tile.values("Q6"), whole6[92:108, 256:512])
    assert tile.blocks_per_row("Q4") == 1
    np.testing.assert_array_equal(tile.block("Q6", 3), pair.q6.rows(name)[95, 210:420])
    with pytest.raises(TensorTypeError, match="no super-blocks"):
        pair.tile("blk.0.attn_norm.weight")


def test_stats_match_numpy_on_the_dequantized_weights(pair: ModelPair) -> None:
    """Mean, RMS, extremes and the Q4 - Q6 difference equal numpy's over gguf's values."""
    for name in ("blk.0.attn_q.weight", "blk.1.ffn_down.weight", "token_embd.weight"):
        t = pair.tensor(name)
        a = _gguf(pair.q4.rows(name), t.q4_type).ravel()
        b = _gguf(pair.q6.rows(name), t.q6_type).ravel()
        s = tensor_stats(pair, name, chunk_weights=5000)  # many chunks, one partial row
        assert s.n == b.size == t.n_weights
        assert s.ref_mean == pytest.approx(b.mean(), abs=1e-7)
        assert s.ref_rms == pytest.approx(np.sqrt(np.mean(b * b)), rel=1e-5)
        assert (s.ref_min, s.ref_max) == (b.min(), b.max())
        assert s.q4_rms == pytest.approx(np.sqrt(np.mean(a * a)), rel=1e-5)
        assert s.diff_rms == pytest.approx(np.sqrt(np.mean((a - b) ** 2)), rel=1e-5, abs=1e-12)
        assert s.diff_maxabs == pytest.approx(np.abs(a - b).max(), rel=1e-6, abs=1e-12)
        flat = int(np.abs(b).argmax())
        assert (s.absmax_row, s.absmax_col) == divmod(flat, t.row_length)


def test_stats_track_the_float_source_within_quantization_error(
    pair: ModelPair, tiny_pair: TinyModel
) -> None:
    """Against the float weights the files came from: the outlier's place, mean and spread."""
    name = "blk.0.ffn_gate.weight"
    w = tiny_pair.floats(name).astype(np.float64)
    s = tensor_stats(pair, name)
    row, col = np.unravel_index(np.abs(w).argmax(), w.shape)
    assert (s.absmax_row, s.absmax_col) == (int(row), int(col))
    assert s.ref_absmax == pytest.approx(np.abs(w).max(), rel=0.02)
    assert s.ref_mean == pytest.approx(w.mean(), abs=2e-4)
    assert s.ref_std == pytest.approx(w.std(), rel=0.02)
    # Q4_K's error against Q6_K is about its own rounding error: a few percent of RMS(w)
    assert 0.02 < s.relative_diff < 0.2


def test_q6_k_in_both_files_means_zero_difference(pair: ModelPair, tiny_pair: TinyModel) -> None:
    """Every tensor the recipe made Q6_K (and every F32 norm) has a difference of exactly 0."""
    stats = model_stats(pair)
    assert list(stats) == [s.name for s in tiny_pair.specs]
    for name, s in stats.items():
        same_type = tiny_pair.types_q4[name] == tiny_pair.types_q6[name]
        assert s.same_bytes is same_type, name
        if same_type:
            assert (s.diff_rms, s.diff_maxabs) == (0.0, 0.0), name
            assert s.q4_rms == s.ref_rms
        else:
            assert s.diff_rms > 0, name
    recipe_q6 = [n for n, t in tiny_pair.types_q4.items() if t == "Q6_K"]
    assert sorted(recipe_q6) == [
        "blk.2.attn_v.weight",
        "blk.2.ffn_down.weight",
        "token_embd.weight",
    ]
    assert total_weights(pair) == sum(s.n_weights for s in tiny_pair.specs)


def test_chunks_bound_the_memory_and_not_the_result(pair: ModelPair) -> None:
    """Reading in small chunks allocates far less than the tensor, and gives the same stats."""
    name = "blk.0.ffn_up.weight"  # Q4_K vs Q6_K, 131072 weights: 512 kB per file as float32
    whole = tensor_stats(pair, name)
    progress: list[int] = []
    tracemalloc.start()
    chunked = tensor_stats(pair, name, chunk_weights=4096, progress=progress.append)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 131072 * 4 / 2  # under half of one file's float32 copy of the tensor
    assert sum(progress) == 131072 and len(progress) == 131072 // 4096
    assert chunked.ref_rms == pytest.approx(whole.ref_rms, rel=1e-6)  # float32 partial sums
    assert chunked.diff_rms == pytest.approx(whole.diff_rms, rel=1e-6)
    assert (chunked.ref_min, chunked.ref_max) == (whole.ref_min, whole.ref_max)
    assert (chunked.absmax_row, chunked.absmax_col) == (whole.absmax_row, whole.absmax_col)
