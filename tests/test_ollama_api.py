"""quantviz.ollama.client against the Ollama-protocol test server over real HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from concurrency import wait_for
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer

from quantviz.chat.runs import collect_reply
from quantviz.decision.storage import bits_per_weight
from quantviz.ollama.client import (
    ChatMetrics,
    Endpoint,
    PullProgress,
    TensorInfo,
    TokenChunk,
    chat_stream,
    check_connection,
    find_model,
    list_models,
    pull,
    show,
)
from quantviz.ollama.errors import OllamaError
from quantviz.ollama.metadata import (
    compare_metadata,
    describe_value,
    file_type_name,
    metadata_summary,
    tensor_type_mix,
    vocab_size,
)
from quantviz.ollama.progress import PullTracker

HELLO = [{"role": "user", "content": "What does quantization do?"}]
REPLY_LIMIT = 1_000_000  # characters: far above any reply here


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def kind_of(call: object) -> OllamaError:
    with pytest.raises(OllamaError) as info:
        call()  # type: ignore[operator]
    return info.value


def collect(events: Iterator[object]) -> tuple[str, ChatMetrics | None]:
    text, metrics = "", None
    for event in events:
        if isinstance(event, TokenChunk):
            text += event.text
        elif isinstance(event, ChatMetrics):
            metrics = event
    return text, metrics


# --------------------------------------------------------------------------- endpoint and key


def test_endpoint_repr_and_str_hide_the_key() -> None:
    """Endpoint's repr and str say whether a key is set, never what it is."""
    ep = Endpoint("http://h:1", "sk-very-secret")
    assert "sk-very-secret" not in repr(ep) and "sk-very-secret" not in str(ep)
    assert "<set>" in repr(ep)


def test_check_connection_returns_the_version(ollama_endpoint: Endpoint) -> None:
    """check_connection answers the server version from /api/version."""
    assert check_connection(ollama_endpoint) == "0.12.11"


def test_check_connection_bad_url() -> None:
    """A malformed URL is kind bad_url before any request."""
    assert kind_of(lambda: check_connection(Endpoint("http://"))).kind == "bad_url"
    assert kind_of(lambda: check_connection(Endpoint("ftp://x"))).kind == "bad_url"


def test_check_connection_refused(closed_port: int) -> None:
    """Nothing listening is kind refused."""
    err = kind_of(lambda: check_connection(Endpoint(f"127.0.0.1:{closed_port}")))
    assert err.kind == "refused" and "connection refused" in err.message


@pytest.mark.timeout(60)
def test_check_connection_timeout(silent_port: int) -> None:
    """A server that never answers is kind timeout (without the client's timeout the call
    would wait for ever, and this test time out)."""
    err = kind_of(lambda: check_connection(Endpoint(f"127.0.0.1:{silent_port}"), timeout=0.3))
    assert err.kind == "timeout"


def test_check_connection_401_then_success_with_key(ollama_server: OllamaTestServer) -> None:
    """401 without the key says "check the API key"; with the key the version comes back."""
    ollama_server.set_api_key("class-key")
    err = kind_of(lambda: check_connection(Endpoint(ollama_server.url)))
    assert err.kind == "auth" and "check the API key" in err.message and err.status_code == 401
    assert kind_of(lambda: check_connection(Endpoint(ollama_server.url, "wrong"))).kind == "auth"
    assert check_connection(Endpoint(ollama_server.url, "class-key")) == "0.12.11"


def test_check_connection_403_is_auth(ollama_server: OllamaTestServer) -> None:
    """403 from a proxy is kind auth too."""
    ollama_server.force_status("/api/version", 403, {"error": "forbidden"})
    assert kind_of(lambda: check_connection(Endpoint(ollama_server.url))).kind == "auth"


def test_check_connection_html_is_not_ollama(ollama_server: OllamaTestServer) -> None:
    """An HTML page where /api/version should be is kind not_ollama."""
    ollama_server.force_status("/api/version", 200, "<html></html>", content_type="text/html")
    err = kind_of(lambda: check_connection(Endpoint(ollama_server.url)))
    assert err.kind == "not_ollama" and "text/html" in err.message


def test_check_connection_json_without_version_is_not_ollama(
    ollama_server: OllamaTestServer,
) -> None:
    """JSON without a version string is kind not_ollama."""
    ollama_server.force_status("/api/version", 200, {"status": "ok"})
    assert kind_of(lambda: check_connection(Endpoint(ollama_server.url))).kind == "not_ollama"


def test_check_connection_404_is_not_ollama(ollama_server: OllamaTestServer) -> None:
    """A plain 404 page (Gin's default) is kind not_ollama."""
    ollama_server.force_status("/api/version", 404, "404 page not found", content_type="text/plain")
    assert kind_of(lambda: check_connection(Endpoint(ollama_server.url))).kind == "not_ollama"


def test_404_json_from_another_server_is_not_ollama(ollama_server: OllamaTestServer) -> None:
    """A 404 whose JSON is not Ollama's {"error": ...} shape is kind not_ollama."""
    ollama_server.force_status("/api/tags", 404, {"detail": "Not Found"})
    assert kind_of(lambda: list_models(Endpoint(ollama_server.url))).kind == "not_ollama"


def test_check_connection_500_is_server(ollama_server: OllamaTestServer) -> None:
    """A 5xx is kind server and carries the server's text."""
    ollama_server.force_status("/api/version", 502, {"error": "upstream down"})
    err = kind_of(lambda: check_connection(Endpoint(ollama_server.url)))
    assert err.kind == "server" and "upstream down" in err.message


def test_redirects_are_not_followed(ollama_server: OllamaTestServer) -> None:
    """A redirect is kind bad_url: following it could carry the key elsewhere."""
    ollama_server.force_status("/api/version", 301, "")
    assert kind_of(lambda: check_connection(Endpoint(ollama_server.url))).kind == "bad_url"


def test_key_only_in_the_authorization_header(ollama_server: OllamaTestServer) -> None:
    """The key goes out as `Authorization: Bearer <key>` and never in the path or query."""
    ep = Endpoint(ollama_server.url, "sk-abc123")
    check_connection(ep)
    list_models(ep)
    show(ep, Q4_TAG)
    collect(chat_stream(ep, Q4_TAG, HELLO))
    list(pull(ep, Q6_TAG))
    assert len(ollama_server.requests) == 5
    for rec in ollama_server.requests:
        assert rec.headers["authorization"] == "Bearer sk-abc123"
        assert "sk-abc123" not in rec.path + rec.query
        assert "sk-abc123" not in str(rec.body)


def test_env_api_key_is_not_sent_to_an_endpoint_without_one(
    ollama_server: OllamaTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OLLAMA_API_KEY in the environment is not sent to an endpoint configured without a key."""
    monkeypatch.setenv("OLLAMA_API_KEY", "process-wide-key")
    list_models(Endpoint(ollama_server.url))
    assert "authorization" not in ollama_server.requests[-1].headers


def test_errors_never_contain_the_key(ollama_server: OllamaTestServer) -> None:
    """Error messages and reprs do not echo the key."""
    ollama_server.set_api_key("right")
    err = kind_of(lambda: list_models(Endpoint(ollama_server.url, "sk-wrong-key")))
    assert "sk-wrong-key" not in str(err) + repr(err)


# --------------------------------------------------------------------------- list and pull


def test_list_models_and_find_model(ollama_endpoint: Endpoint) -> None:
    """list_models maps tag -> entry with size and details; find_model handles ':latest'."""
    models = list_models(ollama_endpoint)
    assert set(models) == {Q4_TAG, Q6_TAG}
    entry = models[Q4_TAG]
    assert entry.size > 1_000_000_000 and entry.details.quantization_level == "Q4_K_M"
    assert entry.modified_at and entry.digest
    assert find_model(models, Q6_TAG) is models[Q6_TAG]
    assert find_model({"gemma3:latest": entry}, "gemma3") is entry
    assert find_model(models, "absent:tag") is None


def test_pull_progress_reaches_success_and_the_tag_is_listed() -> None:
    """pull yields per-layer progress; with the tag's blobs known beforehand (as the manifest
    gives them) the overall bar only moves forward and reaches 100 %; the tag is then listed."""
    with OllamaTestServer(installed=(), pull_steps=4) as srv:
        ep = Endpoint(srv.url)
        tracker = PullTracker(expected=dict(srv.catalog[Q4_TAG].layers))
        fractions = []
        for progress in pull(ep, Q4_TAG):
            tracker.add(progress)
            fractions.append(tracker.figures().percent)
        assert tracker.succeeded and tracker.figures().percent == 100
        assert fractions == sorted(fractions)
        assert len(tracker.layers) == 4
        assert all(done == total for done, total in tracker.layers.values())  # every blob whole
        assert Q4_TAG in list_models(ep)


def test_pull_unknown_tag_is_not_found_with_ollamas_text(ollama_endpoint: Endpoint) -> None:
    """An unknown tag raises not_found with `pull model manifest: file does not exist`."""
    seen = []
    with pytest.raises(OllamaError) as info:
        for progress in pull(ollama_endpoint, "nobody/nothing:q1"):
            seen.append(progress.status)
    assert seen == ["pulling manifest"]
    assert info.value.kind == "not_found"
    assert info.value.message == "pull model manifest: file does not exist"


def test_pull_dropped_connection_is_stream(ollama_server: OllamaTestServer) -> None:
    """A connection dropped mid-pull is kind stream, after the progress already yielded."""
    ollama_server.cut_stream_after(4, path="/api/pull")
    seen: list[PullProgress] = []
    with pytest.raises(OllamaError) as info:
        seen.extend(pull(Endpoint(ollama_server.url), Q6_TAG))
    assert info.value.kind == "stream" and len(seen) == 4
    assert seen[0].status == "pulling manifest"


def test_pull_without_success_line_is_stream(ollama_server: OllamaTestServer) -> None:
    """A pull stream that ends cleanly without "success" is kind stream."""
    body = '{"status":"pulling manifest"}\n{"status":"verifying sha256 digest"}\n'
    ollama_server.force_status("/api/pull", 200, body, content_type="application/x-ndjson")
    assert kind_of(lambda: list(pull(Endpoint(ollama_server.url), Q4_TAG))).kind == "stream"


def test_pull_401_is_auth(ollama_server: OllamaTestServer) -> None:
    """A pull without the key is kind auth."""
    ollama_server.set_api_key("k")
    assert kind_of(lambda: list(pull(Endpoint(ollama_server.url), Q4_TAG))).kind == "auth"


def test_pull_refused_surfaces_at_first_next(closed_port: int) -> None:
    """Streaming calls are lazy: pull() returns, and the failure comes at the first next()."""
    stream = pull(Endpoint(f"127.0.0.1:{closed_port}"), Q4_TAG)
    assert kind_of(lambda: next(stream)).kind == "refused"


# --------------------------------------------------------------------------- show and metadata


@pytest.fixture
def invented_endpoint() -> Iterator[Endpoint]:
    """The test server's older invented Gemma-like model (no towers, fixed sizes)."""
    with OllamaTestServer(model="gemma-like") as srv:
        yield Endpoint(srv.url)


def test_show_reads_tensors_the_client_drops(ollama_server: OllamaTestServer) -> None:
    """show returns details, model_info and the tensor table (text and towers), as served."""
    meta = show(Endpoint(ollama_server.url), Q4_TAG)
    assert meta.architecture == "gemma4" and meta.details.quantization_level == "Q4_K_M"
    assert len(meta.tensors) == len(ollama_server.catalog[Q4_TAG].tensors)
    assert meta.tensors[0] == TensorInfo("token_embd.weight", "Q6_K", (1536, 262_144))
    assert meta.parameter_count == sum(t.n_elements for t in meta.tensors)
    assert "tokenizer.ggml.tokens" in meta.elided_keys


def test_show_unknown_model_is_not_found(ollama_endpoint: Endpoint) -> None:
    """show of a tag the server lacks is not_found with the server's text."""
    err = kind_of(lambda: show(ollama_endpoint, "nope:1b"))
    assert err.kind == "not_found" and err.message == "model 'nope:1b' not found"


def test_tensor_type_mix_q4_mixes_and_q6_is_uniform(ollama_endpoint: Endpoint) -> None:
    """E2B's Q4_K_M file: Q6_K (both embedding tables, 17 attn_v and 17 ffn_down) is its largest
    share, then Q4_K; the Q6_K file has no Q4_K; both keep the same BF16/F16/F32 tensors; the
    tensor bytes fill the tag's size but for the GGUF header and alignment."""
    models = list_models(ollama_endpoint)
    q4 = tensor_type_mix(show(ollama_endpoint, Q4_TAG).tensors)
    q6 = tensor_type_mix(show(ollama_endpoint, Q6_TAG).tensors)
    assert list(q4)[:2] == ["Q6_K", "Q4_K"]  # largest share first
    assert "Q4_K" not in q6 and next(iter(q6)) == "Q6_K"
    assert q4["Q6_K"].count == 2 + 2 * 17
    for kept in ("BF16", "F16", "F32"):
        assert q4[kept] == q6[kept]
    for mix, tag in ((q4, Q4_TAG), (q6, Q6_TAG)):
        total = sum(s.n_bytes or 0 for s in mix.values())
        assert 0.99 < total / models[tag].size < 1.0
    # Q4_K: 144 bytes per 256 weights, F32: 4 per weight.
    assert q4["Q4_K"].n_bytes == q4["Q4_K"].n_elements // 256 * 144
    assert q6["F32"].n_bytes == q6["F32"].n_elements * 4


def test_bits_per_weight_is_near_the_nominal_figures(invented_endpoint: Endpoint) -> None:
    """A generic dense model (the invented one: no towers, one embedding table): size × 8 /
    parameter_count comes out near 4.8–5.2 for Q4_K_M and 6.6 for Q6_K."""
    models = list_models(invented_endpoint)
    n = show(invented_endpoint, Q4_TAG).parameter_count or 0
    assert 4.8 < bits_per_weight(models[Q4_TAG].size, n) < 5.3
    assert 6.5 < bits_per_weight(models[Q6_TAG].size, n) < 6.7


def test_e2b_bits_per_weight_sit_far_above_the_nominal_figures(ollama_endpoint: Endpoint) -> None:
    """E2B is not a generic model: half its weights are Q6_K embedding tables and its towers stay
    16-bit, so size × 8 / parameter_count is well above 4.8 and 6.6 (about 6.9 and 7.5)."""
    models = list_models(ollama_endpoint)
    n = show(ollama_endpoint, Q4_TAG).parameter_count or 0
    assert 6.5 < bits_per_weight(models[Q4_TAG].size, n) < 7.2
    assert 7.2 < bits_per_weight(models[Q6_TAG].size, n) < 7.8


def test_tensor_type_mix_unknown_type_has_no_bytes() -> None:
    """A GGML type gguf does not know is counted, with bytes None."""
    mix = tensor_type_mix([TensorInfo("x", "Q9_ZZ", (256,)), TensorInfo("y", "F16", (4,))])
    assert mix["Q9_ZZ"].n_bytes is None and mix["F16"].n_bytes == 8


def test_describe_value_shows_per_layer_arrays() -> None:
    """Scalars as is, per-layer arrays as range plus runs, uniform arrays as one value."""
    assert describe_value([8] * 20 + [4] * 15) == "4–8 (per layer: 8×20, 4×15)"
    assert describe_value([8] * 35) == "8 (all 35 layers)"
    assert describe_value(list(range(10))) == "0–9 (per layer, 10 layers)"
    assert describe_value([True, True, False]) == "per layer: true×2, false×1"
    assert describe_value(2_665_786_880) == "2,665,786,880"
    assert describe_value(None) == "—"


def test_metadata_summary_reads_arrays_per_layer() -> None:
    """A per-layer head_count is shown as a range with runs; vocab comes from token_embd."""
    with OllamaTestServer(model="gemma-like", per_layer_heads=True, elide_arrays="large") as srv:
        rows = {f.label: f for f in metadata_summary(show(Endpoint(srv.url), Q4_TAG))}
    assert rows["Attention heads"].display == "4–8 (per layer: 8×20, 4×15)"
    assert rows["Attention heads"].key == "gemma4.attention.head_count"
    assert rows["KV heads"].display == "2"
    assert rows["Layers (blocks)"].raw == 35
    assert rows["Vocabulary size"].raw == 262_144
    assert rows["Vocabulary size"].key == "token_embd.weight shape"
    assert rows["File type"].display == "15 (Q4_K_M)"
    assert rows["Tokenizer model"].display == "llama"


def test_elided_arrays_are_flagged_and_verbose_recovers_them() -> None:
    """A newer Ollama sends per-layer arrays as null: the row says so; verbose=True has them."""
    with OllamaTestServer(model="gemma-like", per_layer_heads=True, elide_arrays="all") as srv:
        ep = Endpoint(srv.url)
        row = {f.label: f for f in metadata_summary(show(ep, Q4_TAG))}["Attention heads"]
        assert row.elided and row.raw is None and "verbose" in row.display
        meta = show(ep, Q4_TAG, verbose=True, timeout=30)
    row = {f.label: f for f in metadata_summary(meta)}["Attention heads"]
    assert row.raw == [8] * 20 + [4] * 15 and not row.elided
    assert vocab_size(meta) == (262_144, "tokenizer.ggml.tokens")


def test_compare_metadata_marks_identical_and_differing_rows(ollama_endpoint: Endpoint) -> None:
    """Q4 and Q6 share architecture, layers and tokenizer; quantization and file type differ."""
    rows = {
        r.label: r
        for r in compare_metadata(show(ollama_endpoint, Q4_TAG), show(ollama_endpoint, Q6_TAG))
    }
    for same in ("Architecture", "Parameters", "Layers (blocks)", "Context length",
                 "Embedding length", "Attention heads", "KV heads", "Vocabulary size",
                 "Tokenizer model"):  # fmt: skip
        assert rows[same].same is True, same
    assert rows["Quantization level"].same is False
    assert rows["File type"].same is False


def test_file_type_name() -> None:
    """general.file_type numbers map to llama.cpp's names."""
    assert file_type_name(15) == "Q4_K_M" and file_type_name(18) == "Q6_K"
    assert file_type_name(0) == "F32" and file_type_name("x") is None


# --------------------------------------------------------------------------- chat


def test_chat_stream_yields_text_then_metrics(ollama_endpoint: Endpoint) -> None:
    """Chunks of text, then ChatMetrics with tokens/s = eval_count / eval_duration × 1e9."""
    events = list(chat_stream(ollama_endpoint, Q4_TAG, HELLO, options={"temperature": 0}))
    assert all(isinstance(e, TokenChunk) for e in events[:-1])
    metrics = events[-1]
    assert isinstance(metrics, ChatMetrics)
    assert metrics.output_tokens == len(events) - 1
    assert metrics.eval_s is not None and metrics.total_s is not None
    assert metrics.tokens_per_s == pytest.approx(metrics.output_tokens / metrics.eval_s, rel=1e-9)
    assert metrics.done_reason == "stop" and metrics.prompt_tokens and metrics.load_s
    assert metrics.total_s > metrics.eval_s
    assert metrics.ttft_s is not None and 0 <= metrics.ttft_s <= metrics.wall_s
    assert not metrics.logprobs_returned


def test_chat_options_reach_the_server(ollama_server: OllamaTestServer) -> None:
    """options pass through; num_predict ends the reply with done_reason "length"."""
    _, metrics = collect(
        chat_stream(Endpoint(ollama_server.url), Q6_TAG, HELLO, options={"num_predict": 4})
    )
    assert metrics and metrics.done_reason == "length" and metrics.output_tokens == 4
    assert ollama_server.requests_to("/api/chat")[-1].body["options"] == {"num_predict": 4}


def test_chat_logprobs_present_when_supported(ollama_endpoint: Endpoint) -> None:
    """With logprobs, every chunk carries its token's logprob and the top-k alternatives."""
    reply = collect_reply(
        ollama_endpoint, Q4_TAG, HELLO, max_chars=REPLY_LIMIT, logprobs=True, top_logprobs=3
    )
    assert reply.metrics.logprobs_returned
    assert "".join(lp.token for lp in reply.logprobs) == reply.text
    assert all(len(lp.top) == 3 and lp.top[0].token == lp.token for lp in reply.logprobs)
    assert all(lp.logprob <= 0 for lp in reply.logprobs)


def test_chat_logprobs_absent_on_an_older_server(ollama_server: OllamaTestServer) -> None:
    """A server without logprob support answers normally; logprobs_returned is False."""
    ollama_server.set_supports_logprobs(False)
    reply = collect_reply(
        Endpoint(ollama_server.url),
        Q4_TAG,
        HELLO,
        max_chars=REPLY_LIMIT,
        logprobs=True,
        top_logprobs=3,
    )
    assert reply.text and reply.logprobs == () and not reply.metrics.logprobs_returned


def test_chat_logprobs_not_requested_are_not_sent(ollama_server: OllamaTestServer) -> None:
    """Without logprobs=True the request carries no logprob fields."""
    collect_reply(Endpoint(ollama_server.url), Q4_TAG, HELLO, max_chars=REPLY_LIMIT)
    body = ollama_server.requests_to("/api/chat")[-1].body
    assert "logprobs" not in body and "top_logprobs" not in body


def test_mid_stream_error_line_keeps_partial_text(ollama_server: OllamaTestServer) -> None:
    """An error line after 5 chunks raises kind stream; partial_text holds those 5 chunks."""
    ollama_server.error_after(5, "model runner has unexpectedly stopped", path="/api/chat")
    got = ""
    with pytest.raises(OllamaError) as info:
        for event in chat_stream(Endpoint(ollama_server.url), Q4_TAG, HELLO):
            assert isinstance(event, TokenChunk)
            got += event.text
    assert info.value.kind == "stream"
    assert info.value.message == "model runner has unexpectedly stopped"
    assert info.value.partial_text == got and len(got) > 0


def test_cut_stream_keeps_partial_text(ollama_server: OllamaTestServer) -> None:
    """A socket closed mid-reply raises kind stream with the text received so far."""
    ollama_server.cut_stream_after(3, path="/api/chat")
    err = kind_of(lambda: collect(chat_stream(Endpoint(ollama_server.url), Q4_TAG, HELLO)))
    assert err.kind == "stream" and err.partial_text.startswith("You asked")


def test_stream_without_final_chunk_is_stream(ollama_server: OllamaTestServer) -> None:
    """A stream that ends cleanly without done:true is kind stream, partial text kept."""
    line = {"model": "m", "created_at": "x", "message": {"role": "assistant", "content": "Hi"}}
    body = json.dumps({**line, "done": False}) + "\n"
    ollama_server.force_status("/api/chat", 200, body, content_type="application/x-ndjson")
    err = kind_of(lambda: collect(chat_stream(Endpoint(ollama_server.url), Q4_TAG, HELLO)))
    assert err.kind == "stream" and err.partial_text == "Hi"


@pytest.mark.timeout(60)
def test_chat_timeout_with_a_slow_server(ollama_server: OllamaTestServer) -> None:
    """A first token slower than the timeout raises kind timeout (the server would hold it for
    an hour: without the timeout this test times out)."""
    ollama_server.set_delays(initial_delay=3600)
    err = kind_of(
        lambda: collect(chat_stream(Endpoint(ollama_server.url), Q4_TAG, HELLO, timeout=0.25))
    )
    assert err.kind == "timeout"


def test_chat_timeout_between_tokens_keeps_partial_text(ollama_server: OllamaTestServer) -> None:
    """A stall between tokens raises timeout with the first token kept."""
    ollama_server.set_delays(token_delay=1.0)
    err = kind_of(
        lambda: collect(chat_stream(Endpoint(ollama_server.url), Q4_TAG, HELLO, timeout=0.25))
    )
    assert err.kind == "timeout" and err.partial_text == "You"


def test_chat_unknown_model_is_not_found(ollama_endpoint: Endpoint) -> None:
    """Chat with a tag the server lacks is not_found with "model 'x' not found"."""
    err = kind_of(lambda: collect(chat_stream(ollama_endpoint, "nope:1b", HELLO)))
    assert err.kind == "not_found" and err.message == "model 'nope:1b' not found"


def test_chat_refused_is_lazy(closed_port: int) -> None:
    """chat_stream sends nothing until iterated; a refused connection surfaces at next()."""
    stream = chat_stream(Endpoint(f"127.0.0.1:{closed_port}"), Q4_TAG, HELLO)
    err = kind_of(lambda: next(stream))
    assert err.kind == "refused" and err.partial_text == ""


def test_chat_server_error_and_auth(ollama_server: OllamaTestServer) -> None:
    """A 500 on /api/chat is kind server; a missing key is kind auth."""
    ep = Endpoint(ollama_server.url)
    ollama_server.force_status("/api/chat", 500, {"error": "out of memory"}, times=1)
    err = kind_of(lambda: collect(chat_stream(ep, Q4_TAG, HELLO)))
    assert err.kind == "server" and "out of memory" in err.message
    ollama_server.set_api_key("k")
    assert kind_of(lambda: collect(chat_stream(ep, Q4_TAG, HELLO))).kind == "auth"


def test_stop_closes_the_connection_and_next_chat_works(ollama_server: OllamaTestServer) -> None:
    """Closing the iterator early (Stop) ends the request; the next chat succeeds."""
    ollama_server.set_delays(token_delay=0.05)
    ep = Endpoint(ollama_server.url)
    stream = chat_stream(ep, Q4_TAG, HELLO)
    first = next(stream)
    assert isinstance(first, TokenChunk)
    stream.close()
    request = ollama_server.requests_to("/api/chat")[-1]
    wait_for(lambda: request.finished is not None, timeout=2)  # the server stopped streaming
    ollama_server.set_delays(token_delay=0.0)
    assert collect_reply(ep, Q4_TAG, HELLO, max_chars=REPLY_LIMIT).metrics.done_reason == "stop"


def _side_by_side(ep: Endpoint) -> tuple[list[tuple[float, float]], float]:
    spans: list[tuple[float, float]] = []

    def run(tag: str) -> None:
        started = time.monotonic()
        collect_reply(ep, tag, HELLO, max_chars=REPLY_LIMIT, options={"num_predict": 8})
        spans.append((started, time.monotonic()))

    threads = [threading.Thread(target=run, args=(tag,)) for tag in (Q4_TAG, Q6_TAG)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(spans), time.monotonic() - started


def test_two_parallel_chats_overlap_in_parallel_mode(ollama_server: OllamaTestServer) -> None:
    """In parallel mode two chats overlap in time; in serial mode the server answers in turn."""
    ollama_server.set_delays(token_delay=0.04)  # 8 tokens: ~0.3 s each
    ep = Endpoint(ollama_server.url)
    (_, end1), (start2, _) = _side_by_side(ep)[0]
    assert start2 < end1
    ollama_server.requests.clear()
    ollama_server.set_serial(True)
    _side_by_side(ep)
    (_, served_end1), (served_start2, _) = sorted(
        (r.started or 0, r.finished or 0) for r in ollama_server.requests_to("/api/chat")
    )
    assert served_start2 >= served_end1 - 0.01


# --------------------------------------------------------------------------- verbose retry


def test_show_asks_verbose_again_when_a_needed_array_is_null(ollama_server: OllamaTestServer):
    """A non-verbose answer left the sliding pattern out (null): show(needs=...) asks once more
    with verbose, keeps the per-layer arrays, drops the vocabulary and merges but keeps their
    lengths."""
    meta = show(Endpoint(ollama_server.url), Q4_TAG, needs=("attention.sliding_window_pattern",))
    bodies = [r.body for r in ollama_server.requests_to("/api/show")]
    assert bodies == [{"model": Q4_TAG}, {"model": Q4_TAG, "verbose": True}]
    assert meta.verbose
    assert meta.model_info["gemma4.attention.sliding_window_pattern"] == [
        i % 5 != 4 for i in range(35)
    ]
    assert meta.model_info["gemma4.feed_forward_length"] == [6144] * 15 + [12288] * 20
    assert meta.model_info["tokenizer.ggml.tokens"] is None
    assert meta.array_lengths == {
        "tokenizer.ggml.tokens": 262_144,
        "tokenizer.ggml.scores": 262_144,
        "tokenizer.ggml.token_type": 262_144,
        "tokenizer.ggml.merges": 514_906,
    }
    assert meta.elided_keys == ()
    assert vocab_size(meta) == (262_144, "tokenizer.ggml.tokens")


def test_show_asks_once_when_nothing_needed_is_missing(ollama_server: OllamaTestServer):
    """Scalars the caller needs arrived: no second request; the arrays stay null and flagged."""
    meta = show(Endpoint(ollama_server.url), Q4_TAG, needs=("block_count", "attention.head_count"))
    assert len(ollama_server.requests_to("/api/show")) == 1
    assert not meta.verbose
    assert "gemma4.attention.sliding_window_pattern" in meta.elided_keys


# --------------------------------------------------------------------------- boundary validation


def _show_body(**overrides: object) -> dict:
    body: dict = {
        "details": {"family": "gemma4", "families": ["gemma4"], "quantization_level": "Q4_K_M"},
        "model_info": {"general.architecture": "gemma4", "gemma4.block_count": 35},
        "tensors": [{"name": "token_embd.weight", "type": "Q6_K", "shape": [1536, 262144]}],
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (_show_body(tensors=[{"name": "x.weight", "type": "F32", "shape": ["a", "b"]}]),
         "tensors[0].shape (x.weight)"),
        (_show_body(tensors={"name": "x"}), "tensors should be a list"),
        (_show_body(tensors=[{"name": "x.weight", "type": "F32", "shape": [-1]}]),
         "tensors[0].shape"),
        (_show_body(tensors=[{"name": 7, "type": "F32", "shape": [1]}]), "tensors[0].name"),
        (_show_body(details={"families": 5}), "details.families"),
        (_show_body(model_info=[1, 2]), "model_info should be an object"),
        (_show_body(model_info={"general.architecture": "gemma4", "gemma4.block_count": "35"}),
         "model_info[gemma4.block_count]"),
        (_show_body(model_info={"general.architecture": "gemma4",
                                "gemma4.feed_forward_length": [6144, -1]}),
         "model_info[gemma4.feed_forward_length]"),
        (_show_body(model_info={"general.architecture": "gemma4",
                                "gemma4.attention.sliding_window_pattern": "yes"}),
         "sliding_window_pattern"),
        (_show_body(model_info={"general.parameter_count": 10**30}),
         "model_info[general.parameter_count]"),
    ],
)  # fmt: skip
def test_malformed_show_answers_name_the_field(ollama_server, body, named):
    """A malformed /api/show value is a bad_answer error naming the field, never a traceback."""
    ollama_server.force_status("/api/show", 200, body)
    err = kind_of(lambda: show(Endpoint(ollama_server.url), Q4_TAG))
    assert err.kind == "bad_answer", err
    assert named in err.message and "/api/show" in err.message


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"size": 10**30}, "models[0].size"),
        ({"size": -5}, "models[0].size"),
        ({"size": "big"}, "models[0].size"),
        ({"details": {"families": 5}}, "models[0].details.families"),
        ({"details": "gguf"}, "models[0].details should be an object"),
        ({"digest": ["x"]}, "models[0].digest"),
    ],
)
def test_malformed_tags_answers_name_the_field(ollama_server, entry, named):
    """A malformed /api/tags value is a bad_answer error naming the field and the tag."""
    model = {"name": Q4_TAG, "model": Q4_TAG, "size": 1, "digest": "d", **entry}
    ollama_server.force_status("/api/tags", 200, {"models": [model]})
    err = kind_of(lambda: list_models(Endpoint(ollama_server.url)))
    assert err.kind == "bad_answer" and named in err.message, err.message
    assert "/api/tags" in err.message


def test_tags_models_not_a_list_is_named(ollama_server):
    """`models` that is not a list is named as such."""
    ollama_server.force_status("/api/tags", 200, {"models": 5})
    err = kind_of(lambda: list_models(Endpoint(ollama_server.url)))
    assert err.kind == "bad_answer" and "models should be a list" in err.message
