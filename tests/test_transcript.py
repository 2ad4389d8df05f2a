"""Transcripts, safe display of model text, SVG answers, overlap verdicts and exports."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

import pytest
from markdown_oracle import read, visible
from ollama_server import PELICAN_SVG_CLEAN, split_tokens

from quantviz.chat.svg import SvgPart, TextPart, check_svg, sanitize_svg, split_svg, svg_data_uri
from quantviz.chat.transcript import (
    SVG_PLACEHOLDER,
    Message,
    StreamFilter,
    StreamTiming,
    TranscriptExport,
    TranscriptStore,
    metrics_line,
    overlap_verdict,
    reply_markdown,
    status_text,
    transcript_json,
    transcript_markdown,
)
from quantviz.ollama.client import ChatMetrics

HOST = "http://127.0.0.1:11434"
Q4, Q6 = "batiai/gemma4-e2b:q4", "batiai/gemma4-e2b:q6"
HOSTILE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'viewBox="0 0 20 20" onload="alert(1)"><script>alert(2)</script>'
    '<circle cx="10" cy="10" r="5" onclick="steal()" fill="url(#g)"/>'
    '<image href="https://evil.example/beacon.png" width="5" height="5"/>'
    '<use xlink:href="#c"/><a xlink:href="javascript:alert(3)"><rect width="2" height="2"/></a>'
    '<rect width="1" height="1" style="fill: url(https://evil.example/x)"/>'
    "<style>@import url(https://evil.example/x.css);</style>"
    '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject></svg>'
)
METRICS = ChatMetrics(
    ttft_s=0.2,
    tokens_per_s=45.5,
    prompt_tokens=12,
    output_tokens=80,
    load_s=1.25,
    prompt_eval_s=0.02,
    eval_s=1.76,
    total_s=3.1,
    done_reason="stop",
    wall_s=3.2,
)


def stream_through(chunks: list[str]) -> str:
    """What the browser is sent after the last chunk (each feed re-reads the whole reply)."""
    f = StreamFilter()
    for chunk in chunks:
        f.feed(chunk)
    return f.display()


# --------------------------------------------------------------------------- store


def test_store_keeps_one_transcript_per_host_and_tag():
    """Messages for (host, Q4), (host, Q6) and (other host, Q4) never mix."""
    store = TranscriptStore()
    store.add(HOST, Q4, Message("user", "q4 prompt"))
    store.add(HOST, Q6, Message("user", "q6 prompt"))
    store.add("http://other:11434", Q4, Message("user", "elsewhere"))
    assert [m.content for m in store.messages(HOST, Q4)] == ["q4 prompt"]
    assert [m.content for m in store.messages(HOST, Q6)] == ["q6 prompt"]
    assert [m.content for m in store.messages("http://other:11434", Q4)] == ["elsewhere"]


def test_store_key_treats_implicit_latest_and_trailing_slash_alike():
    """'gemma3' at 'http://h/' is the same transcript as 'gemma3:latest' at 'http://h'."""
    store = TranscriptStore()
    store.add("http://h/", "gemma3", Message("user", "hi"))
    assert store.messages("http://h", "gemma3:latest")[0].content == "hi"


def test_clear_empties_one_transcript_only():
    """Clearing Q4 leaves Q6 as it was."""
    store = TranscriptStore()
    store.add(HOST, Q4, Message("user", "a"))
    store.add(HOST, Q6, Message("user", "b"))
    store.clear(HOST, Q4)
    assert store.messages(HOST, Q4) == []
    assert [m.content for m in store.messages(HOST, Q6)] == ["b"]
    assert store.nonempty_keys() == [TranscriptStore.key(HOST, Q6)]


def test_last_prompt_is_the_latest_user_message():
    """last_prompt returns the newest user text, None for an empty transcript."""
    store = TranscriptStore()
    assert store.last_prompt(HOST, Q4) is None
    store.add(HOST, Q4, Message("user", "first"))
    store.add(HOST, Q4, Message("assistant", "reply"))
    store.add(HOST, Q4, Message("user", "second"))
    assert store.last_prompt(HOST, Q4) == "second"


def test_history_skips_failed_turns_and_keeps_partial_replies():
    """A turn with no reply text is left out; a partial reply is sent as written."""
    store = TranscriptStore()
    store.add(HOST, Q4, Message("user", "ok"))
    store.add(HOST, Q4, Message("assistant", "fine"))
    store.add(HOST, Q4, Message("user", "failed"))
    store.add(HOST, Q4, Message("assistant", "", status="error", error="refused"))
    store.add(HOST, Q4, Message("user", "cut"))
    store.add(HOST, Q4, Message("assistant", "half", status="stopped"))
    assert store.history(HOST, Q4) == [
        {"role": "user", "content": "ok"},
        {"role": "assistant", "content": "fine"},
        {"role": "user", "content": "cut"},
        {"role": "assistant", "content": "half"},
    ]


def test_history_is_limited_to_the_latest_messages():
    """Only the last `limit` messages go with a new prompt."""
    store = TranscriptStore()
    for i in range(30):
        store.add(HOST, Q4, Message("user", f"p{i}"))
        store.add(HOST, Q4, Message("assistant", f"r{i}"))
    history = store.history(HOST, Q4, limit=4)
    assert [m["content"] for m in history] == ["p28", "r28", "p29", "r29"]


def test_finish_records_text_status_and_metrics():
    """Message.finish stores the text, how it ended and the metrics as a dict."""
    m = Message("assistant", "", status="streaming")
    m.finish("partial", metrics=METRICS, status="error", error="boom", error_kind="stream")
    assert (m.content, m.status, m.error, m.error_kind) == ("partial", "error", "boom", "stream")
    assert m.metrics is not None and m.metrics["tokens_per_s"] == 45.5
    assert m.interrupted
    assert "boom" in status_text(m)


# --------------------------------------------------------------------------- safe display


def test_reply_markdown_draws_no_image_outside_code_and_keeps_code_verbatim():
    """`![x](url)` and `![r][ref]` outside code become `[image: ...]` text; inside a fence the
    same characters stay verbatim; a link shows its URL as text and links nowhere."""
    text = (
        "see ![x](https://t.example/p.png) and ![r][ref]\n\n[ref]: https://t.example/r.png\n"
        "```\n![y](z)\n```\n\nplain [link](https://a.example)"
    )
    shown = read(reply_markdown(text))
    assert shown.images == [] and shown.links == [] and shown.autolinks == []
    assert "see [image: x] and [image: r]" in shown.text
    assert "\n![y](z)\n" in shown.text  # the fence, verbatim
    assert "plain link (https://a.example)" in " ".join(shown.text.split())


def test_stream_filter_hides_fenced_svg_split_across_chunks():
    """A fenced svg block arriving token by token becomes one placeholder; text around stays."""
    reply = PELICAN_SVG_CLEAN + "\nThat is all."
    shown = stream_through(split_tokens(reply))
    assert "<svg" not in shown and "circle" not in shown
    assert shown.startswith("Here is a pelican riding a bicycle:")
    assert shown.count(SVG_PLACEHOLDER) == 1
    assert shown.rstrip().endswith("That is all.")


@pytest.mark.parametrize("cut", range(1, 12))
def test_stream_filter_hides_bare_svg_wherever_the_chunks_split(cut):
    """`<svg ...>...</svg>` split at any point never reaches the display."""
    reply = 'A <svg onload="x()"><script>a</script></svg> B'
    shown = stream_through([reply[:cut], reply[cut:]])
    assert "<s" not in shown.replace(SVG_PLACEHOLDER, "") and "onload" not in shown
    assert visible(shown).startswith("A ") and visible(shown).endswith(" B")


def test_stream_filter_passes_ordinary_text_and_breaks_images():
    """Plain text and `<` comparisons show as typed; an image split across chunks is text."""
    assert visible(stream_through(["3 <", " 4 and a<b ", "x"])) == "3 < 4 and a<b x"
    shown = stream_through(["look !", "[pic](https://t.example/a.png)"])
    assert read(shown).inert
    assert visible(shown) == "look [image: pic]"


def test_stream_filter_drops_an_unfinished_svg():
    """A reply stopped inside an SVG shows the placeholder, never the half-written markup."""
    shown = stream_through(["Here: <svg><circle r='"])
    assert "circle" not in shown
    assert visible(shown) == "Here: " + visible(SVG_PLACEHOLDER)


# --------------------------------------------------------------------------- SVG


def test_split_svg_finds_fenced_and_bare_svg_in_order():
    """Text, a fenced svg, text, a bare svg, text: five parts in that order."""
    text = (
        "Intro\n```svg\n<svg><rect/></svg>\n```\nMiddle <svg><circle r='1'/></svg> end\n"
        "```python\nx = '<svg>'\n```\n"
    )
    parts = split_svg(text)
    kinds = [type(p).__name__ for p in parts]
    assert kinds == ["TextPart", "SvgPart", "TextPart", "SvgPart", "TextPart"]
    assert parts[1] == SvgPart("<svg><rect/></svg>", None)
    assert parts[3] == SvgPart("<svg><circle r='1'/></svg>", None)
    assert isinstance(parts[4], TextPart) and "x = '<svg>'" in parts[4].text


def test_split_svg_reads_xml_fences_holding_svg_and_nested_svg():
    """A ```xml block with an <svg> root is an SVG; a bare svg with a nested svg is one part."""
    fenced = split_svg('```xml\n<?xml version="1.0"?>\n<svg><g/></svg>\n```')
    assert len(fenced) == 1 and isinstance(fenced[0], SvgPart) and fenced[0].problem is None
    nested = split_svg("<svg><svg><rect/></svg><circle/></svg> after")
    assert nested[0] == SvgPart("<svg><svg><rect/></svg><circle/></svg>", None)
    assert nested[1] == TextPart(" after")


def test_unfinished_svg_is_reported_not_drawn():
    """An svg without its end (a stopped reply) is an SvgPart whose problem says so."""
    for text in ("Look: <svg><rect/>", "```svg\n<svg><rect/></svg>"):
        part = split_svg(text)[-1]
        assert isinstance(part, SvgPart) and part.problem is not None
        assert "ended before" in part.problem


def test_check_svg_explains_malformed_input():
    """Mismatched tags, a non-svg root and entity declarations each get a reason."""
    assert "not well-formed XML" in str(check_svg("<svg><g></svg>"))
    assert "root element is <html>" in str(check_svg("<html/>"))
    bomb = '<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>'
    assert "DOCTYPE" in str(check_svg(bomb))
    assert check_svg('<svg xmlns="http://www.w3.org/2000/svg"/>') is None


def test_sanitize_svg_removes_scripts_handlers_and_external_references():
    """Script, foreignObject, on* handlers, external hrefs and css urls are all removed."""
    clean = sanitize_svg(HOSTILE_SVG)
    lowered = clean.lower()
    for bad in ("<script", "onload", "onclick", "evil.example", "javascript:", "foreignobject"):
        assert bad not in lowered, bad
    root = ET.fromstring(clean)  # still well-formed, still an SVG
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert 'xlink:href="#c"' in clean and 'fill="url(#g)"' in clean  # internal refs survive


def test_svg_data_uri_is_base64_of_the_sanitised_svg_with_a_namespace():
    """The data URI decodes to an SVG with xmlns (needed in an <img>) and without scripts."""
    uri = svg_data_uri("<svg><script>x</script><rect width='1' height='1'/></svg>")
    assert uri.startswith("data:image/svg+xml;base64,")
    decoded = base64.b64decode(uri.split(",", 1)[1]).decode()
    assert 'xmlns="http://www.w3.org/2000/svg"' in decoded
    assert "<rect" in decoded and "script" not in decoded
    with pytest.raises(ValueError):
        svg_data_uri("<svg><g></svg>")


# --------------------------------------------------------------------------- metrics, overlap


def test_metrics_line_names_every_figure():
    """First token, tokens/s, prompt and output tokens, load time and done reason."""
    line = metrics_line(Message("assistant", "", metrics=None).metrics)
    assert line == ""
    m = Message("assistant", "")
    m.finish("x", metrics=METRICS)
    assert metrics_line(m.metrics) == (
        "first token 0.20 s · 45.5 tokens/s · prompt 12 tokens · output 80 tokens · "
        "load 1.25 s · done: stop"
    )


def test_overlap_verdict_parallel_serial_and_unknown():
    """Interleaved streams overlap; a first token at the other's end is one at a time."""
    a = StreamTiming("Q4", sent=0.0, first_token=0.1, ended=2.0)
    b = StreamTiming("Q6", sent=0.0, first_token=0.15, ended=2.5)
    verdict, shared = overlap_verdict([a, b])
    assert verdict == "overlapped" and shared == pytest.approx(1.85)
    queued = StreamTiming("Q6", sent=0.0, first_token=2.0001, ended=4.0)
    assert overlap_verdict([a, queued]) == ("one at a time", 0.0)
    # The queued stream's first token may be seen a hair before the other's end is recorded.
    assert overlap_verdict([a, StreamTiming("Q6", 0.0, 1.999, 4.0)])[0] == "one at a time"
    assert overlap_verdict([a, StreamTiming("Q6", 0.0, None, 0.3)])[0] == "unknown"


# --------------------------------------------------------------------------- export


def _exports() -> list[TranscriptExport]:
    reply = Message("assistant", "Use ```` fences", label="Q4", tag=Q4, options={"seed": 42})
    reply.finish(reply.content, metrics=METRICS)
    cut = Message("assistant", "half", label="Q6", tag=Q6, status="stopped")
    return [
        TranscriptExport("Q4", Q4, "http://user:pw@h:11434", [Message("user", "hi"), reply]),
        TranscriptExport("Q6", Q6, "http://user:pw@h:11434", [Message("user", "hi"), cut]),
    ]


def test_markdown_export_fences_model_text_and_lists_metrics():
    """Model text sits in a fence longer than its backtick runs; metrics and status follow."""
    md = transcript_markdown(_exports())
    assert "## Q4 · `batiai/gemma4-e2b:q4`" in md and "## Q6" in md
    assert "`````text\nUse ```` fences\n`````" in md
    assert "45.5 tokens/s" in md and "options: seed 42" in md
    assert "Stopped early" in md
    assert "pw@" not in md and "Endpoint: `http://h:11434`" in md


def test_json_export_round_trips_with_metrics_and_status():
    """The JSON holds every message with status and metrics, and no endpoint credentials."""
    data = json.loads(transcript_json(_exports()))
    assert data["format"] == "quantviz-transcript/1"
    q4, q6 = data["transcripts"]
    assert q4["endpoint"] == "http://h:11434"
    assert q4["messages"][1]["metrics"]["tokens_per_s"] == 45.5
    assert q6["messages"][1]["status"] == "stopped"
