"""Typed measurements of this session: reply speeds and the last probe run's scores.

The chat and the quality probe append what they measured as typed values; the deployment
decision reads them here, instead of walking the evidence log's JSON payloads for fields that
happen to be called `tokens_per_s`. The evidence log still keeps its records (reports and the
class board read those); this is the in-session view for widgets.

A session holds at most `MAX_SPEEDS` speed samples (the oldest go first): one student's chat
cannot grow the shared process without bound.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from quantviz.ollama.client import ChatMetrics, normalize_tag

SpeedSource = Literal["chat", "side_by_side", "probe"]
MAX_SPEEDS = 500


@dataclass(frozen=True)
class SpeedSample:
    """One reply's generation speed, as the server reported it (eval_count / eval_duration)."""

    tag: str
    label: str
    tokens_per_s: float
    ttft_s: float | None  # request sent -> first token, measured by the app
    source: SpeedSource
    output_tokens: int | None = None


@dataclass(frozen=True)
class ProbeScore:
    """One tag's checks in the last probe run: passed of answered (both tags finished)."""

    tag: str
    label: str
    passed: int
    total: int


@dataclass(frozen=True)
class MeasuredSpeed:
    """What the decision uses for one tag: a mean speed and where it was measured."""

    tokens_per_s: float
    samples: int
    source: SpeedSource

    @property
    def text(self) -> str:
        """'chat, mean of 2' or 'quality probe answers', for the decision's table."""
        if self.source == "probe":
            return "quality probe answers"
        return f"chat, mean of {self.samples}"


def speed_sample(
    metrics: ChatMetrics | None, tag: str, label: str, source: SpeedSource
) -> SpeedSample | None:
    """A reply's speed sample, or None when the server reported no speed (a stopped reply)."""
    if metrics is None or not metrics.tokens_per_s or metrics.tokens_per_s <= 0:
        return None
    return SpeedSample(
        tag, label, metrics.tokens_per_s, metrics.ttft_s, source, metrics.output_tokens
    )


class Measurements:
    """One session's typed measurements (kept in its `st.session_state` by the UI)."""

    def __init__(self, max_speeds: int = MAX_SPEEDS) -> None:
        self._speeds: deque[SpeedSample] = deque(maxlen=max_speeds)
        self._scores: dict[str, ProbeScore] = {}

    def add_speed(self, sample: SpeedSample | None) -> None:
        """Keep a chat reply's speed (None, a reply without one, is ignored)."""
        if sample is not None and sample.source != "probe":
            self._speeds.append(sample)

    def record_probe(self, scores: Iterable[ProbeScore], speeds: Iterable[SpeedSample]) -> None:
        """The probe run that just ended replaces the previous run's scores and speeds."""
        self._scores = {normalize_tag(s.tag): s for s in scores}
        kept = [s for s in self._speeds if s.source != "probe"]
        self._speeds.clear()
        self._speeds.extend([*kept, *(s for s in speeds if s.source == "probe")])

    @property
    def speeds(self) -> tuple[SpeedSample, ...]:
        return tuple(self._speeds)

    def probe_score(self, tag: str) -> ProbeScore | None:
        return self._scores.get(normalize_tag(tag))

    def speed(self, tag: str) -> MeasuredSpeed | None:
        """The tag's mean speed in the chat (single and side-by-side replies), else in the last
        probe run's answers; None when neither measured it."""
        wanted = normalize_tag(tag)
        mine = [s for s in self._speeds if normalize_tag(s.tag) == wanted]
        for sources in (("chat", "side_by_side"), ("probe",)):
            values = [s.tokens_per_s for s in mine if s.source in sources]
            if values:
                source: SpeedSource = "probe" if sources == ("probe",) else "chat"
                return MeasuredSpeed(sum(values) / len(values), len(values), source)
        return None

    def speeds_of(self, tags: Iterable[str]) -> Mapping[str, MeasuredSpeed]:
        """tag -> its measured speed, for the tags that have one."""
        return {tag: speed for tag in tags if (speed := self.speed(tag)) is not None}
