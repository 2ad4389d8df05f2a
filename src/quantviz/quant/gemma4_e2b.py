"""Gemma 4 E2B's text model as Ollama stores it: the built-in stand-in when no endpoint answers.

Every number here comes from an upstream source cited in `docs/model-facts.md`: the E2B config in
ollama's `x/models/gemma4/gemma4_test.go`, the GGUF keys and tensor names its converter writes
(`convert/convert_gemma4.go`), the tensor shapes llama.cpp's gemma4 loader expects, and a load log
of a published E2B Q4_K_M GGUF that lists the same 601 text tensors. The vision and audio towers
the real file also carries are left out: their shapes are not published upstream (see the facts
file), so the built-in figures are the text model's, and say so.
"""

from __future__ import annotations

import functools
from typing import Any

from quantviz.quant.recipe import RecipeReport, TensorSpec, recipe_report

ARCH = "gemma4"
N_LAYER = 35
N_EMBD = 1536
N_HEAD = 8
N_HEAD_KV = 1
HEAD_DIM_SWA = 256  # head_dim: sliding-window layers
HEAD_DIM_FULL = 512  # global_head_dim: full-attention layers
SLIDING_WINDOW = 512
FULL_EVERY = 5  # layer_types: four sliding layers, then one full-attention layer
SHARED_KV_LAYERS = 20  # num_kv_shared_layers: the last 20 layers reuse earlier caches
N_FF = 6144  # intermediate_size; use_double_wide_mlp doubles it on the shared layers
N_VOCAB = 262_144
PER_LAYER_INPUT = 256  # hidden_size_per_layer_input
CONTEXT_LENGTH = 131_072  # max_position_embeddings


def is_sliding(i: int) -> bool:
    """Layer i uses the sliding window (every FULL_EVERY-th layer is full attention)."""
    return i % FULL_EVERY != FULL_EVERY - 1


def head_dim(i: int) -> int:
    return HEAD_DIM_SWA if is_sliding(i) else HEAD_DIM_FULL


def feed_forward_length(i: int) -> int:
    """6144, doubled on the KV-shared layers (use_double_wide_mlp)."""
    return 2 * N_FF if i >= N_LAYER - SHARED_KV_LAYERS else N_FF


def model_info() -> dict[str, Any]:
    """The text model's GGUF metadata, as the keys of Ollama's `/api/show` (verbose) name it."""
    a = ARCH
    return {
        "general.architecture": a,
        f"{a}.block_count": N_LAYER,
        f"{a}.context_length": CONTEXT_LENGTH,
        f"{a}.embedding_length": N_EMBD,
        f"{a}.embedding_length_per_layer_input": PER_LAYER_INPUT,
        f"{a}.feed_forward_length": [feed_forward_length(i) for i in range(N_LAYER)],
        f"{a}.attention.head_count": N_HEAD,
        f"{a}.attention.head_count_kv": N_HEAD_KV,
        f"{a}.attention.key_length": HEAD_DIM_FULL,
        f"{a}.attention.value_length": HEAD_DIM_FULL,
        f"{a}.attention.key_length_swa": HEAD_DIM_SWA,
        f"{a}.attention.value_length_swa": HEAD_DIM_SWA,
        f"{a}.attention.sliding_window": SLIDING_WINDOW,
        f"{a}.attention.sliding_window_pattern": [is_sliding(i) for i in range(N_LAYER)],
        f"{a}.attention.shared_kv_layers": SHARED_KV_LAYERS,
    }


def text_tensors() -> list[TensorSpec]:
    """The 601 text tensors with the types Ollama's converter gives them (BF16 matrices, F32
    vectors): the file llama-quantize starts from. Shapes are GGUF order, ne0 first."""
    e, p, v = N_EMBD, PER_LAYER_INPUT, N_VOCAB

    def t(name: str, *shape: int) -> TensorSpec:
        return TensorSpec(name, shape, "F32" if len(shape) == 1 else "BF16")

    specs = [
        t("token_embd.weight", e, v),
        t("per_layer_token_embd.weight", p * N_LAYER, v),
        t("per_layer_model_proj.weight", e, p * N_LAYER),
        t("per_layer_proj_norm.weight", p),
        t("output_norm.weight", e),
        t("rope_freqs.weight", HEAD_DIM_FULL // 2),
    ]
    for i in range(N_LAYER):
        b, hd, ff = f"blk.{i}.", head_dim(i), feed_forward_length(i)
        specs += [
            t(b + "attn_norm.weight", e),
            t(b + "attn_q.weight", e, N_HEAD * hd),
            t(b + "attn_k.weight", e, N_HEAD_KV * hd),
            t(b + "attn_v.weight", e, N_HEAD_KV * hd),
            t(b + "attn_q_norm.weight", hd),
            t(b + "attn_k_norm.weight", hd),
            t(b + "attn_output.weight", N_HEAD * hd, e),
            t(b + "post_attention_norm.weight", e),
            t(b + "layer_output_scale.weight", 1),
            t(b + "ffn_norm.weight", e),
            t(b + "ffn_gate.weight", e, ff),
            t(b + "ffn_up.weight", e, ff),
            t(b + "ffn_down.weight", ff, e),
            t(b + "post_ffw_norm.weight", e),
            t(b + "inp_gate.weight", e, p),
            t(b + "proj.weight", p, e),
            t(b + "post_norm.weight", e),
        ]
    return specs


LABEL = (
    "Gemma 4 E2B's text model as Ollama stores it (35 blocks, n_embd 1536, 8 query heads and 1 KV "
    "head of 256 or 512, FFN 6144 or 12288, vocabulary 262144, tied embeddings, the 8960 × "
    "262144 per-layer embedding table); the vision and audio towers of the real file are not in "
    "this list"
)


@functools.cache
def recipe() -> RecipeReport:
    """llama.cpp's Q4_K_M recipe of the text model, computed once per process and shared.

    The recipe view of Objective 1 shows it to every session and the deployment decision sizes
    the built-in weights with it: 601 tensors, a few milliseconds each time it was recomputed
    per page. The result is immutable (tuples, frozen dataclasses, a read-only type mix).
    """
    return recipe_report(text_tensors(), N_LAYER)
