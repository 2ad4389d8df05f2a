"""Class board for students: after submitting, the class's figures with their own point marked.

Classmates stay anonymous: the figures are built without names (`names=False`) and this page
shows no name but the student's own.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from quantviz.board.store import Submission
from quantviz.figures.board import (
    DECISION_LABELS,
    decisions_figure,
    decisions_text,
    probe_figure,
    probe_text,
    sizes_figure,
    sizes_text,
    speed_figure,
    speed_text,
)
from quantviz.text import plain
from quantviz.ui import board as board_ui
from quantviz.ui import nav
from quantviz.ui.chart import show_chart


def _fmt(value: float | int | None, spec: str, unit: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{unit}"


def _own_summary(own: Submission) -> None:
    f = own.figures
    st.markdown(
        f"**Your submission** as {plain(own.name)}: "
        f"Q4 {_fmt(f.q4.tokens_per_s, '.1f', ' tok/s')}, "
        f"Q6 {_fmt(f.q6.tokens_per_s, '.1f', ' tok/s')} · "
        f"decision: {DECISION_LABELS.get(f.decision or 'undecided', 'no decision')}"
    )


def page() -> None:
    st.title("Class board")
    st.caption(
        "What the whole class measured: sizes, speeds, probe results and decisions. Classmates "
        "are anonymous here; your own point is the black star."
    )
    active = board_ui.board(
        lambda: st.info(
            "There is no class board on this deployment: the instructor sets it up with a "
            "`[board]` section in the app's secrets.",
            icon=":material/info:",
        )
    )
    if active is None:
        return
    code = active.config.class_code or ""
    try:
        rows = active.store.submissions(code, token=board_ui.token())
        is_open = active.store.is_open(code)
    except SQLAlchemyError as exc:
        board_ui.show_store_error(exc)
        return
    own = next((r for r in rows if r.own), None)
    left, right = st.columns([1, 3], vertical_alignment="center")
    left.metric("Submissions", len(rows))
    right.button("Refresh", key="board-refresh", icon=":material/refresh:")
    if not is_open:
        st.caption(":material/lock: Submissions are closed.")
    if own is None:
        st.info(
            "Submit your evidence from the Evidence report page to see the class's results "
            "next to yours.",
            icon=":material/send:",
        )
        nav.link("evidence", "Go to the evidence report", ":material/fact_check:")
        return
    _own_summary(own)
    top_left, top_right = st.columns(2)
    show_chart(sizes_figure(rows), key="board-sizes", alt=sizes_text(rows), where=top_left)
    show_chart(speed_figure(rows), key="board-speed", alt=speed_text(rows), where=top_right)
    bottom_left, bottom_right = st.columns(2)
    show_chart(probe_figure(rows), key="board-probe", alt=probe_text(rows), where=bottom_left)
    show_chart(
        decisions_figure(rows), key="board-decisions", alt=decisions_text(rows), where=bottom_right
    )
