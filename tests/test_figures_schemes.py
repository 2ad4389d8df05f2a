"""Figure builders for the scheme, float-format and clipping views: traces, data, uirevision."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from quantviz.figures_schemes import (
    FIELD_COLORS,
    bit_strip_figure,
    clipped_heatmap,
    comparison_figure,
    error_histogram,
    weights_histogram,
)
from quantviz.floats import encode_all
from quantviz.quant import toy_layer
from quantviz.schemes import ClipSpec, all_levels, compare_schemes, quantize_grouped


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


def test_error_histogram_of_w_minus_w_hat(layer: np.ndarray) -> None:
    """One histogram of w - w_hat; with a bound, a hidden-axis line trace at ±bound."""
    res = quantize_grouped(layer, 3, "symmetric", "tensor")
    plain = error_histogram(layer, res.w_hat)
    assert [t.type for t in plain.data] == ["histogram"]
    np.testing.assert_allclose(plain.data[0].x, (layer - res.w_hat).ravel())
    bounded = error_histogram(layer, res.w_hat, bound=res.scale[0] / 2, uirevision="k")
    assert [t.type for t in bounded.data] == ["histogram", "scatter"]
    xs = [x for x in bounded.data[1].x if x is not None]
    assert xs == pytest.approx([-res.scale[0] / 2] * 2 + [res.scale[0] / 2] * 2)
    assert bounded.layout.uirevision == "k"


def test_weights_histogram_draws_every_level(layer: np.ndarray) -> None:
    """Histogram of the weights plus one scatter path with a vertical segment per level."""
    res = quantize_grouped(layer, 3, "asymmetric", "group", 8)
    levels = all_levels(res, 3, "asymmetric")
    fig = weights_histogram(layer, levels)
    assert [(t.type, t.name) for t in fig.data] == [("histogram", "weights"), ("scatter", "levels")]
    np.testing.assert_allclose(fig.data[0].x, layer.ravel())
    drawn = sorted({x for x in fig.data[1].x if x is not None})
    assert drawn == pytest.approx(sorted(levels))
    assert fig.data[1].yaxis == "y2"
    assert fig.layout.uirevision == "weights-histogram"


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


def test_clipped_heatmap_marks_clipped_cells(layer: np.ndarray) -> None:
    """A heatmap of the weights plus a marker at each clipped (row, col), none when unclipped."""
    res = quantize_grouped(layer, 4, "symmetric", "tensor", clip=ClipSpec.percentile(90))
    fig = clipped_heatmap(layer, res.clipped, zmax=6.0)
    heat, marks = fig.data
    assert (heat.type, marks.type) == ("heatmap", "scatter")
    np.testing.assert_array_equal(np.asarray(heat.z), layer)
    assert (heat.zmin, heat.zmax) == (-6.0, 6.0)
    rows, cols = np.nonzero(res.clipped)
    assert list(marks.y) == rows.tolist() and list(marks.x) == cols.tolist()
    assert len(marks.x) == int(res.clipped.sum()) > 0
    none = clipped_heatmap(layer, np.zeros_like(res.clipped))
    assert len(none.data[1].x) == 0
    assert none.layout.uirevision == "clipped-heatmap"


def test_clipped_heatmap_rejects_mismatched_mask(layer: np.ndarray) -> None:
    """A mask whose shape differs from the layer raises ValueError."""
    with pytest.raises(ValueError):
        clipped_heatmap(layer, np.zeros((2, 2), dtype=bool))


def test_figures_are_valid_plotly_and_small(layer: np.ndarray) -> None:
    """Every figure passes plotly's full validation, serializes, and keeps a small height."""
    res = quantize_grouped(layer, 4, "symmetric", "row")
    figs = [
        comparison_figure(compare_schemes(layer, 4, 4)),
        error_histogram(layer, res.w_hat, bound=0.1),
        weights_histogram(layer, all_levels(res, 4, "symmetric")),
        bit_strip_figure(encode_all(-1.5)),
        clipped_heatmap(layer, res.clipped),
    ]
    for fig in figs:
        go.Figure(fig.to_plotly_json())  # raises ValueError on any invalid property
        assert fig.to_json()
        assert fig.layout.height <= 400
        assert fig.layout.uirevision
