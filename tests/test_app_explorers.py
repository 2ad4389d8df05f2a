"""AppTest of the explorers' deeper controls on lab 2, objective 1: each control moves the page.

The numbers the bits slider changes live in the figure (readout annotations, see
`figure_steps`), so the metrics these tests read are the grid figure's readouts at its
opening width, 4 bits.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from apptest_utils import open_page, texts
from figure_steps import readouts
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from quantviz.quant.absmax import toy_layer
from quantviz.quant.packing import pack_layer
from quantviz.quant.schemes import ClipSpec, compare_schemes, error_stats, quantize_grouped

PAGE = "lab2-objective1"
SEED = 7  # the grid explorer's first layer


def _prefix(at: AppTest, marker: str) -> str:
    """The widget's key prefix (`ctx.key`), read off its save button."""
    return next(
        str(b.key)
        for b in at.button
        if f"-{marker}-" in str(b.key) and str(b.key).endswith("-save")
    ).removesuffix("-save")


@pytest.fixture
def page() -> tuple[AppTest, str, str]:
    """Objective 1 with its `(app, grid key prefix, single-weight key prefix)`."""
    at = open_page(PAGE)
    assert not at.exception, at.exception
    return at, _prefix(at, "quantization-grid-explorer"), _prefix(at, "quantization-explorer")


def _spec(at: AppTest, key: str) -> dict:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key))
    return json.loads(chart.proto.spec)


def _array(value) -> np.ndarray:
    """A plotly JSON array: a list (None for a gap), or a typed array `{dtype, bdata, shape}`."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(n) for n in str(value.get("shape", flat.size)).split(",")]
        return flat.reshape(shape)
    return np.array(value, dtype=float)  # None becomes NaN


def _widget(at: AppTest, prefix: str) -> Block:
    """The bordered container of the widget whose keys start with `prefix`.

    Other widgets on the page use some of the same metric labels, so lookups are scoped.
    """
    save = f"{prefix}-save"
    holders = [
        node
        for node in at.main
        if isinstance(node, Block)
        and node.subheader
        and any(getattr(n, "key", None) == save for n in node)
    ]
    return min(holders, key=lambda block: sum(1 for _ in block))


READOUTS = {
    "scale": "scale",
    "levels used": "levels_used",
    "RMSE": "rmse",
    "max error": "max_error",
    "storage": "storage",
}


def _readout(at: AppTest, prefix: str, label: str) -> tuple[str, str | None]:
    """The grid figure's readout `label` at its opening width: (value, the line under it)."""
    text = readouts(_spec(at, f"{prefix}-heatmaps"))[READOUTS[label]]
    value, _, delta = text.partition("<br>")
    return value, delta or None


def _metric(at: AppTest, prefix: str, label: str) -> str:
    return _readout(at, prefix, label)[0]


def _delta(at: AppTest, prefix: str, label: str) -> str | None:
    return _readout(at, prefix, label)[1]


def _set(at: AppTest, **state) -> AppTest:
    """Set session state (open a lazy expander, choose a control) and rerun."""
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _controls(at: AppTest, grid: str, **values) -> AppTest:
    """Open the scheme expander, then set each control as a student would click it."""
    _set(at, **{f"{grid}-controls": True})
    for name, value in values.items():
        at.button_group(key=f"{grid}-{name.replace('_', '-')}").set_value(value).run()
    assert not at.exception, at.exception
    return at


def _trace(spec: dict, name: str) -> dict:
    return next(t for t in spec["data"] if t.get("name") == name)


def test_default_view_is_the_seeds_symmetric_per_tensor_case(page):
    """Defaults: one absmax scale, no clipping marks; error histogram and the 15 levels drawn."""
    at, grid, _ = page
    w = toy_layer(SEED)
    res = quantize_grouped(w, 4)
    assert _metric(at, grid, "scale") == f"{res.scale[0]:.5f}"
    assert _metric(at, grid, "storage") == "80 bits"
    assert "symmetric absmax · per tensor · no clipping" in texts(at)
    overview = _spec(at, f"{grid}-heatmaps")
    assert [t["type"] for t in overview["data"]][:3] == ["heatmap"] * 3
    assert all(t.get("name") != "clipped" for t in overview["data"])
    errors = _trace(overview, "w − ŵ")  # binned here: bar centres and counts
    assert sum(errors["y"]) == 16
    reach = np.abs(w - res.w_hat).max()
    assert (
        min(errors["x"]) - errors["width"] < -reach and max(errors["x"]) + errors["width"] > reach
    )
    bound = _array(_trace(overview, "±scale/2")["x"])
    assert np.nanmax(bound) == pytest.approx(res.scale[0] / 2)
    level_lines = _array(_trace(overview, "levels")["x"])
    assert np.unique(level_lines[~np.isnan(level_lines)]).size == 15
    codes = _trace(overview, "weights per code")
    placed = codes["x0"] + codes["dx"] * np.arange(len(codes["y"]))  # consecutive codes
    assert _array(codes["y"]).sum() == 16 and placed.tolist() == list(range(-7, 8))


def test_asymmetric_scheme_changes_numbers_and_heatmap(page):
    """Asymmetric min-max: 16 codes with a zero-point, a new RMSE and a new ŵ heatmap."""
    at, grid, _ = page
    before = _spec(at, f"{grid}-heatmaps")["data"]
    _controls(at, grid, scheme="asymmetric")
    w = toy_layer(SEED)
    res = quantize_grouped(w, 4, "asymmetric")
    after = _spec(at, f"{grid}-heatmaps")["data"]
    np.testing.assert_allclose(_array(after[1]["z"]), res.w_hat)
    assert _array(_trace({"data": after}, "levels")["x"]).size == 16  # 16 codes, one line each
    assert after[0]["z"] == before[0]["z"] and after[1]["z"] != before[1]["z"]
    assert _metric(at, grid, "scale") == f"{res.scale[0]:.5f}"
    assert _delta(at, grid, "scale") == f"zero-point {res.zero_point[0]}"
    assert _metric(at, grid, "levels used").endswith("of 16")
    assert _metric(at, grid, "RMSE") == f"{error_stats(w, res.w_hat)[0]:.5f}"
    assert _metric(at, grid, "storage") == "84 bits"  # 16 × 4 + fp16 scale + 4-bit zero-point


def test_per_row_and_per_group_scales(page):
    """Per row: 4 scales and 128 bits; per group of 8: 2 scales, matching quantize_grouped."""
    at, grid, _ = page
    w = toy_layer(SEED)
    _controls(at, grid, granularity="row")
    assert _metric(at, grid, "scale") == "4 scales"
    assert _metric(at, grid, "storage") == "128 bits"
    rmse = error_stats(w, quantize_grouped(w, 4, "symmetric", "row").w_hat)[0]
    assert _metric(at, grid, "RMSE") == f"{rmse:.5f}"
    _controls(at, grid, granularity="group", group_size=8)
    assert _metric(at, grid, "scale") == "2 scales"
    rmse = error_stats(w, quantize_grouped(w, 4, "symmetric", "group", 8).w_hat)[0]
    assert _metric(at, grid, "RMSE") == f"{rmse:.5f}"


def test_controls_keep_their_values_when_the_expander_closes(page):
    """Closing the scheme expander hides its widgets but keeps the chosen scheme in force."""
    at, grid, _ = page
    _controls(at, grid, scheme="asymmetric", granularity="row")
    _set(at, **{f"{grid}-controls": False})
    shown = {b.key for b in at.button_group}
    assert f"{grid}-dist" in shown and f"{grid}-scheme" not in shown  # the widgets are gone ...
    assert "asymmetric min-max · per row" in texts(at)  # ... their values are not
    assert _metric(at, grid, "scale") == "4 scales"


def test_edited_weights_survive_the_editor_closing_until_a_new_draw(page):
    """The editor shows the layer; stored edits stay in force while it is closed, per draw."""
    at, grid, _ = page
    _set(at, **{f"{grid}-edit": True})
    shown = _widget(at, grid).dataframe[0].value.to_numpy()
    np.testing.assert_allclose(shown, toy_layer(SEED))
    edited = toy_layer(SEED)
    edited[0, 0] = 2.0  # what the editor stores after a student's edit
    _set(at, **{f"{grid}-edit": False, f"{grid}-edited": (f"normal-{SEED}", edited)})
    assert not _widget(at, grid).dataframe  # closed: no editor, edits still in force
    assert _metric(at, grid, "scale") == f"{2.0 / 7:.5f}"
    _set(at, **{f"{grid}-edit": True})
    np.testing.assert_allclose(_widget(at, grid).dataframe[0].value.to_numpy(), edited)
    at.button(key=f"{grid}-new").click().run()
    assert _metric(at, grid, "scale") == f"{quantize_grouped(toy_layer(SEED + 1), 4).scale[0]:.5f}"


def test_comparison_strip_shows_per_group_beating_per_tensor_with_an_outlier(page):
    """With the outlier, the Pareto view's per-group points sit below the per-tensor ones at
    every width (lower RMSE) and to their right (more bits per weight): what the finer scale
    costs is on the x axis. Its points are compare_schemes' rows at each width."""
    at, grid, _ = page
    _set(at, **{f"{grid}-dist": "outlier", f"{grid}-compare": True})
    spec = _spec(at, f"{grid}-comparison")
    w = toy_layer(SEED, "outlier")
    for bits in range(2, 9):
        expected = {r.label: r for r in compare_schemes(w, bits, 2)}
        for label, row in expected.items():
            points = _trace(spec, label)
            i = [c[0] for c in points["customdata"]].index(bits)
            assert points["y"][i] == pytest.approx(row.rmse)
            assert points["x"][i] == pytest.approx(row.bits_per_weight)
    at4 = {r.label: r for r in compare_schemes(w, 4, 2)}
    for scheme in ("symmetric", "asymmetric"):
        group, tensor = at4[f"{scheme} · per group of 2"], at4[f"{scheme} · per tensor"]
        assert group.rmse < tensor.rmse and group.bits_per_weight > tensor.bits_per_weight
    assert spec["layout"]["xaxis"]["title"]["text"].startswith("bits per weight")
    assert spec["layout"]["yaxis"]["title"]["text"].startswith("RMSE")
    front = _trace(spec, "Pareto front")
    assert front["x"] == sorted(front["x"]) and front["y"] == sorted(front["y"], reverse=True)
    assert "on the Pareto front" in texts(at)


def test_percentile_clipping_marks_the_clipped_weights(page):
    """Clipping at p90 marks exactly the clipped cells and reports the others' RMSE."""
    at, grid, _ = page
    _set(at, **{f"{grid}-dist": "outlier"})
    _controls(at, grid, clip="percentile")
    w = toy_layer(SEED, "outlier")
    res = quantize_grouped(w, 4, clip=ClipSpec.percentile(90))
    marks = _trace(_spec(at, f"{grid}-heatmaps"), "clipped")
    rows, cols = np.nonzero(res.clipped)
    outlined = np.array(marks["customdata"]).reshape(-1, 2)  # [row, column] of each outline
    assert outlined[:, 0].tolist() == rows.tolist() and outlined[:, 1].tolist() == cols.tolist()
    assert len(cols) == 2
    assert _metric(at, grid, "max error") == f"{error_stats(w, res.w_hat)[1]:.5f}"
    kept = ~res.clipped
    kept_rmse = error_stats(w[kept], res.w_hat[kept])[0]
    assert _delta(at, grid, "RMSE") == f"{kept_rmse:.5f} on the 14 kept"  # 2 clipped
    assert "clip at p90 of |w|" in texts(at)


def test_k_std_clipping_follows_its_slider(page):
    """Clipping at k·std uses the k slider: k = 1 clips the weights beyond one RMS."""
    at, grid, _ = page
    _controls(at, grid, clip="std")
    at.slider(key=f"{grid}-clip-k").set_value(1.0).run()
    res = quantize_grouped(toy_layer(SEED), 4, clip=ClipSpec.std(1.0))
    marks = _trace(_spec(at, f"{grid}-heatmaps"), "clipped")
    assert len(marks["customdata"]) == int(res.clipped.sum()) > 0
    assert "clip at 1σ" in texts(at)


def test_float_view_shows_fp32_fp16_bf16_beside_int4(page):
    """The float expander lists FP16 0.156372 and BF16 0.15625 with errors, and the bit strip."""
    at, _, weight = page
    _set(at, **{f"{weight}-floats": True})
    table = next(m.value for m in _widget(at, weight).markdown if m.value.startswith("| format"))
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in table.splitlines()[2:]]
    stored = {row[0]: float(row[2]) for row in cells}
    assert round(stored["FP16"], 6) == 0.156372
    assert stored["BF16"] == 0.15625
    assert round(stored["FP32"], 6) == 0.156347 and stored["FP32"] != 0.156347
    assert round(stored["int4 + scale"], 6) == 0.130029
    errors = [float(row[3]) for row in cells]  # FP32, FP16, BF16, int4
    assert errors == sorted(errors) and errors[0] > 0
    strip = _spec(at, f"{weight}-bit-strip")["data"][0]
    assert strip["y"] == ["FP32 = 0.1563470066", "FP16 = 0.1563720703", "BF16 = 0.15625"]


def test_packing_view_shows_the_layers_bytes(page):
    """The packing view shows pack_layer's hex: 4-bit qs, 6-bit ql/qh, the fp16 scale, bits/w."""
    at, grid, _ = page
    _set(at, **{f"{grid}-packing": True})
    w = toy_layer(SEED)
    text = _widget(at, grid).code[0].value
    four, six = text.split("\n\n")
    res4, res6 = quantize_grouped(w, 4), quantize_grouped(w, 6)
    hex4 = pack_layer(res4.q, 4, res4.scale).hex
    hex6 = pack_layer(res6.q, 6, res6.scale).hex
    assert f"qs      8 bytes  {hex4['qs']}" in four and f"scale   2 bytes  {hex4['scale']}" in four
    assert f"ql      8 bytes  {hex6['ql']}" in six and f"qh      4 bytes  {hex6['qh']}" in six
    assert hex6["scale"] in six
    assert "80 bits for 16 weights = 5.00 bits per weight" in four  # (8 + 2) bytes
    assert "112 bits for 16 weights = 7.00 bits per weight" in six  # (8 + 4 + 2) bytes
    _set(at, **{f"{grid}-layout": "ggml"})
    ggml = pack_layer(res4.q, 4, res4.scale, "ggml").hex["qs"]
    assert ggml != hex4["qs"] and ggml in _widget(at, grid).code[0].value


def test_packing_an_asymmetric_layer_stores_its_zero_point(page):
    """Asymmetric codes are stored as they are (no offset), with the zero-point packed beside."""
    at, grid, _ = page
    _controls(at, grid, scheme="asymmetric")
    _set(at, **{f"{grid}-packing": True})
    res = quantize_grouped(toy_layer(SEED), 4, "asymmetric")
    four = _widget(at, grid).code[0].value.split("\n\n")[0]
    assert pack_layer(res.q, 4, res.scale, signed=False).hex["qs"] in four
    assert f"zero    1 bytes  {res.zero_point[0]:02x}" in four
    assert "88 bits for 16 weights = 5.50 bits per weight" in four  # 8 + 2 + 1 bytes
