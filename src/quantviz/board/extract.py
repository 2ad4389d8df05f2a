"""The figures the class board collects, read out of an evidence report (`report_dict`).

One `Figures` per submission, with the two compared models as the sides `q4` and `q6`:

- sizes and bits per weight: the last `storage` record (`tags[*].size_bytes`,
  `bits_per_weight`);
- tokens/s: the last `decision` record's `tokens_per_s` (what the student decided with), else the
  mean over the chat and side-by-side replies that measured one;
- probe passes / total: the last `probe` record's `passes` (tag -> [passed, answered]);
- the decision: the last `decision` record's `choice` and `decision`: since issue 14 the student's
  own choice (a tag, or none for "neither") and reason, committed before the widget showed its
  reading (kept apart as `widget_choice` / `widget_reading`, which the board does not show);
  older reports hold the widget's choice (none when nothing fit) and its sentence there.
- `record` records (a lab's record fields) are the student's text, not measurements: not read.

A record names models by label ("Q4") or tag ("name:q4"); the report's `models` map and each
record's own label fields tie them together. A label containing "Q4" / "Q6" is that side; other
labels take the sides in the order the report lists its models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

SIDES = ("q4", "q6")
SIDE_LABELS = {"q4": "Q4", "q6": "Q6"}
NO_CHOICE = "none"


@dataclass(frozen=True)
class SideFigures:
    size_bytes: int | None = None
    bits_per_weight: float | None = None
    tokens_per_s: float | None = None
    probe_passed: int | None = None
    probe_total: int | None = None


@dataclass(frozen=True)
class Figures:
    q4: SideFigures = SideFigures()
    q6: SideFigures = SideFigures()
    decision: str | None = None  # "Q4", "Q6", "none" (nothing fits) or None (not decided)
    decision_text: str | None = None

    @property
    def empty(self) -> bool:
        return self.decision is None and all(
            v is None for side in (self.q4, self.q6) for v in asdict(side).values()
        )

    def columns(self) -> dict[str, Any]:
        """The typed columns of a submission row."""
        out: dict[str, Any] = {}
        for side in SIDES:
            for key, value in asdict(getattr(self, side)).items():
                out[f"{side}_{key}"] = value
        out["decision"] = self.decision
        out["decision_text"] = self.decision_text
        return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _count(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number == int(number) else None


class _Sides:
    """label or tag -> side, from the report's models map and the labels records carry."""

    def __init__(self, models: Mapping[str, str]) -> None:
        self.by_name: dict[str, str] = {}
        free = list(SIDES)
        pending: list[tuple[str, str]] = []
        for label, tag in models.items():
            side = self._named_side(label)
            if side in free:
                free.remove(side)
                self._bind(side, label, tag)
            else:
                pending.append((label, tag))
        for label, tag in pending:
            if free:
                self._bind(free.pop(0), label, tag)

    @staticmethod
    def _named_side(label: str) -> str | None:
        text = str(label).upper()
        hits = [side for side in SIDES if SIDE_LABELS[side] in text]
        return hits[0] if len(hits) == 1 else None

    def _bind(self, side: str, label: str, tag: str) -> None:
        self.by_name.setdefault(str(label), side)
        self.by_name.setdefault(str(tag), side)

    def side(self, *names: Any) -> str | None:
        for name in names:
            if name is None:
                continue
            found = self.by_name.get(str(name)) or self._named_side(str(name))
            if found:
                return found
        return None

    def learn(self, label: Any, tag: Any) -> None:
        side = self.side(label, tag)
        if side is not None and label is not None and tag is not None:
            self._bind(side, str(label), str(tag))


def _last(records: Sequence[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    for record in reversed(records):
        if record.get("kind") == kind and isinstance(record.get("payload"), Mapping):
            return record["payload"]
    return None


def _chat_speeds(records: Sequence[Mapping[str, Any]], sides: _Sides) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for record in records:
        payload = record.get("payload")
        if not isinstance(payload, Mapping):
            continue
        if record.get("kind") == "chat":
            replies = [payload]
        elif record.get("kind") == "side_by_side":
            replies = [r for r in payload.get("replies") or [] if isinstance(r, Mapping)]
        else:
            continue
        for reply in replies:
            metrics = reply.get("metrics")
            speed = _number(metrics.get("tokens_per_s")) if isinstance(metrics, Mapping) else None
            side = sides.side(reply.get("label"), reply.get("tag"))
            if speed and side:
                out.setdefault(side, []).append(speed)
    return out


def figures_from_report(report: Mapping[str, Any]) -> Figures:
    """The board's figures of one report; a figure the report lacks stays None."""
    raw_models = report.get("models")
    models: Mapping[str, str] = raw_models if isinstance(raw_models, Mapping) else {}
    records = [r for r in report.get("records") or [] if isinstance(r, Mapping)]
    sides = _Sides(models)
    for payload in (_last(records, "storage"), _last(records, "decision")):
        for item in (payload or {}).get("tags") or (payload or {}).get("fits") or []:
            if isinstance(item, Mapping):
                sides.learn(item.get("label"), item.get("tag"))
    values: dict[str, dict[str, Any]] = {side: {} for side in SIDES}

    storage = _last(records, "storage")
    for item in (storage or {}).get("tags") or []:
        if isinstance(item, Mapping) and (side := sides.side(item.get("label"), item.get("tag"))):
            values[side]["size_bytes"] = _count(item.get("size_bytes"))
            values[side]["bits_per_weight"] = _number(item.get("bits_per_weight"))

    decision = _last(records, "decision")
    speeds = (decision or {}).get("tokens_per_s")
    if isinstance(speeds, Mapping) and speeds:
        for name, value in speeds.items():
            if (side := sides.side(name)) and _number(value):
                values[side]["tokens_per_s"] = _number(value)
    else:
        for side, measured in _chat_speeds(records, sides).items():
            values[side]["tokens_per_s"] = sum(measured) / len(measured)

    probe = _last(records, "probe")
    if probe:
        probe_models = probe.get("models")
        probe_sides = _Sides(probe_models if isinstance(probe_models, Mapping) else models)
        passes = probe.get("passes")
        for name, counts in (passes if isinstance(passes, Mapping) else {}).items():
            side = probe_sides.side(name) or sides.side(name)
            if side and isinstance(counts, Sequence) and len(counts) == 2:
                passed, total = _count(counts[0]), _count(counts[1])
                if passed is not None and total and passed <= total:
                    values[side]["probe_passed"], values[side]["probe_total"] = passed, total

    choice: str | None = None
    text: str | None = None
    if decision is not None:
        raw = decision.get("choice")
        if raw is None:
            choice = NO_CHOICE
        else:
            side = sides.side(raw)
            choice = SIDE_LABELS[side] if side else None
        text = str(decision.get("decision") or "") or None
    return Figures(
        q4=SideFigures(**values["q4"]),
        q6=SideFigures(**values["q6"]),
        decision=choice,
        decision_text=text,
    )
