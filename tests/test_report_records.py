"""Record fields as evidence: one record per item, and the summary table a report opens with."""

import json
import re

import pytest
from markdown_oracle import read

from quantviz.report.evidence import (
    EvidenceFull,
    EvidenceLog,
    ReportContext,
    make_record,
    report_json,
)
from quantviz.report.markdown import report_markdown
from quantviz.report.records import RecordItem, clip, record_payload, summary_rows

HOSTILE = "![x](http://evil.example/a.png) | <img src=x onerror=alert(1)> **bold**"
ITEMS = (
    RecordItem("obj2-layers", "Objective 2", "Record the number of layers.", None),
    RecordItem(
        "obj3-savings",
        "Objective 3",
        "Record each tag's size in bytes.",
        "Size ratio: 0.914 (size(Q4) / size(Q6))",
    ),
)


def _save(log: EvidenceLog, item: RecordItem, value: str) -> None:
    log.put(make_record("record", item.prompt, record_payload(item, value, 4000)), "id")


def test_saving_an_item_again_replaces_its_record_in_place():
    """A second save of the same item replaces the first (same position, one record, the byte
    count follows the new size); another item's save is a new record."""
    log = EvidenceLog()
    log.append("storage", "Sizes", {"n": 1})
    _save(log, ITEMS[0], "35 layers")
    _save(log, ITEMS[1], "ratio 0.91")
    _save(log, ITEMS[0], "35 layers, the largest 1.2 GB")
    assert [r.kind for r in log] == ["storage", "record", "record"]
    assert [r.payload["value"] for r in log.filter("record")] == [
        "35 layers, the largest 1.2 GB",
        "ratio 0.91",
    ]
    assert log.size == sum(len(json.dumps(r.to_dict(), ensure_ascii=False).encode()) for r in log)


def test_a_replacement_past_the_byte_limit_is_refused_and_the_old_value_kept():
    """Replacing a short answer by one that passes the log's byte limit raises EvidenceFull and
    leaves the saved answer as it was."""
    log = EvidenceLog(max_bytes=700)
    _save(log, ITEMS[0], "short")
    with pytest.raises(EvidenceFull, match="700 bytes"):
        _save(log, ITEMS[0], "x" * 600)
    assert log.filter("record")[0].payload["value"] == "short"


def test_values_are_cut_to_the_limit_and_line_ends_normalised():
    """A value keeps at most `limit` characters; CR and CRLF become LF."""
    assert clip("a\r\nb\rc", 100) == "a\nb\nc"
    assert record_payload(ITEMS[0], "y" * 50, 10)["value"] == "y" * 10


def test_summary_has_one_row_per_item_then_saved_records_the_lab_lost():
    """Items in lab order, 'None' value where nothing was saved; a saved record whose item is
    not in the lab still gets a row after them, with its own prompt and measured value."""
    log = EvidenceLog()
    _save(log, ITEMS[1], "mine")
    orphan = RecordItem("old-item", "Objective 9", "Record an old thing.", "was 3")
    _save(log, orphan, "three")
    rows = summary_rows(ITEMS, log.to_list())
    assert [(r.id, r.value, r.measured) for r in rows] == [
        ("obj2-layers", None, None),
        ("obj3-savings", "mine", "Size ratio: 0.914 (size(Q4) / size(Q6))"),
        ("old-item", "three", "was 3"),
    ]
    assert rows[2].objective == "Objective 9"


def test_markdown_report_opens_with_the_summary_and_collapses_raw_records():
    """The report's summary table comes before any record, one row per item with the student's
    value, the measured value and the objective; the raw records follow inside <details>."""
    log = EvidenceLog()
    log.append("storage", "Sizes", {"ratio": 0.914})
    _save(log, ITEMS[1], "0.91, a bit worse than 0.73")
    text = report_markdown(log, ReportContext(record_items=ITEMS))
    summary = text.index("## Summary")
    assert summary < text.index("## Storage") < text.index("## Lab records")
    assert "1 of 2 Execute items recorded." in text
    shown = read(text)
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in shown.html.split("<tr>")[2:4]]
    assert cells == [
        ["Objective 2", "Record the number of layers.", "<em>not recorded</em>", "<em>—</em>"],
        [
            "Objective 3",
            "Record each tag's size in bytes.",
            "0.91, a bit worse than 0.73",
            "Size ratio: 0.914 (size(Q4) / size(Q6))",
        ],
    ]
    assert "<details>" in shown.html and "<summary>1 record</summary>" in shown.html
    rows = [line for line in text.splitlines() if line.startswith("| Objective ")]
    assert len(rows) == 3  # the header and one row per item


def test_a_hostile_value_stays_one_inert_cell():
    """A value with a pipe, an image, raw HTML and line breaks is one table cell shown as text:
    no image, no link, no extra column."""
    log = EvidenceLog()
    _save(log, ITEMS[0], f"{HOSTILE}\nsecond line")
    text = report_markdown(log, ReportContext(record_items=ITEMS))
    shown = read(text)
    assert not shown.images and not shown.links, shown.html
    assert shown.html.count("<tr>") == 3  # header + two items
    first_row = shown.html.split("<tr>")[2]
    assert first_row.count("<td>") == 4
    assert "<img" not in first_row.replace("&lt;img", "")


def test_json_report_keeps_items_and_records():
    """The JSON report lists the lab's items (with measured values) and every saved record."""
    log = EvidenceLog()
    _save(log, ITEMS[0], "35")
    data = json.loads(report_json(log, ReportContext(record_items=ITEMS)))
    assert [i["id"] for i in data["record_items"]] == ["obj2-layers", "obj3-savings"]
    assert data["record_items"][1]["measured"].startswith("Size ratio: 0.914")
    assert data["records"][0]["payload"]["value"] == "35"
    assert data["records"][0]["kind"] == "record"
