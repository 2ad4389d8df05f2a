"""What the class board's pages share: its configuration, its store, the session's identity.

The store sits on `st.connection(<name>, type="sql")` (Streamlit caches that connection for the
whole process, which is what a shared class store wants): SQLite in `data/` unless
`[connections.<name>]` gives a URL. Everything that can go wrong (bad `[board]` secrets, a
database that is down or newer than the app) shows one clear error and no board: it fails closed.

Each browser session gets a random submitter token in its state; the store keeps only its
SHA-256. The per-session rate limit lives here too; the store enforces its own.
"""

from __future__ import annotations

import secrets as token_source
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from quantviz.board.schema import SchemaTooNew
from quantviz.board.store import BoardError, BoardStore
from quantviz.config import ConfigError
from quantviz.config.board import BoardConfig, connection_url, load_board_config

TOKEN_KEY = "_quantviz_board_token"
SUBMIT_TIMES_KEY = "_quantviz_board_submit_times"
SUBMITTED_KEY = "quantviz_board_submitted"  # the display name this session submitted under


@dataclass(frozen=True)
class Board:
    config: BoardConfig
    store: BoardStore


def config() -> BoardConfig | None:
    """The `[board]` configuration; None (after one st.error) when it cannot be used."""
    try:
        return load_board_config(st.secrets)
    except ConfigError as exc:
        st.error(
            f"The class board is off: the instructor configuration has a problem. {exc}",
            icon=":material/error:",
        )
        return None


def _connect(cfg: BoardConfig) -> BoardStore:
    url = connection_url(st.secrets, cfg.connection)
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"url": url}
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs["pool_pre_ping"] = True  # a hosted database may drop idle connections
    connection = st.connection(cfg.connection, type="sql", **kwargs)
    store = BoardStore(connection.engine, cfg.limits)
    store.ready(cfg.class_code or "")
    return store


def board(absent: Callable[[], object] | None = None) -> Board | None:
    """The configured board, ready to use; None (with the reason shown) when there is none.

    A deployment without a `[board]` section is not an error: `absent` draws what the caller
    says then (a caption, a notice), once the configuration has been read.
    """
    cfg = config()
    if cfg is None:
        return None
    if not cfg.enabled:
        if absent is not None:
            absent()
        return None
    try:
        return Board(cfg, _connect(cfg))
    except ConfigError as exc:
        st.error(f"The class board is off: {exc}", icon=":material/error:")
    except SchemaTooNew as exc:
        st.error(str(exc), icon=":material/error:")
    except (SQLAlchemyError, BoardError, OSError) as exc:
        st.error(
            "The class board's database does not answer, so the board is off for now "
            f"({type(exc).__name__}). Try again in a moment.",
            icon=":material/cloud_off:",
        )
    return None


def show_store_error(exc: Exception) -> None:
    """A refused request (BoardError) or a database failure, as one message, no traceback."""
    if isinstance(exc, BoardError):
        st.error(exc.message, icon=":material/block:")
    else:
        st.error(
            f"The class board's database failed ({type(exc).__name__}); try again in a moment.",
            icon=":material/cloud_off:",
        )


def token() -> str:
    """This session's submitter token (random, kept only in this session)."""
    value = st.session_state.get(TOKEN_KEY)
    if not value:
        value = st.session_state[TOKEN_KEY] = token_source.token_urlsafe(24)
    return value


def session_rate_check(cfg: BoardConfig) -> None:
    """Raise BoardError when this session submitted too recently or too often."""
    times: list[float] = st.session_state.get(SUBMIT_TIMES_KEY) or []
    limits = cfg.limits
    if len(times) >= limits.session_max_submissions:
        raise BoardError(
            "rate_limited",
            f"This session has submitted {len(times)} times, the most the instructor allows.",
        )
    if times:
        wait = limits.rate_limit_seconds - (time.monotonic() - times[-1])
        if wait > 0:
            raise BoardError(
                "rate_limited", f"You just submitted; wait {wait:.0f} s before submitting again."
            )


def note_submission(name: str) -> None:
    times: list[float] = st.session_state.setdefault(SUBMIT_TIMES_KEY, [])
    times.append(time.monotonic())
    st.session_state[SUBMITTED_KEY] = name
