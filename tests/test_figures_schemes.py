"""Figure builders for the scheme, float-format and clipping views: traces, data, uirevision."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from quantviz.figures.schemes import (
    FIELD_COLORS,
    bit_strip_figure,
    comparison_figure,
)
from quantviz.quant.absmax import toy_layer
from quantviz.quant.floats import encode_all
from quantviz.quant.schemes import compare_schemes


@pytest.fixture
def layer() -> np.ndarray:
    return toy_layer(11, "outlier")


def test_comparison_figure_has_rmse_and_max_error_bars(layer: np.ndarray) -> None:
    """Two bar traces (RMSE, max error), six scheme × granularity bars each, values from rows."""
    rows = compare_schemes(layer, 4, 4)
    fig = comparison_figure(rows)
    assert isinstance(fig, go.Figure)
    assert [(t.type, t.name) for t in fig.data] == [("bar", "RMSE"), ("bar", "max error")]
    assert list(fig.data[0].y) == [r.rmse for r in rows]
    assert list(fig.data[1].y) == [r.max_error for r in rows]
    assert list(fig.data[0].x[0]) == [r.scheme for r in rows]
    assert list(fig.data[0].x[1]) == [r.granularity_label for r in rows]
    assert fig.layout.barmode == "group"
    assert fig.layout.uirevision == "scheme-comparison"


def test_bit_strip_rows_and_cells() -> None:
    """One heatmap row per format, a cell per bit coloured by field, and three legend traces."""
    encodings = encode_all(0.156347)
    fig = bit_strip_figure(encodings)
    heat = fig.data[0]
    assert heat.type == "heatmap"
    assert [t.name for t in fig.data[1:]] == ["sign", "exponent", "mantissa"]
    assert [t.marker.color for t in fig.data[1:]] == list(FIELD_COLORS.values())
    assert len(heat.z) == 3 and all(len(row) == 32 for row in heat.z)
    assert list(heat.y) == ["FP32 = 0.1563470066", "FP16 = 0.1563720703", "BF16 = 0.15625"]
    fp16_row = heat.z[1]
    assert list(fp16_row[:16]) == [0] + [1] * 5 + [2] * 10
    assert list(fp16_row[16:]) == [None] * 16
    assert "".join(heat.text[1][:16]) == encodings[1].bits
    assert fig.layout.uirevision == "bit-strip"


def test_figures_are_valid_plotly_and_small(layer: np.ndarray) -> None:
    """Every figure passes plotly's full validation, serializes, and keeps a small height."""
    figs = [
        comparison_figure(compare_schemes(layer, 4, 4)),
        bit_strip_figure(encode_all(-1.5)),
    ]
    for fig in figs:
        go.Figure(fig.to_plotly_json())  # raises ValueError on any invalid property
        assert fig.to_json()
        assert fig.layout.height <= 400
        assert fig.layout.uirevision
