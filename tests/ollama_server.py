"""An Ollama-protocol test server: real HTTP on 127.0.0.1, shapes from Ollama's API docs.

Use it as a context manager in tests::

    with OllamaTestServer() as srv:
        client = ollama.Client(host=srv.url)

or standalone for manual runs and benchmarks::

    python tests/ollama_server.py --port 11500 --token-delay 0.02

It serves `/api/version`, `/api/tags`, `/api/show`, `/api/pull` and `/api/chat` for two
Gemma-like tags (Q4_K_M and Q6_K) whose tensor layouts, sizes and metadata are computed the way a
real GGUF would carry them. Faults (401 without the bearer key, forced statuses, a stream cut or an
error line after N chunks, slow replies, serial answering, no logprob support) can be switched at
runtime from any thread. Every request is recorded so tests can assert on headers and bodies.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import random
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

Q4_TAG = "batiai/gemma4-e2b:q4"
Q6_TAG = "batiai/gemma4-e2b:q6"
DEFAULT_VERSION = "0.12.11"

ARCH = "gemma4"
N_LAYER = 35
N_EMBD = 2048
N_VOCAB = 262_144
N_FF = 8192
HEAD_DIM = 256
N_HEAD = 8
N_HEAD_KV = 2
CONTEXT_LENGTH = 32_768
# The per-layer variant: wider attention in the first 20 layers, narrower after.
PER_LAYER_HEADS = (8,) * 20 + (4,) * 15

# llama.cpp's LLAMA_FTYPE values for the two mixes we serve.
FILE_TYPES = {"Q4_K_M": 15, "Q6_K": 18}

# Older Ollama keeps arrays up to 1024 items in a non-verbose /api/show; newer builds elide all.
ARRAY_KEEP_LIMIT = 1024

ElideMode = Literal["large", "all"]


# --------------------------------------------------------------------------- model catalog


@dataclass(frozen=True)
class TensorSpec:
    name: str
    type: str
    shape: tuple[int, ...]

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def n_bytes(self) -> int:
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType[self.type]]
        return self.n_elements // block * size


@dataclass
class ModelSpec:
    """One tag as the server knows it: what /api/tags, /api/show and /api/pull report."""

    tag: str
    quantization_level: str
    tensors: list[TensorSpec]
    model_info: dict[str, Any]
    degradation: float
    tokens_per_s: float
    layers: list[tuple[str, int]]  # (digest, size) of the manifest's blobs, model blob first
    modified_at: str = ""

    @property
    def size(self) -> int:
        return sum(size for _, size in self.layers)

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"manifest:{self.tag}".encode()).hexdigest()

    @property
    def parameter_count(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @property
    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": ARCH,
            "families": [ARCH],
            "parameter_size": human_number(self.parameter_count),
            "quantization_level": self.quantization_level,
        }


@dataclass(frozen=True)
class LargeArray:
    """A GGUF array too big to build for every server start; made only for a verbose show."""

    length: int
    item: Callable[[int], Any]

    def materialize(self) -> list[Any]:
        return [self.item(i) for i in range(self.length)]


def human_number(n: int) -> str:
    """Ollama's parameter_size style: 2681741312 -> '2.7B'."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


def _use_more_bits(i_layer: int, n_layer: int) -> bool:
    # llama.cpp's Q4_K_M rule for attn_v / ffn_down: first and last eighth, every third between.
    return (
        i_layer < n_layer // 8 or i_layer >= 7 * n_layer // 8 or (i_layer - n_layer // 8) % 3 == 2
    )


def gemma_like_tensors(quant: str, per_layer_heads: bool) -> list[TensorSpec]:
    """The tensor table of a Gemma-like GGUF with tied embeddings (no separate output.weight)."""
    if quant not in FILE_TYPES:
        raise ValueError(f"unsupported mix {quant!r}")
    heads = PER_LAYER_HEADS if per_layer_heads else (N_HEAD,) * N_LAYER
    big = "Q6_K" if quant == "Q6_K" else "Q4_K"
    tensors = [TensorSpec("token_embd.weight", "Q6_K", (N_EMBD, N_VOCAB))]
    for i in range(N_LAYER):
        more = quant == "Q6_K" or _use_more_bits(i, N_LAYER)
        sensitive = "Q6_K" if more else big
        q_dim = heads[i] * HEAD_DIM
        kv_dim = N_HEAD_KV * HEAD_DIM
        p = f"blk.{i}."
        tensors += [
            TensorSpec(p + "attn_norm.weight", "F32", (N_EMBD,)),
            TensorSpec(p + "attn_q.weight", big, (N_EMBD, q_dim)),
            TensorSpec(p + "attn_k.weight", big, (N_EMBD, kv_dim)),
            TensorSpec(p + "attn_v.weight", sensitive, (N_EMBD, kv_dim)),
            TensorSpec(p + "attn_q_norm.weight", "F32", (HEAD_DIM,)),
            TensorSpec(p + "attn_k_norm.weight", "F32", (HEAD_DIM,)),
            TensorSpec(p + "attn_output.weight", big, (q_dim, N_EMBD)),
            TensorSpec(p + "post_attention_norm.weight", "F32", (N_EMBD,)),
            TensorSpec(p + "ffn_norm.weight", "F32", (N_EMBD,)),
            TensorSpec(p + "ffn_gate.weight", big, (N_EMBD, N_FF)),
            TensorSpec(p + "ffn_up.weight", big, (N_EMBD, N_FF)),
            TensorSpec(p + "ffn_down.weight", sensitive, (N_FF, N_EMBD)),
            TensorSpec(p + "post_ffw_norm.weight", "F32", (N_EMBD,)),
        ]
    tensors.append(TensorSpec("output_norm.weight", "F32", (N_EMBD,)))
    return tensors


def gemma_like_model(
    tag: str, quant: str, *, per_layer_heads: bool = False, degradation: float | None = None
) -> ModelSpec:
    """A Gemma-like tag: Q4_K_M mixes Q4_K with Q6_K and F32 norms, Q6_K is uniform."""
    tensors = gemma_like_tensors(quant, per_layer_heads)
    n_params = sum(t.n_elements for t in tensors)
    heads: int | list[int] = list(PER_LAYER_HEADS) if per_layer_heads else N_HEAD
    info: dict[str, Any] = {
        "general.architecture": ARCH,
        "general.basename": "gemma-4",
        "general.file_type": FILE_TYPES[quant],
        "general.parameter_count": n_params,
        "general.quantization_version": 2,
        "general.size_label": "E2B",
        "general.type": "model",
        f"{ARCH}.block_count": N_LAYER,
        f"{ARCH}.context_length": CONTEXT_LENGTH,
        f"{ARCH}.embedding_length": N_EMBD,
        f"{ARCH}.feed_forward_length": N_FF,
        f"{ARCH}.attention.head_count": heads,
        f"{ARCH}.attention.head_count_kv": N_HEAD_KV,
        f"{ARCH}.attention.key_length": HEAD_DIM,
        f"{ARCH}.attention.value_length": HEAD_DIM,
        f"{ARCH}.attention.layer_norm_rms_epsilon": 1e-6,
        f"{ARCH}.attention.sliding_window": 512,
        f"{ARCH}.attention.sliding_window_pattern": [(i + 1) % 5 != 0 for i in range(N_LAYER)],
        f"{ARCH}.rope.freq_base": 1_000_000,
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.pre": "default",
        "tokenizer.ggml.tokens": LargeArray(N_VOCAB, lambda i: f"<tok_{i}>"),
        "tokenizer.ggml.scores": LargeArray(N_VOCAB, lambda i: 0.0),
        "tokenizer.ggml.token_type": LargeArray(N_VOCAB, lambda i: 1),
        "tokenizer.ggml.bos_token_id": 2,
        "tokenizer.ggml.eos_token_id": 1,
        "tokenizer.ggml.padding_token_id": 0,
        "tokenizer.ggml.unknown_token_id": 3,
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.ggml.add_eos_token": False,
    }
    tensor_bytes = sum(t.n_bytes for t in tensors)
    # GGUF header: the vocabulary (~16 B a token with score and type) plus tensor descriptors.
    header = N_VOCAB * 16 + len(tensors) * 96 + 4096
    model_blob = tensor_bytes + header
    layers = [
        (_blob_digest(tag, "model"), model_blob),
        (_blob_digest(tag, "template"), 358),
        (_blob_digest(tag, "license"), 8_432),
        (_blob_digest(tag, "params"), 56),
    ]
    return ModelSpec(
        tag=tag,
        quantization_level=quant,
        tensors=tensors,
        model_info=info,
        degradation=(0.18 if quant == "Q4_K_M" else 0.04) if degradation is None else degradation,
        tokens_per_s=48.0 if quant == "Q4_K_M" else 37.0,
        layers=layers,
    )


def _blob_digest(tag: str, kind: str) -> str:
    return "sha256:" + hashlib.sha256(f"{tag}/{kind}".encode()).hexdigest()


def normalize_tag(name: str) -> str:
    """Ollama's default tag: 'gemma3' and 'gemma3:latest' name the same model."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- scripted replies

PELICAN_SVG_CLEAN = """Here is a pelican riding a bicycle:

```svg
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 160" width="200" height="160">
  <circle cx="50" cy="120" r="28" fill="none" stroke="#333" stroke-width="4"/>
  <circle cx="150" cy="120" r="28" fill="none" stroke="#333" stroke-width="4"/>
  <path d="M50 120 L95 80 L150 120 M95 80 L120 80" stroke="#c33" stroke-width="4" fill="none"/>
  <ellipse cx="100" cy="62" rx="30" ry="18" fill="#eee" stroke="#555"/>
  <circle cx="128" cy="40" r="10" fill="#eee" stroke="#555"/>
  <path d="M136 40 L172 48 L136 50 Z" fill="#f4a300"/>
</svg>
```
"""

PELICAN_SVG_ROUGH = """Sure! A pelican on a bike:

```svg
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 160" width="200" height="160">
  <circle cx="50" cy="120" r="28" fill="none" stroke="#333" stroke-width="4"/>
  <circle cx="140" cy="125" r="22" fill="none" stroke="#333" stroke-width="4"/>
  <path d="M50 120 L95 80 L140 125" stroke="#c33" stroke-width="4" fill="none"/>
  <ellipse cx="100" cy="58" rx="34" ry="16" fill="#eee" stroke="#555"/>
  <path d="M120 50 L170 52" stroke="#f4a300" stroke-width="6"/>
</svg>
```
"""

FILLER = (
    "Quantization stores each weight with fewer bits, so the model takes less memory and "
    "usually runs faster. The price is a small rounding error in every layer, which can add up "
    "on long answers, arithmetic and strict formats."
)

# Near-miss substitutions a degraded model might make (a word, a digit, a punctuation mark).
SWAPS = {
    "the": "a", "a": "the", "is": "was", "and": "or", "less": "fewer", "small": "tiny",
    "memory": "storage", "faster": "quicker", "usually": "often", "can": "may",
    ".": ",", ",": ";", "each": "every", "model": "network", "weight": "value",
}  # fmt: skip

_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


def split_tokens(text: str) -> list[str]:
    """Word-ish tokens with their leading whitespace, so ''.join(tokens) == text."""
    return _TOKEN_RE.findall(text)


def _rng(*parts: object) -> random.Random:
    seed = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))


def _perturb(token: str, rng: random.Random) -> str:
    stripped = token.lstrip()
    lead = token[: len(token) - len(stripped)]
    if stripped.isdigit():
        return lead + str(int(stripped) + rng.choice((-1, 1, 10)))
    swap = SWAPS.get(stripped.lower())
    if swap is not None:
        return lead + swap
    if len(stripped) > 4 and stripped.isalpha():
        cut = rng.randrange(1, len(stripped) - 1)
        return lead + stripped[:cut] + stripped[cut + 1 :]
    return token


def degrade(tokens: Sequence[str], p: float, *key: object) -> list[str]:
    """Replace some tokens after the first few with near misses; deterministic per key."""
    out = list(tokens)
    for i in range(4, len(out)):
        if _rng("degrade", i, *key).random() < p:
            out[i] = _perturb(out[i], _rng("swap", i, *key))
    return out


@dataclass(frozen=True)
class Script:
    model: str  # a tag, or "*" for every model
    prompt_substring: str
    text: str
    tokens: tuple[str, ...] | None = None


# --------------------------------------------------------------------------- faults and records


@dataclass
class Fault:
    """A fault with an optional use count (None = until cleared)."""

    times: int | None = None

    def take(self) -> bool:
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


@dataclass
class ForcedResponse(Fault):
    status: int = 500
    body: str = ""
    content_type: str = "application/json; charset=utf-8"


@dataclass
class StreamFault(Fault):
    after: int = 0
    message: str = ""  # empty: cut the connection; otherwise send {"error": message}


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON when it parses, else the raw text
    received: float = field(default_factory=time.monotonic)
    started: float | None = None  # after the serial lock, when answering begins
    finished: float | None = None


# --------------------------------------------------------------------------- the server


class OllamaTestServer:
    """A ThreadingHTTPServer that answers like Ollama; every setter is thread-safe."""

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        installed: Sequence[str] = (Q4_TAG, Q6_TAG),
        api_key: str | None = None,
        version: str = DEFAULT_VERSION,
        supports_logprobs: bool = True,
        serial: bool = False,
        token_delay: float = 0.0,
        initial_delay: float = 0.0,
        pull_steps: int = 4,
        pull_step_delay: float = 0.0,
        per_layer_heads: bool = False,
        elide_arrays: ElideMode = "large",
    ) -> None:
        self._lock = threading.RLock()
        self._serial_lock = threading.Lock()
        self._stop = threading.Event()
        self.catalog: dict[str, ModelSpec] = {
            Q4_TAG: gemma_like_model(Q4_TAG, "Q4_K_M", per_layer_heads=per_layer_heads),
            Q6_TAG: gemma_like_model(Q6_TAG, "Q6_K", per_layer_heads=per_layer_heads),
        }
        self.installed: dict[str, str] = {}  # tag -> modified_at
        for tag in installed:
            self.installed[normalize_tag(tag)] = _now()
        self.api_key = api_key
        self.version = version
        self.supports_logprobs = supports_logprobs
        self.serial = serial
        self.token_delay = token_delay
        self.initial_delay = initial_delay
        self.pull_steps = max(1, pull_steps)
        self.pull_step_delay = pull_step_delay
        self.elide_arrays: ElideMode = elide_arrays
        self.scripts: list[Script] = []
        self.forced: dict[str, ForcedResponse] = {}
        self.stream_faults: dict[str | None, StreamFault] = {}
        self.requests: list[RecordedRequest] = []
        self._loaded: set[str] = set()
        self._httpd = _Httpd((host, port), _Handler, self)
        self._thread: threading.Thread | None = None

    # -- lifecycle

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._httpd.server_address[0]}:{self.port}"

    def start(self) -> OllamaTestServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes handlers sleeping in a slow stream
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> OllamaTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._stop.set()
            self._httpd.server_close()

    # -- runtime configuration (thread-safe)

    def set_api_key(self, key: str | None) -> None:
        """Require `Authorization: Bearer <key>` on every path (None: no auth)."""
        with self._lock:
            self.api_key = key

    def set_version(self, version: str) -> None:
        with self._lock:
            self.version = version

    def set_supports_logprobs(self, supported: bool) -> None:
        """False answers like an Ollama older than 0.12.11: logprob fields are ignored."""
        with self._lock:
            self.supports_logprobs = supported

    def set_serial(self, serial: bool) -> None:
        """Serial: one generation at a time (OLLAMA_NUM_PARALLEL=1); parallel otherwise."""
        with self._lock:
            self.serial = serial

    def set_delays(
        self,
        *,
        token_delay: float | None = None,
        initial_delay: float | None = None,
        pull_step_delay: float | None = None,
    ) -> None:
        """Slow server: seconds before the first byte, between tokens, between pull steps."""
        with self._lock:
            if token_delay is not None:
                self.token_delay = token_delay
            if initial_delay is not None:
                self.initial_delay = initial_delay
            if pull_step_delay is not None:
                self.pull_step_delay = pull_step_delay

    def set_elide_arrays(self, mode: ElideMode) -> None:
        """'large': arrays over 1024 items come back null; 'all': every array does."""
        with self._lock:
            self.elide_arrays = mode

    def force_status(
        self,
        path: str,
        status: int,
        body: str | Mapping[str, Any] | None = None,
        *,
        content_type: str = "application/json; charset=utf-8",
        times: int | None = None,
    ) -> None:
        """Answer `path` with `status` (default body: Ollama's {"error": ...} shape)."""
        if body is None:
            body = {"error": f"forced {status} by the test server"}
        text = body if isinstance(body, str) else json.dumps(body)
        with self._lock:
            self.forced[path] = ForcedResponse(
                times=times, status=status, body=text, content_type=content_type
            )

    def cut_stream_after(
        self, chunks: int, *, path: str | None = None, times: int | None = None
    ) -> None:
        """Close the socket after `chunks` NDJSON lines, without the final chunk."""
        with self._lock:
            self.stream_faults[path] = StreamFault(times=times, after=chunks)

    def error_after(
        self,
        chunks: int,
        message: str = "an error was encountered while running the model",
        *,
        path: str | None = None,
        times: int | None = None,
    ) -> None:
        """Send an {"error": message} line after `chunks` NDJSON lines, then end the stream."""
        with self._lock:
            self.stream_faults[path] = StreamFault(times=times, after=chunks, message=message)

    def clear_faults(self) -> None:
        with self._lock:
            self.forced.clear()
            self.stream_faults.clear()
            self.api_key = None
            self.token_delay = self.initial_delay = self.pull_step_delay = 0.0

    def script(
        self, model: str, prompt_substring: str, text: str, tokens: Sequence[str] | None = None
    ) -> None:
        """Reply `text` (split as `tokens` if given) when the last user message contains
        `prompt_substring`; `model` is a tag or "*". Later scripts win."""
        if tokens is not None and "".join(tokens) != text:
            raise ValueError("tokens must join to text")
        key = model if model == "*" else normalize_tag(model)
        with self._lock:
            self.scripts.insert(
                0, Script(key, prompt_substring, text, tuple(tokens) if tokens else None)
            )

    def add_model(self, spec: ModelSpec, *, installed: bool = True) -> None:
        with self._lock:
            self.catalog[normalize_tag(spec.tag)] = spec
            if installed:
                self.installed[normalize_tag(spec.tag)] = _now()

    def remove_model(self, tag: str) -> None:
        with self._lock:
            self.installed.pop(normalize_tag(tag), None)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- internals used by the handler

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _take_forced(self, path: str) -> ForcedResponse | None:
        with self._lock:
            forced = self.forced.get(path)
            return forced if forced is not None and forced.take() else None

    def _take_stream_fault(self, path: str) -> StreamFault | None:
        with self._lock:
            for key in (path, None):
                fault = self.stream_faults.get(key)
                if fault is not None and fault.take():
                    return fault
            return None

    def _find_installed(self, name: str) -> ModelSpec | None:
        tag = normalize_tag(name)
        with self._lock:
            if tag in self.installed and tag in self.catalog:
                return self.catalog[tag]
            return None

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; True when it is."""
        return seconds > 0 and self._stop.wait(seconds)

    def reply_tokens(self, spec: ModelSpec, prompt: str, options: Mapping[str, Any]) -> list[str]:
        """The deterministic reply for (model, prompt, temperature, seed)."""
        with self._lock:
            scripts = list(self.scripts)
        for s in scripts:
            if s.model in ("*", spec.tag) and s.prompt_substring in prompt:
                return list(s.tokens) if s.tokens else split_tokens(s.text)
        temperature = float(options.get("temperature", 0.8) or 0.0)
        seed = int(options.get("seed", 0) or 0)
        if "pelican" in prompt.lower():
            clean = spec.degradation < 0.1 and temperature < 1.5
            return split_tokens(PELICAN_SVG_CLEAN if clean else PELICAN_SVG_ROUGH)
        echo = split_tokens(f'You asked: "{prompt.strip()[:80]}".')
        p = spec.degradation + 0.05 * temperature
        key = (spec.tag, prompt) if temperature == 0 else (spec.tag, prompt, seed, temperature)
        return echo + degrade(split_tokens(" " + FILLER), p, *key)

    def logprob_entry(self, spec: ModelSpec, i: int, token: str, top_k: int) -> dict[str, Any]:
        rng = _rng("logprob", spec.tag, i, token)
        chosen = -abs(rng.gauss(0.0, 0.15 + 1.5 * spec.degradation))
        entry: dict[str, Any] = {"token": token, "logprob": chosen}
        if token:
            entry["bytes"] = list(token.encode())
        if top_k > 0:
            alternatives = [token, token.upper(), " the", ",", " a", token.strip() or "_", "\n"]
            seen: list[str] = []
            for alt in alternatives:
                if alt not in seen:
                    seen.append(alt)
            top = []
            value = chosen
            for alt in seen[:top_k]:
                item: dict[str, Any] = {"token": alt, "logprob": value}
                if alt:
                    item["bytes"] = list(alt.encode())
                top.append(item)
                value -= 0.5 + rng.random() * 2.0
            entry["top_logprobs"] = top
        return entry


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, owner: OllamaTestServer) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (timeout, Stop button) is normal here, not worth a traceback.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Cut(Exception):
    """The handler stops writing and drops the connection."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked streams and keep-alive, like Go's net/http
    server: _Httpd

    def log_message(self, fmt: str, *args: Any) -> None:
        pass  # keep test output clean

    # -- plumbing

    @property
    def owner(self) -> OllamaTestServer:
        return self.server.owner

    def _send_json(self, status: int, payload: Any) -> None:
        self._send_raw(status, json.dumps(payload), "application/json; charset=utf-8")

    def _send_raw(self, status: int, text: str, content_type: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, payload: Any) -> None:
        data = (json.dumps(payload) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop_connection(self) -> None:
        self.close_connection = True
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _stream(self, path: str, lines: Iterator[dict[str, Any]]) -> None:
        """Write NDJSON lines as chunks, applying the stream faults for `path`."""
        fault = self.owner._take_stream_fault(path)
        self._start_stream()
        for sent, line in enumerate(lines):
            if fault is not None and sent >= fault.after:
                if fault.message:
                    self._chunk({"error": fault.message})
                    break
                raise _Cut
            self._chunk(line)
        self._end_stream()

    # -- dispatch

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        record = RecordedRequest(
            method=self.command,
            path=path,
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.owner._record(record)
        try:
            self._route(path, body, record)
        except _Cut:
            self._drop_connection()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            record.finished = time.monotonic()

    def _route(self, path: str, body: Any, record: RecordedRequest) -> None:
        owner = self.owner
        with owner._lock:
            key = owner.api_key
        if key is not None and self.headers.get("Authorization") != f"Bearer {key}":
            self._send_json(401, {"error": "unauthorized"})
            return
        forced = owner._take_forced(path)
        if forced is not None:
            self._send_raw(forced.status, forced.body, forced.content_type)
            return
        request = body if isinstance(body, dict) else {}
        routes = {
            ("GET", "/"): lambda: self._send_raw(200, "Ollama is running", "text/plain"),
            ("HEAD", "/"): lambda: self._send_raw(200, "Ollama is running", "text/plain"),
            ("GET", "/api/version"): lambda: self._send_json(200, {"version": owner.version}),
            ("GET", "/api/tags"): self._tags,
            ("POST", "/api/show"): lambda: self._show(request),
            ("POST", "/api/pull"): lambda: self._pull(request),
            ("POST", "/api/chat"): lambda: self._chat(request, record),
        }
        handler = routes.get((self.command, path))
        if handler is None:
            self._send_raw(404, "404 page not found", "text/plain")
            return
        handler()

    # -- endpoints

    def _tags(self) -> None:
        owner = self.owner
        with owner._lock:
            entries = [
                (owner.catalog[t], m) for t, m in owner.installed.items() if t in owner.catalog
            ]
        models = [
            {
                "name": spec.tag,
                "model": spec.tag,
                "modified_at": modified,
                "size": spec.size,
                "digest": spec.digest,
                "details": spec.details,
            }
            for spec, modified in entries
        ]
        self._send_json(200, {"models": models})

    def _show(self, request: dict[str, Any]) -> None:
        name = str(request.get("model") or request.get("name") or "")
        spec = self.owner._find_installed(name) if name else None
        if spec is None:
            self._send_json(404, {"error": f"model '{name}' not found"})
            return
        verbose = bool(request.get("verbose"))
        with self.owner._lock:
            mode = self.owner.elide_arrays
            modified_at = self.owner.installed.get(spec.tag, _now())
        info: dict[str, Any] = {}
        for k, v in spec.model_info.items():
            if isinstance(v, (list, LargeArray)):
                length = v.length if isinstance(v, LargeArray) else len(v)
                keep = verbose or (mode == "large" and length <= ARRAY_KEEP_LIMIT)
                if not keep:
                    v = None  # Ollama marshals an uncollected array as null
                elif isinstance(v, LargeArray):
                    v = v.materialize()
            info[k] = v
        self._send_json(
            200,
            {
                "license": "Gemma Terms of Use (test server copy)",
                "modelfile": f'# Modelfile generated by "ollama show"\nFROM {spec.tag}\n',
                "parameters": 'stop "<end_of_turn>"\ntemperature 1\ntop_k 64\ntop_p 0.95',
                "template": "{{ range .Messages }}<start_of_turn>{{ .Role }}\n"
                "{{ .Content }}<end_of_turn>\n{{ end }}<start_of_turn>model\n",
                "details": spec.details,
                "model_info": info,
                "tensors": [
                    {"name": t.name, "type": t.type, "shape": list(t.shape)} for t in spec.tensors
                ],
                "capabilities": ["completion"],
                "modified_at": modified_at,
            },
        )

    def _pull(self, request: dict[str, Any]) -> None:
        owner = self.owner
        name = normalize_tag(str(request.get("model") or request.get("name") or ""))
        with owner._lock:
            spec = owner.catalog.get(name)
            steps, delay = owner.pull_steps, owner.pull_step_delay
        stream = request.get("stream", True) is not False

        def progress() -> Iterator[dict[str, Any]]:
            yield {"status": "pulling manifest"}
            if spec is None:
                raise _PullFailed("pull model manifest: file does not exist")
            for digest, total in spec.layers:
                for step in range(steps + 1):
                    line: dict[str, Any] = {
                        "status": f"pulling {digest[7:19]}",
                        "digest": digest,
                        "total": total,
                    }
                    done = total * step // steps
                    if done:  # Ollama omits a zero `completed` (omitempty)
                        line["completed"] = done
                    yield line
                    if owner._sleep(delay):
                        return
            yield {"status": "verifying sha256 digest"}
            yield {"status": "writing manifest"}
            with owner._lock:
                owner.installed[name] = _now()
            yield {"status": "success"}

        if not stream:
            try:
                answer = list(progress())[-1]
            except _PullFailed as e:
                # Ollama's waitForStream turns an error without a status into a 500.
                self._send_json(500, {"error": str(e)})
                return
            self._send_json(200, answer)
            return

        def with_error_line() -> Iterator[dict[str, Any]]:
            try:
                yield from progress()
            except _PullFailed as e:
                yield {"error": str(e)}

        self._stream("/api/pull", with_error_line())

    def _chat(self, request: dict[str, Any], record: RecordedRequest) -> None:
        owner = self.owner
        name = str(request.get("model") or "")
        spec = owner._find_installed(name) if name else None
        if spec is None:
            if not name:
                self._send_json(400, {"error": "model is required"})
            else:
                self._send_json(404, {"error": f"model '{name}' not found"})
            return
        top_k = int(request.get("top_logprobs") or 0)
        with owner._lock:
            logprobs_on = owner.supports_logprobs and bool(request.get("logprobs"))
            serial = owner.serial
        if owner.supports_logprobs and not 0 <= top_k <= 20:
            self._send_json(400, {"error": "top_logprobs must be between 0 and 20"})
            return
        if serial:
            with owner._serial_lock:
                self._generate(spec, request, record, logprobs_on, top_k)
        else:
            self._generate(spec, request, record, logprobs_on, top_k)

    def _generate(
        self,
        spec: ModelSpec,
        request: dict[str, Any],
        record: RecordedRequest,
        logprobs_on: bool,
        top_k: int,
    ) -> None:
        owner = self.owner
        record.started = time.monotonic()
        messages = request.get("messages") or []
        stream = request.get("stream", True) is not False
        model_name = str(request.get("model"))
        if not messages:
            self._send_json(
                200,
                {
                    "model": model_name,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": ""},
                    "done_reason": "load",
                    "done": True,
                },
            )
            return
        options = request.get("options") or {}
        prompt = next(
            (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        tokens = owner.reply_tokens(spec, prompt, options)
        done_reason = "stop"
        num_predict = int(options.get("num_predict") or -1)
        if 0 < num_predict < len(tokens):
            tokens, done_reason = tokens[:num_predict], "length"
        with owner._lock:
            token_delay, initial_delay = owner.token_delay, owner.initial_delay
            cold = spec.tag not in owner._loaded
            owner._loaded.add(spec.tag)
        prompt_tokens = 8 + sum(len(split_tokens(str(m.get("content", "")))) for m in messages)
        load_ns = 1_250_000_000 if cold else 18_000_000
        prompt_ns = int(prompt_tokens / (spec.tokens_per_s * 12) * 1e9)
        started = time.perf_counter()
        if owner._sleep(initial_delay):
            return

        def final(eval_count: int) -> dict[str, Any]:
            measured = time.perf_counter() - started - initial_delay
            eval_ns = max(int(measured * 1e9), int(eval_count / spec.tokens_per_s * 1e9), 1)
            return {
                "done_reason": done_reason,
                "done": True,
                "total_duration": load_ns + prompt_ns + eval_ns + 2_000_000,
                "load_duration": load_ns,
                "prompt_eval_count": prompt_tokens,
                "prompt_eval_duration": prompt_ns,
                "eval_count": eval_count,
                "eval_duration": eval_ns,
            }

        entries = (  # only when asked: a long reply's per-byte lists would cost gigabytes
            [owner.logprob_entry(spec, i, t, top_k) for i, t in enumerate(tokens)]
            if logprobs_on
            else []
        )
        if not stream:
            if owner._sleep(token_delay * len(tokens)):
                return
            reply: dict[str, Any] = {
                "model": model_name,
                "created_at": _now(),
                "message": {"role": "assistant", "content": "".join(tokens)},
                **final(len(tokens)),
            }
            if logprobs_on:
                reply["logprobs"] = entries
            self._send_json(200, reply)
            return

        def lines() -> Iterator[dict[str, Any]]:
            for i, token in enumerate(tokens):
                if i and owner._sleep(token_delay):
                    raise _Cut
                line: dict[str, Any] = {
                    "model": model_name,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": token},
                    "done": False,
                }
                if logprobs_on:
                    line["logprobs"] = [entries[i]]
                yield line
            yield {
                "model": model_name,
                "created_at": _now(),
                "message": {"role": "assistant", "content": ""},
                **final(len(tokens)),
            }

        self._stream("/api/chat", lines())


class _PullFailed(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the quantviz Ollama-protocol test server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11500)
    parser.add_argument("--api-key", default=None, help="require this bearer key")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between tokens")
    parser.add_argument("--initial-delay", type=float, default=0.0, help="seconds before a reply")
    parser.add_argument("--pull-step-delay", type=float, default=0.05)
    parser.add_argument("--serial", action="store_true", help="answer one chat at a time")
    parser.add_argument("--no-logprobs", action="store_true", help="act like Ollama < 0.12.11")
    parser.add_argument("--per-layer-heads", action="store_true")
    parser.add_argument("--not-installed", action="store_true", help="start with no models")
    args = parser.parse_args(argv)
    server = OllamaTestServer(
        host=args.host,
        port=args.port,
        installed=() if args.not_installed else (Q4_TAG, Q6_TAG),
        api_key=args.api_key,
        supports_logprobs=not args.no_logprobs,
        serial=args.serial,
        token_delay=args.token_delay,
        initial_delay=args.initial_delay,
        pull_step_delay=args.pull_step_delay,
        per_layer_heads=args.per_layer_heads,
    )
    print(f"Ollama test server on {server.url} (Ctrl-C to stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
