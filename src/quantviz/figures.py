"""Plotly figures of the seed's toy quantizer: arrays in, `go.Figure` out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike
from plotly.subplots import make_subplots

# Original and reconstruction share one scale, so equal colours mean equal values.
VALUE_SCALE = "RdBu_r"
ERROR_SCALE = "PuOr"
_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def number_line(levels: ArrayLike, w: float, w_hat: float, bits: int) -> go.Figure:
    """Every representable level on a line, with the weight and its reconstruction marked."""
    levels = np.asarray(levels, dtype=np.float64)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=levels,
            y=np.zeros_like(levels),
            mode="markers",
            marker={"symbol": "line-ns-open", "size": 18, "color": "#94a3b8"},
            name=f"{levels.size} levels at {bits} bits",
            hovertemplate="level %{x:.6f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[w],
            y=[0],
            mode="markers",
            name="w (original)",
            marker={"size": 14, "color": "#0f172a", "symbol": "diamond"},
            hovertemplate="w = %{x:.6f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[w_hat],
            y=[0],
            mode="markers",
            name="ŵ (reconstructed)",
            marker={"size": 14, "color": "#4f46e5", "symbol": "circle-open", "line": {"width": 3}},
            hovertemplate="ŵ = %{x:.6f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=190,
        margin=_MARGIN,
        yaxis={"visible": False, "range": [-1, 1]},
        xaxis={"title": "value", "zeroline": True},
        legend={"orientation": "h", "y": 1.25},
        uirevision="number-line",
    )
    return fig


def layer_heatmaps(w: ArrayLike, w_hat: ArrayLike) -> go.Figure:
    """Original, reconstruction (one shared colour scale) and error, values printed in cells."""
    w = np.asarray(w, dtype=np.float64)
    w_hat = np.asarray(w_hat, dtype=np.float64)
    err = w - w_hat
    vmax = float(np.max(np.abs(np.concatenate([w.ravel(), w_hat.ravel()])))) or 1.0
    emax = float(np.max(np.abs(err))) or 1e-12
    fig = make_subplots(
        rows=1,
        cols=3,
        horizontal_spacing=0.06,
        subplot_titles=("original w", "reconstruction ŵ", "error w − ŵ"),
    )
    common = {"texttemplate": "%{z:.3f}", "textfont": {"size": 11}, "xgap": 2, "ygap": 2}
    fig.add_trace(go.Heatmap(z=w, coloraxis="coloraxis", name="w", **common), row=1, col=1)
    fig.add_trace(go.Heatmap(z=w_hat, coloraxis="coloraxis", name="ŵ", **common), row=1, col=2)
    fig.add_trace(go.Heatmap(z=err, coloraxis="coloraxis2", name="error", **common), row=1, col=3)
    fig.update_layout(
        height=330,
        margin=_MARGIN,
        coloraxis={"colorscale": VALUE_SCALE, "cmin": -vmax, "cmax": vmax, "showscale": False},
        coloraxis2={"colorscale": ERROR_SCALE, "cmin": -emax, "cmax": emax, "showscale": False},
        uirevision="layer-heatmaps",
    )
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    return fig


def bucket_histogram(buckets: ArrayLike, counts: ArrayLike, scale: float) -> go.Figure:
    """How many weights each stored integer q holds; empty buckets are representable but unused."""
    buckets = np.asarray(buckets)
    counts = np.asarray(counts)
    fig = go.Figure(
        go.Bar(
            x=buckets,
            y=counts,
            marker={"color": np.where(counts > 0, "#4f46e5", "#cbd5e1")},
            customdata=buckets * scale,
            hovertemplate="q = %{x}<br>ŵ = %{customdata:.4f}<br>%{y} weights<extra></extra>",
        )
    )
    fig.update_layout(
        height=240,
        margin=_MARGIN,
        xaxis={"title": "stored integer q"},
        yaxis={"title": "weights", "dtick": 1 if counts.max(initial=0) <= 8 else None},
        bargap=0.15,
        uirevision="bucket-histogram",
    )
    return fig
