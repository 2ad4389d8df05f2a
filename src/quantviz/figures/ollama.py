"""Plotly figures for the Ollama widgets: the tags' sizes and the tensor type mix.

The storage arithmetic behind them is `quantviz.decision.storage`.

Figures come from the shared factory (`figures._base.figure`); the tests rebuild every figure
with validation on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from quantviz.decision.storage import StorageRow
from quantviz.figures._base import EDGE, LEGEND_TOP_RIGHT, OKABE_ITO, Spec, category_style, figure
from quantviz.figures.alt import ChartText, listing
from quantviz.ollama.metadata import TypeShare
from quantviz.units import format_bytes

# GGML types in the order they take the categorical styles (colour, pattern, symbol), so a type
# looks the same in every chart and for every tag; a type not listed takes the next free style.
KNOWN_TYPES = ("Q4_K", "Q6_K", "Q8_0", "Q5_K", "Q5_0", "Q4_0", "F16", "F32", "BF16")
BAR_EDGE = {"width": 1, "color": EDGE}  # light segments still stand out (SC 1.4.11)
SIZE_COLOR = OKABE_ITO["blue"]
NOMINAL_COLOR = OKABE_ITO["vermilion"]


def _bpw_text(bpw: float | None) -> str:
    return f"{bpw:.3f}" if bpw is not None else "—"


def storage_figure(
    rows: Sequence[StorageRow],
    title: str | None = "Size on the endpoint",
    uirevision: str = "storage",
) -> go.Figure:
    """Bars of each tag's size (GB); markers where the nominal bits per weight would put it."""
    labels = [r.label for r in rows]
    data: list[Spec] = [
        {
            "type": "bar",
            "name": "size on the endpoint",
            "x": labels,
            "y": [r.size / 1e9 for r in rows],
            "text": [format_bytes(r.size) for r in rows],
            "textposition": "inside",
            "insidetextanchor": "middle",  # clear of the nominal marker near the top
            "marker": {"color": SIZE_COLOR},
            "customdata": [[r.tag, f"{r.size:,}", _bpw_text(r.bits_per_weight)] for r in rows],
            "hovertemplate": "%{x} (%{customdata[0]})<br>%{customdata[1]} bytes<br>"
            "≈ %{customdata[2]} bits/weight<extra></extra>",
        }
    ]
    nominal = [(r.label, r.nominal_size, r.nominal_bits_per_weight) for r in rows]
    if any(size is not None for _, size, _ in nominal):
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "at the nominal bits/weight",
                "x": [label for label, size, _ in nominal if size is not None],
                "y": [size / 1e9 for _, size, _ in nominal if size is not None],
                "customdata": [bpw for _, size, bpw in nominal if size is not None],
                "marker": {"color": NOMINAL_COLOR, "symbol": "line-ew-open", "size": 40,
                           "line": {"width": 3, "color": NOMINAL_COLOR}},
                "hovertemplate": "%{x}: %{y:.3f} GB at %{customdata} bits/weight<extra></extra>",
            }
        )  # fmt: skip
    layout = {
        "legend": LEGEND_TOP_RIGHT,
        "yaxis": {"title": {"text": "GB"}, "rangemode": "tozero"},
        "xaxis": {"type": "category"},
    }
    return figure(data, layout, title=title, height=300, uirevision=uirevision)


def type_style(qtype: str, index: int = 0) -> tuple[str, str, str]:
    """Colour, bar pattern and marker symbol of a GGML type; `index`: its place among the
    types of the chart, which picks the style of a type outside KNOWN_TYPES."""
    upper = qtype.upper()
    position = KNOWN_TYPES.index(upper) if upper in KNOWN_TYPES else len(KNOWN_TYPES) + index
    return category_style(position)


def type_color(qtype: str, index: int = 0) -> str:
    return type_style(qtype, index)[0]


def type_order(mixes: Mapping[str, Mapping[str, TypeShare]]) -> list[str]:
    """Every GGML type present in any tag, largest total bytes first."""
    totals: dict[str, tuple[int, int]] = {}
    for mix in mixes.values():
        for qtype, share in mix.items():
            n_bytes, count = totals.get(qtype, (0, 0))
            totals[qtype] = (n_bytes + (share.n_bytes or 0), count + share.count)
    return sorted(totals, key=lambda t: totals[t], reverse=True)


def type_mix_figure(
    mixes: Mapping[str, Mapping[str, TypeShare]],
    title: str | None = "Tensor types: bytes (left) and tensor count (right)",
    uirevision: str = "type-mix",
) -> go.Figure:
    """Stacked bars per tag, one colour per GGML type: GB on the left, tensor count on the right.

    `mixes` maps a tag's label to `tensor_type_mix(tensors)`. A type a tag does not have is a
    zero-height segment, so every trace has one value per tag.
    """
    labels = list(mixes)
    data: list[Spec] = []
    for i, qtype in enumerate(type_order(mixes)):
        shares = [mixes[label].get(qtype) for label in labels]
        counts = [s.count if s else 0 for s in shares]
        n_bytes = [(s.n_bytes or 0) if s else 0 for s in shares]
        color, pattern, _ = type_style(qtype, i)
        custom = [[c, b] for c, b in zip(counts, n_bytes, strict=True)]
        common = {"type": "bar", "name": qtype, "x": labels, "legendgroup": qtype,
                  "marker": {"color": color, "line": BAR_EDGE, "pattern": {"shape": pattern}},
                  "customdata": custom}  # fmt: skip
        data.append(
            {
                **common,
                "y": [b / 1e9 for b in n_bytes],
                "hovertemplate": f"%{{x}} · {qtype}<br>%{{customdata[1]:,}} bytes in "
                "%{customdata[0]} tensors<extra></extra>",
            }
        )
        data.append(
            {
                **common,
                "y": counts,
                "xaxis": "x2",
                "yaxis": "y2",
                "showlegend": False,
                "hovertemplate": f"%{{x}} · {qtype}<br>%{{customdata[0]}} tensors<extra></extra>",
            }
        )
    layout = {
        "barmode": "stack",
        "legend": LEGEND_TOP_RIGHT,
        "xaxis": {"domain": [0.0, 0.45], "type": "category"},
        "yaxis": {"title": {"text": "GB"}, "rangemode": "tozero"},
        "xaxis2": {"domain": [0.55, 1.0], "type": "category", "anchor": "y2"},
        "yaxis2": {"title": {"text": "tensors"}, "anchor": "x2", "rangemode": "tozero"},
    }
    return figure(data, layout, title=title, height=340, uirevision=uirevision)


# Text alternatives (issue 18): one sentence and the plotted numbers, beside each figure above.


def storage_text(rows: Sequence[StorageRow]) -> ChartText:
    """What `storage_figure` shows: each tag's size, and its size at the nominal bits/weight."""
    parts = [
        f"{r.label} {format_bytes(r.size)}"
        + (f" ({r.bits_per_weight:.2f} bits per weight)" if r.bits_per_weight else "")
        for r in rows
    ]
    table = [
        (r.label, r.tag, r.size / 1e9, r.bits_per_weight,
         None if r.nominal_size is None else r.nominal_size / 1e9)
        for r in rows
    ]  # fmt: skip
    columns = ("model", "tag", "size (GB)", "bits per weight", "size at nominal bits (GB)")
    return ChartText.of(
        f"Size on the endpoint: {listing(parts)}.", columns, table, "size on the endpoint"
    )


def type_mix_text(mixes: Mapping[str, Mapping[str, TypeShare]]) -> ChartText:
    """What `type_mix_figure` shows: per tag, the bytes and tensors of each GGML type."""
    parts = []
    table = []
    for label, mix in mixes.items():
        total = sum(s.n_bytes or 0 for s in mix.values())
        ranked = sorted(mix.items(), key=lambda kv: kv[1].n_bytes or 0, reverse=True)
        top = [f"{q} {100 * (s.n_bytes or 0) / total:.0f} %" for q, s in ranked[:2] if total]
        parts.append(f"{label}: {', '.join(top) or 'no sizes'} of the bytes")
        table += [(label, q, s.count, (s.n_bytes or 0) / 1e9) for q, s in ranked]
    return ChartText.of(
        f"Tensor types per tag, by bytes and by tensor count: {'; '.join(parts)}.",
        ("tag", "type", "tensors", "GB"),
        table,
        "tensor types",
    )
