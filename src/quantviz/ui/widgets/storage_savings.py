"""Storage widget (`data-storage-savings`): both tags' sizes, what the smaller saves, bits/weight.

Sizes come from /api/tags (exact bytes, what `ollama list` rounds), the parameter count from
/api/show (`general.parameter_count`); both are cached per session (see `ollama_common`).

Beside the measured ratio: the ratio llama.cpp's Q4_K_M and Q6_K recipes predict for the model's
own tensor list (`recipe.expected_sizes`, the figure Objective 1's recipe view shows), and the
generic rule of thumb 4.8 / 6.6 ≈ 0.73, with the reason they differ.
"""

from __future__ import annotations

import streamlit as st

from quantviz.decision.storage import StorageRow, compare_sizes
from quantviz.figures.ollama import storage_figure, storage_text
from quantviz.ollama.client import ModelMetadata, arch_value, find_model
from quantviz.ollama.errors import OllamaError
from quantviz.quant.recipe import RecipeError, SizeExpectation, expected_sizes
from quantviz.report.measurements import StorageMeasurement
from quantviz.text import plain
from quantviz.ui import nav, registry, session
from quantviz.ui.chart import show_chart
from quantviz.ui.context import WidgetContext
from quantviz.ui.ollama_common import (
    endpoint_for_evidence,
    endpoint_line,
    metadata_of,
    models_on,
    record_once,
    refresh_button,
    show_error,
)
from quantviz.units import format_bytes


def render(ctx: WidgetContext) -> None:
    with st.container(border=True):
        st.subheader("Storage savings", anchor=False)
        _panel(ctx)


def _fmt(value: float | None, spec: str) -> str:
    return format(value, spec) if value is not None else "—"


@registry.fragment
def _panel(ctx: WidgetContext) -> None:
    settings = session.settings(ctx.lab)
    endpoint = settings.endpoint
    endpoint_line(settings)
    tags = list(settings.models.items())
    refresh = [("tags",), *(("show", tag) for _, tag in tags)]

    listing = models_on(endpoint)
    if isinstance(listing, OllamaError):
        show_error(listing, "Could not list the endpoint's models")
        refresh_button(f"{ctx.key}-refresh", endpoint, refresh)
        return

    rows: list[StorageRow] = []
    metas: list[ModelMetadata] = []
    for label, tag in tags:
        entry = find_model(listing, tag)
        if entry is None:
            st.warning(
                f"**{plain(label)}** (`{tag}`) is not on this endpoint, so its size cannot be "
                "measured. Pull it first.",
                icon=":material/cloud_off:",
            )
            nav.link_to_marker(ctx.lab, "model-pull", f"Pull {label} in the pull widget")
            continue
        meta = metadata_of(endpoint, tag)
        params = None
        level = entry.details.quantization_level
        if isinstance(meta, OllamaError):
            show_error(meta, f"No parameter count for {plain(label)}")
        else:
            params = meta.parameter_count
            level = level or meta.details.quantization_level
            metas.append(meta)
        rows.append(StorageRow(label, tag, entry.size, params, level))
    refresh_button(f"{ctx.key}-refresh", endpoint, refresh)
    if not rows:
        return

    cols = st.columns(len(rows) + (3 if len(rows) >= 2 else 0))
    for col, row in zip(cols, rows, strict=False):
        col.metric(f"{row.label} size", format_bytes(row.size), help=f"{row.size:,} bytes")
    savings = compare_sizes(rows[0], rows[1]) if len(rows) >= 2 else None
    if savings is not None:
        cols[-3].metric(
            "Bytes saved",
            format_bytes(savings.bytes_saved),
            help=f"size({savings.larger.label}) − size({savings.smaller.label})",
        )
        cols[-2].metric(
            "Percent saved",
            f"{_fmt(savings.percent_saved, '.1f')} %",
            help=f"bytes saved / size({savings.larger.label}) × 100",
        )
        cols[-1].metric(
            "Size ratio",
            _fmt(savings.size_ratio, ".3f"),
            help=f"size({savings.smaller.label}) / size({savings.larger.label})",
        )

    if savings is not None:
        st.caption(
            f"Exact: {savings.larger.size:,} − {savings.smaller.size:,} = "
            f"{savings.bytes_saved:,} bytes saved ({savings.larger.label} − "
            f"{savings.smaller.label})."
        )
    bpw_cols = st.columns(len(rows))
    for col, row in zip(bpw_cols, rows, strict=True):
        nominal = row.nominal_bits_per_weight
        col.metric(
            f"{row.label} bits/weight (est.)",
            _fmt(row.bits_per_weight, ".2f"),
            help="size × 8 / general.parameter_count",
        )
        col.caption(
            f"Nominal for {plain(row.quantization_level or 'this type')}: "
            + (f"about {nominal:g}" if nominal is not None else "not known")
        )

    show_chart(
        storage_figure(rows, uirevision=ctx.key), key=f"{ctx.key}-chart", alt=storage_text(rows)
    )
    st.dataframe(
        [
            {
                "tag": f"{row.label} · {row.tag}",
                "quantization": row.quantization_level or "—",
                "size (bytes)": row.size,
                "parameters": row.parameter_count,
                "bits/weight (est.)": row.bits_per_weight,
                "bits/weight (nominal)": row.nominal_bits_per_weight,
            }
            for row in rows
        ],
        hide_index=True,
        column_config={
            "size (bytes)": st.column_config.NumberColumn(format="localized"),
            "parameters": st.column_config.NumberColumn(format="localized"),
            "bits/weight (est.)": st.column_config.NumberColumn(format="%.3f"),
            "bits/weight (nominal)": st.column_config.NumberColumn(format="%.1f"),
        },
        key=f"{ctx.key}-table",
    )
    if savings is not None and savings.nominal_ratio is not None:
        st.caption(
            f"The nominal figures predict a ratio of {savings.nominal_ratio:.2f} "
            f"({(1 - savings.nominal_ratio) * 100:.0f} % saved); measured: "
            f"{_fmt(savings.size_ratio, '.3f')}. The sizes count everything in the tag "
            "(tokenizer, F32 norms, tensors kept at higher precision); Objective 4's tensor mix "
            "shows where the bytes go."
        )
    expected = _expected(metas)
    if expected is not None:
        _show_expected(expected, savings.size_ratio if savings else None, rows)

    payload: dict[str, object] = {
        "endpoint": endpoint_for_evidence(settings),
        "tags": [
            {
                "label": row.label,
                "tag": row.tag,
                "quantization_level": row.quantization_level,
                "size_bytes": row.size,
                "parameter_count": row.parameter_count,
                "bits_per_weight": row.bits_per_weight,
                "nominal_bits_per_weight": row.nominal_bits_per_weight,
            }
            for row in rows
        ],
        "missing": [label for label, tag in tags if find_model(listing, tag) is None],
    }
    if expected is not None:
        payload["recipe_expectation"] = {
            "ratio": expected.ratio,
            "q4_k_m_bits_per_weight": expected.q4_k_m.bits_per_weight,
            "q6_k_bits_per_weight": expected.q6_k.bits_per_weight,
            "q6_k_share_in_q4_k_m": expected.q6_k_share,
        }
    if savings is not None:
        payload |= {
            "smaller": savings.smaller.label,
            "larger": savings.larger.label,
            "bytes_saved": savings.bytes_saved,
            "percent_saved": savings.percent_saved,
            "size_ratio": savings.size_ratio,
            "nominal_ratio": savings.nominal_ratio,
        }
    session.measurements().record_storage(
        StorageMeasurement(tuple(rows), savings, expected.ratio if expected else None)
    )
    title = " vs ".join(f"{row.label} {format_bytes(row.size)}" for row in rows)
    record_once(f"{ctx.key}-storage", "storage", f"Storage: {title}", payload)


def _expected(metas: list[ModelMetadata]) -> SizeExpectation | None:
    """Both recipes on the first tag's own tensor list (the tags share their tensors)."""
    meta = next((m for m in metas if m.tensors), None)
    if meta is None:
        return None
    blocks = arch_value(meta, "block_count")
    entries = [{"name": t.name, "type": t.type, "shape": list(t.shape)} for t in meta.tensors]
    try:
        return expected_sizes(entries, blocks if isinstance(blocks, int) else None)
    except RecipeError:
        return None


def _show_expected(
    expected: SizeExpectation, measured: float | None, rows: list[StorageRow]
) -> None:
    """The recipe's prediction beside the measurement and the rule of thumb, with the reason."""
    cols = st.columns(3)
    cols[0].metric(
        "Ratio the recipe predicts",
        f"{expected.ratio:.3f}",
        help="llama.cpp's Q4_K_M and Q6_K recipes applied to this model's own tensor list: "
        "tensor bytes under Q4_K_M / tensor bytes under Q6_K",
    )
    cols[1].metric("Measured ratio", _fmt(measured, ".3f"))
    cols[2].metric("Rule of thumb", "0.73", help="4.8 / 6.6: every weight at its nominal bits")
    unchanged = expected.unchanged_weights / expected.q4_k_m.n_weights
    st.caption(
        f"Why not 0.73: {expected.q6_k_share:.0%} of this model's weights are Q6_K in the Q4_K_M "
        "file too (the tied token embedding and, in Gemma 4 E2B, the per-layer embedding table "
        "per_layer_token_embd, plus some attn_v and ffn_down), and "
        f"{unchanged:.0%} are left at 16 or 32 bits in both files (norms, per_layer_model_proj, "
        "the vision and audio towers). Only the rest can shrink from 6.56 to 4.5 bits."
    )
    predicted = {"Q4_K_M": expected.q4_k_m, "Q6_K": expected.q6_k}
    parts = []
    for row in rows:
        summary = predicted.get((row.quantization_level or "").upper())
        if summary is not None:
            parts.append(
                f"{row.label}: {summary.bits_per_weight:.2f} predicted by the recipe "
                f"(Objective 1), {_fmt(row.bits_per_weight, '.2f')} measured"
            )
    if parts:
        st.caption(
            "Bits per weight, "
            + "; ".join(parts)
            + ". The measured figure also counts the GGUF header (vocabulary) and alignment."
        )
