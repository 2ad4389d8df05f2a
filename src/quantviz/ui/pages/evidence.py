"""Evidence report: a summary of the lab's Execute items (the student's value beside the
measured one), then every measurement of this session grouped by kind, with downloads.

The log lives in `st.session_state` only: a refresh starts a new session and an empty log, which
the page says before anything else. Reports name the endpoint without credentials and never
contain the API key in use (it is passed to the report as a secret to redact).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from quantviz.config import Settings
from quantviz.lab import Lab
from quantviz.lab.load import load_labs
from quantviz.report.evidence import (
    KIND_TITLES,
    EvidenceFull,
    EvidenceLog,
    ReportContext,
    redact_host,
    report_dict,
    report_json,
    utc_now,
)
from quantviz.report.markdown import NOT_MEASURED, NOT_RECORDED, report_markdown
from quantviz.report.records import RecordItem, record_items, summary_rows
from quantviz.text import plain
from quantviz.ui import nav, session
from quantviz.ui.board_submit import render_submit


def _server_version(host: str) -> str | None:
    known = st.session_state.get(session.SERVER_VERSION)
    if isinstance(known, dict):
        value = known.get(host)
        return str(value) if value else None
    return str(known) if isinstance(known, str) and known else None


def _models(settings: Settings) -> tuple[dict[str, str], str | None]:
    """Label -> tag over the configuration and every lab's `models:`; the lab title if one."""
    models = dict(settings.models)
    labs = [lab for lab in load_labs(reserved=nav.TOOL_PAGES) if isinstance(lab, Lab)]
    for lab in labs:
        for label, tag in (lab.models or {}).items():
            if models.get(label, tag) != tag:
                models[f"{label} ({lab.title})"] = tag
            else:
                models[label] = tag
    return models, labs[0].title if len(labs) == 1 else None


def _record_items() -> tuple[RecordItem, ...]:
    """Every lab's record fields, with what this session measured for each."""
    labs = [lab for lab in load_labs(reserved=nav.TOOL_PAGES) if isinstance(lab, Lab)]
    measurements = session.measurements()
    return tuple(item for lab in labs for item in record_items(lab, measurements))


def report_context(settings: Settings) -> ReportContext:
    """Where the evidence came from; the keys this session can use are listed to redact."""
    models, lab = _models(settings)
    secrets = (
        settings.api_key,
        settings.instructor_api_key,
        st.session_state.get(session.API_KEY),
    )
    return ReportContext(
        endpoint=settings.host,
        server_version=_server_version(settings.host),
        models=models,
        lab=lab,
        generated_at=utc_now(),
        secrets=tuple(s for s in secrets if isinstance(s, str) and s.strip()),
        record_items=_record_items(),
    )


def _clear(log: EvidenceLog) -> None:
    log.clear()
    st.success("The evidence log is empty now.", icon=":material/delete:")


def _add_note(log: EvidenceLog) -> None:
    text = str(st.session_state.get("evidence-note-text") or "").strip()
    if not text:
        return
    title = str(st.session_state.get("evidence-note-title") or "").strip() or "Note"
    try:
        log.append("note", title, {"text": text})
    except EvidenceFull as exc:  # the note stays in its field
        st.warning(f"Not saved: {exc}", icon=":material/inventory_2:")
        return
    st.session_state["evidence-note-text"] = ""
    st.session_state["evidence-note-title"] = ""


def _downloads(log: EvidenceLog, context: ReportContext) -> None:
    stamp = (context.generated_at or utc_now()).replace(":", "").replace("-", "")
    left, right, _ = st.columns([1, 1, 2])
    left.download_button(
        "Download report (Markdown)",
        data=report_markdown(log, context),
        file_name=f"quantviz-evidence-{stamp}.md",
        mime="text/markdown",
        key="evidence-download-md",
        icon=":material/description:",
        on_click="ignore",
        type="primary",
    )
    right.download_button(
        "Download report (JSON)",
        data=report_json(log, context),
        file_name=f"quantviz-evidence-{stamp}.json",
        mime="application/json",
        key="evidence-download-json",
        icon=":material/data_object:",
        on_click="ignore",
    )


def _summary(context: ReportContext, records: list[dict[str, Any]]) -> None:
    """One row per Execute item: objective, item, the student's value, the measured value."""
    rows = summary_rows(context.record_items, records)
    if not rows:
        return
    done = sum(r.value is not None for r in rows)
    st.header("Summary", anchor=False)  # h2 under the h1; record groups are h3
    st.caption(
        f"{done} of {len(rows)} Execute items recorded. Each lab page's record fields fill this "
        "table; the measured values come from the widgets."
    )
    st.dataframe(
        [
            {
                "Objective": r.objective,
                "Execute item": r.prompt,
                "Your value": r.value if r.value is not None else NOT_RECORDED,
                "Measured by the app": r.measured if r.measured is not None else NOT_MEASURED,
            }
            for r in rows
        ],
        hide_index=True,
        key="evidence-summary",
        column_config={
            "Execute item": st.column_config.TextColumn(width="large"),
            "Your value": st.column_config.TextColumn(width="large"),
            "Measured by the app": st.column_config.TextColumn(width="large"),
        },
    )


def _records(records: list[dict[str, Any]]) -> None:
    """Every record, grouped by kind in the canonical order; payloads shown as JSON."""
    for kind, title in KIND_TITLES.items():
        group = [r for r in records if r["kind"] == kind]
        if not group:
            continue
        st.subheader(f"{title} ({len(group)})", anchor=False)
        for r in group:
            when = str(r["timestamp"]).replace("T", " ").replace("Z", " UTC")
            with st.expander(f"{plain(when)} · {plain(r['title'])}"):
                st.json(r["payload"], expanded=2)


def page() -> None:
    """The evidence report page (url path `evidence`)."""
    st.title("Evidence report")
    st.warning(
        "Your evidence lives in this browser session only. **Refreshing the page, closing the "
        "tab or opening the app in a new tab starts a new session and clears it.** Download "
        "the report before you leave.",
        icon=":material/warning:",
    )
    settings = session.settings()
    log = session.evidence()
    context = report_context(settings)
    header = context.header()

    st.metric("Records", len(log))
    facts = [
        f"**Endpoint** `{redact_host(settings.host) or 'not set'}`",
        f"**Server version** {plain(header['server_version'] or 'unknown')}",
    ]
    if header["models"]:
        models = ", ".join(f"{plain(label)} `{tag}`" for label, tag in header["models"].items())
        facts.append(f"**Models** {models}")
    st.markdown(" · ".join(facts))

    _downloads(log, context)
    if not log:
        st.info(
            "No evidence yet. Pull the models, measure their storage, compare the metadata, chat, "
            "run the quality probe and save your deployment decision: each adds a record here.",
            icon=":material/fact_check:",
        )
    else:
        records = report_dict(log, context)["records"]
        _summary(context, records)
        st.caption(
            "Reports name the endpoint without credentials and never contain your API key. "
            "Model output appears only inside code blocks."
        )
        st.header("Raw records", anchor=False)
        _records(records)

    st.divider()
    render_submit(log, context)

    st.divider()
    with st.form("evidence-note-form", clear_on_submit=False, border=True):
        st.markdown(
            "**Add a note** (an observation, your noise floor, what would change your mind)"
        )
        st.text_input("Title", key="evidence-note-title", placeholder="Note")
        st.text_area("Note", key="evidence-note-text")
        st.form_submit_button(
            "Add the note to my evidence", on_click=_add_note, args=(log,), icon=":material/add:"
        )
    with st.popover("Clear the evidence log", icon=":material/delete:", disabled=not log):
        st.markdown(
            f"This removes all {len(log)} records of this session. Download the report first "
            "if you need it."
        )
        st.button(
            "Yes, clear the log", key="evidence-clear", on_click=_clear, args=(log,), type="primary"
        )
