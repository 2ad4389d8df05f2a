"""The one way a chart reaches the page: the figure, its summary sentence, its data table.

Every widget and page calls `show_chart` rather than `st.plotly_chart`
(`tests/test_architecture.py` checks it), so every chart carries a text alternative (issue 18,
WCAG 1.1.1): the `ChartText` its figure builder's neighbour in `quantviz.figures` computed, shown
as a caption right under the chart (a screen reader reaches it next), and the numbers behind the
chart in a collapsed "Data table: <name>" expander, drawn once the reader opens it (or in the
open, `open_table=True`, where a figure's own slider holds several states and the table shows
them all at once). A figure with its own slider also gets `ui.slider_keys`, which makes that
slider operable by keyboard.

Up to MARKDOWN_ROWS rows the table is Markdown, which the browser draws as a real `<table>`
(read cell by cell by screen readers, and no Arrow round trip on a fragment rerun); longer
tables are a data frame, which scrolls and draws only what is visible.
"""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from quantviz.figures.alt import Cell, ChartText
from quantviz.text import plain
from quantviz.ui.slider_keys import keyboard_slider


def _name(fig: go.Figure, alt: ChartText) -> str:
    """The table's name: the ChartText's, else the figure's own title (plotly-escaped text)."""
    if alt.name:
        return alt.name
    title = fig.layout.title.text if fig.layout.title else None
    return html.unescape(title) if title else "the chart above"


MARKDOWN_ROWS = 40


def _cell(value: Cell) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return plain(value) or " "


def markdown_table(alt: ChartText) -> str:
    """The rows as a Markdown table, every cell shown literally."""
    lines = ["| " + " | ".join(plain(c) for c in alt.columns) + " |"]
    lines.append("|" + " --- |" * len(alt.columns))
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in alt.rows]
    return "\n".join(lines)


def _table(alt: ChartText, key: str) -> None:
    if len(alt.rows) <= MARKDOWN_ROWS:
        st.markdown(markdown_table(alt))
    else:
        st.dataframe(alt.table(), hide_index=True, key=f"{key}-table")


def show_chart(
    fig: go.Figure,
    *,
    key: str,
    alt: ChartText,
    where: DeltaGenerator | None = None,
    open_table: bool = False,
    **plotly_kwargs: Any,
) -> None:
    """`fig` (in `where`, a column or container; the page otherwise) with its text alternative.

    Outside text in the summary or the table (a tensor or student name) is shown literally
    (`plain`, or a data frame, which shows text as text).
    """
    with where if where is not None else st.container():
        st.plotly_chart(fig, key=key, **plotly_kwargs)
        if fig.layout.sliders:  # the figure's own slider (the explorers' bits): keyboard too
            keyboard_slider(key, fig.layout.sliders[0].name or "slider")
        st.caption(plain(alt.summary))
        if not alt.rows:
            return
        if open_table:
            _table(alt, key)
        else:
            # Drawn only once opened (the expander reruns its fragment or page when it is):
            # a page holds a dozen of these, and a class opening it at once would otherwise
            # pay every table's rendering (Arrow for the long ones) in every session.
            table = st.expander(
                f"Data table: {plain(_name(fig, alt))}", key=f"{key}-data", on_change="rerun"
            )
            if table.open:
                with table:
                    _table(alt, key)
