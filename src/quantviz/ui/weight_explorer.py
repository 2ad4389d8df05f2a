"""Single-weight explorer (`data-quantization-explorer`): the seed's worked example, live."""

from __future__ import annotations

import streamlit as st

from quantviz.figures import number_line
from quantviz.quant import MAX_BITS, MIN_BITS, levels, qmax, quantize_symmetric
from quantviz.ui.context import WidgetContext

DEFAULT_WEIGHT = 0.156347
DEFAULT_MAX_ABS = 0.910203  # with this layer maximum the seed's 0 / 1 / 5 / 22 buckets appear


def render(ctx: WidgetContext) -> None:
    with st.container(border=True):
        st.subheader("Single-weight explorer", anchor=False)
        _explorer(ctx.key)


@st.fragment
def _explorer(key: str) -> None:
    left, mid, right = st.columns(3)
    w = left.number_input(
        "weight w", value=DEFAULT_WEIGHT, step=0.001, format="%.6f", key=f"{key}-w"
    )
    max_abs = mid.number_input(
        "layer max|w|",
        value=DEFAULT_MAX_ABS,
        min_value=1e-6,
        step=0.01,
        format="%.6f",
        key=f"{key}-max",
        help="The largest magnitude in the layer: it fixes the scale.",
    )
    bits = right.slider("bits", MIN_BITS, MAX_BITS, 4, key=f"{key}-bits")

    q, scale, w_hat = quantize_symmetric(w, bits, max_abs)
    q, w_hat = int(q), float(w_hat)
    err = abs(w - w_hat)
    if abs(w) > max_abs:
        st.warning(f"|w| exceeds the layer's max|w|, so q is clamped to ±{qmax(bits)}.")

    cols = st.columns(6)
    cols[0].metric("scale", f"{scale:.6f}")
    cols[1].metric("stored q", q)
    cols[2].metric("ŵ = q·scale", f"{w_hat:.6f}")
    cols[3].metric("|w − ŵ|", f"{err:.6f}")
    cols[4].metric("relative error", f"{err / abs(w):.2%}" if w else "—")
    cols[5].metric("levels", 2 * qmax(bits) + 1)
    st.latex(
        rf"\text{{scale}} = \frac{{{max_abs:.6f}}}{{2^{{{bits}-1}}-1}} = {scale:.6f},\quad "
        rf"q = \mathrm{{round}}\!\left(\frac{{{w:.6f}}}{{{scale:.6f}}}\right) = {q},\quad "
        rf"\hat w = {q}\times{scale:.6f} = {w_hat:.6f}"
    )
    st.plotly_chart(number_line(levels(bits, scale), w, w_hat, bits), key=f"{key}-line")

    rows = []
    for b in range(MIN_BITS, MAX_BITS + 1):
        qb, sb, wb = quantize_symmetric(w, b, max_abs)
        rows.append(
            {
                "bits": b,
                "levels": 2 * qmax(b) + 1,
                "scale": float(sb),
                "q": int(qb),
                "ŵ": float(wb),
                "|w − ŵ|": abs(w - float(wb)),
            }
        )
    st.dataframe(
        rows,
        hide_index=True,
        column_config={
            "scale": st.column_config.NumberColumn(format="%.6f"),
            "ŵ": st.column_config.NumberColumn(format="%.6f"),
            "|w − ŵ|": st.column_config.NumberColumn(format="%.6f"),
        },
        key=f"{key}-table",
    )
