"""Endpoint settings: which Ollama server the lab widgets use, and the student's own choice.

The student's endpoint and key live in this session's `st.session_state` only (see
`quantviz.ui.session`). The key field is a password field that is never filled with a stored
key: the page says that a key is set and offers to clear it. Saving goes through
`config.with_session`, which applies the instructor's rules and the hosted-safety rule.
"""

from __future__ import annotations

import streamlit as st

from quantviz.config import Settings, with_session
from quantviz.lab import Lab
from quantviz.lab.load import load_labs
from quantviz.ollama.client import check_connection
from quantviz.ollama.errors import OllamaError
from quantviz.text import plain
from quantviz.ui import nav, session
from quantviz.ui.ollama_common import SOURCE_LABELS, forget_errors, host_label

FIXED = "The instructor has fixed the endpoint for this class."
FIXED_BY_PROBLEM = "Your own endpoint is turned off while the app's configuration has a problem."
HOST_INPUT = "settings-host"
KEY_INPUT = "settings-api-key"
FLASH = "_quantviz_settings_flash"  # (kind, text) to show after a callback
CHECK = "_quantviz_settings_check"  # (host label, version or None, error message or None)


def _flash(kind: str, text: str) -> None:
    st.session_state[FLASH] = (kind, text)


def _save() -> None:
    """Form callback: validate and store the endpoint and key; always empty the key field."""
    typed_host = (st.session_state.get(HOST_INPUT) or "").strip()
    typed_key = (st.session_state.get(KEY_INPUT) or "").strip()
    st.session_state[KEY_INPUT] = ""
    key = typed_key or st.session_state.get(session.API_KEY) or None
    base = session.instructor_settings()
    if not base.allow_custom_endpoint:
        _flash("error", FIXED_BY_PROBLEM if base.failed_closed else FIXED)
        return
    try:
        result = with_session(base, typed_host or None, key)
    except OllamaError as exc:
        what = "refused" if exc.kind == "blocked" else "not valid"
        _flash("error", f"This endpoint is {what}: {plain(exc.message)}")
        return
    st.session_state[session.HOST_KEY] = result.host if result.host_source == "session" else ""
    st.session_state[HOST_INPUT] = st.session_state[session.HOST_KEY]
    if typed_key:
        st.session_state[session.API_KEY] = typed_key
    st.session_state.pop(CHECK, None)
    _flash(
        "success",
        f"Saved. Requests now go to `{host_label(result.host)}` with {result.key_status}.",
    )


def _clear_key() -> None:
    st.session_state.pop(session.API_KEY, None)
    st.session_state.pop(CHECK, None)
    _flash("info", "The API key was removed from this session.")


def _reset_host() -> None:
    st.session_state[session.HOST_KEY] = ""
    st.session_state[HOST_INPUT] = ""
    st.session_state.pop(CHECK, None)
    _flash("info", "Back to the instructor's endpoint.")


def _check(current: Settings) -> None:
    try:
        version = check_connection(current.endpoint)
    except OllamaError as exc:
        st.session_state[CHECK] = (host_label(current.host), None, exc.message)
        return
    session.remember_version(current.host, version)
    st.session_state[CHECK] = (host_label(current.host), version, None)
    forget_errors(current.endpoint)


def _in_use(current: Settings) -> None:
    st.header("In use", anchor=False)
    where = SOURCE_LABELS[current.host_source]
    st.markdown(
        f"- **Endpoint**: `{host_label(current.host)}` ({where})\n"
        f"- **API key**: {current.key_status}"
    )
    if st.button("Check connection", key="settings-check", icon=":material/network_check:"):
        _check(current)
    result = st.session_state.get(CHECK)
    if result is not None and result[0] == host_label(current.host):
        _, version, error = result
        if version is not None:
            st.success(
                f"Connected: Ollama {plain(version)} answers at `{result[0]}`.",
                icon=":material/check_circle:",
            )
        else:
            st.error(f"No connection to `{result[0]}`: {plain(error)}", icon=":material/error:")


def _tags(base: Settings) -> None:
    st.header("Model tags", anchor=False)
    rows = [
        {"label": label, "tag": tag, "named by": "the instructor's configuration or the default"}
        for label, tag in base.models.items()
    ]
    for lab in load_labs(reserved=nav.TOOL_PAGES):
        if isinstance(lab, Lab) and lab.models:
            rows += [
                {"label": label, "tag": tag, "named by": lab.title}
                for label, tag in lab.models.items()
            ]
    st.dataframe(rows, hide_index=True, key="settings-tags")
    st.caption("A lab's own `models:` map names the tags its widgets use.")


def _change(base: Settings) -> None:
    st.header("Your endpoint", anchor=False)
    allowed = base.allow_custom_endpoint
    if base.failed_closed:
        st.info(FIXED_BY_PROBLEM, icon=":material/lock:")
    elif not allowed:
        st.info(
            "The instructor has fixed the endpoint for this class "
            "(`allow_custom_endpoint = false`): it cannot be changed here.",
            icon=":material/lock:",
        )
    if HOST_INPUT not in st.session_state:
        st.session_state[HOST_INPUT] = st.session_state.get(session.HOST_KEY) or ""
    with st.form("settings-form", border=True):
        st.text_input(
            "Endpoint URL",
            key=HOST_INPUT,
            placeholder=f"{base.instructor_host} (the instructor's endpoint)",
            help="Empty means the instructor's endpoint. `host:port` means http:// and port "
            "11434 if no port is given; https:// needs its port unless it is 443.",
            disabled=not allowed,
        )
        st.text_input(
            "API key (optional)",
            key=KEY_INPUT,
            type="password",
            placeholder="leave empty to keep the current key",
            help="Sent only as an `Authorization: Bearer` header to this endpoint, kept only in "
            "this browser session, never shown again.",
            disabled=not allowed,
        )
        st.form_submit_button(
            "Save",
            on_click=_save,
            type="primary",
            disabled=not allowed,
            help=None if allowed else (FIXED_BY_PROBLEM if base.failed_closed else FIXED),
        )
    if st.session_state.get(session.API_KEY):
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.caption(":material/key: A key is set for this session.")
        right.button("Clear key", key="settings-clear-key", on_click=_clear_key)
    if st.session_state.get(session.HOST_KEY):
        st.button("Use the instructor's endpoint", key="settings-reset-host", on_click=_reset_host)


def _rules(base: Settings) -> None:
    st.header("Rules on this deployment", anchor=False)
    if base.failed_closed:
        private = "**refused** (the configuration has a problem)"
        custom = "turned off (the configuration has a problem)"
        pulls = "turned off (the configuration has a problem)"
    else:
        if base.allow_private_endpoints:
            private = "**allowed**"
        else:
            private = "**refused** (the instructor's `allow_private_endpoints = false`)"
        custom = "allowed" if base.allow_custom_endpoint else "fixed by the instructor"
        pulls = "allowed" if base.allow_pull else "turned off by the instructor"
    st.markdown(
        "\n".join(
            [
                "- Link-local addresses (169.254.0.0/16, fe80::/10) and cloud-metadata addresses "
                "(169.254.169.254, fd00:ec2::254, 100.100.100.200, ...) are always refused, "
                "whatever a name resolves to.",
                f"- Loopback and private-network endpoints (127.0.0.1, 10.x, 192.168.x, ...): "
                f"{private}.",
                f"- Your own endpoint: **{custom}**.",
                f"- Pulling models: **{pulls}**.",
                "- Your key stays in this browser session and is sent only as an "
                "`Authorization: Bearer` header to the endpoint you chose. The instructor's key "
                "is never sent to another host.",
            ]
        )
    )


def page() -> None:
    """The endpoint settings page (url path `settings`)."""
    st.title("Endpoint settings")
    st.caption(
        "Which Ollama server the lab widgets talk to. Defaults < the instructor's configuration "
        "< what you set here for this browser session."
    )
    base = session.instructor_settings()
    flash = st.session_state.pop(FLASH, None)
    if flash is not None:
        kind, text = flash
        {"error": st.error, "success": st.success}.get(kind, st.info)(text)
    current = session.settings()
    _in_use(current)
    _change(base)
    _tags(base)
    _rules(base)
