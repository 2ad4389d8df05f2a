"""Plotly figures for the GGUF block-format explorer: one 256-weight super-block as a 16x16 grid.

Block and sub-block boundaries are horizontal lines: a row of the grid holds 16 weights, so a
32-weight block (Q4_0, Q8_0) or sub-block (Q4_K, Q5_K) is two rows and a 16-weight sub-block
(Q6_K) is one. Two scatter paths per figure draw them for every grid: solid lines around each
block that has its own fp16 scale (the outline included), dotted lines between the sub-blocks
that share it.

Figures come from the shared factory (`figures._base.figure`: dict specs, no validation, no
template), so a fragment rerun does not pay for plotly's property validation; the tests rebuild
them with validation on. One more saving, measured on the explorer's rerun: the small multiples
share one pair of axes (a second pair, even unvalidated, goes through plotly's validators).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike, NDArray

from quantviz.figures._base import Spec, figure
from quantviz.figures.alt import ChartText, listing, num

GRID = 16  # the super-block of 256 weights is drawn as GRID x GRID, row by row
VALUE_SCALE = "RdBu_r"
ERROR_SCALE = "PuOr"
CODE_SCALE = "Blues"
BLOCK_LINE = {"color": "#111827", "width": 2}
SUB_BLOCK_LINE = {"color": "#111827", "width": 1, "dash": "dot"}
BLOCK_NAME = "block (own fp16 scale)"
SUB_BLOCK_NAME = "sub-block (own 6- or 8-bit scale)"
COLUMNS = 4  # grids per row of small multiples
GAP_X = 2  # cells between two grids side by side
GAP_Y = 4  # cells between two rows of grids, room for the titles
MARGIN = {"t": 30}


@dataclass(frozen=True)
class Panel:
    """One scheme's 16x16 grid: title, values, and how many weights share each scale."""

    title: str
    z: ArrayLike  # 256 values, weight i drawn at row i // 16, column i % 16
    block: int  # weights per block with its own fp16 scale (256: one for the whole grid)
    sub_block: int  # weights per sub-block scale (== block when there are none)


def boundary_rows(block: int, sub_block: int) -> tuple[list[float], list[float]]:
    """Grid rows where blocks and sub-blocks meet, as y positions between cells (k - 0.5).

    Returns `(block_rows, sub_block_rows)`, both without the grid's outer edge; a sub-block
    boundary that is also a block boundary is listed once, as a block boundary.
    """
    n = GRID * GRID
    for size in (block, sub_block):
        if size % GRID or n % size or size <= 0:
            raise ValueError(f"a block of {size} weights is not a whole number of grid rows")
    if block % sub_block:
        raise ValueError(f"sub-blocks of {sub_block} do not tile blocks of {block}")
    block_rows = [k / GRID - 0.5 for k in range(block, n, block)]
    sub_rows = [k / GRID - 0.5 for k in range(sub_block, n, sub_block) if k % block]
    return block_rows, sub_rows


def _lines(
    rows: Sequence[float], outline: bool, dx: float = 0.0, dy: float = 0.0
) -> tuple[list[float | None], list[float | None]]:
    """One scatter path: a horizontal segment per row, plus the grid's outline if asked.

    `dx`, `dy` shift the grid, for small multiples drawn side by side on one pair of axes.
    """
    lo, hi = -0.5, GRID - 0.5
    x: list[float | None] = []
    y: list[float | None] = []
    if outline:
        x += [lo + dx, hi + dx, hi + dx, lo + dx, lo + dx, None]
        y += [lo + dy, lo + dy, hi + dy, hi + dy, lo + dy, None]
    for r in rows:
        x += [lo + dx, hi + dx, None]
        y += [r + dy, r + dy, None]
    return x, y


def _boundary_traces(grids: Sequence[tuple[int, int, float, float]]) -> list[Spec]:
    """Two scatter paths over all grids: block edges (solid, outlines included), then
    sub-block edges (dotted). `grids` holds (block, sub_block, dx, dy) per grid."""
    paths: dict[str, tuple[list[float | None], list[float | None]]] = {
        "block": ([], []),
        "sub-block": ([], []),
    }
    for block, sub_block, dx, dy in grids:
        block_rows, sub_rows = boundary_rows(block, sub_block)
        for group, rows, outline in (("block", block_rows, True), ("sub-block", sub_rows, False)):
            x, y = _lines(rows, outline, dx, dy)
            paths[group][0].extend(x)
            paths[group][1].extend(y)
    return [
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": y,
            "name": name,
            "line": line,
            "hoverinfo": "skip",
        }
        for (x, y), name, line in (
            (paths["block"], BLOCK_NAME, BLOCK_LINE),
            (paths["sub-block"], SUB_BLOCK_NAME, SUB_BLOCK_LINE),
        )
    ]


def _square_axes(width: float, height: float, top: float = -0.6) -> Spec:
    """One x/y pair spanning `width` x `height` cells, row 0 on top, cells kept square.

    Small multiples share these axes (each grid shifted by its offset): a figure with a
    second axis pair would make plotly validate it, which costs more than the whole rerun.
    """
    hidden = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False}
    return {
        "xaxis": {"range": [-0.6, width - 0.4], "constrain": "domain", **hidden},
        "yaxis": {
            "range": [height - 0.4, top],  # reversed: weight 0 at the top left
            "scaleanchor": "x",
            "constrain": "domain",
            **hidden,
        },
    }


def _cell_index() -> NDArray[np.int64]:
    return np.arange(GRID * GRID).reshape(GRID, GRID)


def _as_grid(a: ArrayLike) -> NDArray[np.float64]:
    g = np.asarray(a, dtype=np.float64)
    if g.size != GRID * GRID:
        raise ValueError(f"a super-block has {GRID * GRID} weights, got {g.size}")
    return g.reshape(GRID, GRID)


def _top_legend() -> Spec:
    return {"orientation": "h", "x": 0, "xanchor": "left", "y": 1, "yanchor": "bottom"}


def error_grid_figure(
    w: ArrayLike,
    panels: Sequence[Panel],
    shared_range: bool = True,
    uirevision: str = "gguf-errors",
) -> go.Figure:
    """Small multiples: the weights, then each scheme's error w − ŵ, with block boundaries.

    Grids run in rows of four, weights first, then `panels` in order, all on one pair of axes
    (grid k shifted by its column and row). Traces: one heatmap per grid, then two paths that
    hold the block and the sub-block boundaries of every grid. `shared_range` gives every error
    grid one colour range, the largest error of all, so colours compare across schemes (one
    colour bar); otherwise each grid spans its own largest error.
    """
    w = _as_grid(w)
    grids = [Panel("weights w", w, GRID * GRID, GRID * GRID), *panels]
    n_rows = -(-len(grids) // COLUMNS)
    index = _cell_index()
    custom = np.stack([index, w], axis=-1).astype(np.float32)  # (16, 16, 2): weight number, w
    wmax = float(np.abs(w).max()) or 1.0
    emax_all = max((float(np.abs(p.z).max()) for p in panels), default=0.0) or 1e-12
    data: list[Spec] = []
    edges: list[tuple[int, int, float, float]] = []
    annotations: list[Spec] = []
    for i, panel in enumerate(grids):
        row, col = divmod(i, COLUMNS)
        dx, dy = col * (GRID + GAP_X), row * (GRID + GAP_Y)
        z = _as_grid(panel.z)
        if i == 0:
            scale: Spec = {"colorscale": VALUE_SCALE, "zmin": -wmax, "zmax": wmax}
            what = "w"
        else:
            emax = emax_all if shared_range else (float(np.abs(z).max()) or 1e-12)
            scale = {"colorscale": ERROR_SCALE, "zmin": -emax, "zmax": emax}
            what = "w − ŵ"
        show_bar = shared_range and i == 1
        data.append(
            {
                "type": "heatmap",
                "z": z.astype(np.float32),
                "x0": dx,
                "dx": 1,
                "y0": dy,
                "dy": 1,
                **scale,
                "showscale": show_bar,
                **({"colorbar": {"title": {"text": "w − ŵ"}, "thickness": 12}} if show_bar else {}),
                "customdata": custom,
                "name": panel.title,
                "hovertemplate": f"{panel.title}<br>weight %{{customdata[0]}}: "
                f"w = %{{customdata[1]:.5f}}<br>{what} = %{{z:.3g}}<extra></extra>",
            }
        )
        edges.append((panel.block, panel.sub_block, dx, dy))
        annotations.append(
            {
                "text": panel.title,
                "x": dx + (GRID - 1) / 2,
                "y": dy - 0.6,
                "xref": "x",
                "yref": "y",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 13},
            }
        )
    data += _boundary_traces(edges)
    width = COLUMNS * GRID + (COLUMNS - 1) * GAP_X
    height = n_rows * GRID + (n_rows - 1) * GAP_Y
    layout: Spec = {
        "annotations": annotations,
        "legend": _top_legend(),
        **_square_axes(width, height, top=-GAP_Y + 0.4),
    }
    return figure(data, layout, height=60 + 240 * n_rows, uirevision=uirevision, margin=MARGIN)


def code_grid_figure(
    codes: ArrayLike,
    w: ArrayLike,
    w_hat: ArrayLike,
    block: int,
    sub_block: int,
    uirevision: str = "gguf-codes",
) -> go.Figure:
    """The stored integer code of every weight, printed in its cell, with block boundaries.

    Traces: one heatmap (z = codes), then the block and sub-block boundary paths. Hover shows
    the weight and its reconstruction.
    """
    codes = _as_grid(codes)
    custom = np.stack([_cell_index(), _as_grid(w), _as_grid(w_hat)], axis=-1).astype(np.float32)
    data: list[Spec] = [
        {
            "type": "heatmap",
            "z": codes.astype(np.int16),
            "customdata": custom,
            "colorscale": CODE_SCALE,
            "showscale": False,
            "name": "codes",
            "texttemplate": "%{z}",
            "textfont": {"size": 10},
            "hovertemplate": "weight %{customdata[0]}: code %{z}<br>w = %{customdata[1]:.5f}, "
            "ŵ = %{customdata[2]:.5f}<extra></extra>",
        },
        *_boundary_traces([(block, sub_block, 0.0, 0.0)]),
    ]
    layout: Spec = {"legend": _top_legend(), **_square_axes(GRID, GRID)}
    return figure(data, layout, height=470, uirevision=uirevision, margin=MARGIN)


def _rms(a: NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(a * a)))


def error_grid_text(w: ArrayLike, panels: Sequence[Panel]) -> ChartText:
    """What `error_grid_figure` shows: each scheme's error per weight, and its RMS and largest.

    The table has a row per weight (its number, w, then each scheme's w − ŵ), in the grids'
    reading order.
    """
    g = _as_grid(w).ravel()
    errors = [_as_grid(p.z).ravel() for p in panels]
    parts = [
        f"{p.title.split(':')[0]} RMS {num(_rms(e))}, largest {num(float(np.abs(e).max()))}"
        for p, e in zip(panels, errors, strict=True)
    ]
    summary = (
        f"The {g.size} weights of one super-block (largest |w| {num(float(np.abs(g).max()))}) "
        f"and the error w − ŵ of {len(panels)} schemes, each weight a cell in a 16 × 16 grid: "
        f"{listing(parts)}."
    )
    columns = ("weight", "w", *(p.title for p in panels))
    rows = zip(range(g.size), g.tolist(), *(e.tolist() for e in errors), strict=True)
    return ChartText.of(summary, columns, rows, "the weights and every scheme's error")


def code_grid_text(
    codes: ArrayLike, w: ArrayLike, w_hat: ArrayLike, block: int, sub_block: int
) -> ChartText:
    """What `code_grid_figure` shows: the stored code of every weight, with its block."""
    c = _as_grid(codes).ravel().astype(np.int64)
    g, r = _as_grid(w).ravel(), _as_grid(w_hat).ravel()
    index = np.arange(c.size)
    subs = "" if sub_block == block else f", in sub-blocks of {sub_block} with their own scale"
    summary = (
        f"The stored integer code of each of the {c.size} weights, from {int(c.min())} to "
        f"{int(c.max())}, in blocks of {block} weights with their own fp16 scale{subs}."
    )
    rows = zip(index.tolist(), (index // block).tolist(), c.tolist(), g.tolist(), r.tolist(),
               strict=True)  # fmt: skip
    return ChartText.of(summary, ("weight", "block", "code", "w", "ŵ"), rows, "stored codes")
