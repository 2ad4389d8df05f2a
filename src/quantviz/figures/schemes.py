"""Plotly figures for the scheme, float-format and packing explorers: arrays in, `go.Figure` out.

Every figure is small (a few traces, fixed height, tight margins) and sets `uirevision`, so a
rerun that only changes the data keeps the student's zoom. They come from the shared factory
(`figures._base.figure`): dict specs without plotly's validation, which the tests run instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from quantviz.figures._base import EDGE, LEGEND_TOP_RIGHT, OKABE_ITO, Spec, figure
from quantviz.figures.alt import ChartText
from quantviz.quant.floats import FIELDS, FloatEncoding
from quantviz.quant.schemes import GRANULARITIES, SCHEMES, SchemeComparison

# Okabe-Ito, far apart for every reader (was Tableau red against green for sign and mantissa);
# each cell also prints its bit, and the legend's swatches are outlined (yellow is light).
FIELD_COLORS = {
    "sign": OKABE_ITO["vermilion"],
    "exponent": OKABE_ITO["sky"],
    "mantissa": OKABE_ITO["yellow"],
}
RMSE_COLOR = OKABE_ITO["blue"]
MAX_ERROR_COLOR = OKABE_ITO["orange"]
OUTLINE = {"width": 1, "color": EDGE}
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
            "marker": {"color": color, "line": OUTLINE},
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


# The Pareto view: colour tells the scheme, the marker the granularity (never colour alone).
PARETO_COLORS = {"symmetric": OKABE_ITO["blue"], "asymmetric": OKABE_ITO["vermilion"]}
PARETO_SYMBOLS = {"tensor": "circle", "row": "square", "group": "diamond"}
FRONT_COLOR = "#111111"


def pareto_figure(
    rows: Sequence[SchemeComparison],
    front: Sequence[SchemeComparison],
    uirevision: str = "scheme-pareto",
) -> go.Figure:
    """RMSE against bits per weight: one line per scheme × granularity through its bit widths
    (traces named by `SchemeComparison.label`, each point labelled with its bits), and the
    rows no other row beats on both (`front`, trace "Pareto front"), so what a finer scale
    costs in bits is on the x axis, not in a hover."""
    data: list[Spec] = []
    for scheme in SCHEMES:
        for granularity in GRANULARITIES:
            mine = sorted(
                (r for r in rows if r.scheme == scheme and r.granularity == granularity),
                key=lambda r: r.bits,
            )
            if not mine:
                continue
            data.append(
                {
                    "type": "scatter",
                    "name": mine[0].label,
                    "x": [r.bits_per_weight for r in mine],
                    "y": [r.rmse for r in mine],
                    "text": [str(r.bits) for r in mine],
                    "customdata": [[r.bits, r.n_groups, r.max_error] for r in mine],
                    "mode": "lines+markers",
                    "line": {"color": PARETO_COLORS[scheme], "width": 1},
                    "marker": {
                        "color": PARETO_COLORS[scheme],
                        "symbol": PARETO_SYMBOLS[granularity],
                        "size": 8,
                    },
                    "hovertemplate": f"{mine[0].label}<br>%{{customdata[0]}} bits, "
                    "%{customdata[1]} scale(s)<br>%{x:.3g} bits/weight<br>RMSE %{y:.4g}, "
                    "max error %{customdata[2]:.4g}<extra></extra>",
                }
            )
    data.append(
        {
            "type": "scatter",
            "name": "Pareto front",
            "x": [r.bits_per_weight for r in front],
            "y": [r.rmse for r in front],
            "mode": "lines",
            "line": {"color": FRONT_COLOR, "dash": "dot", "width": 2},
            "hoverinfo": "skip",
        }
    )
    layout = {
        "legend": {"orientation": "h", "y": -0.25, "x": 0, "font": {"size": 11}},
        "xaxis": {"title": {"text": "bits per weight (codes + scales + zero-points)"}},
        "yaxis": {"title": {"text": "RMSE (log scale)"}, "type": "log"},
    }
    return figure(data, layout, height=380, uirevision=uirevision, margin={"t": 10, "b": 10})


def pareto_summary(front: Sequence[SchemeComparison]) -> str:
    """One sentence naming the cheapest and the most accurate setting on the front."""
    if not front:
        return "No setting to compare."
    cheap, best = front[0], front[-1]
    return (
        f"{len(front)} settings are on the Pareto front, from {cheap.label} at {cheap.bits} "
        f"bits ({cheap.bits_per_weight:.2f} bits per weight, RMSE {cheap.rmse:.5f}) to "
        f"{best.label} at {best.bits} bits ({best.bits_per_weight:.2f} bits per weight, RMSE "
        f"{best.rmse:.5f})."
    )


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
            "marker": {
                "symbol": "square",
                "size": 12,
                "color": FIELD_COLORS[field],
                "line": OUTLINE,
            },
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


# Text alternatives (issue 18): one sentence and the plotted numbers, beside each figure above.


def pareto_text(rows: Sequence[SchemeComparison], front: Sequence[SchemeComparison]) -> ChartText:
    """What `pareto_figure` shows: RMSE against bits per weight for every setting."""
    on_front = {id(r) for r in front}
    table = [
        (r.label, r.bits, f"{r.bits_per_weight:.3f}", f"{r.rmse:.5f}", f"{r.max_error:.5f}",
         "yes" if id(r) in on_front else "")
        for r in sorted(rows, key=lambda r: (r.label, r.bits))
    ]  # fmt: skip
    return ChartText.of(
        f"RMSE against bits per weight for {len(rows)} settings. {pareto_summary(front)}",
        ("setting", "bits", "bits per weight", "RMSE", "max error", "on the front"),
        table,
        "every scheme, granularity and width",
    )


def bit_strip_text(encodings: Sequence[FloatEncoding]) -> ChartText:
    """What `bit_strip_figure` shows: each format's bits, field by field, and its value."""
    rows = []
    for e in encodings:
        fields = {f: "".join(str(c.bit) for c in e.strip if c.field == f) for f in FIELDS}
        rows.append((e.fmt.name, fields["sign"], fields["exponent"], fields["mantissa"],
                     f"{e.decoded:.10g}"))  # fmt: skip
    names = ", ".join(f"{e.fmt.name} {e.decoded:.10g}" for e in encodings)
    return ChartText.of(
        f"The weight's bits in each float format, sign, exponent and mantissa: {names}.",
        ("format", "sign", "exponent", "mantissa", "value"),
        rows,
        "the bits of each format",
    )
