"""AppTest sweep: with a hostile endpoint, no Markdown the app sends builds an image or a link.

Every element whose text Streamlit renders as Markdown (markdown, captions, alerts, expander,
button and other labels, help texts, toasts, progress texts) is read back with
`markdown_oracle`; none may hold an image or a link to the attacker. The browser tests
(tests/browser/test_browser_hostile.py) check the same where a person sees it; this sweep covers
every widget page quickly, the probe included, and the downloaded reports.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from apptest_utils import open_page
from markdown_oracle import read
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer
from streamlit.testing.v1 import AppTest

from quantviz.chat.transcript import Message, TranscriptExport, transcript_markdown
from quantviz.report.evidence import EvidenceLog, ReportContext
from quantviz.report.markdown import report_markdown
from quantviz.ui.context import widget_key

ATTACKER = "http://127.0.0.1:9"
IMG = f"![x]({ATTACKER}/x.png)"
HOSTILE_REPLY = (
    f"A ![logo] and ![a [b] c]({ATTACKER}/n.png), [link]({ATTACKER}/l) <{ATTACKER}/a> "
    f"www.example.invalid\n\n[logo]: {ATTACKER}/r.png\n\n```a`b\n![f]({ATTACKER}/f.png)\n"
)
MARKDOWN_FIELDS = ("body", "label", "help", "text", "caption", "placeholder")


def _texts(node) -> Iterator[str]:
    """Every string the app sent that Streamlit may render as Markdown."""
    proto = getattr(node, "proto", None)
    if proto is not None:
        for field, value in proto.ListFields():
            if field.name in MARKDOWN_FIELDS and isinstance(value, str):
                yield value
            elif field.name == "options":
                yield from (str(v) for v in value)
    for child in getattr(node, "children", {}).values():
        yield from _texts(child)


def assert_inert(at: AppTest) -> None:
    assert not at.exception, at.exception
    sent = list(_texts(at._tree))
    assert sent, "the page sent no text at all"
    for text in sent:
        shown = read(text)
        assert not shown.images, text
        assert not [link for link in shown.links if link.startswith(ATTACKER)], text
        assert ATTACKER not in " ".join(shown.autolinks), text


@pytest.fixture
def hostile(ollama_server: OllamaTestServer, monkeypatch) -> OllamaTestServer:
    """The app's endpoint answers with image Markdown in every string it controls."""
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    tags = httpx.get(f"{ollama_server.url}/api/tags").json()
    for model in tags["models"]:
        model["details"]["quantization_level"] = IMG
        model["details"]["family"] = IMG
    ollama_server.force_status("/api/tags", 200, tags)
    show = httpx.post(f"{ollama_server.url}/api/show", json={"model": Q4_TAG}).json()
    show["tensors"][1]["type"] = IMG
    show["model_info"]["general.architecture"] = IMG
    show["model_info"]["tokenizer.ggml.model"] = IMG
    ollama_server.force_status("/api/show", 200, show)
    ollama_server.force_status("/api/version", 200, {"version": IMG})
    ollama_server.script("*", "", HOSTILE_REPLY)
    return ollama_server


@pytest.mark.parametrize(
    "page", ["settings", "lab2-objective2", "lab2-objective3", "lab2-objective4", "lab2-objective6"]
)
def test_widget_pages_send_nothing_that_fetches(hostile, page):
    """Pull, storage, metadata, decision and settings pages with a hostile endpoint."""
    at = open_page(page)
    if page == "settings":
        at.button(key="settings-check").click().run()
    assert_inert(at)


def test_chat_and_probe_send_nothing_that_fetches(hostile):
    """A hostile reply in the chat (one model and side by side) and as every probe answer."""
    at = open_page("lab2-objective5")
    k = widget_key("lab2-objective5", "compare-chat")
    at.chat_input(key=f"{k}-input").set_value("Show me.").run()
    assert_inert(at)
    at.radio(key=f"{k}-mode").set_value("Side by side").run()
    at.chat_input(key=f"{k}-input").set_value("Both of you.").run()
    assert_inert(at)
    at.button(key=widget_key("lab2-objective5", "quality-probe") + "-run").click().run()
    assert_inert(at)
    assert any("[image: logo]" in md.value.replace("\\", "") for md in at.markdown)


def test_an_error_mid_stream_is_shown_inert(hostile):
    """An error line from the server mid-reply (its own words) is escaped in the notice."""
    hostile.error_after(2, f"model crashed {IMG}")
    at = open_page("lab2-objective5")
    at.chat_input(key=widget_key("lab2-objective5", "compare-chat") + "-input").set_value(
        "Hi"
    ).run()
    assert_inert(at)
    assert any("model crashed" in e.value for e in at.error)


def test_downloaded_reports_read_inert():
    """The Markdown evidence report and chat transcript quote hostile text without building
    an image or link from it, whatever field it sits in."""
    log = EvidenceLog()
    log.append("chat", f"reply {IMG}", {"reply": HOSTILE_REPLY, "error": IMG, "tag": IMG})
    log.append("note", IMG, {"text": f"{IMG}\r\r{IMG}"})
    context = ReportContext(server_version=IMG, models={IMG: Q4_TAG})
    shown = read(report_markdown(log, context))
    assert not shown.images and not shown.links, shown.html
    messages = [Message("user", IMG), Message("assistant", HOSTILE_REPLY, error=IMG)]
    exports = [TranscriptExport(IMG, Q6_TAG, "http://h:1", messages)]
    shown = read(transcript_markdown(exports))
    assert not shown.images and not shown.links, shown.html
    assert IMG in shown.text  # quoted, as text
    assert IMG in read(report_markdown(log, context)).text
