"""Render a lab section: Markdown, callouts and widgets, in the lab file's order."""

from __future__ import annotations

import streamlit as st

from quantviz.lab import Callout, Lab, LabError, Markdown, RecordField, Section, WidgetMarker
from quantviz.ui import nav, records
from quantviz.ui.context import WidgetContext
from quantviz.ui.registry import render_widget

_CALLOUTS = {"info": st.info, "warning": st.warning, "success": st.success, "error": st.error}


def render_section(lab: Lab, section: Section) -> None:
    if section.kind == "overview":
        st.title(lab.title)
        if lab.description:
            st.caption(lab.description)
    else:
        st.caption(lab.title)
        st.header(section.title, anchor=False)

    records.forget_shown()
    seen: dict[str, int] = {}
    for block in section.blocks:
        if isinstance(block, Markdown):
            st.markdown(block.text)
        elif isinstance(block, Callout):
            _CALLOUTS[block.kind](block.text)
        elif isinstance(block, WidgetMarker):
            occurrence = seen[block.name] = seen.get(block.name, -1) + 1
            render_widget(WidgetContext(lab, section, block.name, occurrence, block.attrs))
        elif isinstance(block, RecordField):
            records.render_record(lab, section, block)

    if section.kind == "overview":
        st.header("In this lab", anchor=False)  # h2 under the h1: no skipped level
        for other in lab.sections[1:]:
            nav.link(other.url_path, other.title)
    _prev_next(lab, section)


def _prev_next(lab: Lab, section: Section) -> None:
    i = lab.sections.index(section)
    st.divider()
    left, right = st.columns(2)
    if i > 0:
        with left:
            prev = lab.sections[i - 1]
            nav.link(prev.url_path, f"Back: {prev.title}", icon=":material/arrow_back:")
    if i + 1 < len(lab.sections):
        with right:
            nxt = lab.sections[i + 1]
            nav.link(nxt.url_path, f"Next: {nxt.title}", icon=":material/arrow_forward:")


def render_lab_error(error: LabError) -> None:
    st.title(error.title)
    st.error(
        f"This lab file could not be loaded: {error.message}.\n\n"
        f"File: `{error.path.name}`. The other labs are not affected; fix the file and reload.",
        icon=":material/error:",
    )
