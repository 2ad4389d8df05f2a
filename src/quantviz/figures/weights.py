"""Plotly figures of real weights: arrays in, `go.Figure` out (no streamlit).

* `tile_figure`: heatmaps of one tile from the Q4 file, the Q6 file and their difference. Q4
  and Q6 share one colour scale (cividis, symmetric about 0), so equal colours mean equal
  weights; the difference has its own diverging scale (ColorBrewer PuOr), white at 0. Both maps
  are readable with the common colour-vision deficiencies.
* `weight_histogram`: the tile's weights, with the ones beyond ±k standard deviations of the
  whole tensor marked one by one, and the whole tensor's smallest and largest weight.
* `layer_profile`: RMS(Q4 - Q6) of every tensor against its layer, coloured by its type in the
  Q4 file (the colours of the tensor-mix chart).

Figures come from the shared factory (`figures._base.figure`); the tests rebuild each one with
validation on. Tensor names come from the files: `plotly_text` escapes them before plotly's
pseudo-HTML hover text sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike, NDArray

from quantviz.figures._base import EDGE, OKABE_ITO, Spec, colorscale, figure, plotly_text
from quantviz.figures.alt import ChartText, num
from quantviz.figures.ollama import type_style

WEIGHT_SCALE = colorscale("cividis", 9)
DIFF_SCALE = colorscale("PuOr", 9)
# Opaque white: 4.2:1 on the middle of cividis, where most weights lie (0.55 alpha was 2.4:1).
SUB_BLOCK_LINE = {"color": "#ffffff", "width": 1, "dash": "dot"}
OUTLIER_COLOR = OKABE_ITO["vermilion"].lower()
BAR_COLOR = OKABE_ITO["blue"].lower()
RANGE_COLOR = OKABE_ITO["black"]
MARKER_EDGE = {"width": 1, "color": EDGE}  # light type colours still stand out (SC 1.4.11)
OUTSIDE_BLOCKS = -1  # the profile's x for tensors outside the blocks (embeddings, output)
PANEL_TITLES = ("Q4 file", "Q6 file", "difference Q4 − Q6")


def _figure(data: list[Spec], layout: Spec) -> go.Figure:
    return figure(data, layout)


def _annotation(text: str, y: float) -> Spec:
    return {
        "text": text,
        "x": 0,
        "y": y,
        "xref": "paper",
        "yref": "paper",
        "xanchor": "left",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 13},
    }


def _sub_block_lines(
    col0: int, cols: int, sub_block: int, rows: tuple[float, float], axes: Spec
) -> Spec:
    """Dotted vertical lines at the sub-block boundaries inside the tile, one trace."""
    x: list[float | None] = []
    y: list[float | None] = []
    for c in range(col0 + sub_block, col0 + cols, sub_block):
        x += [c - 0.5, c - 0.5, None]
        y += [rows[0], rows[1], None]
    return {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "y": y,
        "line": SUB_BLOCK_LINE,
        "hoverinfo": "skip",
        "showlegend": False,
        **axes,
    }


def tile_figure(
    q4: ArrayLike,
    q6: ArrayLike,
    row0: int,
    col0: int,
    labels: tuple[str, str] = ("Q4_K", "Q6_K"),
    sub_blocks: tuple[int, int] = (32, 16),
) -> go.Figure:
    """Three stacked heatmaps of a (rows, cols) tile: Q4, Q6 (one scale) and Q4 - Q6.

    `labels` are the two files' types for the titles, `sub_blocks` their sub-block widths, drawn
    as dotted lines. Rows run down from `row0`, columns from `col0`, as in the tensor.
    """
    a = np.asarray(q4, np.float64)
    b = np.asarray(q6, np.float64)
    d = a - b
    rows, cols = b.shape
    xs = list(range(col0, col0 + cols))
    ys = list(range(row0, row0 + rows))
    finite = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
    top = float(np.abs(finite).max(initial=0.0)) or 1.0
    dtop = float(np.abs(d[np.isfinite(d)]).max(initial=0.0)) or top * 1e-3
    domains = ((0.70, 1.0), (0.36, 0.66), (0.0, 0.30))
    data: list[Spec] = []
    layout: Spec = {
        "height": 640,
        "xaxis": {
            "title": {"text": "weight index within the row (column)"},
            "anchor": "y3",
            "range": [col0 - 0.5, col0 + cols - 0.5],
        },
        "coloraxis": {
            "colorscale": WEIGHT_SCALE,
            "cmin": -top,
            "cmax": top,
            "colorbar": {
                "title": {"text": "weight w<br>(unitless)", "side": "right"},
                "y": 0.83,
                "len": 0.62,
                "yanchor": "middle",
            },
        },
        "coloraxis2": {
            "colorscale": DIFF_SCALE,
            "cmin": -dtop,
            "cmax": dtop,
            "colorbar": {
                "title": {"text": "Δw = Q4 − Q6<br>(unitless)", "side": "right"},
                "y": 0.15,
                "len": 0.30,
                "yanchor": "middle",
            },
        },
        "annotations": [],
    }
    titles = (
        f"{PANEL_TITLES[0]} ({plotly_text(labels[0])}): ŵ₄",
        f"{PANEL_TITLES[1]} ({plotly_text(labels[1])}): ŵ₆",
        f"{PANEL_TITLES[2]}: RMS {float(np.sqrt(np.mean(d * d))):.3g}, max |Δ| "
        f"{float(np.abs(d).max(initial=0.0)):.3g}",
    )
    for i, (z, domain, title) in enumerate(zip((a, b, d), domains, titles, strict=True)):
        n = i + 1
        yname = "yaxis" if n == 1 else f"yaxis{n}"
        layout[yname] = {
            "domain": list(domain),
            "anchor": "x",
            "autorange": "reversed",
            "title": {"text": "row"},
        }
        layout["annotations"].append(_annotation(title, domain[1]))
        axes = {"xaxis": "x", "yaxis": "y" if n == 1 else f"y{n}"}
        data.append(
            {
                "type": "heatmap",
                "x": xs,
                "y": ys,
                "z": z.tolist(),
                "coloraxis": "coloraxis" if n < 3 else "coloraxis2",
                "hovertemplate": "row %{y}, column %{x}<br>"
                + ("Δw = %{z:.3e}" if n == 3 else "w = %{z:.5f}")
                + "<extra></extra>",
                **axes,
            }
        )
        if n < 3 and sub_blocks[i] < cols:
            data.append(
                _sub_block_lines(col0, cols, sub_blocks[i], (row0 - 0.5, row0 + rows - 0.5), axes)
            )
    return _figure(data, layout)


def outliers(values: ArrayLike, mean: float, std: float, k: float) -> NDArray[np.bool_]:
    """Which weights lie more than `k` standard deviations from the mean."""
    v = np.asarray(values, np.float64)
    return np.abs(v - mean) > k * std if std > 0 else np.zeros(v.shape, bool)


def _bins(
    v: NDArray[np.float64], bins: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], float, float]:
    """The histogram's counts and edges over the finite values' range (one unit when flat)."""
    lo, hi = (float(v.min()), float(v.max())) if v.size else (-1.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return counts, edges, lo, hi


def weight_histogram(
    values: ArrayLike,
    mean: float,
    std: float,
    k: float,
    tensor_range: tuple[float, float] | None = None,
    bins: int = 60,
    positions: Sequence[str] | None = None,
) -> go.Figure:
    """Histogram of weights (log counts) with the ones beyond mean ± k·std marked one by one.

    `mean` and `std` are the whole tensor's; `tensor_range` its smallest and largest weight,
    drawn as solid lines; `positions` (one label per value, e.g. "row 3, column 17") for the
    outliers' hover text.
    """
    v_all = np.asarray(values, np.float64).ravel()
    keep = np.isfinite(v_all)
    v = v_all[keep]
    labels = np.asarray(positions, dtype=object).ravel()[keep] if positions is not None else None
    counts, edges, lo, hi = _bins(v, bins)
    width = float(edges[1] - edges[0])
    top = float(max(counts.max(initial=1), 1))
    data: list[Spec] = [
        {
            "type": "bar",
            "name": "weights",
            "x": ((edges[:-1] + edges[1:]) / 2).tolist(),
            "y": counts.tolist(),
            "width": width,
            "marker": {"color": BAR_COLOR},
            "hovertemplate": f"%{{x:.4f}} ± {width / 2:.4f}<br>%{{y}} weights<extra></extra>",
        }
    ]
    mask = outliers(v, mean, std, k)
    out = v[mask]
    if out.size:
        text = [plotly_text(s) for s in labels[mask]] if labels is not None else [""] * out.size
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": f"outliers: beyond ±{k:g} σ ({out.size})",
                "x": out.tolist(),
                "y": [top * 1.6] * int(out.size),
                "customdata": text,
                "marker": {"color": OUTLIER_COLOR, "symbol": "x", "size": 10},
                "hovertemplate": "%{x:.5f}<br>%{customdata}<extra>outlier</extra>",
            }
        )
    shapes = []
    for x, dash in ((mean - k * std, "dash"), (mean + k * std, "dash")):
        if std > 0:
            shapes.append(_vline(x, OUTLIER_COLOR, dash))
    if tensor_range is not None:
        for x in tensor_range:
            if np.isfinite(x):
                shapes.append(_vline(float(x), RANGE_COLOR, "solid"))
    data.append(  # legend entries for the lines
        {
            "type": "scatter",
            "mode": "lines",
            "x": [None],
            "y": [None],
            "name": f"mean ± {k:g} σ of the whole tensor",
            "line": {"color": OUTLIER_COLOR, "dash": "dash"},
        }
    )
    if tensor_range is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [None],
                "y": [None],
                "name": "smallest and largest weight of the whole tensor",
                "line": {"color": RANGE_COLOR},
            }
        )
    xs = [lo, hi, *(tensor_range or ()), *((mean - k * std, mean + k * std) if std > 0 else ())]
    xs = [x for x in xs if np.isfinite(x)]
    pad = 0.03 * (max(xs) - min(xs) or 1.0)
    layout = {
        "height": 330,
        "barmode": "overlay",
        "shapes": shapes,
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "xaxis": {
            "title": {"text": "weight w (unitless)"},
            "range": [min(xs) - pad, max(xs) + pad],
        },
        "yaxis": {"title": {"text": "weights per bin (log)"}, "type": "log"},
    }
    return _figure(data, layout)


def _vline(x: float, color: str, dash: str) -> Spec:
    return {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"color": color, "dash": dash, "width": 1.5},
    }


@dataclass(frozen=True)
class ProfilePoint:
    """One tensor in the per-layer profile."""

    name: str
    layer: int  # -1 outside the blocks
    q4_type: str
    q6_type: str
    diff_rms: float
    relative: float  # diff_rms / RMS of the tensor's weights


def layer_profile(
    points: Sequence[ProfilePoint], relative: bool = False, selected: str | None = None
) -> go.Figure:
    """RMS(Q4 − Q6) per tensor against its layer, one colour per type in the Q4 file.

    Tensors of one layer are spread a little sideways so they do not hide each other; the
    `selected` tensor gets a ring. With `relative`, the y axis is RMS(Q4 − Q6) / RMS(w).
    """
    by_layer: dict[int, list[ProfilePoint]] = {}
    for p in points:
        by_layer.setdefault(p.layer, []).append(p)
    xpos: dict[str, float] = {}
    for layer, group in by_layer.items():
        n = len(group)
        for j, p in enumerate(group):
            xpos[p.name] = layer + (j - (n - 1) / 2) * (0.6 / max(n, 1))
    types = list(dict.fromkeys(p.q4_type for p in points))
    data: list[Spec] = []
    for i, qtype in enumerate(types):
        group = [p for p in points if p.q4_type == qtype]
        color, _, symbol = type_style(qtype, i)
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": f"{plotly_text(qtype)} in the Q4 file",
                "x": [xpos[p.name] for p in group],
                "y": [p.relative if relative else p.diff_rms for p in group],
                "customdata": [
                    [plotly_text(p.name), plotly_text(p.q6_type), p.diff_rms, p.relative]
                    for p in group
                ],
                "marker": {"color": color, "symbol": symbol, "size": 8, "line": MARKER_EDGE},
                "hovertemplate": "%{customdata[0]}<br>Q4 file "
                + plotly_text(qtype)
                + ", Q6 file %{customdata[1]}<br>RMS(Q4 − Q6) = %{customdata[2]:.3e}"
                "<br>relative to RMS(w): %{customdata[3]:.2%}<extra></extra>",
            }
        )
    chosen = next((p for p in points if p.name == selected), None)
    if chosen is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "the tensor shown above",
                "x": [xpos[chosen.name]],
                "y": [chosen.relative if relative else chosen.diff_rms],
                "marker": {
                    "color": "rgba(0,0,0,0)",
                    "size": 16,
                    "line": {"color": "#000000", "width": 2},
                },
                "hoverinfo": "skip",
            }
        )
    layers = sorted(by_layer)
    ticks = [x for x in layers if x >= 0]
    step = max(1, len(ticks) // 20)
    tickvals = ([OUTSIDE_BLOCKS] if OUTSIDE_BLOCKS in by_layer else []) + ticks[::step]
    ticktext = ["outside" if v == OUTSIDE_BLOCKS else str(v) for v in tickvals]
    layout = {
        "height": 380,
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "xaxis": {
            "title": {"text": "layer (block); outside = embeddings and output"},
            "tickvals": tickvals,
            "ticktext": ticktext,
            "zeroline": False,
        },
        "yaxis": {
            "title": {"text": "RMS(Q4 − Q6) / RMS(w)" if relative else "RMS(Q4 − Q6)"},
            "rangemode": "tozero",
            **({"tickformat": ".1%"} if relative else {"exponentformat": "e"}),
        },
    }
    return _figure(data, layout)


# Text alternatives (issue 18): one sentence and the plotted numbers, beside each figure above.


def tile_text(
    q4: ArrayLike,
    q6: ArrayLike,
    row0: int,
    col0: int,
    labels: tuple[str, str] = ("Q4_K", "Q6_K"),
) -> ChartText:
    """What `tile_figure` shows: the tile's weights in both files and their difference."""
    a = np.asarray(q4, np.float64)
    b = np.asarray(q6, np.float64)
    d = a - b
    rows, cols = b.shape
    rms = float(np.sqrt(np.mean(d * d))) if d.size else None
    largest = float(np.abs(d).max(initial=0.0))
    summary = (
        f"Rows {row0} to {row0 + rows - 1}, columns {col0} to {col0 + cols - 1} of the tensor in "
        f"the Q4 file ({labels[0]}) and the Q6 file ({labels[1]}), weights from "
        f"{num(float(np.nanmin(b)) if b.size else None)} to "
        f"{num(float(np.nanmax(b)) if b.size else None)}; their difference has RMS {num(rms)} "
        f"and largest magnitude {num(largest)}."
    )
    r, c = np.indices(b.shape)
    table = zip((r + row0).ravel().tolist(), (c + col0).ravel().tolist(), a.ravel().tolist(),
                b.ravel().tolist(), d.ravel().tolist(), strict=True)  # fmt: skip
    return ChartText.of(
        summary, ("row", "column", "Q4 file", "Q6 file", "Q4 − Q6"), table, "the tile's weights"
    )


def histogram_text(
    values: ArrayLike, mean: float, std: float, k: float, bins: int = 60
) -> ChartText:
    """What `weight_histogram` shows: the bins (same edges), and how many weights are outliers."""
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    counts, edges, lo, hi = _bins(v, bins)
    n_out = int(outliers(v, mean, std, k).sum())
    summary = (
        f"A histogram of {v.size} weights from {num(lo)} to {num(hi)} (log counts); {n_out} lie "
        f"beyond mean ± {k:g} σ ({num(mean)} ± {num(k * std)}), each marked with a cross."
    )
    rows = zip(edges[:-1].tolist(), edges[1:].tolist(), counts.tolist(), strict=True)
    return ChartText.of(summary, ("from", "to", "weights"), rows, "weights per bin")


def layer_profile_text(points: Sequence[ProfilePoint], relative: bool = False) -> ChartText:
    """What `layer_profile` shows: each tensor's RMS(Q4 − Q6) at its layer."""
    value = "RMS(Q4 − Q6) / RMS(w)" if relative else "RMS(Q4 − Q6)"
    top = max(points, key=lambda p: p.relative if relative else p.diff_rms, default=None)
    zero = sum(1 for p in points if p.diff_rms == 0)
    layers = {p.layer for p in points if p.layer != OUTSIDE_BLOCKS}
    if top is None:
        summary = "No quantized tensor to show."
    else:
        largest = top.relative if relative else top.diff_rms
        summary = (
            f"{value} of {len(points)} tensors across {len(layers)} layers: largest "
            f"{num(largest)} ({top.name}, layer "
            f"{'outside the blocks' if top.layer == OUTSIDE_BLOCKS else top.layer}); "
            f"{zero} tensors have no difference at all."
        )
    rows = [
        (p.name, "outside" if p.layer == OUTSIDE_BLOCKS else str(p.layer), p.q4_type, p.q6_type,
         p.diff_rms, p.relative)
        for p in points
    ]  # fmt: skip
    columns = ("tensor", "layer", "Q4 type", "Q6 type", "RMS(Q4 − Q6)", "relative to RMS(w)")
    return ChartText.of(summary, columns, rows, "difference per tensor")
