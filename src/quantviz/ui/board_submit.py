"""The Evidence page's "Submit to the class board" form.

The report sent is `report_dict(log, context)`: credentials already redacted, and the session's
keys (`context.secrets`) passed on so the store scrubs them once more. The class code is checked
against the instructor's in constant time; limits and rate limits give a message, never a
traceback.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from quantviz.board.store import BoardError, resolve_class_code
from quantviz.report.evidence import EvidenceLog, ReportContext, report_dict
from quantviz.text import plain
from quantviz.ui import board as board_ui
from quantviz.ui import nav

NAME_KEY = "board-submit-name"
CODE_KEY = "board-submit-code"
REASON_KEY = "board-submit-reason"
FLASH_KEY = "_quantviz_board_submit_flash"


def _submit(log: EvidenceLog, context: ReportContext) -> None:
    """Form callback: check, then add or replace this session's submission."""
    active = board_ui.board()
    if active is None:
        return
    cfg, store = active.config, active.store
    try:
        code = resolve_class_code(st.session_state.get(CODE_KEY), cfg.class_code)
        board_ui.session_rate_check(cfg)
        result = store.submit(
            code,
            str(st.session_state.get(NAME_KEY) or ""),
            str(st.session_state.get(REASON_KEY) or ""),
            board_ui.token(),
            report_dict(log, context),
            secrets=context.secrets,
        )
    except (BoardError, SQLAlchemyError) as exc:
        st.session_state[FLASH_KEY] = ("error", exc)
        return
    name = " ".join(str(st.session_state.get(NAME_KEY)).split())
    board_ui.note_submission(name)
    verb = "replaced your earlier submission" if result.replaced else "is on the class board"
    st.session_state[FLASH_KEY] = ("success", f"Submitted as {plain(name)}: {verb}.")


def render_submit(log: EvidenceLog, context: ReportContext) -> None:
    """The form, or a line saying why there is none (no board configured, board closed)."""
    st.markdown("**Submit to the class board**")
    active = board_ui.board(lambda: st.caption("There is no class board on this deployment."))
    if active is None:
        return
    cfg = active.config
    limits = cfg.limits
    try:
        is_open = active.store.is_open(cfg.class_code or "")
    except SQLAlchemyError as exc:
        board_ui.show_store_error(exc)
        return
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash is not None:
        kind, payload = flash
        if kind == "error":
            board_ui.show_store_error(payload)
        else:
            st.success(payload, icon=":material/check_circle:")
            nav.link(nav.CLASS_BOARD, "See the class on the class board", ":material/groups:")
    if not is_open:
        st.info("Submissions to the class board are closed.", icon=":material/lock:")
        return
    st.caption(
        "Sends this report (without your API key or credentials) with a display name your "
        "classmates will not see: the class board shows them the figures only. Submitting "
        "again from this browser tab replaces your submission."
    )
    with st.form("board-submit-form", border=True):
        st.text_input(
            "Display name", key=NAME_KEY, max_chars=limits.max_name_chars,
            help="Shown to the instructor only. Unique in your class.",
        )  # fmt: skip
        st.text_input("Class code", key=CODE_KEY, help="The code your instructor gave you.")
        if limits.max_reason_chars:
            st.text_area(
                "Why did you decide as you did? (optional)",
                key=REASON_KEY,
                max_chars=limits.max_reason_chars,
            )
        st.form_submit_button(
            "Submit to the class board",
            on_click=_submit,
            args=(log, context),
            icon=":material/send:",
            disabled=not log,
        )
    if not log:
        st.caption("Measure something first: an empty log has nothing for the board.")
