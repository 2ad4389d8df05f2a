"""Links between pages. app.py registers every page here on each run of the session."""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from quantviz.lab import Lab

_PAGES_KEY = "_quantviz_pages"
SETTINGS = "settings"  # url paths of the tool pages (quantviz.ui.pages)
EVIDENCE = "evidence"
CLASS_BOARD = "class-board"
INSTRUCTOR = "instructor"
# Url paths no lab may take, and what owns them (for the error message of a lab that would).
TOOL_PAGES = {
    SETTINGS: "the Endpoint settings page",
    EVIDENCE: "the Evidence report page",
    CLASS_BOARD: "the Class board page",
    INSTRUCTOR: "the Instructor page",
}


def register_pages(pages: dict[str, StreamlitPage]) -> None:
    st.session_state[_PAGES_KEY] = pages


def page(url_path: str) -> StreamlitPage | None:
    return st.session_state.get(_PAGES_KEY, {}).get(url_path)


def link(url_path: str, label: str, icon: str | None = None) -> None:
    """A page link; outside the multipage app (a widget tested alone) a plain caption."""
    target = page(url_path)
    if target is None:
        st.caption(f"{label} (page `{url_path}`)")
    else:
        st.page_link(target, label=label, icon=icon)


def link_to_marker(lab: Lab, marker: str, label: str) -> None:
    """Link to the page of `lab` that holds the widget `marker`, e.g. the pull widget."""
    section = lab.section_with_marker(marker)
    if section is not None:
        link(section.url_path, label, icon=":material/arrow_forward:")


def link_to_settings(label: str = "Endpoint settings") -> None:
    link(SETTINGS, label, icon=":material/settings:")
