"""llama.cpp's Q4_K_M recipe: which type each tensor gets, and the model's size."""

import random

import pytest

from quantviz import recipe
from quantviz.recipe import TensorSpec, q4_k_m, summarize, use_more_bits


def by_name(choices):
    return {c.name: c for c in choices}


def dense_layout(n_layers=8, n_embd=256, n_ff=512, n_vocab=1024, output=True, ne0=None):
    """A small llama-style model; `ne0` overrides the row length of the attention weights."""
    e = ne0 or n_embd
    specs = [TensorSpec("token_embd.weight", (n_embd, n_vocab))]
    for i in range(n_layers):
        b = f"blk.{i}."
        specs += [
            TensorSpec(b + "attn_norm.weight", (n_embd,)),
            TensorSpec(b + "attn_q.weight", (e, n_embd)),
            TensorSpec(b + "attn_k.weight", (e, n_embd)),
            TensorSpec(b + "attn_v.weight", (e, n_embd)),
            TensorSpec(b + "attn_output.weight", (n_embd, n_embd)),
            TensorSpec(b + "ffn_gate.weight", (n_embd, n_ff)),
            TensorSpec(b + "ffn_up.weight", (n_embd, n_ff)),
            TensorSpec(b + "ffn_down.weight", (n_ff, n_embd)),
        ]
    specs.append(TensorSpec("output_norm.weight", (n_embd,)))
    if output:
        specs.append(TensorSpec("output.weight", (n_embd, n_vocab)))
    return specs


@pytest.mark.parametrize(
    ("n", "layers"),
    [
        (35, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 31, 32, 33, 34]),
        (32, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]),
        (8, [0, 3, 6, 7]),
    ],
)
def test_use_more_bits_layers(n, layers):
    """use_more_bits picks the first and last eighth and every third layer between."""
    assert [i for i in range(n) if use_more_bits(i, n)] == layers


def test_gemma_like_layout_choices():
    """Tied embedding Q6_K, norms F32, attn_v/ffn_down Q6_K only in use_more_bits layers."""
    choices = by_name(q4_k_m(recipe.gemma_like_layout()))
    assert "output.weight" not in choices
    assert choices["token_embd.weight"].qtype == "Q6_K"
    assert choices["output_norm.weight"].qtype == "F32"
    assert choices["blk.0.attn_q_norm.weight"].qtype == "F32"
    assert choices["blk.7.attn_q.weight"].qtype == "Q4_K"
    assert choices["blk.7.ffn_up.weight"].qtype == "Q4_K"
    more = [i for i in range(35) if use_more_bits(i, 35)]
    for i in range(35):
        want = "Q6_K" if i in more else "Q4_K"
        assert choices[f"blk.{i}.attn_v.weight"].qtype == want
        assert choices[f"blk.{i}.ffn_down.weight"].qtype == want
    assert "use_more_bits holds" in choices["blk.6.attn_v.weight"].reason
    assert "does not hold" in choices["blk.7.ffn_down.weight"].reason
    assert "approximation" in recipe.GEMMA_LIKE_LABEL


def test_gemma_like_summary():
    """The summary counts tensors and bytes per type; average bits = bytes * 8 / weights."""
    s = summarize(q4_k_m(recipe.gemma_like_layout()))
    assert {t: v.count for t, v in s.by_type.items()} == {"Q4_K": 211, "Q6_K": 35, "F32": 211}
    assert s.n_bytes == sum(v.n_bytes for v in s.by_type.values())
    assert s.n_weights == sum(v.n_weights for v in s.by_type.values())
    assert s.bits_per_weight == pytest.approx(s.n_bytes * 8 / s.n_weights)
    assert 4.5 < s.bits_per_weight < 6.5625
    embd = s.by_type["Q6_K"]
    assert embd.n_bytes == embd.n_weights // 256 * 210


def test_separate_output_weight_gets_q6_k_and_embedding_stays_default():
    """With output.weight present, it gets Q6_K and the token embedding the default Q4_K."""
    choices = by_name(q4_k_m(dense_layout()))
    assert choices["output.weight"].qtype == "Q6_K"
    assert choices["token_embd.weight"].qtype == "Q4_K"
    tied = by_name(q4_k_m(dense_layout(output=False)))
    assert tied["token_embd.weight"].qtype == "Q6_K"
    assert "no output.weight" in tied["token_embd.weight"].reason


def test_rows_not_a_multiple_of_256_fall_back():
    """ne0 % 256 != 0: Q4_K falls back to Q5_0 and Q6_K to Q8_0; ne0 % 32 != 0 gives F16."""
    choices = by_name(q4_k_m(dense_layout(n_embd=1152, ne0=1152)))
    assert choices["blk.1.attn_q.weight"].qtype == "Q5_0"
    assert choices["blk.0.attn_v.weight"].qtype == "Q8_0"  # use_more_bits layer
    assert choices["blk.1.attn_v.weight"].qtype == "Q5_0"
    assert choices["output.weight"].qtype == "Q8_0"
    assert "1152" in choices["blk.1.attn_q.weight"].reason
    odd = by_name(q4_k_m([("blk.0.attn_q.weight", (100, 256)), ("output.weight", (100, 64))]))
    assert odd["blk.0.attn_q.weight"].qtype == "F16"
    assert odd["output.weight"].qtype == "F16"


def test_api_show_entries_are_accepted():
    """/api/show tensor dicts work; 1-padded 1-D shapes count as 1-D and keep their type."""
    tensors = [
        {"name": "token_embd.weight", "type": "Q6_K", "shape": [256, 1024]},
        {"name": "blk.0.attn_norm.weight", "type": "F32", "shape": [256, 1, 1, 1]},
        {"name": "blk.0.attn_v.weight", "type": "Q6_K", "shape": [256, 256]},
        {"name": "blk.0.ffn_gate_inp.weight", "type": "F16", "shape": [256, 8]},
    ]
    choices = by_name(q4_k_m(tensors))
    assert choices["blk.0.attn_norm.weight"].qtype == "F32"
    assert choices["blk.0.ffn_gate_inp.weight"].qtype == "F16"
    assert "never quantized" in choices["blk.0.ffn_gate_inp.weight"].reason
    assert choices["token_embd.weight"].qtype == "Q6_K"


def test_result_keeps_input_order_but_does_not_depend_on_it():
    """Choices come back in the input order, and shuffling the input changes no choice."""
    specs = dense_layout(n_layers=12)
    choices = q4_k_m(specs)
    assert [c.name for c in choices] == [s.name for s in specs]
    shuffled = specs[:]
    random.Random(0).shuffle(shuffled)
    assert by_name(q4_k_m(shuffled)) == by_name(choices)


def test_layers_count_numerically_not_as_strings():
    """attn_v of blk.10 is layer 10 (llama.cpp sorts by layer number, not by name)."""
    choices = by_name(q4_k_m(dense_layout(n_layers=16)))  # use_more_bits: 0, 1, 4, 7, 10, 13-15
    assert choices["blk.10.attn_v.weight"].qtype == "Q6_K"
    assert choices["blk.2.attn_v.weight"].qtype == "Q4_K"
    assert choices["blk.10.ffn_down.weight"].qtype == "Q6_K"


def test_n_layers_can_be_given():
    """ffn_down follows the block count given, not the one guessed from the names."""
    specs = [TensorSpec(f"blk.{i}.ffn_down.weight", (512, 256)) for i in range(4)]
    assert [c.qtype for c in q4_k_m(specs)] == ["Q4_K", "Q4_K", "Q6_K", "Q6_K"]  # n = 4
    assert [c.qtype for c in q4_k_m(specs, n_layers=16)] == ["Q6_K", "Q6_K", "Q4_K", "Q4_K"]


def test_bits_and_bytes_per_type():
    """Per-tensor bits come from gguf's table: F32 32, Q5_0 5.5, Q8_0 8.5, Q4_K 4.5, Q6_K 6.5625."""
    shape = (256, 64)
    got = {t: recipe.TensorChoice("t", shape, t, "").bits_per_weight for t in recipe.FALLBACK}
    got.update(
        {t: recipe.TensorChoice("t", shape, t, "").bits_per_weight for t in ("F32", "Q5_0", "Q8_0")}
    )
    assert got == {"Q4_K": 4.5, "Q6_K": 6.5625, "F32": 32.0, "Q5_0": 5.5, "Q8_0": 8.5}
    assert recipe.TensorChoice("t", shape, "Q4_K", "").n_bytes == 256 * 64 // 256 * 144
    assert recipe.TensorChoice("t", shape, "F32", "").n_bytes == 256 * 64 * 4
