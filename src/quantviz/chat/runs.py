"""Chat requests running in reader threads, and the generators the chat widget renders from.

No streamlit here: the widget draws `ReplyRun.display_updates()` into a placeholder, and the
side-by-side view renders from `pump()`; the benchmark drives the same code.

Why a reader thread per reply, rather than iterating `chat_stream` on the script thread:

* the script thread wakes at least every `tick` seconds even while the model is silent, so the
  widget can show how long it has waited, and a Stop (or any rerun) takes effect at once:
  Streamlit handles those only when the script sends something to the browser;
* tokens that arrive within 40 ms are joined into one update: every update re-sends the
  whole reply so far, and one per token cost a fast model's reply ~1 ms of server CPU a token;
  an update also parses the whole reply again (`StreamFilter`), so the interval grows to four
  times what the last update cost: a long reply is redrawn less often, never more than a fifth
  of the time;
* two replies stream at the same time with one script thread drawing both columns.

`cancel()` makes the reader close its stream at the next event it receives, which closes the
connection, and Ollama stops generating. A reply that reaches `max_chars` is cut there the same
way (`capped`): the text so far is kept, nothing past the limit is held.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any

from quantviz.chat.transcript import StreamFilter, StreamTiming
from quantviz.ollama.client import (
    CHAT_TIMEOUT,
    ChatEvent,
    ChatMetrics,
    ChatReply,
    Endpoint,
    TokenChunk,
    TokenLogprob,
    chat_stream,
)
from quantviz.ollama.errors import OllamaError

TICK_S = 0.2  # longest the script thread waits without a chance to update the page
MIN_UPDATE_S = 0.04  # at most 25 redraws a second of a streaming reply (see bench_chat.py)
StreamFn = Callable[..., Generator[ChatEvent, None, None]]  # closable: chat_stream

_END = object()


class ReplyRun:
    """One chat request streamed by a daemon thread into a queue.

    The reader thread owns the stream; the consumer (the script thread) owns everything
    else. `text` is the raw reply so far as the consumer has taken it from the queue;
    `display_text` is the same as safe Markdown (`StreamFilter`: what the browser may be sent).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        tag: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        options: Mapping[str, Any] | None = None,
        timeout: float = CHAT_TIMEOUT,
        label: str = "",
        events: queue.SimpleQueue[tuple[ReplyRun, Any]] | None = None,
        stream_fn: StreamFn = chat_stream,
        max_chars: int | None = None,
        logprobs: bool = False,
    ) -> None:
        self.label = label or tag
        self.logprobs = logprobs  # ask for the tokens' log-probabilities (their text is kept)
        self.tokens: list[str] = []  # the reply's tokens as the server sent them, if it did
        self.tag = tag
        self.max_chars = max_chars
        self.capped = False  # the reply reached max_chars and was cut there
        self._chars = 0
        self._events: queue.SimpleQueue[tuple[ReplyRun, Any]] = events or queue.SimpleQueue()
        self._cancel = threading.Event()
        self._filter = StreamFilter()
        self.metrics: ChatMetrics | None = None
        self.error: OllamaError | None = None
        self.done = False
        self.sent = time.perf_counter()
        self.first_token: float | None = None  # reader-side arrival times (perf_counter)
        self.ended: float | None = None
        self._thread = threading.Thread(
            target=self._read,
            args=(stream_fn, endpoint, tag, [dict(m) for m in messages], options, timeout),
            name=f"quantviz-chat-{tag}",
            daemon=True,
        )
        self._thread.start()

    # -- reader thread

    def _read(
        self,
        stream_fn: StreamFn,
        endpoint: Endpoint,
        tag: str,
        messages: list[dict[str, Any]],
        options: Mapping[str, Any] | None,
        timeout: float,
    ) -> None:
        extra: dict[str, Any] = {"logprobs": True} if self.logprobs else {}
        stream = stream_fn(endpoint, tag, messages, options=options, timeout=timeout, **extra)
        try:
            for event in stream:
                if self._cancel.is_set():
                    break
                if self.first_token is None and isinstance(event, TokenChunk) and event.text:
                    self.first_token = time.perf_counter()
                self._events.put((self, event))
        except OllamaError as exc:
            self._events.put((self, exc))
        except Exception as exc:  # a bug or an unexpected client error: still end the run
            self._events.put((self, OllamaError("stream", f"The reply failed: {exc}")))
        finally:
            stream.close()  # closes the connection now, so a stopped generation ends
            self.ended = time.perf_counter()
            self._events.put((self, _END))

    # -- consumer side

    def cancel(self) -> None:
        """Ask the reader to close the stream at its next event (Stop, rerun, page left)."""
        self._cancel.set()

    def take(self, event: Any) -> bool:
        """Apply one event from the queue; True when it added reply text."""
        if isinstance(event, TokenChunk):
            if self.capped:
                return False  # queued before the reader saw the cancel
            text = event.text
            if self.max_chars is not None and self._chars + len(text) > self.max_chars:
                text = text[: self.max_chars - self._chars]
                self.capped = True
                self.cancel()
            self._chars += len(text)
            self._filter.feed(text)
            if not self.capped:  # a cut chunk's tokens no longer match the text kept
                self.tokens.extend(t.token for t in event.logprobs)
            return bool(text)
        if isinstance(event, ChatMetrics):
            self.metrics = event
        elif isinstance(event, OllamaError):
            self.error = event
        else:  # _END
            self.done = True
        return False

    def drain(self) -> None:
        """Take whatever is already queued, without waiting (after a cancel)."""
        while True:
            try:
                run, event = self._events.get_nowait()
            except queue.Empty:
                return
            run.take(event)

    @property
    def text(self) -> str:
        return self._filter.text

    @property
    def display_text(self) -> str:
        return self._filter.display()

    @property
    def waited(self) -> float:
        return time.perf_counter() - self.sent

    @property
    def timing(self) -> StreamTiming:
        return StreamTiming(
            self.label, self.sent, self.first_token, self.ended or time.perf_counter()
        )

    def display_updates(
        self,
        on_tick: Callable[[ReplyRun], None] | None = None,
        tick: float = TICK_S,
        min_interval: float = MIN_UPDATE_S,
    ) -> Iterator[str]:
        """The reply's display text each time it changed, until the stream ends.

        Each item is the whole reply so far as safe Markdown, for `placeholder.markdown`. The
        first text is yielded at once; after that at most one update per `min_interval` (or
        four times what the last update cost, the consumer's redraw included). `on_tick(run)`
        is called whenever `tick` seconds pass with nothing new (the widget updates its
        waiting line there, which also lets Streamlit act on a Stop). Failures end the
        iteration; see `error`.
        """
        for changed in pump([self], tick, min_interval):
            if changed:
                yield self.display_text
            elif on_tick is not None:
                on_tick(self)


def start_runs(
    endpoint: Endpoint,
    requests: Sequence[tuple[str, str, Sequence[Mapping[str, Any]]]],
    *,
    options: Mapping[str, Any] | None = None,
    timeout: float = CHAT_TIMEOUT,
    stream_fn: StreamFn = chat_stream,
    max_chars: int | None = None,
    logprobs: bool = False,
) -> list[ReplyRun]:
    """Start one run per (label, tag, messages), all feeding one queue, at the same moment."""
    events: queue.SimpleQueue[tuple[ReplyRun, Any]] = queue.SimpleQueue()
    return [
        ReplyRun(
            endpoint,
            tag,
            messages,
            options=options,
            timeout=timeout,
            label=label,
            events=events,
            stream_fn=stream_fn,
            max_chars=max_chars,
            logprobs=logprobs,
        )
        for label, tag, messages in requests
    ]


def collect_reply(
    endpoint: Endpoint,
    tag: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    max_chars: int,
    stream_fn: StreamFn = chat_stream,
    **kwargs: Any,
) -> ChatReply:
    """A whole reply (text, logprobs, metrics), never holding more than `max_chars` of it.

    A longer reply closes the stream at the limit (the server stops generating) and raises
    OllamaError "too_large": an answer cut short is not one to score.
    """
    text: list[str] = []
    logprobs: list[TokenLogprob] = []
    chars = 0
    stream = stream_fn(endpoint, tag, messages, **kwargs)
    try:
        for event in stream:
            if isinstance(event, ChatMetrics):
                return ChatReply("".join(text), tuple(logprobs), event)
            chars += len(event.text)
            if chars > max_chars:
                raise OllamaError(
                    "too_large",
                    f"The reply passed this class's limit of {max_chars:,} characters and was "
                    "stopped there.",
                )
            text.append(event.text)
            logprobs.extend(event.logprobs)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    raise OllamaError("stream", f"The reply from {tag} ended without metrics.")


def pump(
    runs: Sequence[ReplyRun], tick: float = TICK_S, min_interval: float = MIN_UPDATE_S
) -> Iterator[set[ReplyRun]]:
    """Runs sharing one queue: yields the set of runs whose text changed, or an empty set after
    `tick` seconds without new text, until every run is done.

    The first change is yielded at once; later ones at most once per `min_interval`, or per
    four times what the consumer spent on the last one (redrawing a long reply costs more),
    whichever is longer.
    """
    if not runs:
        return
    events = runs[0]._events
    changed: set[ReplyRun] = set()
    due = 0.0
    while not all(r.done for r in runs):
        wait = max(due - time.perf_counter(), 0.0) if changed else tick
        try:
            run, event = events.get(timeout=wait) if wait else events.get_nowait()
        except queue.Empty:
            if not changed:
                yield set()
                continue
        else:
            if run.take(event):
                changed.add(run)
            if not changed or time.perf_counter() < due:
                continue
        started = time.perf_counter()
        yield changed
        changed = set()
        spent = time.perf_counter() - started
        due = time.perf_counter() + max(min_interval, 4 * spent)
    if changed:
        yield changed
