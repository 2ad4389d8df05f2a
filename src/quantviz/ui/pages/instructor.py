"""Instructor page: every submission of the class, its figures and reasons, exports, deletion,
and opening or closing submissions.

Access: where the deployment configures Streamlit authentication (`[auth]`) and
`[board] instructor_emails`, the instructor logs in with `st.login` and must be on that list
(an account whose provider says `email_verified = false` is refused); "Log out" closes the page
again. A login that `[auth]` keeps from working (a missing or wrong key, Authlib missing) leaves
the page locked with a message naming the key; the server log says the same, never a value.
Otherwise the instructor passcode, checked against `[board] instructor_passcode_hash` (scrypt,
constant-time compare). With neither configured the page stays locked. Access is remembered for
this browser session only; five wrong passcodes lock the form for a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from streamlit.errors import StreamlitAuthError

from quantviz.board.passcode import verify_passcode
from quantviz.board.store import Submission
from quantviz.config.auth import login_problems, provider_names
from quantviz.config.board import BoardConfig
from quantviz.figures.board import (
    DECISION_LABELS,
    decision_counts,
    decisions_figure,
    decisions_text,
    paired_figure,
    paired_text,
    speed_memory_figure,
    speed_memory_text,
)
from quantviz.text import plain
from quantviz.ui import board as board_ui
from quantviz.ui.chart import show_chart

UNLOCKED_KEY = "_quantviz_instructor_unlocked"
PASSCODE_KEY = "instructor-passcode"
ATTEMPTS_KEY = "_quantviz_instructor_attempts"  # monotonic times of wrong passcodes
FLASH_KEY = "_quantviz_instructor_flash"
MAX_ATTEMPTS = 5
LOCKOUT_S = 60.0
LOGIN_BROKEN = "The instructor login is not set up right, so this page stays locked"

log = logging.getLogger(__name__)


def _auth_section() -> Mapping[str, Any] | None:
    """The [auth] section of the secrets (None when there is none)."""
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError:
        return None
    return section if isinstance(section, Mapping) else None


def _auth_providers() -> list[str] | None:
    """Provider names under [auth] (None when there is no [auth] section)."""
    section = _auth_section()
    return None if section is None else provider_names(section)


def _uses_login(cfg: BoardConfig) -> bool:
    """True when the page is opened with st.login rather than the passcode."""
    return _auth_providers() is not None and bool(cfg.instructor_emails)


def _login(provider: str | None) -> None:
    """Button callback: start st.login, or say what in [auth] stops it (the page stays locked).

    Streamlit checks that the keys are there and that Authlib is installed, and raises
    StreamlitAuthError naming what is missing (never a value); `login_problems` checks what
    Streamlit would only find after the redirect. Anything else is named by its type alone: its
    text could quote a secret.
    """
    problems = login_problems(_auth_section() or {}, provider)
    try:
        if not problems:
            st.login(provider)  # None: the keys directly under [auth] ("default")
            return
        reason = "; ".join(problems)
    except StreamlitAuthError as exc:
        reason = " ".join(str(exc).split())  # Streamlit's text is indented over lines
    except Exception as exc:  # a value of the wrong kind deep in Streamlit or Authlib
        reason = f"Streamlit could not start the login ({type(exc).__name__}); check [auth]"
    log.error("Instructor login refused: %s", reason)
    st.session_state[FLASH_KEY] = f"{LOGIN_BROKEN}: {reason}"


def _check_passcode(cfg: BoardConfig) -> None:
    """Form callback: unlock on the right passcode; say what was wrong otherwise."""
    typed = str(st.session_state.get(PASSCODE_KEY) or "")
    st.session_state[PASSCODE_KEY] = ""
    now = time.monotonic()
    attempts = [t for t in st.session_state.get(ATTEMPTS_KEY, []) if now - t < LOCKOUT_S]
    if len(attempts) >= MAX_ATTEMPTS:
        st.session_state[FLASH_KEY] = "Too many wrong passcodes; wait a minute and try again."
        return
    if not typed:
        st.session_state[FLASH_KEY] = "Enter the instructor passcode."
        return
    if cfg.passcode_hash is not None and verify_passcode(typed, cfg.passcode_hash):
        st.session_state[UNLOCKED_KEY] = True
        st.session_state.pop(ATTEMPTS_KEY, None)
        return
    st.session_state[ATTEMPTS_KEY] = [*attempts, now]
    st.session_state[FLASH_KEY] = "Wrong passcode."


def _lock() -> None:
    st.session_state.pop(UNLOCKED_KEY, None)


def _gate(cfg: BoardConfig) -> bool:
    """True when this session may see the instructor's view; otherwise renders the way in."""
    providers = _auth_providers()
    if providers is not None and cfg.instructor_emails:
        if not st.user.get("is_logged_in"):
            flash = st.session_state.pop(FLASH_KEY, None)
            if flash:
                st.error(flash, icon=":material/block:")
            st.button(
                "Log in as the instructor",
                key="instructor-login",
                on_click=_login,
                args=(providers[0] if providers else None,),
                icon=":material/login:",
            )
            return False
        email = str(st.user.get("email") or "").strip().lower()
        # A provider that says the address is unverified does not vouch for it; one that says
        # nothing (some do not send the claim) is taken at its word.
        if email not in cfg.instructor_emails or st.user.get("email_verified") is False:
            st.error(
                f"{plain(email or 'This account')} is not an instructor of this class.",
                icon=":material/block:",
            )
            st.button("Log out", key="instructor-logout", on_click=st.logout)
            return False
        return True
    if st.session_state.get(UNLOCKED_KEY):
        return True
    if cfg.passcode_hash is None:
        st.error(
            "No instructor passcode is configured, so this page stays locked. Run "
            "`python -m quantviz hash-passcode` and paste its line into the `[board]` section "
            "of the app's secrets.",
            icon=":material/lock:",
        )
        return False
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.error(flash, icon=":material/block:")
    with st.form("instructor-passcode-form", border=True):
        st.text_input("Instructor passcode", type="password", key=PASSCODE_KEY)
        st.form_submit_button(
            "Unlock", on_click=_check_passcode, args=(cfg,), icon=":material/lock_open:"
        )
    return False


def _toggle_open(active: board_ui.Board, is_open: bool) -> None:
    try:
        active.store.set_open(active.config.class_code or "", not is_open)
    except SQLAlchemyError as exc:
        st.session_state[FLASH_KEY] = f"Could not change it ({type(exc).__name__})."


def _delete(active: board_ui.Board) -> None:
    chosen = st.session_state.get("instructor-delete-choice")
    if chosen is None:
        return
    try:
        gone = active.store.delete(active.config.class_code or "", int(chosen))
    except SQLAlchemyError as exc:
        st.session_state[FLASH_KEY] = f"Could not delete it ({type(exc).__name__})."
        return
    st.session_state[FLASH_KEY] = (
        f"Deleted submission #{chosen}." if gone else f"Submission #{chosen} was already gone."
    )


def _table(rows: list[Submission]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        f = r.figures
        out.append(
            {
                "#": r.id,
                "name": r.name,
                "updated": (r.updated_at or r.submitted_at).strftime("%Y-%m-%d %H:%M"),
                "Q4 GB": None if f.q4.size_bytes is None else f.q4.size_bytes / 1e9,
                "Q6 GB": None if f.q6.size_bytes is None else f.q6.size_bytes / 1e9,
                "Q4 bits/w": f.q4.bits_per_weight,
                "Q6 bits/w": f.q6.bits_per_weight,
                "Q4 tok/s": f.q4.tokens_per_s,
                "Q6 tok/s": f.q6.tokens_per_s,
                "Q4 probe": None
                if f.q4.probe_total is None
                else f"{f.q4.probe_passed}/{f.q4.probe_total}",
                "Q6 probe": None
                if f.q6.probe_total is None
                else f"{f.q6.probe_passed}/{f.q6.probe_total}",
                "decision": DECISION_LABELS.get(f.decision or "undecided", "no decision"),
                "reason": r.reason,
            }
        )
    return out


def _controls(
    active: board_ui.Board, rows: list[Submission], is_open: bool, *, logged_in: bool
) -> None:
    code = active.config.class_code or ""
    cols = st.columns([1, 1, 1, 1], vertical_alignment="center")
    cols[0].metric("Submissions", len(rows))
    cols[1].button(
        "Close submissions" if is_open else "Open submissions",
        key="instructor-toggle-open",
        on_click=_toggle_open,
        args=(active, is_open),
        icon=":material/lock:" if is_open else ":material/lock_open:",
        type="primary" if is_open else "secondary",
    )
    cols[2].button("Refresh", key="instructor-refresh", icon=":material/refresh:")
    if logged_in:  # the login opened the page: only logging out closes it
        cols[3].button(
            "Log out", key="instructor-logout", on_click=st.logout, icon=":material/logout:"
        )
    else:
        cols[3].button(
            "Lock this page", key="instructor-lock", on_click=_lock, icon=":material/logout:"
        )
    st.caption(f"Class code `{code}` · submissions are **{'open' if is_open else 'closed'}**.")
    try:
        csv_text = active.store.export_csv(code)
        json_text = active.store.export_json(code)
    except SQLAlchemyError as exc:
        board_ui.show_store_error(exc)
        return
    left, right, _ = st.columns([1, 1, 2])
    left.download_button(
        "Export CSV", data=csv_text, file_name=f"quantviz-board-{code}.csv", mime="text/csv",
        key="instructor-export-csv", icon=":material/table:", on_click="ignore",
    )  # fmt: skip
    right.download_button(
        "Export JSON", data=json_text, file_name=f"quantviz-board-{code}.json",
        mime="application/json", key="instructor-export-json", icon=":material/data_object:",
        on_click="ignore",
    )  # fmt: skip


def _figures(rows: list[Submission]) -> None:
    left, right = st.columns(2)
    for where, key, metric, title, axis in (
        (left, "speed", "tokens_per_s", "Tokens/s, Q4 and Q6", "tokens/s"),
        (right, "probe", "pass_rate", "Probe checks passed, Q4 and Q6", "% passed"),
    ):
        show_chart(
            paired_figure(rows, metric, title=title, axis_title=axis),
            key=f"instructor-paired-{key}",
            alt=paired_text(rows, metric, title=title, axis_title=axis),
            where=where,
        )
    left, right = st.columns(2)
    show_chart(
        speed_memory_figure(rows),
        key="instructor-speed-memory",
        alt=speed_memory_text(rows),
        where=left,
    )
    show_chart(
        decisions_figure(rows), key="instructor-decisions", alt=decisions_text(rows), where=right
    )


def _reasons(rows: list[Submission]) -> None:
    st.header("Reasons", anchor=False)  # h2 under the h1: no skipped level
    counts = decision_counts(rows)
    st.caption(" · ".join(f"{DECISION_LABELS[k]}: {n}" for k, n in counts.items()))
    given = [r for r in rows if r.reason]
    if not given:
        st.caption("No student has given a reason yet.")
    for r in given:
        decision = DECISION_LABELS.get(r.figures.decision or "undecided", "no decision")
        st.markdown(f"- **{plain(r.name)}** ({decision}): {plain(r.reason)}")


def _delete_form(active: board_ui.Board, rows: list[Submission]) -> None:
    with st.popover("Delete one submission", icon=":material/delete:", disabled=not rows):
        names = {r.id: f"#{r.id} {r.name}" for r in rows}
        st.selectbox(
            "Submission", options=list(names), format_func=lambda i: names[i],
            key="instructor-delete-choice",
        )  # fmt: skip
        st.button(
            "Delete it", key="instructor-delete", on_click=_delete, args=(active,), type="primary"
        )


def page() -> None:
    st.title("Class board: instructor")
    active = board_ui.board(
        lambda: st.info(
            "There is no class board on this deployment: add a `[board]` section to the app's "
            "secrets (see `.streamlit/secrets.toml.example`).",
            icon=":material/info:",
        )
    )
    if active is None:
        return
    if not _gate(active.config):
        return
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.info(flash, icon=":material/info:")
    code = active.config.class_code or ""
    try:
        rows = active.store.submissions(code)
        is_open = active.store.is_open(code)
    except SQLAlchemyError as exc:
        board_ui.show_store_error(exc)
        return
    _controls(active, rows, is_open, logged_in=_uses_login(active.config))
    st.dataframe(
        _table(rows), hide_index=True, key="instructor-table",
        column_config={
            "Q4 GB": st.column_config.NumberColumn(format="%.2f"),
            "Q6 GB": st.column_config.NumberColumn(format="%.2f"),
            "Q4 bits/w": st.column_config.NumberColumn(format="%.2f"),
            "Q6 bits/w": st.column_config.NumberColumn(format="%.2f"),
            "Q4 tok/s": st.column_config.NumberColumn(format="%.1f"),
            "Q6 tok/s": st.column_config.NumberColumn(format="%.1f"),
        },
    )  # fmt: skip
    _delete_form(active, rows)
    if rows:
        _figures(rows)
    _reasons(rows)
