"""Plotly figures for the scheme, float-format and packing explorers: arrays in, `go.Figure` out.

Every figure is small (a few traces, fixed height, tight margins) and sets `uirevision`, so a
rerun that only changes the data keeps the student's zoom. They come from the shared factory
(`figures._base.figure`): dict specs without plotly's validation, which the tests run instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from quantviz.figures._base import BLUE, GREEN, LEGEND_TOP_RIGHT, ORANGE, RED, Spec, figure
from quantviz.quant.floats import FIELDS, FloatEncoding
from quantviz.quant.schemes import SchemeComparison

FIELD_COLORS = {"sign": RED, "exponent": BLUE, "mantissa": GREEN}
RMSE_COLOR = BLUE
MAX_ERROR_COLOR = ORANGE
MARGIN = {"t": 36}


def comparison_figure(
    rows: Sequence[SchemeComparison],
    title: str | None = "Error by scheme and granularity",
    uirevision: str = "scheme-comparison",
) -> go.Figure:
    """Grouped bars of RMSE and max error per scheme × granularity (two traces)."""
    x = [[r.scheme for r in rows], [r.granularity_label for r in rows]]
    custom = [[r.bits_per_weight, r.n_groups, r.clipped] for r in rows]
    hover = (
        "%{x}<br>%{fullData.name}: %{y:.4g}<br>%{customdata[0]:.3g} bits/weight, "
        "%{customdata[1]} scale(s), %{customdata[2]} clipped<extra></extra>"
    )
    bars = [
        ("RMSE", [r.rmse for r in rows], RMSE_COLOR),
        ("max error", [r.max_error for r in rows], MAX_ERROR_COLOR),
    ]
    data = [
        {
            "type": "bar",
            "name": name,
            "x": x,
            "y": y,
            "marker": {"color": color},
            "customdata": custom,
            "hovertemplate": hover,
        }
        for name, y, color in bars
    ]
    layout = {
        "barmode": "group",
        "legend": {**LEGEND_TOP_RIGHT, "y": 1},
        "yaxis": {"title": {"text": "error"}, "rangemode": "tozero"},
    }
    return figure(data, layout, title=title, height=280, uirevision=uirevision, margin=MARGIN)


def bit_strip_figure(
    encodings: Sequence[FloatEncoding],
    title: str | None = None,
    uirevision: str = "bit-strip",
) -> go.Figure:
    """One row of coloured bit cells per format (sign / exponent / mantissa), MSB on the left.

    Rows start at the sign bit, so BF16 lines up with the top half of FP32. One heatmap trace
    plus three empty scatter traces that only carry the legend.
    """
    width = max(e.total_bits for e in encodings)
    codes = {name: i for i, name in enumerate(FIELDS)}
    z: list[list[int | None]] = []
    text: list[list[str]] = []
    hover: list[list[str]] = []
    labels: list[str] = []
    for e in encodings:
        pad = width - e.total_bits
        cells = e.strip
        z.append([codes[c.field] for c in cells] + [None] * pad)
        text.append([str(c.bit) for c in cells] + [""] * pad)
        hover.append(
            [f"{e.fmt.name} bit {e.total_bits - 1 - i}: {c.field}" for i, c in enumerate(cells)]
            + [""] * pad
        )
        labels.append(f"{e.fmt.name} = {e.decoded:.10g}")
    colors = [FIELD_COLORS[f] for f in FIELDS]
    colorscale = [
        [0.0, colors[0]],
        [1 / 3, colors[0]],
        [1 / 3, colors[1]],
        [2 / 3, colors[1]],
        [2 / 3, colors[2]],
        [1.0, colors[2]],
    ]
    data: list[Spec] = [
        {
            "type": "heatmap",
            "z": z,
            "x": list(range(width)),
            "y": labels,
            "text": text,
            "texttemplate": "%{text}",
            "hovertext": hover,
            "hoverinfo": "text",
            "colorscale": colorscale,
            "zmin": 0,
            "zmax": 2,
            "showscale": False,
            "xgap": 2,
            "ygap": 2,
        }
    ]
    data += [
        {
            "type": "scatter",
            "x": [None],
            "y": [None],
            "mode": "markers",
            "name": field,
            "marker": {"symbol": "square", "size": 12, "color": FIELD_COLORS[field]},
        }
        for field in FIELDS
    ]
    layout = {
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "xaxis": {"showticklabels": False, "showgrid": False, "zeroline": False},
        "yaxis": {"autorange": "reversed", "showgrid": False},
    }
    return figure(
        data,
        layout,
        title=title,
        height=60 + 34 * len(encodings),
        uirevision=uirevision,
        margin=MARGIN,
    )
