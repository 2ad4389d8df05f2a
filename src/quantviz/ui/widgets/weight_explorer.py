"""Single-weight explorer (`data-quantization-explorer`): the seed's worked example, live.

The bits slider is the figure's own (`figures.explorers.weight_explorer_figure`): every width
from 2 to 8 is computed here (`quant.absmax.weight_states`) and put in the figure, so moving it
redraws the number line, the readouts and the formula in the browser, with no message to the
server. Only the weight and the layer maximum rerun the fragment. The slider also answers the
keyboard (`ui.slider_keys`), and the table under the figure holds the same seven widths.

An expander shows the weight as FP32, FP16 and BF16 bit by bit: the "original" is already a
rounding; it renders only when open (`on_change="rerun"`). Below, a prediction box (its own
fragment) asks how many bits the weight needs.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from quantviz.figures.alt import ChartText
from quantviz.figures.explorers import (
    DEFAULT_BITS,
    weight_explorer_figure,
    weight_explorer_text,
    weight_summary,
)
from quantviz.figures.schemes import bit_strip_figure, bit_strip_text
from quantviz.quant.absmax import WeightState, fewest_bits_within, weight_states
from quantviz.quant.floats import encode_all
from quantviz.ui import registry, slider_keys
from quantviz.ui.chart import show_chart
from quantviz.ui.context import WidgetContext
from quantviz.ui.evidence_button import save_button
from quantviz.ui.figure_cache import figure_cache
from quantviz.ui.live import announce
from quantviz.ui.predict import prediction_box

DEFAULT_WEIGHT = 0.156347
DEFAULT_MAX_ABS = 0.910203  # with this layer maximum the seed's 0 / 1 / 5 / 22 buckets appear
TOLERANCE = 0.01  # the prediction box: within 1 % of w


def render(ctx: WidgetContext) -> None:
    with st.container(border=True):
        st.subheader("Single-weight explorer", anchor=False)
        _explorer(ctx.key)
        _predict(ctx.key)


@figure_cache
def _figure(w: float, max_abs: float) -> tuple[tuple[WeightState, ...], go.Figure, ChartText]:
    """The weight's seven widths, figure and text alternative, shared by every session showing
    the same w and max|w| (the default weight's is built once for a whole class)."""
    states = weight_states(w, max_abs)
    return states, weight_explorer_figure(w, max_abs, states), weight_explorer_text(w, states)


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
    states, figure, alt = _figure(float(w), float(max_abs))
    if abs(w) > max_abs:
        st.warning("|w| exceeds the layer's max|w|, so q is clamped to ±(2^(bits−1) − 1).")

    st.caption(slider_keys.HINT)
    # The table in the open, as Markdown (show_chart): no Arrow round trip on a rerun.
    show_chart(figure, key=f"{key}-line", alt=alt, open_table=True)
    active = next(s for s in states if s.bits == DEFAULT_BITS)
    announce(weight_summary(active, w), key=f"{key}-live")
    save_button(
        f"{key}-save",
        f"Single-weight explorer: w = {w:.6f} at 2–8 bits",
        {"w": w, "max_abs": max_abs, "widths": [_record(s) for s in states]},
    )
    floats = st.expander(
        "Float formats: how the original w is stored (FP32, FP16, BF16)",
        icon=":material/memory:",
        key=f"{key}-floats",
        on_change="rerun",
    )
    if floats.open:
        with floats:
            _float_formats(key, w, active.bits, active.q, active.w_hat)


@registry.fragment
def _predict(key: str) -> None:
    """The prediction box, in its own fragment: typing a guess does not rerun the explorer.

    It reads the explorer's w and max|w| when it runs (the reveal click), so the answer and
    the recorded setting are those of the explorer as the student left it."""
    w = float(st.session_state.get(f"{key}-w", DEFAULT_WEIGHT))
    max_abs = float(st.session_state.get(f"{key}-max", DEFAULT_MAX_ABS))
    prediction_box(
        f"{key}-predict",
        "weight",
        "bits for w within 1 %",
        "How many bits does the explorer's weight w need before ŵ is within 1 % of it (with "
        "its layer max|w|)? Write your guess, then move the figure's bits slider.",
        lambda: _fewest_bits(weight_states(w, max_abs)),
        setting=f"w = {w:.6f}, max|w| = {max_abs:.6f}",
    )


def _record(state: WeightState) -> dict[str, float | int]:
    return {
        "bits": state.bits,
        "scale": state.scale,
        "q": state.q,
        "w_hat": state.w_hat,
        "abs_error": state.abs_error,
    }


def _fewest_bits(states: tuple[WeightState, ...]) -> str:
    """The prediction box's observed answer, from the same seven states the figure shows."""
    bits = fewest_bits_within(states, TOLERANCE)
    if bits is None:
        worst = states[-1]
        rel = f"{worst.rel_error:.2%}" if worst.rel_error is not None else "—"
        return f"none of 2–8 bits (at 8 bits the relative error is still {rel})"
    state = next(s for s in states if s.bits == bits)
    rel = f"{state.rel_error:.2%}" if state.rel_error is not None else "0 %"
    return f"{bits} bits (ŵ = {state.w_hat:.6f}, relative error {rel}, q = {state.q})"


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
    show_chart(bit_strip_figure(encodings), key=f"{key}-bit-strip", alt=bit_strip_text(encodings))
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
