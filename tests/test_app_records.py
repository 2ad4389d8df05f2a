"""AppTest of the lab's record fields: each Execute item that asks for a record is a field on its
page, pre-filled where the app measured the value, saved to the evidence, replaced on edit."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest_utils import go_to, open_page, texts
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer

from quantviz.lab.parse import parse_lab
from quantviz.report.measurements import Measurements, ProbeScore, SpeedSample
from quantviz.ui import session

SEED = Path(__file__).parents[1] / "labs" / "lab-02-quantization-tradeoffs.md"
LAB = parse_lab(SEED.read_text(), SEED)


@pytest.fixture
def server(ollama_server: OllamaTestServer, monkeypatch) -> OllamaTestServer:
    """The test server as the app's endpoint (OLLAMA_HOST, no instructor section)."""
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    return ollama_server


def _box(at, record_id: str):
    return at.text_area(key=f"record-lab2-{record_id}")


def _records(at) -> list:
    return at.session_state[session.EVIDENCE].filter("record")


def _save(at, record_id: str):
    return at.button(key=f"record-lab2-{record_id}-save").click().run()


@pytest.mark.parametrize("url_path", sorted({s.url_path for s, _ in LAB.records}))
def test_every_record_field_of_a_page_is_rendered(server, url_path):
    """Every record field of the page's section is a text box labelled with its Execute item,
    after the item's own text; the page runs without an exception."""
    at = open_page(url_path)
    assert not at.exception
    fields = [f for s, f in LAB.records if s.url_path == url_path]
    assert fields
    for field in fields:
        box = _box(at, field.id)
        assert box.label == f"Your record: {field.prompt}"
    page = texts(at)
    assert all(field.markdown in page for field in fields)


def test_storage_fields_are_prefilled_with_the_measured_sizes(server):
    """Objective 3's fields start with the sizes, bytes saved, percent, ratio and bits per
    weight of the endpoint's own tags (figures computed here from the test server's catalog)."""
    q4, q6 = server.catalog[Q4_TAG].size, server.catalog[Q6_TAG].size
    params = server.catalog[Q4_TAG].parameter_count
    at = open_page("lab2-objective3")
    assert not at.exception
    savings = _box(at, "obj3-savings").value
    assert f"Q4 {q4 / 1e9:.2f} GB ({q4:,} bytes)" in savings
    assert f"Q6 {q6 / 1e9:.2f} GB ({q6:,} bytes)" in savings
    assert f"Bytes saved: {q6 - q4:,} bytes" in savings
    assert f"Percent saved: {(q6 - q4) / q6 * 100:.1f} % of Q6" in savings
    assert f"Size ratio: {q4 / q6:.3f}" in savings
    bits = _box(at, "obj3-bits-per-weight").value
    assert f"Parameter count: {params:,}" in bits
    assert f"Q4 {q4 * 8 / params:.2f} bits per weight" in bits
    assert f"Q6 {q6 * 8 / params:.2f} bits per weight" in bits
    assert "Ratio the recipe predicts: 0.9" in _box(at, "obj3-ratio-gap").value
    assert "Measured by the app" in texts(at)


def test_metadata_fields_are_prefilled_with_claims_levels_and_types(server):
    """Objective 4's fields start with the claims' verdicts, each tag's quantization level and
    file type, its tensors by type and the Q6_K tensors of the Q4 file."""
    at = open_page("lab2-objective4")
    assert not at.exception
    claims = _box(at, "obj4-claims").value
    assert "Architecture gemma4 / gemma4: verified" in claims
    assert "Tokenizer model" in claims and "refuted" not in claims
    quant = _box(at, "obj4-quantization").value
    assert "Q4 Q4_K_M, file type 15 (Q4_K_M)" in quant
    assert "Q6 Q6_K, file type 18 (Q6_K)" in quant
    mix = _box(at, "obj4-type-mix").value
    assert "Q4: " in mix and "Q4_K 281 tensors" in mix and "Q6: Q6_K" in mix and "F32" in mix
    q6k = _box(at, "obj4-q6k-tensors").value
    assert "Q4: " in q6k and "Q6_K tensors" in q6k and "token_embd.weight" in q6k
    # no measurement behind this one: empty, and no "measured" caption for it
    assert _box(at, "obj4-unexpected").value == ""


def test_chat_and_probe_fields_read_the_sessions_measurements(server):
    """Objective 5's fields start with the latest side-by-side speeds and the probe's pass
    counts with their 95 % intervals; equal small counts are said to be indistinguishable."""
    at = open_page()
    m = Measurements()
    m.add_speed(SpeedSample(Q4_TAG, "Q4", 41.25, 0.31, "side_by_side"))
    m.add_speed(SpeedSample(Q6_TAG, "Q6", 30.5, None, "side_by_side"))
    m.record_probe([ProbeScore(Q4_TAG, "Q4", 1, 8), ProbeScore(Q6_TAG, "Q6", 1, 8)], [])
    at.session_state[session.MEASUREMENTS] = m
    go_to(at, "lab2-objective5")
    assert not at.exception
    speed = _box(at, "obj5-speed").value
    assert "Q4 41.2 tokens/s, first token after 0.31 s (side by side)" in speed
    assert "Q6 30.5 tokens/s (side by side)" in speed
    passes = _box(at, "obj5-passes").value
    # Wilson 95 % interval of 1/8: 0.0224-0.4709 (Newcombe's formula, by hand), outwards
    assert "Q4 1 of 8 (95 % interval 2–48 %)" in passes
    assert "cannot tell them apart" in passes


def test_a_field_without_a_measurement_says_so_and_starts_empty(server):
    """Before the storage widget measured anything (no endpoint answer), the field is empty and
    says that the widget above measures it."""
    server.remove_model(Q4_TAG)
    server.remove_model(Q6_TAG)
    at = open_page("lab2-objective3")
    assert not at.exception
    assert _box(at, "obj3-savings").value == ""
    assert "Not measured yet in this session" in texts(at)


def test_saving_a_field_records_it_and_saving_an_edit_replaces_it(server):
    """Save adds one `record` evidence record with the item, objective, measured value and the
    student's text; editing and saving again replaces it (still one record, the new text)."""
    at = open_page("lab2-objective3")
    box = _box(at, "obj3-ratio-gap")
    box.set_value(box.value + "\nThe Q6_K tensors kept in the Q4 file explain the gap.").run()
    _save(at, "obj3-ratio-gap")
    assert not at.exception
    (record,) = _records(at)
    assert record.payload["id"] == "obj3-ratio-gap"
    assert record.payload["objective"] == "Objective 3"
    assert record.payload["prompt"].startswith("Compare your ratio with the ratio the recipe")
    assert record.payload["value"].endswith("explain the gap.")
    assert record.payload["measured"].startswith("Size ratio: 0.")
    assert "Saved in your evidence." in texts(at)

    _box(at, "obj3-ratio-gap").set_value("0.91: the embeddings stay Q6_K.").run()
    assert "Changed since you saved it" in texts(at)
    _save(at, "obj3-ratio-gap")
    (record,) = _records(at)
    assert record.payload["value"] == "0.91: the embeddings stay Q6_K."
    _box(at, "obj3-savings").set_value("mine").run()
    _save(at, "obj3-savings")
    assert [r.payload["id"] for r in _records(at)] == ["obj3-ratio-gap", "obj3-savings"]


def test_an_empty_field_is_not_saved(server):
    """Saving an empty box warns and records nothing."""
    at = open_page("lab2-objective2")
    _save(at, "obj2-layers")
    assert not _records(at)
    assert any("Write your answer first" in w.value for w in at.warning)


def test_a_saved_value_is_cut_to_the_class_limit(server, monkeypatch):
    """With [limits] record_chars = 12 the box allows 12 characters and a longer value sent
    anyway is cut to 12 before it is saved."""
    at = open_page("lab2-objective2", secrets={"limits": {"record_chars": 12}})
    box = _box(at, "obj2-layers")
    assert box.max_chars == 12
    box.set_value("35 layers, 1.2 GB largest").run()
    _save(at, "obj2-layers")
    (record,) = _records(at)
    assert record.payload["value"] == "35 layers, 1"


def test_a_saved_answer_comes_back_when_the_page_is_opened_again(server):
    """Leaving the page and coming back shows the saved answer, not the pre-filled measurement."""
    at = open_page("lab2-objective3")
    _box(at, "obj3-savings").set_value("my own figures").run()
    _save(at, "obj3-savings")
    go_to(at, "lab2-objective2")
    go_to(at, "lab2-objective3")
    assert _box(at, "obj3-savings").value == "my own figures"


def test_the_evidence_page_opens_with_the_summary_of_every_item(server):
    """After saving one field, the Evidence page shows the summary first: one row per Execute
    item of the lab, the saved value in its row, 'not recorded' in the others, the measured
    value beside it; the raw records follow in expanders."""
    q4, q6 = server.catalog[Q4_TAG].size, server.catalog[Q6_TAG].size
    at = open_page("lab2-objective3")
    _box(at, "obj3-savings").set_value("Q4 saves about 0.3 GB").run()
    _save(at, "obj3-savings")
    go_to(at, "evidence")
    assert not at.exception
    headings = [h.value for h in at.header]  # h2 under the page's h1 (issue 18, heading order)
    assert headings[0] == "Summary" and "Raw records" in headings
    table = next(d.value for d in at.dataframe if "Your value" in d.value.columns)
    assert len(table) == len(LAB.records)
    row = table[table["Execute item"].str.startswith("Record each tag's size in bytes")].iloc[0]
    assert row["Objective"] == "Objective 3"
    assert row["Your value"] == "Q4 saves about 0.3 GB"
    assert f"Bytes saved: {q6 - q4:,} bytes" in row["Measured by the app"]
    assert (table["Your value"] == "not recorded").sum() == len(LAB.records) - 1
    assert "1 of 23 Execute items recorded." in texts(at)
    assert any("Objective 3" in e.label for e in at.expander)


def test_decision_fields_are_prefilled_from_the_widget(monkeypatch):
    """Objective 6's budget field starts with the widget's budget, context, cache type and
    overhead, and its fit; the choice field fills once the student has committed a choice."""
    from streamlit_process import free_port

    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{free_port()}")
    at = open_page("lab2-objective6")
    key = "lab2-objective6-tradeoff-decision-0"
    at.number_input(key=f"{key}-budget").set_value(8.0).run()
    budget = _box(at, "obj6-budget-fit").value
    assert "Budget: 8.00 GB budget, 8k tokens of context (f16 KV cache, 1.00 GB runtime" in budget
    assert "Fit: Q4 fits" in budget and "Q6 fits" in budget
    assert _box(at, "obj6-choice").value == ""
    at.radio(key=f"{key}-student-choice").set_value("neither")
    at.text_area(key=f"{key}-student-reason").input("I want more headroom.")
    at.button(key=f"{key}-commit").click().run()
    choice = _box(at, "obj6-choice").value
    assert choice.startswith("Decision: You chose neither tag: I want more headroom.")
    assert "Where it differs from yours: You chose neither, but Q4 and Q6 fit" in choice
    go_to(at, "lab2-conclusion")  # the Conclusion recaps the choice
    shown = texts(at).replace("\\", "")
    assert "**Your deployment choice**: neither tag. I want more headroom." in shown


# --------------------------------------------------------------------------- Conclusion


BOARD_SECRETS = {
    "board": {
        "class_code": "QV-RECAP",
        # RFC 7914's published scrypt("pleaseletmein", "SodiumChloride", N=16384, r=8, p=1) key
        "instructor_passcode_hash": "scrypt$n=16384,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNg"
        "f046/2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw==",
    }
}


def _links(at) -> dict[str, str]:
    return {p.proto.label: p.proto.page for p in at.get("page_link")}


def test_conclusion_recaps_the_students_figures_and_links_to_the_report(server):
    """The Conclusion lists the student's saved answers by objective, a measured value not yet
    recorded as such, the items still open, and links to the Evidence report; without a
    [board] section there is no class-board link."""
    at = open_page("lab2-objective3")
    _box(at, "obj3-ratio-gap").set_value("0.91 <b>because</b> the embeddings stay Q6_K").run()
    _save(at, "obj3-ratio-gap")
    go_to(at, "lab2-conclusion")
    assert not at.exception
    page = texts(at)
    assert "Your figures" in [h.value for h in at.subheader]
    assert "1 of 23 Execute items recorded in your evidence." in page
    assert "\\<b\\>because\\</b\\>" in page  # the student's text, shown inert
    assert "*Measured, not recorded yet*: Sizes" in page  # the storage widget measured it
    assert "*Not recorded yet.*" in page
    assert "No deployment choice committed yet" in page
    links = _links(at)
    assert links["Open your evidence report and download it"] == "evidence"
    assert "Compare with your class on the class board" not in links


def test_conclusion_links_to_the_class_board_when_there_is_one(server):
    """With a [board] section the Conclusion also links to the class board page."""
    at = open_page("lab2-conclusion", secrets=BOARD_SECRETS)
    assert not at.exception
    assert _links(at)["Compare with your class on the class board"] == "class-board"


def test_a_newer_measurement_refreshes_an_untouched_field_but_never_the_students_text(server):
    """A field still holding only what the app put there follows a newer measurement; once the
    student has typed in it, a newer measurement leaves their text alone."""
    at = open_page("lab2-objective5")
    assert _box(at, "obj5-speed").value == ""
    m = at.session_state[session.MEASUREMENTS]
    m.add_speed(SpeedSample(Q4_TAG, "Q4", 40.0, None, "side_by_side"))
    at.run()
    assert _box(at, "obj5-speed").value == "Speed: Q4 40.0 tokens/s (side by side)"
    m.add_speed(SpeedSample(Q4_TAG, "Q4", 44.0, None, "side_by_side"))
    at.run()
    assert _box(at, "obj5-speed").value == "Speed: Q4 44.0 tokens/s (side by side)"
    _box(at, "obj5-speed").set_value("Q4 44 tok/s, the first reply loaded the model").run()
    m.add_speed(SpeedSample(Q4_TAG, "Q4", 50.0, None, "side_by_side"))
    at.run()
    assert _box(at, "obj5-speed").value == "Q4 44 tok/s, the first reply loaded the model"
    assert "Q4 50.0 tokens/s" in texts(at).replace("\\", "")  # shown beside it
