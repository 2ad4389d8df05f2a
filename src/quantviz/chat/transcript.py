"""Chat transcripts, safe display of model text, and exports (no streamlit).

* `TranscriptStore` keeps one list of `Message`s per (endpoint host, model tag), so a student
  can switch models or endpoints and come back to each conversation.
* Model output is untrusted. `reply_markdown` shows it through `quantviz.text.model_markdown`
  (parsed as CommonMark; no image, link or HTML survives as markup) with SVG source replaced by
  a placeholder (`quantviz.chat.svg` finds, checks and draws SVG answers); `StreamFilter` does
  the same for a reply while it streams.
* `overlap_verdict` says whether two replies were generated at the same time or one after the
  other; `transcript_markdown` / `transcript_json` export conversations with their metrics.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from quantviz.chat.svg import TextPart, split_svg
from quantviz.ollama.client import ChatMetrics, metrics_dict, normalize_tag
from quantviz.report.evidence import redact_host, to_jsonable, utc_now
from quantviz.text import code_span, model_markdown, plain
from quantviz.text import fence as code_fence

Role = Literal["user", "assistant"]
# streaming: being written now; complete: the model finished; stopped: ended early by a Stop (or
# by a click that reran the page); interrupted: the page reran mid-reply without stopping the
# script; error: the request failed (partial text kept); capped: cut at the reply limit.
Status = Literal["streaming", "complete", "stopped", "interrupted", "error", "capped"]

HISTORY_LIMIT = 20  # earlier messages sent with a prompt: the last 10 turns


# --------------------------------------------------------------------------- transcripts


@dataclass
class Message:
    """One chat message. Assistant messages carry the model, metrics and how the reply ended."""

    role: Role
    content: str
    label: str | None = None  # "Q4"
    tag: str | None = None
    status: Status = "complete"
    error: str | None = None  # why the reply ended early, student-facing
    error_kind: str | None = None
    metrics: dict[str, Any] | None = None  # ChatMetrics as a dict
    options: dict[str, Any] | None = None
    run_id: str | None = None  # shared by the messages of one side-by-side run
    tokens: list[str] | None = None  # the reply's tokens, when the server sent logprobs
    created_at: str = field(default_factory=utc_now)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def interrupted(self) -> bool:
        return self.status in ("stopped", "interrupted", "error", "capped")

    def finish(
        self,
        text: str,
        *,
        metrics: ChatMetrics | None = None,
        status: Status = "complete",
        error: str | None = None,
        error_kind: str | None = None,
    ) -> None:
        self.content = text
        self.status = status
        self.error = error
        self.error_kind = error_kind
        if metrics is not None:
            self.metrics = metrics_dict(metrics)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(dataclasses.asdict(self))


TranscriptKey = tuple[str, str]  # (endpoint host, normalised tag)


class TranscriptStore:
    """One transcript per (endpoint host, model tag), kept in a session's state."""

    def __init__(self) -> None:
        self._transcripts: dict[TranscriptKey, list[Message]] = {}

    @staticmethod
    def key(host: str, tag: str) -> TranscriptKey:
        return (host.rstrip("/"), normalize_tag(tag))

    def messages(self, host: str, tag: str) -> list[Message]:
        """The transcript for (host, tag); an empty list (not stored) when there is none."""
        return self._transcripts.get(self.key(host, tag), [])

    def add(self, host: str, tag: str, message: Message) -> Message:
        self._transcripts.setdefault(self.key(host, tag), []).append(message)
        return message

    def full(self, host: str, tag: str, *, max_messages: int, max_transcripts: int) -> str | None:
        """Why one more turn (prompt and reply) cannot go into (host, tag), or None if it can."""
        messages = self.messages(host, tag)
        if len(messages) + 2 > max_messages:
            return (
                f"This conversation has {len(messages)} messages, the most this class keeps "
                f"({max_messages}). Download it, then clear it to go on."
            )
        if not messages and len(self.nonempty_keys()) >= max_transcripts:
            return (
                f"This session already holds {max_transcripts} conversations, the most this "
                "class keeps. Download and clear one of them to start another."
            )
        return None

    def clear(self, host: str, tag: str) -> None:
        self._transcripts.pop(self.key(host, tag), None)

    def last_prompt(self, host: str, tag: str) -> str | None:
        return next(
            (m.content for m in reversed(self.messages(host, tag)) if m.role == "user"), None
        )

    def history(self, host: str, tag: str, limit: int = HISTORY_LIMIT) -> list[dict[str, str]]:
        """The earlier turns to send with a new prompt, as Ollama chat messages.

        A turn whose reply failed before any text arrived is left out, so a retried prompt is
        not sent twice; a partial reply is sent as the model wrote it.
        """
        out: list[dict[str, str]] = []
        messages = self.messages(host, tag)
        for i, m in enumerate(messages):
            if m.role == "user":
                reply = messages[i + 1] if i + 1 < len(messages) else None
                if reply is None or reply.role != "assistant" or not reply.content:
                    continue
            elif not m.content or m.status == "streaming":
                continue
            out.append({"role": m.role, "content": m.content})
        return out[-limit:] if limit else out

    def nonempty_keys(self) -> list[TranscriptKey]:
        return [k for k, v in self._transcripts.items() if v]


# --------------------------------------------------------------------------- safe display

SVG_PLACEHOLDER = "*(An SVG picture: it is drawn when the reply is complete.)*"


def reply_markdown(text: str) -> str:
    """A reply (complete or not) as safe Markdown, each SVG in it replaced by a placeholder.

    The text goes through `quantviz.text.model_markdown`: images show as `[image: alt]`, links
    as text plus their URL, raw HTML as text. SVG source (fenced or bare, finished or not) is
    never sent to the browser as Markdown; the widget draws the picture from the whole reply.
    """
    shown = [
        model_markdown(part.text) if isinstance(part, TextPart) else SVG_PLACEHOLDER
        for part in split_svg(text)
    ]
    return "\n\n".join(part for part in shown if part)


class StreamFilter:
    """Streamed model text in, what the browser may be shown so far out.

    `feed(chunk)` adds text; `display()` is `reply_markdown` of everything so far, parsed again
    as a whole: a construct split across chunks (`![` + `x](url)`, `<s` + `vg`) is judged once
    it is complete, exactly as the finished reply will be. It is cached until the next feed.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._shown: str | None = ""

    def feed(self, chunk: str) -> None:
        if chunk:
            self._parts.append(chunk)
            self._shown = None

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def display(self) -> str:
        if self._shown is None:
            self._shown = reply_markdown(self.text)
        return self._shown


# --------------------------------------------------------------------------- metrics


def metrics_line(metrics: Mapping[str, Any] | None) -> str:
    """The figures of one reply in one line: first token, tokens/s, tokens, load, done."""
    if not metrics:
        return ""
    parts = []
    if metrics.get("ttft_s") is not None:
        parts.append(f"first token {metrics['ttft_s']:.2f} s")
    if metrics.get("tokens_per_s") is not None:
        parts.append(f"{metrics['tokens_per_s']:.1f} tokens/s")
    if metrics.get("prompt_tokens") is not None:
        parts.append(f"prompt {metrics['prompt_tokens']} tokens")
    if metrics.get("output_tokens") is not None:
        parts.append(f"output {metrics['output_tokens']} tokens")
    if metrics.get("load_s") is not None:
        parts.append(f"load {metrics['load_s']:.2f} s")
    if metrics.get("done_reason"):
        parts.append(f"done: {plain(metrics['done_reason'])}")  # the server's word
    return " · ".join(parts)


@dataclass(frozen=True)
class StreamTiming:
    """When one reply's request was sent, its first token arrived and its stream ended."""

    label: str
    sent: float
    first_token: float | None
    ended: float


Overlap = Literal["overlapped", "one at a time", "unknown"]


def overlap_verdict(timings: Sequence[StreamTiming]) -> tuple[Overlap, float]:
    """Whether replies were generated at the same time, and for how many seconds they were.

    "one at a time" when each later reply's first token came only as the earlier reply's
    stream ended: the server queued the second request. The two events are a few microseconds
    apart then and land in either order, so "as it ended" allows a quarter of the earlier
    reply's streaming time, at most 50 ms. "unknown" when a reply produced no token.
    """
    if len(timings) < 2 or any(t.first_token is None for t in timings):
        return "unknown", 0.0
    ordered = sorted(timings, key=lambda t: t.first_token or 0.0)

    def queued(earlier: StreamTiming, later: StreamTiming) -> bool:
        slack = min(0.05, 0.25 * max(earlier.ended - (earlier.first_token or 0.0), 0.0))
        return (later.first_token or 0.0) >= earlier.ended - slack

    serial = all(queued(a, b) for a, b in itertools.pairwise(ordered))
    shared = min(t.ended for t in timings) - max(t.first_token or 0.0 for t in timings)
    return ("one at a time" if serial else "overlapped"), max(shared, 0.0)


# --------------------------------------------------------------------------- export


@dataclass(frozen=True)
class TranscriptExport:
    """One transcript to export: which model at which endpoint, and its messages."""

    label: str
    tag: str
    host: str
    messages: Sequence[Message]


def transcript_markdown(exports: Iterable[TranscriptExport]) -> str:
    """A readable Markdown transcript; model text only inside fences, metrics per reply."""
    out = ["# quantviz chat transcript", "", f"Exported {utc_now()}", ""]
    for ex in exports:
        endpoint = code_span(redact_host(ex.host))
        out += [f"## {plain(ex.label)} · {code_span(ex.tag)}", "", f"Endpoint: {endpoint}", ""]
        if not ex.messages:
            out += ["(no messages)", ""]
        for m in ex.messages:
            tag = code_span(m.tag or ex.tag)
            who = "You" if m.role == "user" else f"{plain(m.label or ex.label)} ({tag})"
            out += [f"**{who}** · {m.created_at}", "", code_fence(m.content, "text"), ""]
            if m.role == "assistant":
                line = metrics_line(m.metrics)
                if line:
                    out += [f"*{line}*", ""]
                if m.options:
                    opts = ", ".join(f"{k} {v}" for k, v in m.options.items())
                    out += [f"*options: {opts}*", ""]
                if m.interrupted:
                    out += [f"**{status_text(m)}**", ""]
    return "\n".join(out).rstrip() + "\n"


def transcript_json(exports: Iterable[TranscriptExport]) -> str:
    """The transcripts as JSON: every message with its status, options and metrics."""
    data = {
        "format": "quantviz-transcript/1",
        "exported_at": utc_now(),
        "transcripts": [
            {
                "label": ex.label,
                "tag": ex.tag,
                "endpoint": redact_host(ex.host),
                "messages": [m.to_dict() for m in ex.messages],
            }
            for ex in exports
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


def status_text(message: Message) -> str:
    """How an unfinished reply ended, for the transcript."""
    if message.status == "stopped":
        return "Stopped early: the text above is what arrived before the reply was stopped."
    if message.status == "interrupted":
        return "Interrupted: the page reran while this reply streamed; the rest was not kept."
    if message.status == "error":
        return f"Interrupted by an error: {plain(message.error or 'the request failed')}"
    if message.status == "capped":
        return f"Cut short: {plain(message.error or 'the reply reached the length limit')}"
    return ""
