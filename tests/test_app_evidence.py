"""AppTest of the evidence page and the save-to-evidence button."""

from __future__ import annotations

import json

import pytest
from apptest_utils import go_to, open_page, texts
from ollama_server import Q4_TAG
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module

from quantviz.ui import session
from quantviz.ui.context import widget_key

STUDENT_KEY = "sk-student-7f3a9c1e"
INSTRUCTOR_KEY = "sk-instructor-42d8b0aa"
PROBE_KEY = widget_key("lab2-objective5", "quality-probe")
DECISION_KEY = widget_key("lab2-objective6", "tradeoff-decision")


@pytest.fixture
def media(monkeypatch):
    """The media stores AppTest creates on each run, so downloads can be read back."""
    stores = []
    real = app_test_module.MemoryMediaFileStorage

    def keep(*args, **kwargs):
        store = real(*args, **kwargs)
        stores.append(store)
        return store

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", keep)
    return stores


def _download(at, stores, label: str) -> str:
    button = next(b for b in at.get("download_button") if b.proto.label == label)
    return stores[-1].get_file(button.proto.url.rsplit("/", 1)[-1]).content.decode()


def _goto(at, url_path: str) -> None:
    go_to(at, url_path)
    assert not at.exception, at.exception


def _add_note(at, title: str, text: str) -> None:
    at.text_input(key="evidence-note-title").input(title)
    at.text_area(key="evidence-note-text").input(text)
    next(b for b in at.button if b.label == "Add the note to my evidence").click().run()


def test_page_lists_widget_records_and_reports_them_without_keys(ollama_server, media):
    """Probe and decision records appear grouped; both downloads hold them, the host, no key."""
    ollama_server.set_api_key(STUDENT_KEY)
    secrets = {
        "ollama": {
            "host": ollama_server.url,
            "api_key": INSTRUCTOR_KEY,
            "allow_private_endpoints": True,
        }
    }
    at = open_page("lab2-objective5", secrets=secrets)
    at.session_state[session.API_KEY] = STUDENT_KEY  # typed on the settings page
    at.run()
    at.button(key=f"{PROBE_KEY}-run").click().run()
    assert "Finished: 8 prompts on both tags." in texts(at)
    _goto(at, "lab2-objective6")
    at.number_input(key=f"{DECISION_KEY}-budget").set_value(8.0).run()  # E2B's Q4 file is 4.4 GB
    at.radio(key=f"{DECISION_KEY}-student-choice").set_value(Q4_TAG)  # the student decides first
    at.text_area(key=f"{DECISION_KEY}-student-reason").input("Q4 fits with room to spare.")
    at.button(key=f"{DECISION_KEY}-commit").click().run()
    at.button(key=f"{DECISION_KEY}-save").click().run()
    _goto(at, "evidence")
    _add_note(
        at,
        "Noise floor",
        f"Same outputs twice. (keys {STUDENT_KEY} / {INSTRUCTOR_KEY}, "
        f"http://me:{STUDENT_KEY}@example.org:11434/?token=abc)",
    )

    shown = texts(at)
    assert "Refreshing the page" in shown
    assert "Records: 3" in shown
    headings = _headings(at)
    assert headings[:2] == ["Summary", "Raw records"]  # the summary first, then the records
    assert [h.value for h in at.header] == ["Summary", "Raw records"]  # h2, the groups h3
    start = headings.index("Raw records") + 1
    assert headings[start : start + 3] == [
        "Quality probe (1)",
        "Deployment decision (1)",
        "Notes (1)",
    ]
    labels = [e.label for e in at.expander]
    assert any("Quality probe\\: Q4 1/8, Q6 1/8" in label for label in labels)
    assert f"**Endpoint** `{ollama_server.url}` · **Server version** 0\\.12\\.11" in shown

    markdown = _download(at, media, "Download report (Markdown)")
    report = json.loads(_download(at, media, "Download report (JSON)"))
    for text in (markdown, json.dumps(report), shown, *(j.proto.body for j in at.json)):
        assert STUDENT_KEY not in text and INSTRUCTOR_KEY not in text
    assert f"- **Endpoint**: {ollama_server.url}" in markdown
    assert "- **Server version**: 0.12.11" in markdown
    assert f"| Q4 | `{Q4_TAG}` |" in markdown
    collapsed = "\n\n<details>\n<summary>1 record</summary>\n\n"  # raw records fold away
    assert f"## Quality probe{collapsed}### Quality probe: Q4 1/8, Q6 1/8" in markdown
    assert (
        f"## Deployment decision{collapsed}### Decision at 8.00 GB and 8k context: choose Q4"
        in markdown
    )
    assert markdown.index("## Summary") < markdown.index("## Quality probe")
    assert "[redacted]" in markdown and "http://example.org:11434" in markdown

    assert report["endpoint"] == ollama_server.url
    assert report["server_version"] == "0.12.11"
    assert report["models"]["Q4"] == Q4_TAG
    assert [r["kind"] for r in report["records"]] == ["probe", "decision", "note"]
    probe = report["records"][0]["payload"]
    assert probe["passes"][Q4_TAG] == [1, 8] and probe["endpoint"] == ollama_server.url
    assert report["records"][1]["payload"]["choice"] == Q4_TAG
    note = report["records"][2]["payload"]["text"]
    assert note.startswith("Same outputs twice. (keys [redacted] / [redacted], ")


def _headings(at) -> list[str]:
    """The page's section headings (h2 and h3), in page order."""
    found: list[str] = []

    def walk(node) -> None:
        if getattr(node, "type", None) in ("header", "subheader"):
            found.append(node.value)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    return found


def test_clear_log_empties_the_page(media):
    """Clearing the log removes every record; the page and report then say there is none."""
    at = open_page("evidence")
    _add_note(at, "", "First observation")
    assert _headings(at) == ["Summary", "Raw records", "Notes (1)"]
    assert any(e.label.endswith("· Note") for e in at.expander)
    at.button(key="evidence-clear").click().run()
    assert "Records: 0" in texts(at)
    assert not at.subheader and not at.header
    assert "No evidence recorded yet." in _download(at, media, "Download report (Markdown)")


def _explorer_script() -> None:
    import streamlit as st

    from quantviz.ui import session
    from quantviz.ui.evidence_button import save_button

    saved = save_button("demo-save", "Grid explorer: 4 bits", {"bits": 4, "error": 0.012})
    st.write(f"saved={saved} records={len(session.evidence())}")


def test_save_button_records_explorer_settings():
    """The reusable save button adds the explorer's payload as an `explorer` record on click."""
    at = AppTest.from_function(_explorer_script).run()
    assert at.markdown[0].value == "saved=False records=0"
    at.button(key="demo-save").click().run()
    assert at.markdown[0].value == "saved=True records=1"
    (record,) = at.session_state[session.EVIDENCE]
    assert (record.kind, record.title) == ("explorer", "Grid explorer: 4 bits")
    assert record.payload == {"bits": 4, "error": 0.012}
