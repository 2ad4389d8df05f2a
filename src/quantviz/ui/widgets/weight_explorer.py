"""Single-weight explorer (`data-quantization-explorer`): the seed's worked example, live.

Below the int-N result, an expander shows the weight as FP32, FP16 and BF16 bit by bit: the
"original" is already a rounding. It renders only when open (`on_change="rerun"`).
"""

from __future__ import annotations

import streamlit as st

from quantviz.figures.explorers import number_line
from quantviz.figures.schemes import bit_strip_figure
from quantviz.quant.absmax import MAX_BITS, MIN_BITS, levels, qmax, quantize_symmetric
from quantviz.quant.floats import encode_all
from quantviz.ui import registry
from quantviz.ui.context import WidgetContext
from quantviz.ui.evidence_button import save_button

DEFAULT_WEIGHT = 0.156347
DEFAULT_MAX_ABS = 0.910203  # with this layer maximum the seed's 0 / 1 / 5 / 22 buckets appear


def render(ctx: WidgetContext) -> None:
    with st.container(border=True):
        st.subheader("Single-weight explorer", anchor=False)
        _explorer(ctx.key)


@registry.fragment
def _explorer(key: str) -> None:
    # Horizontal containers rather than st.columns: every block is one more message per rerun.
    inputs = st.container(horizontal=True)
    w = inputs.number_input(
        "weight w", value=DEFAULT_WEIGHT, step=0.001, format="%.6f", key=f"{key}-w"
    )
    max_abs = inputs.number_input(
        "layer max|w|",
        value=DEFAULT_MAX_ABS,
        min_value=1e-6,
        step=0.01,
        format="%.6f",
        key=f"{key}-max",
        help="The largest magnitude in the layer: it fixes the scale.",
    )
    bits = inputs.slider("bits", MIN_BITS, MAX_BITS, 4, key=f"{key}-bits")

    codes, scale, reconstruction = quantize_symmetric(w, bits, max_abs)
    q, w_hat = int(codes), float(reconstruction)
    err = abs(w - w_hat)
    if abs(w) > max_abs:
        st.warning(f"|w| exceeds the layer's max|w|, so q is clamped to ±{qmax(bits)}.")

    row = st.container(horizontal=True)
    row.metric("scale", f"{scale:.6f}")
    row.metric("stored q", q)
    row.metric("ŵ = q·scale", f"{w_hat:.6f}")
    row.metric("|w − ŵ|", f"{err:.6f}")
    row.metric("relative error", f"{err / abs(w):.2%}" if w else "—")
    row.metric("levels", 2 * qmax(bits) + 1)
    st.latex(
        rf"\text{{scale}} = \frac{{{max_abs:.6f}}}{{2^{{{bits}-1}}-1}} = {scale:.6f},\quad "
        rf"q = \mathrm{{round}}\!\left(\frac{{{w:.6f}}}{{{scale:.6f}}}\right) = {q},\quad "
        rf"\hat w = {q}\times{scale:.6f} = {w_hat:.6f}"
    )
    st.plotly_chart(number_line(levels(bits, scale), w, w_hat, bits), key=f"{key}-line")

    # A Markdown table: st.dataframe's Arrow round trip costs a few ms of every rerun.
    rows = []
    for b in range(MIN_BITS, MAX_BITS + 1):
        qb, sb, wb = quantize_symmetric(w, b, max_abs)
        rows.append(
            (b, 2 * qmax(b) + 1, f"{sb:.6f}", int(qb), f"{wb:.6f}", f"{abs(w - float(wb)):.6f}")
        )
    st.markdown(_table(("bits", "levels", "scale", "q", "ŵ", "\\|w − ŵ\\|"), rows))
    save_button(
        f"{key}-save",
        f"Single-weight explorer: w = {w:.6f} at {bits} bits",
        {
            "w": w,
            "max_abs": max_abs,
            "bits": bits,
            "scale": float(scale),
            "q": q,
            "w_hat": w_hat,
            "abs_error": err,
        },
    )
    floats = st.expander(
        "Float formats: how the original w is stored (FP32, FP16, BF16)",
        icon=":material/memory:",
        key=f"{key}-floats",
        on_change="rerun",
    )
    if floats.open:
        with floats:
            _float_formats(key, w, bits, q, w_hat)


def _float_formats(key: str, w: float, bits: int, q: int, w_hat: float) -> None:
    """The weight in each float format beside the int-N result: bits, stored value, error."""
    encodings = encode_all(w)
    offset = 2 ** (bits - 1)  # stored codes are unsigned, as in the grid explorer's packing
    rows = [
        (
            e.fmt.name,
            f"{e.total_bits} = 1 + {e.fmt.exponent_bits} + {e.fmt.mantissa_bits}",
            f"{e.decoded:.10f}",
            f"{e.abs_error:.2e}",
            f"{e.rel_error:.2e}",
            f"`{e.hex}`",
        )
        for e in encodings
    ]
    rows.append(
        (
            f"int{bits} + scale",
            f"{bits} (code q + {offset}) + the layer's scale",
            f"{w_hat:.10f}",
            f"{abs(w - w_hat):.2e}",
            f"{abs(w - w_hat) / abs(w):.2e}" if w else "—",
            f"`{q + offset:x}`",
        )
    )
    header = (
        "format",
        "bits (sign + exponent + mantissa)",
        "stored value",
        "\\|error\\|",
        "relative error",
        "stored bits (hex)",
    )
    st.markdown(_table(header, rows))
    st.plotly_chart(bit_strip_figure(encodings), key=f"{key}-bit-strip")
    st.caption(
        "A float stores (−1)^sign × 2^(exponent − bias) × 1.mantissa. FP16 keeps 10 mantissa "
        "bits but only 5 exponent bits (largest value 65504); BF16 keeps FP32's 8 exponent bits "
        "and range but only 7 mantissa bits. The int row shares its scale with the whole layer, "
        "so its few bits go much further per weight, at a much larger error."
    )


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    """A Markdown table (numbers already formatted)."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
