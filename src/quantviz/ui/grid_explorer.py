"""Grid explorer (`data-quantization-grid-explorer`): a 16-value toy layer at 2-8 bits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from quantviz.figures import bucket_histogram, layer_heatmaps
from quantviz.quant import (
    MAX_BITS,
    MIN_BITS,
    bucket_counts,
    layer_stats,
    quantize_symmetric,
    toy_layer,
)
from quantviz.ui.context import WidgetContext

DISTRIBUTIONS = {"normal": "normal", "outlier": "normal + one outlier"}


def render(ctx: WidgetContext) -> None:
    with st.container(border=True):
        st.subheader("Grid explorer: a toy layer of 16 weights", anchor=False)
        _explorer(ctx.key)


def _new_layer(key: str) -> None:
    st.session_state[f"{key}-seed"] += 1


@st.fragment
def _explorer(key: str) -> None:
    st.session_state.setdefault(f"{key}-seed", 7)
    c1, c2, c3, c4 = st.columns([2, 3, 2, 2], vertical_alignment="bottom")
    bits = c1.slider("bits", MIN_BITS, MAX_BITS, 4, key=f"{key}-bits")
    dist = c2.segmented_control(
        "distribution",
        list(DISTRIBUTIONS),
        format_func=DISTRIBUTIONS.get,
        default="normal",
        key=f"{key}-dist",
        required=True,
    )
    seed = c3.number_input("seed", min_value=0, step=1, key=f"{key}-seed")
    c4.button(
        "Draw a new layer",
        on_click=_new_layer,
        args=(key,),
        key=f"{key}-new",
        icon=":material/casino:",
    )

    base = toy_layer(int(seed), dist or "normal")
    with st.expander("Edit the weights", icon=":material/edit:"):
        # Keyed by the draw, so a new seed or distribution starts a fresh, unedited table.
        edited = st.data_editor(
            pd.DataFrame(base, columns=[f"c{j}" for j in range(base.shape[1])]),
            key=f"{key}-editor-{dist}-{seed}",
            hide_index=True,
            column_config={
                c: st.column_config.NumberColumn(format="%.6f", required=True)
                for c in ("c0", "c1", "c2", "c3")
            },
        )
    w = np.nan_to_num(edited.to_numpy(dtype=np.float64))

    q, scale, w_hat = quantize_symmetric(w, bits)
    stats = layer_stats(w, bits)
    cols = st.columns(5)
    cols[0].metric("scale", f"{stats.scale:.5f}")
    cols[1].metric("levels used", f"{stats.used_levels} of {stats.representable_levels}")
    cols[2].metric("RMSE", f"{stats.rmse:.5f}")
    cols[3].metric("max error", f"{stats.max_error:.5f}")
    cols[4].metric(
        "storage",
        f"{stats.storage_bits} bits",
        f"{stats.ratio_vs_fp16:.1f}× smaller than FP16",
        delta_color="off",
        help=f"{w.size} codes × {bits} bits + one FP16 scale. FP16: {stats.fp16_bits} bits, "
        f"FP32: {stats.fp32_bits} bits ({stats.ratio_vs_fp32:.1f}× smaller).",
    )
    st.plotly_chart(layer_heatmaps(w, w_hat), key=f"{key}-heatmaps")
    buckets, counts = bucket_counts(q, bits)
    st.plotly_chart(bucket_histogram(buckets, counts, float(scale)), key=f"{key}-buckets")
    if dist == "outlier":
        st.caption(
            "One outlier sets max|w|, so the scale grows and the other 15 weights crowd into "
            "the few buckets around zero."
        )
