"""Figure builders of the seed's quantizer: valid plotly, the data they were given, fast layout."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pytest

from quantviz.figures.explorers import (
    ERROR_BINS,
    HEATMAP_TITLES,
    OVERVIEW_TITLES,
    number_line_spec,
    overview_spec,
)
from quantviz.quant.absmax import levels, quantize_symmetric, toy_layer
from quantviz.quant.schemes import ClipSpec, bucket_counts, quantize_grouped


@pytest.fixture
def layer() -> np.ndarray:
    return toy_layer(7)


def _validated_equal(fig: go.Figure) -> None:
    """Rebuilding with plotly's full validation raises on a bad property and changes nothing.

    The template is left out: validation spells the empty template as an empty scatter default.
    """
    fast = json.loads(fig.to_json())
    validated = json.loads(go.Figure(fig.to_plotly_json()).to_json())
    assert fast["layout"].pop("template") == {}
    validated["layout"].pop("template")
    assert validated == fast


def layer_overview(*args: Any, **kwargs: Any) -> go.Figure:
    """One width of the grid explorer's figure, as `grid_explorer_figure` builds each step."""
    return go.Figure(overview_spec(*args, **kwargs), _validate=False)


def number_line(*args: Any) -> go.Figure:
    """One width of the single-weight explorer's figure, as `weight_explorer_figure` builds it."""
    return go.Figure(number_line_spec(*args), _validate=False)


def test_number_line_marks_every_level_w_and_w_hat() -> None:
    """One trace of all levels on y=0, then w, then ŵ; the legend names the bits."""
    _, scale, w_hat = quantize_symmetric(0.156347, 4, 0.910203)
    lv = levels(4, scale)
    fig = number_line(lv, 0.156347, float(w_hat), 4)
    grid, w_trace, w_hat_trace = fig.data
    np.testing.assert_allclose(grid.x, lv)
    assert not np.any(grid.y)
    assert grid.name == "15 levels at 4 bits"
    assert list(w_trace.x) == [0.156347]
    assert list(w_hat_trace.x) == pytest.approx([0.130029], abs=1e-6)
    assert fig.layout.uirevision == "number-line"
    _validated_equal(fig)


def _overview(w: np.ndarray, w_hat: np.ndarray, clipped=None, **kw) -> go.Figure:
    """The grid explorer's figure of a layer quantized at 4 bits (codes of its own)."""
    q, _, _ = quantize_symmetric(w, 4)
    buckets, counts = bucket_counts(q, 4)
    return layer_overview(w, w_hat, buckets, counts, [0.0], clipped=clipped, **kw)


def test_layer_heatmaps_show_w_w_hat_and_error_side_by_side(layer: np.ndarray) -> None:
    """Three heatmaps on one axis pair at x0 = 0, 5, 10: w and ŵ share a colour axis."""
    _, _, w_hat = quantize_symmetric(layer, 3)
    fig = _overview(layer, w_hat)
    assert [t.type for t in fig.data[:3]] == ["heatmap"] * 3
    for trace, z in zip(fig.data[:3], (layer, w_hat, layer - w_hat), strict=True):
        np.testing.assert_allclose(trace.z, z)
    assert [t.x0 for t in fig.data[:3]] == [0, 5, 10]
    assert [t.coloraxis for t in fig.data[:3]] == ["coloraxis", "coloraxis", "coloraxis2"]
    vmax = np.abs(layer).max()
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == pytest.approx((-vmax, vmax))
    assert list(fig.layout.xaxis.range) == [-0.5, 13.5]
    assert list(fig.layout.yaxis.range) == [3.5, -0.5]  # row 0 on top
    titles = fig.layout.annotations[:3]
    assert [a.text for a in titles] == list(HEATMAP_TITLES)
    assert [a.x for a in titles] == [1.5, 6.5, 11.5] and {a.xref for a in titles} == {"x"}
    assert all(t.name != "clipped" for t in fig.data)
    _validated_equal(fig)


def _outlines(trace) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The None-separated pieces of a path trace's x and y."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    px: list[float] = []
    py: list[float] = []
    for x, y in zip(trace.x, trace.y, strict=True):
        if x is None:
            xs.append(np.array(px))
            ys.append(np.array(py))
            px, py = [], []
        else:
            px.append(x)
            py.append(y)
    return xs, ys


def test_layer_heatmaps_mark_clipped_weights(layer: np.ndarray) -> None:
    """With a mask, a fourth trace "clipped" outlines each clipped (col, row) on the original.

    The outline is a closed square around the cell's centre, inside the cell and off its
    centre, where the cell's number is written.
    """
    res = quantize_grouped(layer, 4, clip=ClipSpec.percentile(75))
    fig = _overview(layer, res.w_hat, res.clipped)
    marks = fig.data[3]
    assert (marks.type, marks.name) == ("scatter", "clipped")
    rows, cols = np.nonzero(res.clipped)
    assert [list(c) for c in marks.customdata] == [[r, c] for r, c in zip(rows, cols, strict=True)]
    xs, ys = _outlines(marks)
    assert [(x.min() + x.max()) / 2 for x in xs] == pytest.approx(cols.tolist())
    assert [(y.min() + y.max()) / 2 for y in ys] == pytest.approx(rows.tolist())
    for x, y, c, r in zip(xs, ys, cols, rows, strict=True):
        assert x[0] == x[-1] and y[0] == y[-1]  # closed
        assert np.abs(x - c).min() > 0.3 and np.abs(x - c).max() < 0.5  # off the centre
        assert np.abs(y - r).min() > 0.3 and np.abs(y - r).max() < 0.5
    assert len(xs) == 4  # the top quarter of 16 values
    _validated_equal(fig)
    none = _overview(layer, layer, np.zeros(layer.shape, dtype=bool))
    assert none.data[3].name == "clipped" and len(none.data[3].x) == 0
    with pytest.raises(ValueError):
        _overview(layer, layer, np.zeros((2, 2), dtype=bool))


def test_layer_heatmaps_of_an_all_zero_layer_have_finite_colour_ranges() -> None:
    """A zero layer (zero error) still gets non-degenerate, finite colour axes."""
    zeros = np.zeros((4, 4))
    fig = _overview(zeros, zeros)
    assert fig.layout.coloraxis.cmax > 0 and fig.layout.coloraxis2.cmax > 0
    assert np.isfinite(fig.layout.coloraxis2.cmax)


def test_codes_panel_counts_and_values(layer: np.ndarray) -> None:
    """Bars of counts per q, a dot per representable q; hover values are (q - zero_point)·scale."""
    q, scale, w_hat = quantize_symmetric(layer, 4)
    buckets, counts = bucket_counts(q, 4)
    fig = layer_overview(layer, w_hat, buckets, counts, [0.0], scale=float(scale))
    bar = _by_name(fig, "weights per code")
    assert _placed(bar) == list(range(-7, 8))  # consecutive codes: x0 = -7, dx = 1
    assert list(bar.y) == counts.tolist() and sum(bar.y) == 16
    np.testing.assert_allclose(bar.customdata, buckets * scale)
    dots = _by_name(fig, "representable codes")
    assert (list(dots.x), set(dots.y), dots.xaxis) == (list(range(-7, 8)), {0}, "x3")
    assert fig.layout.yaxis3.dtick == 1
    assert fig.layout.uirevision == "layer-overview"
    _validated_equal(fig)


def test_codes_panel_with_a_zero_point_or_several_scales(layer: np.ndarray) -> None:
    """A zero-point shifts the hover values; scale=None (several scales) drops them."""
    buckets, counts = np.arange(16), np.r_[np.zeros(6, int), np.full(10, 20)]
    shifted = layer_overview(layer, layer, buckets, counts, [0.0], scale=0.5, zero_point=6)
    np.testing.assert_allclose(
        _by_name(shifted, "weights per code").customdata, (buckets - 6) * 0.5
    )
    assert shifted.layout.yaxis3.dtick is None  # up to 20 per bar: automatic ticks
    grouped = layer_overview(layer, layer, buckets, counts, [0.0])
    codes = _by_name(grouped, "weights per code")
    assert codes.customdata is None and "customdata" not in codes.hovertemplate
    _validated_equal(shifted)
    _validated_equal(grouped)


def _by_name(fig: go.Figure, name: str):
    return next(t for t in fig.data if t.name == name)


def _placed(bar) -> list[float]:
    """A bar trace's x positions, listed or placed by `x0` + i · `dx`."""
    if bar.x is not None:
        return list(bar.x)
    return [bar.x0 + i * bar.dx for i in range(len(bar.y))]


def _drawn(trace) -> list[float]:
    """The distinct x positions of a None-separated line path."""
    return sorted({x for x in trace.x if x is not None})


def test_layer_overview_draws_six_panels_in_one_figure(layer: np.ndarray) -> None:
    """Heatmaps, error histogram, codes used and weights with levels, each on its own axes."""
    q, scale, w_hat = quantize_symmetric(layer, 4)
    buckets, counts = bucket_counts(q, 4)
    lv = levels(4, scale)
    fig = layer_overview(layer, w_hat, buckets, counts, lv, scale=float(scale), bound=scale / 2)
    assert [t.type for t in fig.data[:3]] == ["heatmap"] * 3
    np.testing.assert_allclose(fig.data[1].z, w_hat)
    errors = _by_name(fig, "w − ŵ")
    assert (errors.type, errors.xaxis, errors.yaxis) == ("bar", "x2", "y2")
    err = (layer - w_hat).ravel()
    assert len(errors.y) == ERROR_BINS and sum(errors.y) == layer.size
    half = errors.width / 2
    for centre, n in zip(errors.x[:-1], errors.y[:-1], strict=True):  # the last bin is closed
        assert n == np.count_nonzero((err >= centre - half) & (err < centre + half))
    bound = _by_name(fig, "±scale/2")
    assert _drawn(bound) == pytest.approx([-scale / 2, scale / 2])
    assert max(y for y in bound.y if y is not None) == max(errors.y)  # as tall as the bars
    codes = _by_name(fig, "weights per code")
    assert (codes.xaxis, codes.yaxis, list(codes.y)) == ("x3", "y3", counts.tolist())
    np.testing.assert_allclose(codes.customdata, buckets * scale)
    weights = _by_name(fig, "weights")
    assert (weights.xaxis, weights.yaxis, sum(weights.y)) == ("x4", "y4", layer.size)
    lines = _by_name(fig, "levels")
    assert sorted(lines.x) == pytest.approx(sorted(lv))
    # one separate vertical line per level: a line marker taller than the panel, clipped to it
    assert len(lines.x) == lv.size and lines.marker.symbol == "line-ns" and lines.cliponaxis
    assert lines.marker.size > fig.layout.height
    assert list(lines.y) == pytest.approx([sum(fig.layout.yaxis4.range) / 2] * lv.size)  # mid
    assert (lines.xaxis, lines.yaxis) == ("x4", "y4")
    assert [a.text for a in fig.layout.annotations] == list(OVERVIEW_TITLES)
    assert fig.layout.uirevision == "layer-overview"
    _validated_equal(fig)


def test_layer_overview_panels_do_not_overlap(layer: np.ndarray) -> None:
    """Top row: heatmaps then the error histogram; bottom row: codes then weights; no overlap."""
    fig = layer_overview(layer, layer, np.arange(3), np.ones(3, int), [-1.0, 0.0, 1.0])
    lay = fig.layout
    rows = [[lay.xaxis.domain, lay.xaxis2.domain], [lay.xaxis3.domain, lay.xaxis4.domain]]
    for (_, left_end), (right_start, _) in rows:
        assert left_end < right_start
    assert lay.yaxis3.domain[1] < lay.yaxis.domain[0]
    assert lay.yaxis2.domain == lay.yaxis.domain and lay.yaxis4.domain == lay.yaxis3.domain
    assert [lay[f"xaxis{s}"].anchor for s in ("2", "3", "4")] == ["y2", "y3", "y4"]


def test_layer_overview_with_clipping_several_scales_and_a_constant_layer(
    layer: np.ndarray,
) -> None:
    """Clipping adds the "clipped" marks; scale=None drops per-code values; constants still bin."""
    res = quantize_grouped(layer, 3, "asymmetric", "row", clip=ClipSpec.std(1.0))
    buckets = np.arange(8)
    counts = np.bincount(res.q.ravel(), minlength=8)
    fig = layer_overview(layer, res.w_hat, buckets, counts, [0.0], clipped=res.clipped)
    assert [c[0] for c in _by_name(fig, "clipped").customdata] == np.nonzero(res.clipped)[
        0
    ].tolist()
    assert _by_name(fig, "weights per code").customdata is None
    assert all(t.name != "±scale/2" for t in fig.data)
    _validated_equal(fig)
    flat = np.full((4, 4), 0.25)
    fig = layer_overview(flat, flat, [0], [16], [0.25], bound=0.0)
    assert sum(_by_name(fig, "weights").y) == 16 and sum(_by_name(fig, "w − ŵ").y) == 16


def test_explorer_texts_carry_every_width_the_slider_holds() -> None:
    """The single-weight explorer's text: the seed's 4-bit sentence (scale 0.910203 / 7 =
    0.130029, q = 1, ŵ = 0.130029) and a row per width 2-8; the grid explorer's likewise."""
    from quantviz.figures.explorers import grid_explorer_text, weight_explorer_text
    from quantviz.quant.absmax import weight_states
    from quantviz.quant.schemes import layer_states

    alt = weight_explorer_text(0.156347, weight_states(0.156347, 0.910203))
    assert "At 4 bits the 15 levels are 0.130029 apart" in alt.summary
    assert "stored as q = 1 and read back as ŵ = 0.130029" in alt.summary
    assert [r[0] for r in alt.rows] == [2, 3, 4, 5, 6, 7, 8]
    assert alt.rows[2][:5] == (4, 15, "0.130029", 1, "0.130029")
    grid = grid_explorer_text(toy_layer(7), layer_states(toy_layer(7)))
    assert grid.summary.startswith("At 4 bits the 16 weights use ")
    assert [r[0] for r in grid.rows] == [2, 3, 4, 5, 6, 7, 8]
