"""A lab's record fields as evidence, and the summary table a report opens with.

Each `RecordField` of a lab (an Execute item that asks the student to record something,
`quantviz.lab`) is one `RecordItem` here: its objective, its prompt and what the app measured
for it (`report.measurements.measured_text`). Saving a field adds an evidence record of kind
`record` whose payload carries the item's id; saving it again replaces that record
(`EvidenceLog.put`), so an edited answer is one record, never two.

The summary has one row per Execute item: the objective, the item, the student's value (the
saved record, else "not recorded") and the measured value. Items of the lab come first in page
order; saved records of items the lab no longer has follow, so nothing saved is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from quantviz.lab import Lab, Section
from quantviz.report.measurements import Measurements, measured_text

RECORD_KIND = "record"
RECORD_KEY = "id"  # the payload field that names the item: one record per item


@dataclass(frozen=True)
class RecordItem:
    """One Execute item the student records: its id, objective, prompt and measured value."""

    id: str
    objective: str
    prompt: str
    measured: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SummaryRow:
    objective: str
    prompt: str
    value: str | None  # None: the student has not saved this item
    measured: str | None  # None: the app measured nothing for it (yet)
    id: str


def objective_label(section: Section) -> str:
    """'Objective 3' for an objective, else the section's title."""
    return f"Objective {section.number}" if section.number is not None else section.title


def record_items(lab: Lab, measurements: Measurements | None = None) -> tuple[RecordItem, ...]:
    """The lab's record fields in page order, with what this session measured for each."""
    return tuple(
        RecordItem(
            field.id,
            objective_label(section),
            field.prompt,
            measured_text(measurements, field.measured) if measurements is not None else None,
        )
        for section, field in lab.records
    )


def clip(value: str, limit: int) -> str:
    """The student's value, line ends made `\\n` and cut to `limit` characters."""
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text[:limit]


def record_payload(item: RecordItem, value: str, limit: int) -> dict[str, Any]:
    """The payload of a saved field: the item, the student's value (cut to `limit`) and the
    measured value shown beside it when it was saved."""
    return {**item.to_dict(), "value": clip(value, limit)}


def record_title(item: RecordItem) -> str:
    words = item.prompt if len(item.prompt) <= 80 else item.prompt[:79] + "…"
    return f"{item.objective}: {words}"


def saved_values(records: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """id -> payload of the saved `record` records (report dicts or `EvidenceRecord.to_dict`)."""
    out: dict[str, Mapping[str, Any]] = {}
    for record in records:
        payload = record.get("payload")
        if record.get("kind") != RECORD_KIND or not isinstance(payload, Mapping):
            continue
        record_id = payload.get(RECORD_KEY)
        if isinstance(record_id, str):
            out[record_id] = payload
    return out


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def summary_rows(
    items: Sequence[RecordItem], records: Iterable[Mapping[str, Any]]
) -> list[SummaryRow]:
    """One row per item (then per saved record of an item the lab does not list): the
    student's saved value and the measured value (now, else as it was when saved)."""
    saved = saved_values(records)
    rows = []
    for item in items:
        payload = saved.pop(item.id, {})
        measured = item.measured or _text(payload.get("measured"))
        rows.append(
            SummaryRow(item.objective, item.prompt, _text(payload.get("value")), measured, item.id)
        )
    for record_id, payload in saved.items():
        rows.append(
            SummaryRow(
                str(payload.get("objective") or ""),
                str(payload.get("prompt") or record_id),
                _text(payload.get("value")),
                _text(payload.get("measured")),
                record_id,
            )
        )
    return rows
