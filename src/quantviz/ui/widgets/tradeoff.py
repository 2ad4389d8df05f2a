"""Deployment decision (`data-tradeoff-decision`): weights + KV cache against a memory budget.

Per tag: the weights are the file size from `/api/tags` when the endpoint has the tag, else the
built-in Gemma 4 E2B text-model size computed from llama.cpp's recipes; the KV cache comes from the
tag's `/api/show` metadata (asked again with `verbose` when the per-layer arrays came back null)
through `layout_from_model_info`, else from the built-in E2B layout, sized as Ollama runs
llama.cpp (`memory.OLLAMA`). Every fallback is said where the figures are shown. Beside the
memory: the speed measured in this session and the last probe run's pass counts, read from the
session's typed measurements (`quantviz.report.measurements`: the chat and the probe add them).

The student decides first: they pick a tag (or neither) and write their reason, and only after
**Commit my choice** does the widget show its own reading (`decision_text`) beside theirs, with
the points where the two disagree (`memory.disagreements`). The widget never writes the choice
for them. "Save decision to evidence" records the student's choice and reason with the figures
and the reading. Runtime overhead defaults to `memory.DEFAULT_OVERHEAD_BYTES` (1.0 GB, derived in
docs/model-facts.md) and counts towards "fits". The figures themselves
are computed in the core: `quantviz.decision.facts` (sizes, layouts) and `.memory` (the fit).

What the endpoint reports is read once per session and endpoint (a button re-reads it); the
budget and context inputs live in a fragment, so moving them reruns only this widget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import pandas as pd
import streamlit as st

from quantviz.config import Settings
from quantviz.decision.facts import EndpointFacts, TagFacts, fetch_facts
from quantviz.decision.memory import (
    BYTES_PER_ELEMENT,
    DEFAULT_CACHE_TYPE,
    DEFAULT_OVERHEAD_BYTES,
    OLLAMA,
    FitResult,
    assumptions,
    decision_text,
    disagreements,
    fit_tags,
    recommend,
)
from quantviz.figures.probe import memory_figure, memory_text
from quantviz.report.measurements import (
    NEITHER,
    FitMeasurement,
    MeasuredSpeed,
    StudentDecision,
)
from quantviz.text import plain
from quantviz.ui import nav, registry, session
from quantviz.ui.chart import show_chart
from quantviz.ui.context import WidgetContext
from quantviz.ui.ollama_common import forget, metadata_of
from quantviz.units import GB, format_bytes, format_tokens

DEFAULT_BUDGET_GB = 4.0
DEFAULT_CONTEXT = 8192


def _facts(key: str, settings: Settings, models: Sequence[tuple[str, str]]) -> EndpointFacts:
    """`fetch_facts` once per session, endpoint, tags and pull (the memo is in session_state)."""
    pulls = len(session.evidence().filter("pull"))  # a new pull can change what the endpoint has
    memo_key = (settings.host, settings.api_key, tuple(models), pulls)
    memo = st.session_state.get(f"{key}-facts")
    if memo is not None and memo[0] == memo_key:
        return memo[1]
    with st.spinner("Reading sizes and layouts from the endpoint…"):
        facts = fetch_facts(settings, models, partial(metadata_of, settings.endpoint))
    st.session_state[f"{key}-facts"] = (memo_key, facts)
    return facts


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
            value=DEFAULT_OVERHEAD_BYTES / GB,
            step=0.1,
            key=f"{key}-overhead",
            help="llama.cpp's compute buffers and Ollama's runtime reserve. The default, 1.0 GB, "
            "is what this model class needs (518 MiB compute buffer at a 512-token batch, almost "
            "all of it the logits over a 262,144-token vocabulary, plus 457 MiB Ollama reserves "
            "per GPU); docs/model-facts.md derives it.",
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
    measured: Mapping[str, MeasuredSpeed],
    passes: Mapping[str, tuple[int, int]],
) -> pd.DataFrame:
    rows = []
    for f in fits:
        tag_facts = facts[f.tag]
        speed = measured.get(f.tag)
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
                else f"{speed.tokens_per_s:.1f} ({speed.text})",
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


@registry.fragment
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
    measurements = session.measurements()
    measured = measurements.speeds_of(by_tag)
    speeds = {tag: m.tokens_per_s for tag, m in measured.items()}
    sources = {tag: m.text for tag, m in measured.items()}
    scores = {tag: s for tag in by_tag if (s := measurements.probe_score(tag)) is not None}
    passes = {tag: (s.passed, s.total) for tag, s in scores.items()}

    limits = {f.layout.context_length for f in usable if f.layout.context_length}
    if limits and context > min(limits):
        st.warning(
            f"The models accept at most {format_tokens(min(limits))} tokens of context; "
            f"{format_tokens(context)} is more than they can use."
        )
    show_chart(memory_figure(fits), key=f"{key}-fig-memory", alt=memory_text(fits))
    st.dataframe(_table(fits, by_tag, measured, passes), hide_index=True)

    lines = _assumption_lines(usable, cache_type, overhead, parallel)
    st.markdown("**Assumptions**\n\n" + "\n".join(f"- {plain(line)}" for line in lines))
    if not speeds:
        st.caption("No speed measured yet: a side-by-side chat in Objective 5 records one.")
        nav.link_to_marker(ctx.lab, "compare-chat", "Measure speed in the chat")
    if not passes:
        st.caption("No probe results yet: the quality probe in Objective 5 counts checks.")
        nav.link_to_marker(ctx.lab, "quality-probe", "Run the quality probe")

    measurements.record_fit(
        FitMeasurement(budget, context, cache_type, overhead, parallel, tuple(fits))
    )
    committed = _student_choice(key, fits)
    if committed is None:
        measurements.record_decision(None)
        return
    chosen, reason = committed
    chosen_fit = next((f for f in fits if f.tag == chosen), None)
    chosen_label = chosen_fit.label if chosen_fit else "neither tag"
    text = decision_text(fits, tokens_per_s=speeds, probe_passes=passes)
    pick = recommend(fits, tokens_per_s=speeds, probe_passes=passes)
    differ = disagreements(chosen, fits, reason=reason, tokens_per_s=speeds, probe_passes=passes)
    measurements.record_decision(
        StudentDecision(chosen_label if chosen else NEITHER, chosen, reason, text, differ)
    )
    st.markdown(f"**Your choice**: {plain(chosen_label)}. **Your reason**: {plain(reason)}")
    st.info(f"**The widget's reading of the figures**: {text}", icon=":material/balance:")
    for line in differ:
        st.warning(line, icon=":material/compare_arrows:")
    if not differ:
        st.success("The reading agrees with your choice.", icon=":material/check:")

    if st.button(
        "Save decision to evidence", key=f"{key}-save", type="primary", icon=":material/save:"
    ):
        saved = session.record(
            "decision",
            f"Decision at {format_bytes(budget)} and {format_tokens(context)} context: "
            + (f"choose {chosen_label}" if chosen else "neither tag"),
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
                "choice": chosen,  # the student's: a tag, or None for neither
                "decision": reason,  # the student's reason, in their words
                "widget_choice": pick.tag if pick else None,
                "widget_reading": text,
                "disagreements": list(differ),
            },
        )
        if saved is not None:
            st.success("Decision saved to your evidence.", icon=":material/check:")


def _student_choice(key: str, fits: Sequence[FitResult]) -> tuple[str | None, str] | None:
    """The student's committed choice (a tag, or None for neither) and reason, or None while
    they have not committed one: until then the widget shows no reading of its own."""
    st.markdown("**Your decision first**")
    options = [f.tag for f in fits] + [NEITHER]
    labels = {f.tag: f.label for f in fits} | {NEITHER: "Neither"}
    limit = session.instructor_settings().limits.record_chars
    choice = st.radio(
        "Which tag would you deploy at this budget and context?",
        options,
        index=None,
        format_func=lambda tag: labels.get(tag, tag),
        horizontal=True,
        key=f"{key}-student-choice",
    )
    reason = st.text_area(
        "Your reason, from your own figures (one or two sentences)",
        key=f"{key}-student-reason",
        max_chars=limit,
        placeholder="Q4 fits with 8k context at N tok/s and passes M of K probe checks; Q6 …",
    )
    if st.button("Commit my choice", key=f"{key}-commit", icon=":material/how_to_vote:"):
        if choice is None or not reason.strip():
            st.warning("Choose a tag (or neither) and write your reason first.")
        else:
            st.session_state[f"{key}-committed"] = (
                None if choice == NEITHER else choice,
                reason.strip()[:limit],
            )
    committed = st.session_state.get(f"{key}-committed")
    if committed is None:
        st.caption(
            "The widget shows its own reading of these figures once you have committed your "
            "choice and reason, so that the choice is yours."
        )
        return None
    tag, reason_text = committed
    if tag is not None and tag not in {f.tag for f in fits}:
        return None
    return tag, reason_text
