"""Evidence log: every measurement a student makes, as typed records, and its JSON report.

Records hold JSON-safe payloads only (numpy scalars and arrays, dataclasses, pydantic models,
paths, datetimes and non-finite floats are converted on append), so a report is one
`json.dumps` away and later changes to the caller's objects do not alter what was recorded.

Reports name the endpoint by `redact_host(url)` (scheme, host, port and path; never userinfo,
query or fragment), scrub URLs with credentials anywhere in the payloads, blank values under
secret-looking keys (api_key, authorization, password, secret) and replace every string listed
in `ReportContext.secrets` (for example the session's API key) with `[redacted]`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from quantviz import __version__

if TYPE_CHECKING:
    from quantviz.report.records import RecordItem

KINDS: tuple[str, ...] = (
    "pull",
    "storage",
    "metadata",
    "chat",
    "side_by_side",
    "probe",
    "explorer",
    "decision",
    "record",
    "note",
)
KIND_TITLES: dict[str, str] = {
    "pull": "Pulls",
    "storage": "Storage",
    "metadata": "Metadata",
    "chat": "Chat",
    "side_by_side": "Side by side",
    "probe": "Quality probe",
    "explorer": "Explorer settings",
    "decision": "Deployment decision",
    "record": "Lab records",
    "note": "Notes",
}
REDACTED = "[redacted]"
REPORT_FORMAT = "quantviz-evidence/1"

_SECRET_KEY_RE = re.compile(
    r"api[_-]?key|authorization|password|passwd|secret|bearer", re.IGNORECASE
)
_URL_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>`]+")


def utc_now() -> str:
    """Current time as UTC ISO 8601 with a Z suffix, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def to_jsonable(value: Any) -> Any:
    """A JSON-safe copy: numpy and dataclasses converted, NaN and infinities become None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            return to_jsonable(to_dict())
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v) for v in items]
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return to_jsonable(model_dump())
    return str(value)


def redact_host(url: str | None) -> str:
    """The endpoint as `scheme://host[:port][/path]`: no user, password, query or fragment.

    `http://user:secret@host:11434/?key=x` -> `http://host:11434`. A value without a scheme
    is read as http; one that cannot be parsed becomes `(invalid endpoint)`.
    """
    if not url or not url.strip():
        return ""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "(invalid endpoint)"
    if not host:
        return "(invalid endpoint)"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{netloc}{path}"


def _scrub_string(text: str, secrets: tuple[str, ...]) -> str:
    text = _URL_RE.sub(lambda m: _scrub_url(m.group(0)), text)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _scrub_url(url: str) -> str:
    """A URL without userinfo, query or fragment; the whole URL if it cannot be parsed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if "@" not in parts.netloc and not parts.query and not parts.fragment:
        return url
    redacted = redact_host(url)
    return redacted if redacted != "(invalid endpoint)" else REDACTED


def scrub(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of a JSON-safe value with secrets, credentialed URLs and secret keys removed."""
    found = tuple(s for s in secrets if s)

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return _scrub_string(v, found)
        if isinstance(v, dict):
            return {
                k: (REDACTED if _SECRET_KEY_RE.search(k) and v[k] not in (None, "") else walk(v[k]))
                for k in v
            }
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value)


@dataclass(frozen=True)
class EvidenceRecord:
    """One measurement: what kind, a short title, when (UTC ISO 8601) and the figures."""

    kind: str
    title: str
    payload: dict[str, Any]
    timestamp: str = field(default_factory=utc_now)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "timestamp": self.timestamp,
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvidenceRecord:
        return make_record(
            data["kind"], data["title"], data.get("payload") or {}, timestamp=data.get("timestamp")
        )


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown evidence kind {kind!r}; known kinds: {', '.join(KINDS)}")
    return kind


def make_record(
    kind: str, title: str, payload: Mapping[str, Any] | None = None, *, timestamp: str | None = None
) -> EvidenceRecord:
    """A validated record with a JSON-safe copy of `payload`."""
    if payload is not None and not isinstance(payload, Mapping):
        raise TypeError(f"evidence payload must be a mapping, got {type(payload).__name__}")
    return EvidenceRecord(
        kind=_check_kind(kind),
        title=str(title),
        payload=to_jsonable(dict(payload or {})),
        timestamp=timestamp or utc_now(),
    )


class EvidenceFull(ValueError):
    """The log holds as many records, or as many bytes, as its limits allow."""


def record_size(record: EvidenceRecord) -> int:
    """Bytes the record takes in a JSON report (UTF-8), the measure of `max_bytes`."""
    return len(json.dumps(record.to_dict(), ensure_ascii=False).encode())


class EvidenceLog:
    """The session's evidence, in the order it was gathered.

    `max_records` and `max_bytes` (the records' JSON size together) bound what one session
    holds; a record that would pass either raises EvidenceFull and is not kept.
    """

    def __init__(
        self,
        records: Iterable[EvidenceRecord] = (),
        *,
        max_records: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._records: list[EvidenceRecord] = list(records)
        self._bytes = sum(record_size(r) for r in self._records)

    def append(
        self,
        kind: str,
        title: str,
        payload: Mapping[str, Any] | None = None,
        *,
        timestamp: str | None = None,
    ) -> EvidenceRecord:
        return self.add(make_record(kind, title, payload, timestamp=timestamp))

    def add(self, record: EvidenceRecord) -> EvidenceRecord:
        _check_kind(record.kind)
        size = record_size(record)
        if self.max_records is not None and len(self._records) >= self.max_records:
            raise EvidenceFull(
                f"The evidence log holds {len(self._records)} records, the most this class "
                "keeps. Download the report, then clear the log to record more."
            )
        if self.max_bytes is not None and self._bytes + size > self.max_bytes:
            raise EvidenceFull(
                f"This record ({size:,} bytes) would take the evidence log past this class's "
                f"limit of {self.max_bytes:,} bytes. Download the report, then clear the log "
                "to record more."
            )
        self._records.append(record)
        self._bytes += size
        return record

    def put(self, record: EvidenceRecord, key: str) -> EvidenceRecord:
        """Add `record`, or replace the record of its kind whose `payload[key]` equals its own
        (in place, so an edited answer is one record that keeps its position, never two)."""
        _check_kind(record.kind)
        value = record.payload.get(key)
        for i, old in enumerate(self._records):
            if old.kind == record.kind and old.payload.get(key) == value:
                delta = record_size(record) - record_size(old)
                if self.max_bytes is not None and self._bytes + delta > self.max_bytes:
                    raise EvidenceFull(
                        f"This record would take the evidence log past this class's limit of "
                        f"{self.max_bytes:,} bytes. Download the report, then clear the log "
                        "to record more."
                    )
                self._records[i] = record
                self._bytes += delta
                return record
        return self.add(record)

    @property
    def size(self) -> int:
        """The records' JSON size together, in bytes."""
        return self._bytes

    @property
    def records(self) -> list[EvidenceRecord]:
        return list(self._records)

    def filter(self, *kinds: str) -> list[EvidenceRecord]:
        for kind in kinds:
            _check_kind(kind)
        return [r for r in self._records if r.kind in kinds]

    def kinds(self) -> list[str]:
        """Kinds present, in the canonical order of `KINDS`."""
        present = {r.kind for r in self._records}
        return [k for k in KINDS if k in present]

    def clear(self) -> None:
        self._records.clear()
        self._bytes = 0

    def to_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self._records]

    @classmethod
    def from_list(cls, items: Iterable[Mapping[str, Any]]) -> EvidenceLog:
        return cls(EvidenceRecord.from_dict(item) for item in items)

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[EvidenceRecord]:
        return iter(list(self._records))

    def __bool__(self) -> bool:
        return bool(self._records)


@dataclass(frozen=True)
class ReportContext:
    """What a report says about where the evidence came from.

    `secrets` are never written: every occurrence in the report is replaced by `[redacted]`.
    """

    endpoint: str | None = None
    server_version: str | None = None
    models: Mapping[str, str] = field(default_factory=dict)  # label -> tag
    lab: str | None = None
    generated_at: str | None = None
    app_version: str = __version__
    secrets: tuple[str, ...] = ()
    # the lab's Execute items the student records (`report.records`): the summary's rows
    record_items: tuple[RecordItem, ...] = ()

    def header(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at or utc_now(),
            "app": "quantviz",
            "app_version": self.app_version,
            "lab": self.lab,
            "endpoint": redact_host(self.endpoint) or None,
            "server_version": self.server_version,
            "models": dict(self.models),
            "record_items": [item.to_dict() for item in self.record_items],
        }


def report_dict(log: EvidenceLog, context: ReportContext | None = None) -> dict[str, Any]:
    """The report as a JSON-safe dict, scrubbed of secrets."""
    context = context or ReportContext()
    data = {"format": REPORT_FORMAT, **context.header(), "records": log.to_list()}
    return scrub(to_jsonable(data), context.secrets)


def report_json(log: EvidenceLog, context: ReportContext | None = None) -> str:
    """The report as JSON text (UTF-8 safe, indented)."""
    return json.dumps(report_dict(log, context), indent=2, ensure_ascii=False, allow_nan=False)
