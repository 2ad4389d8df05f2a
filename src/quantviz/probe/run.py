"""Probe runs: every probe of a battery asked of every tag, checked, compared and summarised.

The runner never talks to Ollama itself: it calls `ask(tag, prompt) -> (text, logprobs | None,
metrics | None)`, checks `cancel` before every request and keeps every finished answer.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from quantviz.ollama.client import TokenLogprob, metrics_dict
from quantviz.probe.battery import Probe
from quantviz.probe.binomial import can_tell_apart, interval_text
from quantviz.probe.checks import CheckResult, run_check
from quantviz.probe.compare import Comparison, Logprobs, compare_outputs, normalize_logprobs
from quantviz.report.measurements import ProbeScore, SpeedSample

# Deterministic generation for a fair comparison; the UI passes these as Ollama `options`.
PROBE_OPTIONS: dict[str, Any] = {"temperature": 0, "seed": 42}
DEFAULT_TOP_LOGPROBS = 5

AskResult = tuple[str, Logprobs | None, Any]
AskFn = Callable[[str, str], AskResult]
CancelSignal = threading.Event | Callable[[], bool] | None


def check_answer(probe: Probe, text: str) -> CheckResult:
    return run_check(probe.check, text)


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class TagResult:
    """One tag's answer to one probe."""

    tag: str
    output: str
    check: CheckResult
    metrics: dict[str, Any] | None = None
    logprobs: list[TokenLogprob] | None = None
    elapsed_s: float | None = None
    error: str | None = None

    @property
    def tokens_per_s(self) -> float | None:
        value = (self.metrics or {}).get("tokens_per_s")
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "output": self.output,
            "passed": self.check.passed,
            "reason": self.check.reason,
            "metrics": self.metrics,
            "logprobs": None
            if self.logprobs is None
            else [
                {
                    "token": t.token,
                    "logprob": t.logprob,
                    "top_logprobs": [{"token": a.token, "logprob": a.logprob} for a in t.top],
                }
                for t in self.logprobs
            ],
            "elapsed_s": self.elapsed_s,
            "error": self.error,
        }


@dataclass
class ProbeResult:
    """Every tag's answer to one probe and, once two tags answered, their comparison."""

    probe: Probe
    results: dict[str, TagResult] = field(default_factory=dict)
    comparison: Comparison | None = None
    complete: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "probe": self.probe.to_dict(),
            "results": {tag: r.to_dict() for tag, r in self.results.items()},
            "comparison": None if self.comparison is None else dataclasses.asdict(self.comparison),
            "complete": self.complete,
        }


@dataclass(frozen=True)
class ProbeSummary:
    tags: tuple[str, ...]
    completed: int
    total: int
    cancelled: bool
    passes: dict[str, int]
    answered: dict[str, int]
    passes_by_category: dict[str, dict[str, int]]
    answered_by_category: dict[str, dict[str, int]]
    mean_similarity: float | None
    identical: int
    logprobs_supported: bool | None  # None: nothing compared yet
    mean_abs_logprob_diff: float | None
    mean_topk_jaccard: float | None
    mean_tokens_per_s: dict[str, float | None]
    errors: int

    @property
    def logprob_text(self) -> str:
        """One line on the logprob figures, or why there are none."""
        if self.logprobs_supported is None:
            return "logprobs: nothing compared yet"
        if not self.logprobs_supported:
            return "logprobs: none returned (not supported by this endpoint, or not sent)"
        parts = []
        if self.mean_abs_logprob_diff is not None:
            parts.append(f"mean |Δ logprob| {self.mean_abs_logprob_diff:.3f} over agreed tokens")
        if self.mean_topk_jaccard is not None:
            parts.append(f"top-k overlap (Jaccard) {self.mean_topk_jaccard:.2f}")
        return "logprobs: " + ("; ".join(parts) if parts else "no agreed tokens to compare")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["logprob_text"] = self.logprob_text
        return data


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class ProbeRun:
    """A probe run in progress or finished; results only ever grow."""

    tags: tuple[str, ...]
    probes: tuple[Probe, ...]
    results: list[ProbeResult] = field(default_factory=list)
    cancelled: bool = False
    finished: bool = False

    @property
    def total(self) -> int:
        return len(self.probes)

    @property
    def completed(self) -> int:
        return sum(1 for r in self.results if r.complete)

    def summary(self) -> ProbeSummary:
        passes = {t: 0 for t in self.tags}
        answered = {t: 0 for t in self.tags}
        by_cat: dict[str, dict[str, int]] = {}
        ans_cat: dict[str, dict[str, int]] = {}
        speeds: dict[str, list[float]] = {t: [] for t in self.tags}
        errors = 0
        for res in self.results:
            cat = res.probe.category
            by_cat.setdefault(cat, {t: 0 for t in self.tags})
            ans_cat.setdefault(cat, {t: 0 for t in self.tags})
            for tag, tr in res.results.items():
                answered[tag] += 1
                ans_cat[cat][tag] += 1
                if tr.check.passed:
                    passes[tag] += 1
                    by_cat[cat][tag] += 1
                if tr.error:
                    errors += 1
                if tr.tokens_per_s is not None:
                    speeds[tag].append(tr.tokens_per_s)
        comps = [r.comparison for r in self.results if r.comparison is not None]
        with_lp = [c for c in comps if c.token_source == "logprobs"]
        supported: bool | None = None if not comps else bool(with_lp)
        return ProbeSummary(
            tags=self.tags,
            completed=self.completed,
            total=self.total,
            cancelled=self.cancelled,
            passes=passes,
            answered=answered,
            passes_by_category=by_cat,
            answered_by_category=ans_cat,
            mean_similarity=_mean([c.similarity for c in comps]),
            identical=sum(1 for c in comps if c.identical),
            logprobs_supported=supported,
            mean_abs_logprob_diff=_mean(
                [c.mean_abs_logprob_diff for c in with_lp if c.mean_abs_logprob_diff is not None]
            ),
            mean_topk_jaccard=_mean(
                [c.topk_jaccard for c in with_lp if c.topk_jaccard is not None]
            ),
            mean_tokens_per_s={t: _mean(v) for t, v in speeds.items()},
            errors=errors,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tags": list(self.tags),
            "probe_ids": [p.id for p in self.probes],
            "total": self.total,
            "completed": self.completed,
            "cancelled": self.cancelled,
            "finished": self.finished,
            "results": [r.to_dict() for r in self.results],
            "summary": self.summary().to_dict(),
        }


@dataclass(frozen=True)
class ProbeProgress:
    """One step of a run: `phase` is asking, answered, cancelled or finished."""

    phase: Literal["asking", "answered", "cancelled", "finished"]
    step: int  # requests finished so far
    steps: int  # requests in the whole run (probes × tags)
    probe_id: str | None
    tag: str | None
    run: ProbeRun
    message: str

    @property
    def fraction(self) -> float:
        return self.step / self.steps if self.steps else 1.0


def _is_cancelled(cancel: CancelSignal) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def run_probes(
    battery: Sequence[Probe],
    tags: Sequence[str],
    ask: AskFn,
    *,
    cancel: CancelSignal = None,
    run: ProbeRun | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[ProbeProgress]:
    """Ask every probe of the battery to every tag, yielding progress as it goes.

    `cancel` (a `threading.Event` or a callable returning True to stop) is checked before every
    request; finished answers stay in `progress.run`, a probe cut between its tags is kept with
    `complete=False`. An exception from `ask` is recorded as a failed answer with its message
    and the run goes on. The run object is the same in every progress event.
    """
    if not tags:
        raise ValueError("run_probes needs at least one tag")
    if run is None:
        run = ProbeRun(tags=tuple(tags), probes=tuple(battery))
    steps = len(battery) * len(tags)
    step = 0
    for probe in battery:
        result: ProbeResult | None = None
        for tag in tags:
            if _is_cancelled(cancel):
                run.cancelled = True
                yield ProbeProgress(
                    "cancelled",
                    step,
                    steps,
                    probe.id,
                    tag,
                    run,
                    f"cancelled after {run.completed} of {run.total} probes",
                )
                return
            yield ProbeProgress(
                "asking", step, steps, probe.id, tag, run, f"asking {tag}: {probe.id}"
            )
            start = clock()
            try:
                text, raw_lp, raw_metrics = ask(tag, probe.prompt)
                tag_result = TagResult(
                    tag=tag,
                    output=text,
                    check=check_answer(probe, text),
                    metrics=metrics_dict(raw_metrics),
                    logprobs=normalize_logprobs(raw_lp),
                    elapsed_s=clock() - start,
                )
            except Exception as err:  # the endpoint failing must not lose earlier answers
                message = f"{type(err).__name__}: {err}"
                tag_result = TagResult(
                    tag=tag,
                    output="",
                    check=CheckResult(False, f"no answer ({message})"),
                    elapsed_s=clock() - start,
                    error=message,
                )
            if result is None:
                result = ProbeResult(probe)
                run.results.append(result)
            result.results[tag] = tag_result
            step += 1
            verdict = "pass" if tag_result.check.passed else "fail"
            yield ProbeProgress(
                "answered", step, steps, probe.id, tag, run, f"{tag}: {probe.id} {verdict}"
            )
        assert result is not None
        result.complete = True
        if len(tags) >= 2:
            a, b = result.results[tags[0]], result.results[tags[1]]
            if a.error is None and b.error is None:
                result.comparison = compare_outputs(a.output, b.output, a.logprobs, b.logprobs)
    run.finished = True
    yield ProbeProgress(
        "finished", step, steps, None, None, run, f"finished {run.completed} probes"
    )


def probe_passes(run: ProbeRun) -> dict[str, tuple[int, int]]:
    """tag -> (checks passed, probes answered) over probes both tags finished without error."""
    out = {tag: (0, 0) for tag in run.tags}
    for res in run.results:
        if not res.complete or any(r.error for r in res.results.values()):
            continue
        for tag, r in res.results.items():
            passed, total = out[tag]
            out[tag] = (passed + int(r.check.passed), total + 1)
    return {tag: counts for tag, counts in out.items() if counts[1]}


def probe_scores(run: ProbeRun, labels: Mapping[str, str]) -> list[ProbeScore]:
    """`probe_passes` as typed scores (tag -> label from `labels`), for the decision to read."""
    return [
        ProbeScore(tag, labels.get(tag, tag), passed, total)
        for tag, (passed, total) in probe_passes(run).items()
    ]


def probe_speeds(run: ProbeRun, labels: Mapping[str, str]) -> list[SpeedSample]:
    """The speed of every answer that reported one, as typed samples from the probe."""
    return [
        SpeedSample(tag, labels.get(tag, tag), r.tokens_per_s, None, "probe")
        for res in run.results
        for tag, r in res.results.items()
        if r.tokens_per_s is not None and r.tokens_per_s > 0
    ]


def pass_uncertainty(summary: ProbeSummary, labels: Mapping[str, str] | None = None) -> str:
    """Each tag's pass count with its 95 % interval (Wilson), and whether two counts differ.

    'Q4 5/8 passed (95 % interval 30–87 %), Q6 8/8 (67–100 %). The intervals overlap: the
    difference is within noise ...'. Tags without an answer are left out; '' when none has one.
    """
    answered = [t for t in summary.tags if summary.answered.get(t)]
    if not answered:
        return ""

    def name(tag: str) -> str:
        return (labels or {}).get(tag, tag)

    parts = [
        f"{name(t)} {summary.passes[t]}/{summary.answered[t]} passed "
        f"(95 % interval {interval_text(summary.passes[t], summary.answered[t])})"
        for t in answered
    ]
    text = ", ".join(parts) + "."
    if len(answered) < 2:
        return text
    a, b = answered[:2]
    counts_a = (summary.passes[a], summary.answered[a])
    counts_b = (summary.passes[b], summary.answered[b])
    if can_tell_apart(counts_a, counts_b):
        return text + (
            " The intervals do not overlap: the difference is more than noise at this size."
        )
    return text + (
        f" The intervals overlap: the difference between {name(a)} and {name(b)} is within "
        "noise, and this many prompts cannot tell them apart."
    )
