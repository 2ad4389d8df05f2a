"""Deployment-decision math: KV cache size, fit against a budget, and the reasoned choice."""

from __future__ import annotations

import numpy as np
import pytest

from quantviz.decision.facts import BUILTIN_LAYOUT, builtin_weights_bytes
from quantviz.decision.memory import (
    OLLAMA,
    TEXTBOOK,
    KVLayout,
    LayoutError,
    assumptions,
    decision_text,
    fit,
    fit_tags,
    kv_cache_bytes,
    layout_from_model_info,
    max_context,
    recommend,
)
from quantviz.units import GB, format_bytes, format_tokens

LABELS = {"q4": "Q4", "q6": "Q6"}


def two_layer_swa() -> KVLayout:
    """Layer 0 sliding (window 4, head dim 8), layer 1 full (head dim 16); 2 KV heads each."""
    return KVLayout(
        n_layers=2,
        kv_heads=(2, 2),
        key_length=(8, 16),
        value_length=(8, 16),
        sliding=(True, False),
        sliding_window=4,
        context_length=1000,
    )


def test_kv_cache_hand_checked_small_example() -> None:
    """2 (K,V) × 2 layers × 2 heads × 4 dims × 10 tokens × 2 bytes (f16) = 640 bytes."""
    layout = KVLayout.uniform(n_layers=2, kv_heads=2, head_dim=4)
    assert kv_cache_bytes(layout, 10, sizing=TEXTBOOK) == 2 * 2 * 2 * 4 * 10 * 2 == 640


def test_kv_cache_llama2_7b_is_two_gib_at_4k() -> None:
    """Llama-2-7B (32 layers, 32 KV heads, head dim 128) at 4096 tokens in f16 is exactly 2 GiB."""
    layout = KVLayout.uniform(n_layers=32, kv_heads=32, head_dim=128)
    assert kv_cache_bytes(layout, 4096) == 2 * 1024**3
    assert kv_cache_bytes(layout, 4096, sizing=TEXTBOOK) == 2 * 1024**3  # 4096 cells either way


def test_cache_type_and_parallel_slots_scale_the_cache() -> None:
    """q8_0 stores 34 bytes per 32 values; parallel slots multiply the cache (textbook cells)."""
    layout = KVLayout.uniform(n_layers=1, kv_heads=1, head_dim=32)
    assert kv_cache_bytes(layout, 1, cache_type="f16", sizing=TEXTBOOK) == 128
    assert kv_cache_bytes(layout, 1, cache_type="q8_0", sizing=TEXTBOOK) == 68
    assert kv_cache_bytes(layout, 1, cache_type="q4_0", sizing=TEXTBOOK) == 36
    assert kv_cache_bytes(layout, 10, parallel=3, sizing=TEXTBOOK) == 3 * kv_cache_bytes(
        layout, 10, sizing=TEXTBOOK
    )
    with pytest.raises(ValueError, match="unknown cache type 'q3'"):
        kv_cache_bytes(layout, 1, cache_type="q3")


def test_sliding_window_layers_stop_growing_at_the_window() -> None:
    """Textbook cells: a sliding layer caches min(context, window) tokens, a full layer every
    token."""
    layout = two_layer_swa()
    # per token: sliding 2×(8+8)=32 elements, full 2×(16+16)=64 elements; 2 bytes each
    assert kv_cache_bytes(layout, 3, sizing=TEXTBOOK) == (32 * 3 + 64 * 3) * 2
    assert kv_cache_bytes(layout, 10, sizing=TEXTBOOK) == (32 * 4 + 64 * 10) * 2


def test_shared_kv_layers_store_nothing() -> None:
    """The last `shared_kv_layers` layers reuse an earlier cache and add no bytes."""
    base = KVLayout.uniform(4, 1, 8)
    shared = KVLayout(
        4, base.kv_heads, base.key_length, base.value_length, base.sliding, shared_kv_layers=1
    )
    assert kv_cache_bytes(shared, 100) == kv_cache_bytes(base, 100) * 3 // 4


def test_layout_validation_messages() -> None:
    """Inconsistent layouts are refused with a message naming the problem."""
    with pytest.raises(LayoutError, match="kv_heads has 1 entries for 2 layers"):
        KVLayout(2, (1,), (8, 8), (8, 8), (False, False))
    with pytest.raises(LayoutError, match="need a sliding_window"):
        KVLayout(1, (1,), (8,), (8,), (True,))


def test_layout_from_llama_style_metadata() -> None:
    """Scalar block count, KV heads and key/value lengths give a uniform layout."""
    info = {
        "general.architecture": "llama",
        "llama.block_count": 32,
        "llama.attention.head_count": 32,
        "llama.attention.head_count_kv": 8,
        "llama.attention.key_length": 128,
        "llama.attention.value_length": 128,
        "llama.context_length": 131072,
    }
    layout = layout_from_model_info(info)
    assert layout == KVLayout.uniform(
        32, 8, 128, context_length=131072, source="model metadata (/api/show)"
    )
    assert not layout.approximate


def test_layout_derives_head_dim_when_key_length_is_absent() -> None:
    """Without key_length, head dim = embedding_length / head_count, and a note says so."""
    info = {
        "general.architecture": "qwen2",
        "qwen2.block_count": 2,
        "qwen2.embedding_length": 1024,
        "qwen2.attention.head_count": 16,
        "qwen2.attention.head_count_kv": 2,
    }
    layout = layout_from_model_info(info)
    assert layout.key_length == (64, 64) and layout.value_length == (64, 64)
    assert any("derived" in n for n in layout.notes)


def test_layout_from_gemma_style_metadata_with_per_layer_arrays() -> None:
    """Per-layer KV heads, a boolean SWA pattern and _swa key lengths are honoured."""
    info = {
        "general.architecture": "gemma4",
        "gemma4.block_count": 3,
        "gemma4.attention.head_count": 8,
        "gemma4.attention.head_count_kv": [1, 1, 2],
        "gemma4.attention.key_length": 512,
        "gemma4.attention.value_length": 512,
        "gemma4.attention.key_length_swa": 256,
        "gemma4.attention.value_length_swa": 256,
        "gemma4.attention.sliding_window": 512,
        "gemma4.attention.sliding_window_pattern": [True, True, False],
        "gemma4.attention.shared_kv_layers": 1,
        "gemma4.context_length": 131072,
    }
    layout = layout_from_model_info(info)
    assert layout.kv_heads == (1, 1, 2)
    assert layout.sliding == (True, True, False)
    assert layout.key_length == (256, 256, 512)
    assert layout.shared_kv_layers == 1
    # layers 0 and 1 store: 1 × (256+256) × min(ctx, 512) each; layer 2 is shared
    assert kv_cache_bytes(layout, 2048, sizing=TEXTBOOK) == 2 * (512 * 512) * 2
    # as Ollama runs llama.cpp they hold PAD256(min(2048, 512 + 512)) = 1024 cells each
    assert kv_cache_bytes(layout, 2048) == 2 * (512 * 1024) * 2


def test_integer_swa_pattern_marks_every_nth_layer_full() -> None:
    """An integer pattern n makes layers n-1, 2n-1, ... full attention (llama.cpp's rule)."""
    info = {
        "general.architecture": "g",
        "g.block_count": 6,
        "g.attention.head_count_kv": 1,
        "g.attention.key_length": 4,
        "g.attention.sliding_window": 8,
        "g.attention.sliding_window_pattern": 3,
    }
    assert layout_from_model_info(info).sliding == (True, True, False, True, True, False)


def test_window_without_pattern_is_counted_conservatively() -> None:
    """A window without a layer pattern counts every layer at full context and says so."""
    info = {
        "general.architecture": "g",
        "g.block_count": 2,
        "g.attention.head_count_kv": 1,
        "g.attention.key_length": 4,
        "g.attention.sliding_window": 8,
    }
    layout = layout_from_model_info(info)
    assert layout.sliding == (False, False)
    assert any("overestimate" in n for n in layout.notes)


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({}, "no general.architecture"),
        ({"general.architecture": "x"}, "no x.block_count"),
        ({"general.architecture": "x", "x.block_count": 2}, "no x.attention.head_count_kv"),
        (
            {"general.architecture": "x", "x.block_count": 2, "x.attention.head_count_kv": [1]},
            "lists 1 values for 2 layers",
        ),
        (
            {"general.architecture": "x", "x.block_count": 2, "x.attention.head_count_kv": 1},
            "neither x.attention.key_length nor embedding_length",
        ),
    ],
)
def test_missing_metadata_is_named(info: dict[str, object], message: str) -> None:
    """Each missing or inconsistent metadata key raises LayoutError naming it."""
    with pytest.raises(LayoutError, match=message):
        layout_from_model_info(info)


@pytest.mark.parametrize("sizing", [TEXTBOOK, OLLAMA], ids=["textbook", "ollama"])
def test_max_context_is_the_exact_inverse_of_kv_size(sizing) -> None:
    """On seeded random layouts, budgets and slot counts, kv(max) fits and kv(max + 1) does
    not, for textbook cells and for Ollama's padded ones."""
    rng = np.random.default_rng(42)
    for _ in range(300):
        n = int(rng.integers(1, 6))
        sliding = tuple(bool(s) for s in rng.integers(0, 2, size=n))
        layout = KVLayout(
            n_layers=n,
            kv_heads=tuple(int(h) for h in rng.integers(0, 4, size=n)),
            key_length=tuple(int(k) for k in rng.integers(1, 64, size=n)),
            value_length=tuple(int(v) for v in rng.integers(1, 64, size=n)),
            sliding=sliding,
            sliding_window=int(rng.integers(1, 50)) if any(sliding) else None,
        )
        cache_type = str(rng.choice(["f16", "q8_0", "q4_0"]))
        available = int(rng.integers(0, 200_000))
        kw = {"cache_type": cache_type, "sizing": sizing, "parallel": int(rng.integers(1, 4))}
        best = max_context(layout, available, **kw)
        assert kv_cache_bytes(layout, best, **kw) <= available
        if best < 1 << 24:
            assert kv_cache_bytes(layout, best + 1, **kw) > available


def test_max_context_is_capped_by_the_model() -> None:
    """A generous budget stops at the model's context length; a negative budget gives 0."""
    layout = two_layer_swa()
    assert max_context(layout, 10**12) == 1000
    assert max_context(layout, -1) == 0


def test_fit_reports_headroom_and_max_context() -> None:
    """fit adds weights, KV and overhead and compares with the budget (textbook cells)."""
    layout = KVLayout.uniform(2, 2, 4, context_length=10_000)  # 64 bytes per token
    ok = fit(
        2_000,
        10,
        weights_bytes=1_000,
        layout=layout,
        tag="q4",
        label="Q4",
        overhead_bytes=100,
        sizing=TEXTBOOK,
    )
    assert ok.kv_bytes == 640 and ok.total_bytes == 1_740
    assert ok.fits and ok.headroom_bytes == 260 and ok.shortfall_bytes == 0
    assert ok.max_context == (2_000 - 1_000 - 100) // 64
    short = fit(1_500, 10, weights_bytes=1_000, layout=layout, tag="q6", sizing=TEXTBOOK)
    assert not short.fits and short.shortfall_bytes == 140 and short.label == "q6"
    none = fit(900, 10, weights_bytes=1_000, layout=layout)
    assert none.max_context == 0
    assert fit(10**9, 10, weights_bytes=1, layout=layout).max_context_is_model_limit


def test_builtin_layout_says_where_it_comes_from() -> None:
    """The built-in layout names itself and the assumptions say f16, GB, the window, the padding
    and the shared layers; the built-in Q6 weights are larger than the Q4 ones."""
    assert not BUILTIN_LAYOUT.approximate
    text = " ".join(assumptions(BUILTIN_LAYOUT))
    assert "built-in Gemma 4 E2B layout" in text and "f16 (2 bytes per element" in text
    assert "10^9 bytes" in text and "512 tokens" in text
    assert "rounded up to a multiple of 256" in text and "window + 512" in text
    assert "the last 20 layers reuse an earlier layer's cache and hold none" in text
    assert "summed over the 15 layers that hold a cache" in text
    weights = builtin_weights_bytes()
    assert set(weights) == {"Q4", "Q6"}
    assert weights["Q4"] < weights["Q6"]


def test_assumptions_mention_overhead_and_parallel_slots() -> None:
    """Overhead and parallel slots appear in the assumptions when they are used."""
    text = " ".join(
        assumptions(
            KVLayout.uniform(1, 1, 8), overhead_bytes=500_000_000, parallel=4, cache_type="q8_0"
        )
    )
    assert "500 MB" in text and "4 parallel" in text and "q8_0 (1.0625 bytes" in text


def builtin_fits(budget: int, context: int) -> list:
    sizes = builtin_weights_bytes()
    weights = {"q4": sizes["Q4"], "q6": sizes["Q6"]}
    return fit_tags(budget, context, weights, layout=BUILTIN_LAYOUT, labels=LABELS)


def test_decision_when_only_q4_fits() -> None:
    """Only Q4 fits: the text gives its speed and probe score and how much more Q6 needs."""
    fits = builtin_fits(3_500_000_000, 8192)
    text = decision_text(
        fits, tokens_per_s={"q4": 41.3, "q6": 35.0}, probe_passes={"q4": (7, 8), "q6": (8, 8)}
    )
    assert text.startswith("Q4 fits with 8k context")
    assert "at 41.3 tok/s with 7 of 8 probe checks" in text
    assert f"Q6 needs {format_bytes(fits[1].shortfall_bytes)} more" in text
    assert text.endswith("Choose Q4: it is the only one that fits 3.50 GB at 8k context.")


def test_decision_prefers_quality_when_both_fit() -> None:
    """Both fit: more probe checks passed wins when the probe can tell the tags apart (1 of 20
    against 19 of 20: Wilson intervals 0.9-23.6 % and 76.4-99.1 %), with the memory it costs
    named."""
    fits = builtin_fits(8 * GB, 8192)
    text = decision_text(
        fits, tokens_per_s={"q4": 41.3, "q6": 35.0}, probe_passes={"q4": (1, 20), "q6": (19, 20)}
    )
    assert "Choose Q6: both fit, and Q6 passes more probe checks (19 vs 1)" in text
    choice = recommend(fits, probe_passes={"q4": (1, 20), "q6": (19, 20)})
    assert choice is not None and choice.tag == "q6"


def test_a_probe_difference_within_noise_does_not_decide() -> None:
    """6 of 8 against 8 of 8 overlap (Wilson 95 %: 40.9-92.9 % and 67.6-100 %, by hand): the
    text says the probe cannot tell them apart and the choice falls to speed."""
    fits = builtin_fits(8 * GB, 8192)
    passes = {"q4": (6, 8), "q6": (8, 8)}
    text = decision_text(fits, tokens_per_s={"q4": 41.3, "q6": 35.0}, probe_passes=passes)
    assert "Choose Q4: both fit, and the probe cannot tell apart" in text
    assert "Q4 6 of 8, 95 % interval 40–93 %; Q6 8 of 8, 95 % interval 67–100 %" in text
    assert "Q4 is faster (41.3 vs 35.0 tok/s)" in text
    choice = recommend(fits, probe_passes=passes)
    assert choice is not None and choice.tag == "q4"  # smaller, no speed given


def test_equal_small_counts_are_not_called_a_real_tie() -> None:
    """1 of 8 against 1 of 8: the same share, and the text says the probe cannot tell them
    apart (Wilson 95 % for 1 of 8: 2.2-47.1 %, by hand)."""
    text = decision_text(builtin_fits(8 * GB, 8192), probe_passes={"q4": (1, 8), "q6": (1, 8)})
    assert "pass the same share of probe checks, which the probe cannot tell apart" in text
    assert "Q4 1 of 8, 95 % interval 2–48 %" in text


def test_decision_with_equal_quality_picks_the_faster() -> None:
    """Both fit with equal probe scores: the faster tag wins and the speeds are quoted."""
    text = decision_text(
        builtin_fits(8 * GB, 8192),
        tokens_per_s={"q4": 41.3, "q6": 35.0},
        probe_passes={"q4": (8, 8), "q6": (8, 8)},
    )
    assert "Choose Q4: both fit and pass the same share" in text and "41.3 vs 35.0" in text


def test_decision_without_measurements_says_what_is_missing() -> None:
    """No speed and no probe: each tag says so and the smaller one is chosen for headroom."""
    text = decision_text(builtin_fits(8 * GB, 4096))
    assert text.count("(speed not measured; probe not run)") == 2
    assert "Choose Q4" in text and "headroom" in text


def test_decision_when_nothing_fits_suggests_a_context() -> None:
    """Neither fits: the closest tag and a context that would fit are suggested."""
    fits = builtin_fits(3_600_000_000, 32768)
    text = decision_text(fits)
    assert "Neither fits 3.60 GB at 32k context: Q4 comes closest" in text
    assert f"reduce the context to {format_tokens(fits[0].max_context)} tokens" in text
    assert recommend(fits) is None
    assert "even the weights do not fit" in decision_text(builtin_fits(1 * GB, 8192))


# --------------------------------------------------------------------------------------------
# Gemma 4 E2B as a real Ollama serves it. The metadata below is written from the upstream sources
# cited in docs/model-facts.md (ollama convert/convert_gemma4.go keys, the E2B config in
# x/models/gemma4/gemma4_test.go), not from quantviz.

E2B_INFO = {
    "general.architecture": "gemma4",
    "gemma4.block_count": 35,
    "gemma4.context_length": 131072,
    "gemma4.embedding_length": 1536,
    "gemma4.attention.head_count": 8,
    "gemma4.attention.head_count_kv": 1,
    "gemma4.attention.key_length": 512,
    "gemma4.attention.value_length": 512,
    "gemma4.attention.key_length_swa": 256,
    "gemma4.attention.value_length_swa": 256,
    "gemma4.attention.sliding_window": 512,
    "gemma4.attention.sliding_window_pattern": [i % 5 != 4 for i in range(35)],
    "gemma4.attention.shared_kv_layers": 20,
}


def test_e2b_kv_cache_at_8k_f16_is_62_9_mb_by_hand() -> None:
    """E2B at 8192 tokens, f16, one slot, as Ollama runs llama.cpp (n_ubatch 512):
    only layers 0-14 hold a cache (35 - 20 shared); of those, 4, 9 and 14 are full attention
    (head 512) and 12 are sliding (head 256); 1 KV head everywhere.
    full:    3 layers × 8192 cells × (512 + 512) × 2 bytes = 50,331,648
    sliding: 12 layers × PAD256(min(8192, 512 + 512)) = 1024 cells × (256 + 256) × 2 = 12,582,912
    total 62,914,560 bytes = 62.9 MB (60 MiB), inside the issue's 57-63 MB."""
    layout = layout_from_model_info(E2B_INFO)
    assert kv_cache_bytes(layout, 8192) == 3 * 8192 * 1024 * 2 + 12 * 1024 * 512 * 2
    assert kv_cache_bytes(layout, 8192) == 62_914_560
    assert 57e6 <= kv_cache_bytes(layout, 8192) <= 63e6
    assert kv_cache_bytes(BUILTIN_LAYOUT, 8192) == 62_914_560  # the built-in layout agrees


def test_e2b_kv_cache_pads_short_contexts_and_counts_slots_by_hand() -> None:
    """300 tokens: cells PAD256(300) = 512 for full layers, PAD256(min(512, 512 + 300)) = 512 for
    sliding ones: 3 × 512 × 2048 + 12 × 512 × 1024 = 9,437,184.
    Two slots at 8192: n_ctx 16384, per slot PAD256(16384 / 2) = 8192 full cells and
    PAD256(min(8192, 512 + 512)) = 1024 sliding cells, twice: 2 × 62,914,560 = 125,829,120."""
    layout = layout_from_model_info(E2B_INFO)
    assert kv_cache_bytes(layout, 300) == 3 * 512 * 2048 + 12 * 512 * 1024 == 9_437_184
    assert kv_cache_bytes(layout, 8192, parallel=2) == 125_829_120
    assert kv_cache_bytes(layout, 0) == 0


def test_e2b_quantized_cache_types_by_hand() -> None:
    """The same 31,457,280 cached values at 8k: q8_0 stores 34 bytes per 32 values
    (33,423,360 bytes), q4_0 18 per 32 (17,694,720)."""
    layout = layout_from_model_info(E2B_INFO)
    values = 3 * 8192 * 1024 + 12 * 1024 * 512
    assert values == 31_457_280
    assert kv_cache_bytes(layout, 8192, cache_type="q8_0") == values * 34 // 32 == 33_423_360
    assert kv_cache_bytes(layout, 8192, cache_type="q4_0") == values * 18 // 32 == 17_694_720


def test_e2b_max_context_inverts_the_padded_size() -> None:
    """62,914,560 bytes hold exactly 8192 tokens (8193 needs 256 more full-attention cells);
    one byte less holds 7936, the next multiple of 256 down."""
    layout = layout_from_model_info(E2B_INFO)
    assert max_context(layout, 62_914_560) == 8192
    assert max_context(layout, 62_914_559) == 7936
    assert max_context(layout, 10**12) == 131072  # the model's own limit


def test_e2b_sliding_pattern_left_out_is_an_error_not_a_guess() -> None:
    """A non-verbose /api/show sends the per-layer pattern as null: the layout refuses to guess
    (the old code counted every layer at full context) and says to ask verbose."""
    info = dict(E2B_INFO, **{"gemma4.attention.sliding_window_pattern": None})
    with pytest.raises(LayoutError, match=r"sliding_window_pattern out .*verbose"):
        layout_from_model_info(info)


def test_malformed_layout_values_are_named() -> None:
    """A string or negative count in the metadata raises LayoutError naming the key."""
    with pytest.raises(LayoutError, match=r"gemma4\.block_count is '35'"):
        layout_from_model_info(dict(E2B_INFO, **{"gemma4.block_count": "35"}))
    with pytest.raises(LayoutError, match="head_count_kv is -1"):
        layout_from_model_info(dict(E2B_INFO, **{"gemma4.attention.head_count_kv": -1}))
