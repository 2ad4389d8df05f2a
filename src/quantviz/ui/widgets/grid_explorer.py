"""Grid explorer (`data-quantization-grid-explorer`): a 16-value toy layer at 2-8 bits.

The default view is the seed's case: one symmetric absmax scale for the whole layer, drawn as one
figure (heatmaps, error histogram, codes used, weights against the levels, and the readouts).
The bits slider is the figure's own (`figures.explorers.grid_explorer_figure`): all seven widths
are computed here (`quant.schemes.layer_states`) for the current settings and carried in the
figure, so a bits move redraws in the browser with no message to the server. The other controls
rerun the fragment. The slider also answers the keyboard (`ui.slider_keys`), and a table under
the figure holds the seven widths' numbers.

Expanders hold the scheme controls (asymmetric min-max with a zero-point, per row / per group of
N, clipping), the weight editor, the comparison of every scheme × granularity at every width (RMSE
against bits per weight) and the bytes a file would store. They render only while open
(`on_change="rerun"`), so a rerun pays for what is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from numpy.typing import NDArray

from quantviz.figures.alt import ChartText
from quantviz.figures.explorers import (
    DEFAULT_BITS,
    grid_explorer_figure,
    grid_explorer_text,
    layer_summary,
)
from quantviz.figures.schemes import pareto_figure, pareto_text
from quantviz.quant import packing
from quantviz.quant.absmax import Distribution, toy_layer
from quantviz.quant.schemes import (
    GRANULARITIES,
    NO_CLIP,
    SCHEMES,
    ClipMethod,
    ClipSpec,
    Granularity,
    GroupedQuant,
    LayerState,
    Scheme,
    layer_states,
    pareto_front,
    scheme_sweep,
)
from quantviz.ui import registry, slider_keys
from quantviz.ui.chart import show_chart
from quantviz.ui.context import WidgetContext
from quantviz.ui.evidence_button import save_button
from quantviz.ui.figure_cache import figure_cache
from quantviz.ui.live import announce
from quantviz.ui.predict import prediction_box

DISTRIBUTIONS: dict[Distribution, str] = {"normal": "normal", "outlier": "normal + one outlier"}
SCHEME_LABELS: dict[Scheme, str] = {
    "symmetric": "symmetric absmax",
    "asymmetric": "asymmetric min-max",
}
GRANULARITY_LABELS: dict[Granularity, str] = {
    "tensor": "per tensor",
    "row": "per row",
    "group": "per group of N",
}
CLIP_LABELS: dict[ClipMethod, str] = {"none": "none", "percentile": "percentile", "std": "k·std"}
GROUP_SIZES = (2, 4, 8)
DEFAULT_GROUP_SIZE = 2  # on a 4x4 layer, 4 would be the same as per row
DEFAULT_PERCENTILE = 90
DEFAULT_K = 2.0
PACKED_BITS = (4, 6)  # the widths the packing view shows: Q4_0-style nibbles, Q6_K-style ql + qh
LAYOUT_LABELS: dict[packing.Layout, str] = {
    "sequential": "codes in order",
    "ggml": "llama.cpp interleave",
}


@dataclass(frozen=True)
class Settings:
    """The scheme controls' current values."""

    scheme: Scheme
    granularity: Granularity
    group_size: int
    clip: ClipSpec

    @property
    def label(self) -> str:
        granularity = GRANULARITY_LABELS[self.granularity].replace("N", str(self.group_size))
        return f"{SCHEME_LABELS[self.scheme]} · {granularity} · {self.clip.label}"

    def states(self, w: NDArray[np.float64]) -> tuple[LayerState, ...]:
        """The layer at every width from 2 to 8 under these settings."""
        return layer_states(w, self.scheme, self.granularity, self.group_size, self.clip)


def render(ctx: WidgetContext) -> None:
    with st.container(border=True):
        st.subheader("Grid explorer: a toy layer of 16 weights", anchor=False)
        _explorer(ctx.key)
        _predict(ctx.key)


@figure_cache
def _figure(
    w_bytes: bytes, shape: tuple[int, ...], settings: Settings
) -> tuple[tuple[LayerState, ...], go.Figure, ChartText]:
    """The layer's seven widths, its figure and text alternative, shared by every session that
    shows the same layer under the same settings (a class's default draw is built once)."""
    w = np.frombuffer(w_bytes, dtype=np.float64).reshape(shape)
    states = settings.states(w)
    clipping = settings.clip.method != "none"
    figure = grid_explorer_figure(w, states, settings.scheme, clipping=clipping)
    return states, figure, grid_explorer_text(w, states)


def _new_layer(key: str) -> None:
    st.session_state[f"{key}-seed"] += 1


@registry.fragment
def _explorer(key: str) -> None:
    st.session_state.setdefault(f"{key}-seed", 7)
    # Horizontal containers rather than st.columns: every block is one more message per rerun.
    top = st.container(horizontal=True, vertical_alignment="bottom")
    dist = top.segmented_control(
        "distribution",
        list(DISTRIBUTIONS),
        format_func=lambda v: DISTRIBUTIONS[v],
        default="normal",
        key=f"{key}-dist",
        required=True,
    )
    seed = top.number_input("seed", min_value=0, step=1, key=f"{key}-seed", width=140)
    top.button(
        "Draw a new layer",
        on_click=_new_layer,
        args=(key,),
        key=f"{key}-new",
        icon=":material/casino:",
    )
    controls = st.expander(
        "Scheme, scale granularity and clipping",
        icon=":material/tune:",
        key=f"{key}-controls",
        on_change="rerun",
    )
    if controls.open:
        with controls:
            _scheme_controls(key)
    settings = _settings(key)
    w = _layer(key, int(seed), dist or "normal")
    w = np.ascontiguousarray(w, dtype=np.float64)
    states, figure, alt = _figure(w.tobytes(), w.shape, settings)

    note = f"Scheme: {settings.label}."
    if dist == "outlier" and settings.granularity == "tensor" and settings.clip == NO_CLIP:
        note += (
            " One outlier sets max|w|, so the scale grows and the other 15 weights crowd into "
            "the few buckets around zero."
        )
    st.caption(note)
    st.caption(slider_keys.HINT)
    show_chart(figure, key=f"{key}-heatmaps", alt=alt, open_table=True)
    active = next(s for s in states if s.bits == DEFAULT_BITS)
    announce(f"{settings.label}. {layer_summary(active, w.size)}", key=f"{key}-live")
    save_button(
        f"{key}-save",
        f"Grid explorer: 2–8 bits, {settings.label}",
        {
            "distribution": dist,
            "seed": int(seed),
            "scheme": settings.label,
            "weights": w.round(6).tolist(),
            "widths": [
                {
                    "bits": s.bits,
                    "codes": s.result.q.tolist(),
                    "rmse": s.summary.errors.rmse,
                    "max_error": s.summary.errors.max_error,
                    "scales": len(s.result.scale),
                }
                for s in states
            ],
        },
    )
    compare = st.expander(
        "Compare schemes: RMSE against bits per weight, every scheme and granularity",
        icon=":material/bar_chart:",
        key=f"{key}-compare",
        on_change="rerun",
    )
    if compare.open:
        with compare:
            _comparison(key, w, settings)
    packed = st.expander(
        "Bit packing: the bytes a file stores for this layer",
        icon=":material/memory:",
        key=f"{key}-packing",
        on_change="rerun",
    )
    if packed.open:
        with packed:
            _packing(key, w, settings, states)


@registry.fragment
def _predict(key: str) -> None:
    """The prediction box, in its own fragment: typing a guess does not rerun the explorer.

    The answer is for the layer the explorer's seed draws with the outlier, as the student
    left the seed when revealing."""
    seed = int(st.session_state.get(f"{key}-seed", 7))
    prediction_box(
        f"{key}-predict",
        "grid",
        f"weights read back as 0 with one outlier at {DEFAULT_BITS} bits",
        f"How many of the 16 weights read back as exactly 0 at {DEFAULT_BITS} bits once one "
        "outlier joins the layer (the explorer's seed, symmetric absmax, one scale for the "
        "layer)? Write your guess, then switch the distribution to **normal + one outlier**.",
        lambda: _outlier_zeros(seed),
        setting=f"seed {seed}",
    )


def _outlier_zeros(seed: int) -> str:
    """The prediction box's observed answer: the outlier layer of `seed`, seed's scheme."""
    state = next(s for s in layer_states(toy_layer(seed, "outlier")) if s.bits == DEFAULT_BITS)
    return (
        f"{state.zeros} of 16 read back as 0 at {DEFAULT_BITS} bits, using "
        f"{state.summary.used_levels} of {state.summary.representable_levels} levels"
    )


def _layer(key: str, seed: int, dist: Distribution) -> NDArray[np.float64]:
    """The drawn layer with the student's edits.

    The editor renders only while its expander is open, and a data editor keeps no state while
    hidden, so the edited layer is stored per draw under `{key}-edited` and fed back in.
    """
    draw = f"{dist}-{seed}"
    stored = st.session_state.get(f"{key}-edited")
    w = stored[1] if stored is not None and stored[0] == draw else toy_layer(seed, dist)
    editor = st.expander(
        "Edit the weights", icon=":material/edit:", key=f"{key}-edit", on_change="rerun"
    )
    if editor.open:
        with editor:
            # Keyed by the draw, so a new seed or distribution starts a fresh, unedited table.
            edited = st.data_editor(
                pd.DataFrame(w, columns=[f"c{j}" for j in range(w.shape[1])]),
                key=f"{key}-editor-{draw}",
                hide_index=True,
                column_config={
                    f"c{j}": st.column_config.NumberColumn(format="%.6f", required=True)
                    for j in range(w.shape[1])
                },
            )
        w = np.nan_to_num(edited.to_numpy(dtype=np.float64))
        st.session_state[f"{key}-edited"] = (draw, w)
    return w


def _scheme_controls(key: str) -> None:
    """The scheme widgets, shown while their expander is open.

    They keep their values while it is closed (`persist_state`); `_settings` reads them.
    """
    first = st.container(horizontal=True)
    first.segmented_control(
        "scheme",
        SCHEMES,
        format_func=lambda v: SCHEME_LABELS[v],
        default="symmetric",
        required=True,
        key=f"{key}-scheme",
        persist_state="page",
        help="Symmetric: scale = max|w| / (2^(bits-1) - 1), q = round(w / scale). "
        "Asymmetric: scale = (max - min) / (2^bits - 1), zero_point = round(-min / scale), "
        "q = round(w / scale) + zero_point, so every code covers the layer's actual range.",
    )
    first.segmented_control(
        "scale granularity",
        GRANULARITIES,
        format_func=lambda v: GRANULARITY_LABELS[v],
        default="tensor",
        required=True,
        key=f"{key}-granularity",
        persist_state="page",
        help="How many weights share one scale: all 16, each row of 4, or each group of N "
        "consecutive weights (row by row).",
    )
    first.segmented_control(
        "group size N",
        GROUP_SIZES,
        default=DEFAULT_GROUP_SIZE,
        required=True,
        key=f"{key}-group-size",
        persist_state="page",
        help="Weights per group for 'per group of N' and for the comparison strip.",
    )
    second = st.container(horizontal=True, vertical_alignment="bottom")
    method = second.segmented_control(
        "clipping",
        list(CLIP_LABELS),
        format_func=lambda v: CLIP_LABELS[v],
        default="none",
        required=True,
        key=f"{key}-clip",
        persist_state="page",
        help="Narrow each scale's range to a threshold on |w|; weights beyond it are clipped "
        "to the edge (outlined in the heatmap).",
    )
    if method == "percentile":
        second.slider(
            "clip at this percentile of |w|",
            50,
            100,
            DEFAULT_PERCENTILE,
            key=f"{key}-clip-percentile",
            persist_state="page",
        )
    elif method == "std":
        second.slider(
            "clip at k standard deviations (k)",
            0.5,
            4.0,
            DEFAULT_K,
            step=0.1,
            key=f"{key}-clip-k",
            persist_state="page",
        )


def _settings(key: str) -> Settings:
    """The scheme controls' values, or their defaults before the expander was first opened."""
    state = st.session_state
    method = state.get(f"{key}-clip") or "none"
    clip = NO_CLIP
    if method == "percentile":
        clip = ClipSpec.percentile(state.get(f"{key}-clip-percentile", DEFAULT_PERCENTILE))
    elif method == "std":
        clip = ClipSpec.std(state.get(f"{key}-clip-k", DEFAULT_K))
    return Settings(
        state.get(f"{key}-scheme") or "symmetric",
        state.get(f"{key}-granularity") or "tensor",
        int(state.get(f"{key}-group-size") or DEFAULT_GROUP_SIZE),
        clip,
    )


def _comparison(key: str, w: NDArray[np.float64], settings: Settings) -> None:
    rows = scheme_sweep(w, settings.group_size, settings.clip)
    front = pareto_front(rows)
    st.caption(
        f"Each point is one scheme × granularity at one width (its label in the hover), "
        f"{settings.clip.label}; a point right of another at the same RMSE pays more bits for "
        "the same error."
    )
    show_chart(pareto_figure(rows, front), key=f"{key}-comparison", alt=pareto_text(rows, front))


def _packing(
    key: str, w: NDArray[np.float64], settings: Settings, states: tuple[LayerState, ...]
) -> None:
    layout = st.segmented_control(
        "byte order",
        list(LAYOUT_LABELS),
        format_func=lambda v: LAYOUT_LABELS[v],
        default="sequential",
        required=True,
        key=f"{key}-layout",
        persist_state="page",
        help="In order: code 2j in the low nibble of byte j, code 2j+1 in the high nibble. "
        "llama.cpp interleaves half-blocks instead (Q4_0: byte j holds codes j and j + n/2; "
        "Q6_K: ql and qh the same way), so one shift unpacks a whole SIMD register.",
    )
    blocks = [
        _packed_text(
            width,
            settings.scheme,
            next(s.result for s in states if s.bits == width),
            layout or "sequential",
        )
        for width in PACKED_BITS
    ]
    st.code("\n\n".join(blocks), language=None)
    st.caption(
        "Bytes are what a file holds: whole bytes, so padding counts. Each scale is an FP16 "
        "number stored low byte first, as GGUF does; real Q6_K blocks of 256 weights also "
        "store 16 eight-bit sub-scales."
    )


def _packed_text(bits: int, scheme: Scheme, res: GroupedQuant, layout: packing.Layout) -> str:
    """One width's codes, the bytes they pack into, the scale bytes and the bits per weight."""
    signed = scheme == "symmetric"
    packed = packing.pack_layer(res.q, bits, res.scale, layout, signed=signed)
    arrays = dict(packed.arrays)
    arrays["scale"] = packed.scale_bytes
    if not signed:  # zero-points are codes too: packed at the same width
        arrays["zero"] = packing.pack_bitstream(res.zero_point, bits)
    total = sum(a.size for a in arrays.values())
    digits = 1 if bits <= 4 else 2
    offset = f" + {2 ** (bits - 1)}" if signed else ""
    title = "two codes per byte" if bits == 4 else "low 4 bits in ql, high 2 bits in qh (as Q6_K)"
    lines = [
        f"{bits} bits: {title}",
        f"codes (q{offset}), hex   " + " ".join(f"{c:0{digits}x}" for c in packed.codes),
    ]
    lines += [f"{name:<6}{a.size:>3} bytes  {packing.hex_bytes(a)}" for name, a in arrays.items()]
    lines.append(
        f"total {total:>3} bytes = {total * 8} bits for {packed.n_codes} weights = "
        f"{total * 8 / packed.n_codes:.2f} bits per weight"
    )
    return "\n".join(lines)
