"""The test server speaks Ollama's protocol to the real `ollama` client and to plain httpx."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest
from concurrency import wait_for
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer, split_tokens

HELLO = [{"role": "user", "content": "What does quantization do?"}]
SSL = httpx.create_ssl_context()  # one context: building one per client costs ~40 ms


def make_client(url: str, **kwargs: Any) -> ollama.Client:
    """The real ollama client, as an app would build it."""
    return ollama.Client(host=url, verify=SSL, **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, verify=SSL, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, verify=SSL, **kwargs)


def chat_text(client: ollama.Client, model: str, messages: list[dict], **kwargs: Any) -> str:
    return "".join(
        p.message.content or "" for p in client.chat(model, messages, stream=True, **kwargs)
    )


def test_version_over_plain_httpx(ollama_server: OllamaTestServer) -> None:
    """GET /api/version answers {"version": ...} and the version is settable."""
    assert get(f"{ollama_server.url}/api/version").json() == {"version": "0.12.11"}
    ollama_server.set_version("0.5.1")
    assert get(f"{ollama_server.url}/api/version").json()["version"] == "0.5.1"


def test_root_says_ollama_is_running(ollama_server: OllamaTestServer) -> None:
    """GET / answers like Ollama's health check."""
    assert get(ollama_server.url).text == "Ollama is running"


def test_list_reports_both_tags_with_details(ollama_server: OllamaTestServer) -> None:
    """/api/tags lists the installed tags with size, digest and quantization level."""
    models = {m.model: m for m in make_client(ollama_server.url).list().models}
    assert set(models) == {Q4_TAG, Q6_TAG}
    q4, q6 = models[Q4_TAG], models[Q6_TAG]
    assert q4.details is not None and q4.details.quantization_level == "Q4_K_M"
    assert q6.details is not None and q6.details.quantization_level == "Q6_K"
    assert q4.size is not None and q6.size is not None and 0 < q4.size < q6.size
    raw = get(f"{ollama_server.url}/api/tags").json()["models"][0]
    assert {"name", "model", "modified_at", "size", "digest", "details"} <= set(raw)


def test_show_through_the_client_drops_tensors_but_raw_has_them(
    ollama_server: OllamaTestServer,
) -> None:
    """The client's show() parses details and model_info; the raw body also carries tensors."""
    shown = make_client(ollama_server.url).show(Q4_TAG)
    assert shown.details is not None and shown.details.family == "gemma4"
    assert shown.modelinfo is not None and shown.modelinfo["gemma4.block_count"] == 35
    assert "tensors" not in shown.model_dump()
    raw = post(f"{ollama_server.url}/api/show", json={"model": Q4_TAG}).json()
    assert raw["model_info"]["tokenizer.ggml.tokens"] is None  # elided like Ollama does
    assert {"name", "type", "shape"} == set(raw["tensors"][0])


def test_show_verbose_returns_the_vocabulary(ollama_server: OllamaTestServer) -> None:
    """verbose: true returns the arrays a plain show leaves out."""
    raw = post(
        f"{ollama_server.url}/api/show", json={"model": Q6_TAG, "verbose": True}, timeout=30
    ).json()
    assert len(raw["model_info"]["tokenizer.ggml.tokens"]) == 262_144


def test_q4_mixes_types_and_q6_is_uniform() -> None:
    """Invented model: Q4_K_M mixes Q4_K, Q6_K and F32 tensors; Q6_K is Q6_K plus F32 norms."""
    with OllamaTestServer(model="gemma-like") as srv:

        def types(tag: str) -> Counter[str]:
            body = post(f"{srv.url}/api/show", json={"model": tag}).json()
            return Counter(t["type"] for t in body["tensors"])

        assert set(types(Q4_TAG)) == {"Q4_K", "Q6_K", "F32"}
        assert set(types(Q6_TAG)) == {"Q6_K", "F32"}


def test_per_layer_variant_and_array_elision() -> None:
    """Invented model, older Ollama ('large'): per_layer_heads sends head_count as an array;
    elide_arrays='all' sends it as null."""
    with OllamaTestServer(model="gemma-like", per_layer_heads=True, elide_arrays="large") as srv:
        url = f"{srv.url}/api/show"
        heads = post(url, json={"model": Q4_TAG}).json()["model_info"]
        assert heads["gemma4.attention.head_count"] == [8] * 20 + [4] * 15
        srv.set_elide_arrays("all")
        info = post(url, json={"model": Q4_TAG}).json()["model_info"]
        assert info["gemma4.attention.head_count"] is None
        assert info["gemma4.block_count"] == 35


def test_chat_stream_tokens_then_final_metrics(ollama_server: OllamaTestServer) -> None:
    """A streamed chat yields assistant token chunks, then one done chunk with the metrics."""
    parts = list(make_client(ollama_server.url).chat(Q6_TAG, HELLO, stream=True))
    assert all(p.message.role == "assistant" and not p.done for p in parts[:-1])
    final = parts[-1]
    assert final.done and final.done_reason == "stop"
    assert final.eval_count == len(parts) - 1
    for name in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
                 "eval_duration"):  # fmt: skip
        assert getattr(final, name) > 0


def test_chat_is_deterministic_and_q4_differs_from_q6(ollama_server: OllamaTestServer) -> None:
    """Same model, prompt and options give the same reply; Q4 and Q6 differ somewhat."""
    client = make_client(ollama_server.url)
    opts = {"temperature": 0, "seed": 7}
    q4 = chat_text(client, Q4_TAG, HELLO, options=opts)
    assert q4 == chat_text(client, Q4_TAG, HELLO, options=opts)
    q6 = chat_text(client, Q6_TAG, HELLO, options=opts)
    assert q4 != q6
    assert q4.split()[:5] == q6.split()[:5]  # they agree on a prefix, then drift apart


def test_non_stream_chat_matches_the_stream(ollama_server: OllamaTestServer) -> None:
    """stream=False returns one response with the same text and done=true."""
    client = make_client(ollama_server.url)
    reply = client.chat(Q4_TAG, HELLO, options={"temperature": 0})
    assert reply.done and reply.eval_count
    assert reply.message.content == chat_text(client, Q4_TAG, HELLO, options={"temperature": 0})


def test_num_predict_stops_with_length(ollama_server: OllamaTestServer) -> None:
    """options.num_predict caps the tokens and sets done_reason to "length"."""
    parts = list(
        make_client(ollama_server.url).chat(Q4_TAG, HELLO, stream=True, options={"num_predict": 3})
    )
    assert len(parts) == 4 and parts[-1].done_reason == "length" and parts[-1].eval_count == 3


def test_pelican_prompt_answers_with_an_svg_fence(ollama_server: OllamaTestServer) -> None:
    """The pelican prompt is answered with an SVG inside a ```svg fence."""
    text = chat_text(
        make_client(ollama_server.url),
        Q6_TAG,
        [{"role": "user", "content": "Draw a pelican riding a bicycle."}],
    )
    assert "```svg\n<svg" in text and "</svg>\n```" in text


def test_scripted_reply_and_tokens(ollama_server: OllamaTestServer) -> None:
    """srv.script makes a model answer exact text, split into the given tokens."""
    ollama_server.script(Q4_TAG, "17 * 23", "381", tokens=["38", "1"])
    ollama_server.script("*", "17 * 23", "391")
    ollama_server.script(Q4_TAG, "17 * 23", "381", tokens=["38", "1"])  # later scripts win
    client = make_client(ollama_server.url)
    msgs = [{"role": "user", "content": "What is 17 * 23?"}]
    parts = [p.message.content for p in client.chat(Q4_TAG, msgs, stream=True)][:-1]
    assert parts == ["38", "1"]
    assert chat_text(client, Q6_TAG, msgs) == "391"


def test_split_tokens_round_trips() -> None:
    """The server's tokenizer keeps every character: joining tokens gives the text back."""
    text = "  Hello, world!\n```svg\n<svg/>\n```  "
    assert "".join(split_tokens(text)) == text


def test_unknown_model_chat_is_404(ollama_server: OllamaTestServer) -> None:
    """Chat with an unknown model fails with 404 and Ollama's "model 'x' not found"."""
    with pytest.raises(ollama.ResponseError) as info:
        list(make_client(ollama_server.url).chat("nope:1b", HELLO, stream=True))
    assert info.value.status_code == 404 and info.value.error == "model 'nope:1b' not found"


def test_pull_streams_layers_then_success_and_lists_the_tag() -> None:
    """A pull streams manifest, per-layer progress, verify, write, success; then it is listed."""
    with OllamaTestServer(installed=(), pull_steps=3) as srv:
        client = make_client(srv.url)
        lines = list(client.pull(Q4_TAG, stream=True))
        statuses = [p.status for p in lines]
        assert statuses[0] == "pulling manifest"
        assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
        layers = [p for p in lines if p.digest]
        assert len({p.digest for p in layers}) == 4
        assert all(p.status == f"pulling {str(p.digest)[7:19]}" for p in layers)
        assert layers[0].completed is None  # Ollama omits a zero `completed`
        assert layers[3].completed == layers[3].total
        assert [m.model for m in client.list().models] == [Q4_TAG]


def test_pull_non_stream_returns_success(ollama_server: OllamaTestServer) -> None:
    """stream=False answers one {"status": "success"}."""
    assert make_client(ollama_server.url).pull(Q6_TAG).status == "success"


def test_pull_unknown_tag_errors_like_ollama(ollama_server: OllamaTestServer) -> None:
    """Unknown tag: an error line after "pulling manifest" when streaming, HTTP 500 otherwise."""
    client = make_client(ollama_server.url)
    stream = client.pull("nobody/nothing:q1", stream=True)
    assert next(stream).status == "pulling manifest"
    with pytest.raises(ollama.ResponseError) as info:
        next(stream)
    assert info.value.status_code == -1
    assert info.value.error == "pull model manifest: file does not exist"
    with pytest.raises(ollama.ResponseError) as info:
        client.pull("nobody/nothing:q1")
    assert info.value.status_code == 500


def test_logprobs_shape_when_supported(ollama_server: OllamaTestServer) -> None:
    """logprobs + top_logprobs add per-chunk [{token, logprob, bytes, top_logprobs}]."""
    body = {"model": Q4_TAG, "messages": HELLO, "logprobs": True, "top_logprobs": 3}
    with httpx.stream("POST", f"{ollama_server.url}/api/chat", json=body, verify=SSL) as response:
        lines = [json.loads(line) for line in response.iter_lines()]
    entry = lines[0]["logprobs"][0]
    assert entry["token"] == lines[0]["message"]["content"]
    assert entry["bytes"] == list(entry["token"].encode())
    assert len(entry["top_logprobs"]) == 3
    assert entry["top_logprobs"][0]["logprob"] == entry["logprob"] <= 0
    parts = list(
        make_client(ollama_server.url).chat(
            Q4_TAG, HELLO, stream=True, logprobs=True, top_logprobs=2
        )
    )
    top = parts[0].logprobs[0].top_logprobs if parts[0].logprobs else None
    assert top is not None and len(top) == 2


def test_logprobs_ignored_when_unsupported(ollama_server: OllamaTestServer) -> None:
    """An older server (supports_logprobs False) ignores the request fields."""
    ollama_server.set_supports_logprobs(False)
    parts = list(
        make_client(ollama_server.url).chat(
            Q4_TAG, HELLO, stream=True, logprobs=True, top_logprobs=2
        )
    )
    assert all(p.logprobs is None for p in parts)


def test_api_key_required_when_set(ollama_server: OllamaTestServer) -> None:
    """With a key set: 401 {"error":"unauthorized"} without it or when wrong, 200 with it."""
    ollama_server.set_api_key("s3cret")
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = get(f"{ollama_server.url}/api/tags", headers=headers)
        assert response.status_code == 401 and response.json() == {"error": "unauthorized"}
    client = make_client(ollama_server.url, headers={"Authorization": "Bearer s3cret"})
    assert len(client.list().models) == 2
    assert ollama_server.requests[-1].headers["authorization"] == "Bearer s3cret"


def test_forced_status_and_times(ollama_server: OllamaTestServer) -> None:
    """force_status answers a path with a status for N requests, then normally."""
    ollama_server.force_status("/api/tags", 500, times=1)
    with pytest.raises(ollama.ResponseError) as info:
        make_client(ollama_server.url).list()
    assert info.value.status_code == 500
    assert len(make_client(ollama_server.url).list().models) == 2
    ollama_server.force_status("/api/version", 200, "<html>hi</html>", content_type="text/html")
    assert get(f"{ollama_server.url}/api/version").text == "<html>hi</html>"


def test_cut_stream_closes_without_final_chunk(ollama_server: OllamaTestServer) -> None:
    """cut_stream_after(n) sends n lines, then drops the connection mid-body."""
    ollama_server.cut_stream_after(3, path="/api/chat")
    got = []
    with pytest.raises(httpx.RemoteProtocolError):
        for part in make_client(ollama_server.url).chat(Q4_TAG, HELLO, stream=True):
            got.append(part)
    assert len(got) == 3 and not any(p.done for p in got)


def test_error_line_mid_stream(ollama_server: OllamaTestServer) -> None:
    """error_after(n) sends n lines, then {"error": ...}: the client raises status -1."""
    ollama_server.error_after(2, "model runner crashed", path="/api/chat")
    got = []
    with pytest.raises(ollama.ResponseError) as info:
        for part in make_client(ollama_server.url).chat(Q4_TAG, HELLO, stream=True):
            got.append(part)
    assert len(got) == 2
    assert info.value.status_code == -1 and info.value.error == "model runner crashed"


@pytest.mark.timeout(60)
def test_slow_server_times_out_the_client(ollama_server: OllamaTestServer) -> None:
    """initial_delay holds the first byte back (an hour here) long enough to trip a client read
    timeout."""
    ollama_server.set_delays(initial_delay=3600)
    client = make_client(ollama_server.url, timeout=0.2)
    with pytest.raises(httpx.ReadTimeout):
        list(client.chat(Q4_TAG, HELLO, stream=True))


def test_token_delay_paces_the_stream(ollama_server: OllamaTestServer) -> None:
    """token_delay spaces the chunks out."""
    ollama_server.set_delays(token_delay=0.03)
    started = time.monotonic()
    list(
        make_client(ollama_server.url).chat(Q4_TAG, HELLO, stream=True, options={"num_predict": 6})
    )
    assert time.monotonic() - started >= 0.15


def _two_chats(srv: OllamaTestServer) -> list[tuple[float, float]]:
    def run() -> None:
        list(make_client(srv.url).chat(Q4_TAG, HELLO, stream=True, options={"num_predict": 8}))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted((r.started or 0, r.finished or 0) for r in srv.requests_to("/api/chat"))


def test_parallel_mode_overlaps_and_serial_mode_queues(ollama_server: OllamaTestServer) -> None:
    """Two chats overlap in time in parallel mode and run one after the other in serial mode."""
    ollama_server.set_delays(token_delay=0.04)
    (_, e1), (s2, _) = _two_chats(ollama_server)
    assert s2 < e1
    ollama_server.requests.clear()
    ollama_server.set_serial(True)
    (_, e1), (s2, _) = _two_chats(ollama_server)
    assert s2 >= e1 - 0.01


def test_requests_are_recorded(ollama_server: OllamaTestServer) -> None:
    """Each request is recorded with method, path, lower-cased headers and parsed JSON body."""
    client = make_client(ollama_server.url, headers={"X-Trace": "abc"})
    list(client.chat(Q4_TAG, HELLO, stream=True, options={"seed": 3}))
    rec = ollama_server.requests_to("/api/chat")[-1]
    assert rec.method == "POST" and rec.headers["x-trace"] == "abc"
    assert rec.body["options"] == {"seed": 3} and rec.body["stream"] is True


@pytest.mark.timeout(60)
def test_shutdown_wakes_a_slow_stream_in_flight() -> None:
    """Stopping the server ends a reply that would stream for an hour: the handler wakes from
    its token delay and the client sees the connection end (else this test times out)."""
    srv = OllamaTestServer(token_delay=3600.0).start()
    stream = make_client(srv.url, timeout=7200).chat(Q4_TAG, HELLO, stream=True)
    next(stream)
    srv.stop()
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        list(stream)


def _answers(port: int) -> bool:
    try:
        get(f"http://127.0.0.1:{port}/api/version", headers={"Authorization": "Bearer k"})
    except httpx.ConnectError:
        return False
    return True


def test_standalone_run_serves_on_the_given_port(tmp_path: Path) -> None:
    """`python tests/ollama_server.py --port N` serves until terminated."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = Path(__file__).with_name("ollama_server.py")
    with (tmp_path / "server.log").open("w") as log:  # a file, never a pipe nobody reads
        proc = subprocess.Popen(
            [sys.executable, str(script), "--port", str(port), "--api-key", "k"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: _answers(port) or proc.poll() is not None, timeout=10)
        assert proc.poll() is None, (tmp_path / "server.log").read_text()
        response = get(
            f"http://127.0.0.1:{port}/api/version", headers={"Authorization": "Bearer k"}
        )
        assert response.json() == {"version": "0.12.11"}
    finally:
        proc.terminate()
        proc.wait(timeout=5)


# --------------------------------------------------------------------------- Gemma 4 E2B shape
# Expected values are the upstream facts of docs/model-facts.md, written out here.


def _show(srv: OllamaTestServer, tag: str, verbose: bool = False) -> dict:
    body: dict = {"model": tag, "verbose": True} if verbose else {"model": tag}
    return post(f"{srv.url}/api/show", json=body, timeout=60).json()


def test_e2b_non_verbose_show_sends_every_array_as_null(ollama_server: OllamaTestServer) -> None:
    """Like Ollama's getModelData(maxArraySize 0): per-layer arrays and the vocabulary are null,
    scalars are sent, and the full tensor list (text, per-layer embeddings, towers) is there."""
    raw = _show(ollama_server, Q4_TAG)
    info = raw["model_info"]
    for key in ("gemma4.feed_forward_length", "gemma4.attention.sliding_window_pattern",
                "tokenizer.ggml.tokens", "tokenizer.ggml.merges"):  # fmt: skip
        assert key in info and info[key] is None, key
    assert info["gemma4.block_count"] == 35 and info["gemma4.embedding_length"] == 1536
    assert info["gemma4.attention.head_count"] == 8
    assert info["gemma4.attention.head_count_kv"] == 1
    assert info["gemma4.attention.key_length"] == 512
    assert info["gemma4.attention.key_length_swa"] == 256
    assert info["gemma4.attention.sliding_window"] == 512
    assert info["gemma4.attention.shared_kv_layers"] == 20
    assert info["gemma4.embedding_length_per_layer_input"] == 256
    tensors = {t["name"]: t for t in raw["tensors"]}
    assert tensors["per_layer_token_embd.weight"]["shape"] == [8960, 262144]
    assert tensors["per_layer_model_proj.weight"]["shape"] == [1536, 8960]
    assert tensors["blk.34.inp_gate.weight"]["shape"] == [1536, 256]
    assert tensors["blk.34.proj.weight"]["shape"] == [256, 1536]
    assert "output.weight" not in tensors  # tied embeddings
    assert sum(n.startswith("blk.") for n in tensors) == 35 * 17
    assert any(n.startswith("v.blk.") for n in tensors)
    assert any(n.startswith("a.blk.") for n in tensors)
    assert "mm.input_projection.weight" in tensors and "mm.a.input_projection.weight" in tensors


def test_e2b_verbose_show_sends_the_arrays(ollama_server: OllamaTestServer) -> None:
    """verbose: true sends the per-layer FFN widths (6144, doubled on the 20 shared layers), the
    sliding pattern (every fifth layer full) and the 262144-token vocabulary."""
    info = _show(ollama_server, Q6_TAG, verbose=True)["model_info"]
    assert info["gemma4.feed_forward_length"] == [6144] * 15 + [12288] * 20
    assert info["gemma4.attention.sliding_window_pattern"] == [i % 5 != 4 for i in range(35)]
    assert len(info["tokenizer.ggml.tokens"]) == 262_144
    assert len(info["tokenizer.ggml.merges"]) == 514_906


def test_e2b_types_follow_llama_cpp_by_hand(ollama_server: OllamaTestServer) -> None:
    """Q4_K_M: both embedding tables Q6_K, attn_v and ffn_down Q6_K in the 17 use_more_bits(i, 35)
    layers (36 Q6_K), the other 281 text matrices Q4_K; Q6_K: all 317 Q6_K. In both, the
    per-layer projection stays BF16 and the towers keep their converter types."""
    q4 = {t["name"]: t["type"] for t in _show(ollama_server, Q4_TAG)["tensors"]}
    q6 = {t["name"]: t["type"] for t in _show(ollama_server, Q6_TAG)["tensors"]}
    text4 = Counter(t for n, t in q4.items() if not n.startswith(("v.", "a.", "mm.")))
    text6 = Counter(t for n, t in q6.items() if not n.startswith(("v.", "a.", "mm.")))
    assert text4 == {"Q6_K": 36, "Q4_K": 281, "F32": 283, "BF16": 1}
    assert text6 == {"Q6_K": 317, "F32": 283, "BF16": 1}
    more = [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 31, 32, 33, 34]
    assert [i for i in range(35) if q4[f"blk.{i}.attn_v.weight"] == "Q6_K"] == more
    assert [i for i in range(35) if q4[f"blk.{i}.ffn_down.weight"] == "Q6_K"] == more
    assert q4["per_layer_token_embd.weight"] == q4["token_embd.weight"] == "Q6_K"
    assert q4["per_layer_model_proj.weight"] == q6["per_layer_model_proj.weight"] == "BF16"
    towers = [n for n in q4 if n.startswith(("v.", "a.", "mm."))]
    assert all(q4[n] == q6[n] and q4[n] in ("F16", "BF16", "F32") for n in towers)
    assert q4["a.blk.0.ffn_down.weight"] == "BF16" and q4["v.blk.0.attn_v.weight"] == "F16"


def test_e2b_sizes_follow_from_the_tensors(ollama_server: OllamaTestServer) -> None:
    """/api/tags sizes are the tensors' bytes (gguf's block table, 32-byte aligned) plus a GGUF
    header of a few MB and three small layers; parameter_count sums every tensor's elements."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    sizes = {m["name"]: m["size"] for m in get(f"{ollama_server.url}/api/tags").json()["models"]}
    for tag in (Q4_TAG, Q6_TAG):
        raw = _show(ollama_server, tag)
        tensor_bytes = 0
        for t in raw["tensors"]:
            block, size = GGML_QUANT_SIZES[GGMLQuantizationType[t["type"]]]
            tensor_bytes += -(-(math.prod(t["shape"]) // block * size) // 32) * 32
        assert 0 < sizes[tag] - tensor_bytes < 20_000_000
        assert raw["model_info"]["general.parameter_count"] == sum(
            math.prod(t["shape"]) for t in raw["tensors"]
        )
        assert raw["details"]["parameter_size"] == "5.1B"
    assert sizes[Q4_TAG] < sizes[Q6_TAG]
