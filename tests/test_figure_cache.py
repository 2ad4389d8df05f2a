"""Figures shared between sessions (quantviz.ui.figure_cache): one build per distinct input,
never a neighbour's figure, never changed by being shown."""

from __future__ import annotations

import json

import numpy as np
from apptest_utils import open_page

from quantviz.quant.absmax import toy_layer
from quantviz.quant.schemes import NO_CLIP
from quantviz.ui.context import widget_key
from quantviz.ui.widgets import gguf_formats, grid_explorer, weight_explorer

PAGE = "lab2-objective1"
GRID = widget_key(PAGE, "quantization-grid-explorer")


def _spec(at, key: str) -> dict:
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    return json.loads(chart.proto.spec)


def test_a_second_session_reuses_the_default_figures_unchanged():
    """Two fresh sessions open Objective 1: the second builds none of the three explorers'
    default figures again (cache hits), receives the same charts as the first, and showing a
    cached figure leaves it exactly as it was built."""
    for builder in (grid_explorer._figure, weight_explorer._figure, gguf_formats._draw):
        builder.cache_clear()
    first = open_page(PAGE)
    assert not first.exception, first.exception
    built = grid_explorer._figure.cache_info()
    assert built.misses >= 1

    second = open_page(PAGE)
    assert not second.exception, second.exception
    assert grid_explorer._figure.cache_info().misses == built.misses  # nothing rebuilt
    assert grid_explorer._figure.cache_info().hits > built.hits
    assert weight_explorer._figure.cache_info().hits >= 1
    assert gguf_formats._draw.cache_info().hits >= 1
    key = f"{GRID}-heatmaps"
    assert _spec(second, key) == _spec(first, key)
    # the cached default, after two sessions showed it, equals a fresh build of the same layer
    w = np.ascontiguousarray(toy_layer(7, "normal"), dtype=np.float64)
    args = (w.tobytes(), w.shape, grid_explorer.Settings("symmetric", "tensor", 2, NO_CLIP))
    hits = grid_explorer._figure.cache_info().hits
    _, cached, _ = grid_explorer._figure(*args)
    assert grid_explorer._figure.cache_info().hits == hits + 1  # it is the one the pages used
    _, fresh, _ = grid_explorer._figure.__wrapped__(*args)
    assert cached.to_dict() == fresh.to_dict()


def test_another_layer_gets_its_own_figure():
    """A session that draws another layer (seed 8) gets that layer's figure, not the cached
    default: the cache is keyed by the layer's values and the settings."""
    default = open_page(PAGE)
    other = open_page(PAGE)
    other.session_state[f"{GRID}-seed"] = 8
    other.run()
    assert not other.exception, other.exception
    key = f"{GRID}-heatmaps"
    assert _spec(other, key)["data"] != _spec(default, key)["data"]
    again = open_page(PAGE)
    assert _spec(again, key)["data"] == _spec(default, key)["data"]
