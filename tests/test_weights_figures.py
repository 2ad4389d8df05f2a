"""Figures of real weights: shared and diverging colour scales, outliers, the per-layer profile."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import get_colorscale, sample_colorscale

from quantviz.figures.ollama import type_color
from quantviz.figures.weights import (
    OUTSIDE_BLOCKS,
    ProfilePoint,
    layer_profile,
    outliers,
    tile_figure,
    weight_histogram,
)


def _validated(fig: go.Figure) -> go.Figure:
    """Rebuild with plotly's validation on: a misspelt property raises here."""
    return go.Figure(fig.to_dict())


def _tile(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q6 = rng.normal(0, 0.02, (16, 256)).astype(np.float32)
    q4 = q6 + rng.normal(0, 0.002, q6.shape).astype(np.float32)
    q4[3, 7] = 0.3  # the largest value of both
    return q4, q6


def test_q4_and_q6_share_one_symmetric_scale_and_the_difference_has_its_own() -> None:
    """Q4 and Q6 sit on one cividis axis spanning ±max|w|; Q4 − Q6 on a PuOr axis about 0."""
    q4, q6 = _tile()
    fig = _validated(tile_figure(q4, q6, 32, 512))
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert [h.coloraxis for h in heatmaps] == ["coloraxis", "coloraxis", "coloraxis2"]
    axis, diff = fig.layout.coloraxis, fig.layout.coloraxis2
    assert (axis.cmin, axis.cmax) == (-float(np.float32(0.3)), float(np.float32(0.3)))
    d = q4.astype(np.float64) - q6
    assert diff.cmax == -diff.cmin == np.abs(d).max()
    assert axis.colorscale[0][1] == sample_colorscale(get_colorscale("cividis"), [0.0])[0]
    assert diff.colorscale[4][1] == "rgb(247, 247, 247)"  # PuOr's white middle at 0
    assert "weight" in axis.colorbar.title.text and "Q4 − Q6" in diff.colorbar.title.text
    np.testing.assert_array_equal(np.array(heatmaps[2].z), d)
    assert list(heatmaps[0].x) == list(range(512, 768)) and list(heatmaps[0].y) == list(
        range(32, 48)
    )
    assert fig.layout.xaxis.title.text.startswith("weight index")
    assert all(fig.layout[f"yaxis{n}"].title.text == "row" for n in ("", "2", "3"))


def test_sub_block_lines_follow_each_files_type() -> None:
    """Dotted lines at every 32 weights on the Q4_K panel and every 16 on the Q6_K panel."""
    q4, q6 = _tile()
    fig = _validated(tile_figure(q4, q6, 0, 0, ("Q4_K", "Q6_K"), (32, 16)))
    lines = [t for t in fig.data if t.type == "scatter"]
    xs = [sorted({x for x in t.x if x is not None}) for t in lines]
    assert xs[0] == [c - 0.5 for c in range(32, 256, 32)]
    assert xs[1] == [c - 0.5 for c in range(16, 256, 16)]
    assert [t.yaxis for t in lines] == ["y", "y2"]


def test_outliers_are_marked_one_by_one() -> None:
    """Weights beyond mean ± k·σ of the whole tensor are the × markers, the rest are bars."""
    rng = np.random.default_rng(3)
    w = rng.normal(0, 0.02, 4096)
    w[[5, 900]] = [0.2, -0.15]
    labels = [f"w{i}" for i in range(w.size)]
    fig = _validated(weight_histogram(w, 0.0, 0.02, 4, (-0.3, 0.31), positions=labels))
    bars = next(t for t in fig.data if t.type == "bar")
    assert sum(bars.y) == w.size
    marks = next(t for t in fig.data if t.type == "scatter" and t.mode == "markers")
    expected = np.abs(w) > 4 * 0.02
    assert sorted(marks.x) == sorted(w[expected].tolist())
    assert {"w5", "w900"} <= set(marks.customdata)
    assert f"({expected.sum()})" in marks.name
    xs = sorted(s.x0 for s in fig.layout.shapes)
    assert xs == [-0.3, -0.08, 0.08, 0.31]
    assert fig.layout.yaxis.type == "log"
    assert outliers(w, 0.0, 0.0, 4).sum() == 0  # no spread, no outliers


def _points() -> list[ProfilePoint]:
    pts = [ProfilePoint("token_embd.weight", -1, "Q6_K", "Q6_K", 0.0, 0.0)]
    for i in range(3):
        pts += [
            ProfilePoint(f"blk.{i}.attn_q.weight", i, "Q4_K", "Q6_K", 1e-3 * (i + 1), 0.05),
            ProfilePoint(f"blk.{i}.ffn_down.weight", i, "Q6_K" if i == 2 else "Q4_K", "Q6_K",
                         0.0 if i == 2 else 2e-3, 0.0 if i == 2 else 0.1),
        ]  # fmt: skip
    return pts


def test_profile_colours_by_the_q4_files_type() -> None:
    """One trace per Q4 type in the tensor-mix colours; Q6_K-in-both points sit at 0."""
    fig = _validated(layer_profile(_points(), selected="blk.1.attn_q.weight"))
    traces = {t.name: t for t in fig.data}
    q4k, q6k = traces["Q4_K in the Q4 file"], traces["Q6_K in the Q4 file"]
    assert q4k.marker.color == type_color("Q4_K") and q6k.marker.color == type_color("Q6_K")
    assert list(q6k.y) == [0.0, 0.0] and min(q4k.y) > 0
    ring = traces["the tensor shown above"]
    assert ring.y == (2e-3,)
    assert OUTSIDE_BLOCKS in fig.layout.xaxis.tickvals
    assert fig.layout.xaxis.ticktext[0] == "outside"
    relative = _validated(layer_profile(_points(), relative=True))
    q4k_relative = next(t for t in relative.data if t.name == "Q4_K in the Q4 file")
    assert max(q4k_relative.y) == 0.1 and relative.layout.yaxis.tickformat == ".1%"


def test_names_from_a_file_are_inert_in_hover_text() -> None:
    """A tensor name with HTML reaches plotly escaped, so no link or tag is drawn."""
    evil = '<a href="https://evil.example">x</a><img src=x onerror=alert(1)>'
    fig = _validated(layer_profile([ProfilePoint(evil, 0, "Q4_K", "Q6_K", 1e-3, 0.1)]))
    shown = fig.data[0].customdata[0][0]
    assert "<" not in shown and '&lt;a href="' in shown  # plotly shows &quot; as written
    hist = _validated(weight_histogram([0.0, 1.0], 0.0, 0.1, 3, positions=["ok", evil]))
    assert all("<" not in s for s in hist.data[1].customdata)


def test_real_weight_texts_carry_the_plotted_numbers():
    """The tile's text gives its rows, columns and the difference's RMS and largest magnitude
    (a tile whose Q4 is Q6 + 0.5 everywhere: both 0.5) with a row per weight; the histogram's
    counts the outliers by hand (one 10 among zeros, σ 0.1); the profile's names the tensor with
    the largest difference and counts the identical ones."""
    from quantviz.figures.weights import histogram_text, layer_profile_text, tile_text

    q6 = np.arange(6.0).reshape(2, 3)
    tile = tile_text(q6 + 0.5, q6, 4, 10, ("Q4_K", "Q6_K"))
    assert tile.summary.startswith("Rows 4 to 5, columns 10 to 12 of the tensor")
    assert "weights from 0 to 5; their difference has RMS 0.5 and largest magnitude 0.5" in (
        tile.summary
    )
    assert tile.rows[-1] == (5, 12, 5.5, 5.0, 0.5)

    values = np.zeros(100)
    values[7] = 10.0
    hist = histogram_text(values, 0.0, 0.1, 3, bins=10)
    assert "histogram of 100 weights from 0 to 10" in hist.summary
    assert "1 lie beyond mean ± 3 σ (0 ± 0.3)" in hist.summary
    assert [r[2] for r in hist.rows] == [99, 0, 0, 0, 0, 0, 0, 0, 0, 1]

    points = [
        ProfilePoint("blk.0.attn_q.weight", 0, "Q4_K", "Q6_K", 2e-3, 0.05),
        ProfilePoint("blk.1.ffn_down.weight", 1, "Q6_K", "Q6_K", 0.0, 0.0),
        ProfilePoint("token_embd.weight", -1, "Q6_K", "Q6_K", 0.0, 0.0),
    ]
    profile = layer_profile_text(points)
    assert profile.summary == (
        "RMS(Q4 − Q6) of 3 tensors across 2 layers: largest 0.002 (blk.0.attn_q.weight, "
        "layer 0); 2 tensors have no difference at all."
    )
    assert profile.rows[2][:2] == ("token_embd.weight", "outside")
