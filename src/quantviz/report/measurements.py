"""Typed measurements of this session, and the texts that pre-fill a lab's record fields.

The widgets add what they measured as typed values: the chat and the quality probe their speeds
and scores, the storage widget its sizes, the metadata widget its comparison, the deployment
decision its fit and the student's own choice. The decision reads speeds and scores here instead
of walking the evidence log's JSON payloads for fields that happen to be called `tokens_per_s`;
the lab's record fields read `MEASURED` (a `data-measured="storage.ratio"` in the lab names one
of its keys), never a widget. The evidence log still keeps its records (reports and the class
board read those); this is the in-session view.

A session holds at most `MAX_SPEEDS` speed samples (the oldest go first) and one of each other
measurement (the latest): one student's chat cannot grow the shared process without bound.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from quantviz.decision.memory import FitResult
from quantviz.decision.storage import Savings, StorageRow
from quantviz.ollama.client import ChatMetrics, normalize_tag
from quantviz.ollama.metadata import ComparedField, TypeShare
from quantviz.probe.binomial import can_tell_apart, interval_text
from quantviz.units import format_bytes, format_tokens

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


@dataclass(frozen=True)
class StorageMeasurement:
    """Objective 3: both tags' sizes and what the smaller saves (`decision.storage`)."""

    rows: tuple[StorageRow, ...]
    savings: Savings | None
    recipe_ratio: float | None = None  # the ratio llama.cpp's recipes predict for the tensors


@dataclass(frozen=True)
class ClaimCheck:
    """One of the lab's claims checked against the metadata: 'verified', 'refuted', or
    'not checkable' when a side did not report the value."""

    claim: str
    row: ComparedField

    @property
    def verdict(self) -> str:
        if self.row.same is None:
            return "not checkable"
        return "verified" if self.row.same else "refuted"


@dataclass(frozen=True)
class TagMetadata:
    """One tag's quantization as the metadata reports it, and its tensor type mix."""

    label: str
    tag: str
    quantization_level: str | None
    file_type: str | None  # as the comparison shows it: '15 (Q4_K_M)'
    type_mix: tuple[TypeShare, ...]
    outside_main_type: Mapping[str, tuple[str, ...]]  # type -> tensor names (Q6_K in a Q4 file)


@dataclass(frozen=True)
class MetadataMeasurement:
    """Objective 4: the claims the comparison checked and each tag's quantization and mix."""

    tags: tuple[TagMetadata, ...]
    claims: tuple[ClaimCheck, ...]


@dataclass(frozen=True)
class FitMeasurement:
    """Objective 6: the budget and context the student set and each tag's fit at them."""

    budget_bytes: int
    context: int
    cache_type: str
    overhead_bytes: int
    parallel: int
    fits: tuple[FitResult, ...]


@dataclass(frozen=True)
class StudentDecision:
    """The student's own choice in the decision widget, and the widget's reading beside it."""

    choice: str  # the label chosen, or NEITHER
    tag: str | None  # None for NEITHER
    reason: str
    reading: str  # the widget's reading of the figures, shown after the choice
    disagreements: tuple[str, ...]


NEITHER = "neither"

PredictionName = Literal["weight", "grid"]


@dataclass(frozen=True)
class Prediction:
    """An explorer's "predict, then look" answer: the student's guess beside what it computed."""

    question: str
    setting: str  # the explorer's values the answer depends on ("seed 7")
    guess: str  # as the student typed it (untrusted)
    observed: str  # computed by the core when the student revealed it


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
        self.storage: StorageMeasurement | None = None
        self.metadata: MetadataMeasurement | None = None
        self.fit: FitMeasurement | None = None
        self.decision: StudentDecision | None = None
        self.predictions: dict[PredictionName, Prediction] = {}

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

    @property
    def probe_scores(self) -> tuple[ProbeScore, ...]:
        """The last probe run's scores, in the order the run listed its tags."""
        return tuple(self._scores.values())

    def record_storage(self, measurement: StorageMeasurement) -> None:
        self.storage = measurement

    def record_metadata(self, measurement: MetadataMeasurement) -> None:
        self.metadata = measurement

    def record_fit(self, measurement: FitMeasurement) -> None:
        self.fit = measurement

    def record_decision(self, decision: StudentDecision | None) -> None:
        self.decision = decision

    def record_prediction(self, name: PredictionName, prediction: Prediction) -> None:
        """The explorer's latest revealed prediction replaces its previous one."""
        self.predictions[name] = prediction

    def latest_speeds(self) -> tuple[tuple[SpeedSample, str], ...]:
        """Per tag, the speed of its latest side-by-side reply (else its latest chat reply),
        with where it came from: what 'from one side-by-side run' asks the student to record."""
        out: dict[str, tuple[SpeedSample, str]] = {}
        for wanted, where in (("chat", "single chat reply"), ("side_by_side", "side by side")):
            for sample in self._speeds:
                if sample.source == wanted:
                    out[normalize_tag(sample.tag)] = (sample, where)
        return tuple(out.values())

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


# --------------------------------------------------------------------------------------------
# What pre-fills a record field: `data-measured="KEY ..."` in the lab names these keys


@dataclass(frozen=True)
class Measured:
    """One measured value a record field can show: what it is, and how to read it (None when
    this session has not measured it yet)."""

    label: str
    read: Callable[[Measurements], str | None]


def _join(parts: Sequence[str]) -> str | None:
    return "; ".join(parts) if parts else None


def _storage(
    read: Callable[[StorageMeasurement], str | None],
) -> Callable[[Measurements], str | None]:
    return lambda m: read(m.storage) if m.storage is not None else None


def _sizes(s: StorageMeasurement) -> str | None:
    return _join([f"{r.label} {format_bytes(r.size)} ({r.size:,} bytes)" for r in s.rows])


def _bytes_saved(s: StorageMeasurement) -> str | None:
    if s.savings is None:
        return None
    v = s.savings
    return (
        f"{v.bytes_saved:,} bytes ({format_bytes(v.bytes_saved)}), "
        f"size({v.larger.label}) − size({v.smaller.label})"
    )


def _percent_saved(s: StorageMeasurement) -> str | None:
    v = s.savings
    if v is None or v.percent_saved is None:
        return None
    return f"{v.percent_saved:.1f} % of {v.larger.label}"


def _ratio(s: StorageMeasurement) -> str | None:
    v = s.savings
    if v is None or v.size_ratio is None:
        return None
    return f"{v.size_ratio:.3f} (size({v.smaller.label}) / size({v.larger.label}))"


def _parameters(s: StorageMeasurement) -> str | None:
    counts = {r.parameter_count for r in s.rows if r.parameter_count}
    if not counts:
        return None
    if len(counts) == 1:
        return f"{counts.pop():,} (general.parameter_count)"
    return _join([f"{r.label} {r.parameter_count:,}" for r in s.rows if r.parameter_count])


def _bits_per_weight(s: StorageMeasurement) -> str | None:
    parts = [
        f"{r.label} {bpw:.2f} bits per weight"
        for r in s.rows
        if (bpw := r.bits_per_weight) is not None
    ]
    return _join(parts)


def _recipe_ratio(s: StorageMeasurement) -> str | None:
    return None if s.recipe_ratio is None else f"{s.recipe_ratio:.3f} (the recipes' prediction)"


def _metadata(
    read: Callable[[MetadataMeasurement], str | None],
) -> Callable[[Measurements], str | None]:
    return lambda m: read(m.metadata) if m.metadata is not None else None


def _claims(md: MetadataMeasurement) -> str | None:
    return _join(
        [f"{c.row.label} {c.row.a.display} / {c.row.b.display}: {c.verdict}" for c in md.claims]
    )


def _quantization(md: MetadataMeasurement) -> str | None:
    return _join(
        [
            f"{t.label} {t.quantization_level or 'not reported'}, file type "
            f"{t.file_type or 'not reported'}"
            for t in md.tags
        ]
    )


def _type_mix(md: MetadataMeasurement) -> str | None:
    parts = []
    for t in md.tags:
        shares = ", ".join(
            f"{s.type} {s.count} tensors"
            + (
                f" ({format_bytes(s.n_bytes)}, {s.n_bytes:,} bytes)"
                if s.n_bytes is not None
                else ""
            )
            for s in t.type_mix
        )
        if shares:
            parts.append(f"{t.label}: {shares}")
    return _join(parts)


MAX_NAMES_CHARS = 1200  # a list of tensor names in a field: the rest is counted, not listed


def _outside_main_type(md: MetadataMeasurement) -> str | None:
    parts = []
    for t in md.tags:
        for qtype, names in t.outside_main_type.items():
            shown: list[str] = []
            for name in names:
                if sum(len(n) + 2 for n in shown) + len(name) > MAX_NAMES_CHARS:
                    break
                shown.append(name)
            more = len(names) - len(shown)
            parts.append(
                f"{t.label}: {len(names)} {qtype} tensors: {', '.join(shown)}"
                + (f" and {more} more" if more else "")
            )
    return _join(parts)


def _chat_speed(m: Measurements) -> str | None:
    parts = []
    for sample, where in m.latest_speeds():
        first = f", first token after {sample.ttft_s:.2f} s" if sample.ttft_s is not None else ""
        parts.append(f"{sample.label} {sample.tokens_per_s:.1f} tokens/s{first} ({where})")
    return _join(parts)


def probe_reading(scores: Sequence[ProbeScore]) -> str | None:
    """'Q4 6 of 8 (95 % interval 41–93 %), Q6 7 of 8 (…): the probe cannot tell them apart'."""
    if not scores:
        return None
    text = ", ".join(
        f"{s.label} {s.passed} of {s.total} (95 % interval {interval_text(s.passed, s.total)})"
        for s in scores
    )
    if len(scores) == 2:
        a, b = scores
        apart = can_tell_apart((a.passed, a.total), (b.passed, b.total))
        text += (
            ": the intervals do not overlap, the difference is more than noise"
            if apart
            else ": the intervals overlap, so the probe cannot tell them apart"
        )
    return text


def _probe_passes(m: Measurements) -> str | None:
    return probe_reading(m.probe_scores)


def _prediction(name: PredictionName) -> Callable[[Measurements], str | None]:
    def read(m: Measurements) -> str | None:
        p = m.predictions.get(name)
        if p is None:
            return None
        at = f" ({p.setting})" if p.setting else ""
        return f"your guess {p.guess}; observed {p.observed}{at}"

    return read


def _budget(m: Measurements) -> str | None:
    f = m.fit
    if f is None:
        return None
    slots = f", {f.parallel} parallel requests" if f.parallel > 1 else ""
    return (
        f"{format_bytes(f.budget_bytes)} budget, {format_tokens(f.context)} tokens of context "
        f"({f.cache_type} KV cache, {format_bytes(f.overhead_bytes)} runtime overhead{slots})"
    )


def _fit(m: Measurements) -> str | None:
    if m.fit is None:
        return None
    parts = []
    for r in m.fit.fits:
        if r.fits:
            parts.append(
                f"{r.label} fits ({format_bytes(r.total_bytes)} of {format_bytes(r.budget_bytes)})"
            )
        else:
            parts.append(f"{r.label} does not fit (needs {format_bytes(r.shortfall_bytes)} more)")
    return _join(parts)


def _choice(m: Measurements) -> str | None:
    d = m.decision
    if d is None:
        return None
    chose = "neither tag" if d.choice == NEITHER else d.choice
    text = f"You chose {chose}: {d.reason} The widget's reading: {d.reading}"
    if d.disagreements:
        text += " Where it differs from yours: " + " ".join(d.disagreements)
    return text


MEASURED: Mapping[str, Measured] = {
    "explorer.weight_prediction": Measured("Prediction", _prediction("weight")),
    "explorer.grid_prediction": Measured("Prediction", _prediction("grid")),
    "storage.sizes": Measured("Sizes", _storage(_sizes)),
    "storage.bytes_saved": Measured("Bytes saved", _storage(_bytes_saved)),
    "storage.percent_saved": Measured("Percent saved", _storage(_percent_saved)),
    "storage.ratio": Measured("Size ratio", _storage(_ratio)),
    "storage.parameter_count": Measured("Parameter count", _storage(_parameters)),
    "storage.bits_per_weight": Measured("Bits per weight", _storage(_bits_per_weight)),
    "storage.recipe_ratio": Measured("Ratio the recipe predicts", _storage(_recipe_ratio)),
    "metadata.claims": Measured("Claims", _metadata(_claims)),
    "metadata.quantization": Measured("Quantization", _metadata(_quantization)),
    "metadata.type_mix": Measured("Tensors by type", _metadata(_type_mix)),
    "metadata.outside_main_type": Measured(
        "Tensors outside the file's main type", _metadata(_outside_main_type)
    ),
    "chat.speed": Measured("Speed", _chat_speed),
    "probe.passes": Measured("Probe passes", _probe_passes),
    "decision.budget": Measured("Budget", _budget),
    "decision.fit": Measured("Fit", _fit),
    "decision.choice": Measured("Decision", _choice),
}


def measured_text(measurements: Measurements, keys: Iterable[str]) -> str | None:
    """What the app measured for a record field's keys, one line each ('Size ratio: 0.914 …');
    None when none of them is measured yet. An unknown key raises KeyError (the lab parser
    refuses one, so it can only be a programming error)."""
    lines = []
    for key in keys:
        measured = MEASURED[key]
        value = measured.read(measurements)
        if value is not None:
            lines.append(f"{measured.label}: {value}")
    return "\n".join(lines) if lines else None
