"""GGUF block formats (`data-gguf-formats`): one super-block of 256 weights, byte for byte.

The explorer draws 256 weights (normal(0, 0.02), optionally with one outlier), quantizes them
with the seed's per-tensor toy int-N and with Q4_0, Q4_K, Q5_K, Q6_K and Q8_0 exactly as
llama.cpp does (`quantviz.quant.ggml`), and shows the error grids with block boundaries, a table of
bits, bytes and errors, and what one scheme stores: scales, codes and the raw bytes.

`<div data-gguf-formats data-view="recipe"></div>` renders llama.cpp's Q4_K_M recipe on Gemma 4
E2B's text model (`quantviz.quant.gemma4_e2b`) instead; `render_recipe` is the same view for any
tensor list (the metadata widget passes an endpoint's real one).

The GGUF results depend only on the draw (distribution, seed), so they are cached: a move of the
toy bits slider recomputes the toy scheme and the figures only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import streamlit as st
from numpy.typing import NDArray

from quantviz.figures.ggml import Panel, code_grid_figure, error_grid_figure
from quantviz.quant import gemma4_e2b, ggml, packing
from quantviz.quant.absmax import MAX_BITS, MIN_BITS, Distribution, quantize_symmetric
from quantviz.quant.recipe import (
    RecipeError,
    RecipeSummary,
    TensorChoice,
    TensorSpec,
    expected_sizes,
    q4_k_m,
    summarize,
)
from quantviz.ui.context import WidgetContext
from quantviz.ui.evidence_button import save_button
from quantviz.units import format_billions, format_bytes

N_WEIGHTS = ggml.QK_K  # one super-block
SIGMA = 0.02
OUTLIER_RANGE = (0.2, 0.4)  # |outlier|: 10 to 20 sigma
DEFAULT_SEED = 1
DEFAULT_TOY_BITS = 4
DEFAULT_STORED = "Q4_K"
TOY = "toy"
GGUF_TYPES = tuple(ggml.FORMATS)  # Q4_0, Q4_K, Q5_K, Q6_K, Q8_0
SCHEMES = (TOY, *GGUF_TYPES)
DISTRIBUTIONS: dict[Distribution, str] = {
    "normal": "normal",
    "outlier": "normal + one outlier",
}
FORMULAS = {
    TOY: "ŵ = scale · (code − {offset})",
    "Q4_0": "ŵ = d · (q − 8), one d per block of 32",
    "Q8_0": "ŵ = d · q, one d per block of 32 (q is signed)",
    "Q4_K": "ŵ = d · sc[s] · q − dmin · m[s], s = i // 32",
    "Q5_K": "ŵ = d · sc[s] · q − dmin · m[s], s = i // 32 (q has 5 bits: 4 in qs, 1 in qh)",
    "Q6_K": "ŵ = d · sc[s] · (q − 32), s = i // 16 (q has 6 bits: 4 in ql, 2 in qh)",
}
HEX_BYTES_PER_LINE = 16
_FIELD = re.compile(r"^(?P<name>\w+) .*\((?P<n>\d+)\)$")


# ---------------------------------------------------------------------------------------------
# computation (no streamlit)


def draw_superblock(seed: int, distribution: Distribution = "normal") -> NDArray[np.float32]:
    """256 seeded normal(0, 0.02) weights; "outlier" sets one of them to ±0.2-0.4."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, SIGMA, N_WEIGHTS)
    if distribution == "outlier":
        i = rng.integers(N_WEIGHTS)
        w[i] = rng.choice([-1.0, 1.0]) * rng.uniform(*OUTLIER_RANGE)
    elif distribution != "normal":
        raise ValueError(f"unknown distribution {distribution!r}")
    return w.astype(np.float32)


@dataclass(frozen=True)
class SchemeResult:
    """One scheme applied to the super-block: what it stores and what it reconstructs."""

    scheme: str  # "toy" or a GGUF type name
    name: str  # "toy int4", "Q4_K", ...
    label: str  # for the table: "toy int4 (per tensor)", "Q4_K", ...
    w_hat: NDArray[np.float64]  # (256,)
    codes: NDArray[np.int64]  # (256,) the stored integer code of every weight
    data: NDArray[np.uint8]  # every stored byte of the 256 weights
    blocks: tuple[ggml.BlockFields, ...]  # decoded blocks (empty for the toy)
    block: int  # weights per block with its own fp16 scale
    sub_block: int  # weights per sub-block scale
    bits_per_weight: float  # scales included
    scale: float = 0.0  # the toy's one scale

    @property
    def n_bytes(self) -> int:
        return int(self.data.size)


@dataclass(frozen=True)
class ErrorStats:
    rmse: float
    max_error: float
    snr_db: float  # 10·log10(Σw² / Σ(w − ŵ)²); inf for an exact reconstruction


def error_stats(w: NDArray, w_hat: NDArray) -> ErrorStats:
    w = np.asarray(w, np.float64)
    err = w - np.asarray(w_hat, np.float64)
    noise = float(np.sum(err * err))
    signal = float(np.sum(w * w))
    snr = 10 * np.log10(signal / noise) if noise > 0 else float("inf")
    return ErrorStats(float(np.sqrt(noise / err.size)), float(np.abs(err).max()), float(snr))


def quantize_gguf(w: NDArray[np.float32], qtype: str) -> SchemeResult:
    """Quantize with llama.cpp's reference quantizer and decode every block it wrote."""
    fmt = ggml.FORMATS[qtype]
    data = ggml.quantize(w, qtype)
    blocks = tuple(ggml.unpack_block(data, qtype, i) for i in range(w.size // fmt.block_values))
    return SchemeResult(
        scheme=qtype,
        name=qtype,
        label=qtype,
        w_hat=np.concatenate([b.values for b in blocks]).astype(np.float64),
        codes=np.concatenate([b.q for b in blocks]).astype(np.int64),
        data=data,
        blocks=blocks,
        block=fmt.block_values,
        sub_block=fmt.sub_block,
        bits_per_weight=ggml.bits_per_weight(qtype),
    )


def quantize_toy(w: NDArray[np.float32], bits: int) -> SchemeResult:
    """The seed's per-tensor absmax int-N; stored as one fp16 scale and codes q + 2^(bits-1)."""
    q, scale, w_hat = quantize_symmetric(w, bits)
    codes = packing.to_unsigned(q, bits).astype(np.int64)
    data = np.concatenate([packing.fp16_bytes(scale), packing.pack_bitstream(codes, bits)])
    return SchemeResult(
        scheme=TOY,
        name=f"toy int{bits}",
        label=f"toy int{bits} (per tensor)",
        w_hat=np.asarray(w_hat, np.float64),
        codes=codes,
        data=data,
        blocks=(),
        block=w.size,
        sub_block=w.size,
        bits_per_weight=bits + packing.SCALE_BITS / w.size,
        scale=float(scale),
    )


def block_fields(qtype: str) -> list[tuple[str, int]]:
    """The fields of one block in byte order, from the format table: [("d", 2), ...]."""
    fmt = ggml.FORMATS[qtype]
    fields = [
        (m["name"], int(m["n"]))
        for m in (_FIELD.match(part) for part in fmt.layout.split(" · "))
        if m
    ]
    if sum(n for _, n in fields) != fmt.block_bytes:
        raise ValueError(f"{qtype}'s layout {fmt.layout!r} does not add up to its block size")
    return fields


def hex_dump(fields: Sequence[tuple[str, int]], data: NDArray[np.uint8]) -> str:
    """Bytes as hex, one labelled group per field, each line led by its offset in the block."""
    lines, start = [], 0
    heads = [f"{name} ({n} B)" for name, n in fields]
    pad = max(len(h) for h in heads) + 2
    for head, (_, n) in zip(heads, fields, strict=True):
        for i in range(0, n, HEX_BYTES_PER_LINE):
            label = head if i == 0 else ""
            chunk = data[start + i : start + min(n, i + HEX_BYTES_PER_LINE)]
            lines.append(f"{label:<{pad}}{start + i:03x}  {packing.hex_bytes(chunk)}")
        start += n
    return "\n".join(lines)


def outlier_caption(
    w: NDArray[np.float32],
    toy: SchemeResult,
    q4k: SchemeResult,
    bits: int,
    distribution: Distribution = "outlier",
) -> str:
    """One sentence from the numbers: what the largest weight does to the toy scale and to Q4_K."""
    w = np.asarray(w, np.float64)
    i = int(np.abs(w).argmax())
    rest = np.delete(w, i)
    ratio = abs(w[i]) / float(np.sqrt(np.mean(rest * rest)))
    zeros = int(np.sum(toy.codes == 2 ** (bits - 1)))
    t, k = error_stats(w, toy.w_hat).rmse, error_stats(w, q4k.w_hat).rmse
    if k < t:
        verdict = f"keeps RMSE at {k:.3g}, {t / k:.1f}× lower"
    else:  # many toy bits beat Q4_K's 4.5
        extra = toy.bits_per_weight - q4k.bits_per_weight
        verdict = (
            f"has RMSE {k:.3g}, {k / t:.1f}× the toy's, which spends {extra:.2f} more bits "
            "per weight"
        )
    verb = "rounds" if zeros == 1 else "round"
    toy_part = (
        f"sets the toy int{bits} scale to {toy.scale:.3g}, so {zeros} of 256 weights {verb} to 0 "
        f"(RMSE {t:.3g})"
    )
    sub = q4k.blocks[0].sub_scales  # (8,) d·sc of each sub-block of 32
    if distribution != "outlier":
        return (
            f"With no outlier the largest weight, w[{i}] = {w[i]:+.4f}, is {ratio:.1f}× the RMS "
            f"of the others; it {toy_part}. Q4_K fits a scale to each sub-block of 32 "
            f"({sub.min():.3g} to {sub.max():.3g}) and {verdict}."
        )
    n = q4k.sub_block
    s = i // n
    others = float(np.median(np.delete(sub, s)))
    return (
        f"The outlier w[{i}] = {w[i]:+.3f} ({ratio:.0f}× the RMS of the others) {toy_part}. "
        f"Q4_K gives only its sub-block {s} (weights {s * n}–{s * n + n - 1}) a coarse scale, "
        f"{sub[s]:.3g}, against a median of {others:.3g} for the other seven, and {verdict}."
    )


# ---------------------------------------------------------------------------------------------
# the explorer


def _table(rows: Iterable[Mapping[str, object]]) -> pa.Table:
    """Rows as an Arrow table: st.dataframe serializes it in a tenth of a list's time."""
    return pa.Table.from_pylist(list(rows))


def render(ctx: WidgetContext) -> None:
    if ctx.attrs.get("view") == "recipe":
        with st.container(border=True):
            st.subheader("The Q4_K_M recipe, tensor by tensor", anchor=False)
            render_recipe(
                gemma4_e2b.text_tensors(),
                f"{ctx.key}-recipe",
                gemma4_e2b.LABEL,
                gemma4_e2b.N_LAYER,
            )
        return
    with st.container(border=True):
        st.subheader("GGUF block formats: one super-block of 256 weights", anchor=False)
        _explorer(ctx.key)


def _new_draw(key: str) -> None:
    st.session_state[f"{key}-seed"] += 1


@st.cache_data(max_entries=64, show_spinner=False)
def _gguf_results(seed: int, distribution: Distribution) -> dict[str, SchemeResult]:
    """Every GGUF type on the draw: about 15 ms, so cached by the draw itself."""
    w = draw_superblock(seed, distribution)
    return {t: quantize_gguf(w, t) for t in GGUF_TYPES}


@st.fragment
def _explorer(key: str) -> None:
    st.session_state.setdefault(f"{key}-seed", DEFAULT_SEED)
    c1, c2, c3, c4 = st.columns([4, 2, 2, 3], vertical_alignment="bottom")
    dist = c1.segmented_control(
        "distribution",
        list(DISTRIBUTIONS),
        help="Normal: 256 draws of normal(0, 0.02). Outlier: one of them replaced by ±0.2 to "
        "0.4, 10 to 20 standard deviations.",
        format_func=DISTRIBUTIONS.get,
        default="normal",
        required=True,
        key=f"{key}-dist",
    )
    seed = c2.number_input("seed", min_value=0, step=1, key=f"{key}-seed")
    c3.button(
        "New draw", on_click=_new_draw, args=(key,), key=f"{key}-new", icon=":material/casino:"
    )
    bits = c4.slider(
        "toy int-N bits",
        MIN_BITS,
        MAX_BITS,
        DEFAULT_TOY_BITS,
        key=f"{key}-bits",
        help="Bits of the seed's scheme: one absmax scale for all 256 weights.",
    )

    distribution: Distribution = dist or "normal"
    w = draw_superblock(int(seed), distribution)
    try:
        gguf = _gguf_results(int(seed), distribution)
    except ggml.NonFiniteWeightError as err:  # names the weight, its block and the type
        st.error(f"These weights cannot be quantized: {err}.", icon=":material/error:")
        return
    results = {TOY: quantize_toy(w, bits), **gguf}
    stats = {name: error_stats(w, r.w_hat) for name, r in results.items()}

    st.info(
        outlier_caption(w, results[TOY], results["Q4_K"], bits, distribution),
        icon=":material/insights:",
    )
    _error_grids(key, w, results)
    st.dataframe(
        _table(
            {
                "scheme": r.label,
                "bits / weight": r.bits_per_weight,
                "bytes (256 weights)": r.n_bytes,
                "RMSE": stats[name].rmse,
                "max error": stats[name].max_error,
                "SNR (dB)": stats[name].snr_db,
            }
            for name, r in results.items()
        ),
        hide_index=True,
        column_config={
            "bits / weight": st.column_config.NumberColumn(format="%.5g"),
            "RMSE": st.column_config.NumberColumn(format="%.2e"),
            "max error": st.column_config.NumberColumn(format="%.2e"),
            "SNR (dB)": st.column_config.NumberColumn(format="%.1f"),
        },
        key=f"{key}-table",
    )
    st.caption(
        "Bits per weight count every stored byte: the toy's codes plus one fp16 scale "
        "(bits + 16/256), a GGUF block's scales, mins and codes (block bytes × 8 / weights). "
        "SNR = 10·log10(Σw² / Σ(w − ŵ)²)."
    )
    save_button(
        f"{key}-save",
        f"GGUF formats: {distribution} super-block, seed {int(seed)}, toy int{bits}",
        {
            "distribution": distribution,
            "seed": int(seed),
            "toy_bits": bits,
            "schemes": {
                r.label: {
                    "bits_per_weight": r.bits_per_weight,
                    "bytes": r.n_bytes,
                    "rmse": stats[name].rmse,
                    "max_error": stats[name].max_error,
                    "snr_db": stats[name].snr_db,
                }
                for name, r in results.items()
            },
        },
    )
    _stored(key, w, results, bits)


@st.fragment
def _error_grids(key: str, w: NDArray[np.float32], results: Mapping[str, SchemeResult]) -> None:
    """The weights and every scheme's error grid; the colour-range toggle reruns only this."""
    shared = st.toggle(
        "one colour range for every error grid",
        value=True,
        key=f"{key}-shared",
        help="On: equal colours mean equal errors across schemes. Off: each grid spans its own "
        "largest error, which shows the block pattern of the finer formats.",
    )
    panels = [
        Panel(f"{r.name}: w − ŵ", w - r.w_hat, r.block, r.sub_block) for r in results.values()
    ]
    st.plotly_chart(error_grid_figure(w, panels, shared), key=f"{key}-errors")


@st.fragment
def _stored(
    key: str, w: NDArray[np.float32], results: Mapping[str, SchemeResult], bits: int
) -> None:
    """What the chosen scheme stores: scales, codes and the raw bytes of its first block.

    A fragment of its own, so picking another scheme reruns this view only.
    """
    st.markdown("**What is stored**")
    name = st.segmented_control(
        "scheme",
        SCHEMES,
        format_func=lambda s: f"toy int{bits}" if s == TOY else s,
        default=DEFAULT_STORED,
        required=True,
        key=f"{key}-stored",
        label_visibility="collapsed",
    )
    r = results[name or DEFAULT_STORED]
    st.caption(FORMULAS[r.scheme].format(offset=2 ** (bits - 1)))
    left, right = st.columns(2)
    left.plotly_chart(
        code_grid_figure(r.codes, w, r.w_hat, r.block, r.sub_block),
        key=f"{key}-codes",
    )
    with right:
        _scales(key, r)
    if r.scheme == TOY:
        fields = [("scale", 2), ("codes", r.n_bytes - 2)]
        what = f"all {r.n_bytes} bytes: the fp16 scale, then the codes as a {bits}-bit stream"
        data = r.data
    else:
        fmt = ggml.FORMATS[r.scheme]
        fields = block_fields(r.scheme)
        data = r.data[: fmt.block_bytes]
        what = (
            f"the super-block's {fmt.block_bytes} bytes"
            if fmt.block_values == N_WEIGHTS
            else f"block 0 (weights 0–31) of {N_WEIGHTS // fmt.block_values}, "
            f"{fmt.block_bytes} bytes"
        )
    st.markdown(f"Raw bytes, {what}:")
    st.code(hex_dump(fields, data), language=None)


def _scales(key: str, r: SchemeResult) -> None:
    """The scale fields of the chosen scheme: metrics for d/dmin, a table per (sub-)block."""
    if r.scheme == TOY:
        st.metric("scale (one for all 256)", f"{r.scale:.6f}")
        st.caption(f"Stored as fp16: {packing.fp16_hex(r.scale)}.")
        return
    b = r.blocks[0]
    if r.scheme in ("Q4_0", "Q8_0"):
        st.metric("blocks", f"{len(r.blocks)} × 32 weights", "each with its own fp16 d")
        rows = [
            {
                "block": i,
                "weights": f"{32 * i}–{32 * i + 31}",
                "d (fp16)": blk.d,
                "d bytes": packing.fp16_hex(blk.d),
            }
            for i, blk in enumerate(r.blocks)
        ]
        config = {"d (fp16)": st.column_config.NumberColumn(format="%.6f")}
    else:
        c1, c2 = st.columns(2)
        c1.metric("d (fp16)", f"{b.d:.4e}")
        if r.scheme == "Q6_K":
            c2.metric("sub-blocks", "16 × 16 weights")
            rows = [
                {
                    "sub-block": s,
                    "weights": f"{16 * s}–{16 * s + 15}",
                    "int8 scale": int(b.scales[s]),
                    "d·scale": float(b.sub_scales[s]),
                }
                for s in range(16)
            ]
            config = {"d·scale": st.column_config.NumberColumn(format="%.6f")}
        else:
            c2.metric("dmin (fp16)", f"{b.dmin:.4e}")
            rows = [
                {
                    "sub-block": s,
                    "weights": f"{32 * s}–{32 * s + 31}",
                    "6-bit scale": int(b.scales[s]),
                    "6-bit min": int(b.mins[s]),
                    "d·scale": float(b.sub_scales[s]),
                    "dmin·min": float(b.sub_mins[s]),
                }
                for s in range(8)
            ]
            config = {
                "d·scale": st.column_config.NumberColumn(format="%.6f"),
                "dmin·min": st.column_config.NumberColumn(format="%.6f"),
            }
    st.dataframe(_table(rows), hide_index=True, column_config=config, key=f"{key}-scales")


# ---------------------------------------------------------------------------------------------
# the Q4_K_M recipe


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
            "bits / weight": ggml.bits_per_weight(qtype),
        }
        for qtype, t in summary.by_type.items()
    ]


def render_recipe(
    tensors: Iterable[TensorSpec | Mapping | Sequence],
    key: str,
    label: str | None = None,
    n_layers: int | None = None,
) -> RecipeSummary | None:
    """The Q4_K_M type of every tensor, the mix by type and the average bits per weight.

    `tensors` as `recipe.q4_k_m` takes them (`/api/show` entries work as they are); `key`
    prefixes every widget key; `label` says where the layout comes from. Returns the summary
    so a caller can set it beside a file's real type mix (None when llama-quantize would refuse
    the tensor list, which is said instead).
    """
    tensors = list(tensors)
    try:
        choices = q4_k_m(tensors, n_layers)
        expected = expected_sizes(tensors, n_layers)
    except RecipeError as exc:
        st.error(f"llama-quantize would stop on this tensor list: {exc}", icon=":material/error:")
        return None
    summary = summarize(choices)
    if label:
        st.caption(label)
    cols = st.columns(4)
    cols[0].metric("tensors", len(choices))
    cols[1].metric("weights", format_billions(summary.n_weights))
    cols[2].metric("size under Q4_K_M", format_bytes(summary.n_bytes))
    cols[3].metric("average bits / weight", f"{summary.bits_per_weight:.2f}")
    st.dataframe(
        _table(type_mix_rows(summary)),
        hide_index=True,
        column_config={
            "share of weights": st.column_config.ProgressColumn(format="percent"),
            "share of bytes": st.column_config.ProgressColumn(format="percent"),
            "bits / weight": st.column_config.NumberColumn(format="%.5g"),
        },
        key=f"{key}-types",
    )
    st.caption(_recipe_caption(choices, summary))
    st.caption(
        f"The same tensors under Q6_K take {format_bytes(expected.q6_k.n_bytes)}: a Q4_K_M file "
        f"should be about {expected.ratio:.2f} of the Q6_K file's size, not the 4.8 / 6.6 ≈ 0.73 "
        f"of the rule of thumb, because {expected.q6_k_share:.0%} of the weights are Q6_K in both "
        "files"
        + (
            f" and {expected.unchanged_weights / summary.n_weights:.0%} are left as they are"
            if expected.unchanged_weights / summary.n_weights >= 0.005
            else ""
        )
        + ". Objective 3 measures the real ratio."
    )
    with st.expander(f"Every tensor: its type and why ({len(choices)})", icon=":material/list:"):
        _tensor_table(choices, key)
    return summary


def _recipe_caption(choices: Sequence[TensorChoice], summary: RecipeSummary) -> str:
    """Where the average comes from: the Q6_K share, and the biggest Q6_K tensor's part in it."""
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


def _kept_group(name: str) -> str:
    for prefix, group in (("v.", "vision tower"), ("a.", "audio tower"), ("mm.", "projectors")):
        if name.startswith(prefix):
            return group
    return name.removesuffix(".weight")


@st.fragment
def _tensor_table(choices: Sequence[TensorChoice], key: str) -> None:
    c1, c2 = st.columns([3, 2])
    text = c1.text_input("name contains", key=f"{key}-filter", placeholder="attn_v, ffn_down...")
    present = list(dict.fromkeys(c.qtype for c in choices))
    types = c2.multiselect("types", present, default=present, key=f"{key}-filter-types")
    rows = [
        {
            "name": c.name,
            "shape": " × ".join(str(n) for n in c.shape),
            "type": c.qtype,
            "reason": c.reason,
        }
        for c in choices
        if text.strip().lower() in c.name.lower() and c.qtype in types
    ]
    st.dataframe(_table(rows), hide_index=True, key=f"{key}-tensors", height=320)
    st.caption(f"{len(rows)} of {len(choices)} tensors.")
