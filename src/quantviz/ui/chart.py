"""The one way a chart reaches the page: the figure, its summary sentence, its data table.

Every widget and page calls `show_chart` rather than `st.plotly_chart`
(`tests/test_architecture.py` checks it), so every chart carries a text alternative (issue 18,
WCAG 1.1.1): the `ChartText` its figure builder's neighbour in `quantviz.figures` computed, shown
as a caption right under the chart (a screen reader reaches it next), and the numbers behind the
chart in a collapsed "Data table: <name>" expander, as a data frame a keyboard can walk.
"""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from quantviz.figures.alt import ChartText
from quantviz.text import plain


def _name(fig: go.Figure, alt: ChartText) -> str:
    """The table's name: the ChartText's, else the figure's own title (plotly-escaped text)."""
    if alt.name:
        return alt.name
    title = fig.layout.title.text if fig.layout.title else None
    return html.unescape(title) if title else "the chart above"


def show_chart(
    fig: go.Figure,
    *,
    key: str,
    alt: ChartText,
    where: DeltaGenerator | None = None,
    **plotly_kwargs: Any,
) -> None:
    """`fig` (in `where`, a column or container; the page otherwise) with its text alternative.

    Outside text in the summary (a tensor or student name) is shown literally (`plain`); the
    table's cells go to a data frame, which shows text as text.
    """
    with where if where is not None else st.container():
        st.plotly_chart(fig, key=key, **plotly_kwargs)
        st.caption(plain(alt.summary))
        with st.expander(f"Data table: {plain(_name(fig, alt))}"):
            st.dataframe(alt.table(), hide_index=True, key=f"{key}-table")
