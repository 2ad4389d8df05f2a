"""Per-session state shared by the widgets: the endpoint in use and the evidence log.

Configuration precedence: defaults < env OLLAMA_HOST < the instructor's `[ollama]` secrets <
the student's endpoint and key for this session (settings page) ; a lab's `models:` map names
the tags for that lab. The student's key lives only in this session's `st.session_state`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import streamlit as st
from streamlit import config as streamlit_config

from quantviz.config import (
    InstructorConfig,
    Settings,
    instructor_config,
    with_lab_models,
    with_session,
)
from quantviz.lab import Lab
from quantviz.ollama.client import Endpoint
from quantviz.ollama.errors import OllamaError
from quantviz.report.evidence import EvidenceFull, EvidenceLog, EvidenceRecord, make_record
from quantviz.report.measurements import Measurements
from quantviz.text import plain

HOST_KEY = "quantviz_session_host"  # the student's endpoint URL, "" = the instructor's
API_KEY = "quantviz_session_api_key"  # the student's API key, never rendered back
_MEMO = "_quantviz_settings_memo"
EVIDENCE = "_quantviz_evidence"  # this session's EvidenceLog
MEASUREMENTS = "_quantviz_measurements"  # typed speeds and probe scores (report.measurements)
SERVER_VERSION = "quantviz_server_version"  # {host: version} once a check succeeded
_CONFIG_LOGGED = "_quantviz_config_logged"  # the problems this session has logged already
KEEP_VERSIONS = 8  # hosts whose version the session remembers
VERSION_CHARS = 64  # a version string is a few characters; a server may send any

log = logging.getLogger(__name__)

# What everyone sees while the configuration fails closed: nothing about what is wrong (a
# student must not learn the instructor's setup), only what it means for them.
CONFIG_NOTICE = (
    "This app runs with its safest settings because its configuration has a problem: your own "
    "endpoint and model pulls are turned off for now. Please tell your instructor; the details "
    "are in the server log."
)


def _instructor_config() -> InstructorConfig:
    """Defaults, env and the instructor's secrets, failing closed on any problem.

    A problem goes to the server log once per session (never the api_key's value): until the
    instructor page of issue 15 exists, the log is where the instructor reads it.
    """
    config = instructor_config(
        st.secrets, os.environ, secrets_files=streamlit_config.get_option("secrets.files")
    )
    if config.problems and st.session_state.get(_CONFIG_LOGGED) != config.problems:
        st.session_state[_CONFIG_LOGGED] = config.problems
        log.error("%s", config.report())
    return config


def instructor_settings() -> Settings:
    """The instructor's settings; with a configuration problem, the hosted protections are on."""
    return _instructor_config().settings


def config_problem() -> str | None:
    """The exact configuration problem, naming keys and files; None when there is none.

    For the instructor only (the instructor page of issue 15 shows it behind its passcode):
    never render it on a page every student sees. They get `config_notice()`.
    """
    return _instructor_config().report()


def config_notice() -> None:
    """The neutral notice, shown on every page while the configuration fails closed."""
    if instructor_settings().failed_closed:
        st.warning(CONFIG_NOTICE, icon=":material/shield:")


def settings(lab: Lab | None = None) -> Settings:
    """The settings this session uses, with the student's endpoint applied where allowed.

    The student's choice is checked (URL form, blocked address ranges) when it changes, not on
    every rerun: the result is memoised in the session.
    """
    base = instructor_settings()
    wanted = (st.session_state.get(HOST_KEY) or "", st.session_state.get(API_KEY) or "")
    memo = st.session_state.get(_MEMO)
    if memo and memo[0] == (wanted, base):
        current = memo[1]
    else:
        try:
            current = with_session(base, *wanted)
        except OllamaError as exc:
            st.warning(f"Your endpoint setting is not used: {plain(exc.message)}")
            current = with_session(base, None, wanted[1] or None)
        st.session_state[_MEMO] = ((wanted, base), current)
    return with_lab_models(current, lab.meta) if lab else current


def endpoint(lab: Lab | None = None) -> Endpoint:
    return settings(lab).endpoint


def remember_version(host: str, version: str) -> None:
    """Note the server version a check found, for the evidence report (bounded per session)."""
    known = st.session_state.get(SERVER_VERSION)
    known = dict(known) if isinstance(known, dict) else {}
    known.pop(host, None)
    known[host] = version[:VERSION_CHARS]
    while len(known) > KEEP_VERSIONS:
        del known[next(iter(known))]
    st.session_state[SERVER_VERSION] = known


def evidence() -> EvidenceLog:
    """This session's evidence log (refreshing the page starts a new session and a new log),
    held to the instructor's `[limits]` evidence_records and evidence_bytes."""
    log = st.session_state.get(EVIDENCE)
    if log is None:
        limits = instructor_settings().limits
        log = st.session_state[EVIDENCE] = EvidenceLog(
            max_records=limits.evidence_records, max_bytes=limits.evidence_bytes
        )
    return log


def record(
    kind: str, title: str, payload: dict[str, Any], *, replacing: str | None = None
) -> EvidenceRecord | None:
    """Add a measurement to the evidence log; see `quantviz.report.evidence.KINDS` for the kinds.

    With `replacing`, the record of this kind with the same `payload[replacing]` is replaced
    instead (`EvidenceLog.put`): a record field saved again is one record, never two. A full log
    keeps what it has: the record is not added and the page says why (None).
    """
    try:
        if replacing is None:
            return evidence().append(kind, title, payload)
        return evidence().put(make_record(kind, title, payload), replacing)
    except EvidenceFull as exc:
        st.warning(f"Not saved to your evidence: {exc}", icon=":material/inventory_2:")
        return None


def measurements() -> Measurements:
    """This session's typed measurements: the chat and the probe add, the decision reads."""
    current = st.session_state.get(MEASUREMENTS)
    if not isinstance(current, Measurements):
        current = st.session_state[MEASUREMENTS] = Measurements()
    return current
