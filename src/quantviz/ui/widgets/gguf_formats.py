"""GGUF block formats (`data-gguf-formats`): one super-block of 256 weights, byte for byte.

The explorer shows what `quantviz.quant.superblock` computes: 256 drawn weights under the seed's
toy int-N and every GGUF type llama.cpp writes (`quantviz.quant.ggml`), as error grids with block
boundaries, a table of bits, bytes and errors, and what one scheme stores: scales, codes and the
raw bytes.

`<div data-gguf-formats data-view="recipe"></div>` renders llama.cpp's Q4_K_M recipe on Gemma 4
E2B's text model (`quantviz.quant.gemma4_e2b`) instead; `render_recipe` is the same view for any
tensor list (the metadata widget passes an endpoint's real one); the built-in model's recipe is
computed once per process (`gemma4_e2b.recipe`).

The GGUF results depend only on the draw (distribution, seed), so they are cached: a move of the
toy bits slider recomputes the toy scheme and the figures only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

import numpy as np
import plotly.graph_objects as go
import pyarrow as pa
import streamlit as st
from numpy.typing import NDArray

from quantviz.figures.alt import ChartText
from quantviz.figures.ggml import (
    Panel,
    code_grid_figure,
    code_grid_text,
    error_grid_figure,
    error_grid_text,
)
from quantviz.quant import gemma4_e2b, ggml, packing
from quantviz.quant.absmax import MAX_BITS, MIN_BITS, Distribution
from quantviz.quant.recipe import (
    RecipeError,
    RecipeReport,
    RecipeSummary,
    TensorChoice,
    TensorSpec,
    average_note,
    ratio_note,
    recipe_report,
    type_mix_rows,
)
from quantviz.quant.schemes import ErrorStats, error_stats
from quantviz.quant.superblock import (
    GGUF_TYPES,
    N_WEIGHTS,
    SCHEMES,
    TOY,
    SchemeResult,
    block_fields,
    block_rows,
    draw_superblock,
    formula,
    hex_dump,
    outlier_caption,
    quantize_gguf,
    quantize_toy,
    sub_block_rows,
)
from quantviz.ui import registry
from quantviz.ui.chart import show_chart
from quantviz.ui.context import WidgetContext
from quantviz.ui.evidence_button import save_button
from quantviz.ui.figure_cache import figure_cache
from quantviz.ui.live import announce
from quantviz.units import format_billions, format_bytes

DEFAULT_SEED = 1
DEFAULT_TOY_BITS = 4
DEFAULT_STORED = "Q4_K"
DISTRIBUTIONS: dict[Distribution, str] = {
    "normal": "normal",
    "outlier": "normal + one outlier",
}


def _table(rows: Iterable[Mapping[str, object]]) -> pa.Table:
    """Rows as an Arrow table: st.dataframe serializes it in a tenth of a list's time."""
    return pa.Table.from_pylist(list(rows))


def render(ctx: WidgetContext) -> None:
    if ctx.attrs.get("view") == "recipe":
        with st.container(border=True):
            st.subheader("The Q4_K_M recipe, tensor by tensor", anchor=False)
            render_recipe(gemma4_e2b.recipe(), f"{ctx.key}-recipe", gemma4_e2b.LABEL)
        return
    with st.container(border=True):
        st.subheader("GGUF block formats: one super-block of 256 weights", anchor=False)
        _explorer(ctx.key)


def _new_draw(key: str) -> None:
    st.session_state[f"{key}-seed"] += 1


@registry.fragment
def _explorer(key: str) -> None:
    st.session_state.setdefault(f"{key}-seed", DEFAULT_SEED)
    c1, c2, c3, c4 = st.columns([4, 2, 2, 3], vertical_alignment="bottom")
    dist = c1.segmented_control(
        "distribution",
        list(DISTRIBUTIONS),
        help="Normal: 256 draws of normal(0, 0.02). Outlier: one of them replaced by ±0.2 to "
        "0.4, 10 to 20 standard deviations.",
        format_func=lambda d: DISTRIBUTIONS[d],
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
    try:
        w, results, stats = _draw(int(seed), distribution, bits)
    except ggml.NonFiniteWeightError as err:  # names the weight, its block and the type
        st.error(f"These weights cannot be quantized: {err}.", icon=":material/error:")
        return

    st.info(
        outlier_caption(w, results[TOY], results["Q4_K"], bits, distribution),
        icon=":material/insights:",
    )
    announce(
        " ".join(
            f"{results[name].label}: RMSE {stats[name].rmse:.2e}, SNR {stats[name].snr_db:.1f} dB."
            for name in (TOY, "Q4_K", "Q6_K")
        ),
        key=f"{key}-live",
    )
    _error_grids(key, int(seed), distribution, bits)
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
    _stored(key, int(seed), distribution, bits)


@figure_cache
def _draw(
    seed: int, distribution: Distribution, bits: int
) -> tuple[NDArray[np.float32], Mapping[str, SchemeResult], Mapping[str, ErrorStats]]:
    """The draw, every scheme's result on it and their error statistics, shared by the
    sessions that show the same draw (a class's default draw is quantized once: every GGUF
    type on it takes about 15 ms)."""
    w = draw_superblock(seed, distribution)
    results = {TOY: quantize_toy(w, bits), **{t: quantize_gguf(w, t) for t in GGUF_TYPES}}
    stats = {name: error_stats(w, r.w_hat) for name, r in results.items()}
    return w, MappingProxyType(results), MappingProxyType(stats)


@figure_cache
def _error_figure(
    seed: int, distribution: Distribution, bits: int, shared: bool
) -> tuple[go.Figure, ChartText]:
    w, results, _ = _draw(seed, distribution, bits)
    panels = [
        Panel(f"{r.name}: w − ŵ", w - r.w_hat, r.block, r.sub_block) for r in results.values()
    ]
    return error_grid_figure(w, panels, shared), error_grid_text(w, panels)


@figure_cache
def _code_figure(
    seed: int, distribution: Distribution, bits: int, name: str
) -> tuple[go.Figure, ChartText]:
    w, results, _ = _draw(seed, distribution, bits)
    r = results[name]
    return (
        code_grid_figure(r.codes, w, r.w_hat, r.block, r.sub_block),
        code_grid_text(r.codes, w, r.w_hat, r.block, r.sub_block),
    )


@registry.fragment
def _error_grids(key: str, seed: int, distribution: Distribution, bits: int) -> None:
    """The weights and every scheme's error grid; the colour-range toggle reruns only this."""
    shared = st.toggle(
        "one colour range for every error grid",
        value=True,
        key=f"{key}-shared",
        help="On: equal colours mean equal errors across schemes. Off: each grid spans its own "
        "largest error, which shows the block pattern of the finer formats.",
    )
    figure, alt = _error_figure(seed, distribution, bits, shared)
    show_chart(figure, key=f"{key}-errors", alt=alt)


@registry.fragment
def _stored(key: str, seed: int, distribution: Distribution, bits: int) -> None:
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
    _, results, _ = _draw(seed, distribution, bits)
    shown = name or DEFAULT_STORED
    r = results[shown]
    st.caption(formula(r.scheme, bits))
    left, right = st.columns(2)
    figure, alt = _code_figure(seed, distribution, bits, shown)
    show_chart(figure, key=f"{key}-codes", alt=alt, where=left)
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
    number = st.column_config.NumberColumn(format="%.6f")
    if not b.scales.size:  # one fp16 d per block, no sub-block scales
        st.metric("blocks", f"{len(r.blocks)} × {r.block} weights", "each with its own fp16 d")
        rows, config = block_rows(r), {"d (fp16)": number}
    else:
        c1, c2 = st.columns(2)
        c1.metric("d (fp16)", f"{b.d:.4e}")
        if b.mins.size:
            c2.metric("dmin (fp16)", f"{b.dmin:.4e}")
        else:
            c2.metric("sub-blocks", f"{b.scales.size} × {b.sub_block} weights")
        rows, config = sub_block_rows(b), {"d·scale": number, "dmin·min": number}
    st.dataframe(_table(rows), hide_index=True, column_config=config, key=f"{key}-scales")


# ---------------------------------------------------------------------------------------------
# the Q4_K_M recipe


def render_recipe(
    tensors: Iterable[TensorSpec | Mapping | Sequence] | RecipeReport,
    key: str,
    label: str | None = None,
    n_layers: int | None = None,
) -> RecipeSummary | None:
    """The Q4_K_M type of every tensor, the mix by type and the average bits per weight.

    `tensors` as `recipe.q4_k_m` takes them (`/api/show` entries work as they are), or a
    `RecipeReport` already computed (the built-in model's is computed once per process); `key`
    prefixes every widget key; `label` says where the layout comes from. Returns the summary
    so a caller can set it beside a file's real type mix (None when llama-quantize would refuse
    the tensor list, which is said instead).
    """
    if isinstance(tensors, RecipeReport):
        report = tensors
    else:
        try:
            report = recipe_report(tensors, n_layers)
        except RecipeError as exc:
            st.error(
                f"llama-quantize would stop on this tensor list: {exc}", icon=":material/error:"
            )
            return None
    choices, summary = report.choices, report.summary
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
    st.caption(average_note(report))
    st.caption(ratio_note(report))
    with st.expander(f"Every tensor: its type and why ({len(choices)})", icon=":material/list:"):
        _tensor_table(choices, key)
    return summary


@registry.fragment
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
