"""Invented tensor layouts for tests (names and roles as llama.cpp's gemma3; sizes made up)."""

from __future__ import annotations

from quantviz.quant.recipe import TensorSpec


def gemma_like_layout(n_layers=35, n_embd=1536, n_head=8, n_head_kv=1, head_dim=256, n_ff=6144,
                      n_vocab=262144):  # fmt: skip
    """An invented Gemma-3-style layout (tied embeddings, no output.weight), for recipe tests."""
    q, kv = n_head * head_dim, n_head_kv * head_dim
    specs = [TensorSpec("token_embd.weight", (n_embd, n_vocab))]
    for i in range(n_layers):
        b = f"blk.{i}."
        specs += [
            TensorSpec(b + "attn_norm.weight", (n_embd,)),
            TensorSpec(b + "attn_q.weight", (n_embd, q)),
            TensorSpec(b + "attn_k.weight", (n_embd, kv)),
            TensorSpec(b + "attn_v.weight", (n_embd, kv)),
            TensorSpec(b + "attn_q_norm.weight", (head_dim,)),
            TensorSpec(b + "attn_k_norm.weight", (head_dim,)),
            TensorSpec(b + "attn_output.weight", (q, n_embd)),
            TensorSpec(b + "post_attention_norm.weight", (n_embd,)),
            TensorSpec(b + "ffn_norm.weight", (n_embd,)),
            TensorSpec(b + "ffn_gate.weight", (n_embd, n_ff)),
            TensorSpec(b + "ffn_up.weight", (n_embd, n_ff)),
            TensorSpec(b + "ffn_down.weight", (n_ff, n_embd)),
            TensorSpec(b + "post_ffw_norm.weight", (n_embd,)),
        ]
    specs.append(TensorSpec("output_norm.weight", (n_embd,)))
    return specs
