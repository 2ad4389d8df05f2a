"""Which GGML type `llama-quantize` gives each tensor of a model, and why.

This follows `llama_tensor_get_type` in llama.cpp's `src/llama-quant.cpp` (the version and every
rule are cited in `docs/model-facts.md`) for the file types Q4_K_M and Q6_K, without an importance
matrix or user overrides:

* llama-quantize walks the tensors sorted by layer number, then by name, and only touches what
  `tensor_allows_quantization` allows: 2-D and 3-D tensors named `*weight`, minus norms, MoE
  routers, `per_layer_model_proj`, altup/laurel, position embeddings, patch embeddings and a few
  more small tensors. Everything else keeps the type it has;
* `output.weight`, or every token embedding (`token_embd` and Gemma's per-layer
  `per_layer_token_embd`) when the model has no `output.weight` (tied embeddings), gets Q6_K;
* in Q4_K_M, `attn_v` (and fused `attn_qkv`, `attn_kv_b`) get Q6_K where
  `use_more_bits(i, n)` holds, i counting the attn_v tensors seen so far and n all of them;
  `ffn_down` the same with n the block count;
* everything else gets the file type's default (Q4_K for Q4_K_M, Q6_K for Q6_K);
* a tensor whose row length (ne0) is not a multiple of the type's block falls back: Q4_K to
  Q5_0, Q6_K to Q8_0 (F16 if ne0 is not even a multiple of 32); a type without a
  fallback (Q8_0, which an output gets when its rows are not whole super-blocks) stops the run
  with llama-quantize's own words, raised here as `RecipeError`.

Ollama bundles a model's vision (`v.*`) and audio (`a.*`) towers and their projectors (`mm.*`) in
the same GGUF. Its llama.cpp compatibility layer hides them from the text loader, so
llama-quantize never sees them: they are copied back unchanged and do not count as attn_v or
ffn_down tensors.

Not modelled: Falcon's and 70B models' special cases and the 8-expert MoE rule.

Shapes are in GGUF order, ne0 (the row length, the input dimension of a matmul) first: the order
of `tensors[].shape` in Ollama's `/api/show`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from gguf import GGMLQuantizationType

from quantviz.quant.ggml import bits_per_weight, tensor_bytes, type_sizes
from quantviz.units import format_bytes

FILE_TYPES = {"Q4_K_M": "Q4_K", "Q6_K": "Q6_K"}  # file type -> its default tensor type
MORE_BITS_TYPE = "Q6_K"
# tensor_type_fallback: the 32-value type a K-quant falls back to when ne0 % 256 != 0
FALLBACK = {"Q4_K": "Q5_0", "Q6_K": "Q8_0"}

# Tower tensors Ollama's compatibility layer hides from llama-quantize (then restores).
TOWER_PREFIXES = ("v.", "a.", "mm.", "model.vision_tower.")

_LAYER = re.compile(r"^blk\.(\d+)\.")
# Name parts that tensor_allows_quantization refuses, with the reason shown to students.
_NEVER_QUANTIZED: tuple[tuple[str, str], ...] = (
    ("_norm.weight", "a norm"),
    ("ffn_gate_inp.weight", "an MoE router"),
    ("ffn_gate_tid2eid.weight", "an MoE routing table"),
    ("altup", "a small altup tensor"),
    ("laurel", "a small laurel tensor"),
    ("per_layer_model_proj", "Gemma's per-layer model projection, small enough to keep"),
    ("ssm_conv1d", "a small conv1d weight"),
    ("shortconv.conv.weight", "a small conv weight"),
    ("indexer.k_proj.weight", "a tiny indexer projection"),
    ("indexer.q_proj.weight", "a tiny indexer projection"),
    ("time_mix_", "a small RWKV weight"),
    ("attn_rel_b.weight", "a relative position bias"),
    (".position_embd", "a position embedding"),
    ("sam.pos_embd", "a position embedding"),
    ("sam.neck.", "a small vision tensor"),
    ("sam.net_", "a small vision tensor"),
    (".rel_pos", "a relative position table"),
    (".patch_embd", "a patch embedding"),
    (".patch_merger", "a patch merger"),
    ("a.rvq.codebook", "an audio codebook"),
    ("mm.a.code_embd", "an audio codebook"),
)
_NEVER_QUANTIZED_NAMES = {
    "position_embd.weight": "a position embedding",
    "token_types.weight": "a token-type embedding",
}
_TIME_MIX = {"first", "w0", "w1", "w2", "v0", "v1", "v2", "a0", "a1", "a2", "g1", "g2",
             "decay_w1", "decay_w2", "lerp_fused"}  # fmt: skip


class RecipeError(ValueError):
    """llama-quantize would stop on this tensor list; the message is llama-quantize's."""


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
    quantized: bool = True  # False: llama-quantize leaves this tensor as it is

    @property
    def n_weights(self) -> int:
        return math.prod(self.shape)

    @property
    def bits_per_weight(self) -> float:
        return bits_per_weight(self.qtype)

    @property
    def n_bytes(self) -> int:
        """Bytes in the GGUF file: rows of ne0 / block_values blocks of block_bytes each."""
        return tensor_bytes(self.qtype, self.n_weights)


@dataclass(frozen=True)
class TypeTotals:
    count: int
    n_weights: int
    n_bytes: int


@dataclass(frozen=True)
class RecipeSummary:
    """Size of a model under a recipe: totals and the tensor mix by type (largest first)."""

    n_weights: int
    n_bytes: int
    by_type: Mapping[str, TypeTotals] = field(default_factory=lambda: MappingProxyType({}))

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
    """The block number of `blk.N.*`, -1 otherwise (llama.cpp's weight_name_comparer)."""
    match = _LAYER.match(name)
    return int(match.group(1)) if match else -1


def _category(name: str) -> str:
    """tensor_get_category: the first of these name tests that matches, in llama.cpp's order."""
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    for part, category in (
        ("attn_qkv.weight", "attn_v"),  # category_is_attn_v
        ("attn_kv_b.weight", "attn_v"),
        ("attn_v.weight", "attn_v"),
        ("attn_k.weight", "attn_k"),
        ("attn_q.weight", "attn_q"),
        ("attn_output.weight", "attn_output"),
        ("ffn_up", "ffn_up"),
        ("ffn_gate", "ffn_gate"),
        ("ffn_down", "ffn_down"),
    ):
        if part in name:
            return category
    return "other"


def is_tower(name: str) -> bool:
    """A vision/audio tower or projector tensor that llama-quantize never sees in Ollama."""
    return name.startswith(TOWER_PREFIXES)


def _as_spec(t: TensorSpec | Mapping | Sequence) -> TensorSpec:
    if isinstance(t, TensorSpec):
        return t
    if isinstance(t, Mapping):  # an /api/show entry: {"name", "type", "shape"}
        return TensorSpec(str(t["name"]), tuple(int(n) for n in t["shape"]), t.get("type"))
    name, shape = t[0], t[1]
    return TensorSpec(str(name), tuple(int(n) for n in shape))


def kept_reason(spec: TensorSpec) -> str | None:
    """Why llama-quantize leaves this tensor as it is, or None when it quantizes it."""
    name = spec.name
    if is_tower(name):
        return (
            "a vision/audio tower or projector tensor: Ollama hides the towers from "
            "llama-quantize and copies them back unchanged"
        )
    if spec.n_dims < 2:
        return "1-D tensor (a norm, bias or scale): llama.cpp quantizes only 2-D and 3-D tensors"
    if not name.endswith("weight"):
        return "not a weight: llama.cpp quantizes only tensors named *weight"
    if name in _NEVER_QUANTIZED_NAMES:
        return f"{_NEVER_QUANTIZED_NAMES[name]}: never quantized by llama.cpp"
    for part, what in _NEVER_QUANTIZED:
        if part == "time_mix_":
            if any(f"time_mix_{s}.weight" in name for s in _TIME_MIX):
                return f"{what}: never quantized by llama.cpp"
            continue
        if part in name:
            return f"{what} ('{part}'): never quantized by llama.cpp"
    return None


def _block(qtype: str) -> int:
    return type_sizes(qtype)[0]


def _fallback(name: str, qtype: str, ne0: int, reason: str) -> tuple[str, str]:
    """tensor_type_fallback: a type needs rows that are whole blocks of it."""
    if ne0 % _block(qtype) == 0:
        return qtype, reason
    if qtype not in FALLBACK:
        raise RecipeError(
            f"{name}: no tensor type fallback is defined for type {qtype.lower()} "
            f"(rows of {ne0} are not a multiple of {_block(qtype)}); llama-quantize stops here"
        )
    new = FALLBACK[qtype]
    if ne0 % _block(new):
        new = "F16"
    return new, (
        f"{reason}; but rows of {ne0} are not a multiple of {_block(qtype)}, so {new} instead"
    )


_TOKEN_EMBD_WHAT = {
    "token_embd.weight": "token embedding",
    "per_layer_token_embd.weight": (
        "per-layer embedding table (Gemma's per-layer inputs: one row of every layer's extra "
        "input per vocabulary token; llama.cpp counts it as a token embedding)"
    ),
}


def quantize_types(
    tensors: Iterable[TensorSpec | Mapping | Sequence],
    file_type: str = "Q4_K_M",
    n_layers: int | None = None,
) -> list[TensorChoice]:
    """The type llama-quantize gives every tensor for `file_type`, in the input order.

    `tensors` holds `TensorSpec`s, `/api/show` entries (`{"name", "shape", "type"}`) or
    `(name, shape)` pairs. `n_layers` is the block count (`<arch>.block_count`); by default one
    more than the highest `blk.N.` in the names. Raises `RecipeError` where llama-quantize stops.
    """
    if file_type not in FILE_TYPES:
        raise ValueError(f"unknown file type {file_type!r}; known: {', '.join(FILE_TYPES)}")
    default = FILE_TYPES[file_type]
    q4_k_m = file_type == "Q4_K_M"
    specs = [_as_spec(t) for t in tensors]
    seen = [k for k, s in enumerate(specs) if not is_tower(s.name)]  # what llama-quantize loads
    layers = [_layer(s.name) for s in specs]
    if n_layers is None:
        n_layers = max((layers[k] for k in seen), default=-1) + 1
    categories = {k: _category(specs[k].name) for k in seen}
    tied = not any(c == "output" for c in categories.values())
    n_attn_v = sum(c == "attn_v" for c in categories.values())
    moe = any("_exps" in specs[k].name for k in seen)  # then ffn_down's layer comes from its name

    i_attn_v = i_ffn_down = 0
    choices: dict[int, TensorChoice] = {}
    for k in sorted(seen, key=lambda k: (layers[k], specs[k].name)):
        spec = specs[k]
        kept = kept_reason(spec)
        if kept is not None:
            choices[k] = _keep(spec, kept)
            continue
        name, ne0, category = spec.name, spec.shape[0], categories[k]
        qtype, reason = default, f"the {file_type} default"
        if category == "output" or (tied and category == "token_embd"):
            what = (
                "output projection"
                if category == "output"
                else f"{_TOKEN_EMBD_WHAT[name]}, tied to the output (no output.weight)"
            )
            if ne0 % _block(default):
                qtype = "Q8_0"
                reason = f"{what}: rows of {ne0} are not whole super-blocks, so Q8_0"
            else:
                qtype, reason = MORE_BITS_TYPE, f"{what}: gets Q6_K"
        elif category == "token_embd":
            reason = f"{_TOKEN_EMBD_WHAT[name]} (the output has its own weight): the default"
        elif category == "attn_v":
            more = q4_k_m and use_more_bits(i_attn_v, n_attn_v)
            if q4_k_m:
                qtype = MORE_BITS_TYPE if more else default
                reason = _layer_reason("attn_v", i_attn_v, n_attn_v, more)
            i_attn_v += 1
        elif category == "ffn_down":
            i_layer = layers[k] if moe else i_ffn_down
            if q4_k_m:
                more = use_more_bits(i_layer, n_layers)
                qtype = MORE_BITS_TYPE if more else default
                reason = _layer_reason("ffn_down", i_layer, n_layers, more)
            i_ffn_down += 1
        qtype, reason = _fallback(name, qtype, ne0, reason)
        choices[k] = TensorChoice(name, spec.shape, qtype, reason)
    for k, spec in enumerate(specs):
        if k not in choices:  # a tower tensor
            choices[k] = _keep(spec, kept_reason(spec) or "")
    return [choices[k] for k in range(len(specs))]


def _keep(spec: TensorSpec, why: str) -> TensorChoice:
    known = spec.type.upper() if spec.type else None
    qtype = known if known in GGMLQuantizationType.__members__ else None
    qtype = qtype or ("F32" if spec.n_dims < 2 else "F16")
    return TensorChoice(spec.name, spec.shape, qtype, f"{why}; stays {qtype}", quantized=False)


def q4_k_m(
    tensors: Iterable[TensorSpec | Mapping | Sequence], n_layers: int | None = None
) -> list[TensorChoice]:
    """`quantize_types` for Q4_K_M: the recipe the lab's q4 tag was made with."""
    return quantize_types(tensors, "Q4_K_M", n_layers)


def _layer_reason(role: str, i: int, n: int, more: bool) -> str:
    if more:
        return f"{role} number {i} of {n}: use_more_bits holds, so Q6_K"
    return f"{role} number {i} of {n}: use_more_bits does not hold, so the default Q4_K"


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
    return RecipeSummary(n_weights, n_bytes, MappingProxyType(ordered))


@dataclass(frozen=True)
class SizeExpectation:
    """What the recipe predicts for a Q4_K_M file against a Q6_K file of the same tensors."""

    q4_k_m: RecipeSummary
    q6_k: RecipeSummary
    q6_k_weights_in_q4: int  # weights the Q4_K_M file keeps at Q6_K
    unchanged_weights: int  # weights llama-quantize leaves as they are in both files

    @property
    def ratio(self) -> float:
        """Expected size(Q4_K_M) / size(Q6_K), tensor bytes only."""
        return self.q4_k_m.n_bytes / self.q6_k.n_bytes if self.q6_k.n_bytes else 0.0

    @property
    def q6_k_share(self) -> float:
        """Share of all weights that are Q6_K even in the Q4_K_M file."""
        total = self.q4_k_m.n_weights
        return self.q6_k_weights_in_q4 / total if total else 0.0


def expected_sizes(
    tensors: Iterable[TensorSpec | Mapping | Sequence], n_layers: int | None = None
) -> SizeExpectation:
    """Both recipes on one tensor list: the size ratio they predict, and why."""
    specs = [_as_spec(t) for t in tensors]
    q4 = quantize_types(specs, "Q4_K_M", n_layers)
    q6 = quantize_types(specs, "Q6_K", n_layers)
    return SizeExpectation(
        q4_k_m=summarize(q4),
        q6_k=summarize(q6),
        q6_k_weights_in_q4=sum(c.n_weights for c in q4 if c.quantized and c.qtype == "Q6_K"),
        unchanged_weights=sum(c.n_weights for c in q4 if not c.quantized),
    )


# --------------------------------------------------------------------------------------------
# A recipe and what it means, for the recipe view (Objective 1) and the metadata widget


@dataclass(frozen=True)
class RecipeReport:
    """The Q4_K_M type of every tensor of a list, its totals, and the size ratio it predicts."""

    choices: tuple[TensorChoice, ...]
    summary: RecipeSummary
    expected: SizeExpectation


def recipe_report(
    tensors: Iterable[TensorSpec | Mapping | Sequence], n_layers: int | None = None
) -> RecipeReport:
    """`q4_k_m` and `expected_sizes` of one tensor list; RecipeError where llama-quantize stops."""
    specs = [_as_spec(t) for t in tensors]
    choices = tuple(q4_k_m(specs, n_layers))
    return RecipeReport(choices, summarize(choices), expected_sizes(specs, n_layers))


def type_mix_rows(summary: RecipeSummary) -> list[dict[str, object]]:
    """One row per GGML type: tensors, weights, bytes and their shares, bits per weight."""
    return [
        {
            "type": qtype,
            "tensors": t.count,
            "weights": t.n_weights,
            "share of weights": t.n_weights / summary.n_weights if summary.n_weights else 0.0,
            "bytes": t.n_bytes,
            "share of bytes": t.n_bytes / summary.n_bytes if summary.n_bytes else 0.0,
            "bits / weight": bits_per_weight(qtype),
        }
        for qtype, t in summary.by_type.items()
    ]


def _kept_group(name: str) -> str:
    for prefix, group in (("v.", "vision tower"), ("a.", "audio tower"), ("mm.", "projectors")):
        if name.startswith(prefix):
            return group
    return name.removesuffix(".weight")


def average_note(report: RecipeReport) -> str:
    """Where the average bits per weight comes from: the Q6_K share, the biggest Q6_K tensor's
    part in it, Gemma's per-layer table, and the matrices left as they are."""
    choices, summary = report.choices, report.summary
    q6 = summary.by_type.get("Q6_K")
    if q6 is None or not summary.n_weights:
        return f"Average: {summary.bits_per_weight:.2f} bits per weight, scales included."
    biggest = max((c for c in choices if c.qtype == "Q6_K"), key=lambda c: c.n_weights)
    text = (
        f"Q6_K holds {q6.n_weights / summary.n_weights:.1%} of the weights in {q6.count} "
        f"tensors ({biggest.name} alone {biggest.n_weights / summary.n_weights:.1%}), which "
        f"lifts the average from Q4_K's 4.5 to {summary.bits_per_weight:.2f} bits per weight."
    )
    if any(c.name == "per_layer_token_embd.weight" for c in choices):
        text += (
            " per_layer_token_embd is Gemma's per-layer embedding table: for every vocabulary "
            "token, a small extra input to each of the layers. llama.cpp counts it as a token "
            "embedding, so with tied embeddings it gets the output's Q6_K even in Q4_K_M."
        )
    kept = [c for c in choices if not c.quantized and c.n_weights > 1 and len(c.shape) > 1]
    if kept:
        text += (
            f" {len(kept)} matrices stay as they are ("
            + ", ".join(sorted({_kept_group(c.name) for c in kept}))
            + ")."
        )
    return text


def ratio_note(report: RecipeReport) -> str:
    """Why the Q4_K_M / Q6_K size ratio is not the rule of thumb's 4.8 / 6.6 ≈ 0.73."""
    expected, summary = report.expected, report.summary
    unchanged = expected.unchanged_weights / summary.n_weights if summary.n_weights else 0.0
    return (
        f"The same tensors under Q6_K take {format_bytes(expected.q6_k.n_bytes)}: a Q4_K_M file "
        f"should be about {expected.ratio:.2f} of the Q6_K file's size, not the 4.8 / 6.6 ≈ 0.73 "
        f"of the rule of thumb, because {expected.q6_k_share:.0%} of the weights are Q6_K in both "
        "files"
        + (f" and {unchanged:.0%} are left as they are" if unchanged >= 0.005 else "")
        + ". Objective 3 measures the real ratio."
    )
