"""Plotly figures of the seed's toy quantizer: arrays in, `go.Figure` out.

Speed decides the shape of this module: a fragment rerun may spend about 30 ms of server CPU.

- Figures come from the shared factory (`figures._base.figure`: dict specs, no validation, no
  template); `make_subplots` would validate too. `tests/test_figures.py` rebuilds each figure
  with validation on.
- Each chart costs a serialization and a websocket message, a few ms of server CPU here, so
  `layer_overview` draws the grid explorer's panels as one figure.
- Every axis pair costs about 0.2 ms, so the three heatmaps share one (side by side through
  `x0`) and histograms are binned here, with their marker lines in data coordinates.
- Traces carry Python lists: for the toy layer's handful of values plotly serializes a list
  faster than it inspects a numpy array (it asks narwhals whether the array is a dataframe).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike, NDArray

from quantviz.figures._base import (
    INDIGO,
    LIGHT_SLATE,
    ORANGE,
    SLATE,
    Spec,
    colorscale,
    figure,
)

# Original and reconstruction share one scale, so equal colours mean equal values.
VALUE_SCALE = colorscale("RdBu_r")
ERROR_SCALE = colorscale("PuOr")
USED_COLOR = INDIGO
UNUSED_COLOR = LIGHT_SLATE
ERROR_COLOR = SLATE
BOUND_COLOR = ORANGE
LEVEL_COLOR = "rgba(228, 87, 86, 0.7)"
HEATMAP_TITLES = ("original w", "reconstruction ŵ", "error w − ŵ")
OVERVIEW_TITLES = (
    *HEATMAP_TITLES,
    "w − ŵ (dashed: ±scale/2)",
    "weights per stored code q (dots: every code there is)",
    "weights, and the values the codes can represent (red)",
)
HEATMAP_GAP = 1  # empty columns between two heatmaps on their shared axes
ERROR_BINS = 12
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
        "font": {"size": 14},
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


def number_line(levels: ArrayLike, w: float, w_hat: float, bits: int) -> go.Figure:
    """Every representable level on a line, with the weight and its reconstruction marked."""
    levels = np.asarray(levels, dtype=np.float64)
    data = [
        {
            "type": "scatter",
            "x": levels.tolist(),
            "y": [0] * levels.size,
            "mode": "markers",
            "marker": {"symbol": "line-ns-open", "size": 18, "color": "#94a3b8"},
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
    return figure(data, layout)


def _heatmap_panels(
    w: NDArray[np.float64],
    w_hat: NDArray[np.float64],
    clipped: ArrayLike | None,
    x_domain: list[float],
    y_domain: list[float],
) -> tuple[list[Spec], Spec]:
    """Three heatmaps side by side on the axes x/y (offset by `x0`), and their layout.

    With a `clipped` mask, a scatter named "clipped" puts an × on each clipped weight of the
    original (empty when none is clipped).
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
        rows, cols = np.nonzero(mask)
        data.append(
            {
                "type": "scatter",
                "name": "clipped",
                "x": cols.tolist(),
                "y": rows.tolist(),
                "mode": "markers",
                "marker": {"symbol": "x-thin", "size": 30, "line": {"width": 2, "color": "black"}},
                "hovertemplate": "clipped<extra></extra>",
            }
        )
    hidden = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False}
    layout: Spec = {
        "coloraxis": {"colorscale": VALUE_SCALE, "cmin": -vmax, "cmax": vmax, "showscale": False},
        "coloraxis2": {"colorscale": ERROR_SCALE, "cmin": -emax, "cmax": emax, "showscale": False},
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
    """Bars of weights per stored code, and a grey dot on every representable code at y=0."""
    bar: Spec = {
        "type": "bar",
        "name": "weights per code",
        "x": buckets.tolist(),
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


def layer_overview(
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
) -> go.Figure:
    """The grid explorer's layer in one figure, panels titled with `OVERVIEW_TITLES`.

    Top row: three heatmaps (w and ŵ on one colour axis, w − ŵ on another) side by side on x/y
    (`x0` = 0, n+1, 2(n+1) for n columns), with a scatter "clipped" putting an × on every
    clipped weight when a `clipped` mask is given; then a histogram of w − ŵ on x2/y2 with dashed
    lines at ±`bound` ("±scale/2"). Bottom row: weights per stored code on x3/y3 (traces
    "weights per code", whose hover gives each code's value (q − zero_point) · scale unless
    `scale` is None, and "representable codes") and a histogram of the weights on x4/y4 with a
    red line at every representable level (trace "levels").
    """
    w = np.asarray(w, dtype=np.float64)
    w_hat = np.asarray(w_hat, dtype=np.float64)
    buckets = np.asarray(buckets, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    levels = np.asarray(levels, dtype=np.float64).ravel()
    top, bottom = [0.42, 1.0], [0.0, 0.30]
    heat_x, err_x = [0.0, 0.72], [0.78, 1.0]
    codes_x, weights_x = [0.0, 0.46], [0.54, 1.0]
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
                "line": {"color": BOUND_COLOR, "dash": "dash"},
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
    x, y = _vertical_lines(levels, w_top)
    data += [
        {**w_bars, "xaxis": "x4", "yaxis": "y4", "opacity": 0.75},
        {
            "type": "scatter",
            "name": "levels",
            "x": x,
            "y": y,
            "xaxis": "x4",
            "yaxis": "y4",
            "mode": "lines",
            "line": {"color": LEVEL_COLOR, "width": 1},
            "hoverinfo": "skip",
        },
    ]
    layout.update(
        {
            "height": 600,
            "showlegend": False,
            "bargap": 0.1,
            "uirevision": "layer-overview",
            "xaxis2": {"domain": err_x, "anchor": "y2"},
            "yaxis2": {"domain": top, "anchor": "x2", **_count_axis(err_top)},
            "xaxis3": {"domain": codes_x, "anchor": "y3"},
            "yaxis3": {"domain": bottom, "anchor": "x3", **_count_axis(int(counts.max(initial=0)))},
            "xaxis4": {"domain": weights_x, "anchor": "y4"},
            "yaxis4": {"domain": bottom, "anchor": "x4", **_count_axis(w_top)},
        }
    )
    layout["annotations"] += [
        _title(OVERVIEW_TITLES[3], sum(err_x) / 2, top[1]),
        _title(OVERVIEW_TITLES[4], sum(codes_x) / 2, bottom[1]),
        _title(OVERVIEW_TITLES[5], sum(weights_x) / 2, bottom[1]),
    ]
    return figure(data, layout)
