"""Compare chat (`data-compare-chat`, formerly `data-objective5-chat`): the same prompts through
each configured tag.

One transcript per (endpoint, tag) lives in this session's state, so switching models (or
endpoints) and back finds each conversation where it was. "One model" streams a reply into one
placeholder; "Side by side" sends one prompt to every tag at once and draws the columns from one
script thread while reader threads stream the replies (`quantviz.chat.runs`), then says whether the
server generated them at the same time or one after the other. Side by side shows one row per
prompt (`quantviz.chat.pairs`): each tag's reply in its column, so a prompt sits at the same height
for both, the settings the row was generated with, and the first token (or word, without
logprobs) where the replies part. It starts on the deterministic preset (temperature 0, a fixed
seed) and asks for logprobs, whose entries name the tokens.

Model output is untrusted: text goes through `quantviz.text.model_markdown` (while it streams
too: `StreamFilter`), never `unsafe_allow_html`; SVG answers become sanitised data-URI images
through `st.image`, their source an `st.code`. Server text in notices goes through `plain`.

Every action that starts a generation (the chat input, a suggested prompt, "ask the other
model") goes through a callback that leaves a pending request in the session; the run then
streams it. A Stop button shows while a reply streams. Clicking it (or any other control)
makes Streamlit stop this script run (runner.fastReruns) and start a new one: the stopped run
saves the partial reply and closes the stream (the server stops generating), and the new run
waits for that before drawing the transcript, so the partial reply shows, marked as stopped.
The chat input uses submit_mode="disable" rather than "stop": its stop ends the script where it
is, so the rest of the page (the chat input included) would vanish until the next click.

The instructor's `[limits]` bound what a session holds: a prompt's length, a reply's length (the
stream is cut there and the part kept, marked), the messages of a conversation and the number of
conversations. Each refusal says which limit and what to do.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
import streamlit as st

from quantviz.chat.pairs import PairRow, divergence_markdown, paired_rows
from quantviz.chat.runs import ReplyRun, pump, start_runs
from quantviz.chat.svg import SvgPart, split_svg, svg_data_uri
from quantviz.chat.transcript import (
    Message,
    Status,
    TranscriptExport,
    TranscriptStore,
    metrics_dict,
    metrics_line,
    overlap_verdict,
    status_text,
    transcript_json,
    transcript_markdown,
)
from quantviz.config import Caps, Limits, Settings
from quantviz.ollama.errors import OllamaError, fixed_in_settings
from quantviz.report.evidence import redact_host
from quantviz.report.measurements import SpeedSource, speed_sample
from quantviz.text import code_span, model_markdown, plain
from quantviz.ui import nav, session
from quantviz.ui.context import WidgetContext

try:  # raised in the script by a Stop, and by any click during a run (runner.fastReruns)
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException
except ImportError:  # pragma: no cover - another Streamlit layout
    StopException = KeyboardInterrupt  # type: ignore[assignment,misc]

STORE_KEY = "quantviz_chat_transcripts"  # one TranscriptStore per browser session
ACTIVE_KEY = "_quantviz_chat_active"  # run id -> Event set once its replies are saved
SETTLE_WAIT_S = 2.0  # a stopped run saves within one tick (chat.runs.TICK_S) of the Stop
ONE, SIDE = "One model", "Side by side"
DETERMINISTIC, CUSTOM = "Deterministic", "Custom"
FIXED_SEED = 42
DEFAULT_TEMPERATURE = 0.8
DEFAULT_NUM_PREDICT = 512
SHOWN_MESSAGES = 40  # older messages stay in the transcript and its downloads
SHOWN_ROWS = SHOWN_MESSAGES // 2  # side by side: a row is one prompt and its replies

SUGGESTIONS: dict[str, str] = {
    "Pelican (SVG)": "Draw a pelican riding a bicycle.",
    "Arithmetic": "What is 47 × 38? Reply with the number only.",
    "A fact": "What is the chemical symbol for tungsten? Reply with the symbol only.",
    "Strict JSON": 'Reply with only a JSON object with keys "city" and "country" for the '
    "Eiffel Tower.",
    "Counting": 'How many times does the letter r appear in "strawberry"? Reply with the '
    "number only.",
}


def store() -> TranscriptStore:
    """This session's transcripts (a refresh starts a new session and new transcripts)."""
    current = st.session_state.get(STORE_KEY)
    if not isinstance(current, TranscriptStore):
        current = st.session_state[STORE_KEY] = TranscriptStore()
    return current


# --------------------------------------------------------------------------- callbacks


def _queue(k: str, prompt: str, labels: Sequence[str], mode: str) -> None:
    if prompt.strip():
        st.session_state[f"{k}-pending"] = {
            "prompt": prompt.strip(),
            "labels": list(labels),
            "mode": mode,
        }


def _on_submit(k: str, labels: Sequence[str]) -> None:
    mode = st.session_state.get(f"{k}-mode") or ONE
    targets = labels if mode == SIDE else [st.session_state.get(f"{k}-model") or labels[0]]
    _queue(k, st.session_state.get(f"{k}-input") or "", targets, mode)


def _on_suggest(k: str, labels: Sequence[str]) -> None:
    choice = st.session_state.get(f"{k}-suggest")
    st.session_state[f"{k}-suggest"] = None  # a one-shot: the pill sends, then clears
    if choice in SUGGESTIONS:
        mode = st.session_state.get(f"{k}-mode") or ONE
        targets = labels if mode == SIDE else [st.session_state.get(f"{k}-model") or labels[0]]
        _queue(k, SUGGESTIONS[choice], targets, mode)


def _on_ask_other(k: str, other: str, prompt: str) -> None:
    st.session_state[f"{k}-model"] = other
    _queue(k, prompt, [other], ONE)


def _on_clear(host: str, tags: Sequence[str]) -> None:
    for tag in tags:
        store().clear(host, tag)


def _messages_of_run(run_id: str | None) -> list[Message]:
    if not run_id:
        return []
    s = store()
    return [m for key in s.nonempty_keys() for m in s.messages(*key) if m.run_id == run_id]


# --------------------------------------------------------------------------- rendering


def _endpoint_line(cfg: Settings) -> None:
    left, right = st.columns([3, 1], vertical_alignment="center")
    left.caption(f"Endpoint {code_span(redact_host(cfg.host))} · {cfg.key_status}")
    with right:
        nav.link_to_settings()


def _generation_options(k: str, caps: Caps, side: bool = False) -> dict[str, Any]:
    """Temperature, seed and max tokens, held within the instructor's caps.

    Side by side starts on the deterministic preset (its own widget, so the choice of each view
    is kept): a comparison of two tags should differ in the weights, not in the samples drawn.
    """
    with st.expander("Generation settings", icon=":material/tune:"):
        preset = st.radio(
            "Preset",
            [DETERMINISTIC, CUSTOM],
            index=0 if side else 1,
            horizontal=True,
            key=f"{k}-preset-side" if side else f"{k}-preset",
            help="Deterministic: temperature 0 and a fixed seed, so the tags differ only in "
            "their weights. Custom: sample with your own temperature and seed.",
        )
        options: dict[str, Any]
        if preset == DETERMINISTIC:
            options = {"temperature": 0.0, "seed": FIXED_SEED}
            st.caption(f"Temperature 0, seed {FIXED_SEED}.")
        else:
            left, right = st.columns(2)
            top = float(caps.max_temperature)
            if top > 0:
                temperature = left.slider(
                    "Temperature",
                    0.0,
                    top,
                    min(DEFAULT_TEMPERATURE, top),
                    step=0.05,
                    key=f"{k}-temperature",
                )
            else:
                temperature = 0.0
                left.caption("Temperature is fixed at 0 by the instructor.")
            seed = right.number_input(
                "Seed",
                min_value=0,
                value=None,
                step=1,
                placeholder="random",
                key=f"{k}-seed",
                help="Leave empty for a different sample each time.",
            )
            options = {"temperature": temperature}
            if seed is not None:
                options["seed"] = int(seed)
        num_predict = st.number_input(
            "Max tokens (num_predict)",
            min_value=1,
            max_value=caps.max_num_predict,
            value=min(DEFAULT_NUM_PREDICT, caps.max_num_predict),
            step=64,
            key=f"{k}-num-predict",
            help=f"The instructor's cap is {caps.max_num_predict} tokens.",
        )
        options["num_predict"] = int(num_predict)
    return caps.clamp(options)


def _options_caption(options: Mapping[str, Any]) -> str:
    seed = options.get("seed")
    return (
        f"temperature {options.get('temperature', 'default')} · "
        f"seed {seed if seed is not None else 'random'} · "
        f"up to {options.get('num_predict')} tokens"
    )


def _drawn(m: Message) -> list[str | SvgPart]:
    """What a message shows, parsed once per content: a reply's text parts as safe Markdown and
    its SVG parts; a prompt as safe Markdown (a student's SVG is not drawn).

    Parsing a long reply costs ~0.1 s; the transcript is drawn on every rerun, so the result is
    kept on the message (not in its fields: exports never see it) until its content changes.
    """
    drawn = getattr(m, "_drawn", None)
    if drawn is not None and drawn[0] == m.content:
        return drawn[1]
    if m.role == "user":
        parts: list[str | SvgPart] = [model_markdown(m.content)]
    else:
        parts = [
            part if isinstance(part, SvgPart) else model_markdown(part.text)
            for part in split_svg(m.content)
        ]
    m._drawn = (m.content, parts)  # type: ignore[attr-defined]
    return parts


def _render_text(m: Message) -> None:
    """Model text as Markdown with SVG answers drawn as pictures."""
    for part in _drawn(m):
        if not isinstance(part, SvgPart):
            st.markdown(part)
            continue
        if part.problem is None:
            st.image(svg_data_uri(part.source), caption="SVG from the reply (as an image)")
        else:
            st.warning(
                f"This SVG cannot be drawn: {plain(part.problem)}.", icon=":material/broken_image:"
            )
        with st.expander("SVG source", icon=":material/code:"):
            st.code(part.source, language="xml")


def _render_reply(m: Message) -> None:
    if m.content:
        _render_text(m)
    elif m.status == "complete":
        st.caption("(empty reply)")
    if m.status == "streaming":
        st.caption("An earlier run of this page is still finishing this reply.")
    line = metrics_line(m.metrics)
    if line:
        st.caption(line)
    if m.interrupted:
        st.warning(status_text(m), icon=":material/warning:")


def _render_user(m: Message) -> None:
    with st.chat_message("user"):
        st.markdown(_drawn(m)[0])


def _render_assistant(m: Message, label: str) -> None:
    with st.chat_message("assistant"):
        st.caption(f"{m.label or label} · `{m.tag}`")
        _render_reply(m)


def _render_history(messages: Sequence[Message], label: str, generating: bool = False) -> None:
    if not messages:
        if not generating:
            st.caption(f"No messages with {label} yet.")
        return
    hidden = len(messages) - SHOWN_MESSAGES
    if hidden > 0:
        st.caption(f"{hidden} earlier messages are hidden here; the downloads include them.")
    for m in messages[-SHOWN_MESSAGES:]:
        if m.role == "user":
            _render_user(m)
        else:
            _render_assistant(m, label)


def _show_error(ctx: WidgetContext, label: str, tag: str, error: OllamaError) -> None:
    kept = " The partial reply is kept above." if error.partial_text else ""
    message = plain(error.message)
    if error.kind == "auth":
        st.error(
            f"{label}: {message} Set it on the Endpoint settings page.{kept}",
            icon=":material/key:",
        )
        nav.link_to_settings()
    elif error.kind == "not_found":
        st.error(
            f"{label}: the endpoint does not have {code_span(tag)} ({message}).{kept}",
            icon=":material/search_off:",
        )
        nav.link_to_marker(ctx.lab, "model-pull", "Pull it first")
    else:
        st.error(f"{label}: {message}{kept}", icon=":material/error:")
        if fixed_in_settings(error.kind):
            nav.link_to_settings()


def _waiting_line(placeholder: Any, run: ReplyRun) -> None:
    if run.first_token is None:
        placeholder.caption(f"Waiting for {run.label}… {run.waited:.1f} s")
    else:
        placeholder.empty()  # still a message to the browser: a Stop is handled here


# --------------------------------------------------------------------------- generation


def _new_turn(
    cfg: Settings, label: str, prompt: str, options: Mapping[str, Any], run_id: str
) -> tuple[list[dict[str, str]], Message]:
    """Add the prompt and an empty streaming reply to the transcript; returns the history."""
    s, tag = store(), cfg.models[label]
    history = [*s.history(cfg.host, tag), {"role": "user", "content": prompt}]
    s.add(cfg.host, tag, Message("user", prompt, run_id=run_id))
    reply = Message(
        "assistant",
        "",
        label=label,
        tag=tag,
        status="streaming",
        options=dict(options),
        run_id=run_id,
    )
    return history, s.add(cfg.host, tag, reply)


def _settle(run: ReplyRun, reply: Message, status: Status | None = None) -> None:
    """Write what the run produced into the transcript message (its tokens too, if sent)."""
    if status is not None:  # the script stopped or reran mid-reply
        run.cancel()
        run.drain()
        reply.finish(run.text, metrics=run.metrics, status=status)
    elif run.error is not None:
        reply.finish(
            run.text or run.error.partial_text,
            metrics=run.metrics,
            status="error",
            error=run.error.message,
            error_kind=run.error.kind,
        )
    elif run.capped:
        reply.finish(
            run.text,
            status="capped",
            error=f"the reply reached this class's limit of {run.max_chars:,} characters; "
            "the text above is what came before it",
        )
    else:
        reply.finish(run.text, metrics=run.metrics)
    reply.tokens = list(run.tokens) or None


def _abandoned(exc: BaseException) -> Status:
    # A Stop, and with runner.fastReruns (the default) any click while a reply streams, stop
    # the script; a RerunException only comes from reruns that do not stop it.
    return "stopped" if isinstance(exc, StopException) else "interrupted"


@contextmanager
def _generation() -> Iterator[str]:
    """A generation's run id; while it lasts, later runs of the page wait for it to settle.

    With runner.fastReruns, a click during a reply starts the next run of the script in a new
    thread at once, while this one is still unwinding from its Stop; the next run waits (see
    `_await_settled`) so it shows the reply as this run saved it, partial text included.
    """
    run_id = uuid.uuid4().hex[:12]
    active: dict[str, threading.Event] = st.session_state.setdefault(ACTIVE_KEY, {})
    settled = active[run_id] = threading.Event()
    try:
        yield run_id
    finally:
        settled.set()
        active.pop(run_id, None)


def _await_settled(timeout: float = SETTLE_WAIT_S) -> None:
    """Wait (briefly) for generations of earlier runs that are still saving their replies."""
    active: dict[str, threading.Event] = st.session_state.get(ACTIVE_KEY) or {}
    deadline = time.monotonic() + timeout
    for settled in list(active.values()):
        settled.wait(max(deadline - time.monotonic(), 0.0))


def _chat_record(cfg: Settings, prompt: str, reply: Message) -> dict[str, Any]:
    return {
        "endpoint": redact_host(cfg.host),
        "label": reply.label,
        "tag": reply.tag,
        "prompt": prompt,
        "reply": reply.content,
        "status": reply.status,
        "error": reply.error,
        "options": reply.options,
        "metrics": reply.metrics,
    }


def _stream_one(
    ctx: WidgetContext,
    cfg: Settings,
    label: str,
    prompt: str,
    options: Mapping[str, Any],
    run_id: str,
) -> None:
    history, reply = _new_turn(cfg, label, prompt, options, run_id)
    _render_user(Message("user", prompt))
    with st.chat_message("assistant"):
        st.caption(f"{label} · `{reply.tag}`")
        stop_slot, waiting, body = st.empty(), st.empty(), st.empty()
        stop_slot.button("Stop", key=f"{ctx.key}-stop", icon=":material/stop_circle:",
                         help="Stop this reply; the text so far is kept.")  # fmt: skip
        run = ReplyRun(
            cfg.endpoint,
            reply.tag or "",
            history,
            options=options,
            timeout=cfg.caps.request_timeout,
            label=label,
            max_chars=cfg.limits.reply_chars,
        )
        try:
            for i, shown in enumerate(run.display_updates(lambda r: _waiting_line(waiting, r))):
                if i == 0:
                    waiting.empty()
                body.markdown(shown)
        except BaseException as exc:
            _settle(run, reply, _abandoned(exc))
            session.record(
                "chat", f"{label} reply ({reply.status})", _chat_record(cfg, prompt, reply)
            )
            raise
        stop_slot.empty()
        _finish(ctx, run, reply, waiting, body, label, "chat")
    session.record("chat", f"{label} reply", _chat_record(cfg, prompt, reply))


def _finish(
    ctx: WidgetContext,
    run: ReplyRun,
    reply: Message,
    waiting: Any,
    body: Any,
    label: str,
    source: SpeedSource,
) -> None:
    """A finished stream: settle it into the transcript, keep its speed among the session's
    measurements, and redraw it, with its error if any."""
    _settle(run, reply)
    session.measurements().add_speed(speed_sample(run.metrics, reply.tag or "", label, source))
    waiting.empty()
    with body.container():
        if run.error is None:
            _render_reply(reply)
        else:
            _render_partial(reply)
            _show_error(ctx, label, reply.tag or "", run.error)


def _render_partial(reply: Message) -> None:
    if reply.content:
        _render_text(reply)
        st.caption("Interrupted: the reply above is incomplete.")
    line = metrics_line(reply.metrics)
    if line:
        st.caption(line)


def _stream_side_by_side(
    ctx: WidgetContext,
    cfg: Settings,
    labels: Sequence[str],
    prompt: str,
    options: Mapping[str, Any],
    columns: Sequence[Any],
    stop_slot: Any,
    run_id: str,
) -> None:
    turns = [_new_turn(cfg, label, prompt, options, run_id) for label in labels]
    slots = []
    for column, label, (_, reply) in zip(columns, labels, turns, strict=True):
        with column:
            _render_user(Message("user", prompt))
            with st.chat_message("assistant"):
                st.caption(f"{label} · `{reply.tag}`")
                slots.append((st.empty(), st.empty()))
    stop_slot.button("Stop", key=f"{ctx.key}-stop", icon=":material/stop_circle:",
                     help="Stop both replies; the text so far is kept.")  # fmt: skip
    runs = start_runs(
        cfg.endpoint,
        [
            (label, reply.tag or "", history)
            for label, (history, reply) in zip(labels, turns, strict=True)
        ],
        options=options,
        timeout=cfg.caps.request_timeout,
        max_chars=cfg.limits.reply_chars,
        logprobs=True,  # the tokens tell where the replies part (chat.pairs)
    )
    index = {id(run): i for i, run in enumerate(runs)}
    try:
        for changed in pump(runs):
            if not changed:
                for run, (waiting, _) in zip(runs, slots, strict=True):
                    _waiting_line(waiting, run)
            for run in changed:
                waiting, body = slots[index[id(run)]]
                if run.display_text:
                    waiting.empty()
                    body.markdown(run.display_text)
    except BaseException as exc:
        status = _abandoned(exc)
        for run, (_, reply) in zip(runs, turns, strict=True):
            _settle(run, reply, status)
        raise
    stop_slot.empty()
    for run, (_, reply), (waiting, body), label in zip(runs, turns, slots, labels, strict=True):
        _finish(ctx, run, reply, waiting, body, label, "side_by_side")
    verdict, shared = overlap_verdict([run.timing for run in runs])
    summary = {
        "run_id": run_id,
        "prompt": prompt,
        "overlap": verdict,
        "overlap_s": round(shared, 3),
        "order": [r.label for r in sorted(runs, key=lambda r: r.first_token or float("inf"))],
    }
    st.session_state[f"{ctx.key}-sbs"] = summary
    session.record(
        "side_by_side",
        f"Side by side: {prompt[:60]}",
        {
            "endpoint": redact_host(cfg.host),
            "prompt": prompt,
            "options": dict(options),
            "overlap": verdict,
            "overlap_s": round(shared, 3),
            "replies": [
                {
                    "label": label,
                    "tag": reply.tag,
                    "reply": reply.content,
                    "status": reply.status,
                    "error": reply.error,
                    "metrics": reply.metrics
                    or (metrics_dict(run.metrics) if run.metrics else None),
                }
                for label, (_, reply), run in zip(labels, turns, runs, strict=True)
            ],
        },
    )


def _side_by_side_summary(k: str, cfg: Settings, labels: Sequence[str]) -> None:
    """The last side-by-side run: did the requests overlap, and each reply's figures."""
    summary = st.session_state.get(f"{k}-sbs")
    run_id = summary["run_id"] if summary else None
    replies = {m.label: m for m in _messages_of_run(run_id) if m.role == "assistant"}
    if not summary or not replies:
        return
    verdict, shared = summary["overlap"], summary["overlap_s"]
    if verdict == "overlapped":
        st.info(
            f"The two requests overlapped: both replies were being generated at the same time "
            f"for {shared:.2f} s.",
            icon=":material/compare_arrows:",
        )
    elif verdict == "one at a time":
        first, second = summary["order"][:2]
        st.warning(
            f"The server answered one request at a time: {second}'s first token arrived only "
            f"after {first}'s reply had ended (an Ollama with OLLAMA_NUM_PARALLEL=1, or a busy "
            "shared server). Compare tokens/s, not waiting times.",
            icon=":material/hourglass_top:",
        )
    else:
        st.caption("Whether the requests overlapped is unknown: a reply produced no tokens.")
    rows = {
        "first token (s)": "ttft_s",
        "tokens/s": "tokens_per_s",
        "prompt tokens": "prompt_tokens",
        "output tokens": "output_tokens",
        "load (s)": "load_s",
        "done reason": "done_reason",
    }
    table = {
        label: [
            _cell((replies[label].metrics or {}).get(field)) if label in replies else "—"
            for field in rows.values()
        ]
        for label in labels
    }
    st.table(pd.DataFrame(table, index=list(rows)))


def _paired_history(cfg: Settings, labels: Sequence[str], generating: bool) -> None:
    """Side by side: one row per prompt, each tag's reply in its column, so the same prompt
    sits at the same height; each row with its settings and where the replies part."""
    models, s = cfg.models, store()
    heads = st.columns(len(labels))
    for column, name in zip(heads, labels, strict=True):
        column.markdown(f"**{name}** · `{models[name]}`")
    rows = paired_rows({name: s.messages(cfg.host, models[name]) for name in labels})
    if not rows:
        if not generating:
            for column, name in zip(heads, labels, strict=True):
                column.caption(f"No messages with {name} yet.")
        return
    hidden = len(rows) - SHOWN_ROWS
    if hidden > 0:
        st.caption(f"{hidden} earlier prompts are hidden here; the downloads include them.")
    for row in rows[-SHOWN_ROWS:]:
        _pair_row(row, labels)


def _pair_row(row: PairRow, labels: Sequence[str]) -> None:
    with st.container(border=True):
        settings = {
            name: _options_caption(m.options) for name, m in row.replies.items() if m.options
        }
        if len(set(settings.values())) == 1:
            st.caption(f"Settings: {next(iter(settings.values()))}")
        elif settings:
            st.caption(" · ".join(f"{name}: {text}" for name, text in settings.items()))
        columns = st.columns(len(labels))
        for column, name in zip(columns, labels, strict=True):
            with column:
                _render_user(Message("user", row.prompt))
                reply = row.replies.get(name)
                if reply is None:
                    st.caption(f"Not sent to {name} in this run.")
                else:
                    _render_assistant(reply, name)
        _divergence_line(labels, list(row.replies.values()))


def _divergence_line(labels: Sequence[str], replies: Sequence[Message]) -> None:
    """Where the first two tags' replies part (inert Markdown from `chat.pairs`)."""
    by_label = {m.label: m for m in replies if m.role == "assistant"}
    if len(labels) < 2 or labels[0] not in by_label or labels[1] not in by_label:
        return
    a, b = by_label[labels[0]], by_label[labels[1]]
    if not a.content and not b.content:
        return
    line = divergence_markdown(labels[0], a.content, labels[1], b.content, a.tokens, b.tokens)
    st.markdown(":material/call_split: " + line)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


# --------------------------------------------------------------------------- the widget


def render(ctx: WidgetContext) -> None:
    k = ctx.key
    cfg = session.settings(ctx.lab)
    models = dict(cfg.models)
    labels = list(models)
    if not labels:
        st.warning("No model tags are configured for this lab.")
        return
    _await_settled()
    s = store()

    with st.container(border=True, key=f"{k}-box"):
        _endpoint_line(cfg)
        top_left, top_right = st.columns([1, 2])
        mode = (
            top_left.radio("View", [ONE, SIDE], horizontal=True, key=f"{k}-mode")
            if len(labels) > 1
            else ONE
        )
        label = labels[0]
        if mode == ONE:
            if st.session_state.get(f"{k}-model") not in labels:
                st.session_state.pop(f"{k}-model", None)
            label = top_right.radio(
                "Model",
                labels,
                format_func=lambda name: f"{name} · {models[name]}",
                horizontal=True,
                key=f"{k}-model",
            )
        options = _generation_options(k, cfg.caps, side=mode == SIDE)
        st.pills(
            "Suggested prompts",
            list(SUGGESTIONS),
            key=f"{k}-suggest",
            on_change=_on_suggest,
            args=(k, labels),
            help="Sends the prompt at once. The last four have one checkable answer: "
            "1786, W, a JSON object, 3.",
        )

        pending = _admit(st.session_state.pop(f"{k}-pending", None), cfg, s)
        if mode == ONE:
            tag = models[label]
            ask = pending is not None and pending["mode"] == ONE and pending["labels"][0] == label
            _render_history(s.messages(cfg.host, tag), label, generating=ask)
            if pending is not None and ask:
                with _generation() as run_id:
                    _stream_one(ctx, cfg, label, pending["prompt"], options, run_id)
            last = s.last_prompt(cfg.host, tag)
            others = [name for name in labels if name != label]
            buttons = st.columns(3)
            if others:
                other = others[0]
                buttons[0].button(
                    f"Ask {other} the same",
                    key=f"{k}-ask-other",
                    icon=":material/swap_horiz:",
                    disabled=last is None,
                    on_click=_on_ask_other,
                    args=(k, other, last or ""),
                    help=f"Send your last prompt to {other} · {models[other]} and switch to it.",
                )
            buttons[1].button(
                f"Clear the {label} transcript",
                key=f"{k}-clear",
                icon=":material/delete_sweep:",
                disabled=not s.messages(cfg.host, tag),
                on_click=_on_clear,
                args=(cfg.host, [tag]),
            )
        else:
            ask = bool(pending and pending["mode"] == SIDE)
            stop_slot = st.empty()
            _paired_history(cfg, labels, generating=ask)
            if pending is not None and ask:
                with _generation() as run_id:
                    row = st.container(border=True)
                    with row:
                        st.caption(f"Settings: {_options_caption(options)}")
                        columns = st.columns(len(labels))
                    _stream_side_by_side(
                        ctx, cfg, labels, pending["prompt"], options, columns, stop_slot, run_id
                    )
                    with row:
                        _divergence_line(labels, _messages_of_run(run_id))
            _side_by_side_summary(k, cfg, labels)
            st.button(
                "Clear both transcripts" if len(labels) == 2 else "Clear all transcripts",
                key=f"{k}-clear",
                icon=":material/delete_sweep:",
                disabled=not any(s.messages(cfg.host, models[n]) for n in labels),
                on_click=_on_clear,
                args=(cfg.host, list(models.values())),
            )

        st.chat_input(
            "Ask both models…" if mode == SIDE else f"Ask {label} · {models[label]}…",
            key=f"{k}-input",
            # "stop" would raise StopException mid-page: the chat input and everything after
            # this widget vanish until the next click. The Stop button reruns the page instead.
            submit_mode="disable",
            on_submit=_on_submit,
            args=(k, labels),
            # One more than allowed: Streamlit cuts a longer value to max_chars without a word,
            # so an over-long prompt arrives one character too long and is refused with a notice.
            max_chars=cfg.limits.prompt_chars + 1,
        )
        st.caption(_options_caption(options))
        _downloads(k, cfg, labels, label if mode == ONE else None)


def _admit(
    pending: dict[str, Any] | None, cfg: Settings, s: TranscriptStore
) -> dict[str, Any] | None:
    """The pending prompt if the session's limits allow it; otherwise a notice and None."""
    if pending is None:
        return None
    limits: Limits = cfg.limits
    if len(pending["prompt"]) > limits.prompt_chars:
        st.warning(
            f"Your prompt is longer than this class allows ({limits.prompt_chars:,} "
            "characters). Shorten it and send it again.",
            icon=":material/short_text:",
        )
        return None
    for label in pending["labels"]:
        if label not in cfg.models:
            return None
        reason = s.full(
            cfg.host,
            cfg.models[label],
            max_messages=limits.transcript_messages,
            max_transcripts=limits.transcripts,
        )
        if reason is not None:
            st.warning(f"{label}: {reason}", icon=":material/inventory_2:")
            return None
    return pending


def _downloads(k: str, cfg: Settings, labels: Sequence[str], current: str | None) -> None:
    s = store()
    models = cfg.models
    scopes = ([current] if current else []) + ["All models"]
    left, mid, right = st.columns([2, 1, 1], vertical_alignment="bottom")
    scope = left.radio("Download", scopes, horizontal=True, key=f"{k}-export-scope")
    chosen = labels if scope == "All models" or scope not in models else [scope]
    exports = [
        TranscriptExport(name, models[name], cfg.host, list(s.messages(cfg.host, models[name])))
        for name in chosen
    ]
    empty = not any(ex.messages for ex in exports)
    stem = "quantviz-chat-" + ("all" if len(chosen) > 1 else chosen[0].lower())
    formats = (
        (mid, "Markdown", transcript_markdown, "md", "text/markdown"),
        (right, "JSON", transcript_json, "json", "application/json"),
    )
    for column, label, export, ext, mime in formats:
        column.download_button(
            label,
            export(exports) if not empty else "",
            file_name=f"{stem}.{ext}",
            mime=mime,
            key=f"{k}-download-{ext}",
            icon=":material/download:",
            disabled=empty,
            on_click="ignore",
        )
