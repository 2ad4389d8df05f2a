"""AppTest of the quality probe (Objective 5) against the Ollama-protocol test server."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from apptest_utils import open_page, texts
from ollama_server import Q4_TAG, Q6_TAG
from streamlit_process import free_port

from quantviz.ui import session
from quantviz.ui.context import widget_key
from quantviz.ui.widgets import quality_probe

PAGE = "lab2-objective5"
KEY = widget_key("lab2-objective5", "quality-probe")

# Both tags answer these right (the pelican SVG comes from the server's default replies).
RIGHT = {
    "17 × 23": "391",
    "12 eggs": "89",
    "capital city of Australia": "Canberra",
    "describing a book": '{"title": "Dune", "year": 1965, "authors": ["Frank Herbert"]}',
    "strawberry": "3",
    "ocean in exactly three words": "DEEP VAST BLUE",
    "first five prime": "2, 3, 5, 7, 11",
}
# ...and Q4 gets these three wrong.
WRONG_Q4 = {
    "17 × 23": "The answer is 392.",
    "describing a book": '{"title": "Dune", "year": "1965", "authors": ["Frank Herbert"]}',
    "strawberry": "2",
}


@pytest.fixture
def server(ollama_server, monkeypatch):
    """The test server with scripted probe answers, and the app pointed at it."""
    for prompt, text in RIGHT.items():
        ollama_server.script("*", prompt, text)
    for prompt, text in WRONG_Q4.items():
        ollama_server.script(Q4_TAG, prompt, text)
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    return ollama_server


def _run_probe():
    at = open_page(PAGE)
    at.button(key=f"{KEY}-run").click().run()
    assert not at.exception, at.exception
    return at


def _results(at):
    """The per-prompt results table, indexed by prompt id."""
    frame = next(df.value for df in at.dataframe if "first differing token" in df.value.columns)
    return frame.set_index("prompt")


def _unescaped(elements) -> str:
    """The values of callouts joined, Markdown backslash escapes removed."""
    return " ".join(re.sub(r"\\(.)", r"\1", e.value) for e in elements)


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _figures(at) -> dict[str, dict]:
    """Plotly figures of the page by title."""
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        out[spec["layout"]["title"]["text"]] = spec
    return out


def _probe_records(at):
    return [r for r in at.session_state[session.EVIDENCE] if r.kind == "probe"]


def test_full_probe_run_scores_compares_and_records(server):
    """A full run: Q4 fails three checks with reasons, Q6 passes all, logprob figures shown."""
    at = _run_probe()
    shown = texts(at)
    assert "Finished: 8 prompts on both tags." in shown
    assert "8 prompts from the built-in battery" in shown
    assert _metric(at, "Q4 checks passed") == "5 / 8"
    assert _metric(at, "Q6 checks passed") == "8 / 8"

    table = _results(at)
    assert list(table["Q6"]) == ["pass"] * 8
    assert table.loc["multiply", "Q4"] == "fail"
    assert table.loc["multiply", "Q4: reason"] == "answered 392, expected 391"
    assert table.loc["json-book", "Q4: reason"] == "'year' is string, expected integer"
    assert table.loc["count-r", "Q4: reason"] == "counted 2 × 'r' in 'strawberry', the word has 3"
    assert table.loc["capital", "Q4: reason"] == "mentions 'Canberra'"
    # Same answer: identical tokens, similarity 1, yet the logprobs differ (Q4 is less sure).
    assert table.loc["capital", "first differing token"] == "identical"
    assert float(table.loc["capital", "similarity"]) == 1.0
    assert float(table.loc["capital", "mean |Δ logprob|"]) > 0
    assert float(table.loc["capital", "top-k overlap"]) == 1.0
    # Different answers part at the first token.
    assert table.loc["multiply", "first differing token"] == "0"
    assert float(table.loc["multiply", "similarity"]) < 0.5
    assert "Exactly one tag passed: multiply (only Q6), json-book (only Q6), count-r (only Q6)" in (
        shown
    )

    figures = _figures(at)
    passes = figures["Probe checks passed"]["data"]
    assert [trace["name"] for trace in passes] == ["Q4", "Q6"]
    assert passes[0]["y"][0] == 5 and passes[1]["y"][0] == 8
    assert "Agreement between Q4 and Q6 (difflib ratio over tokens)" in figures
    assert "Log-probabilities over the agreed prefix: Q4 vs Q6" in figures
    tokens = figures["Per-token log-probabilities: multiply"]["data"]
    assert [trace["name"] for trace in tokens] == ["Q4", "Q6"]
    assert all(y <= 0 for trace in tokens for y in trace["y"])

    chats = server.requests_to("/api/chat")
    assert len(chats) == 16
    for request in chats:
        body = request.body
        assert body["options"]["temperature"] == 0 and body["options"]["seed"] == 42
        assert body["options"]["num_predict"] == 1024  # the instructor's cap
        assert body["logprobs"] is True and body["top_logprobs"] == 5

    (record,) = _probe_records(at)
    assert record.title == "Quality probe: Q4 5/8, Q6 8/8"
    assert record.payload["status"] == "finished"
    assert record.payload["passes"] == {Q4_TAG: [5, 8], Q6_TAG: [8, 8]}
    assert record.payload["endpoint"] == server.url
    multiply = record.payload["probes"][0]
    assert multiply["answers"][Q4_TAG]["output"] == "The answer is 392."
    assert multiply["comparison"]["first_diff"] == 0


def test_endpoint_without_logprobs_is_named_and_the_rest_works(server):
    """An endpoint that ignores logprobs is named as such; pass/fail and similarity still work."""
    server.set_supports_logprobs(False)
    server.set_version("0.12.3")
    at = _run_probe()
    notice = _unescaped(at.info)
    assert f"This endpoint (`{server.url}`, Ollama 0.12.3) does not return log-probabilities" in (
        notice
    )

    assert _metric(at, "Q4 checks passed") == "5 / 8"
    assert _metric(at, "Q6 checks passed") == "8 / 8"
    table = _results(at)
    assert table.loc["multiply", "Q4: reason"] == "answered 392, expected 391"
    assert float(table.loc["capital", "similarity"]) == 1.0
    assert (table["mean |Δ logprob|"] == "—").all()  # no figure: a dash, never "None"
    assert "None" not in table.to_string()
    figures = _figures(at)
    assert "Probe checks passed" in figures
    assert not [title for title in figures if "og-probabilities" in title]
    (record,) = _probe_records(at)
    assert record.payload["summary"]["logprobs_supported"] is False


def test_cancelled_halfway_keeps_the_finished_results(server, monkeypatch):
    """Cancel while the fifth answer is on its way: two prompts and one answer are kept."""
    real_collect = quality_probe.collect_reply
    calls: list[str] = []

    def cancel_during_fifth(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 5:
            # What the Cancel button's on_click does when the click arrives mid-request.
            quality_probe._request_cancel(f"{KEY}-job")
        return real_collect(*args, **kwargs)

    monkeypatch.setattr(quality_probe, "collect_reply", cancel_during_fifth)
    at = _run_probe()
    assert len(server.requests_to("/api/chat")) == 5
    assert any("Cancelled after 2 of 8 prompts" in w.value for w in at.warning)
    assert _metric(at, "Q4 checks passed") == "2 / 3"  # multiply is wrong on Q4
    assert _metric(at, "Q6 checks passed") == "2 / 2"
    table = _results(at)
    assert list(table.index) == ["multiply", "word-problem", "capital"]
    assert table.loc["capital", "Q4"] == "pass"
    assert table.loc["capital", "Q6"] == "not asked"
    assert table.loc["capital", "first differing token"] == "—"

    (record,) = _probe_records(at)
    assert record.title == "Quality probe: Q4 2/3, Q6 2/2 (cancelled after 2 of 8 prompts)"
    assert record.payload["status"] == "cancelled" and record.payload["completed"] == 2
    measured = at.session_state[session.MEASUREMENTS]  # what the decision reads of the run
    q4, q6 = measured.probe_score(Q4_TAG), measured.probe_score(Q6_TAG)
    assert q4 is not None and q6 is not None
    assert (q4.passed, q4.total, q6.passed, q6.total) == (1, 2, 2, 2)  # the 2 finished prompts

    assert not [b for b in at.button if b.key == f"{KEY}-cancel"]
    at.button(key=f"{KEY}-run").click().run()
    assert "Finished: 8 prompts on both tags." in texts(at)
    assert len(_probe_records(at)) == 2


def test_an_error_mid_run_is_explained_and_keeps_finished_answers(server, monkeypatch):
    """A 401 on the fourth request stops the probe with a clear error; prompt one is kept."""
    real_collect = quality_probe.collect_reply
    calls: list[str] = []

    def key_required_after_three(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 4:
            server.set_api_key("now-a-key-is-needed")
        return real_collect(*args, **kwargs)

    monkeypatch.setattr(quality_probe, "collect_reply", key_required_after_three)
    at = _run_probe()
    assert "The server refused to chat with batiai/gemma4-e2b:q6 (HTTP 401): check the API key" in (
        _unescaped(at.error)
    )
    assert "The probe stopped after 1 of 8 prompts" in texts(at)
    assert [p.proto.label for p in at.get("page_link")].count("Check the endpoint and API key") == 1
    table = _results(at)
    assert list(table.index) == ["multiply", "word-problem"]
    assert table.loc["word-problem", "Q4"] == "pass"
    assert table.loc["word-problem", "Q6"] == "not asked"
    (record,) = _probe_records(at)
    assert record.payload["status"] == "failed"
    assert "check the API key" in record.payload["error"]


def test_missing_tag_or_no_endpoint_is_said_before_anything_runs(server, monkeypatch):
    """A tag the endpoint lacks links to the pull widget; an unreachable endpoint to settings."""
    server.remove_model(Q6_TAG)
    at = _run_probe()
    assert f"This endpoint does not have Q6 `{Q6_TAG}` yet" in _unescaped(at.error)
    assert "Pull the models first" in [p.proto.label for p in at.get("page_link")]
    assert not server.requests_to("/api/chat")

    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{free_port()}")  # nothing listens
    at = _run_probe()
    assert "Nothing is answering at this address (connection refused)" in _unescaped(at.error)
    assert "Check the endpoint and API key" in [p.proto.label for p in at.get("page_link")]


def test_an_instructor_battery_beside_the_lab_replaces_the_builtin(server, monkeypatch, tmp_path):
    """A `<lab>.probe.yaml` beside the lab is used and named; a broken one falls back, said so."""
    lab = Path(__file__).resolve().parents[1] / "labs" / "lab-02-quantization-tradeoffs.md"
    shutil.copy(lab, tmp_path / lab.name)
    battery = tmp_path / "lab-02-quantization-tradeoffs.probe.yaml"
    battery.write_text(
        "probes:\n"
        "  - id: tungsten\n"
        "    category: fact\n"
        "    prompt: What is the chemical symbol for tungsten? Reply with the symbol only.\n"
        "    check: {kind: regex, pattern: '^\\s*W\\s*$'}\n"
        "  - id: strawberry\n"
        '    prompt: How many times does the letter r appear in "strawberry"?\n'
        "    check: {kind: letter_count, word: strawberry, letter: r}\n",
        encoding="utf-8",
    )
    server.script("*", "tungsten", "W")
    server.script(Q4_TAG, "tungsten", "Wo")
    monkeypatch.setenv("QUANTVIZ_LABS_DIR", str(tmp_path))
    at = _run_probe()
    assert (
        "2 prompts from the lab's own battery (`lab-02-quantization-tradeoffs.probe.yaml`, "
        "beside the lab file)" in texts(at)
    )
    assert len(server.requests_to("/api/chat")) == 4
    table = _results(at)
    assert list(table.index) == ["tungsten", "strawberry"]
    assert table.loc["tungsten", "Q4"] == "fail" and table.loc["tungsten", "Q6"] == "pass"

    battery.write_text("probes:\n  - id: x\n    prompt: hi\n    check: {kind: nope}\n")
    at = open_page(PAGE)
    assert "check kind 'nope' is unknown" in _unescaped(at.error)
    assert "8 prompts from the built-in battery" in texts(at)


def test_a_new_server_without_logprobs_is_not_told_to_upgrade(server):
    """Ollama 0.33.0 is later than 0.12.11 (as versions, not text): when it sends no logprobs
    the notice says so, instead of asking for a version it already has."""
    server.set_supports_logprobs(False)
    server.set_version("0.33.0")
    at = _run_probe()
    notice = _unescaped(at.info)
    assert f"This endpoint (`{server.url}`, Ollama 0.33.0) sent no log-probabilities" in notice
    assert "although Ollama returns them from 0.12.11 on" in notice
    assert "or later" not in notice


def test_pass_counts_come_with_their_uncertainty(server):
    """5/8 against 8/8 shows each count's 95 % interval and says the difference is within
    noise (the intervals overlap)."""
    at = _run_probe()
    shown = _unescaped(at.caption)
    assert "Q4 5/8 passed (95 % interval 30–87 %)" in shown
    assert "Q6 8/8 passed (95 % interval 67–100 %)" in shown
    assert "within noise" in shown


def test_word_tokens_are_called_words(server):
    """Without logprobs the detail line counts words ("over 7 and 3 words"), no "words
    tokens"."""
    server.set_supports_logprobs(False)
    at = _run_probe()
    detail = " ".join(t.value for t in at.text)
    assert "First differing token: #0" in detail
    assert re.search(r"over \d+ and \d+ words\.", detail), detail
    assert "words tokens" not in detail


def test_a_row_still_running_says_waiting_not_cancelled(server, monkeypatch):
    """While Q6 is being asked the first prompt, that row reads "waiting"; only a cancelled run
    says "cancelled"."""
    real_collect = quality_probe.collect_reply
    seen: list = []

    def look_during_second(*args, **kwargs):
        job = quality_probe.st.session_state[f"{KEY}-job"]
        if job.run.results and not job.run.results[0].complete:
            seen.append(quality_probe._table(job).set_index("prompt"))
        return real_collect(*args, **kwargs)

    monkeypatch.setattr(quality_probe, "collect_reply", look_during_second)
    _run_probe()
    table = seen[0]
    assert table.loc["multiply", "Q4"] == "fail"
    assert table.loc["multiply", "Q6"] == "waiting"
    assert "cancelled" not in table.loc["multiply", "Q6: reason"]
