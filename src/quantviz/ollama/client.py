"""Typed access to an Ollama server through the official `ollama` client.

Every function takes an `Endpoint` (host plus optional API key), opens a short-lived client, and
returns dataclasses or raises `OllamaError` (`quantviz.ollama.errors`) with a `kind` the UI can
branch on and a message a student can act on. The API key travels only as an `Authorization: Bearer`
header; it never appears in a URL, a repr, a message or a log line.

Protocol facts this module relies on (Ollama's docs and the 0.6 client):

* streaming calls are lazy: nothing is sent until the first `next()`, so errors surface there;
* a connection failure inside a stream is an `httpx.ConnectError` (outside one, the client turns
  it into a builtin `ConnectionError`); an `{"error": ...}` line mid-stream is a `ResponseError`
  with `status_code == -1`; a socket closed mid-body is an `httpx.RemoteProtocolError`;
* the client's `show()` drops `tensors`, so `show` reads `/api/show` with a raw request through
  the client's own httpx client (same base URL, same headers); `list_models` reads `/api/tags`
  the same way, so both answers are validated here, once, field by field;
* a non-verbose `/api/show` sends every non-empty GGUF array as null (ollama `getModelData` reads
  the file with a maximum array size of 0); `"verbose": true` sends them. `show(needs=...)` asks
  again verbosely when an array a widget needs came back null, then drops arrays longer than
  `KEEP_ARRAY_ITEMS` (the vocabulary, the merges) and keeps only their lengths.
"""

from __future__ import annotations

import dataclasses
import json
import math
import ssl
import threading
import time
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import ollama
import pydantic
from packaging.version import InvalidVersion, Version

from quantviz.ollama.endpoint import normalize_url
from quantviz.ollama.errors import ErrorKind, OllamaError
from quantviz.ollama.transport import pinned_transport

CONNECT_TIMEOUT = 5.0
MAX_RESPONSE_BYTES = 16_000_000  # one answer's body; `Limits.response_bytes` sets it per class
DEFAULT_TIMEOUT = 30.0
PULL_TIMEOUT = 120.0  # longest silence between two progress lines
CHAT_TIMEOUT = 120.0  # longest silence before the first token or between tokens
KEEP_ARRAY_ITEMS = 1024  # longer GGUF arrays (vocabulary, merges) are dropped after parsing
MAX_BYTES = 2**63 - 1  # Go's int64: the largest size an Ollama answer can carry
MAX_TENSOR_DIMS = 4  # GGML_MAX_DIMS
MAX_ELEMENTS = 2**50  # per tensor; real ones stay far below


LOGPROBS_SINCE = "0.12.11"  # the first Ollama whose /api/chat returns logprobs when asked


def returns_logprobs(version: str | None) -> bool | None:
    """Whether an Ollama of `version` returns logprobs when asked (0.12.11 or later).

    Compared as versions, not as text ('0.33.0' is later than '0.12.11'); None when the version
    is unknown or not one (a development build's '0.0.0' counts as unknown).
    """
    if not version:
        return None
    try:
        parsed = Version(version.strip().removeprefix("v"))
    except InvalidVersion:
        return None
    if parsed == Version("0.0.0"):
        return None
    return parsed >= Version(LOGPROBS_SINCE)


@dataclass(frozen=True)
class Endpoint:
    """Where to send requests. The key is excluded from repr and str.

    `allow_private` is the address rule every connection is held to (`quantviz.ollama.transport`):
    None for the instructor's own host (trusted, no rule), True or False for a student's
    endpoint (loopback and private networks allowed or not; link-local and metadata never).
    `max_response_bytes` caps the body of any one answer (a stream counts as one).
    """

    host: str
    api_key: str | None = field(default=None, repr=False)
    allow_private: bool | None = None
    max_response_bytes: int = MAX_RESPONSE_BYTES

    def __repr__(self) -> str:
        key = "<set>" if self.api_key else None
        return f"Endpoint(host={self.host!r}, api_key={key}, allow_private={self.allow_private})"

    def __str__(self) -> str:
        return f"{self.host} (with API key)" if self.api_key else self.host


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ModelDetails:
    format: str | None = None
    family: str | None = None
    families: tuple[str, ...] = ()
    parameter_size: str | None = None
    quantization_level: str | None = None
    parent_model: str | None = None


@dataclass(frozen=True)
class ModelEntry:
    """One model from /api/tags."""

    name: str
    size: int
    digest: str | None
    modified_at: str | None
    details: ModelDetails


@dataclass(frozen=True)
class PullProgress:
    """One /api/pull line. `completed` is None until the first byte of a layer arrives."""

    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


@dataclass(frozen=True)
class TensorInfo:
    name: str
    type: str
    shape: tuple[int, ...]

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class ModelMetadata:
    """/api/show for one tag: details, raw GGUF `model_info`, and the tensor table."""

    tag: str
    details: ModelDetails
    model_info: Mapping[str, Any]
    tensors: tuple[TensorInfo, ...]
    capabilities: tuple[str, ...] = ()
    parameters: str = ""
    verbose: bool = False  # the model_info came from a verbose answer
    array_lengths: Mapping[str, int] = field(default_factory=dict)  # arrays dropped for size
    modelfile: str = ""  # its FROM line names the model's blob on the server's disk

    @property
    def architecture(self) -> str | None:
        arch = self.model_info.get("general.architecture")
        return arch if isinstance(arch, str) and arch else None

    @property
    def parameter_count(self) -> int | None:
        count = self.model_info.get("general.parameter_count")
        if isinstance(count, int) and not isinstance(count, bool):
            return count
        return sum(t.n_elements for t in self.tensors) or None

    @property
    def elided_keys(self) -> tuple[str, ...]:
        """Keys the server sent as null: arrays it left out of a non-verbose answer."""
        return tuple(
            k for k, v in self.model_info.items() if v is None and k not in self.array_lengths
        )


def arch_key(meta: ModelMetadata, key: str) -> str:
    """The full GGUF key for an architecture field, e.g. 'gemma3.block_count'."""
    arch = meta.architecture
    if arch and f"{arch}.{key}" in meta.model_info:
        return f"{arch}.{key}"
    # Some files name fields under a prefix other than general.architecture; take any match.
    suffix = f".{key}"
    for k in meta.model_info:
        if k.endswith(suffix) and not k.startswith(("general.", "tokenizer.")):
            return k
    return f"{arch or '<arch>'}.{key}"


def arch_value(meta: ModelMetadata, key: str, default: Any = None) -> Any:
    """An architecture-prefixed field's raw value (scalar, per-layer list, or None)."""
    return meta.model_info.get(arch_key(meta, key), default)


@dataclass(frozen=True)
class TokenLogprob:
    """A token's log-probability; `top` lists the alternatives Ollama returned (best first).

    Ollama also sends each token's UTF-8 `bytes`, but the 0.6 client's models drop that field.
    """

    token: str
    logprob: float
    top: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class TokenChunk:
    """Streamed reply text, with the log-probabilities of its tokens when the server sent them."""

    text: str
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class ChatMetrics:
    """The final chunk's figures (seconds, token counts) plus what the client measured."""

    ttft_s: float | None  # request sent -> first text chunk, measured here
    tokens_per_s: float | None  # eval_count / eval_duration * 1e9
    prompt_tokens: int | None
    output_tokens: int | None
    load_s: float | None
    prompt_eval_s: float | None
    eval_s: float | None
    total_s: float | None
    done_reason: str | None
    wall_s: float  # request sent -> final chunk, measured here
    logprobs_returned: bool = False


ChatEvent = TokenChunk | ChatMetrics


def metrics_dict(metrics: Any) -> dict[str, Any] | None:
    """Reply figures as one plain dict: a `ChatMetrics`, or what a probe's `ask` returns (a
    dataclass, mapping, pydantic model or object), `tokens_per_s` added when it can be derived."""
    if metrics is None:
        return None
    if dataclasses.is_dataclass(metrics) and not isinstance(metrics, type):
        data = dataclasses.asdict(metrics)
    elif isinstance(metrics, Mapping):
        data = dict(metrics)
    elif hasattr(metrics, "model_dump"):
        data = metrics.model_dump()
    else:
        try:
            data = {k: v for k, v in vars(metrics).items() if not k.startswith("_")}
        except TypeError:
            data = {}
    if data.get("tokens_per_s") is None:
        # A `tokens_per_s` property is not a dataclass field: ask the object itself first.
        attr = None if isinstance(metrics, Mapping) else getattr(metrics, "tokens_per_s", None)
        tps = attr if isinstance(attr, (int, float)) else _tokens_per_s(data)
        if tps is not None:
            data["tokens_per_s"] = tps
    return data


def _tokens_per_s(data: Mapping[str, Any]) -> float | None:
    count, duration = data.get("eval_count"), data.get("eval_duration")
    if isinstance(count, (int, float)) and isinstance(duration, (int, float)) and duration > 0:
        return count / duration * 1e9
    return None


@dataclass(frozen=True)
class ChatReply:
    text: str
    logprobs: tuple[TokenLogprob, ...]
    metrics: ChatMetrics


# --------------------------------------------------------------------------- client and errors


_ssl_lock = threading.Lock()
_ssl: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    """One context for every client of every session, built on first use.

    Building one costs ~40 ms; a shared one keeps a chat's overhead low, and an SSLContext is
    safe to share between threads once configured (nothing changes it after this). The lock
    makes it one build when a class opens the Ollama pages at once: `functools.cache` runs the
    function outside its lock, so each concurrent first caller would build its own.
    """
    global _ssl
    if _ssl is None:
        with _ssl_lock:
            if _ssl is None:
                _ssl = httpx.create_ssl_context()
    return _ssl


def _client(endpoint: Endpoint, timeout: float) -> ollama.Client:
    url = normalize_url(endpoint.host).url  # the one spelling: IDNA 2008 A-label
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    client = ollama.Client(
        host=url,
        headers=headers,
        timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
        # A redirect could carry the key to another host or reach a blocked address.
        follow_redirects=False,
        # Every connection resolves, checks and connects to the checked address.
        transport=pinned_transport(
            endpoint.allow_private, _ssl_context(), endpoint.max_response_bytes
        ),
        # No proxy or .netrc credentials from the environment.
        trust_env=False,
    )
    if not endpoint.api_key:
        # The client adds OLLAMA_API_KEY from the process environment; never send that to an
        # endpoint the key was not configured for.
        client._client.headers.pop("authorization", None)
    return client


_TRANSLATED = (
    ollama.ResponseError,
    httpx.HTTPError,
    ConnectionError,  # the client's rewrite of httpx.ConnectError outside streams
    json.JSONDecodeError,
    pydantic.ValidationError,
)

_DNS_HINTS = ("name or service not known", "nodename nor servname", "getaddrinfo failed",
              "temporary failure in name resolution", "no address associated")  # fmt: skip


def _connect_failure(exc: BaseException) -> Literal["dns", "tls", "refused"]:
    """Why a connection failed: the name did not resolve, the TLS handshake failed, or nothing
    answered. httpx keeps only the OS's and ssl's words, so they are read here, once."""
    detail = f"{exc} {exc.__context__ or ''}".lower()
    if any(hint in detail for hint in _DNS_HINTS):
        return "dns"
    if "ssl" in detail or "certificate" in detail:
        return "tls"
    return "refused"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    if text.startswith("<"):
        return "an HTML page"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _status_error(status: int, text: str, what: str) -> OllamaError:
    text = _short(text)
    if status in (401, 403):
        return OllamaError(
            "auth",
            f"The server refused to {what} (HTTP {status}): check the API key.",
            status_code=status,
        )
    if status == -1:
        # An {"error": ...} line inside a stream: the server's own words.
        kind: ErrorKind = (
            "not_found" if "file does not exist" in text or "not found" in text else "stream"
        )
        return OllamaError(kind, text or f"The server reported an error while trying to {what}.")
    if 300 <= status < 400:
        return OllamaError(
            "bad_url",
            f"The server redirected the request (HTTP {status}). Redirects are not followed: "
            "enter the final address (for example https:// instead of http://).",
            status_code=status,
        )
    if status == 404:
        # Ollama says {"error": "model 'x' not found"}; anything else is some other server.
        if text in ("", "404 page not found", "an HTML page") or text.startswith("{"):
            return OllamaError(
                "not_ollama",
                f"This address has no Ollama API (HTTP 404 when trying to {what}): "
                "is it the Ollama server and port?",
                status_code=status,
            )
        return OllamaError("not_found", text, status_code=status)
    if status in (400, 422):
        return OllamaError("bad_request", text or f"HTTP {status}", status_code=status)
    return OllamaError(
        "server",
        f"The server failed to {what} (HTTP {status}): {text}" if text else f"HTTP {status}",
        status_code=status,
    )


def _error_text(response: httpx.Response) -> str:
    """Ollama's {"error": ...} text, or the raw body."""
    try:
        response.read()
    except httpx.HTTPError:
        return ""
    try:
        data = response.json()
    except ValueError:
        return response.text
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"]
    return response.text


def _translate(exc: BaseException, what: str) -> OllamaError:
    """Map a client, httpx or parsing exception to an OllamaError."""
    if isinstance(exc, OllamaError):
        return exc
    if isinstance(exc, ollama.ResponseError):
        return _status_error(exc.status_code, str(exc.error), what)
    if isinstance(exc, httpx.HTTPStatusError):
        return _status_error(exc.response.status_code, _error_text(exc.response), what)
    if isinstance(exc, httpx.TimeoutException):
        return OllamaError("timeout", f"The server did not answer in time while trying to {what}.")
    if isinstance(exc, (httpx.ConnectError, ConnectionError)):
        failure = _connect_failure(exc)
        if failure == "dns":
            return OllamaError("refused", "The server name could not be resolved: check the URL.")
        if failure == "tls":
            return OllamaError("refused", "The TLS (https) handshake failed: check the URL.")
        return OllamaError(
            "refused",
            "Nothing is answering at this address (connection refused): is Ollama running "
            "there, on that port?",
        )
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return OllamaError("bad_url", "The address is not a valid http(s) URL.")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return OllamaError(
            "stream", f"The connection dropped while trying to {what}; the answer is incomplete."
        )
    if isinstance(exc, (json.JSONDecodeError, pydantic.ValidationError)):
        return OllamaError(
            "not_ollama", f"The server's answer does not look like Ollama's (trying to {what})."
        )
    return OllamaError(
        "refused", f"The request failed while trying to {what}: {type(exc).__name__}."
    )


# --------------------------------------------------------------------------- calls


def check_connection(endpoint: Endpoint, timeout: float = CONNECT_TIMEOUT) -> str:
    """The server's version from GET /api/version, or an OllamaError saying why not."""
    what = "report its version"
    try:
        with _client(endpoint, timeout) as client:
            response = client._client.get("/api/version")
    except _TRANSLATED as exc:
        raise _translate(exc, what) from exc
    if response.is_redirect:
        raise _status_error(response.status_code, "", what)
    if response.status_code >= 400:
        raise _status_error(response.status_code, _error_text(response), what)
    try:
        data = response.json()
    except ValueError:
        kind = response.headers.get("content-type", "unknown").split(";")[0]
        raise OllamaError(
            "not_ollama",
            f"Something answered, but not an Ollama server (it sent {kind}, not JSON).",
        ) from None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not version:
        raise OllamaError(
            "not_ollama", "Something answered with JSON, but not an Ollama version: wrong port?"
        )
    return version


# --------------------------------------------------------------------------- answer validation
#
# Everything a widget reads from /api/tags and /api/show is checked here, once: a malformed value
# becomes an OllamaError("bad_answer") naming the field, never a TypeError three modules later.


def _malformed(endpoint_path: str, where: str, problem: str) -> OllamaError:
    return OllamaError(
        "bad_answer",
        f"The server's {endpoint_path} answer is malformed: {where} {problem}.",
    )


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return _short(text, 60)


def _opt_str(value: Any, path: str, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise _malformed(path, where, f"should be text, got {_shown(value)}")


def _whole(value: Any, path: str, where: str, limit: int = MAX_BYTES) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise _malformed(
            path, where, f"should be a whole number from 0 to {limit:,}, got {_shown(value)}"
        )
    return value


def _details(raw: Any, path: str, where: str = "details") -> ModelDetails:
    if raw is None:
        return ModelDetails()
    if not isinstance(raw, Mapping):
        raise _malformed(path, where, f"should be an object, got {_shown(raw)}")
    families = raw.get("families")
    if families is not None and (
        not isinstance(families, list) or not all(isinstance(f, str) for f in families)
    ):
        raise _malformed(
            path, f"{where}.families", f"should be a list of names, got {_shown(families)}"
        )
    get = {k: _opt_str(raw.get(k), path, f"{where}.{k}") for k in (
        "format", "family", "parameter_size", "quantization_level", "parent_model"
    )}  # fmt: skip
    return ModelDetails(families=tuple(families or ()), **get)


def _tensors(raw: Any, path: str) -> tuple[TensorInfo, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _malformed(path, "tensors", f"should be a list, got {_shown(raw)}")
    out = []
    for i, t in enumerate(raw):
        where = f"tensors[{i}]"
        if not isinstance(t, Mapping):
            raise _malformed(path, where, f"should be an object, got {_shown(t)}")
        name, qtype, shape = t.get("name"), t.get("type"), t.get("shape")
        if not isinstance(name, str) or not name:
            raise _malformed(path, f"{where}.name", f"should be a tensor name, got {_shown(name)}")
        if not isinstance(qtype, str):
            raise _malformed(
                path, f"{where}.type ({name})", f"should be a type name, got {_shown(qtype)}"
            )
        if (
            not isinstance(shape, list)
            or not 1 <= len(shape) <= MAX_TENSOR_DIMS
            or any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in shape)
        ):
            raise _malformed(
                path,
                f"{where}.shape ({name})",
                f"should list 1 to {MAX_TENSOR_DIMS} non-negative whole numbers, got "
                f"{_shown(shape)}",
            )
        if math.prod(shape) > MAX_ELEMENTS:
            raise _malformed(path, f"{where}.shape ({name})", f"is implausibly large: {shape}")
        out.append(TensorInfo(name, qtype, tuple(shape)))
    return tuple(out)


# model_info keys (under `<arch>.`, or `general.`) whose values are counts, alone or per layer.
_COUNT_KEYS = (
    "block_count", "context_length", "embedding_length", "feed_forward_length",
    "embedding_length_per_layer_input", "attention.head_count", "attention.head_count_kv",
    "attention.key_length", "attention.value_length", "attention.key_length_swa",
    "attention.value_length_swa", "attention.sliding_window", "attention.shared_kv_layers",
    "vocab_size", "expert_count", "expert_used_count",
)  # fmt: skip
_GENERAL_COUNTS = ("general.parameter_count", "general.file_type")


def _modelfile(raw: Any, path: str) -> str:
    """The modelfile text (its FROM line names the weights' blob), "" when absent."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise _malformed(path, "modelfile", f"should be text, got {_shown(raw)}")
    return raw


def _model_info(raw: Any, path: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
        raise _malformed(path, "model_info", f"should be an object of GGUF keys, got {_shown(raw)}")
    info = dict(raw)
    arch = info.get("general.architecture")
    if arch is not None and not isinstance(arch, str):
        raise _malformed(path, "model_info[general.architecture]", f"is {_shown(arch)}")
    keys = list(_GENERAL_COUNTS) + ([f"{arch}.{k}" for k in _COUNT_KEYS] if arch else [])
    for key in keys:
        value = info.get(key)
        where = f"model_info[{key}]"
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for v in items:
            _whole(v, path, where)
    pattern = info.get(f"{arch}.attention.sliding_window_pattern") if arch else None
    if pattern is not None and not (
        (isinstance(pattern, int) and not isinstance(pattern, bool) and pattern >= 0)
        or (isinstance(pattern, list) and all(isinstance(v, bool) for v in pattern))
    ):
        raise _malformed(
            path,
            f"model_info[{arch}.attention.sliding_window_pattern]",
            f"should be a layer period or a list of true/false, got {_shown(pattern)}",
        )
    return info


def _bounded(info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """Arrays longer than KEEP_ARRAY_ITEMS replaced by None; their lengths kept apart."""
    lengths = {
        k: len(v) for k, v in info.items() if isinstance(v, list) and len(v) > KEEP_ARRAY_ITEMS
    }
    return {k: None if k in lengths else v for k, v in info.items()}, lengths


def normalize_tag(tag: str) -> str:
    """Ollama's implicit tag: 'gemma3' means 'gemma3:latest'."""
    tag = tag.strip()
    return tag if ":" in tag.rsplit("/", 1)[-1] else f"{tag}:latest"


def _get_json(
    endpoint: Endpoint, method: str, path: str, what: str, timeout: float, **kw: Any
) -> Any:
    """One raw request through the client's own httpx client; its JSON body or an OllamaError."""
    try:
        with _client(endpoint, timeout) as client:
            response = client._client.request(method, path, **kw)
            response.raise_for_status()
            return response.json()
    except _TRANSLATED as exc:
        raise _translate(exc, what) from exc


def list_models(endpoint: Endpoint, *, timeout: float = DEFAULT_TIMEOUT) -> dict[str, ModelEntry]:
    """The endpoint's local models from /api/tags, keyed by tag."""
    path = "/api/tags"
    data = _get_json(endpoint, "GET", path, "list its models", timeout)
    if not isinstance(data, Mapping):
        raise OllamaError("not_ollama", "The answer to /api/tags is not Ollama's.")
    raw_models = data.get("models") or []
    if not isinstance(raw_models, list):
        raise _malformed(path, "models", f"should be a list, got {_shown(raw_models)}")
    models: dict[str, ModelEntry] = {}
    for i, m in enumerate(raw_models):
        where = f"models[{i}]"
        if not isinstance(m, Mapping):
            raise _malformed(path, where, f"should be an object, got {_shown(m)}")
        name = _opt_str(m.get("model") or m.get("name"), path, f"{where}.model")
        if not name:
            continue
        models[name] = ModelEntry(
            name=name,
            size=_whole(m.get("size", 0), path, f"{where}.size ({name})"),
            digest=_opt_str(m.get("digest"), path, f"{where}.digest"),
            modified_at=_opt_str(m.get("modified_at"), path, f"{where}.modified_at"),
            details=_details(m.get("details"), path, f"{where}.details"),
        )
    return models


def find_model(models: Mapping[str, ModelEntry], tag: str) -> ModelEntry | None:
    """The entry for `tag` in a `list_models` result, treating 'x' and 'x:latest' alike."""
    wanted = normalize_tag(tag)
    return next((m for name, m in models.items() if normalize_tag(name) == wanted), None)


def pull(
    endpoint: Endpoint, tag: str, *, timeout: float = PULL_TIMEOUT
) -> Generator[PullProgress, None, None]:
    """Stream /api/pull progress; ends after "success" or raises OllamaError.

    An unknown tag raises kind "not_found" with Ollama's text
    (`pull model manifest: file does not exist`).
    """
    what = f"pull {tag}"
    client = _client(endpoint, timeout)
    stream: Iterator[Any] | None = None
    try:
        stream = client.pull(tag, stream=True)
        for part in stream:
            progress = PullProgress(
                status=part.status or "",
                digest=part.digest,
                total=part.total,
                completed=part.completed,
            )
            yield progress
            if progress.status == "success":
                return
        raise OllamaError(
            "stream",
            f"The pull of {tag} stopped before it finished. Try again: Ollama resumes "
            "partial downloads.",
        )
    except _TRANSLATED as exc:
        raise _translate(exc, what) from exc
    finally:
        _close(stream, client)


def _close(stream: Iterator[Any] | None, client: ollama.Client) -> None:
    # Close the client's generator first so its response (and socket) closes now, not at GC.
    close = getattr(stream, "close", None)
    if close is not None:
        close()
    client.close()


def show(
    endpoint: Endpoint,
    tag: str,
    *,
    verbose: bool = False,
    needs: Iterable[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> ModelMetadata:
    """/api/show for `tag`, including the `tensors` table the client's show() drops.

    Ollama sends every non-empty GGUF array as null unless asked with `verbose`. `needs` names
    the architecture keys a caller reads (`"attention.sliding_window_pattern"`, ...): when one of
    them came back null, the answer is fetched again with `verbose: true`. Either way, arrays
    longer than KEEP_ARRAY_ITEMS (the vocabulary, the merges: megabytes) are dropped after
    parsing; `array_lengths` keeps their lengths.
    """
    meta = _show_once(endpoint, tag, verbose, timeout)
    if not verbose and meta.architecture:
        wanted = {arch_key(meta, key) for key in needs}
        if any(k in meta.model_info and meta.model_info[k] is None for k in wanted):
            meta = _show_once(endpoint, tag, True, timeout)
    return meta


def _show_once(endpoint: Endpoint, tag: str, verbose: bool, timeout: float) -> ModelMetadata:
    path = "/api/show"
    body: dict[str, Any] = {"model": tag}
    if verbose:
        body["verbose"] = True
    data = _get_json(endpoint, "POST", path, f"describe {tag}", timeout, json=body)
    if not isinstance(data, Mapping):
        raise OllamaError("not_ollama", f"The answer to /api/show for {tag} is not Ollama's.")
    info, lengths = _bounded(_model_info(data.get("model_info"), path))
    capabilities = data.get("capabilities") or []
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        raise _malformed(
            path, "capabilities", f"should be a list of names, got {_shown(capabilities)}"
        )
    return ModelMetadata(
        tag=tag,
        details=_details(data.get("details"), path),
        model_info=info,
        tensors=_tensors(data.get("tensors"), path),
        capabilities=tuple(capabilities),
        parameters=_opt_str(data.get("parameters"), path, "parameters") or "",
        verbose=verbose,
        array_lengths=lengths,
        modelfile=_modelfile(data.get("modelfile"), path),
    )


def _logprobs(raw: Sequence[Any] | None) -> tuple[TokenLogprob, ...]:
    if not raw:
        return ()

    def one(item: Any, top: Sequence[Any] | None) -> TokenLogprob:
        return TokenLogprob(
            token=str(item.token),
            logprob=float(item.logprob),
            top=tuple(one(t, None) for t in top or ()),
        )

    return tuple(one(item, item.top_logprobs) for item in raw)


def _seconds(ns: int | None) -> float | None:
    return ns / 1e9 if ns is not None else None


def chat_stream(
    endpoint: Endpoint,
    tag: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    options: Mapping[str, Any] | None = None,
    logprobs: bool = False,
    top_logprobs: int = 0,
    timeout: float = CHAT_TIMEOUT,
) -> Generator[ChatEvent, None, None]:
    """Stream a chat reply: `TokenChunk`s, then one `ChatMetrics`.

    Closing the iterator early (a Stop button) closes the connection, which ends the generation
    on the server. On failure the OllamaError carries the text streamed so far in `partial_text`.
    An Ollama older than 0.12.11 ignores `logprobs`; `ChatMetrics.logprobs_returned` says which.
    """
    what = f"chat with {tag}"
    client = _client(endpoint, timeout)
    parts: list[str] = []
    saw_logprobs = False
    started = time.perf_counter()
    first: float | None = None
    stream: Iterator[Any] | None = None
    try:
        stream = client.chat(
            tag,
            messages=[dict(m) for m in messages],
            stream=True,
            options=dict(options) if options else None,
            logprobs=True if logprobs else None,
            top_logprobs=top_logprobs if logprobs and top_logprobs else None,
        )
        for part in stream:
            text = part.message.content or ""
            lps = _logprobs(part.logprobs)
            saw_logprobs = saw_logprobs or bool(lps)
            if text or lps:
                if text and first is None:
                    first = time.perf_counter()
                parts.append(text)
                yield TokenChunk(text, lps)
            if part.done:
                eval_count, eval_ns = part.eval_count, part.eval_duration
                yield ChatMetrics(
                    ttft_s=first - started if first is not None else None,
                    tokens_per_s=eval_count / eval_ns * 1e9 if eval_count and eval_ns else None,
                    prompt_tokens=part.prompt_eval_count,
                    output_tokens=eval_count,
                    load_s=_seconds(part.load_duration),
                    prompt_eval_s=_seconds(part.prompt_eval_duration),
                    eval_s=_seconds(eval_ns),
                    total_s=_seconds(part.total_duration),
                    done_reason=part.done_reason,
                    wall_s=time.perf_counter() - started,
                    logprobs_returned=saw_logprobs,
                )
                return
        raise OllamaError(
            "stream", f"The reply from {tag} stopped before the model finished (no final chunk)."
        )
    except OllamaError as exc:
        exc.partial_text = "".join(parts)
        raise
    except _TRANSLATED as exc:
        error = _translate(exc, what)
        error.partial_text = "".join(parts)
        raise error from exc
    finally:
        _close(stream, client)
