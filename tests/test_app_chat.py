"""AppTest of the compare chat (`data-compare-chat`) through the Ollama-protocol test server."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from apptest_utils import open_page
from concurrency import wait_for
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1.local_script_runner import LocalScriptRunner
from streamlit_process import free_port

from quantviz.chat.runs import ReplyRun
from quantviz.chat.transcript import TranscriptStore
from quantviz.ollama.client import Endpoint
from quantviz.ui import session
from quantviz.ui.context import widget_key
from quantviz.ui.widgets import chat

PAGE = "lab2-objective5"
K = widget_key("lab2-objective5", "compare-chat")
STORE = chat.STORE_KEY
HOSTILE_SVG_REPLY = (
    "Here is your drawing:\n\n```svg\n"
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" onload="alert(1)">\n'
    "  <script>alert(document.cookie)</script>\n"
    '  <circle cx="50" cy="50" r="40" fill="#fc0"/>\n'
    '  <image href="https://evil.example/track.png" width="10" height="10"/>\n'
    "</svg>\n```\nEnjoy."
)
LONG_REPLY = " ".join(f"word{i}" for i in range(200))


@pytest.fixture
def app(ollama_server: OllamaTestServer, monkeypatch):
    """The chat page of the real app, pointed at the test server."""
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    return open_page(PAGE)


def ask(at, prompt: str):
    at.chat_input(key=f"{K}-input").set_value(prompt).run()
    assert not at.exception, at.exception
    return at


def choose(at, widget: str, value: str):
    at.radio(key=f"{K}-{widget}").set_value(value).run()
    assert not at.exception, at.exception
    return at


def shown_messages(at) -> list[tuple[str, str]]:
    """(role, text) of every chat message on the page, in order."""
    out = []
    for message in at.chat_message:
        body = " ".join(m.value for m in message.markdown)
        out.append((message.name, body))
    return out


def stored(at, tag: str) -> list:
    store: TranscriptStore = at.session_state[STORE]
    return store.messages(next(iter(store.nonempty_keys()), ("", ""))[0] or "x", tag)


def settings_links(at) -> int:
    """Links to the settings page (a caption naming it while that page does not exist)."""
    links = [p.proto.label for p in at.get("page_link")] + [c.value for c in at.caption]
    return sum(text.startswith("Endpoint settings") for text in links)


def chat_bodies(server: OllamaTestServer) -> list[dict]:
    return [r.body for r in server.requests_to("/api/chat")]


# --------------------------------------------------------------------------- streaming plumbing


def test_display_updates_join_fast_tokens_and_keep_every_character(ollama_server):
    """A fast 500-token reply reaches the placeholder in far fewer updates, each the whole
    reply so far; the last one shows every word and the raw text is unchanged."""
    tokens = [f"w{i} " for i in range(500)]
    ollama_server.script("*", "fast", "".join(tokens), tokens=tokens)
    run = ReplyRun(Endpoint(ollama_server.url), Q4_TAG, [{"role": "user", "content": "fast"}])
    updates = list(run.display_updates())
    assert run.text == "".join(tokens)
    assert updates[0] == "w0"  # the first token is not held back
    assert updates[-1] == " ".join(f"w{i}" for i in range(500))
    assert len(updates) < len(tokens)
    assert run.metrics is not None and run.metrics.output_tokens == 500


def test_display_updates_tick_while_waiting_for_the_first_token(ollama_server):
    """While the server is silent, on_tick runs (the widget's waiting line and Stop check)."""
    ollama_server.set_delays(initial_delay=0.6)
    run = ReplyRun(Endpoint(ollama_server.url), Q4_TAG, [{"role": "user", "content": "hi"}])
    waiting: list[bool] = []
    updates = list(run.display_updates(lambda r: waiting.append(r.first_token is None), tick=0.05))
    assert waiting[:3] == [True, True, True]  # ticks while nothing has arrived yet
    assert updates[-1].startswith("You asked")


# --------------------------------------------------------------------------- round trips


def test_round_trip_on_both_tags(app, ollama_server):
    """A prompt to Q4 and then to Q6 reaches each tag and shows each reply with its metrics."""
    ask(app, "What does quantization do?")
    assert shown_messages(app)[0] == ("user", "What does quantization do?")
    role, reply = shown_messages(app)[1]
    assert role == "assistant" and reply.startswith('You asked: "What does quantization do?"')
    assert any("tokens/s" in c.value and "done: stop" in c.value for c in app.caption)
    choose(app, "model", "Q6")
    ask(app, "And in six bits?")
    assert [b["model"] for b in chat_bodies(ollama_server)] == [Q4_TAG, Q6_TAG]
    assert shown_messages(app)[1][1].startswith('You asked: "And in six bits?"')
    assert not app.error


def test_transcripts_stay_separate_across_switches(app, ollama_server):
    """Q4's and Q6's conversations never mix; switching back shows each one again."""
    ask(app, "alpha question")
    choose(app, "model", "Q6")
    assert shown_messages(app) == []
    assert any("No messages with Q6 yet" in c.value for c in app.caption)
    ask(app, "beta question")
    choose(app, "model", "Q4")
    users = [text for role, text in shown_messages(app) if role == "user"]
    assert users == ["alpha question"]
    ask(app, "gamma question")
    # Each tag is sent its own history only.
    last = chat_bodies(ollama_server)[-1]
    assert [m["content"] for m in last["messages"] if m["role"] == "user"] == [
        "alpha question",
        "gamma question",
    ]
    choose(app, "model", "Q6")
    assert [t for r, t in shown_messages(app) if r == "user"] == ["beta question"]


def test_ask_the_other_model_the_same_and_clear(app, ollama_server):
    """ "Ask Q6 the same" sends Q4's last prompt to Q6 and switches; Clear empties one tag."""
    ask(app, "Name a prime number.")
    app.button(key=f"{K}-ask-other").click().run()
    assert app.radio(key=f"{K}-model").value == "Q6"
    last = chat_bodies(ollama_server)[-1]
    assert last["model"] == Q6_TAG and last["messages"][-1]["content"] == "Name a prime number."
    assert [r for r, _ in shown_messages(app)] == ["user", "assistant"]
    app.button(key=f"{K}-clear").click().run()
    assert shown_messages(app) == []
    choose(app, "model", "Q4")
    assert [t for r, t in shown_messages(app) if r == "user"] == ["Name a prime number."]


# --------------------------------------------------------------------------- generation settings


def test_deterministic_preset_sends_temperature_zero_and_a_fixed_seed(app, ollama_server):
    """The Deterministic preset sends temperature 0 and seed 42 with the max tokens."""
    choose(app, "preset", "Deterministic")
    ask(app, "Same answer twice?")
    options = chat_bodies(ollama_server)[-1]["options"]
    assert options == {"temperature": 0.0, "seed": 42, "num_predict": 512}


def test_generation_settings_are_bounded_by_the_instructors_caps(ollama_server):
    """With caps in secrets, the controls stop at them and the request stays within them."""
    secrets = {"ollama": {"host": ollama_server.url, "max_num_predict": 64, "max_temperature": 1}}
    at = open_page(PAGE, secrets=secrets)
    slider = at.slider(key=f"{K}-temperature")
    assert slider.proto.max == 1.0
    assert at.number_input(key=f"{K}-num-predict").proto.max == 64
    slider.set_value(1.0).run()
    at.number_input(key=f"{K}-seed").set_value(7).run()
    ollama_server.script("*", "long story", LONG_REPLY)
    ask(at, "Tell me a long story.")
    options = chat_bodies(ollama_server)[-1]["options"]
    assert options == {"temperature": 1.0, "seed": 7, "num_predict": 64}
    assert stored(at, Q4_TAG)[-1].metrics["done_reason"] == "length"


def test_suggested_prompt_is_sent_at_once(app, ollama_server):
    """Clicking the pelican suggestion sends that prompt and draws the SVG it gets back."""
    app.pills(key=f"{K}-suggest").set_value("Pelican (SVG)").run()
    assert chat_bodies(ollama_server)[-1]["messages"][-1]["content"] == (
        "Draw a pelican riding a bicycle."
    )
    assert app.pills(key=f"{K}-suggest").value is None
    images = app.get("image")
    assert len(images) == 1 and images[0].value[0].startswith("data:image/svg+xml;base64,")


# --------------------------------------------------------------------------- side by side


def test_side_by_side_streams_both_tags_with_metrics_and_overlap(app, ollama_server):
    """One prompt reaches both tags; the table has each tag's figures; requests overlapped."""
    ollama_server.set_delays(token_delay=0.01)
    choose(app, "mode", "Side by side")
    ask(app, "Compare yourselves.")
    assert sorted(b["model"] for b in chat_bodies(ollama_server)) == [Q4_TAG, Q6_TAG]
    assert [r for r, _ in shown_messages(app)] == ["user", "assistant"] * 2
    table = app.table[0].value
    assert list(table.columns) == ["Q4", "Q6"]
    assert table.loc["done reason"].tolist() == ["stop", "stop"]
    for label in ("Q4", "Q6"):
        assert float(table.loc["tokens/s", label]) > 0
        assert int(table.loc["output tokens", label]) > 10
        assert float(table.loc["load (s)", label]) > 0
    assert "requests overlapped" in app.info[0].value
    (_, q4_end), (q6_start, _) = sorted(
        (r.started or 0, r.finished or 0) for r in ollama_server.requests_to("/api/chat")
    )
    assert q6_start < q4_end  # the server really did run them at the same time
    records = app.session_state[session.EVIDENCE].filter("side_by_side")
    assert records[-1].payload["overlap"] == "overlapped"


def test_side_by_side_on_a_serial_server_says_one_at_a_time(app, ollama_server):
    """When the server answers one request at a time, the widget says so."""
    ollama_server.set_serial(True)
    ollama_server.set_delays(token_delay=0.005)
    choose(app, "mode", "Side by side")
    ask(app, "Who goes first?")
    warning = " ".join(w.value for w in app.warning)
    assert "answered one request at a time" in warning
    assert app.table[0].value.loc["done reason"].tolist() == ["stop", "stop"]


def test_side_by_side_defaults_to_the_deterministic_preset(app, ollama_server):
    """Side by side starts with temperature 0 and seed 42 (the one-model view keeps its own
    default), and each row says which settings its replies were generated with."""
    choose(app, "mode", "Side by side")
    assert app.radio(key=f"{K}-preset-side").value == "Deterministic"
    ask(app, "Fair comparison?")
    for body in chat_bodies(ollama_server):
        assert body["options"]["temperature"] == 0 and body["options"]["seed"] == 42
    app.run()  # the row as drawn from the transcripts
    captions = [c.value for c in app.caption]
    assert "Settings: temperature 0.0 · seed 42 · up to 512 tokens" in captions


def test_side_by_side_pairs_each_prompt_and_marks_where_the_replies_part(app, ollama_server):
    """Two prompts sent side by side are two rows, each with the prompt and both replies, in
    the order they were sent; each row names the first word where Q4 and Q6 part."""
    ollama_server.script(Q4_TAG, "colour", "The sky is blue today.")
    ollama_server.script(Q6_TAG, "colour", "The sky is green today.")
    ollama_server.script("*", "capital", "Paris.")
    choose(app, "mode", "Side by side")
    ask(app, "What colour is the sky?")
    ask(app, "What is the capital of France?")
    messages = shown_messages(app)
    assert [role for role, _ in messages] == ["user", "assistant"] * 4
    prompts = [text for role, text in messages if role == "user"]
    assert prompts == ["What colour is the sky?"] * 2 + ["What is the capital of France?"] * 2
    assert "The sky is blue today." in messages[1][1]
    assert "The sky is green today." in messages[3][1]
    lines = [m.value for m in app.markdown if "call_split" in m.value]
    # Counted in the tokens the server sent with the logprobs side by side asks for.
    assert lines == [
        ":material/call_split: They part at token 4 (of 6 and 6 tokens): "
        "Q4: The sky is **blue** · Q6: The sky is **green**",
        ":material/call_split: Identical replies (2 and 2 tokens).",
    ]
    assert all(b["logprobs"] is True for b in chat_bodies(ollama_server))


def test_without_logprobs_the_replies_part_at_a_word(app, ollama_server):
    """A server that sends no logprobs: where the replies part is counted in words."""
    ollama_server.set_supports_logprobs(False)
    ollama_server.script(Q4_TAG, "colour", "The sky is blue today.")
    ollama_server.script(Q6_TAG, "colour", "The sky is green today.")
    choose(app, "mode", "Side by side")
    ask(app, "What colour is the sky?")
    lines = [m.value for m in app.markdown if "call_split" in m.value]
    assert lines == [
        ":material/call_split: They part at word 4 (of 6 and 6 words): "
        "Q4: The sky is **blue** · Q6: The sky is **green**"
    ]


# --------------------------------------------------------------------------- failures


def _assert_marked_after_rerun(at, words: str) -> None:
    at.run()
    assert any(words in w.value for w in at.warning), [w.value for w in at.warning]


def test_endpoint_down_keeps_the_transcript_and_the_next_prompt_works(monkeypatch):
    """With the server gone: a clear error, earlier turns kept; back up, the next prompt works."""
    port = free_port()
    with OllamaTestServer(port=port) as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        at = open_page(PAGE)
        ask(at, "first")
    ask(at, "second")
    assert "Nothing is answering at this address" in at.error[0].value
    assert [t for r, t in shown_messages(at) if r == "user"] == ["first", "second"]
    with OllamaTestServer(port=port):
        ask(at, "third")
        assert not at.error
        assert shown_messages(at)[-1][1].startswith('You asked: "third"')
        assert any("Interrupted by an error" in w.value for w in at.warning)


def test_401_says_check_the_api_key_and_recovers(app, ollama_server):
    """A 401 shows "check the API key" with the settings link; the transcript stays."""
    ask(app, "before")
    ollama_server.set_api_key("class-key")
    ask(app, "during")
    assert "check the API key" in app.error[0].value
    assert settings_links(app) == 2  # the endpoint line's, and one under the error
    ollama_server.set_api_key(None)
    ask(app, "after")
    assert [t for r, t in shown_messages(app) if r == "user"] == ["before", "during", "after"]
    assert not app.error and settings_links(app) == 1


def test_unknown_model_links_to_the_pull_widget(app, ollama_server):
    """A tag the endpoint lacks says so and links to the pull widget."""
    ollama_server.remove_model(Q6_TAG)
    choose(app, "model", "Q6")
    ask(app, "Are you there?")
    assert "does not have `batiai/gemma4-e2b:q6`" in app.error[0].value
    links = [p.proto.label for p in app.get("page_link")]
    assert "Pull it first" in links


def test_error_line_mid_stream_keeps_the_partial_reply(app, ollama_server):
    """An error line after 5 tokens: the 5 tokens stay, marked interrupted; next prompt works."""
    ollama_server.error_after(5, "an error was encountered while running the model", times=1)
    ask(app, "Explain rounding.")
    assert "an error was encountered while running the model" in app.error[0].value
    partial = stored(app, Q4_TAG)[-1]
    assert partial.status == "error" and partial.content == 'You asked: "Explain'
    assert partial.content in shown_messages(app)[1][1]
    ask(app, "Try again.")
    assert not app.error
    assert stored(app, Q4_TAG)[-1].status == "complete"
    assert any("Interrupted by an error" in w.value for w in app.warning)


def test_timeout_before_and_between_tokens(ollama_server):
    """A silent server times out with a clear error; a stall mid-reply keeps the first token."""
    secrets = {"ollama": {"host": ollama_server.url, "request_timeout": 1}}
    at = open_page(PAGE, secrets=secrets)
    ollama_server.set_delays(initial_delay=1.6)
    ask(at, "Slow start?")
    assert "did not answer in time" in at.error[0].value
    ollama_server.set_delays(initial_delay=0, token_delay=1.6)
    ask(at, "Slow middle?")
    assert "did not answer in time" in at.error[0].value
    assert stored(at, Q4_TAG)[-1].content == "You"
    ollama_server.set_delays(token_delay=0)
    ask(at, "Quick now?")
    assert not at.error and stored(at, Q4_TAG)[-1].status == "complete"
    assert [m.status for m in stored(at, Q4_TAG) if m.role == "assistant"] == [
        "error",
        "error",
        "complete",
    ]


# --------------------------------------------------------------------------- stop


def test_stop_keeps_the_partial_reply_and_closes_the_stream(app, ollama_server, monkeypatch):
    """Streamlit's Stop mid-reply keeps what arrived, marked stopped; the server stops too."""
    runners: list[LocalScriptRunner] = []
    original = LocalScriptRunner.__init__

    def capture(self, *args, **kwargs):
        original(self, *args, **kwargs)
        runners.append(self)

    monkeypatch.setattr(LocalScriptRunner, "__init__", capture)
    ollama_server.script("*", "long story", LONG_REPLY)
    ollama_server.set_delays(token_delay=0.05)  # 400 tokens: 20 s if nobody stops it
    app.chat_input(key=f"{K}-input").set_value("Tell me a long story.")
    running = threading.Thread(target=app.run)
    running.start()
    wait_for(lambda: bool(ollama_server.requests_to("/api/chat")))
    request = ollama_server.requests_to("/api/chat")[-1]
    wait_for(lambda: request.chunks_sent >= 10)  # some tokens are on their way
    runners[-1].request_stop()  # what the chat input's stop button and the app's Stop do
    running.join(30)
    reply = stored(app, Q4_TAG)[-1]
    assert reply.status == "stopped"
    assert reply.content and LONG_REPLY.startswith(reply.content) and reply.content != LONG_REPLY
    wait_for(lambda: request.finished is not None, timeout=5)  # the server stopped generating
    ollama_server.set_delays(token_delay=0)
    _assert_marked_after_rerun(app, "Stopped early")
    ask(app, "Short one?")
    assert stored(app, Q4_TAG)[-1].status == "complete"


# --------------------------------------------------------------------------- SVG safety


def _sent_elements(sent: list[ForwardMsg]) -> list:
    return [
        m.delta.new_element for m in sent if m.HasField("delta") and m.delta.HasField("new_element")
    ]


def test_hostile_svg_reaches_the_browser_only_as_an_image(app, ollama_server, monkeypatch):
    """A reply SVG with <script>, onload= and an external href is sent only as a data-URI
    image (sanitised) and as code text: no Markdown or HTML element ever carries it."""
    sent: list[ForwardMsg] = []
    original = ForwardMsgQueue.enqueue

    def record(self, msg):
        copy = ForwardMsg()
        copy.CopyFrom(msg)
        sent.append(copy)
        return original(self, msg)

    monkeypatch.setattr(ForwardMsgQueue, "enqueue", record)
    ollama_server.script("*", "pelican", HOSTILE_SVG_REPLY)
    ask(app, "Draw a pelican riding a bicycle.")
    elements = _sent_elements(sent)
    kinds = [e.WhichOneof("type") for e in elements]
    code = [e.code.code_text for e in elements if e.WhichOneof("type") == "code"]
    assert any("<script>alert(document.cookie)</script>" in c for c in code)  # the source, as text
    for element, kind in zip(elements, kinds, strict=True):
        if kind == "code":
            continue
        raw = element.SerializeToString()
        assert b"<script" not in raw and b"onload" not in raw and b"evil.example" not in raw, kind
    assert "html" not in kinds
    urls = [img.url for e in elements if e.WhichOneof("type") == "imgs" for img in e.imgs.imgs]
    assert len(urls) == 1 and urls[0].startswith("data:image/svg+xml;base64,")
    picture = base64.b64decode(urls[0].split(",", 1)[1]).decode()
    assert "<circle" in picture
    assert "script" not in picture and "onload" not in picture and "evil" not in picture
    assert any("Enjoy." in m.value for m in app.markdown)


def test_malformed_svg_says_so_instead_of_breaking(app, ollama_server):
    """A broken SVG shows a warning and its source; no image, no exception."""
    ollama_server.script("*", "broken", "```svg\n<svg><g><circle r='3'></svg>\n```")
    ask(app, "Draw something broken.")
    assert not app.get("image")
    assert any(
        "This SVG cannot be drawn: it is not well-formed XML" in w.value for w in app.warning
    )
    assert "<circle r='3'>" in app.code[0].value


# --------------------------------------------------------------------------- downloads, evidence


def test_downloads_hold_the_transcripts_with_metrics(app, ollama_server, monkeypatch):
    """Markdown and JSON downloads carry the chosen transcript(s) and each reply's metrics."""
    files: dict[str, str] = {}
    original = MediaFileManager.add

    def capture(self, data, mimetype, coordinates, file_name=None, **kwargs):
        if file_name:
            files[file_name] = data.decode() if isinstance(data, bytes) else str(data)
        return original(self, data, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", capture)
    ask(app, "q4 only")
    choose(app, "model", "Q6")
    ask(app, "q6 only")
    one = json.loads(files["quantviz-chat-q6.json"])
    assert [t["label"] for t in one["transcripts"]] == ["Q6"]
    reply = one["transcripts"][0]["messages"][1]
    assert reply["metrics"]["tokens_per_s"] > 0 and reply["metrics"]["done_reason"] == "stop"
    assert "q6 only" in files["quantviz-chat-q6.md"] and "tokens/s" in files["quantviz-chat-q6.md"]
    choose(app, "export-scope", "All models")
    both = json.loads(files["quantviz-chat-all.json"])
    assert [t["label"] for t in both["transcripts"]] == ["Q4", "Q6"]
    assert "q4 only" in files["quantviz-chat-all.md"] and "q6 only" in files["quantviz-chat-all.md"]


def test_each_reply_is_recorded_as_evidence(app):
    """Every chat reply lands in the session's evidence log with its metrics."""
    ask(app, "Record me.")
    records = app.session_state[session.EVIDENCE].filter("chat")
    payload = records[-1].payload
    assert payload["tag"] == Q4_TAG and payload["prompt"] == "Record me."
    assert payload["status"] == "complete" and payload["metrics"]["output_tokens"] > 0
    assert shown_messages(app)[0] == ("user", "Record me.")


def test_each_reply_speed_joins_the_sessions_measurements(app):
    """A single reply and a side-by-side pair each add the speed the server reported, as typed
    samples the deployment decision reads (one per reply, tagged with its tag and mode)."""
    ask(app, "How fast?")
    choose(app, "mode", "Side by side")
    ask(app, "And both?")
    samples = app.session_state[session.MEASUREMENTS].speeds
    assert [(s.tag, s.label, s.source) for s in samples] == [
        (Q4_TAG, "Q4", "chat"),
        (Q4_TAG, "Q4", "side_by_side"),  # the pair is settled in the lab's label order
        (Q6_TAG, "Q6", "side_by_side"),
    ]
    chat = app.session_state[session.EVIDENCE].filter("chat")[-1].payload["metrics"]
    assert samples[0].tokens_per_s == chat["tokens_per_s"] > 0


def test_the_transcript_is_parsed_once_per_message_not_on_every_rerun(app, monkeypatch):
    """Drawing a reply parses it as CommonMark (about 0.1 s for a long one); a rerun that
    changes nothing draws the transcript again without parsing it again."""
    from quantviz.ui.widgets import chat

    parsed: list[str] = []
    real = chat.model_markdown

    def counting(text: str) -> str:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(chat, "model_markdown", counting)
    ask(app, "What does quantization do?")
    app.run()  # the transcript as stored: each message parsed (at most) once more
    drawn = len(parsed)
    assert drawn > 0
    app.run()
    app.run()
    assert len(parsed) == drawn
    assert shown_messages(app)[1][1].startswith('You asked: "What does quantization do?"')
