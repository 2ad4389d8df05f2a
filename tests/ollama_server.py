"""An Ollama-protocol test server: real HTTP on 127.0.0.1, shapes from Ollama's API docs.

Use it as a context manager in tests::

    with OllamaTestServer() as srv:
        client = ollama.Client(host=srv.url)

or standalone for manual runs and benchmarks::

    python tests/ollama_server.py --port 11500 --token-delay 0.02

It serves `/api/version`, `/api/tags`, `/api/show`, `/api/pull` and `/api/chat` for two tags of
Gemma 4 E2B (Q4_K_M and Q6_K) shaped the way a real Ollama serves them: the GGUF metadata keys and
tensor names its converter writes (text model, per-layer embeddings, vision and audio towers),
tensor types chosen by llama.cpp's quantization rules implemented here, independently of the
app's `quantviz.quant.recipe`, sizes that follow from the tensors, and a non-verbose `/api/show`
that sends every non-empty array as null. Every fact and its upstream source is in
`docs/model-facts.md`. The older invented model (`model="gemma-like"`) stays for the tests that
need its per-layer head counts or older-Ollama array handling.

Faults (401 without the bearer key, forced statuses, a stream cut or an error line after N chunks,
slow replies, serial answering, no logprob support) can be switched at runtime from any thread.
Every request is recorded so tests can assert on headers and bodies.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import math
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from served import QuietHandler, QuietHttpd, ServedInThread

Q4_TAG = "batiai/gemma4-e2b:q4"
Q6_TAG = "batiai/gemma4-e2b:q6"
DEFAULT_VERSION = "0.12.11"

ARCH = "gemma4"

# llama.cpp's LLAMA_FTYPE values for the two mixes we serve.
FILE_TYPES = {"Q4_K_M": 15, "Q6_K": 18}

# Ollama's getModelData reads GGUF arrays with a maximum size of 0 unless verbose: every non-empty
# array comes back null ("all"). Older builds kept arrays up to 1024 items ("large").
ARRAY_KEEP_LIMIT = 1024
GGUF_ALIGNMENT = 32  # general.alignment's default: every tensor's data starts on it

ElideMode = Literal["all", "large"]
ModelKind = Literal["e2b", "gemma-like"]


# --------------------------------------------------------------------------- model catalog


@dataclass(frozen=True)
class TensorSpec:
    name: str
    type: str
    shape: tuple[int, ...]

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def n_bytes(self) -> int:
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType[self.type]]
        return self.n_elements // block * size


@dataclass
class ModelSpec:
    """One tag as the server knows it: what /api/tags, /api/show and /api/pull report."""

    tag: str
    quantization_level: str
    tensors: list[TensorSpec]
    model_info: dict[str, Any]
    degradation: float
    tokens_per_s: float
    layers: list[tuple[str, int]]  # (digest, size) of the manifest's layers, in MANIFEST_KINDS
    modified_at: str = ""
    family: str = ARCH

    @property
    def size(self) -> int:
        return sum(size for _, size in self.layers)

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"manifest:{self.tag}".encode()).hexdigest()

    @property
    def parameter_count(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @property
    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": human_number(self.parameter_count),
            "quantization_level": self.quantization_level,
        }


@dataclass(frozen=True)
class LargeArray:
    """A GGUF array too big to build for every server start; made only for a verbose show."""

    length: int
    item: Callable[[int], Any]

    def materialize(self) -> list[Any]:
        return [self.item(i) for i in range(self.length)]

    @functools.cached_property
    def json_text(self) -> str:
        """The array as JSON, built once per server (a verbose show sends megabytes of it)."""
        return json.dumps(self.materialize())


def human_number(n: int) -> str:
    """Ollama's format.HumanNumber: 5123456789 -> '5.1B', 1000000000 -> '1B'."""
    for unit, scale, digits in (("B", 1e9, 1), ("M", 1e6, 2)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f}{unit}" if value == int(value) else f"{value:.{digits}f}{unit}"
    return f"{n / 1e3:.0f}K" if n >= 1e3 else str(n)


# ---------------------------------------------------------------- llama-quantize, re-implemented
#
# The rules of llama.cpp's src/llama-quant.cpp for Q4_K_M and Q6_K, written here from the C++ and
# kept apart from quantviz.quant.recipe on purpose: the app is checked against this, not against
# itself.

_BF = {"Q4_K": "Q5_0", "Q6_K": "Q8_0"}  # tensor_type_fallback for rows that are not whole blocks
_KEEP_PARTS = ("_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj",
               ".position_embd", ".patch_embd", "ssm_conv1d", "attn_rel_b.weight")  # fmt: skip


def _blk(name: str) -> int:
    m = re.match(r"blk\.(\d+)\.", name)
    return int(m.group(1)) if m else -1


def _ndims(shape: Sequence[int]) -> int:
    n = 1
    for i, d in enumerate(shape):
        if d > 1:
            n = i + 1
    return n


def _block_values(qtype: str) -> int:
    return GGML_QUANT_SIZES[GGMLQuantizationType[qtype]][0]


def llama_quantize(source: Sequence[TensorSpec], ftype: str, n_layer: int) -> list[TensorSpec]:
    """The tensor table llama-quantize writes from `source` for `ftype`, as Ollama stores it.

    Ollama hides v./a./mm. tensors from llama-quantize and restores them unchanged afterwards
    (server/quantization.go, llama/compat), so they neither change nor count.
    """
    base = {"Q4_K_M": "Q4_K", "Q6_K": "Q6_K"}[ftype]
    hidden = {t.name for t in source if t.name.split(".", 1)[0] in ("v", "a", "mm")}
    loaded = sorted(
        (t for t in source if t.name not in hidden), key=lambda t: (_blk(t.name), t.name)
    )
    tied = all(t.name != "output.weight" for t in loaded)
    n_attn_v = sum(
        1 for t in loaded if any(k in t.name for k in ("attn_v.weight", "attn_qkv.weight"))
    )

    def more_bits(i: int, n: int) -> bool:
        return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2

    out: dict[str, str] = {}
    i_v = i_down = 0
    for t in loaded:
        if (
            _ndims(t.shape) < 2
            or not t.name.endswith("weight")
            or any(k in t.name for k in _KEEP_PARTS)
        ):
            out[t.name] = t.type
            continue
        qtype = base
        if t.name == "output.weight" or (
            tied and t.name in ("token_embd.weight", "per_layer_token_embd.weight")
        ):
            qtype = "Q6_K" if t.shape[0] % 256 == 0 else "Q8_0"
        elif "attn_v.weight" in t.name or "attn_qkv.weight" in t.name:
            if ftype == "Q4_K_M" and more_bits(i_v, n_attn_v):
                qtype = "Q6_K"
            i_v += 1
        elif "ffn_down" in t.name:
            if ftype == "Q4_K_M" and more_bits(i_down, n_layer):
                qtype = "Q6_K"
            i_down += 1
        if t.shape[0] % _block_values(qtype):
            qtype = _BF[qtype] if t.shape[0] % 32 == 0 else "F16"
        out[t.name] = qtype
    return [TensorSpec(t.name, out.get(t.name, t.type), t.shape) for t in source]


# ------------------------------------------------ Gemma 4 E2B, as Ollama's converter writes it

E2B_LAYERS = 35
E2B_EMBD = 1536
E2B_HEADS = 8
E2B_KV_HEADS = 1
E2B_HEAD_SLIDING, E2B_HEAD_FULL = 256, 512
E2B_WINDOW = 512
E2B_SHARED_KV = 20
E2B_FF = 6144
E2B_VOCAB = 262_144
E2B_PLE = 256
E2B_CONTEXT = 131_072
E2B_MERGES = 514_906
# Tower shapes are not published upstream (docs/model-facts.md): these are labelled choices.
VISION = {"layers": 16, "embd": 768, "ff": 3072, "heads": 12, "patch": 16, "positions": 10_240}
AUDIO = {"layers": 12, "embd": 1024, "ff": 4096, "heads": 8, "kernel": 5, "proj": 1536}


def _e2b_full(i: int) -> bool:
    return i % 5 == 4  # layer_types: four sliding_attention, then one full_attention


def e2b_source_tensors() -> list[TensorSpec]:
    """The unquantized E2B GGUF: BF16 text matrices, F16 vision/projector matrices, F32 vectors
    (convert/reader.go and reader_safetensors.go Kind rules)."""
    ts: list[TensorSpec] = []

    def add(name: str, shape: Sequence[int], kind: str | None = None) -> None:
        if kind is None:
            tower16 = name.startswith(("v.", "mm."))
            kind = "F32" if len(shape) == 1 else ("F16" if tower16 else "BF16")
        ts.append(TensorSpec(name, kind, tuple(shape)))

    e, ple, n = E2B_EMBD, E2B_PLE, E2B_LAYERS
    add("token_embd.weight", (e, E2B_VOCAB))
    add("per_layer_token_embd.weight", (ple * n, E2B_VOCAB))
    add("per_layer_model_proj.weight", (e, ple * n))
    add("per_layer_proj_norm.weight", (ple,))
    add("output_norm.weight", (e,))
    for i in range(n):
        hd = E2B_HEAD_FULL if _e2b_full(i) else E2B_HEAD_SLIDING
        ff = E2B_FF * (2 if i >= n - E2B_SHARED_KV else 1)
        b = f"blk.{i}."
        add(b + "attn_norm.weight", (e,))
        add(b + "attn_q.weight", (e, E2B_HEADS * hd))
        add(b + "attn_k.weight", (e, E2B_KV_HEADS * hd))
        add(b + "attn_v.weight", (e, E2B_KV_HEADS * hd))
        add(b + "attn_q_norm.weight", (hd,))
        add(b + "attn_k_norm.weight", (hd,))
        add(b + "attn_output.weight", (E2B_HEADS * hd, e))
        add(b + "post_attention_norm.weight", (e,))
        add(b + "layer_output_scale.weight", (1,))
        add(b + "ffn_norm.weight", (e,))
        add(b + "ffn_gate.weight", (e, ff))
        add(b + "ffn_up.weight", (e, ff))
        add(b + "ffn_down.weight", (ff, e))
        add(b + "post_ffw_norm.weight", (e,))
        add(b + "inp_gate.weight", (e, ple))
        add(b + "proj.weight", (ple, e))
        add(b + "post_norm.weight", (e,))
    add("rope_freqs.weight", (E2B_HEAD_FULL // 2,))

    v = VISION
    ve, vh = v["embd"], v["embd"] // v["heads"]
    add("v.patch_embd.weight", (v["patch"], v["patch"], 3, ve), "F16")
    add("v.position_embd.weight", (ve, v["positions"], 2), "F32")
    add("v.std_bias", (ve,))
    add("v.std_scale", (ve,))
    for i in range(v["layers"]):
        b = f"v.blk.{i}."
        add(b + "ln1.weight", (ve,))
        for part in ("attn_q", "attn_k", "attn_v", "attn_out"):
            add(b + part + ".weight", (ve, ve))
        add(b + "attn_q_norm.weight", (vh,))
        add(b + "attn_k_norm.weight", (vh,))
        add(b + "attn_post_norm.weight", (ve,))
        add(b + "ln2.weight", (ve,))
        add(b + "ffn_gate.weight", (ve, v["ff"]))
        add(b + "ffn_up.weight", (ve, v["ff"]))
        add(b + "ffn_down.weight", (v["ff"], ve))
        add(b + "ffn_post_norm.weight", (ve,))
        add(b + "out_scale.weight", (1,))
    add("mm.input_projection.weight", (ve, e))
    add("v.clamp_data", ((v["layers"] * 7 + 1) * 4,))

    a = AUDIO
    ae = a["embd"]
    add("a.conv1d.0.weight", (3, 3, 1, 128), "F32")
    add("a.conv1d.0.norm.weight", (128,))
    add("a.conv1d.1.weight", (3, 3, 128, 32), "F32")
    add("a.conv1d.1.norm.weight", (32,))
    add("a.pre_encode.out.weight", (32 * 32, ae))
    for i in range(a["layers"]):
        b = f"a.blk.{i}."
        for suffix in ("", "_1"):
            add(b + f"ffn_norm{suffix}.weight", (ae,))
            add(b + f"ffn_up{suffix}.weight", (ae, a["ff"]))
            add(b + f"ffn_down{suffix}.weight", (a["ff"], ae))
            add(b + f"ffn_post_norm{suffix}.weight", (ae,))
        add(b + "ln1.weight", (ae,))
        for part in ("attn_q", "attn_k", "attn_v", "attn_out", "linear_pos"):
            add(b + part + ".weight", (ae, ae))
        add(b + "per_dim_scale.weight", (ae // a["heads"],))
        add(b + "ln2.weight", (ae,))
        add(b + "conv_norm.weight", (ae,))
        add(b + "conv_pw1.weight", (ae, 2 * ae))
        add(b + "conv_dw.weight", (a["kernel"], ae), "F32")
        add(b + "norm_conv.weight", (ae,))
        add(b + "conv_pw2.weight", (ae, ae))
        add(b + "layer_pre_norm.weight", (ae,))
    add("mm.a.fc.weight", (ae, a["proj"]))
    add("mm.a.fc.bias", (a["proj"],))
    add("mm.a.input_projection.weight", (a["proj"], e))
    return ts


# One copy per process: their JSON (tens of MB) is built once, on the first verbose show.
E2B_TOKENIZER_ARRAYS = {
    "tokenizer.ggml.tokens": LargeArray(E2B_VOCAB, lambda i: f"<tok_{i}>"),
    "tokenizer.ggml.scores": LargeArray(E2B_VOCAB, lambda i: 0.0),
    "tokenizer.ggml.token_type": LargeArray(E2B_VOCAB, lambda i: 1),
    "tokenizer.ggml.merges": LargeArray(E2B_MERGES, lambda i: f"m{i % 97} n{i // 97}"),
}


def e2b_model_info(quant: str, tensors: Sequence[TensorSpec]) -> dict[str, Any]:
    """The GGUF metadata of an E2B tag, keyed as /api/show's model_info (convert_gemma4.go KV)."""
    a, n = ARCH, E2B_LAYERS
    return {
        "general.architecture": a,
        "general.file_type": FILE_TYPES[quant],
        "general.parameter_count": sum(t.n_elements for t in tensors),  # gguf.go patches it in
        "general.quantization_version": 2,
        f"{a}.block_count": n,
        f"{a}.embedding_length": E2B_EMBD,
        f"{a}.feed_forward_length": [
            E2B_FF * (2 if i >= n - E2B_SHARED_KV else 1) for i in range(n)
        ],
        f"{a}.context_length": E2B_CONTEXT,
        f"{a}.attention.head_count": E2B_HEADS,
        f"{a}.attention.head_count_kv": E2B_KV_HEADS,
        f"{a}.attention.key_length": E2B_HEAD_FULL,
        f"{a}.attention.value_length": E2B_HEAD_FULL,
        f"{a}.attention.key_length_swa": E2B_HEAD_SLIDING,
        f"{a}.attention.value_length_swa": E2B_HEAD_SLIDING,
        f"{a}.attention.layer_norm_rms_epsilon": 1e-6,
        f"{a}.attention.sliding_window": E2B_WINDOW,
        f"{a}.attention.sliding_window_pattern": [not _e2b_full(i) for i in range(n)],
        f"{a}.attention.shared_kv_layers": E2B_SHARED_KV,
        f"{a}.rope.freq_base": 1_000_000.0,
        f"{a}.rope.dimension_count": E2B_HEAD_FULL,
        f"{a}.rope.freq_base_swa": 10_000.0,
        f"{a}.rope.dimension_count_swa": E2B_HEAD_SLIDING,
        f"{a}.final_logit_softcapping": 30.0,
        f"{a}.embedding_length_per_layer_input": E2B_PLE,
        f"{a}.vision.block_count": VISION["layers"],
        f"{a}.vision.embedding_length": VISION["embd"],
        f"{a}.vision.attention.head_count": VISION["heads"],
        f"{a}.vision.feed_forward_length": VISION["ff"],
        f"{a}.vision.patch_size": VISION["patch"],
        f"{a}.vision.num_channels": 3,
        f"{a}.vision.projector.scale_factor": 3,
        f"{a}.vision.attention.layer_norm_epsilon": 1e-6,
        f"{a}.audio.block_count": AUDIO["layers"],
        f"{a}.audio.embedding_length": AUDIO["embd"],
        f"{a}.audio.feed_forward_length": AUDIO["embd"] * 4,
        f"{a}.audio.attention.head_count": AUDIO["heads"],
        f"{a}.audio.attention.layer_norm_epsilon": 1e-6,
        f"{a}.audio.conv_kernel_size": AUDIO["kernel"],
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.pre": "gemma4",
        **E2B_TOKENIZER_ARRAYS,
        "tokenizer.ggml.bos_token_id": 2,
        "tokenizer.ggml.eos_token_id": 1,
        "tokenizer.ggml.padding_token_id": 0,
        "tokenizer.ggml.unknown_token_id": 3,
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.ggml.add_eos_token": False,
    }


def gguf_blob_size(tensors: Sequence[TensorSpec], n_vocab: int, n_merges: int = 0) -> int:
    """Bytes of the GGUF file: header, then each tensor's data padded to GGUF_ALIGNMENT.

    The tensor infos are exact (name, dims, type, offset); the vocabulary part of the metadata
    is an estimate of 16 bytes a token (string, score, type) and 20 a merge, plus 4 kB of keys.
    """
    infos = sum(8 + len(t.name) + 4 + 8 * len(t.shape) + 4 + 8 for t in tensors)
    header = 24 + 4096 + n_vocab * 16 + n_merges * 20 + infos
    pad = GGUF_ALIGNMENT
    data = sum(-(-t.n_bytes // pad) * pad for t in tensors)
    return -(-header // pad) * pad + data


# The blobs after each tag's weights, in manifest order: (kind, size). Both tags of a model use
# the same template, license and params files, and a registry stores a blob once under the
# digest of its bytes, so these share one digest across the tags (the second pull skips them;
# tests/registry_server.py serves the same layers). The weights blob is each tag's own.
MANIFEST_EXTRAS = (("template", 358), ("license", 8_432), ("params", 56))
MANIFEST_KINDS = ("model", *(kind for kind, _ in MANIFEST_EXTRAS))  # ModelSpec.layers' order


def _manifest(tag: str, model_blob: int) -> list[tuple[str, int]]:
    family = tag.rsplit(":", 1)[0]
    shared = [(_blob_digest(family, kind), size) for kind, size in MANIFEST_EXTRAS]
    return [(_blob_digest(tag, "model"), model_blob), *shared]


def e2b_model(tag: str, quant: str, *, degradation: float | None = None) -> ModelSpec:
    """A Gemma 4 E2B tag: the converter's file run through llama-quantize for `quant`."""
    if quant not in FILE_TYPES:
        raise ValueError(f"unsupported mix {quant!r}")
    tensors = llama_quantize(e2b_source_tensors(), quant, E2B_LAYERS)
    return ModelSpec(
        tag=tag,
        quantization_level=quant,
        tensors=tensors,
        model_info=e2b_model_info(quant, tensors),
        degradation=(0.18 if quant == "Q4_K_M" else 0.04) if degradation is None else degradation,
        tokens_per_s=48.0 if quant == "Q4_K_M" else 37.0,
        layers=_manifest(tag, gguf_blob_size(tensors, E2B_VOCAB, E2B_MERGES)),
    )


# ----------------------------------- the older invented model (per-layer heads, elision faults)

N_LAYER = 35
N_EMBD = 2048
N_VOCAB = 262_144
N_FF = 8192
HEAD_DIM = 256
N_HEAD = 8
N_HEAD_KV = 2
CONTEXT_LENGTH = 32_768
# The per-layer variant: wider attention in the first 20 layers, narrower after.
PER_LAYER_HEADS = (8,) * 20 + (4,) * 15


def gemma_like_tensors(quant: str, per_layer_heads: bool) -> list[TensorSpec]:
    """The tensor table of a Gemma-like GGUF with tied embeddings (no separate output.weight)."""
    if quant not in FILE_TYPES:
        raise ValueError(f"unsupported mix {quant!r}")
    heads = PER_LAYER_HEADS if per_layer_heads else (N_HEAD,) * N_LAYER
    source = [TensorSpec("token_embd.weight", "F16", (N_EMBD, N_VOCAB))]
    for i in range(N_LAYER):
        q_dim = heads[i] * HEAD_DIM
        kv_dim = N_HEAD_KV * HEAD_DIM
        p = f"blk.{i}."
        source += [
            TensorSpec(p + "attn_norm.weight", "F32", (N_EMBD,)),
            TensorSpec(p + "attn_q.weight", "F16", (N_EMBD, q_dim)),
            TensorSpec(p + "attn_k.weight", "F16", (N_EMBD, kv_dim)),
            TensorSpec(p + "attn_v.weight", "F16", (N_EMBD, kv_dim)),
            TensorSpec(p + "attn_q_norm.weight", "F32", (HEAD_DIM,)),
            TensorSpec(p + "attn_k_norm.weight", "F32", (HEAD_DIM,)),
            TensorSpec(p + "attn_output.weight", "F16", (q_dim, N_EMBD)),
            TensorSpec(p + "post_attention_norm.weight", "F32", (N_EMBD,)),
            TensorSpec(p + "ffn_norm.weight", "F32", (N_EMBD,)),
            TensorSpec(p + "ffn_gate.weight", "F16", (N_EMBD, N_FF)),
            TensorSpec(p + "ffn_up.weight", "F16", (N_EMBD, N_FF)),
            TensorSpec(p + "ffn_down.weight", "F16", (N_FF, N_EMBD)),
            TensorSpec(p + "post_ffw_norm.weight", "F32", (N_EMBD,)),
        ]
    source.append(TensorSpec("output_norm.weight", "F32", (N_EMBD,)))
    return llama_quantize(source, quant, N_LAYER)


def gemma_like_model(
    tag: str, quant: str, *, per_layer_heads: bool = False, degradation: float | None = None
) -> ModelSpec:
    """An invented Gemma-like tag: Q4_K_M mixes Q4_K with Q6_K and F32 norms, Q6_K is uniform."""
    tensors = gemma_like_tensors(quant, per_layer_heads)
    n_params = sum(t.n_elements for t in tensors)
    heads: int | list[int] = list(PER_LAYER_HEADS) if per_layer_heads else N_HEAD
    info: dict[str, Any] = {
        "general.architecture": ARCH,
        "general.basename": "gemma-4",
        "general.file_type": FILE_TYPES[quant],
        "general.parameter_count": n_params,
        "general.quantization_version": 2,
        "general.size_label": "E2B",
        "general.type": "model",
        f"{ARCH}.block_count": N_LAYER,
        f"{ARCH}.context_length": CONTEXT_LENGTH,
        f"{ARCH}.embedding_length": N_EMBD,
        f"{ARCH}.feed_forward_length": N_FF,
        f"{ARCH}.attention.head_count": heads,
        f"{ARCH}.attention.head_count_kv": N_HEAD_KV,
        f"{ARCH}.attention.key_length": HEAD_DIM,
        f"{ARCH}.attention.value_length": HEAD_DIM,
        f"{ARCH}.attention.layer_norm_rms_epsilon": 1e-6,
        f"{ARCH}.attention.sliding_window": 512,
        f"{ARCH}.attention.sliding_window_pattern": [(i + 1) % 5 != 0 for i in range(N_LAYER)],
        f"{ARCH}.rope.freq_base": 1_000_000,
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.pre": "default",
        "tokenizer.ggml.tokens": LargeArray(N_VOCAB, lambda i: f"<tok_{i}>"),
        "tokenizer.ggml.scores": LargeArray(N_VOCAB, lambda i: 0.0),
        "tokenizer.ggml.token_type": LargeArray(N_VOCAB, lambda i: 1),
        "tokenizer.ggml.bos_token_id": 2,
        "tokenizer.ggml.eos_token_id": 1,
        "tokenizer.ggml.padding_token_id": 0,
        "tokenizer.ggml.unknown_token_id": 3,
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.ggml.add_eos_token": False,
    }
    tensor_bytes = sum(t.n_bytes for t in tensors)
    # GGUF header: the vocabulary (~16 B a token with score and type) plus tensor descriptors.
    header = N_VOCAB * 16 + len(tensors) * 96 + 4096
    return ModelSpec(
        tag=tag,
        quantization_level=quant,
        tensors=tensors,
        model_info=info,
        degradation=(0.18 if quant == "Q4_K_M" else 0.04) if degradation is None else degradation,
        tokens_per_s=48.0 if quant == "Q4_K_M" else 37.0,
        layers=_manifest(tag, tensor_bytes + header),
    )


TEMPLATE = (
    "{{ range .Messages }}<start_of_turn>{{ .Role }}\n"
    "{{ .Content }}<end_of_turn>\n{{ end }}<start_of_turn>model\n"
)
PARAMETERS = (("stop", "<end_of_turn>"), ("temperature", "1"), ("top_k", "64"), ("top_p", "0.95"))


def _modelfile_quote(text: str) -> str:
    # parser.quote in ollama's parser/parser.go
    if "\n" in text or text.startswith(" ") or text.endswith(" "):
        return f'"""{text}"""' if '"' in text else f'"{text}"'
    return text


def modelfile(spec: ModelSpec, blob: Path) -> str:
    """/api/show's modelfile as Ollama writes it for a GGUF model.

    server/routes.go (GetModelInfo) writes two comment lines naming the model, then
    Model.String() (server/images.go): ``FROM <the model blob's path>`` first, then TEMPLATE and
    the PARAMETER lines, quoted by parser.quote (parser/parser.go); ollama commit
    fb30760996871fa9460115c753afd2c60d4ab0f7.
    """
    lines = [
        '# Modelfile generated by "ollama show"',
        "# To build a new Modelfile based on this, replace FROM with:",
        f"# FROM {spec.tag}",
        "",
        f"FROM {blob}",
        f"TEMPLATE {_modelfile_quote(TEMPLATE)}",
        *(f"PARAMETER {k} {_modelfile_quote(v)}" for k, v in PARAMETERS),
    ]
    return "\n".join(lines) + "\n"


def _blob_digest(tag: str, kind: str) -> str:
    return "sha256:" + hashlib.sha256(f"{tag}/{kind}".encode()).hexdigest()


def normalize_tag(name: str) -> str:
    """Ollama's default tag: 'gemma3' and 'gemma3:latest' name the same model."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- scripted replies

PELICAN_SVG_CLEAN = """Here is a pelican riding a bicycle:

```svg
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 160" width="200" height="160">
  <circle cx="50" cy="120" r="28" fill="none" stroke="#333" stroke-width="4"/>
  <circle cx="150" cy="120" r="28" fill="none" stroke="#333" stroke-width="4"/>
  <path d="M50 120 L95 80 L150 120 M95 80 L120 80" stroke="#c33" stroke-width="4" fill="none"/>
  <ellipse cx="100" cy="62" rx="30" ry="18" fill="#eee" stroke="#555"/>
  <circle cx="128" cy="40" r="10" fill="#eee" stroke="#555"/>
  <path d="M136 40 L172 48 L136 50 Z" fill="#f4a300"/>
</svg>
```
"""

PELICAN_SVG_ROUGH = """Sure! A pelican on a bike:

```svg
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 160" width="200" height="160">
  <circle cx="50" cy="120" r="28" fill="none" stroke="#333" stroke-width="4"/>
  <circle cx="140" cy="125" r="22" fill="none" stroke="#333" stroke-width="4"/>
  <path d="M50 120 L95 80 L140 125" stroke="#c33" stroke-width="4" fill="none"/>
  <ellipse cx="100" cy="58" rx="34" ry="16" fill="#eee" stroke="#555"/>
  <path d="M120 50 L170 52" stroke="#f4a300" stroke-width="6"/>
</svg>
```
"""

FILLER = (
    "Quantization stores each weight with fewer bits, so the model takes less memory and "
    "usually runs faster. The price is a small rounding error in every layer, which can add up "
    "on long answers, arithmetic and strict formats."
)

# Near-miss substitutions a degraded model might make (a word, a digit, a punctuation mark).
SWAPS = {
    "the": "a", "a": "the", "is": "was", "and": "or", "less": "fewer", "small": "tiny",
    "memory": "storage", "faster": "quicker", "usually": "often", "can": "may",
    ".": ",", ",": ";", "each": "every", "model": "network", "weight": "value",
}  # fmt: skip

_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


def split_tokens(text: str) -> list[str]:
    """Word-ish tokens with their leading whitespace, so ''.join(tokens) == text."""
    return _TOKEN_RE.findall(text)


def _rng(*parts: object) -> random.Random:
    seed = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))


def _perturb(token: str, rng: random.Random) -> str:
    stripped = token.lstrip()
    lead = token[: len(token) - len(stripped)]
    if stripped.isdigit():
        return lead + str(int(stripped) + rng.choice((-1, 1, 10)))
    swap = SWAPS.get(stripped.lower())
    if swap is not None:
        return lead + swap
    if len(stripped) > 4 and stripped.isalpha():
        cut = rng.randrange(1, len(stripped) - 1)
        return lead + stripped[:cut] + stripped[cut + 1 :]
    return token


def degrade(tokens: Sequence[str], p: float, *key: object) -> list[str]:
    """Replace some tokens after the first few with near misses; deterministic per key."""
    out = list(tokens)
    for i in range(4, len(out)):
        if _rng("degrade", i, *key).random() < p:
            out[i] = _perturb(out[i], _rng("swap", i, *key))
    return out


@dataclass(frozen=True)
class Script:
    model: str  # a tag, or "*" for every model
    prompt_substring: str
    text: str
    tokens: tuple[str, ...] | None = None


# --------------------------------------------------------------------------- faults and records


@dataclass
class Fault:
    """A fault with an optional use count (None = until cleared)."""

    times: int | None = None

    def take(self) -> bool:
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


@dataclass
class ForcedResponse(Fault):
    status: int = 500
    body: str = ""
    content_type: str = "application/json; charset=utf-8"


@dataclass
class StreamFault(Fault):
    after: int = 0
    message: str = ""  # empty: cut the connection; otherwise send {"error": message}


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON when it parses, else the raw text
    received: float = field(default_factory=time.monotonic)
    started: float | None = None  # after the serial lock, when answering begins
    finished: float | None = None
    chunks_sent: int = 0  # NDJSON lines of a stream written so far


# --------------------------------------------------------------------------- the server


class OllamaTestServer(ServedInThread):
    """A ThreadingHTTPServer that answers like Ollama; every setter is thread-safe."""

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        installed: Sequence[str] = (Q4_TAG, Q6_TAG),
        api_key: str | None = None,
        version: str = DEFAULT_VERSION,
        supports_logprobs: bool = True,
        serial: bool = False,
        token_delay: float = 0.0,
        initial_delay: float = 0.0,
        pull_steps: int = 4,
        pull_step_delay: float = 0.0,
        model: ModelKind = "e2b",
        per_layer_heads: bool = False,
        elide_arrays: ElideMode = "all",
        models_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        # Where the modelfile's FROM line says the blobs are (OLLAMA_MODELS, by default
        # ~/.ollama/models, as ollama's envconfig.Models has it). Nothing is written there: a
        # test that wants the app to read a model file puts one at `blob_path(tag)`.
        self.models_dir = Path(models_dir) if models_dir else Path.home() / ".ollama" / "models"
        self._serial_lock = threading.Lock()
        self._stop = threading.Event()
        if model == "e2b":
            if per_layer_heads:
                raise ValueError("per_layer_heads belongs to the invented model='gemma-like'")
            self.catalog: dict[str, ModelSpec] = {
                Q4_TAG: e2b_model(Q4_TAG, "Q4_K_M"),
                Q6_TAG: e2b_model(Q6_TAG, "Q6_K"),
            }
        else:
            self.catalog = {
                Q4_TAG: gemma_like_model(Q4_TAG, "Q4_K_M", per_layer_heads=per_layer_heads),
                Q6_TAG: gemma_like_model(Q6_TAG, "Q6_K", per_layer_heads=per_layer_heads),
            }
        self.installed: dict[str, str] = {}  # tag -> modified_at
        for tag in installed:
            self.installed[normalize_tag(tag)] = _now()
        self.api_key = api_key
        self.version = version
        self.supports_logprobs = supports_logprobs
        self.serial = serial
        self.token_delay = token_delay
        self.initial_delay = initial_delay
        self.pull_steps = max(1, pull_steps)
        self.pull_step_delay = pull_step_delay
        self.elide_arrays: ElideMode = elide_arrays
        self.scripts: list[Script] = []
        self.forced: dict[str, ForcedResponse] = {}
        self.stream_faults: dict[str | None, StreamFault] = {}
        self.requests: list[RecordedRequest] = []
        self._loaded: set[str] = set()
        self._httpd = QuietHttpd((host, port), _Handler, self)

    def serve_forever(self) -> None:
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._stop.set()
            self._httpd.server_close()

    # -- runtime configuration (thread-safe)

    def set_api_key(self, key: str | None) -> None:
        """Require `Authorization: Bearer <key>` on every path (None: no auth)."""
        with self._lock:
            self.api_key = key

    def set_version(self, version: str) -> None:
        with self._lock:
            self.version = version

    def set_supports_logprobs(self, supported: bool) -> None:
        """False answers like an Ollama older than 0.12.11: logprob fields are ignored."""
        with self._lock:
            self.supports_logprobs = supported

    def set_serial(self, serial: bool) -> None:
        """Serial: one generation at a time (OLLAMA_NUM_PARALLEL=1); parallel otherwise."""
        with self._lock:
            self.serial = serial

    def set_delays(
        self,
        *,
        token_delay: float | None = None,
        initial_delay: float | None = None,
        pull_step_delay: float | None = None,
    ) -> None:
        """Slow server: seconds before the first byte, between tokens, between pull steps."""
        with self._lock:
            if token_delay is not None:
                self.token_delay = token_delay
            if initial_delay is not None:
                self.initial_delay = initial_delay
            if pull_step_delay is not None:
                self.pull_step_delay = pull_step_delay

    def set_elide_arrays(self, mode: ElideMode) -> None:
        """'all': every non-empty array comes back null (Ollama's getModelData); 'large': only
        arrays over 1024 items (older builds)."""
        with self._lock:
            self.elide_arrays = mode

    def force_status(
        self,
        path: str,
        status: int,
        body: str | Mapping[str, Any] | None = None,
        *,
        content_type: str = "application/json; charset=utf-8",
        times: int | None = None,
    ) -> None:
        """Answer `path` with `status` (default body: Ollama's {"error": ...} shape)."""
        if body is None:
            body = {"error": f"forced {status} by the test server"}
        text = body if isinstance(body, str) else json.dumps(body)
        with self._lock:
            self.forced[path] = ForcedResponse(
                times=times, status=status, body=text, content_type=content_type
            )

    def cut_stream_after(
        self, chunks: int, *, path: str | None = None, times: int | None = None
    ) -> None:
        """Close the socket after `chunks` NDJSON lines, without the final chunk."""
        with self._lock:
            self.stream_faults[path] = StreamFault(times=times, after=chunks)

    def error_after(
        self,
        chunks: int,
        message: str = "an error was encountered while running the model",
        *,
        path: str | None = None,
        times: int | None = None,
    ) -> None:
        """Send an {"error": message} line after `chunks` NDJSON lines, then end the stream."""
        with self._lock:
            self.stream_faults[path] = StreamFault(times=times, after=chunks, message=message)

    def clear_faults(self) -> None:
        with self._lock:
            self.forced.clear()
            self.stream_faults.clear()
            self.api_key = None
            self.token_delay = self.initial_delay = self.pull_step_delay = 0.0

    def script(
        self, model: str, prompt_substring: str, text: str, tokens: Sequence[str] | None = None
    ) -> None:
        """Reply `text` (split as `tokens` if given) when the last user message contains
        `prompt_substring`; `model` is a tag or "*". Later scripts win."""
        if tokens is not None and "".join(tokens) != text:
            raise ValueError("tokens must join to text")
        key = model if model == "*" else normalize_tag(model)
        with self._lock:
            self.scripts.insert(
                0, Script(key, prompt_substring, text, tuple(tokens) if tokens else None)
            )

    def add_model(self, spec: ModelSpec, *, installed: bool = True) -> None:
        with self._lock:
            self.catalog[normalize_tag(spec.tag)] = spec
            if installed:
                self.installed[normalize_tag(spec.tag)] = _now()

    def remove_model(self, tag: str) -> None:
        with self._lock:
            self.installed.pop(normalize_tag(tag), None)

    def blob_path(self, tag: str) -> Path:
        """The model blob's path that /api/show's modelfile names for `tag` (in `models_dir`)."""
        spec = self.catalog[normalize_tag(tag)]
        digest = spec.layers[0][0]
        return self.models_dir / "blobs" / digest.replace(":", "-")

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- internals used by the handler

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _take_forced(self, path: str) -> ForcedResponse | None:
        with self._lock:
            forced = self.forced.get(path)
            return forced if forced is not None and forced.take() else None

    def _take_stream_fault(self, path: str) -> StreamFault | None:
        with self._lock:
            for key in (path, None):
                fault = self.stream_faults.get(key)
                if fault is not None and fault.take():
                    return fault
            return None

    def _find_installed(self, name: str) -> ModelSpec | None:
        tag = normalize_tag(name)
        with self._lock:
            if tag in self.installed and tag in self.catalog:
                return self.catalog[tag]
            return None

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; True when it is."""
        return seconds > 0 and self._stop.wait(seconds)

    def reply_tokens(self, spec: ModelSpec, prompt: str, options: Mapping[str, Any]) -> list[str]:
        """The deterministic reply for (model, prompt, temperature, seed)."""
        with self._lock:
            scripts = list(self.scripts)
        for s in scripts:
            if s.model in ("*", spec.tag) and s.prompt_substring in prompt:
                return list(s.tokens) if s.tokens else split_tokens(s.text)
        temperature = float(options.get("temperature", 0.8) or 0.0)
        seed = int(options.get("seed", 0) or 0)
        if "pelican" in prompt.lower():
            clean = spec.degradation < 0.1 and temperature < 1.5
            return split_tokens(PELICAN_SVG_CLEAN if clean else PELICAN_SVG_ROUGH)
        echo = split_tokens(f'You asked: "{prompt.strip()[:80]}".')
        p = spec.degradation + 0.05 * temperature
        key = (spec.tag, prompt) if temperature == 0 else (spec.tag, prompt, seed, temperature)
        return echo + degrade(split_tokens(" " + FILLER), p, *key)

    def logprob_entry(self, spec: ModelSpec, i: int, token: str, top_k: int) -> dict[str, Any]:
        rng = _rng("logprob", spec.tag, i, token)
        chosen = -abs(rng.gauss(0.0, 0.15 + 1.5 * spec.degradation))
        entry: dict[str, Any] = {"token": token, "logprob": chosen}
        if token:
            entry["bytes"] = list(token.encode())
        if top_k > 0:
            alternatives = [token, token.upper(), " the", ",", " a", token.strip() or "_", "\n"]
            seen: list[str] = []
            for alt in alternatives:
                if alt not in seen:
                    seen.append(alt)
            top = []
            value = chosen
            for alt in seen[:top_k]:
                item: dict[str, Any] = {"token": alt, "logprob": value}
                if alt:
                    item["bytes"] = list(alt.encode())
                top.append(item)
                value -= 0.5 + rng.random() * 2.0
            entry["top_logprobs"] = top
        return entry


class _Cut(Exception):
    """The handler stops writing and drops the connection."""


class _Handler(QuietHandler["OllamaTestServer"]):
    # -- plumbing

    def _send_json(self, status: int, payload: Any) -> None:
        self._send_raw(status, json.dumps(payload), "application/json; charset=utf-8")

    def _send_raw(self, status: int, text: str, content_type: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, payload: Any) -> None:
        data = (json.dumps(payload) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop_connection(self) -> None:
        self.close_connection = True
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _stream(self, path: str, lines: Iterator[dict[str, Any]]) -> None:
        """Write NDJSON lines as chunks, applying the stream faults for `path`."""
        fault = self.owner._take_stream_fault(path)
        self._start_stream()
        for sent, line in enumerate(lines):
            if fault is not None and sent >= fault.after:
                if fault.message:
                    self._chunk({"error": fault.message})
                    break
                raise _Cut
            self._chunk(line)
            self._current.chunks_sent += 1
        self._end_stream()

    # -- dispatch

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        record = RecordedRequest(
            method=self.command,
            path=path,
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.owner._record(record)
        self._current = record
        try:
            self._route(path, body, record)
        except _Cut:
            self._drop_connection()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            record.finished = time.monotonic()

    def _route(self, path: str, body: Any, record: RecordedRequest) -> None:
        owner = self.owner
        with owner._lock:
            key = owner.api_key
        if key is not None and self.headers.get("Authorization") != f"Bearer {key}":
            self._send_json(401, {"error": "unauthorized"})
            return
        forced = owner._take_forced(path)
        if forced is not None:
            self._send_raw(forced.status, forced.body, forced.content_type)
            return
        request = body if isinstance(body, dict) else {}
        routes = {
            ("GET", "/"): lambda: self._send_raw(200, "Ollama is running", "text/plain"),
            ("HEAD", "/"): lambda: self._send_raw(200, "Ollama is running", "text/plain"),
            ("GET", "/api/version"): lambda: self._send_json(200, {"version": owner.version}),
            ("GET", "/api/tags"): self._tags,
            ("POST", "/api/show"): lambda: self._show(request),
            ("POST", "/api/pull"): lambda: self._pull(request),
            ("POST", "/api/chat"): lambda: self._chat(request, record),
        }
        handler = routes.get((self.command, path))
        if handler is None:
            self._send_raw(404, "404 page not found", "text/plain")
            return
        handler()

    # -- endpoints

    def _tags(self) -> None:
        owner = self.owner
        with owner._lock:
            entries = [
                (owner.catalog[t], m) for t, m in owner.installed.items() if t in owner.catalog
            ]
        models = [
            {
                "name": spec.tag,
                "model": spec.tag,
                "modified_at": modified,
                "size": spec.size,
                "digest": spec.digest,
                "details": spec.details,
            }
            for spec, modified in entries
        ]
        self._send_json(200, {"models": models})

    def _show(self, request: dict[str, Any]) -> None:
        name = str(request.get("model") or request.get("name") or "")
        spec = self.owner._find_installed(name) if name else None
        if spec is None:
            self._send_json(404, {"error": f"model '{name}' not found"})
            return
        verbose = bool(request.get("verbose"))
        with self.owner._lock:
            mode = self.owner.elide_arrays
            modified_at = self.owner.installed.get(spec.tag, _now())
        info: dict[str, Any] = {}
        large: dict[str, LargeArray] = {}  # sent as prebuilt JSON text, spliced in below
        for k, v in spec.model_info.items():
            if isinstance(v, (list, LargeArray)):
                length = v.length if isinstance(v, LargeArray) else len(v)
                keep = verbose or length == 0 or (mode == "large" and length <= ARRAY_KEEP_LIMIT)
                if not keep:
                    v = None  # ggml's array MarshalJSON: values nil for an uncollected array
                elif isinstance(v, LargeArray):
                    large[k] = v
                    v = f"@@large:{k}@@"
            info[k] = v
        text = json.dumps(
            {
                "license": "Gemma Terms of Use (test server copy)",
                "modelfile": modelfile(spec, self.owner.blob_path(spec.tag)),
                "parameters": 'stop "<end_of_turn>"\ntemperature 1\ntop_k 64\ntop_p 0.95',
                "template": TEMPLATE,
                "details": spec.details,
                "model_info": info,
                "tensors": [
                    {"name": t.name, "type": t.type, "shape": list(t.shape)} for t in spec.tensors
                ],
                "capabilities": ["completion"],
                "modified_at": modified_at,
            }
        )
        for k, arr in large.items():
            text = text.replace(json.dumps(f"@@large:{k}@@"), arr.json_text, 1)
        self._send_raw(200, text, "application/json; charset=utf-8")

    def _pull(self, request: dict[str, Any]) -> None:
        owner = self.owner
        name = normalize_tag(str(request.get("model") or request.get("name") or ""))
        with owner._lock:
            spec = owner.catalog.get(name)
            steps, delay = owner.pull_steps, owner.pull_step_delay
        stream = request.get("stream", True) is not False

        def progress() -> Iterator[dict[str, Any]]:
            yield {"status": "pulling manifest"}
            if spec is None:
                raise _PullFailed("pull model manifest: file does not exist")
            for digest, total in spec.layers:
                for step in range(steps + 1):
                    line: dict[str, Any] = {
                        "status": f"pulling {digest[7:19]}",
                        "digest": digest,
                        "total": total,
                    }
                    done = total * step // steps
                    if done:  # Ollama omits a zero `completed` (omitempty)
                        line["completed"] = done
                    yield line
                    if owner._sleep(delay):
                        return
            yield {"status": "verifying sha256 digest"}
            yield {"status": "writing manifest"}
            with owner._lock:
                owner.installed[name] = _now()
            yield {"status": "success"}

        if not stream:
            try:
                answer = list(progress())[-1]
            except _PullFailed as e:
                # Ollama's waitForStream turns an error without a status into a 500.
                self._send_json(500, {"error": str(e)})
                return
            self._send_json(200, answer)
            return

        def with_error_line() -> Iterator[dict[str, Any]]:
            try:
                yield from progress()
            except _PullFailed as e:
                yield {"error": str(e)}

        self._stream("/api/pull", with_error_line())

    def _chat(self, request: dict[str, Any], record: RecordedRequest) -> None:
        owner = self.owner
        name = str(request.get("model") or "")
        spec = owner._find_installed(name) if name else None
        if spec is None:
            if not name:
                self._send_json(400, {"error": "model is required"})
            else:
                self._send_json(404, {"error": f"model '{name}' not found"})
            return
        top_k = int(request.get("top_logprobs") or 0)
        with owner._lock:
            logprobs_on = owner.supports_logprobs and bool(request.get("logprobs"))
            serial = owner.serial
        if owner.supports_logprobs and not 0 <= top_k <= 20:
            self._send_json(400, {"error": "top_logprobs must be between 0 and 20"})
            return
        if serial:
            with owner._serial_lock:
                self._generate(spec, request, record, logprobs_on, top_k)
        else:
            self._generate(spec, request, record, logprobs_on, top_k)

    def _generate(
        self,
        spec: ModelSpec,
        request: dict[str, Any],
        record: RecordedRequest,
        logprobs_on: bool,
        top_k: int,
    ) -> None:
        owner = self.owner
        record.started = time.monotonic()
        messages = request.get("messages") or []
        stream = request.get("stream", True) is not False
        model_name = str(request.get("model"))
        if not messages:
            self._send_json(
                200,
                {
                    "model": model_name,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": ""},
                    "done_reason": "load",
                    "done": True,
                },
            )
            return
        options = request.get("options") or {}
        prompt = next(
            (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        tokens = owner.reply_tokens(spec, prompt, options)
        done_reason = "stop"
        num_predict = int(options.get("num_predict") or -1)
        if 0 < num_predict < len(tokens):
            tokens, done_reason = tokens[:num_predict], "length"
        with owner._lock:
            token_delay, initial_delay = owner.token_delay, owner.initial_delay
            cold = spec.tag not in owner._loaded
            owner._loaded.add(spec.tag)
        prompt_tokens = 8 + sum(len(split_tokens(str(m.get("content", "")))) for m in messages)
        load_ns = 1_250_000_000 if cold else 18_000_000
        prompt_ns = int(prompt_tokens / (spec.tokens_per_s * 12) * 1e9)
        started = time.perf_counter()
        if owner._sleep(initial_delay):
            return

        def final(eval_count: int) -> dict[str, Any]:
            measured = time.perf_counter() - started - initial_delay
            eval_ns = max(int(measured * 1e9), int(eval_count / spec.tokens_per_s * 1e9), 1)
            return {
                "done_reason": done_reason,
                "done": True,
                "total_duration": load_ns + prompt_ns + eval_ns + 2_000_000,
                "load_duration": load_ns,
                "prompt_eval_count": prompt_tokens,
                "prompt_eval_duration": prompt_ns,
                "eval_count": eval_count,
                "eval_duration": eval_ns,
            }

        entries = (  # only when asked: a long reply's per-byte lists would cost gigabytes
            [owner.logprob_entry(spec, i, t, top_k) for i, t in enumerate(tokens)]
            if logprobs_on
            else []
        )
        if not stream:
            if owner._sleep(token_delay * len(tokens)):
                return
            reply: dict[str, Any] = {
                "model": model_name,
                "created_at": _now(),
                "message": {"role": "assistant", "content": "".join(tokens)},
                **final(len(tokens)),
            }
            if logprobs_on:
                reply["logprobs"] = entries
            self._send_json(200, reply)
            return

        def lines() -> Iterator[dict[str, Any]]:
            for i, token in enumerate(tokens):
                if i and owner._sleep(token_delay):
                    raise _Cut
                line: dict[str, Any] = {
                    "model": model_name,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": token},
                    "done": False,
                }
                if logprobs_on:
                    line["logprobs"] = [entries[i]]
                yield line
            yield {
                "model": model_name,
                "created_at": _now(),
                "message": {"role": "assistant", "content": ""},
                **final(len(tokens)),
            }

        self._stream("/api/chat", lines())


class _PullFailed(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the quantviz Ollama-protocol test server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11500)
    parser.add_argument("--api-key", default=None, help="require this bearer key")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between tokens")
    parser.add_argument("--initial-delay", type=float, default=0.0, help="seconds before a reply")
    parser.add_argument("--pull-step-delay", type=float, default=0.05)
    parser.add_argument("--serial", action="store_true", help="answer one chat at a time")
    parser.add_argument("--no-logprobs", action="store_true", help="act like Ollama < 0.12.11")
    parser.add_argument(
        "--model", choices=("e2b", "gemma-like"), default="e2b", help="the tags' model"
    )
    parser.add_argument("--per-layer-heads", action="store_true", help="with --model gemma-like")
    parser.add_argument("--not-installed", action="store_true", help="start with no models")
    parser.add_argument(
        "--models-dir", default=None, help="the blobs folder's parent named in FROM lines"
    )
    args = parser.parse_args(argv)
    server = OllamaTestServer(
        host=args.host,
        port=args.port,
        installed=() if args.not_installed else (Q4_TAG, Q6_TAG),
        api_key=args.api_key,
        supports_logprobs=not args.no_logprobs,
        serial=args.serial,
        token_delay=args.token_delay,
        initial_delay=args.initial_delay,
        pull_step_delay=args.pull_step_delay,
        model=args.model,
        per_layer_heads=args.per_layer_heads,
        models_dir=args.models_dir,
    )
    print(f"Ollama test server on {server.url} (Ctrl-C to stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
