"""The evidence report as Markdown: where and when, the models, a one-page summary of the lab's
Execute items (the student's value beside the measured one), then every record by kind, each
kind's records collapsed in a `<details>` block.

Model output is quoted inside fences only, so the report renders no model-written markup; other
text from a server or the student (titles, the server version, labels) is escaped
(`quantviz.text`), so a Markdown viewer shows it and fetches nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from quantviz.report.evidence import KIND_TITLES, KINDS, EvidenceLog, ReportContext, report_dict
from quantviz.report.records import RecordItem, SummaryRow, summary_rows
from quantviz.text import code_span, escape_text, fence

NOT_RECORDED = "not recorded"
NOT_MEASURED = "—"


def _cell(text: str | None, empty: str) -> str:
    """A table cell: each line escaped (no `|`, `<` or markup survives), lines joined by <br>."""
    if text is None:
        return f"*{empty}*"
    lines = [escape_text(line) for line in text.splitlines() if line.strip()]
    return "<br>".join(lines) or f"*{empty}*"


def summary_table(rows: list[SummaryRow]) -> list[str]:
    """The summary as Markdown table lines: objective, item, your value, measured value."""
    out = [
        "| Objective | Execute item | Your value | Measured by the app |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        out.append(
            f"| {_cell(r.objective, '')} | {_cell(r.prompt, '')} "
            f"| {_cell(r.value, NOT_RECORDED)} | {_cell(r.measured, NOT_MEASURED)} |"
        )
    return out


def report_summary(data: Mapping[str, Any]) -> list[SummaryRow]:
    """The summary rows of a report dict (`report_dict`): its lab items and saved records."""
    items = [
        RecordItem(
            str(i.get("id")),
            str(i.get("objective") or ""),
            str(i.get("prompt") or ""),
            i.get("measured") if isinstance(i.get("measured"), str) else None,
        )
        for i in data.get("record_items") or []
        if isinstance(i, Mapping)
    ]
    return summary_rows(items, data.get("records") or [])


def _inline(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    text = str(value)
    if "\n" in text or "\r" in text or "`" in text or len(text) > 120:
        return ""
    return code_span(text) if isinstance(value, str) else escape_text(text)


def _is_transcript(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and "role" in m and "content" in m for m in value)
    )


def _render_transcript(messages: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for m in messages:
        extra = ""
        metrics = m.get("metrics")
        if isinstance(metrics, dict) and metrics.get("tokens_per_s") is not None:
            extra = f" · {float(metrics['tokens_per_s']):.1f} tok/s"
        lines.append(f"**{escape_text(str(m['role']))}**{extra}:")
        lines.append("")
        lines.append(fence(str(m["content"]), "text"))
        lines.append("")
    return lines


def _render_payload(payload: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    blocks: list[tuple[str, Any]] = []
    for key, value in payload.items():
        if isinstance(value, (dict, list)) or _inline(value) == "":
            blocks.append((key, value))
        else:
            lines.append(f"- **{key}**: {_inline(value)}")
    if lines:
        lines.append("")
    for key, value in blocks:
        lines.append(f"**{key}**")
        lines.append("")
        if _is_transcript(value):
            lines.extend(_render_transcript(value))
        elif isinstance(value, str):
            lines.append(fence(value, "text"))
            lines.append("")
        else:
            compact = json.dumps(value, ensure_ascii=False)
            text = (
                compact if len(compact) <= 100 else json.dumps(value, indent=2, ensure_ascii=False)
            )
            lines.append(fence(text, "json"))
            lines.append("")
    return lines


def report_markdown(log: EvidenceLog, context: ReportContext | None = None) -> str:
    """A readable report: where and when, the models, then every record grouped by kind.

    Model output is quoted inside fences only, so the report renders no model-written markup;
    other text from a server or the student (titles, the server version, labels) is escaped
    (`quantviz.text`), so a Markdown viewer shows it and fetches nothing.
    """
    data = report_dict(log, context)
    out = ["# quantviz evidence report", ""]
    out.append(f"- **Generated**: {data['generated_at']}")
    if data.get("lab"):
        out.append(f"- **Lab**: {data['lab']}")
    out.append(f"- **Endpoint**: {data['endpoint'] or 'not connected'}")
    out.append(f"- **Server version**: {escape_text(data['server_version'] or 'unknown')}")
    out.append(f"- **App version**: quantviz {data['app_version']}")
    out.append(f"- **Records**: {len(data['records'])}")
    out.append("")
    if data["models"]:
        out += ["| Label | Model tag |", "| --- | --- |"]
        out += [
            f"| {escape_text(label)} | {code_span(tag)} |" for label, tag in data["models"].items()
        ]
        out.append("")
    rows = report_summary(data)
    if rows:
        done = sum(r.value is not None for r in rows)
        out += ["## Summary", "", f"{done} of {len(rows)} Execute items recorded.", ""]
        out += summary_table(rows)
        out.append("")
    if not data["records"]:
        out.append("No evidence recorded yet.")
        return "\n".join(out) + "\n"
    for kind in KINDS:
        records = [r for r in data["records"] if r["kind"] == kind]
        if not records:
            continue
        count = f"{len(records)} record" + ("s" if len(records) != 1 else "")
        out += [f"## {KIND_TITLES[kind]}", "", "<details>", f"<summary>{count}</summary>", ""]
        for r in records:
            title = " ".join(str(r["title"]).split()) or "(untitled)"
            out += [f"### {escape_text(title)}", "", f"*{r['timestamp']}*", ""]
            out += _render_payload(r["payload"])
        out += ["</details>", ""]
    return "\n".join(out).rstrip() + "\n"
