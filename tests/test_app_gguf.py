"""The GGUF block-format explorer and the Q4_K_M recipe view, in AppTest."""

from __future__ import annotations

import json

import numpy as np
from apptest_utils import open_page

from quantviz.ui.context import widget_key

PAGE = "lab2-objective1"
KEY = widget_key("lab2-objective1", "gguf-formats")
RECIPE_KEY = widget_key("lab2-objective1", "gguf-formats", 1) + "-recipe"


# --- the page --------------------------------------------------------------------------------


def _element(elements, key: str):
    """The element whose Streamlit id carries the widget key `key`."""
    return next(e for e in elements if e.proto.id.endswith(key))


def _frame(at, column: str):
    """The table that has `column` (a plain st.dataframe's proto carries no key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _rows(at) -> dict[str, dict]:
    table = _frame(at, "SNR (dB)")
    return {row["scheme"]: row for row in table.to_dict("records")}


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _code(at) -> str:
    return next(c.value for c in at.code if "B)" in c.value)


def test_explorer_table_has_the_toy_and_five_gguf_types() -> None:
    """The page renders; the table lists toy int4 and the five types with their real sizes."""
    at = open_page(PAGE)
    assert not at.exception, at.exception
    rows = _rows(at)
    assert list(rows) == ["toy int4 (per tensor)", "Q4_0", "Q4_K", "Q5_K", "Q6_K", "Q8_0"]
    bits = {name: row["bits / weight"] for name, row in rows.items()}
    assert bits == {
        "toy int4 (per tensor)": 4.0625,
        "Q4_0": 4.5,
        "Q4_K": 4.5,
        "Q5_K": 5.5,
        "Q6_K": 6.5625,
        "Q8_0": 8.5,
    }
    assert [row["bytes (256 weights)"] for row in rows.values()] == [130, 144, 144, 176, 210, 272]
    rmse = [row["RMSE"] for row in rows.values()]
    assert rmse[2:] == sorted(rmse[2:], reverse=True)  # more bits, less error among K and Q8_0
    chart = _element(at.get("plotly_chart"), f"{KEY}-errors")
    spec = json.loads(chart.proto.spec)
    assert [t["type"] for t in spec["data"]] == ["heatmap"] * 7 + ["scatter"] * 2


def test_outlier_makes_the_toy_scale_worse_than_q4_k() -> None:
    """With one outlier the toy's RMSE jumps and ends well above Q4_K's; the caption says why."""
    at = open_page(PAGE)
    toy = "toy int4 (per tensor)"
    before = _rows(at)
    at.segmented_control(key=f"{KEY}-dist").set_value("outlier").run()
    assert not at.exception, at.exception
    after = _rows(at)
    assert after[toy]["RMSE"] > 3 * before[toy]["RMSE"]
    assert after[toy]["RMSE"] > 2 * after["Q4_K"]["RMSE"]
    assert after[toy]["SNR (dB)"] < after["Q4_K"]["SNR (dB)"]
    caption = next(i.value for i in at.info if "toy int4 scale" in i.value)
    assert caption.startswith("The outlier") and "round to 0" in caption


def test_toy_bits_slider_changes_only_the_toy_row_and_new_draw_all() -> None:
    """At 8 bits the toy stores 258 bytes, lower RMSE, GGUF rows unchanged; New draw moves all."""
    at = open_page(PAGE)
    before = _rows(at)
    at.slider(key=f"{KEY}-bits").set_value(8).run()
    after = _rows(at)
    toy = after.pop("toy int8 (per tensor)")
    assert (toy["bits / weight"], toy["bytes (256 weights)"]) == (8.0625, 258)
    assert toy["RMSE"] < before["toy int4 (per tensor)"]["RMSE"]
    assert after == {k: v for k, v in before.items() if k.startswith("Q")}

    seed = at.number_input(key=f"{KEY}-seed").value
    assert seed is not None
    at.button(key=f"{KEY}-new").click().run()
    assert at.number_input(key=f"{KEY}-seed").value == seed + 1
    assert _rows(at)["Q4_K"]["RMSE"] != after["Q4_K"]["RMSE"]


def test_stored_view_shows_q4_k_scales_and_mins_then_q6_k_int8_scales() -> None:
    """Q4_K: d, dmin, eight 6-bit scales and mins, its 144 bytes; Q6_K: sixteen int8 scales."""
    at = open_page(PAGE)
    assert float(_metric(at, "d (fp16)")) > 0
    assert float(_metric(at, "dmin (fp16)")) > 0
    scales = _frame(at, "6-bit scale")
    assert len(scales) == 8
    assert scales["6-bit scale"].between(0, 63).all() and scales["6-bit min"].between(0, 63).all()
    code = _code(at)
    assert all(f in code for f in ("d (2 B)", "dmin (2 B)", "scales (12 B)", "qs (128 B)"))
    grid = json.loads(_element(at.get("plotly_chart"), f"{KEY}-codes").proto.spec)
    assert grid["data"][0]["type"] == "heatmap"

    at.segmented_control(key=f"{KEY}-stored").set_value("Q6_K").run()
    assert not at.exception, at.exception
    scales = _frame(at, "int8 scale")
    assert len(scales) == 16
    assert scales["int8 scale"].between(-128, 127).all()
    assert not any(m.label == "dmin (fp16)" for m in at.metric)
    assert "ql (128 B)" in _code(at) and "qh (64 B)" in _code(at)


def test_stored_view_of_q4_0_q5_k_q8_0_and_the_toy() -> None:
    """Q4_0 and Q8_0 list the d of their 8 blocks, Q5_K adds qh, the toy stores one scale."""
    at = open_page(PAGE)
    stored = at.segmented_control(key=f"{KEY}-stored")
    for scheme, column, n_rows, field in [
        ("Q4_0", "d (fp16)", 8, "qs (16 B)"),
        ("Q8_0", "d (fp16)", 8, "qs (32 B)"),
        ("Q5_K", "6-bit min", 8, "qh (32 B)"),
    ]:
        stored.set_value(scheme).run()
        assert not at.exception, (scheme, at.exception)
        assert len(_frame(at, column)) == n_rows
        assert field in _code(at)
    stored.set_value("toy").run()
    assert not at.exception, at.exception
    assert "scale (2 B)" in _code(at) and "codes (128 B)" in _code(at)
    assert _metric(at, "scale (one for all 256)")


def test_recipe_gives_q6_k_to_the_tied_embedding_and_f32_to_norms() -> None:
    """Gemma 4 E2B's text layout: both embedding tables Q6_K, every norm F32, the per-layer
    projection kept BF16, the rest Q4_K or Q6_K; the expected Q4/Q6 ratio shown; filterable."""
    at = open_page(PAGE)
    assert any("towers of the real file are not in this list" in c.value for c in at.caption)
    tensors = _frame(at, "reason")
    types = dict(zip(tensors["name"], tensors["type"], strict=True))
    assert types["token_embd.weight"] == "Q6_K"
    norms = [n for n in types if "norm" in n]
    assert norms and all(types[n] == "F32" for n in norms)
    assert types["blk.0.attn_v.weight"] == "Q6_K" and types["blk.4.attn_v.weight"] == "Q4_K"
    assert types["per_layer_token_embd.weight"] == "Q6_K"
    assert types["per_layer_model_proj.weight"] == "BF16"
    mix = _frame(at, "share of bytes")
    assert set(mix["type"]) == {"Q4_K", "Q6_K", "F32", "BF16"}
    assert 4.5 < float(_metric(at, "average bits / weight")) < 6.5625
    captions = " ".join(c.value for c in at.caption)
    assert "per_layer_token_embd is Gemma's per-layer embedding table" in captions
    assert "about 0.89 of the Q6_K file's size" in captions

    at.text_input(key=f"{RECIPE_KEY}-filter").input("norm").run()
    filtered = _frame(at, "reason")
    assert len(filtered) == len(norms) and set(filtered["type"]) == {"F32"}


def test_explorer_names_a_non_finite_weight_instead_of_failing(monkeypatch) -> None:
    """A draw holding NaN shows the quantizer's message (type, weight, block), no traceback."""
    from quantviz.ui.widgets import gguf_formats

    real = gguf_formats.draw_superblock

    def nan_at_37(seed: int, distribution="normal"):
        w = real(seed, distribution)
        w[37] = np.nan
        return w

    monkeypatch.setattr(gguf_formats, "draw_superblock", nan_at_37)
    gguf_formats._draw.cache_clear()  # a cached good draw would hide the fault
    at = open_page(PAGE)
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        "These weights cannot be quantized: Q4_0 needs finite weights, but weight 37 is NaN "
        "(block 1, weight 5 of its 32)."
    ]
    assert not any("SNR (dB)" in d.value.columns for d in at.dataframe)
    assert len(_frame(at, "share of bytes")) >= 2  # the rest of the page, the recipe, renders


def _recipe_app() -> None:
    import streamlit as st

    from quantviz.ui.widgets.gguf_formats import render_recipe

    tensors = [
        {"name": "token_embd.weight", "type": "Q4_K", "shape": [512, 1000]},
        {"name": "blk.0.attn_norm.weight", "type": "F32", "shape": [512]},
        {"name": "blk.0.attn_v.weight", "type": "Q6_K", "shape": [512, 128]},
        {"name": "blk.0.ffn_down.weight", "type": "Q6_K", "shape": [1024, 512]},
        {"name": "blk.0.ffn_up.weight", "type": "Q4_K", "shape": [512, 1024]},
        {"name": "output.weight", "type": "Q6_K", "shape": [512, 1000]},
    ]
    summary = render_recipe(tensors, "real", "from the endpoint")
    st.session_state["bits"] = summary.bits_per_weight if summary else None


def test_render_recipe_takes_api_show_entries_and_returns_the_summary() -> None:
    """/api/show tensors as they come: output.weight Q6_K, token_embd the default Q4_K."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_recipe_app, default_timeout=30).run()
    assert not at.exception, at.exception
    tensors = _frame(at, "reason")
    types = dict(zip(tensors["name"], tensors["type"], strict=True))
    assert types["output.weight"] == "Q6_K" and types["token_embd.weight"] == "Q4_K"
    assert types["blk.0.attn_norm.weight"] == "F32"
    assert f"{at.session_state['bits']:.2f}" == _metric(at, "average bits / weight")
    assert any(c.value == "from the endpoint" for c in at.caption)


def test_the_readout_is_announced_politely_when_the_bits_change() -> None:
    """A polite live region repeats the explorer's key numbers (toy, Q4_K, Q6_K: RMSE and SNR
    as the table shows them), and says the new toy width once the bits slider moves."""
    from apptest_utils import live_text

    at = open_page(PAGE)
    rows = _rows(at)
    said = live_text(at, f"{KEY}-live")
    toy = rows["toy int4 (per tensor)"]
    assert said.startswith(f"toy int4 (per tensor): RMSE {toy['RMSE']:.2e}, SNR ")
    assert f"Q4_K: RMSE {rows['Q4_K']['RMSE']:.2e}" in said
    at.slider(key=f"{KEY}-bits").set_value(8).run()
    toy8 = _rows(at)["toy int8 (per tensor)"]
    assert live_text(at, f"{KEY}-live").startswith(
        f"toy int8 (per tensor): RMSE {toy8['RMSE']:.2e}"
    )
