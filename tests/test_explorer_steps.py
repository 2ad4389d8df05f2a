"""The explorers' own bits sliders: every step holds what the core computes at that width.

Each figure carries the seven widths (2-8) as `layout.sliders` `update` steps, so a bits move
redraws in the browser with no server. Here every step is applied to the figure's JSON as
plotly.js applies it (`figure_steps.at_step`), and what it then shows is compared with the
formulas of the seed and of `quant.schemes`' docstring written out here, group by group in plain
numpy (never with the project's quantizer, whose output the figure carries).
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np
import pytest
from figure_steps import at_step, labels, readouts, slider, trace

from quantviz.figures._base import bits_slider
from quantviz.figures.explorers import grid_explorer_figure, weight_explorer_figure
from quantviz.quant.absmax import quantize_symmetric, toy_layer, weight_states
from quantviz.quant.schemes import ClipSpec, layer_states

WIDTHS = [str(b) for b in range(2, 9)]


def _json(fig) -> dict:
    """The figure as the browser receives it."""
    return json.loads(fig.to_json())


@pytest.mark.parametrize(("w", "max_abs"), [(0.156347, 0.910203), (-0.4, 0.5), (0.0, 1.0)])
def test_weight_explorer_steps_equal_the_core_at_all_seven_widths(w, max_abs):
    """Seven steps labelled 2..8, starting at 4; at each, the readouts, the formula and the
    number line show scale = max|w| / (2^(b−1) − 1), q = round(w / scale), ŵ = q · scale, as
    quantize_symmetric computes them."""
    spec = _json(weight_explorer_figure(w, max_abs, weight_states(w, max_abs)))
    assert labels(spec) == WIDTHS
    assert slider(spec)["active"] == 2
    shown = set()
    for label in WIDTHS:
        b = int(label)
        state = at_step(spec, label)
        top = 2 ** (b - 1) - 1
        scale = max_abs / top
        q = int(np.clip(np.round(w / scale), -top, top))
        core_q, core_scale, core_w_hat = quantize_symmetric(w, b, max_abs)
        assert (q, scale) == (int(core_q), pytest.approx(float(core_scale)))
        assert float(core_w_hat) == pytest.approx(q * scale)
        values = readouts(state)
        assert values["scale"] == f"{scale:.6f}"
        assert values["q"] == str(q)
        assert values["w_hat"] == f"{q * scale:.6f}"
        assert values["abs_error"] == f"{abs(w - q * scale):.6f}"
        assert values["levels"] == str(2 * top + 1)
        formula = next(a["text"] for a in state["layout"]["annotations"] if a["name"] == "formula")
        assert f"= {q}," in formula and f"/ {top} =" in formula
        levels = np.array(trace(state, f"{2 * top + 1} levels at {b} bits")["x"])
        np.testing.assert_allclose(levels, np.arange(-top, top + 1) * scale)
        np.testing.assert_allclose(trace(state, "ŵ (reconstructed)")["x"], [q * scale])
        assert trace(state, "w (original)")["x"] == [w]
        assert state["layout"]["meta"]["summary"].startswith(f"At {b} bits")
        shown.add(json.dumps(values))
    assert len(shown) > 1  # the steps differ
    four = at_step(spec, "4")  # the figure opens on the 4-bit state
    assert four["data"] == spec["data"] and readouts(four) == readouts(spec)


class _Reference(NamedTuple):
    w_hat: np.ndarray
    q: np.ndarray
    scale: np.ndarray  # one per group
    zero_point: np.ndarray  # one per group
    clipped: np.ndarray


def _reference(w, bits: int, scheme: str, granularity: str, group: int, clip) -> _Reference:
    """The schemes written out one group at a time, from `quant.schemes`' docstring.

    A group is the whole tensor, a row, or `group` consecutive values; clipping narrows its range
    to c = the p-th percentile of |w|, or k · RMS(w), never above max|w|. Symmetric:
    scale = c / (2^(b-1) - 1), q = round(w / scale) clamped to ±(2^(b-1) - 1). Asymmetric: the
    range [max(min w, -c), min(max w, c)] widened to hold 0, scale = range / (2^b - 1),
    zero_point = round(-lo / scale), q = round(w / scale) + zero_point clamped to [0, 2^b - 1],
    ŵ = (q - zero_point) · scale.
    """
    flat = np.asarray(w, dtype=float).ravel()
    length = {"tensor": flat.size, "row": w.shape[-1], "group": group}[granularity]
    w_hat, q, clipped = np.zeros(flat.size), np.zeros(flat.size, int), np.zeros(flat.size, bool)
    scales, zeros = [], []
    for start in range(0, flat.size, length):
        g = flat[start : start + length]
        c = np.abs(g).max()
        if clip is not None and clip.method == "percentile":
            c = min(np.percentile(np.abs(g), clip.value), c)
        elif clip is not None and clip.method == "std":
            c = min(clip.value * np.sqrt(np.mean(g**2)), c)
        if scheme == "symmetric":
            top = 2 ** (bits - 1) - 1
            scale, zero = c / top, 0
            codes = np.clip(np.round(g / scale), -top, top)
        else:
            lo, hi = min(max(g.min(), -c), 0.0), max(min(g.max(), c), 0.0)
            scale = (hi - lo) / (2**bits - 1)
            zero = int(np.round(-lo / scale))
            codes = np.clip(np.round(g / scale) + zero, 0, 2**bits - 1)
        q[start : start + length] = codes
        w_hat[start : start + length] = (codes - zero) * scale
        clipped[start : start + length] = np.abs(g) > c
        scales.append(scale)
        zeros.append(zero)
    shape = np.shape(w)
    return _Reference(
        w_hat.reshape(shape), q.reshape(shape), np.array(scales), np.array(zeros),
        clipped.reshape(shape),
    )  # fmt: skip


def _levels(res, bits: int, scheme: str) -> np.ndarray:
    """Every value any group's scale (and zero-point) can reconstruct, written out."""
    codes = (
        np.arange(0, 2**bits)
        if scheme == "asymmetric"
        else np.arange(-(2 ** (bits - 1) - 1), 2 ** (bits - 1))
    )
    zero = np.asarray(res.zero_point, dtype=float).ravel()
    values = (codes[None, :] - zero[:, None]) * np.asarray(res.scale, dtype=float).ravel()[:, None]
    return np.unique(np.round(values, 12))


LAYER_SETTINGS = [
    ("normal", "symmetric", "tensor", None),
    ("outlier", "symmetric", "tensor", None),
    ("outlier", "asymmetric", "group", ClipSpec.percentile(90)),
    ("normal", "symmetric", "row", ClipSpec.std(1.0)),
]


@pytest.mark.parametrize(("dist", "scheme", "granularity", "clip"), LAYER_SETTINGS)
def test_grid_explorer_steps_equal_the_core_at_all_seven_widths(dist, scheme, granularity, clip):
    """At each of the seven steps the ŵ and error heatmaps, the clip outlines, the codes
    histogram and the readouts (levels used, RMSE, max error) are quantize_grouped's at that
    width (written out by `_reference`); the original heatmap never changes."""
    w = toy_layer(7, dist)
    kwargs = {"clip": clip} if clip else {}
    states = layer_states(w, scheme, granularity, 2, **kwargs)
    spec = _json(grid_explorer_figure(w, states, scheme, clipping=clip is not None))
    assert labels(spec) == WIDTHS and slider(spec)["active"] == 2
    for label in WIDTHS:
        b = int(label)
        state = at_step(spec, label)
        res = _reference(w, b, scheme, granularity, 2, clip)
        heat = [t for t in state["data"] if t["type"] == "heatmap"]
        np.testing.assert_allclose(heat[0]["z"], w)
        np.testing.assert_allclose(heat[1]["z"], res.w_hat)
        np.testing.assert_allclose(heat[2]["z"], w - res.w_hat)
        err = w - res.w_hat
        values = readouts(state)
        assert values["rmse"].split("<br>")[0] == f"{np.sqrt(np.mean(err**2)):.5f}"
        assert values["max_error"] == f"{np.abs(err).max():.5f}"
        codes = 2**b - 1 if scheme == "symmetric" else 2**b
        used = np.unique(res.q).size
        assert values["levels_used"] == f"{used} of {codes}"
        bars = trace(state, "weights per code")
        assert sum(bars["y"]) == 16 and len(bars["y"]) == codes
        first = 0 if scheme == "asymmetric" else -(2 ** (b - 1) - 1)
        assert (bars["x0"], bars["dx"]) == (first, 1)
        np.testing.assert_allclose(
            sorted(trace(state, "levels")["x"]), _levels(res, b, scheme), atol=1e-12
        )
        if granularity == "tensor" and clip is None:
            assert values["storage"].startswith(f"{16 * b + 16} bits")
            assert values["scale"] == f"{res.scale[0]:.5f}"
        if clip is not None:
            outlined = [tuple(c) for c in trace(state, "clipped")["customdata"]]
            assert outlined == list(zip(*np.nonzero(res.clipped), strict=True))
        assert f"At {b} bits" in state["layout"]["meta"]["summary"]


def test_bits_slider_rejects_states_that_do_not_line_up():
    """States with different traces, or labels that do not match them, are refused."""
    one = {"data": [{"type": "scatter", "x": [1]}], "layout": {}}
    two = {"data": [{"type": "scatter", "x": [1]}, {"type": "bar"}], "layout": {}}
    with pytest.raises(ValueError, match="same traces"):
        bits_slider([one, two], ["a", "b"], 0)
    with pytest.raises(ValueError, match="one label per state"):
        bits_slider([one], ["a", "b"], 0)
