"""What the Ollama widgets share: the endpoint line, a per-session cache, clear errors.

The cache lives in this session's `st.session_state`, keyed by endpoint (host plus a fingerprint
of the key, so a corrected key is not answered from a cached 401) and by what was fetched
(`tags`, or `show` + tag). A rerun of an unrelated widget is answered from it; a Refresh button,
a finished pull, or a successful "Check connection" drops entries. `st.cache_data` would share
one student's results (and errors) with every other session in the process, so it is not used.
It holds at most `[limits] metadata_cache` answers (the least recently used goes first), and an
answer larger than a real model's (`MAX_TENSORS`, `MAX_INFO_KEYS`, `MAX_LISTED_MODELS`) is
refused rather than kept: a hostile endpoint cannot fill a session with one.

Text that comes from a server (error messages, status lines, metadata values) goes through
`quantviz.text.plain` before it reaches Markdown, so it shows as typed and never as links,
images or markup.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import streamlit as st

from quantviz.config import Settings
from quantviz.decision.memory import LAYOUT_KEYS
from quantviz.ollama import errors
from quantviz.ollama.client import Endpoint, ModelEntry, ModelMetadata, list_models, show
from quantviz.ollama.endpoint import normalize_url
from quantviz.ollama.errors import OllamaError
from quantviz.ollama.metadata import SUMMARY_KEYS
from quantviz.ollama.registry import Manifest, Registry, fetch_manifest
from quantviz.report.evidence import redact_host
from quantviz.text import plain
from quantviz.ui import nav, session

T = TypeVar("T")

CACHE_KEY = "_quantviz_ollama_cache"
MANIFEST_CACHE_KEY = "_quantviz_manifest_cache"
# Manifests kept per session: at most `[limits] metadata_cache` of them and this many layers in
# all (a safetensors tag lists one layer per tensor, up to registry.MAX_LAYERS), so typing tags
# cannot grow a session without bound.
MAX_CACHED_MANIFEST_LAYERS = 8_192
_RECORDED = "_quantviz_recorded"
# The per-layer arrays the widgets read: a non-verbose answer that left one out (null) is asked
# again with verbose, once, by ollama.client.show.
WIDGET_ARRAYS = tuple(dict.fromkeys((*SUMMARY_KEYS, *LAYOUT_KEYS)))
# Far above any real model (Gemma 4 E2B with its vision and audio towers: ~2,000 tensors).
MAX_TENSORS = 20_000
MAX_INFO_KEYS = 5_000
MAX_LISTED_MODELS = 2_000

SOURCE_LABELS = {
    "default": "the default",
    "env": "from OLLAMA_HOST",
    "secrets": "set by the instructor",
    "session": "set by you for this session",
}


def host_label(url: str) -> str:
    """Host and port only ('127.0.0.1:11434'): what the endpoint line shows."""
    try:
        address = normalize_url(url)
    except OllamaError:
        return "(invalid endpoint)"
    host = f"[{address.hostname}]" if ":" in address.hostname else address.hostname
    return f"{host}:{address.port}"


def endpoint_line(settings: Settings) -> None:
    """One compact line: which host the widget talks to, whose key, and a settings link."""
    left, right = st.columns([4, 1], vertical_alignment="center")
    left.caption(
        f":material/dns: Endpoint `{host_label(settings.host)}` "
        f"({SOURCE_LABELS[settings.host_source]}) · {settings.key_status}"
    )
    with right:
        nav.link_to_settings()


def _endpoint_id(endpoint: Endpoint) -> tuple[str, str]:
    key = endpoint.api_key
    return endpoint.host, hashlib.sha256(key.encode()).hexdigest()[:16] if key else ""


def _cache() -> dict[tuple[Any, ...], Any]:
    cache = st.session_state.get(CACHE_KEY)
    if cache is None:
        cache = st.session_state[CACHE_KEY] = {}
    return cache


def cached(endpoint: Endpoint, what: tuple[Any, ...], load: Callable[[], T]) -> T | OllamaError:
    """`load()`'s result (or its OllamaError) for this endpoint, fetched once per session.

    At most `[limits] metadata_cache` entries: the least recently used one is dropped first.
    """
    cache = _cache()
    key = (*_endpoint_id(endpoint), *what)
    if key in cache:
        cache[key] = cache.pop(key)  # most recently used last
        return cache[key]
    try:
        value: T | OllamaError = load()
    except OllamaError as exc:
        value = exc
    cache[key] = value
    limit = session.instructor_settings().limits.metadata_cache
    while len(cache) > limit:
        del cache[next(iter(cache))]
    return value


def forget(endpoint: Endpoint, *whats: tuple[Any, ...]) -> None:
    """Drop cached entries of this endpoint: those starting with any of `whats`, or all."""
    ident = _endpoint_id(endpoint)
    cache = _cache()
    for key in list(cache):
        if key[:2] != ident:
            continue
        rest = key[2:]
        if not whats or any(rest[: len(w)] == w for w in whats):
            del cache[key]


def forget_errors(endpoint: Endpoint) -> None:
    """Drop this endpoint's cached failures (after a connection check succeeded)."""
    ident = _endpoint_id(endpoint)
    cache = _cache()
    for key in [k for k, v in cache.items() if k[:2] == ident and isinstance(v, OllamaError)]:
        del cache[key]


def models_on(endpoint: Endpoint) -> dict[str, ModelEntry] | OllamaError:
    """The endpoint's /api/tags, once per session until refreshed."""

    def load() -> dict[str, ModelEntry]:
        models = list_models(endpoint)
        if len(models) > MAX_LISTED_MODELS:
            raise OllamaError(
                "too_large",
                f"The endpoint lists {len(models):,} models; more than {MAX_LISTED_MODELS:,} "
                "is not an Ollama server this app can list.",
            )
        return models

    return cached(endpoint, ("tags",), load)


def metadata_of(
    endpoint: Endpoint, tag: str, *, verbose: bool = False
) -> ModelMetadata | OllamaError:
    """/api/show for `tag` (tensors included), once per session until refreshed.

    The arrays the widgets read are fetched with a verbose retry when the server left them out;
    arrays longer than `ollama.client.KEEP_ARRAY_ITEMS` (the vocabulary, the merges) are dropped
    before caching, so a class of sessions does not hold a vocabulary each.
    """

    def load() -> ModelMetadata:
        meta = show(endpoint, tag, verbose=verbose, needs=WIDGET_ARRAYS)
        if len(meta.tensors) > MAX_TENSORS or len(meta.model_info) > MAX_INFO_KEYS:
            raise OllamaError(
                "too_large",
                f"The description of {tag} has {len(meta.tensors):,} tensors and "
                f"{len(meta.model_info):,} metadata keys, more than any real model "
                f"({MAX_TENSORS:,} and {MAX_INFO_KEYS:,}); it is not kept.",
            )
        return meta

    return cached(endpoint, ("show", tag, verbose), load)


def _registries_id(registries: Iterable[Registry]) -> tuple[tuple[str, str], ...]:
    return tuple((r.name, r.base.url) for r in registries)


def manifest_of(registries: tuple[Registry, ...], tag: str) -> Manifest | OllamaError:
    """The manifest of `tag` from its registry (or why not), read once per session.

    Kept per session like the endpoint's answers (an error too, until read again), at most
    `[limits] metadata_cache` manifests and MAX_CACHED_MANIFEST_LAYERS layers in all, the least
    recently used going first.
    """
    cache: dict[tuple[Any, ...], Manifest | OllamaError] = st.session_state.setdefault(
        MANIFEST_CACHE_KEY, {}
    )
    key = (_registries_id(registries), tag.strip())
    if key in cache:
        cache[key] = cache.pop(key)  # most recently used last
        return cache[key]
    value: Manifest | OllamaError
    try:
        value = fetch_manifest(tag, registries)
    except OllamaError as exc:
        value = exc
    cache[key] = value
    limit = session.instructor_settings().limits.metadata_cache

    def layers() -> int:
        return sum(len(m.layers) for m in cache.values() if isinstance(m, Manifest))

    while len(cache) > 1 and (len(cache) > limit or layers() > MAX_CACHED_MANIFEST_LAYERS):
        del cache[next(iter(cache))]
    return value


def forget_manifests(registries: tuple[Registry, ...], tags: Iterable[str]) -> None:
    """Drop these tags' cached manifests (or errors), so the next run reads them again."""
    cache = st.session_state.get(MANIFEST_CACHE_KEY) or {}
    ident = _registries_id(registries)
    for tag in tags:
        cache.pop((ident, tag.strip()), None)


def cached_manifest(registries: tuple[Registry, ...], tag: str) -> Manifest | OllamaError | None:
    """The session's manifest of `tag` if it was read already; None (nothing sent) otherwise."""
    cache = st.session_state.get(MANIFEST_CACHE_KEY) or {}
    return cache.get((_registries_id(registries), tag.strip()))


def show_registry_error(error: OllamaError, doing: str | None = None) -> None:
    """A failed manifest read: the message (registry text made inert) and a registry hint."""
    lead = f"{doing}: " if doing else ""
    hint = errors.registry_hint(error.kind)
    st.error(
        f"{lead}{plain(error.message)}" + (f"  \n{hint}" if hint else ""),
        icon=":material/error:",
    )


def refresh_button(key: str, endpoint: Endpoint, whats: Iterable[tuple[Any, ...]]) -> None:
    """A Refresh button that drops the named cache entries, so the rerun fetches them again."""
    st.button(
        "Refresh",
        key=key,
        icon=":material/refresh:",
        type="tertiary",
        help="Ask the endpoint again (answers are kept for this session until you refresh).",
        on_click=forget,
        args=(endpoint, *whats),
    )


def show_error(error: OllamaError, doing: str | None = None) -> None:
    """A clear st.error: what failed, the reason in the server's or client's words, a hint."""
    lead = f"{doing}: " if doing else ""
    hint = errors.hint(error.kind)
    st.error(
        f"{lead}{plain(error.message)}" + (f"  \n{hint}" if hint else ""), icon=":material/error:"
    )


def endpoint_for_evidence(settings: Settings) -> str:
    return redact_host(settings.host)


def record_once(slot: str, kind: str, title: str, payload: dict[str, Any]) -> bool:
    """Record evidence unless this slot's last record had the same payload (a plain rerun).

    The session keeps a digest of the payload per slot, not the payload itself.
    """
    text = json.dumps(payload, sort_keys=True, default=str)
    signature = hashlib.sha256(text.encode()).hexdigest()
    seen = st.session_state.get(_RECORDED)
    if seen is None:
        seen = st.session_state[_RECORDED] = {}
    if seen.get(slot) == signature:
        return False
    seen[slot] = signature
    session.record(kind, title, payload)
    return True
