"""Lab recap (`data-lab-recap`, the Conclusion): the student's own figures, then where to go.

One line per Execute item of the lab, by objective: the student's saved answer, else what the app
measured for it (marked as not recorded yet), else that it is still open. Then the student's
deployment choice as they committed it, and links to the Evidence report and, when the class
has one, the class board. Everything the student typed is shown through `plain` (inert).
"""

from __future__ import annotations

import streamlit as st

from quantviz.config import ConfigError
from quantviz.config.board import load_board_config
from quantviz.report.measurements import NEITHER
from quantviz.report.records import RECORD_KIND, record_items, summary_rows
from quantviz.text import plain
from quantviz.ui import nav, session
from quantviz.ui.context import WidgetContext

MAX_SHOWN_CHARS = 300  # of one answer in the recap: the report has the whole text


def _short(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= MAX_SHOWN_CHARS else one_line[: MAX_SHOWN_CHARS - 1] + "…"


def _board_configured() -> bool:
    try:
        return load_board_config(st.secrets).enabled
    except ConfigError:
        return False


def render(ctx: WidgetContext) -> None:
    measurements = session.measurements()
    items = record_items(ctx.lab, measurements)
    records = [r.to_dict() for r in session.evidence().filter(RECORD_KIND)]
    rows = summary_rows(items, records)
    with st.container(border=True):
        st.subheader("Your figures", anchor=False)
        done = sum(r.value is not None for r in rows)
        st.caption(f"{done} of {len(rows)} Execute items recorded in your evidence.")
        lines: list[str] = []
        objective = None
        for r in rows:
            if r.objective != objective:
                objective = r.objective
                lines.append(f"\n**{plain(objective)}**\n")
            if r.value is not None:
                lines.append(f"- {plain(r.prompt)} **You**: {plain(_short(r.value))}")
            elif r.measured is not None:
                lines.append(
                    f"- {plain(r.prompt)} *Measured, not recorded yet*: {plain(_short(r.measured))}"
                )
            else:
                lines.append(f"- {plain(r.prompt)} *Not recorded yet.*")
        st.markdown("\n".join(lines))
        decision = measurements.decision
        if decision is not None:
            chose = "neither tag" if decision.choice == NEITHER else decision.choice
            st.markdown(
                f"**Your deployment choice**: {plain(chose)}. {plain(_short(decision.reason))}"
            )
        else:
            st.caption("No deployment choice committed yet (Objective 6).")
            nav.link_to_marker(ctx.lab, "tradeoff-decision", "Make your deployment decision")
        st.markdown("**Your report**")
        nav.link(nav.EVIDENCE, "Open your evidence report and download it", ":material/fact_check:")
        if _board_configured():
            nav.link(
                nav.CLASS_BOARD, "Compare with your class on the class board", ":material/groups:"
            )
