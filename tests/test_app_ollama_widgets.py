"""AppTest of the pull, storage and metadata widgets against the Ollama-protocol test server."""

from __future__ import annotations

import json

import pytest
from apptest_utils import go_to, open_page, texts
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer

from quantviz.ui import session
from quantviz.ui.context import widget_key
from quantviz.ui.session import API_KEY

PULL = widget_key("lab2-objective2", "model-pull")
STORAGE = widget_key("lab2-objective3", "storage-savings")
META = widget_key("lab2-objective4", "metadata-compare")

TYPO_LAB = """---
order: 9
title: "Lab 9 - A misspelt tag"
models:
  Q4: batiai/gemma4-e2b:q3
  Q6: batiai/gemma4-e2b:q6
---

Intro.

## Objective 1: Pull

<div data-model-pull></div>
"""


@pytest.fixture
def server(ollama_server: OllamaTestServer, monkeypatch) -> OllamaTestServer:
    """The test server as the app's endpoint (OLLAMA_HOST, no instructor section)."""
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    return ollama_server


def _errors(at) -> str:
    return "\n".join(e.value for e in at.error)


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _evidence(at, kind: str) -> list:
    log = at.session_state[session.EVIDENCE]
    return log.filter(kind)


def _progress(at) -> list:
    return [(e.proto.value, e.proto.text) for e in at.get("progress")]


def _chart(at, key: str) -> dict:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id)
    return json.loads(chart.proto.spec)


def _gb(n: int) -> str:
    """Decimal GB with two digits, as `ollama list` and the widgets print sizes."""
    return f"{n / 1e9:.2f} GB"


def _switch(at, url_path: str):
    return go_to(at, url_path)


# --------------------------------------------------------------------------- pull


def test_pull_lists_installed_tags_with_sizes_endpoint_and_settings_link(server):
    """Each configured tag shows whether the endpoint has it, with its exact size; the widget
    names the endpoint host and links to the settings page."""
    server.remove_model(Q6_TAG)
    at = open_page("lab2-objective2")
    assert not at.exception
    page = texts(at)
    size = server.catalog[Q4_TAG].size
    assert f"**Q4** `{Q4_TAG}` · :green[on the endpoint] · {_gb(size)} ({size:,} bytes)" in page
    assert f"**Q6** `{Q6_TAG}` · :orange[not on this endpoint]" in page
    assert f"Endpoint `127.0.0.1:{server.port}` (from OLLAMA_HOST)" in page
    links = [link.proto.page for link in at.get("page_link")]
    assert "settings" in links
    assert at.button(key=f"{PULL}-pull-Q6").label == "Pull"


def test_pull_streams_to_100_percent_and_refreshes_the_installed_state(server):
    """Pulling a missing tag fills every layer's bar to 100 %, ends in success, shows the tag
    as installed, and records a pull evidence record with the layers."""
    server.remove_model(Q4_TAG)
    at = open_page("lab2-objective2")
    assert f"**Q4** `{Q4_TAG}` · :orange[not on this endpoint]" in texts(at)
    at.button(key=f"{PULL}-pull-Q4").click().run()
    assert not at.exception
    bars = _progress(at)
    assert len(bars) == 5  # overall + the tag's four layers
    assert all(value == 100 for value, _ in bars)
    size = _gb(server.catalog[Q4_TAG].size)
    assert bars[0][1].startswith(f"All layers: {size} / {size} (4 layers)")
    weights = server.catalog[Q4_TAG].layers[0][1]  # the GGUF blob, the largest layer
    assert any(f"({weights:,} / {weights:,} bytes)" in text for _, text in bars[1:])
    assert "Status: success" in texts(at)
    assert any(f"Pulled Q4 `{Q4_TAG}`: 4 layers" in s.value for s in at.success)
    assert f"**Q4** `{Q4_TAG}` · :green[on the endpoint]" in texts(at)
    assert at.button(key=f"{PULL}-pull-Q4").label == "Pull again"
    record = _evidence(at, "pull")[-2]  # the pull, then the new installed state
    assert record.payload["outcome"] == "success"
    assert record.payload["n_layers"] == 4
    assert record.payload["largest_layer_bytes"] == weights
    assert _evidence(at, "pull")[-1].payload["tags"][0]["present"] is True
    assert len(server.requests_to("/api/pull")) == 1


def test_pull_of_a_misspelt_tag_shows_ollamas_manifest_error(server, monkeypatch, tmp_path):
    """A tag the registry does not know fails with `pull model manifest: file does not exist`,
    and the page stays usable."""
    (tmp_path / "lab-09.md").write_text(TYPO_LAB)
    monkeypatch.setenv("QUANTVIZ_LABS_DIR", str(tmp_path))
    at = open_page("lab9-objective1")
    key = widget_key("lab9-objective1", "model-pull")
    at.button(key=f"{key}-pull-Q4").click().run()
    assert not at.exception
    assert "pull model manifest: file does not exist" in _errors(at).replace("\\", "")
    assert "misspelled tag" in texts(at)
    assert _evidence(at, "pull")[-1].payload["error_kind"] == "not_found"
    assert not at.button(key=f"{key}-pull-Q6").disabled


def test_pull_cut_mid_stream_says_so_and_a_retry_succeeds(server):
    """A dropped connection mid-pull is a clear error with partial bars; pulling again works."""
    server.remove_model(Q4_TAG)
    server.cut_stream_after(4, path="/api/pull", times=1)
    at = open_page("lab2-objective2")
    at.button(key=f"{PULL}-pull-Q4").click().run()
    assert not at.exception
    assert "connection dropped" in _errors(at)
    assert "a pull resumes where it stopped" in _errors(at)
    assert 0 < _progress(at)[0][0] < 100
    assert f"**Q4** `{Q4_TAG}` · :orange[not on this endpoint]" in texts(at)
    at.button(key=f"{PULL}-pull-Q4").click().run()
    assert any("Pulled Q4" in s.value for s in at.success)
    assert not at.error


def test_pull_refused_with_401_asks_to_check_the_api_key(server):
    """A pull the server refuses for want of a key says to check the API key."""
    at = open_page("lab2-objective2")
    server.set_api_key("class-key")
    at.button(key=f"{PULL}-pull-Q4").click().run()
    assert not at.exception
    assert "(HTTP 401): check the API key" in _errors(at).replace("\\", "")


def test_pull_disabled_with_the_reason_when_the_instructor_forbids_it(ollama_server):
    """allow_pull = false disables every Pull button and says why."""
    at = open_page(
        "lab2-objective2", secrets={"ollama": {"host": ollama_server.url, "allow_pull": False}}
    )
    assert at.button(key=f"{PULL}-pull-Q4").disabled
    assert at.button(key=f"{PULL}-pull-Q6").disabled
    assert "`allow_pull = false`" in texts(at)
    assert "set by the instructor" in texts(at)
    assert not ollama_server.requests_to("/api/pull")


def test_model_list_is_cached_per_session_until_refresh(server):
    """A rerun and another widget of the session reuse /api/tags; Refresh asks again."""
    at = open_page("lab2-objective2")
    assert len(server.requests_to("/api/tags")) == 1
    at.run()
    _switch(at, "lab2-objective3")
    assert _metric(at, "Q4 size") == _gb(server.catalog[Q4_TAG].size)
    assert len(server.requests_to("/api/tags")) == 1
    at.button(key=f"{STORAGE}-refresh").click().run()
    assert len(server.requests_to("/api/tags")) == 2


def test_unreachable_endpoint_is_a_clear_error_and_the_page_still_renders(monkeypatch):
    """With nothing listening, each widget says so and the rest of the page renders."""
    from streamlit_process import free_port

    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{free_port()}")
    for url_path in ("lab2-objective2", "lab2-objective3", "lab2-objective4"):
        at = open_page(url_path)
        assert not at.exception
        assert "connection refused" in _errors(at)
        assert at.header[0].value.startswith("Objective")
        assert any("Next:" in link.proto.label for link in at.get("page_link"))


def test_not_an_ollama_server_is_named(server):
    """An address that answers 404 to /api/tags is reported as not an Ollama server."""
    server.force_status("/api/tags", 404, "404 page not found", content_type="text/plain")
    at = open_page("lab2-objective2")
    assert "has no Ollama API" in _errors(at)


def test_a_corrected_key_is_not_answered_from_the_cached_401(server):
    """The cache is per key: after a 401, entering the key fetches again and succeeds."""
    server.set_api_key("class-key")
    at = open_page("lab2-objective2")
    assert "check the API key" in _errors(at)
    at.session_state[API_KEY] = "class-key"
    at.run()
    assert not at.error
    assert "your API key (hidden)" in texts(at)
    assert "class-key" not in texts(at)
    assert server.requests_to("/api/tags")[-1].headers["authorization"] == "Bearer class-key"


# --------------------------------------------------------------------------- storage


def test_storage_shows_sizes_savings_ratio_and_bits_per_weight(server):
    """Sizes, bytes and percent saved, the ratio and bits/weight beside 4.8 and 6.6, a bar
    chart of the sizes, and a storage evidence record. Expected figures are the lab's formulas
    applied to the endpoint's own sizes and parameter count."""
    q4, q6 = server.catalog[Q4_TAG].size, server.catalog[Q6_TAG].size
    params = server.catalog[Q4_TAG].parameter_count
    at = open_page("lab2-objective3")
    assert not at.exception
    assert _metric(at, "Q4 size") == _gb(q4)
    assert _metric(at, "Q6 size") == _gb(q6)
    assert _metric(at, "Bytes saved") == f"{(q6 - q4) / 1e6:.0f} MB"  # one format_bytes
    assert _metric(at, "Percent saved") == f"{(q6 - q4) / q6 * 100:.1f} %"
    assert _metric(at, "Size ratio") == f"{q4 / q6:.3f}"
    assert _metric(at, "Q4 bits/weight (est.)") == f"{q4 * 8 / params:.2f}"
    assert _metric(at, "Q6 bits/weight (est.)") == f"{q6 * 8 / params:.2f}"
    page = texts(at)
    assert f"Exact: {q6:,} − {q4:,} = {q6 - q4:,} bytes saved (Q6 − Q4)." in page
    assert "Nominal for Q4_K_M: about 4.8" in page
    assert "Nominal for Q6_K: about 6.6" in page
    assert "predict a ratio of 0.73" in page
    bars = _chart(at, f"{STORAGE}-chart")["data"][0]
    assert bars["x"] == ["Q4", "Q6"]
    assert bars["y"] == pytest.approx([q4 / 1e9, q6 / 1e9])
    (record,) = _evidence(at, "storage")
    assert record.payload["bytes_saved"] == q6 - q4
    assert record.payload["tags"][0]["parameter_count"] == params
    at.run()
    assert len(_evidence(at, "storage")) == 1  # a rerun is not a new measurement


def test_storage_sets_the_recipe_ratio_beside_the_measured_one(server):
    """On E2B the recipes predict ~0.91 for the whole file (0.89 for the text weights, the towers
    are 16-bit in both), the endpoint measures about the same, and the rule of thumb says 0.73;
    the reason names the per-layer embedding table. Bits per weight: predicted and measured."""
    at = open_page("lab2-objective3")
    assert not at.exception
    predicted = float(_metric(at, "Ratio the recipe predicts"))
    measured = float(_metric(at, "Measured ratio"))
    assert 0.90 < predicted < 0.93 and abs(predicted - measured) < 0.01
    assert _metric(at, "Rule of thumb") == "0.73"
    page = texts(at).replace("\\", "")
    assert "Why not 0.73" in page and "per_layer_token_embd" in page
    assert "Q4: " in page and "predicted by the recipe (Objective 1)" in page
    record = _evidence(at, "storage")[0].payload["recipe_expectation"]
    assert record["ratio"] == pytest.approx(predicted, abs=5e-4)


def test_storage_names_a_missing_tag_and_links_to_the_pull_widget(server):
    """A tag missing from the endpoint is named, with a link to the pull widget's page."""
    server.remove_model(Q6_TAG)
    at = open_page("lab2-objective3")
    assert not at.exception
    (warning,) = at.warning
    assert "**Q6**" in warning.value and Q6_TAG in warning.value
    link = next(lk for lk in at.get("page_link") if lk.proto.label == "Pull Q6 in the pull widget")
    assert link.proto.page == "lab2-objective2"
    assert _metric(at, "Q4 size") == _gb(server.catalog[Q4_TAG].size)
    assert not [m for m in at.metric if m.label == "Bytes saved"]


# --------------------------------------------------------------------------- metadata


def _by_tag(trace: dict) -> dict:
    return dict(zip(trace["x"], trace["y"], strict=True))


def _table(at):
    return at.dataframe[0].value.set_index("field")


def test_metadata_marks_identical_rows_and_highlights_differing_ones(server):
    """Architecture, layers, tokenizer... are ✓ identical; quantization level and file type
    differ and are highlighted; the claims are verified; a metadata record is kept."""
    at = open_page("lab2-objective4")
    assert not at.exception
    table = _table(at)
    assert table.loc["Architecture", "Q4"] == "gemma4"
    assert table.loc["Layers (blocks)", "match"] == "✓ identical"
    assert table.loc["Vocabulary size", "Q6"] == "262,144"
    assert table.loc["Tokenizer model", "match"] == "✓ identical"
    assert table.loc["Quantization level", ["Q4", "Q6", "match"]].tolist() == [
        "Q4_K_M",
        "Q6_K",
        "≠ differs",
    ]
    assert table.loc["File type", ["Q4", "Q6"]].tolist() == ["15 (Q4_K_M)", "18 (Q6_K)"]
    assert set(table.index[table["match"] == "≠ differs"]) == {"Quantization level", "File type"}
    styles = at.dataframe[0].proto.arrow_data.styler.styles
    highlighted = {i for i, name in enumerate(table.index) if f"_row{i}_" in styles}
    assert highlighted == {list(table.index).index("Quantization level"),
                           list(table.index).index("File type")}  # fmt: skip
    assert "Same layer count: **verified** (35 / 35)" in texts(at)
    (record,) = _evidence(at, "metadata")
    assert record.payload["claims"] == {
        "Same architecture": "verified",
        "Same layer count": "verified",
        "Same tokenizer": "verified",
    }


def test_metadata_type_mix_chart_counts_tensors_and_bytes_by_type(server):
    """The stacked chart counts the E2B files' tensors by type (Q4: 36 Q6_K, 281 Q4_K; Q6: 317
    Q6_K; both: the same F32 vectors, BF16 and F16 matrices llama-quantize leaves alone), and
    the Q4 file's types all match llama.cpp's recipe: no false alarm."""
    at = open_page("lab2-objective4")
    spec = _chart(at, f"{META}-mix")
    assert spec["layout"]["barmode"] == "stack"
    counts = {t["name"]: _by_tag(t) for t in spec["data"] if t.get("xaxis") == "x2"}
    assert counts["Q6_K"] == {"Q4": 36, "Q6": 317}
    assert counts["Q4_K"] == {"Q4": 281, "Q6": 0}
    assert counts["F32"]["Q4"] == counts["F32"]["Q6"]
    assert counts["BF16"]["Q4"] == counts["BF16"]["Q6"] and counts["F16"] == {
        "Q4": counts["F16"]["Q6"],
        "Q6": counts["F16"]["Q6"],
    }
    gb = {t["name"]: _by_tag(t) for t in spec["data"] if t.get("xaxis") != "x2"}
    q4_k = [t for t in server.catalog[Q4_TAG].tensors if t.type == "Q4_K"]
    assert gb["Q4_K"]["Q4"] == pytest.approx(sum(t.n_bytes for t in q4_k) / 1e9)
    mix = _evidence(at, "metadata")[0].payload["type_mix"]
    q6_k = [t for t in server.catalog[Q6_TAG].tensors if t.type == "Q6_K"]
    assert mix["Q6"]["Q6_K"] == {
        "count": 317,
        "bytes": sum(t.n_bytes for t in q6_k),
        "weights": sum(t.n_elements for t in q6_k),
    }
    page = texts(at)
    assert "tensors of Q4 has the type llama.cpp's Q4_K_M recipe gives it" in page
    assert "differ from llama.cpp's" not in page
    assert "in the vision and audio towers" in page
    assert "per_layer_token_embd.weight is Gemma's per-layer embedding table" in page
    assert "Compare Q4 with llama.cpp's Q4_K_M recipe" in [e.label for e in at.expander]
    check = _evidence(at, "metadata")[0].payload["q4_k_m_recipe_check"]
    assert check["mismatches"] == [] and check["kept"] > 0
    odd = _evidence(at, "metadata")[0].payload["odd_tensors"]
    assert len(odd["Q4"]["Q6_K"]) == 36 and "token_embd.weight" in odd["Q4"]["Q6_K"]
    assert "per_layer_token_embd.weight" in odd["Q4"]["Q6_K"]
    assert odd["Q6"] == {}


def test_metadata_invented_model_type_mix(monkeypatch):
    """The invented Gemma-like model (no towers): Q4_K + Q6_K + F32 for Q4, Q6_K + F32 for Q6,
    and its Q6_K tensors match the recipe."""
    with OllamaTestServer(model="gemma-like") as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        at = open_page("lab2-objective4")
        spec = _chart(at, f"{META}-mix")
        counts = {t["name"]: _by_tag(t) for t in spec["data"] if t.get("xaxis") == "x2"}
        assert counts == {
            "Q6_K": {"Q4": 35, "Q6": 246},
            "Q4_K": {"Q4": 211, "Q6": 0},
            "F32": {"Q4": 211, "Q6": 211},
        }
        gb = {t["name"]: _by_tag(t) for t in spec["data"] if t.get("xaxis") != "x2"}
        assert gb["Q4_K"]["Q4"] == pytest.approx(1_026_883_584 / 1e9)
        assert "tensors of Q4 has the type llama.cpp's Q4_K_M recipe gives it" in texts(at)


def test_metadata_shows_per_layer_arrays_compactly(monkeypatch):
    """Per-layer head counts display as a range with runs, and match across tags."""
    with OllamaTestServer(model="gemma-like", per_layer_heads=True) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        at = open_page("lab2-objective4")
        row = _table(at).loc["Attention heads"]
        assert row["Q4"] == row["Q6"] == "4–8 (per layer: 8×20, 4×15)"
        assert row["match"] == "✓ identical"


def test_metadata_asks_verbose_for_arrays_the_server_left_out(monkeypatch):
    """When the server elides a per-layer array a row needs, the Ollama layer asks again with
    verbose by itself: the row shows the values and no verbose toggle is needed."""
    with OllamaTestServer(model="gemma-like", per_layer_heads=True, elide_arrays="all") as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        at = open_page("lab2-objective4")
        row = _table(at).loc["Attention heads"]
        assert row["Q4"] == "4–8 (per layer: 8×20, 4×15)"
        assert row["match"] == "✓ identical"
        verbose = [r.body.get("verbose") for r in srv.requests_to("/api/show")]
        assert verbose.count(True) == 2 and verbose.count(None) == 2
        assert not at.toggle


def test_metadata_of_e2b_shows_the_per_layer_ffn_and_the_shared_vocabulary(server):
    """E2B's FFN width is a per-layer array a non-verbose show leaves out: shown after the
    verbose retry as 6144 on 15 layers and 12288 on 20; the vocabulary is counted from the
    token list without keeping it."""
    at = open_page("lab2-objective4")
    table = _table(at)
    assert table.loc["Feed-forward length", "Q4"] == "6144–12,288 (per layer: 6144×15, 12,288×20)"
    assert table.loc["Vocabulary size", "Q4"] == "262,144"
    assert table.loc["Vocabulary size", "key"] == "tokenizer.ggml.tokens"
    assert table.loc["KV heads", "Q6"] == "1"
    assert table.loc["Head dimension", "Q4"] == "512"


def test_metadata_names_a_missing_tag_and_links_to_the_pull_widget(server):
    """Without one tag there is no comparison, but a warning naming it and a pull link."""
    server.remove_model(Q4_TAG)
    at = open_page("lab2-objective4")
    assert not at.exception
    assert Q4_TAG in at.warning[0].value
    assert any(lk.proto.page == "lab2-objective2" for lk in at.get("page_link"))
    assert not at.dataframe


def test_malformed_answers_are_named_on_the_page_not_raised(server):
    """A size of 10^30 in /api/tags and a shape of strings in /api/show show a clear error that
    names the field; the pages still render and nothing raises."""
    model = {"name": Q4_TAG, "model": Q4_TAG, "size": 10**30, "digest": "d"}
    server.force_status("/api/tags", 200, {"models": [model]})
    at = open_page("lab2-objective3")
    assert not at.exception
    errors = _errors(at).replace("\\", "")
    assert "/api/tags answer is malformed: models[0].size" in errors
    assert "Check that the address is an Ollama server" in errors

    server.force_status("/api/show", 200, {
        "model_info": {"general.architecture": "gemma4"},
        "tensors": [{"name": "token_embd.weight", "type": "Q6_K", "shape": ["1536", "x"]}],
    })  # fmt: skip
    at = open_page("lab2-objective4")
    assert not at.exception
    errors = _errors(at).replace("\\", "")
    assert "/api/show answer is malformed: tensors[0].shape (token_embd.weight)" in errors
