"""Plotly figures of the seed's toy quantizer: arrays in, `go.Figure` out.

Speed decides the shape of this module: a fragment rerun may spend about 30 ms of server CPU.

- Figures come from the shared factory (`figures._base.figure`: dict specs, no validation, no
  template); `make_subplots` would validate too. `tests/test_figures.py` rebuilds each figure
  with validation on.
- Each chart costs a serialization and a websocket message, a few ms of server CPU here, so
  the grid explorer's panels are one figure (`overview_spec`), and each explorer's
  figure (`weight_explorer_figure`, `grid_explorer_figure`) carries all seven bit widths as the
  steps of its own slider (`figures._base.bits_slider`): a bits move redraws in the browser,
  with no rerun at all.
- Every axis pair costs about 0.2 ms, so the three heatmaps share one (side by side through
  `x0`) and histograms are binned here, with their marker lines in data coordinates.
- Traces carry Python lists: for the toy layer's handful of values plotly serializes a list
  faster than it inspects a numpy array (it asks narwhals whether the array is a dataframe).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike, NDArray

from quantviz.figures._base import (
    ERROR_MAP,
    INDIGO,
    OKABE_ITO,
    SLATE,
    VALUE_MAP,
    Spec,
    bits_slider,
    colorbar,
    colorscale,
    figure_spec,
)
from quantviz.figures.alt import ChartText
from quantviz.quant.absmax import WeightState, qmax
from quantviz.quant.schemes import LayerState, Scheme

# Original and reconstruction share one colour map and one range, so equal colours mean equal
# values; the error has a map of its own (both CVD-safe, see figures._base).
VALUE_SCALE = colorscale(VALUE_MAP)
ERROR_SCALE = colorscale(ERROR_MAP)
VALUE_UNIT = "w, ŵ (weight value)"
ERROR_UNIT = "w − ŵ (weight value)"
USED_COLOR = INDIGO
UNUSED_COLOR = SLATE  # the "every code there is" dots: 4.76:1 on white (SC 1.4.11)
ERROR_COLOR = SLATE
BOUND_COLOR = OKABE_ITO["vermilion"]  # 3.87:1; Okabe orange is 2.25:1
LEVEL_COLOR = OKABE_ITO["vermilion"]
CLIP_COLOR = "#111111"
HEATMAP_TITLES = ("original w", "reconstruction ŵ", "error w − ŵ")
# Short enough to sit side by side at 1024 px; the axis titles say the rest.
OVERVIEW_TITLES = (
    *HEATMAP_TITLES,
    "error histogram",
    "weights per stored code",
    "weights and the levels",
)
DEFAULT_BITS = 4
HEATMAP_GAP = 1  # empty columns between two heatmaps on their shared axes
ERROR_BINS = 12
LEVEL_MARK_PX = 1000  # taller than any panel: the axes clip each level's line to its panel
WEIGHT_BINS = 24


def _title(text: str, x: float, y: float, xref: str = "paper") -> Spec:
    """A panel title centred at `x` (paper or data coordinates), sitting on `y` (paper)."""
    return {
        "text": text,
        "x": x,
        "y": y,
        "xref": xref,
        "yref": "paper",
        "xanchor": "center",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 13},
    }


def _vertical_lines(xs: ArrayLike, top: float) -> tuple[list[float | None], list[float | None]]:
    """One path of vertical segments from y=0 to y=`top` at each x, None-separated."""
    x: list[float | None] = []
    y: list[float | None] = []
    for v in np.asarray(xs, dtype=np.float64).ravel().tolist():
        x += [v, v, None]
        y += [0.0, top, None]
    return x, y


def _histogram(
    values: NDArray[np.float64], bins: int, lo: float, hi: float, name: str, color: str
) -> tuple[Spec, int]:
    """A bar trace of `values` binned over [lo, hi], and the tallest bar's count."""
    if hi <= lo:  # a constant layer: one bin around the value
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    width = float(edges[1] - edges[0])
    bar = {
        "type": "bar",
        "name": name,
        "x": ((edges[:-1] + edges[1:]) / 2).tolist(),
        "y": counts.tolist(),
        "width": width,
        "marker": {"color": color},
        "hovertemplate": f"%{{x:.4f}} ± {width / 2:.4f}<br>%{{y}} weights<extra></extra>",
    }
    return bar, int(counts.max(initial=0))


def number_line_spec(levels: ArrayLike, w: float, w_hat: float, bits: int) -> Spec:
    """Every representable level on a line, with the weight and its reconstruction marked: one
    width's panel of `weight_explorer_figure`."""
    levels = np.asarray(levels, dtype=np.float64)
    data = [
        {
            "type": "scatter",
            "x": levels.tolist(),
            "y": [0] * levels.size,
            "mode": "markers",
            "marker": {"symbol": "line-ns-open", "size": 18, "color": "#64748b"},
            "name": f"{levels.size} levels at {bits} bits",
            "hovertemplate": "level %{x:.6f}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": [float(w)],
            "y": [0],
            "mode": "markers",
            "name": "w (original)",
            "marker": {"size": 14, "color": "#0f172a", "symbol": "diamond"},
            "hovertemplate": "w = %{x:.6f}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": [float(w_hat)],
            "y": [0],
            "mode": "markers",
            "name": "ŵ (reconstructed)",
            "marker": {
                "size": 14,
                "color": USED_COLOR,
                "symbol": "circle-open",
                "line": {"width": 3},
            },
            "hovertemplate": "ŵ = %{x:.6f}<extra></extra>",
        },
    ]
    layout = {
        "height": 190,
        "yaxis": {"visible": False, "range": [-1, 1]},
        "xaxis": {"title": {"text": "value"}, "zeroline": True},
        "legend": {"orientation": "h", "y": 1.25},
        "uirevision": "number-line",
    }
    return figure_spec(data, layout)


# ---------------------------------------------------------------------------------------------
# Readouts: the numbers a bits move changes, drawn in the figure so they change with it


def _readouts(items: list[tuple[str, str, str]], y: float) -> list[Spec]:
    """A row of annotations, one per `(name, label, value)`: label above, value in bold.

    Each carries `name`, so tests and the a11y pass can find a readout by what it shows.
    """
    n = len(items)
    return [
        {
            "name": name,
            "text": f"{label}<br><b>{value}</b>",
            "x": (i + 0.5) / n,
            "y": y,
            "xref": "paper",
            "yref": "paper",
            "xanchor": "center",
            "yanchor": "top",
            "showarrow": False,
            "align": "center",
            "font": {"size": 12},
        }
        for i, (name, label, value) in enumerate(items)
    ]


def weight_readouts(state: WeightState) -> list[tuple[str, str, str]]:
    """`(name, label, value)` of each number the single-weight explorer shows at one width."""
    rel = f"{state.rel_error:.2%}" if state.rel_error is not None else "—"
    return [
        ("scale", "scale", f"{state.scale:.6f}"),
        ("q", "stored q", str(state.q)),
        ("w_hat", "ŵ = q·scale", f"{state.w_hat:.6f}"),
        ("abs_error", "|w − ŵ|", f"{state.abs_error:.6f}"),
        ("rel_error", "relative error", rel),
        ("levels", "levels", str(state.n_levels)),
    ]


def weight_formula(state: WeightState, w: float, max_abs: float) -> str:
    """The seed's three lines with this width's numbers in them."""
    top = qmax(state.bits)
    return (
        f"scale = {max_abs:.6f} / (2^{state.bits - 1} − 1) = {max_abs:.6f} / {top} = "
        f"{state.scale:.6f}<br>q = round({w:.6f} / {state.scale:.6f}) = {state.q},   "
        f"ŵ = {state.q} × {state.scale:.6f} = {state.w_hat:.6f}"
    )


def weight_summary(state: WeightState, w: float) -> str:
    """One sentence with the width's key numbers (for a text alternative of the figure)."""
    rel = f", {state.rel_error:.1%} away from w" if state.rel_error is not None else ""
    return (
        f"At {state.bits} bits the {state.n_levels} levels are {state.scale:.6f} apart, so "
        f"w = {w:.6f} is stored as q = {state.q} and read back as ŵ = {state.w_hat:.6f}{rel}."
    )


def weight_explorer_figure(
    w: float, max_abs: float, states: Sequence[WeightState], active_bits: int = DEFAULT_BITS
) -> go.Figure:
    """The single-weight explorer: the number line, readouts and formula, with its own bits
    slider whose steps hold every width's numbers (`states`, one per width, from
    `quant.absmax.weight_states`). `layout.meta.summary` holds the width's sentence."""
    specs = []
    for state in states:
        spec = number_line_spec(state.levels, w, state.w_hat, state.bits)
        layout = spec["layout"]
        layout.update(
            {
                "height": 380,
                "margin": {"l": 30, "r": 30, "t": 30, "b": 90},
                "yaxis": {"visible": False, "range": [-1, 1], "domain": [0, 0.42]},
                "legend": {"orientation": "h", "x": 0, "y": 0.46, "yanchor": "bottom"},
                "meta": {"summary": weight_summary(state, w)},
                "annotations": [
                    *_readouts(weight_readouts(state), 1.0),
                    {
                        "name": "formula",
                        "text": weight_formula(state, w, max_abs),
                        "x": 0,
                        "y": 0.72,
                        "xref": "paper",
                        "yref": "paper",
                        "xanchor": "left",
                        "yanchor": "top",
                        "align": "left",
                        "showarrow": False,
                        "font": {"size": 12},
                    },
                ],
            }
        )
        specs.append(spec)
    labels = [str(s.bits) for s in states]
    return bits_slider(specs, labels, labels.index(str(active_bits)))


# ---------------------------------------------------------------------------------------------
# The grid explorer's layer


def _clip_outlines(mask: NDArray[np.bool_]) -> Spec:
    """A path around every clipped cell, drawn on the cell's edge so its number stays readable.

    `customdata` lists the outlined cells as `[row, column]`.
    """
    rows, cols = np.nonzero(mask)
    x: list[float | None] = []
    y: list[float | None] = []
    inset = 0.44  # just inside the cell, clear of the centred number
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        x += [c - inset, c + inset, c + inset, c - inset, c - inset, None]
        y += [r - inset, r - inset, r + inset, r + inset, r - inset, None]
    return {
        "type": "scatter",
        "name": "clipped",
        "x": x,
        "y": y,
        "customdata": [[r, c] for r, c in zip(rows.tolist(), cols.tolist(), strict=True)],
        "mode": "lines",
        "line": {"color": CLIP_COLOR, "width": 3},
        "hoverinfo": "skip",
    }


def _heatmap_panels(
    w: NDArray[np.float64],
    w_hat: NDArray[np.float64],
    clipped: ArrayLike | None,
    x_domain: list[float],
    y_domain: list[float],
) -> tuple[list[Spec], Spec]:
    """Three heatmaps side by side on the axes x/y (offset by `x0`), and their layout.

    With a `clipped` mask, a path named "clipped" outlines each clipped weight of the original
    (empty when none is clipped). Two horizontal colour bars sit under the heatmaps: one for
    w and ŵ, one for the error.
    """
    err = w - w_hat
    n_rows, n_cols = w.shape
    stride = n_cols + HEATMAP_GAP
    vmax = float(max(np.max(np.abs(w)), np.max(np.abs(w_hat)))) or 1.0
    emax = float(np.max(np.abs(err))) or 1e-12
    panels = [(w, "coloraxis", "w"), (w_hat, "coloraxis", "ŵ"), (err, "coloraxis2", "error")]
    data: list[Spec] = [
        {
            "type": "heatmap",
            "name": name,
            "z": z.tolist(),
            "x0": i * stride,
            "dx": 1,
            "coloraxis": coloraxis,
            "texttemplate": "%{z:.3f}",
            "textfont": {"size": 11},
            "xgap": 2,
            "ygap": 2,
            "hovertemplate": f"{name} = %{{z:.6f}}<extra></extra>",
        }
        for i, (z, coloraxis, name) in enumerate(panels)
    ]
    if clipped is not None:
        mask = np.asarray(clipped, dtype=bool)
        if mask.shape != w.shape:
            raise ValueError(f"clipped mask shape {mask.shape} differs from weights {w.shape}")
        data.append(_clip_outlines(mask))
    hidden = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False}
    width = x_domain[1] - x_domain[0]
    split = x_domain[0] + width * (2 * stride - HEATMAP_GAP / 2) / (3 * stride - HEATMAP_GAP)
    bar = {"orientation": "h", "yanchor": "top", "y": y_domain[0] - 0.02, "xanchor": "left"}
    layout: Spec = {
        "coloraxis": {
            "colorscale": VALUE_SCALE,
            "cmin": -vmax,
            "cmax": vmax,
            "colorbar": colorbar(VALUE_UNIT, x=x_domain[0], len=split - x_domain[0] - 0.02, **bar),
        },
        "coloraxis2": {
            "colorscale": ERROR_SCALE,
            "cmin": -emax,
            "cmax": emax,
            "colorbar": colorbar(ERROR_UNIT, x=split, len=x_domain[1] - split, **bar),
        },
        "xaxis": {"domain": x_domain, "range": [-0.5, 3 * stride - HEATMAP_GAP - 0.5], **hidden},
        "yaxis": {"domain": y_domain, "range": [n_rows - 0.5, -0.5], **hidden},
        "annotations": [
            _title(title, i * stride + (n_cols - 1) / 2, y_domain[1], xref="x")
            for i, title in enumerate(HEATMAP_TITLES)
        ],
    }
    return data, layout


def _bucket_traces(
    buckets: NDArray[np.int64], counts: NDArray[np.int64], scale: float | None, zero_point: int
) -> list[Spec]:
    """Bars of weights per stored code, and a grey dot on every representable code at y=0.

    The codes are consecutive, so the bars are placed by `x0` and `dx` = 1, not by a list: the
    grid explorer's figure carries seven widths (up to 255 codes each), and every list element
    costs the server a little in each copy and serialization of the figure. (plotly.js does not
    honour `dy` = 0, so the dots keep their list of zeros.)
    """
    consecutive = buckets.size > 0 and bool(np.all(np.diff(buckets) == 1))
    place: Spec = {"x0": int(buckets[0]), "dx": 1} if consecutive else {"x": buckets.tolist()}
    bar: Spec = {
        "type": "bar",
        "name": "weights per code",
        **place,
        "y": counts.tolist(),
        "marker": {"color": USED_COLOR},
        "hovertemplate": "q = %{x}<br>%{y} weights<extra></extra>",
    }
    if scale is not None:
        bar["customdata"] = ((buckets - zero_point) * float(scale)).tolist()
        bar["hovertemplate"] = "q = %{x}<br>ŵ = %{customdata:.4f}<br>%{y} weights<extra></extra>"
    dots = {
        "type": "scatter",
        "name": "representable codes",
        "x": buckets.tolist(),
        "y": [0] * buckets.size,
        "mode": "markers",
        "marker": {"color": UNUSED_COLOR, "size": 5},
        "cliponaxis": False,
        "hovertemplate": "code %{x}<extra></extra>",
    }
    return [bar, dots]


def _count_axis(top: int) -> Spec:
    """A y axis of weight counts: a tick per weight while the bars are short."""
    return {"dtick": 1} if top <= 8 else {}


def _axis_title(text: str) -> Spec:
    return {"title": {"text": text, "font": {"size": 12}, "standoff": 4}}


TOP_ROW = [0.50, 0.85]
BOTTOM_ROW = [0.0, 0.28]


def overview_spec(
    w: ArrayLike,
    w_hat: ArrayLike,
    buckets: ArrayLike,
    counts: ArrayLike,
    levels: ArrayLike,
    *,
    scale: float | None = None,
    zero_point: int = 0,
    bound: float | None = None,
    clipped: ArrayLike | None = None,
) -> Spec:
    """One width of the grid explorer's figure (`grid_explorer_figure`) as a spec, its panels
    titled with `OVERVIEW_TITLES`.

    Top row: three heatmaps (w and ŵ on one colour axis, w − ŵ on another, each with a colour
    bar naming its unit) side by side on x/y (`x0` = 0, n+1, 2(n+1) for n columns), with a
    path "clipped" outlining every clipped weight when a `clipped` mask is given; then a
    histogram of w − ŵ on x2/y2 with dashed lines at ±`bound` ("±scale/2"). Bottom row:
    weights per stored code on x3/y3 (traces "weights per code", whose hover gives each code's
    value (q − zero_point) · scale unless `scale` is None, and "representable codes") and a
    histogram of the weights on x4/y4 with a line at every representable level (trace
    "levels"). Every histogram has axis titles.
    """
    w = np.asarray(w, dtype=np.float64)
    w_hat = np.asarray(w_hat, dtype=np.float64)
    buckets = np.asarray(buckets, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    levels = np.asarray(levels, dtype=np.float64).ravel()
    top, bottom = TOP_ROW, BOTTOM_ROW
    heat_x, err_x = [0.0, 0.70], [0.80, 1.0]
    codes_x, weights_x = [0.0, 0.44], [0.56, 1.0]
    data, layout = _heatmap_panels(w, w_hat, clipped, heat_x, top)

    err = (w - w_hat).ravel()
    reach = max(float(np.max(np.abs(err))), abs(bound or 0.0)) * 1.1
    err_bars, err_top = _histogram(err, ERROR_BINS, -reach, reach, "w − ŵ", ERROR_COLOR)
    data.append({**err_bars, "xaxis": "x2", "yaxis": "y2"})
    if bound is not None:
        x, y = _vertical_lines([-abs(bound), abs(bound)], err_top)
        data.append(
            {
                "type": "scatter",
                "name": "±scale/2",
                "x": x,
                "y": y,
                "xaxis": "x2",
                "yaxis": "y2",
                "mode": "lines",
                "line": {"color": BOUND_COLOR, "dash": "dash", "width": 2},
                "hoverinfo": "skip",
            }
        )

    data += [
        {**trace, "xaxis": "x3", "yaxis": "y3"}
        for trace in _bucket_traces(buckets, counts, scale, zero_point)
    ]

    span = np.concatenate([w.ravel(), levels])
    w_bars, w_top = _histogram(
        w.ravel(), WEIGHT_BINS, float(span.min()), float(span.max()), "weights", USED_COLOR
    )
    data += [
        # One tall vertical-line marker per level, clipped to the panel: one number per level
        # instead of a None-separated path's six (the figure carries up to 255 levels x 7).
        {
            "type": "scatter",
            "name": "levels",
            "x": levels.tolist(),
            "y": [w_top * 1.05 / 2] * levels.size,  # mid-panel (the range below)
            "xaxis": "x4",
            "yaxis": "y4",
            "mode": "markers",
            "marker": {
                "symbol": "line-ns",
                "size": LEVEL_MARK_PX,
                "line": {"color": LEVEL_COLOR, "width": 1},
            },
            "cliponaxis": True,  # opaque: at 0.6 the levels were 2.2:1 on white (SC 1.4.11)
            "hoverinfo": "skip",
        },
        # The weights over the levels: at 7-8 bits the levels fill the panel.
        {**w_bars, "xaxis": "x4", "yaxis": "y4", "opacity": 0.85},
    ]
    weights_axis = _axis_title("weights")
    layout.update(
        {
            "height": 600,
            "showlegend": False,
            "bargap": 0.1,
            "uirevision": "layer-overview",
            "xaxis2": {"domain": err_x, "anchor": "y2", **_axis_title("w − ŵ (dashed: ±scale/2)")},
            "yaxis2": {"domain": top, "anchor": "x2", **weights_axis, **_count_axis(err_top)},
            "xaxis3": {"domain": codes_x, "anchor": "y3", **_axis_title("stored code q")},
            "yaxis3": {
                "domain": bottom,
                "anchor": "x3",
                **weights_axis,
                **_count_axis(int(counts.max(initial=0))),
            },
            "xaxis4": {
                "domain": weights_x,
                "anchor": "y4",
                **_axis_title("weight value (lines: the levels ŵ can take)"),
            },
            "yaxis4": {
                "domain": bottom,
                "anchor": "x4",
                "range": [0, w_top * 1.05],
                **weights_axis,
                **_count_axis(w_top),
            },
        }
    )
    layout["annotations"] += [
        _title(OVERVIEW_TITLES[3], sum(err_x) / 2, top[1]),
        _title(OVERVIEW_TITLES[4], sum(codes_x) / 2, bottom[1]),
        _title(OVERVIEW_TITLES[5], sum(weights_x) / 2, bottom[1]),
    ]
    return figure_spec(data, layout)


def layer_readouts(state: LayerState, scheme: Scheme) -> list[tuple[str, str, str]]:
    """`(name, label, value)` of each number the grid explorer shows at one width."""
    res, summary = state.result, state.summary
    n_groups = res.n_groups
    if n_groups == 1:
        scale = f"{res.scale[0]:.5f}"
        if scheme == "asymmetric":
            scale += f"<br>zero-point {res.zero_point[0]}"
    else:
        scale = f"{n_groups} scales"
    rmse = f"{summary.errors.rmse:.5f}"
    if state.kept_rmse is not None:
        kept = res.w_hat.size - state.n_clipped
        rmse += f"<br>{state.kept_rmse:.5f} on the {kept} kept"
    # Short lines: five readouts share 1024 px (tests/browser/test_browser_explorers.py).
    storage = f"{summary.storage_bits} bits<br>÷ {summary.ratio_vs_fp16:.1f} vs FP16"
    return [
        ("scale", "scale", scale),
        ("levels_used", "levels used", f"{summary.used_levels} of {summary.representable_levels}"),
        ("rmse", "RMSE", rmse),
        ("max_error", "max error", f"{summary.errors.max_error:.5f}"),
        ("storage", "storage", storage),
    ]


def layer_summary(state: LayerState, n_weights: int) -> str:
    """One sentence with the width's key numbers (for a text alternative of the figure)."""
    s = state.summary
    return (
        f"At {state.bits} bits the {n_weights} weights use {s.used_levels} of "
        f"{s.representable_levels} levels, {state.zeros} of them read back as 0; RMSE "
        f"{s.errors.rmse:.5f}, largest error {s.errors.max_error:.5f}, {s.storage_bits} bits "
        f"stored."
    )


def grid_explorer_figure(
    w: ArrayLike,
    states: Sequence[LayerState],
    scheme: Scheme,
    *,
    clipping: bool = False,
    active_bits: int = DEFAULT_BITS,
) -> go.Figure:
    """The grid explorer: `overview_spec` of every width (`states` from
    `quant.schemes.layer_states`) with readouts on top and its own bits slider below."""
    w = np.asarray(w, dtype=np.float64)
    specs = []
    for state in states:
        res = state.result
        one_scale = res.n_groups == 1
        spec = overview_spec(
            w,
            res.w_hat,
            state.buckets,
            state.counts,
            state.levels,
            scale=float(res.scale[0]) if one_scale else None,
            zero_point=int(res.zero_point[0]) if one_scale else 0,
            bound=float(res.scale.max()) / 2,
            clipped=res.clipped if clipping else None,
        )
        layout = spec["layout"]
        layout["height"] = 740
        layout["margin"] = {"l": 30, "r": 30, "t": 30, "b": 100}  # t: room for the modebar
        layout["meta"] = {"summary": layer_summary(state, w.size)}
        layout["annotations"] = [
            *layout["annotations"],
            *_readouts(layer_readouts(state, scheme), 1.0),
        ]
        specs.append(spec)
    labels = [str(s.bits) for s in states]
    return bits_slider(specs, labels, labels.index(str(active_bits)))


# ---------------------------------------------------------------------------------------------
# Text alternatives (issue 18). The text carries every width: the sentence of the width the
# figure opens at, and a row per width in the table, which the widget shows in the open under
# the figure (its own bits slider is reached by keyboard through `ui.slider_keys`).


def weight_explorer_text(
    w: float, states: Sequence[WeightState], active_bits: int = DEFAULT_BITS
) -> ChartText:
    """What `weight_explorer_figure` shows, at every width its slider holds."""
    active = next(s for s in states if s.bits == active_bits)
    rows = [
        (s.bits, s.n_levels, f"{s.scale:.6f}", s.q, f"{s.w_hat:.6f}", f"{s.abs_error:.6f}")
        for s in states
    ]
    return ChartText.of(
        f"{weight_summary(active, w)} The table lists the same numbers at every width the "
        "figure's bits slider holds.",
        ("bits", "levels", "scale", "q", "ŵ", "|w − ŵ|"),
        rows,
        "every width",
    )


def grid_explorer_text(
    w: ArrayLike, states: Sequence[LayerState], active_bits: int = DEFAULT_BITS
) -> ChartText:
    """What `grid_explorer_figure` shows, at every width its slider holds."""
    n = int(np.asarray(w).size)
    active = next(s for s in states if s.bits == active_bits)
    rows = [
        (s.bits, f"{s.summary.used_levels} of {s.summary.representable_levels}",
         f"{s.summary.errors.rmse:.5f}", f"{s.summary.errors.max_error:.5f}", s.zeros,
         f"{s.summary.storage_bits} bits")
        for s in states
    ]  # fmt: skip
    return ChartText.of(
        f"{layer_summary(active, n)} The table lists the same numbers at every width the "
        "figure's bits slider holds.",
        ("bits", "levels used", "RMSE", "max error", "read back as 0", "storage"),
        rows,
        "every width",
    )
