"""The app's navigation: a home page, each lab's pages, and the tool pages, in one list."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from quantviz.lab import Lab, LabError, Section
from quantviz.lab.load import load_labs
from quantviz.ui import nav, session
from quantviz.ui.pages import class_board, evidence, instructor, settings
from quantviz.ui.render import render_lab_error, render_section

APP_NAME = "quantviz"


def document_title(*parts: str) -> str:
    """The browser tab's title: the page first, then what holds it, then the app (WCAG 2.4.2).

    A tab list or a screen reader's window list then says which page is open.
    """
    return " · ".join([*(p for p in parts if p), APP_NAME])


def section_document_title(lab: Lab, section: Section) -> str:
    """ "Objective 3: Measure the Storage Savings · Lab 2 · quantviz"; an overview carries the
    lab's own title, which already names the lab."""
    if section.kind == "overview":
        return document_title(lab.title)
    return document_title(section.title, f"Lab {lab.order}")


def _titled(function: Callable[[], None], title: str) -> Callable[[], None]:
    """`function` drawn under its own browser tab title.

    Streamlit 1.67 titles the tab with the nav label only while no `set_page_config` has set a
    title in the session; the page sets its own on every run, so every page keeps its title.
    """

    def page() -> None:
        st.set_page_config(page_title=title)
        function()

    page.__name__ = function.__name__
    return page


def _section_page(lab: Lab, index: int) -> Callable[[], None]:
    section = lab.sections[index]

    def page() -> None:
        st.set_page_config(page_title=section_document_title(lab, section))
        render_section(lab, section)

    page.__name__ = section.url_path.replace("-", "_")
    return page


def _error_page(error: LabError) -> Callable[[], None]:
    def page() -> None:
        st.set_page_config(page_title=document_title(f"{error.title}: could not be loaded"))
        render_lab_error(error)

    page.__name__ = error.url_path.replace("-", "_")
    return page


def _home(labs: list[Lab | LabError]) -> Callable[[], None]:
    def home() -> None:
        st.set_page_config(page_title=document_title())
        st.title("quantviz")
        st.markdown(
            "See what quantization does to a language model, then measure it on real models "
            "served by Ollama. Pick a lab and walk through it objective by objective."
        )
        if not labs:
            st.warning("No lab files were found. Put Markdown labs into the `labs/` folder.")
        for lab in labs:
            with st.container(border=True):
                if isinstance(lab, LabError):
                    nav.link(lab.url_path, f"{lab.title}: could not be loaded", ":material/error:")
                    continue
                nav.link(lab.overview.url_path, lab.title, icon=":material/school:")
                if lab.description:
                    st.caption(lab.description)
        nav.link_to_settings("Ollama endpoint settings")

    return home


def _section_title(lab: Lab, section: Section, several_labs: bool) -> str:
    """A nav title that names its page on its own: the list has no section headers.

    The overview carries the lab's title; with several labs each other page names its lab
    too, or "Objective 1" would be ambiguous (WCAG 2.4.4, link purpose).
    """
    if section.kind == "overview":
        return lab.title
    return f"Lab {lab.order} · {section.title}" if several_labs else section.title


def build_navigation(labs_dir: Path | None = None) -> StreamlitPage:
    """Declare every page; returns the page to run (st.navigation's result).

    The sidebar is one flat list: Streamlit 1.67 draws a named section as a `<div>` inside
    the nav's `<ul>`, with that section's `<li>` items inside the `<div>` (invalid list
    markup, axe rules `list` and `listitem`; docs/accessibility.md). So the pages go in one
    unnamed section, each lab's overview (titled with the lab) leading its own pages.
    Everything drawn here comes before the page itself: the configuration notice, if any.
    """
    labs = load_labs(labs_dir, reserved=nav.TOOL_PAGES)
    several_labs = sum(isinstance(lab, Lab) for lab in labs) > 1
    pages: dict[str, StreamlitPage] = {}
    entries = [st.Page(_home(labs), title="Home", icon=":material/home:", default=True)]
    for lab in labs:
        if isinstance(lab, LabError):
            page = st.Page(
                _error_page(lab),
                title=f"{lab.title}: could not be loaded",
                url_path=lab.url_path,
                icon=":material/error:",
            )
            entries.append(page)
            pages[lab.url_path] = page
            continue
        for i, section in enumerate(lab.sections):
            page = st.Page(
                _section_page(lab, i),
                title=_section_title(lab, section, several_labs),
                url_path=section.url_path,
                icon=":material/school:" if section.kind == "overview" else None,
            )
            entries.append(page)
            pages[section.url_path] = page
    tools = [
        (settings.page, "Endpoint settings", ":material/settings:", nav.SETTINGS),
        (evidence.page, "Evidence report", ":material/fact_check:", nav.EVIDENCE),
        (class_board.page, "Class board", ":material/groups:", nav.CLASS_BOARD),
        (instructor.page, "Instructor", ":material/admin_panel_settings:", nav.INSTRUCTOR),
    ]
    for function, title, icon, url_path in tools:
        page = st.Page(
            _titled(function, document_title(title)), title=title, icon=icon, url_path=url_path
        )
        entries.append(page)
        pages[url_path] = page
    nav.register_pages(pages)
    current = st.navigation(entries, expanded=True)
    session.config_notice()  # above every page while the configuration fails closed
    return current
