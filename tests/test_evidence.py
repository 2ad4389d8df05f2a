"""Evidence log: typed records, JSON safety, redaction and the Markdown/JSON reports."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pytest
from probe_runs import run_to_end

from quantviz.decision.facts import BUILTIN_LAYOUT
from quantviz.decision.memory import fit
from quantviz.probe.battery import BUILTIN_BATTERY
from quantviz.report.evidence import (
    KINDS,
    REDACTED,
    EvidenceLog,
    EvidenceRecord,
    ReportContext,
    redact_host,
    report_dict,
    report_json,
    scrub,
    to_jsonable,
)
from quantviz.report.markdown import report_markdown

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user:secret@host:11434/?key=x", "http://host:11434"),
        ("https://ollama.example.edu/api/?token=abc#frag", "https://ollama.example.edu/api"),
        ("localhost:11434", "http://localhost:11434"),
        ("HTTP://[::1]:8080/", "http://[::1]:8080"),
        ("http://:pw@host", "http://host"),
        ("http://host:99999", "(invalid endpoint)"),
        ("", ""),
        (None, ""),
    ],
)
def test_redact_host(url: str | None, expected: str) -> None:
    """Endpoints keep scheme, host, port and path, and lose user, password, query and fragment."""
    assert redact_host(url) == expected


def test_to_jsonable_converts_numpy_and_non_finite_values() -> None:
    """Numpy scalars and arrays become Python values; NaN and infinity become None."""

    @dataclass
    class Point:
        x: np.float32
        tags: tuple[str, ...]

    value = {
        "i": np.int64(7),
        "f": np.float32(0.5),
        "b": np.bool_(True),
        "a": np.arange(3),
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "p": Point(np.float32(1.5), ("q4",)),
        "when": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        3: {"s": {2, 1}},
    }
    out = to_jsonable(value)
    assert out == {
        "i": 7,
        "f": 0.5,
        "b": True,
        "a": [0, 1, 2],
        "nan": None,
        "inf": None,
        "p": {"x": 1.5, "tags": ["q4"]},
        "when": "2025-01-02T03:04:05Z",
        "3": {"s": [1, 2]},
    }
    assert type(out["i"]) is int and type(out["b"]) is bool
    json.dumps(out, allow_nan=False)


def test_log_append_filter_clear() -> None:
    """Records keep order, filter by kind, list kinds canonically and clear."""
    log = EvidenceLog()
    log.append("chat", "Q4 reply", {"tag": "q4"})
    log.append("pull", "Pulled q4", {"tag": "q4", "bytes": np.int64(10)})
    log.append("chat", "Q6 reply", {"tag": "q6"})
    assert len(log) == 3 and bool(log)
    assert [r.title for r in log.filter("chat")] == ["Q4 reply", "Q6 reply"]
    assert log.kinds() == ["pull", "chat"]
    assert all(ISO_UTC.match(r.timestamp) for r in log)
    log.clear()
    assert len(log) == 0 and not log and log.records == []


def test_payload_is_copied_at_append() -> None:
    """Changing the caller's dict after append does not change the record."""
    payload = {"sizes": [1, 2]}
    log = EvidenceLog()
    record = log.append("storage", "Sizes", payload)
    payload["sizes"].append(3)
    assert record.payload == {"sizes": [1, 2]}


def test_unknown_kind_and_bad_payload_are_refused() -> None:
    """A typo in the kind or a non-mapping payload raises at once."""
    log = EvidenceLog()
    with pytest.raises(ValueError, match="unknown evidence kind 'chta'; known kinds: pull"):
        log.append("chta", "x")
    with pytest.raises(TypeError, match="payload must be a mapping"):
        log.append("chat", "x", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown evidence kind"):
        log.filter("nope")


def sample_log() -> EvidenceLog:
    log = EvidenceLog()
    log.append(
        "pull",
        "Pulled batiai/gemma4-e2b:q4",
        {"tag": "batiai/gemma4-e2b:q4", "status": "success"},
        timestamp="2025-05-01T10:00:00Z",
    )
    log.append(
        "storage",
        "Sizes",
        {
            "q4_bytes": np.int64(3_190_000_000),
            "q6_bytes": np.int64(3_580_000_000),
            "saved_percent": np.float64(10.89),
        },
    )
    log.append(
        "chat",
        "Q4: pelican",
        {
            "tag": "batiai/gemma4-e2b:q4",
            "endpoint": "http://student:hunter2@ollama.local:11434/?api_key=sk-live-123",
            "messages": [
                {"role": "user", "content": "Draw a pelican riding a bicycle."},
                {
                    "role": "assistant",
                    "content": "```svg\n<svg><circle r='1'/></svg>\n```",
                    "metrics": {"tokens_per_s": np.float32(41.25)},
                },
            ],
        },
    )
    run = run_to_end(
        BUILTIN_BATTERY[:2],
        ["q4", "q6"],
        lambda tag, prompt: ("391", None, {"eval_count": 4, "eval_duration": 10**8}),
    )
    log.append("probe", "Quality probe", run.to_dict())
    log.append(
        "decision",
        "Deployment decision",
        {"fit": fit(4 * 10**9, 8192, weights_bytes=3_190_000_000, layout=BUILTIN_LAYOUT, tag="q4")},
    )
    return log


CONTEXT = ReportContext(
    endpoint="http://user:secret@host:11434/?key=x",
    server_version="0.13.1",
    models={"Q4": "batiai/gemma4-e2b:q4", "Q6": "batiai/gemma4-e2b:q6"},
    lab="Lab 2 - Quantization Tradeoffs",
    generated_at="2025-05-01T12:00:00Z",
    secrets=("sk-session-key-999",),
)


def test_report_json_round_trip() -> None:
    """A JSON report parses back into the same records, with the context at the top."""
    log = sample_log()
    text = report_json(log, CONTEXT)
    data = json.loads(text)
    assert data["format"] == "quantviz-evidence/1"
    assert data["endpoint"] == "http://host:11434"
    assert data["server_version"] == "0.13.1"
    assert data["models"] == {"Q4": "batiai/gemma4-e2b:q4", "Q6": "batiai/gemma4-e2b:q6"}
    assert data["generated_at"] == "2025-05-01T12:00:00Z"
    back = EvidenceLog.from_list(data["records"])  # the records read back as they went in
    assert [r.kind for r in back] == [r.kind for r in log]
    assert [r.timestamp for r in back] == [r.timestamp for r in log]
    assert back.records[1].payload == {
        "q4_bytes": 3_190_000_000,
        "q6_bytes": 3_580_000_000,
        "saved_percent": 10.89,
    }
    assert back.records[4].payload["fit"]["fits"] is True
    assert back.records[3].payload["summary"]["passes"] == {"q4": 1, "q6": 1}


def test_reports_carry_no_credentials() -> None:
    """Neither report contains userinfo, query keys, api keys or the session's secret."""
    log = sample_log()
    log.append(
        "note",
        "Settings",
        {"api_key": "sk-session-key-999", "comment": "my key is sk-session-key-999"},
    )
    for text in (report_json(log, CONTEXT), report_markdown(log, CONTEXT)):
        for leaked in (
            "secret",
            "hunter2",
            "student",
            "sk-live-123",
            "sk-session-key-999",
            "key=x",
            "api_key=",
        ):
            assert leaked not in text
        assert "http://ollama.local:11434" in text
        assert REDACTED in text


def test_scrub_blanks_secret_keys_but_keeps_empty_ones() -> None:
    """Secret-looking keys are blanked when set; an empty value stays visibly empty."""
    out = scrub({"Authorization": "Bearer x", "api_key": "", "nested": [{"password": "p"}]})
    assert out == {"Authorization": REDACTED, "api_key": "", "nested": [{"password": REDACTED}]}


def test_report_markdown_lists_context_records_and_transcripts() -> None:
    """The Markdown report names host, version and tags, and fences every transcript message."""
    text = report_markdown(sample_log(), CONTEXT)
    assert text.startswith("# quantviz evidence report\n")
    assert "- **Endpoint**: http://host:11434" in text
    assert "- **Server version**: 0.13.1" in text
    assert "| Q6 | `batiai/gemma4-e2b:q6` |" in text
    for heading in (
        "## Pulls",
        "## Storage",
        "## Chat",
        "## Quality probe",
        "## Deployment decision",
    ):
        assert heading in text
    assert text.index("## Pulls") < text.index("## Chat") < text.index("## Deployment decision")
    assert "*2025-05-01T10:00:00Z*" in text
    assert "**assistant** · 41.2 tok/s:" in text
    # the assistant reply holds a ``` fence, so it is quoted inside a longer one
    assert "````text\n```svg\n<svg><circle r='1'/></svg>\n```\n````" in text
    assert "- **saved_percent**: 10.89" in text


def test_empty_log_reports() -> None:
    """An empty log still makes both reports, saying nothing was recorded."""
    log = EvidenceLog()
    assert "No evidence recorded yet." in report_markdown(log)
    data = report_dict(log)
    assert data["records"] == [] and data["endpoint"] is None
    assert ISO_UTC.match(data["generated_at"])


def test_record_from_dict_validates_kind() -> None:
    """Records read back from a report are validated like new ones."""
    record = EvidenceRecord.from_dict(
        {"kind": "note", "title": "t", "payload": {"a": 1}, "timestamp": "2025-01-01T00:00:00Z"}
    )
    assert record.to_dict() == {
        "kind": "note",
        "title": "t",
        "payload": {"a": 1},
        "timestamp": "2025-01-01T00:00:00Z",
    }
    with pytest.raises(ValueError, match="unknown evidence kind"):
        EvidenceRecord.from_dict({"kind": "x", "title": "t"})


def test_every_kind_has_a_section_title() -> None:
    """Each evidence kind renders under its own heading."""
    log = EvidenceLog()
    for kind in KINDS:
        log.append(kind, f"{kind} record", {"n": 1})
    text = report_markdown(log)
    assert text.count("\n## ") == len(KINDS)
