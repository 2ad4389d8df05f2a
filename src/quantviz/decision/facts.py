"""What the deployment decision is decided on: each tag's file size and KV layout.

From the endpoint where it answers: the size from `/api/tags`, the layout from `/api/show`
(asked again with `verbose` when the per-layer arrays came back null). Built in where it does
not, or lacks a tag: Gemma 4 E2B's text model (`quantviz.quant.gemma4_e2b`), its layout from
its published config and its sizes from llama.cpp's Q4_K_M and Q6_K recipes. Every figure says
where it came from.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from quantviz.config import Settings
from quantviz.decision.memory import LAYOUT_KEYS, KVLayout, LayoutError, layout_from_model_info
from quantviz.ollama.client import (
    CONNECT_TIMEOUT,
    Endpoint,
    ModelMetadata,
    find_model,
    list_models,
    show,
)
from quantviz.ollama.errors import OllamaError
from quantviz.quant import gemma4_e2b
from quantviz.report.evidence import redact_host

Describe = Callable[[str], "ModelMetadata | OllamaError"]

BUILTIN_SOURCE = "built-in Gemma 4 E2B layout (its published config, not read from an endpoint)"
BUILTIN_LAYOUT = layout_from_model_info(gemma4_e2b.model_info(), source=BUILTIN_SOURCE)


@functools.cache
def builtin_weights_bytes() -> dict[str, int]:
    """Tensor bytes of Gemma 4 E2B's text model under llama.cpp's Q4_K_M and Q6_K recipes.

    The lab's files also carry the vision and audio towers and a GGUF header, so they are larger;
    `/api/tags` sizes replace these as soon as an endpoint answers.
    """
    sizes = gemma4_e2b.recipe().expected
    return {"Q4": sizes.q4_k_m.n_bytes, "Q6": sizes.q6_k.n_bytes}


def _describe(endpoint: Endpoint, tag: str) -> ModelMetadata | OllamaError:
    try:
        return show(endpoint, tag, needs=LAYOUT_KEYS)
    except OllamaError as exc:
        return exc


@dataclass(frozen=True)
class TagFacts:
    """What the decision knows about one tag, and where each figure came from."""

    label: str
    tag: str
    weights_bytes: int | None
    weights_source: str
    layout: KVLayout
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EndpointFacts:
    host: str  # redacted
    reachable: bool
    problem: OllamaError | None
    tags: tuple[TagFacts, ...]
    missing: tuple[str, ...] = ()  # labels of tags the endpoint does not have


BUILTIN_WEIGHTS_SOURCE = (
    "built-in: Gemma 4 E2B's text weights under llama.cpp's recipe (the file's vision and "
    "audio towers not counted)"
)


def builtin_weights(label: str, tag: str) -> int | None:
    """The built-in size for a Q4 or Q6 tag, matched on its label, else on its tag name."""
    sizes = builtin_weights_bytes()
    for name, size in sizes.items():
        if name.lower() == label.strip().lower():
            return size
    suffix = tag.rsplit(":", 1)[-1].lower()
    for name, size in sizes.items():
        if re.search(rf"(^|[^a-z0-9]){name.lower()}([^0-9]|$)", suffix):
            return size
    return None


def _builtin(label: str, tag: str, why: str) -> TagFacts:
    size = builtin_weights(label, tag)
    source = (
        BUILTIN_WEIGHTS_SOURCE if size is not None else "unknown: no built-in size for this tag"
    )
    return TagFacts(label, tag, size, source, BUILTIN_LAYOUT, (why,))


def _layout_for(describe: Describe, tag: str) -> tuple[KVLayout, tuple[str, ...]]:
    """The tag's KV layout from /api/show, asked verbosely when the arrays came back null."""
    source = f"{tag} metadata (/api/show)"
    try:
        meta = describe(tag)
        if isinstance(meta, OllamaError):
            raise meta
        return layout_from_model_info(meta.model_info, source=source), ()
    except (OllamaError, LayoutError) as exc:
        return BUILTIN_LAYOUT, (
            f"{tag}: the metadata gave no KV layout ({exc}); the built-in Gemma 4 E2B layout "
            "stands in",
        )


def fetch_facts(
    settings: Settings, models: Sequence[tuple[str, str]], describe: Describe | None = None
) -> EndpointFacts:
    """Sizes from /api/tags and layouts from /api/show; built-in figures where they fail.

    `describe(tag)` answers /api/show (with the arrays a layout needs); the UI passes its
    per-session cache, so the metadata, storage and decision widgets ask once between them.
    """
    endpoint = settings.endpoint
    host = redact_host(settings.host)
    if describe is None:
        describe = partial(_describe, endpoint)
    try:
        listing = list_models(endpoint, timeout=CONNECT_TIMEOUT)
    except OllamaError as exc:
        why = "no endpoint answered"
        return EndpointFacts(host, False, exc, tuple(_builtin(lb, t, why) for lb, t in models))
    facts: list[TagFacts] = []
    missing: list[str] = []
    for label, tag in models:
        entry = find_model(listing, tag)
        if entry is None:
            missing.append(label)
            facts.append(_builtin(label, tag, f"{tag} is not on this endpoint"))
            continue
        layout, notes = _layout_for(describe, tag)
        facts.append(TagFacts(label, tag, entry.size, "/api/tags", layout, notes))
    return EndpointFacts(host, True, None, tuple(facts), tuple(missing))
