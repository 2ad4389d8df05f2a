"""Per-session limits: what one student's session may hold or send, and what they see at each.

The instructor's `[limits]` section sets them (defaults in `quantviz.config.Limits`); every test
sets a small limit, reaches it through the real widget or client path, and checks both the
bound and the notice.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import httpx
import pytest
from apptest_utils import open_page
from concurrency import wait_for
from config_utils import load_settings
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer
from streamlit.testing.v1 import AppTest

from quantviz.chat.runs import ReplyRun, collect_reply
from quantviz.config import ConfigError, Limits
from quantviz.ollama.client import Endpoint, list_models, show
from quantviz.ollama.errors import OllamaError
from quantviz.report.evidence import EvidenceFull, EvidenceLog, record_size
from quantviz.ui import session
from quantviz.ui.context import widget_key
from quantviz.ui.widgets import chat

CHAT = "lab2-objective5"
K = widget_key("lab2-objective5", "compare-chat")
STORE = chat.STORE_KEY
LONG = " ".join(f"word{i}" for i in range(400))  # 3,089 characters


@pytest.fixture
def endpoint_env(ollama_server: OllamaTestServer, monkeypatch) -> OllamaTestServer:
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    ollama_server.script("*", "long", LONG)
    return ollama_server


def chat_page(**limits: int) -> AppTest:
    return open_page(CHAT, secrets={"limits": limits})


def ask(at: AppTest, prompt: str) -> AppTest:
    at.chat_input(key=f"{K}-input").set_value(prompt).run()
    assert not at.exception, at.exception
    return at


def warnings(at: AppTest) -> str:
    return "\n".join(w.value for w in at.warning).replace("\\", "")


def stored(at: AppTest, tag: str) -> list:
    store = at.session_state[STORE]
    return next((store.messages(*key) for key in store.nonempty_keys() if key[1] == tag), [])


# --------------------------------------------------------------------------- configuration


def test_limits_have_documented_defaults_and_the_instructor_overrides_them():
    """No [limits]: the defaults. Each key set in secrets replaces its default only."""
    assert load_settings({}, {}).limits == Limits()
    limits = load_settings({"limits": {"reply_chars": 1000, "transcripts": 3}}, {}).limits
    assert (limits.reply_chars, limits.transcripts) == (1000, 3)
    assert limits.prompt_chars == Limits().prompt_chars


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"reply_chars": "lots"}, "[limits] reply_chars must be a whole number of at least 1"),
        ({"prompt_chars": 0}, "[limits] prompt_chars must be a whole number of at least 1"),
        ({"transcripts": True}, "[limits] transcripts must be a whole number"),
        ({"evidence_bytes": 1.5}, "[limits] evidence_bytes must be a whole number"),
        ({"reply_char": 10}, "[limits] has no key 'reply_char'; the keys are reply_chars"),
        ("big", "[limits] must be a section"),
    ],
)
def test_a_bad_limit_is_a_config_error_naming_the_key(section, needle):
    """A typo or a nonsense value in [limits] is refused with a message naming the key."""
    with pytest.raises(ConfigError) as info:
        load_settings({"limits": section}, {})
    assert needle in str(info.value)


def test_the_example_secrets_document_every_limit():
    """`.streamlit/secrets.toml.example` names every key of [limits] and parses."""
    text = (Path(__file__).resolve().parents[1] / ".streamlit" / "secrets.toml.example").read_text()
    assert "[limits]" in text
    for key in Limits.names():
        assert f"{key} = " in text, key
    assert load_settings(tomllib.loads(text), {}).limits == Limits()


# --------------------------------------------------------------------------- chat


def test_a_reply_is_cut_at_the_reply_limit_and_the_part_kept(endpoint_env):
    """The stream stops at reply_chars: the first characters are kept, marked cut short, and the
    evidence record says so."""
    at = ask(chat_page(reply_chars=100), "Tell me a long story.")
    reply = stored(at, Q4_TAG)[-1]
    assert reply.status == "capped" and reply.content == LONG[:100]
    assert "Cut short: the reply reached this class's limit of 100 characters" in warnings(at)
    record = at.session_state[session.EVIDENCE].filter("chat")[-1]
    assert record.payload["status"] == "capped" and len(record.payload["reply"]) == 100


def test_reply_run_closes_the_stream_at_the_limit(ollama_server):
    """ReplyRun stops reading at max_chars: its text is exactly the limit, the connection is
    closed early, so the server does not stream the rest."""
    tokens = [f"t{i:04d} " for i in range(2000)]
    ollama_server.script("*", "many", "".join(tokens), tokens=tokens)
    ollama_server.set_delays(token_delay=0.005)  # 2000 tokens would take 10 s
    run = ReplyRun(
        Endpoint(ollama_server.url), Q4_TAG, [{"role": "user", "content": "many"}], max_chars=60
    )
    list(run.display_updates())
    assert run.capped and run.text == "".join(tokens)[:60]
    request = ollama_server.requests_to("/api/chat")[-1]
    wait_for(lambda: request.finished is not None, timeout=5)  # the whole reply would take 10 s


def test_side_by_side_replies_are_each_cut_at_the_limit(endpoint_env):
    """Both columns stop at reply_chars."""
    at = chat_page(reply_chars=80)
    at.radio(key=f"{K}-mode").set_value("Side by side").run()
    ask(at, "A long one, both of you.")
    for tag in (Q4_TAG, Q6_TAG):
        reply = stored(at, tag)[-1]
        assert reply.status == "capped" and len(reply.content) == 80


def test_a_prompt_over_the_limit_is_not_sent(endpoint_env):
    """A prompt longer than prompt_chars is refused with the limit named, and nothing is sent
    (the browser's box holds one character more, so a paste of any length arrives short and is
    still recognised as too long); a prompt at the limit goes out."""
    at = chat_page(prompt_chars=20)
    assert at.chat_input(key=f"{K}-input").proto.max_chars == 21
    ask(at, "x" * 5000)
    assert "Your prompt is longer than this class allows (20 characters)." in warnings(at)
    assert endpoint_env.requests_to("/api/chat") == []
    ask(at, "y" * 20)
    assert len(endpoint_env.requests_to("/api/chat")) == 1


def test_a_full_conversation_takes_no_more_turns(endpoint_env):
    """With transcript_messages = 4, two turns fit; the third is refused with what to do, and
    clearing the conversation makes room again."""
    at = chat_page(transcript_messages=4)
    ask(at, "one")
    ask(at, "two")
    ask(at, "three")
    assert "the most this class keeps (4). Download it, then clear it to go on." in warnings(at)
    assert len(endpoint_env.requests_to("/api/chat")) == 2
    assert len(stored(at, Q4_TAG)) == 4
    at.button(key=f"{K}-clear").click().run()
    ask(at, "four")
    assert len(endpoint_env.requests_to("/api/chat")) == 3


def test_a_session_holds_at_most_so_many_conversations(endpoint_env):
    """With transcripts = 1, a second model's conversation cannot start until one is cleared."""
    at = chat_page(transcripts=1)
    ask(at, "to Q4")
    at.radio(key=f"{K}-model").set_value("Q6").run()
    ask(at, "to Q6")
    assert "This session already holds 1 conversations" in warnings(at)
    assert [b.body["model"] for b in endpoint_env.requests_to("/api/chat")] == [Q4_TAG]


# --------------------------------------------------------------------------- probe


def test_a_probe_answer_over_the_limit_is_stopped_and_not_scored(ollama_server):
    """collect_reply gives a short answer whole and stops a long one at the limit with a clear
    too_large error, closing the stream."""
    ollama_server.script("*", "long", LONG)
    endpoint = Endpoint(ollama_server.url)
    short = collect_reply(endpoint, Q4_TAG, [{"role": "user", "content": "hi"}], max_chars=5000)
    assert short.text.startswith("You asked") and short.metrics.output_tokens
    with pytest.raises(OllamaError) as info:
        collect_reply(endpoint, Q4_TAG, [{"role": "user", "content": "long"}], max_chars=500)
    assert info.value.kind == "too_large" and "limit of 500 characters" in info.value.message


# --------------------------------------------------------------------------- evidence


def test_evidence_log_stops_at_its_record_and_byte_limits():
    """A record past max_records or max_bytes raises EvidenceFull and is not kept; clearing the
    log makes room again; size is the records' JSON size."""
    log = EvidenceLog(max_records=2)
    log.append("note", "a", {"text": "x"})
    log.append("note", "b", {"text": "y"})
    with pytest.raises(EvidenceFull, match="holds 2 records"):
        log.append("note", "c", {"text": "z"})
    assert [r.title for r in log] == ["a", "b"]
    log.clear()
    log.append("note", "c", {"text": "z"})

    small = EvidenceLog(max_bytes=300)
    first = small.append("note", "a", {"text": "x" * 100})
    assert small.size == record_size(first) == len(json.dumps(first.to_dict()).encode())
    with pytest.raises(EvidenceFull, match="limit of 300 bytes"):
        small.append("note", "b", {"text": "x" * 200})
    assert len(small) == 1


def test_a_full_evidence_log_says_so_on_the_page(endpoint_env):
    """With evidence_records = 1, the first chat reply is recorded and the second is not: the
    page says why, and the chat goes on."""
    at = chat_page(evidence_records=1)
    ask(at, "first")
    ask(at, "second")
    assert len(at.session_state[session.EVIDENCE]) == 1
    assert "Not saved to your evidence: The evidence log holds 1 records" in warnings(at)
    assert len(stored(at, Q4_TAG)) == 4


# --------------------------------------------------------------------------- endpoint answers


def test_an_answer_over_response_bytes_is_not_read_further(ollama_server):
    """The transport stops reading a body at max_response_bytes: /api/show (about 100 kB here)
    fails with too_large under a 10 kB limit, /api/tags (small) still works."""
    endpoint = Endpoint(ollama_server.url, max_response_bytes=10_000)
    assert set(list_models(endpoint)) == {Q4_TAG, Q6_TAG}
    with pytest.raises(OllamaError) as info:
        show(endpoint, Q4_TAG)
    assert info.value.kind == "too_large" and "10,000 bytes" in info.value.message


def _cache_script() -> None:
    from functools import partial

    import streamlit as st

    from quantviz.ollama.client import Endpoint
    from quantviz.ui.ollama_common import CACHE_KEY, cached

    endpoint = Endpoint("http://127.0.0.1:9")
    loads: list[str] = st.session_state.setdefault("loads", [])

    def load(what: str) -> str:
        loads.append(what)
        return what

    for what in ("a", "b", "a", "c", "a", "d"):
        cached(endpoint, (what,), partial(load, what))
    st.session_state["kept"] = [key[-1] for key in st.session_state[CACHE_KEY]]


def test_the_per_session_answer_cache_keeps_the_most_recently_used():
    """With metadata_cache = 2, the cache never holds more than two answers and drops the one
    used least recently."""
    at = AppTest.from_function(_cache_script)
    at.secrets["limits"] = {"metadata_cache": 2}
    at.run()
    assert not at.exception
    assert at.session_state["kept"] == ["a", "d"]
    assert at.session_state["loads"] == ["a", "b", "c", "d"]


def test_a_description_larger_than_any_model_is_refused(endpoint_env):
    """An /api/show answer with more tensors than any real model is refused with the reason
    rather than kept in the session."""
    body = json.loads(json.dumps({"model_info": {}, "details": {}, "tensors": []}))
    body["tensors"] = [{"name": f"t{i}", "type": "F32", "shape": [1]} for i in range(20_001)]
    endpoint_env.force_status("/api/show", 200, body)
    at = open_page("lab2-objective4")
    assert not at.exception
    errors = "\n".join(e.value for e in at.error).replace("\\", "")
    assert "20,001 tensors" in errors and "more than any real model" in errors


def test_a_model_list_longer_than_any_server_is_refused(endpoint_env):
    """An /api/tags answer listing more models than a real server holds is refused with the
    reason, not cached."""
    model = httpx.get(f"{endpoint_env.url}/api/tags").json()["models"][0]
    many = [dict(model, name=f"m{i}:x", model=f"m{i}:x") for i in range(2_001)]
    endpoint_env.force_status("/api/tags", 200, {"models": many})
    at = open_page("lab2-objective3")
    assert not at.exception
    errors = "\n".join(e.value for e in at.error).replace("\\", "")
    assert "lists 2,001 models; more than 2,000" in errors


def test_a_pull_announcing_too_many_layers_stops(endpoint_env):
    """A pull stream that announces more layers than any model has stops with the reason (and
    draws no bar beyond the limit)."""
    lines = [{"status": "pulling manifest"}] + [
        {"status": "pulling", "digest": f"sha256:{i:064x}", "total": 10, "completed": 10}
        for i in range(100)
    ]
    endpoint_env.force_status(
        "/api/pull",
        200,
        "".join(json.dumps(line) + "\n" for line in lines),
        content_type="application/x-ndjson",
    )
    at = open_page("lab2-objective2")
    at.button(key=widget_key("lab2-objective2", "model-pull") + "-pull-Q4").click().run()
    errors = "\n".join(e.value for e in at.error).replace("\\", "")
    assert "more than 64 layers" in errors
    assert len(at.get("progress")) <= 64 + 1  # the layer bars and the overall bar


def _versions_script() -> None:
    import streamlit as st

    from quantviz.ui import session

    for i in range(12):
        session.remember_version(f"http://h{i}:11434", "9" * 1000)
    st.session_state["versions"] = dict(st.session_state[session.SERVER_VERSION])


def test_remembered_server_versions_are_bounded():
    """The session keeps the versions of the last 8 hosts checked, each at most 64 characters."""
    at = AppTest.from_function(_versions_script).run()
    versions = at.session_state["versions"]
    assert list(versions) == [f"http://h{i}:11434" for i in range(4, 12)]
    assert all(len(v) == 64 for v in versions.values())
