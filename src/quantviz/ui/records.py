"""A lab's record field on the page: the Execute item, a text box, the measured value, Save.

The box starts with the student's saved answer, else with what the app measured for the item
(`report.measurements`, through `report.records.record_items`), which the student may edit or
annotate. While the student has not typed in it, a newer measurement replaces the pre-filled
text; once they have, it stays theirs and the measured value is shown beside it. **Save to my
evidence** adds a `record` evidence record, or replaces the one saved before (one per item).
What the student types is shown in the box only (inert); reports escape it.
"""

from __future__ import annotations

import streamlit as st

from quantviz.lab import Lab, RecordField, Section
from quantviz.report.measurements import measured_text
from quantviz.report.records import (
    RECORD_KEY,
    RECORD_KIND,
    RecordItem,
    clip,
    objective_label,
    record_payload,
    record_title,
    saved_values,
)
from quantviz.text import plain
from quantviz.ui import session

# {field key: (its measured keys, the measured text it showed)} for the page drawn last.
SHOWN_KEY = "_quantviz_record_measured_shown"


def forget_shown() -> None:
    """A page starts drawing: the record fields it shows are listed afresh."""
    st.session_state[SHOWN_KEY] = {}


def shown_measurements_changed() -> bool:
    """True when a record field of the page drawn last would now show another measured value.

    A widget that measures inside its own fragment (a prediction revealed, a chat reply, a probe
    run) reruns only that fragment, so the record fields of the page, drawn by the full run,
    still show the value from before; `registry.fragment` then asks for one full run.
    """
    shown = st.session_state.get(SHOWN_KEY) or {}
    if not shown:
        return False
    current = session.measurements()
    return any(measured_text(current, keys) != text for keys, text in shown.values())


def field_key(lab: Lab, field: RecordField) -> str:
    """The text box's key: `record-lab2-obj3-savings` (stable while the lab's ids are)."""
    return f"record-lab{lab.order}-{field.id}"


def render_record(lab: Lab, section: Section, field: RecordField) -> None:
    key = field_key(lab, field)
    measured = measured_text(session.measurements(), field.measured) if field.measured else None
    item = RecordItem(field.id, objective_label(section), field.prompt, measured)
    saved = saved_values(r.to_dict() for r in session.evidence().filter(RECORD_KIND))
    saved_value = saved.get(field.id, {}).get("value")
    prefill_key = f"{key}-prefill"
    state = st.session_state
    if key not in state or (
        measured is not None
        and state.get(key) == state.get(prefill_key)
        and state.get(key) != measured
        and saved_value is None
    ):
        # first visit, or the box still holds only what the app put there: show the latest
        start = saved_value if isinstance(saved_value, str) else (measured or "")
        state[key] = state[prefill_key] = start

    if field.measured:
        st.session_state.setdefault(SHOWN_KEY, {})[key] = (field.measured, measured)
    st.markdown(field.markdown)
    limit = session.instructor_settings().limits.record_chars
    with st.container(border=True):
        value = st.text_area(
            f"Your record: {field.prompt}",
            key=key,
            max_chars=limit,
            height=100,
            label_visibility="collapsed",
            placeholder="Your answer, in your own words and figures",
        )
        if field.measured:
            if measured is None:
                st.caption("Not measured yet in this session: the widget above measures it.")
            else:
                st.caption("Measured by the app (pre-filled above; edit or annotate it):")
                st.markdown("\n\n".join(plain(line) for line in measured.splitlines()))
        left, right = st.columns([1, 3])
        saved_now = isinstance(saved_value, str) and saved_value == clip(value, limit)
        just_saved = False
        if left.button("Save to my evidence", key=f"{key}-save", icon=":material/save:"):
            if not value.strip():
                right.warning("Write your answer first: an empty record is not saved.")
            elif session.record(
                RECORD_KIND,
                record_title(item),
                record_payload(item, value, limit),
                replacing=RECORD_KEY,
            ):
                saved_now = just_saved = True
        if just_saved:  # a status message, not st.toast (a dialog without a name: issue 18)
            right.success("Saved in your evidence.", icon=":material/check:")
        elif saved_now:
            right.caption(":material/check: Saved in your evidence.")
        elif isinstance(saved_value, str):
            right.caption("Changed since you saved it: save again to replace the saved answer.")
