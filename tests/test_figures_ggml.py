"""Figures of the GGUF block-format explorer: grids, block boundaries, plotly validity."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from quantviz.figures.ggml import (
    BLOCK_NAME,
    GAP_X,
    GAP_Y,
    GRID,
    SUB_BLOCK_NAME,
    Panel,
    boundary_rows,
    code_grid_figure,
    error_grid_figure,
)
from quantviz.quant import ggml


@pytest.fixture
def w() -> np.ndarray:
    return np.random.default_rng(3).normal(0, 0.02, 256).astype(np.float32)


def _panels(w: np.ndarray) -> list[Panel]:
    """A one-scale toy grid, then every GGUF type, as the explorer builds them."""
    toy = w - np.round(w / (np.abs(w).max() / 7)) * (np.abs(w).max() / 7)
    panels = [Panel("toy", toy, 256, 256)]
    for name, fmt in ggml.FORMATS.items():
        panels.append(
            Panel(
                name,
                w - ggml.dequantize(ggml.quantize(w, name), name),
                fmt.block_values,
                fmt.sub_block,
            )
        )
    return panels


def _segments(trace) -> set[tuple[float, float]]:
    """The horizontal segments of a None-separated path, as (y, leftmost x)."""
    x, y = list(trace.x), list(trace.y)
    return {
        (y[i], min(x[i], x[i + 1]))
        for i in range(len(x) - 1)
        if x[i] is not None and x[i + 1] is not None and y[i] == y[i + 1] and x[i] != x[i + 1]
    }


@pytest.mark.parametrize(
    ("qtype", "block_rows", "sub_rows"),
    [
        ("Q4_0", [1.5, 3.5, 5.5, 7.5, 9.5, 11.5, 13.5], []),  # blocks of 32 = two rows
        ("Q8_0", [1.5, 3.5, 5.5, 7.5, 9.5, 11.5, 13.5], []),
        ("Q4_K", [], [1.5, 3.5, 5.5, 7.5, 9.5, 11.5, 13.5]),  # one super-block, sub-blocks of 32
        ("Q5_K", [], [1.5, 3.5, 5.5, 7.5, 9.5, 11.5, 13.5]),
        ("Q6_K", [], [r + 0.5 for r in range(15)]),  # sub-blocks of 16 = one row
    ],
)
def test_boundary_rows_follow_the_format_table(qtype, block_rows, sub_rows) -> None:
    """Each format's block and sub-block sizes become lines between the right grid rows."""
    fmt = ggml.FORMATS[qtype]
    assert boundary_rows(fmt.block_values, fmt.sub_block) == (block_rows, sub_rows)


def test_boundary_rows_of_one_scale_and_bad_sizes() -> None:
    """One scale for all 256 has no inner lines; sizes that are not whole rows raise."""
    assert boundary_rows(256, 256) == ([], [])
    with pytest.raises(ValueError):
        boundary_rows(8, 8)
    with pytest.raises(ValueError):
        boundary_rows(48, 16)


def test_error_grid_has_a_heatmap_per_grid_and_two_boundary_paths(w) -> None:
    """Weights then six error grids, each z the input as 16x16, then block and sub-block paths."""
    panels = _panels(w)
    fig = error_grid_figure(w, panels)
    types = [t.type for t in fig.data]
    assert types == ["heatmap"] * 7 + ["scatter"] * 2
    np.testing.assert_allclose(fig.data[0].z, w.reshape(16, 16), rtol=1e-6)
    for trace, panel in zip(fig.data[1:7], panels, strict=True):
        want = np.asarray(panel.z).reshape(16, 16)
        np.testing.assert_allclose(trace.z, want, rtol=1e-5, atol=1e-9)
        assert trace.name == panel.title
    offsets = {(t.x0, t.y0) for t in fig.data[:7]}
    assert len(offsets) == 7  # side by side, none on top of another
    assert [t.name for t in fig.data[7:]] == [BLOCK_NAME, SUB_BLOCK_NAME]
    assert fig.layout.uirevision == "gguf-errors"


def test_error_grid_draws_each_schemes_boundaries_at_its_offset(w) -> None:
    """Q4_0's block lines every two rows, Q6_K's sub-block lines every row, at their grids."""
    fig = error_grid_figure(w, _panels(w))
    blocks, subs = _segments(fig.data[7]), _segments(fig.data[8])
    by_name = {t.name: (t.x0, t.y0) for t in fig.data[:7]}
    dx, dy = by_name["Q4_0"]
    assert {(dy + r, dx - 0.5) for r in (1.5, 3.5, 13.5)} <= blocks
    assert (dy + 0.5, dx - 0.5) not in blocks | subs
    dx, dy = by_name["Q6_K"]
    assert {(dy + r + 0.5, dx - 0.5) for r in range(15)} <= subs
    dx, dy = by_name["toy"]
    inner = {s for s in blocks | subs if s[1] == dx - 0.5 and dy - 0.5 < s[0] < dy + 15.5}
    assert not inner  # one scale: the outline only
    assert (dy - 0.5, dx - 0.5) in blocks  # the outline's top edge
    assert GRID == 16 and GAP_X > 0 and GAP_Y > 0


def test_error_grid_colour_range_shared_or_per_scheme(w) -> None:
    """Shared: every error grid spans the largest error, one colour bar. Else each its own."""
    panels = _panels(w)
    largest = max(float(np.abs(p.z).max()) for p in panels)
    shared = error_grid_figure(w, panels, shared_range=True)
    errors = shared.data[1:7]
    assert [t.zmax for t in errors] == pytest.approx([largest] * 6)
    assert [bool(t.showscale) for t in shared.data[:7]] == [False, True] + [False] * 5
    own = error_grid_figure(w, panels, shared_range=False)
    for trace, panel in zip(own.data[1:7], panels, strict=True):
        assert trace.zmax == pytest.approx(float(np.abs(panel.z).max()))
        assert trace.zmin == -trace.zmax
        assert not trace.showscale


def test_code_grid_prints_codes_with_boundaries(w) -> None:
    """The codes as a 16x16 heatmap with text, then Q6_K's 15 sub-block lines."""
    data = ggml.quantize(w, "Q6_K")
    fields = ggml.unpack_block(data, "Q6_K")
    fig = code_grid_figure(fields.q, w, fields.values, 256, 16)
    heat, block, sub = fig.data
    assert heat.type == "heatmap" and heat.texttemplate == "%{z}"
    np.testing.assert_array_equal(heat.z, fields.q.reshape(16, 16))
    assert len(_segments(sub)) == 15
    assert len(_segments(block)) == 2  # the outline's top and bottom edges
    np.testing.assert_allclose(np.asarray(heat.customdata)[..., 2], fields.values.reshape(16, 16))


def test_grids_reject_a_wrong_size(w) -> None:
    """A grid that is not 256 weights raises ValueError."""
    with pytest.raises(ValueError):
        error_grid_figure(w[:128], [])
    with pytest.raises(ValueError):
        code_grid_figure(np.zeros(100), w, w, 256, 32)


def test_figures_are_valid_plotly(w) -> None:
    """Both figures pass plotly's full validation, serialize, and carry a uirevision."""
    panels = _panels(w)
    fmt = ggml.FORMATS["Q4_K"]
    fields = ggml.unpack_block(ggml.quantize(w, "Q4_K"), "Q4_K")
    figs = [
        error_grid_figure(w, panels, shared_range=True),
        error_grid_figure(w, panels, shared_range=False),
        code_grid_figure(fields.q, w, fields.values, fmt.block_values, fmt.sub_block),
    ]
    for fig in figs:
        go.Figure(fig.to_plotly_json())  # raises ValueError on any invalid property
        assert fig.to_json()
        assert fig.layout.uirevision
        assert fig.layout.height <= 600


def test_grid_texts_give_each_schemes_error_and_every_weight():
    """The error grids' text alternative names each scheme with its RMS and largest error
    (worked out by hand: a constant error 0.01; an error ±0.02 alternating) and has a row per
    weight with w and each scheme's error; the code grid's gives the code range and blocks."""
    from quantviz.figures.ggml import code_grid_text, error_grid_text

    w = np.linspace(-1.0, 1.0, 256)
    flat = Panel("Q8_0: w − ŵ", np.full(256, 0.01), 32, 32)
    wavy = Panel("Q4_K: w − ŵ", np.tile([0.02, -0.02], 128), 256, 32)
    alt = error_grid_text(w, [flat, wavy])
    assert "largest |w| 1" in alt.summary
    assert "Q8_0 RMS 0.01, largest 0.01 and Q4_K RMS 0.02, largest 0.02" in alt.summary
    assert alt.columns == ("weight", "w", "Q8_0: w − ŵ", "Q4_K: w − ŵ")
    assert len(alt.rows) == 256
    assert alt.rows[255] == (255, 1.0, 0.01, -0.02)

    codes = np.arange(256) % 16 - 8
    text = code_grid_text(codes, w, w, 256, 32)
    assert text.summary == (
        "The stored integer code of each of the 256 weights, from -8 to 7, in blocks of 256 "
        "weights with their own fp16 scale, in sub-blocks of 32 with their own scale."
    )
    assert text.rows[17] == (17, 0, -7, w[17], w[17])
