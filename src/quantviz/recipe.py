"""Which GGML type llama.cpp's Q4_K_M recipe gives each tensor of a model, and why.

This mirrors `llama_tensor_get_type` in llama.cpp's `src/llama-quant.cpp` for the file type
Q4_K_M (default type Q4_K) without an importance matrix or user overrides:

* tensors llama.cpp never quantizes (1-D tensors such as norms and biases, `*_norm.weight`,
  MoE router `ffn_gate_inp`, a few small special tensors) keep their type, F32 for 1-D ones;
* `output.weight`, or the token embedding when the model has no `output.weight` (tied
  embeddings), get Q6_K;
* `attn_v` (and fused `attn_qkv`, `attn_kv_b`) and `ffn_down` get Q6_K in the layers where
  `use_more_bits(i, n)` holds, the first and last eighth and every third layer between;
* everything else gets Q4_K;
* a tensor whose row length (ne0) is not a multiple of 256 falls back: Q4_K to Q5_0,
  Q6_K to Q8_0 (and to F16 if ne0 is not even a multiple of 32).

Not modelled: the special cases for Falcon, 70B models and 8-expert MoE models.

Shapes are in GGUF order, ne0 (the row length, the input dimension of a matmul) first. That is
the order of `tensors[].shape` in Ollama's `/api/show`: Ollama reads the dimensions straight from
the GGUF tensor info, e.g. `token_embd.weight` of a model with n_embd 2048 and a vocabulary of
262144 is listed as `[2048, 262144]`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

from quantviz.ggml import bits_per_weight

DEFAULT_TYPE = "Q4_K"
MORE_BITS_TYPE = "Q6_K"
FALLBACK = {"Q4_K": "Q5_0", "Q6_K": "Q8_0"}  # when ne0 % 256 != 0 (tensor_type_fallback)

_LAYER = re.compile(r"^blk\.(\d+)\.")
_ATTN_V = ("attn_v.weight", "attn_qkv.weight", "attn_kv_b.weight")  # category_is_attn_v
_TOKEN_EMBD = ("token_embd.weight", "per_layer_token_embd.weight")
# name parts of 2-D tensors that tensor_allows_quantization leaves alone (the common ones)
_NEVER_QUANTIZED = (
    "_norm.weight",
    "ffn_gate_inp.weight",
    "altup",
    "laurel",
    "per_layer_model_proj",
    "position_embd",
    "pos_embd",
    "token_types",
    "ssm_conv1d",
    "attn_rel_b.weight",
)


@dataclass(frozen=True)
class TensorSpec:
    """One tensor as `/api/show` lists it: name, shape (ne0 first) and, if known, its type."""

    name: str
    shape: tuple[int, ...]
    type: str | None = None  # the type it has now; kept for tensors the recipe leaves alone

    @property
    def n_dims(self) -> int:
        """ggml_n_dims: dimensions up to the last one above 1 (Ollama may pad with 1s)."""
        dims = [i for i, n in enumerate(self.shape) if n > 1]
        return dims[-1] + 1 if dims else 1

    @property
    def n_weights(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class TensorChoice:
    """The type the recipe picks for one tensor, with the reason in words."""

    name: str
    shape: tuple[int, ...]
    qtype: str
    reason: str

    @property
    def n_weights(self) -> int:
        return math.prod(self.shape)

    @property
    def bits_per_weight(self) -> float:
        return bits_per_weight(self.qtype)

    @property
    def n_bytes(self) -> int:
        """Bytes in the GGUF file: rows of ne0 / block_values blocks of block_bytes each."""
        block_values, block_bytes = GGML_QUANT_SIZES[GGMLQuantizationType[self.qtype]]
        return self.n_weights // block_values * block_bytes


@dataclass(frozen=True)
class TypeTotals:
    count: int
    n_weights: int
    n_bytes: int


@dataclass(frozen=True)
class RecipeSummary:
    """Size of a model under a recipe: totals and the tensor mix by type."""

    n_weights: int
    n_bytes: int
    by_type: dict[str, TypeTotals] = field(default_factory=dict)

    @property
    def bits_per_weight(self) -> float:
        """Average over all weights, scales included: bytes * 8 / weights."""
        return self.n_bytes * 8 / self.n_weights if self.n_weights else 0.0


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    """llama.cpp's use_more_bits: first and last eighth of the layers, every third between."""
    return (
        i_layer < n_layers // 8
        or i_layer >= 7 * n_layers // 8
        or (i_layer - n_layers // 8) % 3 == 2  # never negative here, so C's % agrees
    )


def _layer(name: str) -> int:
    match = _LAYER.match(name)
    return int(match.group(1)) if match else -1


def _as_spec(t: TensorSpec | Mapping | Sequence) -> TensorSpec:
    if isinstance(t, TensorSpec):
        return t
    if isinstance(t, Mapping):  # an /api/show entry: {"name", "type", "shape"}
        return TensorSpec(str(t["name"]), tuple(int(n) for n in t["shape"]), t.get("type"))
    name, shape = t[0], t[1]
    return TensorSpec(str(name), tuple(int(n) for n in shape))


def _kept(spec: TensorSpec) -> str | None:
    """Why llama.cpp leaves this tensor unquantized (tensor_allows_quantization), or None."""
    if spec.n_dims < 2:
        return "1-D tensor (a norm or bias): llama.cpp quantizes only 2-D and 3-D tensors"
    if not spec.name.endswith("weight"):
        return "not a weight: llama.cpp quantizes only tensors named *weight"
    part = next((p for p in _NEVER_QUANTIZED if p in spec.name), None)
    if part is not None:
        return f"'{part}' tensors are never quantized by llama.cpp"
    return None


def _fallback(qtype: str, ne0: int, reason: str) -> tuple[str, str]:
    """tensor_type_fallback: a K-quant needs rows that are whole 256-value super-blocks."""
    block_values = GGML_QUANT_SIZES[GGMLQuantizationType[qtype]][0]
    if ne0 % block_values == 0:
        return qtype, reason
    new = FALLBACK[qtype]
    if ne0 % GGML_QUANT_SIZES[GGMLQuantizationType[new]][0]:
        new = "F16"
    return new, f"{reason}; but rows of {ne0} are not a multiple of {block_values}, so {new}"


def q4_k_m(
    tensors: Iterable[TensorSpec | Mapping | Sequence], n_layers: int | None = None
) -> list[TensorChoice]:
    """The Q4_K_M type of every tensor, in the input order, each with its reason.

    `tensors` holds `TensorSpec`s, `/api/show` entries (`{"name", "shape", "type"}`) or
    `(name, shape)` pairs. `n_layers` is the block count (`<arch>.block_count`); by default one
    more than the highest `blk.N.` in the names.
    """
    specs = [_as_spec(t) for t in tensors]
    layers = [_layer(s.name) for s in specs]
    if n_layers is None:
        n_layers = max(layers, default=-1) + 1
    tied = not any(s.name == "output.weight" for s in specs)
    moe = any("_exps" in s.name for s in specs)  # then ffn_down's layer comes from its name
    n_attn_v = sum(any(p in s.name for p in _ATTN_V) for s in specs)

    # llama.cpp walks the tensors sorted by layer, then name, and counts attn_v and ffn_down
    order = sorted(range(len(specs)), key=lambda k: (layers[k], specs[k].name))
    i_attn_v = i_ffn_down = 0
    choices: dict[int, TensorChoice] = {}
    for k in order:
        spec = specs[k]
        name, ne0 = spec.name, spec.shape[0]
        kept = _kept(spec)
        if kept is not None:
            qtype = spec.type if spec.type in GGMLQuantizationType.__members__ else None
            qtype = qtype or ("F32" if spec.n_dims < 2 else "F16")
            choices[k] = TensorChoice(name, spec.shape, qtype, f"{kept}; stays {qtype}")
            continue

        if name == "output.weight" or (tied and name in _TOKEN_EMBD):
            what = (
                "output projection"
                if name == "output.weight"
                else "token embedding, also the output (no output.weight)"
            )
            qtype, reason = MORE_BITS_TYPE, f"{what}: Q4_K_M gives it Q6_K"
            if ne0 % 256:  # checked before the generic fallback, with the same outcome
                qtype = "Q8_0" if ne0 % 32 == 0 else "F16"
                reason += f"; but rows of {ne0} are not a multiple of 256, so {qtype}"
        elif name in _TOKEN_EMBD:
            reason = "token embedding (the output has its own weight): the Q4_K_M default"
            qtype, reason = _fallback(DEFAULT_TYPE, ne0, reason)
        elif any(p in name for p in _ATTN_V):
            more = use_more_bits(i_attn_v, n_attn_v)
            qtype = MORE_BITS_TYPE if more else DEFAULT_TYPE
            reason = _layer_reason("attn_v", i_attn_v, n_attn_v, more)
            i_attn_v += 1
            qtype, reason = _fallback(qtype, ne0, reason)
        elif "ffn_down" in name:
            i_layer = layers[k] if moe else i_ffn_down
            more = use_more_bits(i_layer, n_layers)
            qtype = MORE_BITS_TYPE if more else DEFAULT_TYPE
            reason = _layer_reason("ffn_down", i_layer, n_layers, more)
            i_ffn_down += 1
            qtype, reason = _fallback(qtype, ne0, reason)
        else:
            qtype, reason = _fallback(DEFAULT_TYPE, ne0, "the Q4_K_M default")
        choices[k] = TensorChoice(name, spec.shape, qtype, reason)
    return [choices[k] for k in range(len(specs))]


def _layer_reason(role: str, i: int, n: int, more: bool) -> str:
    if more:
        return f"{role} of layer {i} of {n}: use_more_bits holds, so Q6_K"
    return f"{role} of layer {i} of {n}: use_more_bits does not hold, so the default Q4_K"


def summarize(choices: Iterable[TensorChoice]) -> RecipeSummary:
    """Totals of a recipe: weights, bytes, average bits per weight and the mix by type."""
    by_type: dict[str, TypeTotals] = {}
    n_weights = n_bytes = 0
    for c in choices:
        t = by_type.get(c.qtype, TypeTotals(0, 0, 0))
        by_type[c.qtype] = TypeTotals(t.count + 1, t.n_weights + c.n_weights, t.n_bytes + c.n_bytes)
        n_weights += c.n_weights
        n_bytes += c.n_bytes
    ordered = dict(sorted(by_type.items(), key=lambda kv: -kv[1].n_bytes))
    return RecipeSummary(n_weights, n_bytes, ordered)


GEMMA_LIKE_LABEL = (
    "Gemma-like layout (an approximation, not a real checkpoint): 35 blocks, n_embd 1536, "
    "8 query heads and 1 KV head of 256, FFN 6144, vocabulary 262144, tied embeddings"
)


def gemma_like_layout(
    n_layers: int = 35,
    n_embd: int = 1536,
    n_head: int = 8,
    n_head_kv: int = 1,
    head_dim: int = 256,
    n_ff: int = 6144,
    n_vocab: int = 262144,
) -> list[TensorSpec]:
    """Tensor names and shapes in the style of a Gemma 3 GGUF (see GEMMA_LIKE_LABEL).

    The names and roles follow llama.cpp's gemma3 tensors; the sizes are illustrative. There is
    no output.weight: the output reuses the token embedding, as in Gemma.
    """
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
