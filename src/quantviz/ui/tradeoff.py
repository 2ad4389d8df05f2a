"""Deployment decision (`data-tradeoff-decision`): weights + KV cache against a memory budget.

Per tag: the weights are the file size from `/api/tags` when the endpoint has the tag, else the
built-in Gemma 4 E2B text-model size computed from llama.cpp's recipes; the KV cache comes from the
tag's `/api/show` metadata (asked again with `verbose` when the per-layer arrays came back null)
through `layout_from_model_info`, else from the built-in E2B layout, sized as Ollama runs
llama.cpp (`memory.OLLAMA`). Every fallback is said where the figures are shown. Beside the
memory: the speed measured in this session (chat and side-by-side evidence records, else the
quality probe's answers) and the last probe run's pass counts, ending in `decision_text`.
"Save decision to evidence" records it all.

What the endpoint reports is read once per session and endpoint (a button re-reads it); the
budget and context inputs live in a fragment, so moving them reruns only this widget.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from quantviz.config import Settings
from quantviz.decision.memory import (
    BUILTIN_LAYOUT,
    BYTES_PER_ELEMENT,
    DEFAULT_CACHE_TYPE,
    OLLAMA,
    FitResult,
    KVLayout,
    LayoutError,
    assumptions,
    builtin_weights_bytes,
    decision_text,
    fit_tags,
    layout_from_model_info,
    recommend,
)
from quantviz.figures.probe import memory_figure
from quantviz.ollama.client import CONNECT_TIMEOUT, find_model, list_models, normalize_tag
from quantviz.ollama.errors import OllamaError
from quantviz.report.evidence import EvidenceRecord, redact_host
from quantviz.text import plain
from quantviz.ui import nav, session
from quantviz.ui.context import WidgetContext
from quantviz.ui.ollama_common import forget, metadata_of
from quantviz.ui.quality_probe import last_probe, probe_passes
from quantviz.units import GB, format_bytes, format_tokens

DEFAULT_BUDGET_GB = 4.0
DEFAULT_CONTEXT = 8192
SPEED_KINDS = ("chat", "side_by_side")


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


# --------------------------------------------------------------------------------------------
# Facts: sizes and layouts, from the endpoint or built in


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


def _layout_for(endpoint: Any, tag: str) -> tuple[KVLayout, tuple[str, ...]]:
    """The tag's KV layout from /api/show, asked verbosely when the arrays came back null.

    The answer comes from the session's shared cache (`ollama_common.metadata_of`), so the
    metadata, storage and decision widgets fetch a tag's verbose answer once between them.
    """
    source = f"{tag} metadata (/api/show)"
    try:
        meta = metadata_of(endpoint, tag)
        if isinstance(meta, OllamaError):
            raise meta
        return layout_from_model_info(meta.model_info, source=source), ()
    except (OllamaError, LayoutError) as exc:
        return BUILTIN_LAYOUT, (
            f"{tag}: the metadata gave no KV layout ({exc}); the built-in Gemma 4 E2B layout "
            "stands in",
        )


def fetch_facts(settings: Settings, models: Sequence[tuple[str, str]]) -> EndpointFacts:
    """Sizes from /api/tags and layouts from /api/show; built-in figures where they fail."""
    endpoint = settings.endpoint
    host = redact_host(settings.host)
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
        layout, notes = _layout_for(endpoint, tag)
        facts.append(TagFacts(label, tag, entry.size, "/api/tags", layout, notes))
    return EndpointFacts(host, True, None, tuple(facts), tuple(missing))


def _facts(key: str, settings: Settings, models: Sequence[tuple[str, str]]) -> EndpointFacts:
    """`fetch_facts` once per session, endpoint, tags and pull (the memo is in session_state)."""
    pulls = len(session.evidence().filter("pull"))  # a new pull can change what the endpoint has
    memo_key = (settings.host, settings.api_key, tuple(models), pulls)
    memo = st.session_state.get(f"{key}-facts")
    if memo is not None and memo[0] == memo_key:
        return memo[1]
    with st.spinner("Reading sizes and layouts from the endpoint…"):
        facts = fetch_facts(settings, models)
    st.session_state[f"{key}-facts"] = (memo_key, facts)
    return facts


# --------------------------------------------------------------------------------------------
# Measured speed and quality from this session


def _resolver(models: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Label, tag and normalised tag -> tag, to recognise a model named in a payload."""
    out: dict[str, str] = {}
    for label, tag in models:
        out[label] = tag
        out[tag] = tag
        out[normalize_tag(tag)] = tag
    return out


def _walk_speeds(value: Any, tag: str | None, known: Mapping[str, str], out: dict) -> None:
    if isinstance(value, Mapping):
        for name in ("tag", "model", "label"):
            named = value.get(name)
            if isinstance(named, str) and named in known:
                tag = known[named]
        for k, v in value.items():
            speed = isinstance(v, (int, float)) and not isinstance(v, bool)
            if k == "tokens_per_s" and speed and v > 0 and tag is not None:
                out.setdefault(tag, []).append(float(v))
            else:
                _walk_speeds(v, known.get(str(k), tag), known, out)
    elif isinstance(value, list):
        for item in value:
            _walk_speeds(item, tag, known, out)


def measured_speeds(
    records: Iterable[EvidenceRecord], models: Sequence[tuple[str, str]]
) -> dict[str, list[float]]:
    """tag -> every tokens/s figure in chat and side-by-side records that names that tag.

    A figure belongs to the tag named by the nearest enclosing `tag`, `model` or `label` field,
    or by a mapping key equal to a label or tag (`{"Q4": {"metrics": {...}}}`).
    """
    known = _resolver(models)
    out: dict[str, list[float]] = {}
    for record in records:
        if record.kind in SPEED_KINDS:
            _walk_speeds(record.payload, None, known, out)
    return out


def _speeds(models: Sequence[tuple[str, str]]) -> tuple[dict[str, float], dict[str, str]]:
    """tag -> tokens/s and tag -> where it was measured (chat first, else the probe)."""
    speeds: dict[str, float] = {}
    sources: dict[str, str] = {}
    for tag, values in measured_speeds(session.evidence(), models).items():
        speeds[tag] = sum(values) / len(values)
        sources[tag] = f"chat, mean of {len(values)}"
    job = last_probe()
    if job is not None:
        for tag, value in job.run.summary().mean_tokens_per_s.items():
            if tag not in speeds and value:
                speeds[tag] = value
                sources[tag] = "quality probe answers"
    return speeds, sources


# --------------------------------------------------------------------------------------------
# Widget


def render(ctx: WidgetContext) -> None:
    key = ctx.key
    settings = session.settings(ctx.lab)
    models = list(settings.models.items())
    with st.container(border=True):
        st.subheader("Deployment decision: which quantization fits?", anchor=False)
        facts = _facts(key, settings, models)
        _where_from(ctx, facts)
        _decision(key, facts, ctx)


def _where_from(ctx: WidgetContext, facts: EndpointFacts) -> None:
    if not facts.reachable:
        reason = facts.problem.message if facts.problem else "no answer"
        st.info(
            f"No endpoint answered ({plain(reason)}). The figures below come from the "
            "built-in Gemma 4 E2B layout and text-weight sizes, not from your models.",
            icon=":material/cloud_off:",
        )
        nav.link_to_settings("Endpoint settings")
    else:
        st.caption(f"Sizes from `/api/tags` and KV layouts from `/api/show` of `{facts.host}`.")
        if facts.missing:
            st.warning(
                f"This endpoint does not have {plain(' and '.join(facts.missing))}: the "
                "built-in size and layout stand in for it.",
                icon=":material/download:",
            )
            nav.link_to_marker(ctx.lab, "model-pull", "Pull the models")
    if st.button("Re-read the endpoint", key=f"{ctx.key}-refresh", icon=":material/refresh:"):
        st.session_state.pop(f"{ctx.key}-facts", None)
        settings = session.settings(ctx.lab)
        forget(settings.endpoint, ("tags",), *(("show", tag) for tag in settings.models.values()))
        st.rerun()


def _inputs(key: str) -> tuple[float, int, str, float, int]:
    left, right = st.columns(2)
    budget = left.number_input(
        "Memory budget (GB)",
        min_value=0.25,
        max_value=1024.0,
        value=DEFAULT_BUDGET_GB,
        step=0.25,
        key=f"{key}-budget",
        help="The RAM or VRAM you can give the model. GB = 10^9 bytes.",
    )
    context = right.number_input(
        "Context the task needs (tokens)",
        min_value=256,
        max_value=1 << 20,
        value=DEFAULT_CONTEXT,
        step=1024,
        key=f"{key}-context",
        help="Prompt plus answer, per request.",
    )
    with st.expander("More assumptions: cache type, overhead, parallel requests"):
        c1, c2, c3 = st.columns(3)
        cache_type = c1.selectbox(
            "KV cache type",
            list(BYTES_PER_ELEMENT),
            index=list(BYTES_PER_ELEMENT).index(DEFAULT_CACHE_TYPE),
            key=f"{key}-cache",
            help="Ollama's OLLAMA_KV_CACHE_TYPE; f16 is its default.",
        )
        overhead = c2.number_input(
            "Runtime overhead (GB)",
            min_value=0.0,
            max_value=64.0,
            value=0.0,
            step=0.1,
            key=f"{key}-overhead",
            help="Compute buffers and runtime memory, if you want to count them.",
        )
        parallel = c3.number_input(
            "Parallel requests",
            min_value=1,
            max_value=64,
            value=1,
            step=1,
            key=f"{key}-parallel",
            help="OLLAMA_NUM_PARALLEL: each slot keeps its own context.",
        )
    return float(budget), int(context), str(cache_type), float(overhead), int(parallel)


def _table(
    fits: Sequence[FitResult],
    facts: Mapping[str, TagFacts],
    speeds: Mapping[str, float],
    sources: Mapping[str, str],
    passes: Mapping[str, tuple[int, int]],
) -> pd.DataFrame:
    rows = []
    for f in fits:
        tag_facts = facts[f.tag]
        speed = speeds.get(f.tag)
        quality = passes.get(f.tag)
        rows.append(
            {
                "model": f.label,
                "tag": f.tag,
                "weights": format_bytes(f.weights_bytes),
                "weights from": tag_facts.weights_source,
                "KV cache": format_bytes(f.kv_bytes),
                "total": format_bytes(f.total_bytes),
                "fits": "yes" if f.fits else f"no, {format_bytes(f.shortfall_bytes)} short",
                "largest context that fits": format_tokens(f.max_context)
                + (" (model limit)" if f.max_context_is_model_limit else ""),
                "tokens/s": "not measured"
                if speed is None
                else f"{speed:.1f} ({sources.get(f.tag, '')})",
                "probe checks": "probe not run"
                if quality is None
                else f"{quality[0]} of {quality[1]}",
            }
        )
    return pd.DataFrame(rows)


def _assumption_lines(
    facts: Sequence[TagFacts], cache_type: str, overhead: int, parallel: int
) -> list[str]:
    lines: list[str] = []
    for tf in facts:
        for line in assumptions(
            tf.layout,
            cache_type=cache_type,
            overhead_bytes=overhead,
            parallel=parallel,
            sizing=OLLAMA,
        ):
            if line.startswith("layout:") and len({f.layout.source for f in facts}) > 1:
                line = f"{tf.label} {line}"
            if line not in lines:
                lines.append(line)
        lines.extend(n for n in tf.notes if n not in lines)
    return lines


@st.fragment
def _decision(key: str, facts: EndpointFacts, ctx: WidgetContext) -> None:
    budget_gb, context, cache_type, overhead_gb, parallel = _inputs(key)
    usable = [f for f in facts.tags if f.weights_bytes is not None]
    for skipped in (f for f in facts.tags if f.weights_bytes is None):
        st.warning(f"{plain(skipped.label)}: no file size known, so it is left out.")
    if not usable:
        st.info("No model to decide between.")
        return
    by_tag = {f.tag: f for f in usable}
    budget = round(budget_gb * GB)
    overhead = round(overhead_gb * GB)
    fits = fit_tags(
        budget,
        context,
        {f.tag: int(f.weights_bytes or 0) for f in usable},
        layout={f.tag: f.layout for f in usable},
        labels={f.tag: f.label for f in usable},
        cache_type=cache_type,
        overhead_bytes=overhead,
        parallel=parallel,
        sizing=OLLAMA,
    )
    models = [(f.label, f.tag) for f in usable]
    speeds, sources = _speeds(models)
    job = last_probe()
    passes = {t: c for t, c in probe_passes(job.run).items() if t in by_tag} if job else {}

    limits = {f.layout.context_length for f in usable if f.layout.context_length}
    if limits and context > min(limits):
        st.warning(
            f"The models accept at most {format_tokens(min(limits))} tokens of context; "
            f"{format_tokens(context)} is more than they can use."
        )
    st.plotly_chart(memory_figure(fits), key=f"{key}-fig-memory")
    st.dataframe(_table(fits, by_tag, speeds, sources, passes), hide_index=True)

    lines = _assumption_lines(usable, cache_type, overhead, parallel)
    st.markdown("**Assumptions**\n\n" + "\n".join(f"- {plain(line)}" for line in lines))
    if not speeds:
        st.caption("No speed measured yet: a side-by-side chat in Objective 5 records one.")
        nav.link_to_marker(ctx.lab, "objective5-chat", "Measure speed in the chat")
    if not passes:
        st.caption("No probe results yet: the quality probe in Objective 5 counts checks.")
        nav.link_to_marker(ctx.lab, "quality-probe", "Run the quality probe")

    text = decision_text(fits, tokens_per_s=speeds, probe_passes=passes)
    choice = recommend(fits, tokens_per_s=speeds, probe_passes=passes)
    (st.success if choice else st.warning)(text, icon=":material/balance:")

    if st.button(
        "Save decision to evidence", key=f"{key}-save", type="primary", icon=":material/save:"
    ):
        saved = session.record(
            "decision",
            f"Decision at {format_bytes(budget)} and {format_tokens(context)} context: "
            + (f"choose {choice.label}" if choice else "nothing fits"),
            {
                "budget_bytes": budget,
                "budget_gb": budget_gb,
                "context": context,
                "cache_type": cache_type,
                "overhead_bytes": overhead,
                "parallel": parallel,
                "endpoint": facts.host if facts.reachable else None,
                "from_endpoint": facts.reachable,
                "fits": [f.to_dict() for f in fits],
                "weights_source": {f.tag: f.weights_source for f in usable},
                "layout_source": {f.tag: f.layout.source for f in usable},
                "tokens_per_s": speeds,
                "speed_source": sources,
                "probe_passes": {t: list(c) for t, c in passes.items()},
                "assumptions": lines,
                "choice": choice.tag if choice else None,
                "decision": text,
            },
        )
        if saved is not None:
            st.toast("Decision saved to your evidence.", icon=":material/check:")
