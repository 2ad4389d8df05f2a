"""llama.cpp's Q4_K_M recipe: which type each tensor gets, and the model's size."""

import random

import pytest
from layouts import gemma_like_layout

from quantviz.quant import gemma4_e2b, recipe
from quantviz.quant.recipe import RecipeError, TensorSpec, q4_k_m, summarize, use_more_bits


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
    choices = by_name(q4_k_m(gemma_like_layout()))
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
    assert "vision and audio towers" in gemma4_e2b.LABEL  # the built-in layout says what it lacks


def test_gemma_like_summary():
    """The summary counts tensors and bytes per type; average bits = bytes * 8 / weights."""
    s = summarize(q4_k_m(gemma_like_layout()))
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
    """ne0 % 256 != 0: Q4_K falls back to Q5_0 and Q6_K to Q8_0; ne0 % 32 != 0 gives F16 for
    those, while an output that needs Q8_0 has no fallback: llama-quantize stops."""
    choices = by_name(q4_k_m(dense_layout(n_embd=1152, ne0=1152)))
    assert choices["blk.1.attn_q.weight"].qtype == "Q5_0"
    assert choices["blk.0.attn_v.weight"].qtype == "Q8_0"  # use_more_bits layer
    assert choices["blk.1.attn_v.weight"].qtype == "Q5_0"
    assert choices["output.weight"].qtype == "Q8_0"
    assert "1152" in choices["blk.1.attn_q.weight"].reason
    odd = by_name(q4_k_m([("blk.0.attn_q.weight", (100, 256)), ("output.weight", (128, 64))]))
    assert odd["blk.0.attn_q.weight"].qtype == "F16"
    assert odd["output.weight"].qtype == "Q8_0"  # 128 % 256 != 0 but 128 % 32 == 0
    with pytest.raises(RecipeError, match="no tensor type fallback is defined for type q8_0"):
        q4_k_m([("blk.0.attn_q.weight", (100, 256)), ("output.weight", (100, 64))])


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


# --------------------------------------------------------------------------------------------
# Real tensor lists. The E2B files come from the project's Ollama test server, whose types are
# llama.cpp's rules implemented there independently of quantviz.quant.recipe; Llama 3.2 1B is
# written out below with its expected types derived by hand from llama-quant.cpp and matching a
# published Q4_K_M load log (f32 34, q4_K 96, q6_K 17): see docs/model-facts.md.

E2B_MORE_BITS = [
    0,
    1,
    2,
    3,
    6,
    9,
    12,
    15,
    18,
    21,
    24,
    27,
    30,
    31,
    32,
    33,
    34,
]  # use_more_bits(i, 35)


def server_file(quant):
    from ollama_server import e2b_model

    return e2b_model("t", quant).tensors


def entries(tensors):
    return [{"name": t.name, "type": t.type, "shape": list(t.shape)} for t in tensors]


@pytest.mark.parametrize("quant", ["Q4_K_M", "Q6_K"])
def test_e2b_real_file_has_exactly_the_recipe_types(quant):
    """Every tensor of the E2B file (text, per-layer embeddings, towers) gets from the recipe the
    type the file has: no false alarm on a real tag's list."""
    tensors = server_file(quant)
    choices = recipe.quantize_types(entries(tensors), quant, 35)
    assert [(c.name, c.qtype) for c in choices] == [(t.name, t.type) for t in tensors]


def test_e2b_q4_k_m_types_by_hand():
    """attn_v: 35 of them (towers hidden), Q6_K where use_more_bits(i, 35); ffn_down the same
    layers; both token embeddings Q6_K (tied); 36 Q6_K and 317 - 36 = 281 Q4_K text matrices;
    per_layer_model_proj left BF16."""
    choices = by_name(q4_k_m(entries(server_file("Q4_K_M")), 35))
    for i in range(35):
        want = "Q6_K" if i in E2B_MORE_BITS else "Q4_K"
        assert choices[f"blk.{i}.attn_v.weight"].qtype == want, i
        assert choices[f"blk.{i}.ffn_down.weight"].qtype == want, i
        assert choices[f"blk.{i}.attn_q.weight"].qtype == "Q4_K"
        assert choices[f"blk.{i}.inp_gate.weight"].qtype == "Q4_K"
    assert choices["token_embd.weight"].qtype == "Q6_K"
    ple = choices["per_layer_token_embd.weight"]
    assert ple.qtype == "Q6_K" and "per-layer embedding table" in ple.reason
    assert ple.shape == (8960, 262144) and ple.n_weights == 2_348_810_240
    proj = choices["per_layer_model_proj.weight"]
    assert proj.qtype == "BF16" and not proj.quantized and "never quantized" in proj.reason
    text = [c for c in choices.values() if not recipe.is_tower(c.name)]
    assert sum(c.qtype == "Q6_K" for c in text) == 36
    assert sum(c.qtype == "Q4_K" for c in text) == 281
    assert len(text) == 601  # the published E2B GGUF's text tensor count


def test_towers_are_kept_and_do_not_shift_the_counters():
    """v.*, a.* and mm.* tensors keep their type with a reason naming the towers, and removing
    them changes no text tensor's choice (their attn_v/ffn_down are not counted)."""
    tensors = entries(server_file("Q4_K_M"))
    with_towers = by_name(q4_k_m(tensors, 35))
    text_only = by_name(q4_k_m([t for t in tensors if not recipe.is_tower(t["name"])], 35))
    assert {n: c.qtype for n, c in with_towers.items() if n in text_only} == {
        n: c.qtype for n, c in text_only.items()
    }
    for name in ("v.blk.0.attn_v.weight", "a.blk.0.ffn_down.weight", "mm.input_projection.weight",
                 "a.blk.3.conv_dw.weight"):  # fmt: skip
        choice = with_towers[name]
        assert not choice.quantized and "towers" in choice.reason
    assert with_towers["a.blk.0.ffn_down.weight"].qtype == "BF16"
    assert with_towers["v.blk.0.attn_v.weight"].qtype == "F16"


def test_never_quantized_names_match_llama_cpp():
    """altup, laurel, per_layer_model_proj, routers and position embeddings stay as they are,
    whatever their shape."""
    names = [
        "blk.0.altup_proj.weight",
        "blk.0.laurel_l.weight",
        "per_layer_model_proj.weight",
        "blk.0.ffn_gate_inp.weight",
        "position_embd.weight",
        "blk.0.ssm_conv1d.weight",
    ]
    choices = q4_k_m([{"name": n, "type": "F16", "shape": [2048, 2048]} for n in names])
    assert [c.qtype for c in choices] == ["F16"] * len(names)
    assert all(not c.quantized for c in choices)


def llama_3_2_1b():
    """Llama 3.2 1B as llama.cpp's converter writes it: 16 blocks, n_embd 2048, 32 heads and 8
    KV heads of 64, FFN 8192, vocabulary 128256, tied embeddings, a rope_freqs table."""
    specs = [("token_embd.weight", (2048, 128256)), ("rope_freqs.weight", (32,)),
             ("output_norm.weight", (2048,))]  # fmt: skip
    for i in range(16):
        b = f"blk.{i}."
        specs += [
            (b + "attn_norm.weight", (2048,)),
            (b + "attn_q.weight", (2048, 2048)),
            (b + "attn_k.weight", (2048, 512)),
            (b + "attn_v.weight", (2048, 512)),
            (b + "attn_output.weight", (2048, 2048)),
            (b + "ffn_norm.weight", (2048,)),
            (b + "ffn_gate.weight", (2048, 8192)),
            (b + "ffn_up.weight", (2048, 8192)),
            (b + "ffn_down.weight", (8192, 2048)),
        ]
    return specs


def test_llama_3_2_1b_q4_k_m_matches_the_published_file():
    """By hand from llama-quant.cpp: use_more_bits(i, 16) holds for layers 0, 1, 4, 7, 10, 13,
    14, 15 (16 // 8 = 2, 7 * 16 // 8 = 14, (i - 2) % 3 == 2), so 8 attn_v and 8 ffn_down are
    Q6_K, plus the tied token_embd: 17 Q6_K; the other 7 × 16 - 16 = 96 matrices Q4_K; 34 F32
    vectors. The published Llama-3.2-1B-Instruct-Q4_K_M.gguf loads as f32 34, q4_K 96, q6_K 17."""
    choices = q4_k_m(llama_3_2_1b())
    counts = {t: sum(c.qtype == t for c in choices) for t in ("F32", "Q4_K", "Q6_K")}
    assert counts == {"F32": 34, "Q4_K": 96, "Q6_K": 17} and len(choices) == 147
    six = sorted(int(c.name.split(".")[1]) for c in choices
                 if c.name.endswith("attn_v.weight") and c.qtype == "Q6_K")  # fmt: skip
    assert six == [0, 1, 4, 7, 10, 13, 14, 15]
    assert by_name(choices)["token_embd.weight"].qtype == "Q6_K"


def test_e2b_expected_ratio_is_about_0_89_and_matches_the_server():
    """On the E2B text layout the two recipes predict a ratio of about 0.89 (the issue's figure),
    the same as the test server's independently quantized text tensors give."""
    from ollama_server import e2b_model

    expected = recipe.expected_sizes(gemma4_e2b.text_tensors(), 35)
    assert expected.ratio == pytest.approx(0.891, abs=0.001)

    def text_bytes(quant):
        return sum(t.n_bytes for t in e2b_model("t", quant).tensors if not recipe.is_tower(t.name))

    assert expected.q4_k_m.n_bytes == text_bytes("Q4_K_M")
    assert expected.q6_k.n_bytes == text_bytes("Q6_K")
    assert 0.55 < expected.q6_k_share < 0.7  # the two embedding tables alone are 59 %


def test_builtin_text_layout_matches_the_published_e2b_file():
    """601 tensors, 4.65 B weights (llama.cpp prints 'model params = 4.65 B' for the published
    E2B GGUF), per-layer FFN 6144 then 12288 from layer 15, heads 256/512."""
    specs = {s.name: s for s in gemma4_e2b.text_tensors()}
    assert len(specs) == 601
    assert sum(s.n_weights for s in specs.values()) / 1e9 == pytest.approx(4.65, abs=0.005)
    assert specs["blk.14.ffn_down.weight"].shape == (6144, 1536)
    assert specs["blk.15.ffn_down.weight"].shape == (12288, 1536)
    assert specs["blk.4.attn_k.weight"].shape == (1536, 512)
    assert specs["blk.5.attn_k.weight"].shape == (1536, 256)


def test_the_built_in_recipe_is_computed_once_and_cannot_change() -> None:
    """Every session's recipe view and the decision's built-in sizes read one computed result;
    nothing can alter it in place (its choices are a tuple, its type mix read-only)."""
    first = gemma4_e2b.recipe()
    assert gemma4_e2b.recipe() is first
    assert isinstance(first.choices, tuple) and len(first.choices) == 601
    with pytest.raises(TypeError):
        first.summary.by_type["Q4_K"] = first.summary.by_type["Q6_K"]  # type: ignore[index]
    assert first.summary == recipe.summarize(recipe.q4_k_m(gemma4_e2b.text_tensors()))
