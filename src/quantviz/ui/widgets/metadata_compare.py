"""Metadata widget (`data-metadata-compare`): /api/show for two tags side by side.

The table checks the lab's claim (same architecture, layer count, tokenizer) instead of asserting
it: identical rows are marked ✓, differing rows ≠ and highlighted. Values are plain text in a
dataframe, never Markdown or HTML. Below it, the tensor type mix read from `/api/show`'s
`tensors` (which the client's `show()` drops): count and bytes by GGML type per tag.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from quantviz.figures.ollama import type_mix_figure, type_mix_text, type_order
from quantviz.ollama.client import ModelMetadata, TensorInfo, arch_value
from quantviz.ollama.metadata import (
    ComparedField,
    TypeShare,
    compare_metadata,
    tensor_bytes,
    tensor_type_mix,
)
from quantviz.quant.recipe import RecipeError, recipe_report
from quantviz.report.measurements import ClaimCheck, MetadataMeasurement, TagMetadata
from quantviz.text import plain
from quantviz.ui import nav, registry, session
from quantviz.ui.chart import show_chart
from quantviz.ui.context import WidgetContext
from quantviz.ui.ollama_common import (
    endpoint_for_evidence,
    endpoint_line,
    metadata_of,
    record_once,
    refresh_button,
    show_error,
)
from quantviz.ui.widgets.gguf_formats import render_recipe
from quantviz.units import format_bytes

SAME, DIFFERENT, UNKNOWN = "✓ identical", "≠ differs", "? not reported"
ROW_HEIGHT = 35  # st.dataframe's default row height in pixels
HIGHLIGHT = "background-color: rgba(245, 133, 24, 0.22)"
CLAIMS = {  # the lab's claims (Objective 1) and the row that checks each
    "Same architecture": "Architecture",
    "Same layer count": "Layers (blocks)",
    "Same tokenizer": "Tokenizer model",
}


def render(ctx: WidgetContext) -> None:
    with st.container(border=True):
        st.subheader("Metadata side by side", anchor=False)
        _panel(ctx)


def match_label(row: ComparedField) -> str:
    return UNKNOWN if row.same is None else SAME if row.same else DIFFERENT


def comparison_frame(rows: Sequence[ComparedField], label_a: str, label_b: str) -> pd.DataFrame:
    """One row per field: the two displayed values, whether they match, the GGUF key read."""
    return pd.DataFrame(
        {
            "field": [r.label for r in rows],
            label_a: [r.a.display for r in rows],
            label_b: [r.b.display for r in rows],
            "match": [match_label(r) for r in rows],
            "key": [r.a.key if r.a.key == r.b.key else f"{r.a.key} / {r.b.key}" for r in rows],
        }
    )


def _highlight(row: pd.Series) -> list[str]:
    return [HIGHLIGHT if row["match"] == DIFFERENT else ""] * len(row)


def odd_tensors(tensors: Sequence[TensorInfo]) -> dict[str, list[str]]:
    """Tensors whose type is neither the file's majority quantized type nor F32, by type.

    For a Q4_K_M file: the Q6_K tensors the recipe chose (tied embedding, some attn_v/ffn_down).
    """
    counts = Counter(t.type for t in tensors if t.type.upper() not in ("F32", "F16", "BF16"))
    if not counts:
        return {}
    majority = counts.most_common(1)[0][0]
    odd: dict[str, list[str]] = {}
    for t in tensors:
        if t.type != majority and t.type.upper() not in ("F32", "F16", "BF16"):
            odd.setdefault(t.type, []).append(t.name)
    return odd


def _mix_payload(mix: Mapping[str, TypeShare]) -> dict[str, dict[str, int | None]]:
    return {
        t: {"count": s.count, "bytes": s.n_bytes, "weights": s.n_elements} for t, s in mix.items()
    }


@registry.fragment
def _panel(ctx: WidgetContext) -> None:
    settings = session.settings(ctx.lab)
    endpoint = settings.endpoint
    endpoint_line(settings)
    tags = list(settings.models.items())[:2]
    verbose_key = f"{ctx.key}-verbose"
    verbose = bool(st.session_state.get(verbose_key, False))
    refresh = [("tags",), *(("show", tag) for _, tag in tags)]
    if len(tags) < 2:
        st.info("The comparison needs two model tags; this lab names only one.")
        return

    metas: dict[str, ModelMetadata] = {}
    for label, tag in tags:
        meta = metadata_of(endpoint, tag, verbose=verbose)
        if isinstance(meta, ModelMetadata):
            metas[label] = meta
        elif meta.kind == "not_found":
            st.warning(
                f"**{plain(label)}** (`{tag}`) is not on this endpoint: pull it first.",
                icon=":material/cloud_off:",
            )
            nav.link_to_marker(ctx.lab, "model-pull", f"Pull {label} in the pull widget")
        else:
            show_error(meta, f"Could not read the metadata of {plain(label)}")
    refresh_button(f"{ctx.key}-refresh", endpoint, refresh)
    if len(metas) < 2:
        return

    (label_a, meta_a), (label_b, meta_b) = metas.items()
    rows = compare_metadata(meta_a, meta_b)
    frame = comparison_frame(rows, label_a, label_b)
    st.dataframe(
        frame.style.apply(_highlight, axis=1),
        hide_index=True,
        key=f"{ctx.key}-table",
        height=(len(frame) + 1) * ROW_HEIGHT + 3,  # every row in view, the differing ones last
        column_config={
            "field": st.column_config.TextColumn(width=150),
            label_a: st.column_config.TextColumn(width=230),
            label_b: st.column_config.TextColumn(width=230),
            "match": st.column_config.TextColumn(width=110),
            "key": st.column_config.TextColumn("GGUF key"),
        },
    )
    n_same = sum(r.same is True for r in rows)
    n_diff = sum(r.same is False for r in rows)
    st.caption(f"{n_same} rows identical, {n_diff} differ" + (
        f", {len(rows) - n_same - n_diff} not reported by one side" if n_same + n_diff < len(rows)
        else ""
    ))  # fmt: skip

    by_label = {r.label: r for r in rows}
    claims = {}
    for claim, field in CLAIMS.items():
        row = by_label[field]
        verdict = "verified" if row.same else "refuted" if row.same is False else "not checkable"
        claims[claim] = verdict
        icon = {"verified": ":green[✓]", "refuted": ":red[✗]"}.get(verdict, "?")
        st.markdown(
            f"{icon} {claim}: **{verdict}** ({plain(row.a.display)} / {plain(row.b.display)})"
        )

    elided = any(r.a.elided or r.b.elided for r in rows)
    if elided or verbose:
        st.toggle(
            "Ask for the arrays the server left out (verbose show, several MB: it includes the "
            "whole vocabulary)",
            key=verbose_key,
        )

    st.markdown("**Tensor type mix**")
    mixes = {label: tensor_type_mix(meta.tensors) for label, meta in metas.items()}
    odd = {label: odd_tensors(meta.tensors) for label, meta in metas.items()}
    recipe_check: dict[str, object] | None = None
    if not any(meta.tensors for meta in metas.values()):
        st.info("The server sent no tensor table (a non-GGUF model or an old Ollama).")
    else:
        show_chart(
            type_mix_figure(mixes, uirevision=ctx.key),
            key=f"{ctx.key}-mix",
            alt=type_mix_text(mixes),
        )
        table = _mix_table(mixes)
        st.dataframe(
            table,
            hide_index=True,
            key=f"{ctx.key}-mix-table",
            column_config={
                c: st.column_config.NumberColumn(format="localized")
                for c in table.columns
                if c != "type"
            },
        )
        q4 = _q4_k_m(metas)
        if q4 is not None:
            recipe_check = _recipe(ctx, *q4)
        _odd_tensors(metas, odd)

    _measure(metas, by_label, mixes, odd)
    record_once(
        f"{ctx.key}-metadata",
        "metadata",
        f"Metadata: {label_a} vs {label_b}",
        {
            "endpoint": endpoint_for_evidence(settings),
            "tags": {label: meta.tag for label, meta in metas.items()},
            "verbose": verbose,
            "rows": [
                {
                    "field": r.label,
                    "key": r.a.key,
                    label_a: r.a.display,
                    label_b: r.b.display,
                    "same": r.same,
                }
                for r in rows
            ],
            "claims": claims,
            "type_mix": {label: _mix_payload(mix) for label, mix in mixes.items()},
            "odd_tensors": odd,
            "q4_k_m_recipe_check": recipe_check,
        },
    )


def _side(row: ComparedField | None, i: int) -> str | None:
    """Side `i` (0 or 1) of a compared row as shown, None when that side did not report it."""
    if row is None:
        return None
    value = (row.a, row.b)[i]
    return value.display if value.raw is not None else None


def _measure(
    metas: Mapping[str, ModelMetadata],
    by_label: Mapping[str, ComparedField],
    mixes: Mapping[str, Mapping[str, TypeShare]],
    odd: Mapping[str, Mapping[str, list[str]]],
) -> None:
    """What Objective 4's record fields pre-fill with (`report.measurements`)."""
    level, file_type = by_label.get("Quantization level"), by_label.get("File type")
    tags = []
    for i, (label, meta) in enumerate(metas.items()):
        tags.append(
            TagMetadata(
                label,
                meta.tag,
                _side(level, i),
                _side(file_type, i),
                tuple(mixes[label].values()),
                {t: tuple(names) for t, names in odd[label].items()},
            )
        )
    claims = tuple(ClaimCheck(claim, by_label[row]) for claim, row in CLAIMS.items())
    session.measurements().record_metadata(MetadataMeasurement(tuple(tags), claims))


def _mix_table(mixes: Mapping[str, Mapping[str, TypeShare]]) -> pd.DataFrame:
    records = []
    for qtype in type_order(mixes):
        record: dict[str, object] = {"type": qtype}
        for label, mix in mixes.items():
            share = mix.get(qtype)
            record[f"{label} tensors"] = share.count if share else 0
            record[f"{label} bytes"] = share.n_bytes if share else 0
        records.append(record)
    return pd.DataFrame(records)


def _q4_k_m(metas: Mapping[str, ModelMetadata]) -> tuple[str, ModelMetadata] | None:
    for label, meta in metas.items():
        level = (meta.details.quantization_level or "").upper()
        if level == "Q4_K_M" or meta.model_info.get("general.file_type") == 15:
            return label, meta
    return None


def _as_entries(tensors: Sequence[TensorInfo]) -> list[dict[str, object]]:
    return [{"name": t.name, "type": t.type, "shape": list(t.shape)} for t in tensors]


def _recipe(ctx: WidgetContext, label: str, meta: ModelMetadata) -> dict[str, object]:
    """Check the Q4_K_M file against llama.cpp's recipe, tensor by tensor; beside it, the
    recipe view of the GGUF-formats widget (`quantviz.ui.widgets.gguf_formats.render_recipe`)."""
    blocks = arch_value(meta, "block_count")
    try:
        report = recipe_report(
            _as_entries(meta.tensors), blocks if isinstance(blocks, int) else None
        )
    except RecipeError as exc:
        st.caption(f"llama-quantize would refuse this tensor list: {plain(exc)}")
        return {"label": label, "tensors": len(meta.tensors), "error": str(exc)}
    choices = report.choices
    mismatches = [
        (t.name, t.type, c.qtype)
        for t, c in zip(meta.tensors, choices, strict=True)
        if t.type.upper() != c.qtype
    ]
    kept = [c for c in choices if not c.quantized]
    towers = sum(c.name.startswith(("v.", "a.", "mm.")) for c in kept)
    kept_text = (
        f" {len(kept)} of them are tensors llama-quantize leaves as they are"
        + (f", {towers} of those in the vision and audio towers" if towers else "")
        + " (norms, scales, per_layer_model_proj ...): they keep their type in every mix."
    )
    if mismatches:
        shown = ", ".join(f"{n} ({real}, recipe {want})" for n, real, want in mismatches[:5])
        st.caption(
            f"{len(mismatches)} of {len(meta.tensors)} tensors of {label} differ from llama.cpp's "
            f"Q4_K_M recipe: {plain(shown)}" + (" ..." if len(mismatches) > 5 else "")
        )
    else:
        st.caption(
            f"Every one of the {len(meta.tensors)} tensors of {label} has the type llama.cpp's "
            "Q4_K_M recipe gives it." + kept_text
        )
    if any(c.name == "per_layer_token_embd.weight" for c in choices):
        st.caption(
            "per_layer_token_embd.weight is Gemma's per-layer embedding table (one small extra "
            "input per layer for every vocabulary token, about half of E2B's weights). "
            "llama.cpp treats it as a token embedding: with tied embeddings it gets Q6_K, so it "
            "is Q6_K in the Q4_K_M file too."
        )
    with st.expander(f"Compare {label} with llama.cpp's Q4_K_M recipe"):
        render_recipe(
            report,
            f"{ctx.key}-recipe",
            f"The recipe applied to the real tensor list of {label} (`{meta.tag}`)",
        )
    return {
        "label": label,
        "tensors": len(meta.tensors),
        "kept": len(kept),
        "mismatches": [list(m) for m in mismatches],
    }


def _odd_tensors(
    metas: Mapping[str, ModelMetadata], odd: Mapping[str, Mapping[str, list[str]]]
) -> None:
    for label, meta in metas.items():
        groups = odd[label]
        if not groups:
            continue
        names = plain(", ".join(f"{t} ({len(v)})" for t, v in groups.items()))  # the server's types
        listed = {name for group in groups.values() for name in group}
        with st.expander(f"{label}: tensors outside its main type: {names}"):
            st.dataframe(
                [
                    {
                        "tensor": t.name,
                        "type": t.type,
                        "shape": " × ".join(map(str, t.shape)),
                        "bytes": tensor_bytes(t),
                    }
                    for t in meta.tensors
                    if t.name in listed
                ],
                hide_index=True,
            )
    st.caption(
        "Bytes per type come from each type's block size and bytes per block (gguf's table); "
        f"totals: {', '.join(f'{k} {format_bytes(_total(m))}' for k, m in metas.items())}."
    )


def _total(meta: ModelMetadata) -> int:
    return sum(tensor_bytes(t) or 0 for t in meta.tensors)
