"""Quality probe (`data-quality-probe`): checkable prompts on both tags, scored and compared.

How a run works, and why it is not a fragment:

- **Run** checks the endpoint (its version, both tags present), then keeps a `ProbeJob` in
  `st.session_state` holding a `run_probes` generator, and reruns the page.
- While a job runs, the widget draws a progress bar and a **Cancel** button, then drives the
  generator one request at a time, updating the bar between requests. A click anywhere makes
  Streamlit stop the script at that update (a fragment rerun would wait for the whole probe to
  end instead); every answered request is already in the run. The next run applies the click:
  Cancel ends the job with its finished answers, any other click lets it go on where it stopped.
- When the job ends it becomes one `probe` evidence record, and its scores and answer speeds
  become the session's typed measurements, which the deployment decision reads.

Prompts go out at temperature 0 with a fixed seed (`PROBE_OPTIONS`, held within the
instructor's caps) and ask for logprobs with the top 5 alternatives; an endpoint that returns
none is named as such and everything else still works. Model output is shown only through
`st.code`, `st.text` and dataframes, never as Markdown or HTML.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
import streamlit as st

from quantviz.chat.runs import collect_reply
from quantviz.config import Settings
from quantviz.figures.probe import (
    logprob_diff_figure,
    logprob_diff_text,
    probe_pass_figure,
    probe_pass_text,
    similarity_figure,
    similarity_text,
    token_logprob_figure,
    token_logprob_text,
)
from quantviz.ollama.client import (
    CONNECT_TIMEOUT,
    LOGPROBS_SINCE,
    check_connection,
    find_model,
    list_models,
    returns_logprobs,
)
from quantviz.ollama.errors import ErrorKind, OllamaError, fatal, fixed_in_settings
from quantviz.probe.battery import BUILTIN_BATTERY, Battery, BatteryError, resolve_battery
from quantviz.probe.compare import simple_tokens
from quantviz.probe.run import (
    DEFAULT_TOP_LOGPROBS,
    PROBE_OPTIONS,
    ProbeProgress,
    ProbeResult,
    ProbeRun,
    pass_uncertainty,
    probe_passes,
    probe_scores,
    probe_speeds,
    run_probes,
)
from quantviz.report.evidence import redact_host
from quantviz.text import plain
from quantviz.ui import nav, registry, session
from quantviz.ui.chart import show_chart
from quantviz.ui.context import WidgetContext

PULL_MARKER = "model-pull"

Status = Literal["running", "finished", "cancelled", "failed"]


@dataclass
class ProbeJob:
    """One probe run as this session sees it: the results plus how and where it ran."""

    run: ProbeRun
    labels: dict[str, str]  # tag -> label
    host: str  # redacted endpoint
    server_version: str | None
    battery_source: str
    options: dict[str, Any]
    events: Iterator[ProbeProgress] | None = None
    status: Status = "running"
    cancel_requested: bool = False
    error: OllamaError | None = None
    last: ProbeProgress | None = None
    recorded: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def label(self, tag: str) -> str:
        return self.labels.get(tag, tag)


@dataclass(frozen=True)
class StartError:
    kind: ErrorKind
    markdown: str  # server text already escaped


# --------------------------------------------------------------------------------------------
# Widget


def render(ctx: WidgetContext) -> None:
    key = ctx.key
    settings = session.settings(ctx.lab)
    with st.container(border=True):
        st.subheader("Quality probe: where Q4 departs from Q6", anchor=False)
        battery = _battery(ctx)
        models = list(settings.models.items())[:2]
        _intro(battery, models, settings)
        if len(models) < 2:
            st.warning("The probe compares two tags, and only one is configured for this lab.")

        job: ProbeJob | None = st.session_state.get(f"{key}-job")
        if job is not None and job.status == "running":
            _running(key, job)
            return
        if job is not None and not job.recorded:
            _finish(job)  # a click stopped the script between the run's end and its record

        again = job is not None
        if st.button(
            "Run the probe again" if again else "Run the probe",
            key=f"{key}-run",
            type="primary",
            icon=":material/play_arrow:",
            disabled=not models,
        ):
            st.session_state.pop(f"{key}-start-error", None)
            with st.spinner("Checking the endpoint…"):
                started = _start(key, settings, battery, models)
            if started:
                st.rerun()
        error: StartError | None = st.session_state.get(f"{key}-start-error")
        if error is not None:
            _explain_error(ctx, error.kind, error.markdown)
        if job is not None:
            _results(ctx, job)


def _battery(ctx: WidgetContext) -> Battery:
    try:
        return resolve_battery(ctx.lab.path, ctx.lab.meta)
    except BatteryError as exc:
        st.error(
            f"This lab's probe battery could not be loaded: {plain(str(exc))}. "
            "The built-in battery is used instead.",
            icon=":material/error:",
        )
        return Battery(BUILTIN_BATTERY, "built-in")


def _source_text(source: str) -> str:
    if source == "built-in":
        return "the built-in battery"
    if source == "frontmatter":
        return "the lab's own battery (its frontmatter `probe:` list)"
    return f"the lab's own battery (`{source}`, beside the lab file)"


def _options(settings: Settings) -> dict[str, Any]:
    return settings.caps.clamp(PROBE_OPTIONS)


def _intro(battery: Battery, models: list[tuple[str, str]], settings: Settings) -> None:
    options = _options(settings)
    who = " and ".join(f"{plain(label)} `{tag}`" for label, tag in models) or "no tags"
    st.markdown(
        f"{len(battery.probes)} prompts from {_source_text(battery.source)}, asked of {who} at "
        f"temperature {options['temperature']:g} with seed {options['seed']} (at most "
        f"{options['num_predict']} tokens an answer), so the two runs differ only in the weights. "
        f"Each answer also asks for log-probabilities with the top {DEFAULT_TOP_LOGPROBS} "
        "alternatives."
    )
    with st.expander(f"The {len(battery.probes)} prompts and their checks"):
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "prompt": p.id,
                        "category": p.category,
                        "text": p.prompt,
                        "check": p.check.kind,
                    }
                    for p in battery.probes
                ]
            ),
            hide_index=True,
        )
        st.caption(
            "An instructor can replace this battery: a `probe:` list (or file name) in the lab's "
            "frontmatter, or a `<lab>.probe.yaml` file beside the lab."
        )


# --------------------------------------------------------------------------------------------
# Starting, driving and ending a run


def _start(
    key: str, settings: Settings, battery: Battery, models: list[tuple[str, str]]
) -> ProbeJob | None:
    """Check the endpoint and both tags, then store a running job; None (and an error) if not."""
    endpoint = settings.endpoint
    try:
        version = check_connection(endpoint, timeout=CONNECT_TIMEOUT)
        present = list_models(endpoint, timeout=settings.caps.request_timeout)
    except OllamaError as exc:
        st.session_state[f"{key}-start-error"] = StartError(exc.kind, plain(exc.message))
        return None
    session.remember_version(settings.host, version)
    missing = [f"{label} `{tag}`" for label, tag in models if find_model(present, tag) is None]
    if missing:
        st.session_state[f"{key}-start-error"] = StartError(
            "not_found",
            f"This endpoint does not have {' and '.join(missing)} yet. Pull "
            f"{'them' if len(missing) > 1 else 'it'} first, then run the probe.",
        )
        return None

    tags = [tag for _, tag in models]
    job = ProbeJob(
        run=ProbeRun(tags=tuple(tags), probes=battery.probes),
        labels={tag: label for label, tag in models},
        host=redact_host(settings.host),
        server_version=version,
        battery_source=battery.source,
        options=_options(settings),
    )
    timeout = settings.caps.request_timeout

    def ask(tag: str, prompt: str) -> tuple[str, list[Any] | None, Any]:
        try:
            reply = collect_reply(
                endpoint,
                tag,
                [{"role": "user", "content": prompt}],
                max_chars=settings.limits.reply_chars,
                options=job.options,
                logprobs=True,
                top_logprobs=DEFAULT_TOP_LOGPROBS,
                timeout=timeout,
            )
        except OllamaError as exc:
            if fatal(exc.kind):  # the next request would fail alike: stop, keep what is done
                job.error = exc
            raise
        return reply.text, list(reply.logprobs) or None, reply.metrics

    job.events = run_probes(
        battery.probes, tags, ask, cancel=lambda: job.cancel_requested, run=job.run
    )
    st.session_state[f"{key}-job"] = job
    return job


def _request_cancel(job_key: str) -> None:
    job = st.session_state.get(job_key)
    if job is not None:
        job.cancel_requested = True


def _progress_text(job: ProbeJob, event: ProbeProgress) -> str:
    where = f"{event.step} of {event.steps} answers"
    if event.phase == "asking" and event.tag and event.probe_id:
        return f"Asking {plain(job.label(event.tag))}: {event.probe_id} ({where} done)"
    return f"{where} done"


def _running(key: str, job: ProbeJob) -> None:
    job_key = f"{key}-job"
    first = job.last.fraction if job.last else 0.0
    bar = st.progress(first, text=_progress_text(job, job.last) if job.last else "Starting…")
    st.button(
        "Cancel",
        key=f"{key}-cancel",
        on_click=_request_cancel,
        args=(job_key,),
        icon=":material/stop:",
        help="Stops after the answer in progress; every finished answer is kept.",
    )
    live = st.empty()
    if job.run.results:
        live.dataframe(_table(job), hide_index=True)
    _drive(job, bar, live)
    _finish(job)
    st.rerun()


def _stop(job: ProbeJob, status: Status) -> None:
    job.status = status
    if status == "cancelled":
        job.run.cancelled = True
    if status == "failed":
        _drop_failed_answer(job.run)
    close = getattr(job.events, "close", None)  # a generator: end it where it is suspended
    if close is not None:
        close()
    job.events = None


def _drop_failed_answer(run: ProbeRun) -> None:
    """The request that hit a fatal error has no answer to keep; drop it from the open probe."""
    if not run.results or run.results[-1].complete:
        return
    open_probe = run.results[-1]
    for tag in [t for t, r in open_probe.results.items() if r.error]:
        del open_probe.results[tag]
    if not open_probe.results:
        run.results.pop()


def _step(job: ProbeJob) -> ProbeProgress | None:
    """The run's next event, with the job's status updated; None once the job has ended.

    With fast reruns a click starts the next script run at once, while the interrupted one may
    still be inside a request: the job's lock keeps the two runs from driving it together (the
    new run waits for the answer in progress, then sees the click).
    """
    with job.lock:
        if job.status != "running":
            return None
        if job.cancel_requested:
            _stop(job, "cancelled")
            return None
        event = next(job.events, None) if job.events is not None else None
        if event is None:
            _stop(job, "finished")
            return None
        job.last = event
        if event.phase == "cancelled":
            _stop(job, "cancelled")
        elif event.phase == "finished":
            _stop(job, "finished")
        elif event.phase == "answered" and job.error is not None:
            _stop(job, "failed")
        return event


def _drive(job: ProbeJob, bar: Any, live: Any) -> None:
    """Ask one request after the other until the run ends, is cancelled or hits a fatal error.

    Every `bar` / `live` update is a point where Streamlit may stop the script for a click;
    the generator then waits, suspended, for the next run.
    """
    while (event := _step(job)) is not None:
        if job.status != "running":
            return
        bar.progress(event.fraction, text=_progress_text(job, event))
        if event.phase == "answered":
            live.dataframe(_table(job), hide_index=True)


def _finish(job: ProbeJob) -> None:
    """Record the ended run as evidence and make it the session's last probe run."""
    with job.lock:
        if job.recorded:
            return
        job.recorded = True
    session.record("probe", _title(job), _payload(job))
    session.measurements().record_probe(
        probe_scores(job.run, job.labels), probe_speeds(job.run, job.labels)
    )


def _title(job: ProbeJob) -> str:
    summary = job.run.summary()
    passes, answered = summary.passes, summary.answered
    scores = ", ".join(f"{job.label(t)} {passes[t]}/{answered[t]}" for t in job.run.tags)
    suffix = {
        "finished": "",
        "cancelled": f" (cancelled after {job.run.completed} of {job.run.total} prompts)",
        "failed": " (stopped by an error)",
        "running": " (running)",
    }[job.status]
    return f"Quality probe: {scores}{suffix}"


def _payload(job: ProbeJob) -> dict[str, Any]:
    run = job.run
    probes = []
    for res in run.results:
        probes.append(
            {
                "id": res.probe.id,
                "category": res.probe.category,
                "prompt": res.probe.prompt,
                "complete": res.complete,
                "answers": {
                    tag: {
                        "label": job.label(tag),
                        "passed": r.check.passed,
                        "reason": r.check.reason,
                        "output": r.output,
                        "tokens_per_s": r.tokens_per_s,
                        "logprob_tokens": len(r.logprobs) if r.logprobs else 0,
                        "error": r.error,
                    }
                    for tag, r in res.results.items()
                },
                "comparison": dataclasses.asdict(res.comparison) if res.comparison else None,
            }
        )
    return {
        "status": job.status,
        "error": job.error.message if job.error else None,
        "endpoint": job.host,
        "server_version": job.server_version,
        "battery": job.battery_source,
        "options": job.options,
        "logprobs_requested": {"logprobs": True, "top_logprobs": DEFAULT_TOP_LOGPROBS},
        "models": {job.label(t): t for t in run.tags},
        "completed": run.completed,
        "total": run.total,
        "passes": {t: list(c) for t, c in probe_passes(run).items()},
        "summary": run.summary().to_dict(),
        "probes": probes,
    }


# --------------------------------------------------------------------------------------------
# Results


def _explain_error(ctx: WidgetContext, kind: ErrorKind, markdown: str) -> None:
    st.error(markdown, icon=":material/error:")
    if kind == "not_found":
        nav.link_to_marker(ctx.lab, PULL_MARKER, "Pull the models first")
    elif fixed_in_settings(kind):
        nav.link_to_settings("Check the endpoint and API key")


NO_VALUE = "—"


def _fmt(value: float | None, spec: str) -> str:
    return NO_VALUE if value is None else format(value, spec)


# Why a tag has no answer to a prompt yet, by the job's status: a running probe is still on it.
NOT_ANSWERED: dict[Status, tuple[str, str]] = {
    "running": ("waiting", "not answered yet"),
    "cancelled": ("not asked", "cancelled before this tag answered"),
    "failed": ("not asked", "stopped by an error before this tag answered"),
    "finished": ("not asked", ""),
}


def _verdict(res: ProbeResult, tag: str, status: Status) -> tuple[str, str]:
    r = res.results.get(tag)
    if r is None:
        return NOT_ANSWERED[status]
    if r.error:
        return "error", r.check.reason
    return ("pass" if r.check.passed else "fail"), r.check.reason


def _table(job: ProbeJob) -> pd.DataFrame:
    """One row per prompt: each tag's verdict and reason, then how the two answers agree."""
    rows = []
    for res in job.run.results:
        row: dict[str, Any] = {"prompt": res.probe.id, "category": res.probe.category}
        for tag in job.run.tags:
            verdict, reason = _verdict(res, tag, job.status)
            row[job.label(tag)] = verdict
            row[f"{job.label(tag)}: reason"] = reason
        c = res.comparison
        row["first differing token"] = (
            NO_VALUE if c is None else "identical" if c.first_diff is None else str(c.first_diff)
        )
        # Text cells, so a figure that does not exist reads "—", never a literal "None".
        row["similarity"] = _fmt(None if c is None else c.similarity, ".3f")
        row["mean |Δ logprob|"] = _fmt(None if c is None else c.mean_abs_logprob_diff, ".4f")
        row["top-k overlap"] = _fmt(None if c is None else c.topk_jaccard, ".2f")
        rows.append(row)
    return pd.DataFrame(rows)


def _status(ctx: WidgetContext, job: ProbeJob) -> None:
    run = job.run
    if job.status == "finished":
        st.success(f"Finished: {run.completed} prompts on both tags.", icon=":material/check:")
    elif job.status == "cancelled":
        st.warning(
            f"Cancelled after {run.completed} of {run.total} prompts. The finished answers are "
            "kept below.",
            icon=":material/stop_circle:",
        )
    elif job.status == "failed" and job.error is not None:
        _explain_error(ctx, job.error.kind, plain(job.error.message))
        st.caption(
            f"The probe stopped after {run.completed} of {run.total} prompts; the finished "
            "answers are kept below."
        )


def _logprob_note(job: ProbeJob, supported: bool | None, text: str) -> None:
    if supported is False:
        version = f"Ollama {job.server_version}" if job.server_version else "version unknown"
        new_enough = returns_logprobs(job.server_version)
        if new_enough:
            why = (
                f"sent no log-probabilities, although Ollama returns them from {LOGPROBS_SINCE} "
                "on: something between the app and Ollama (a proxy, or another server speaking "
                "its API) may drop them"
            )
        elif new_enough is False:
            why = f"does not return log-probabilities: they need Ollama {LOGPROBS_SINCE} or later"
        else:
            why = (
                "sent no log-probabilities (Ollama returns them from "
                f"{LOGPROBS_SINCE} on; this server's version could not be compared)"
            )
        st.info(
            f"This endpoint (`{job.host}`, {plain(version)}) {why}. Pass or fail, the first "
            "differing token and the similarity below do not need them.",
            icon=":material/info:",
        )
    elif supported:
        st.caption(
            plain(text) + ". Over the prefix where both answers agree token for token: how "
            "far the chosen tokens' log-probabilities drift, and how much the top-5 alternatives "
            "overlap (1 = the same set)."
        )


def _results(ctx: WidgetContext, job: ProbeJob) -> None:
    run = job.run
    _status(ctx, job)
    if not run.results:
        return
    summary = run.summary()
    compared = sum(1 for r in run.results if r.comparison is not None)
    cols = st.columns(len(run.tags) + 2)
    for col, tag in zip(cols, run.tags, strict=False):
        col.metric(
            f"{job.label(tag)} checks passed", f"{summary.passes[tag]} / {summary.answered[tag]}"
        )
    cols[-2].metric("Mean similarity", _fmt(summary.mean_similarity, ".2f"))
    cols[-1].metric("Identical answers", f"{summary.identical} / {compared}")
    uncertainty = pass_uncertainty(summary, job.labels)
    if uncertainty:
        st.caption(plain(uncertainty) + " (Wilson score intervals.)")
    _logprob_note(job, summary.logprobs_supported, summary.logprob_text)

    labels = job.labels
    left, right = st.columns(2)
    show_chart(
        probe_pass_figure(summary, labels),
        key=f"{ctx.key}-fig-pass",
        alt=probe_pass_text(summary, labels),
        where=left,
    )
    show_chart(
        similarity_figure(run, labels),
        key=f"{ctx.key}-fig-similarity",
        alt=similarity_text(run, labels),
        where=right,
    )
    if summary.logprobs_supported:
        show_chart(
            logprob_diff_figure(run, labels),
            key=f"{ctx.key}-fig-logprobs",
            alt=logprob_diff_text(run, labels),
        )

    st.dataframe(_table(job), hide_index=True)
    if len(run.tags) == 2:
        a, b = run.tags
        only = [
            f"{r.probe.id} (only {job.label(a if r.results[a].check.passed else b)})"
            for r in run.results
            if r.complete and r.results[a].check.passed != r.results[b].check.passed
        ]
        st.caption(
            "Exactly one tag passed: " + ", ".join(only)
            if only
            else "No prompt was passed by one tag only."
        )
    _detail(ctx.key)


def _first_difference(res: ProbeResult, job: ProbeJob) -> str:
    c = res.comparison
    if c is None:
        return "Not compared: the probe did not get an answer from both tags."
    a, b = (res.results[t] for t in job.run.tags[:2])
    if c.token_source == "logprobs" and a.logprobs and b.logprobs:
        ta, tb = [t.token for t in a.logprobs], [t.token for t in b.logprobs]
    else:
        ta, tb = simple_tokens(a.output), simple_tokens(b.output)
    la, lb = job.label(a.tag), job.label(b.tag)
    unit = "tokens" if c.token_source == "logprobs" else "words"
    counts = f"{c.n_tokens[0]} and {c.n_tokens[1]} {unit}"
    if c.first_diff is None:
        return f"Identical answers ({counts}); similarity {c.similarity:.3f}."
    i = c.first_diff
    tok_a = repr(ta[i]) if i < len(ta) else "(end of answer)"
    tok_b = repr(tb[i]) if i < len(tb) else "(end of answer)"
    return (
        f"First differing token: #{i} ({la} {tok_a}, {lb} {tok_b}); similarity "
        f"{c.similarity:.3f} over {counts}."
    )


@registry.fragment
def _detail(key: str) -> None:
    """One prompt up close: both answers verbatim, the verdicts and the per-token logprobs."""
    job: ProbeJob | None = st.session_state.get(f"{key}-job")
    if job is None or not job.run.results:
        return
    by_id = {r.probe.id: r for r in job.run.results}
    choice = st.selectbox("Look closer at one prompt", list(by_id), key=f"{key}-detail")
    res = by_id.get(choice or "", job.run.results[0])
    st.code(res.probe.prompt, language="text", wrap_lines=True)
    st.text(_first_difference(res, job))
    cols = st.columns(max(1, len(res.results)))
    for col, (tag, r) in zip(cols, res.results.items(), strict=False):
        with col:
            verdict = "error" if r.error else "pass" if r.check.passed else "fail"
            icon = {"pass": ":material/check_circle:", "fail": ":material/cancel:"}.get(
                verdict, ":material/error:"
            )
            st.markdown(f"{icon} **{plain(job.label(tag))}**: {verdict}")
            st.text(r.check.reason)
            st.code(r.output or "(no answer)", language="text", wrap_lines=True)
            if r.tokens_per_s is not None:
                st.caption(f"{r.tokens_per_s:.1f} tokens/s")
    if any(r.logprobs for r in res.results.values()):
        show_chart(
            token_logprob_figure(res, job.labels),
            key=f"{key}-fig-tokens",
            alt=token_logprob_text(res, job.labels),
        )
