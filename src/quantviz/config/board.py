"""The `[board]` section of the instructor's secrets, parsed into a frozen `BoardConfig`.

Pure (no streamlit): pass `st.secrets` (or any mapping) in. Every value the app cannot use raises
`ConfigError` naming the key, so the UI can fail closed: no board at all rather than a board with
a guessed passcode or limit. Without a `[board]` section the board is off (`enabled` is False).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from quantviz.board.passcode import PasscodeFormatError, PasscodeHash, parse_hash
from quantviz.config import ConfigError

DEFAULT_CONNECTION = "board"
DATABASE_FILE = "quantviz-board.db"
DATA_DIR_ENV = "QUANTVIZ_DATA_DIR"
_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True)
class Limits:
    """What one submission and one class may hold, and how often a student may submit."""

    max_report_bytes: int = 512 * 1024
    max_name_chars: int = 40
    max_reason_chars: int = 600
    max_submissions: int = 500  # per class
    rate_limit_seconds: float = 20.0  # between two submissions of one student (session / store)
    session_max_submissions: int = 10  # per browser session


@dataclass(frozen=True)
class BoardConfig:
    """The class board as the instructor configured it."""

    enabled: bool = False
    class_code: str | None = field(default=None, repr=False)
    passcode_hash: PasscodeHash | None = field(default=None, repr=False)
    instructor_emails: tuple[str, ...] = field(default=(), repr=False)
    connection: str = DEFAULT_CONNECTION
    limits: Limits = field(default_factory=Limits)


def _int(cfg: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"[board] {key} must be a whole number, got {value!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"[board] {key} must be a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"[board] {key} must be between {low} and {high}, got {number}")
    return number


def _float(cfg: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = cfg.get(key, default)
    if isinstance(value, bool):
        raise ConfigError(f"[board] {key} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"[board] {key} must be a number, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"[board] {key} must be between {low:g} and {high:g}, got {number:g}")
    return number


def _section(secrets: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    try:
        section = secrets.get(name)
    except FileNotFoundError:  # st.secrets without any secrets.toml: a plain local run
        return None
    if section is None:
        return None
    if not isinstance(section, Mapping):
        raise ConfigError(f"[{name}] must be a section (a table), got {type(section).__name__}")
    return section


def load_board_config(secrets: Mapping[str, Any]) -> BoardConfig:
    """The `[board]` section; a missing section means no board. Raises ConfigError."""
    cfg = _section(secrets, "board")
    if cfg is None:
        return BoardConfig()
    known = {
        "class_code",
        "instructor_passcode_hash",
        "instructor_emails",
        "connection",
        "max_report_kib",
        "max_name_chars",
        "max_reason_chars",
        "max_submissions",
        "rate_limit_seconds",
        "session_max_submissions",
    }
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise ConfigError(f"[board] has unknown keys: {', '.join(unknown)}")

    code = cfg.get("class_code")
    if code is None or (isinstance(code, str) and not code.strip()):
        raise ConfigError("[board] class_code is missing: the code students type to submit")
    if not isinstance(code, str) or not _CODE_RE.match(code.strip()):
        raise ConfigError(
            "[board] class_code must be 3-64 letters, digits, '-' or '_' (starting with a "
            "letter or digit)"
        )

    passcode_hash = None
    raw_hash = cfg.get("instructor_passcode_hash")
    if raw_hash is not None:
        if not isinstance(raw_hash, str):
            raise ConfigError("[board] instructor_passcode_hash must be a string")
        try:
            passcode_hash = parse_hash(raw_hash)
        except PasscodeFormatError as exc:
            raise ConfigError(f"[board] instructor_passcode_hash: {exc}") from None

    emails = cfg.get("instructor_emails", [])
    if isinstance(emails, str) or not isinstance(emails, (list, tuple)):
        raise ConfigError('[board] instructor_emails must be a list, e.g. ["you@school.edu"]')
    for email in emails:
        if not isinstance(email, str) or not _EMAIL_RE.match(email.strip()):
            raise ConfigError(f"[board] instructor_emails: {email!r} is not an email address")

    connection = cfg.get("connection", DEFAULT_CONNECTION)
    if not isinstance(connection, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", connection):
        raise ConfigError("[board] connection must name a [connections.<name>] section")

    limits = Limits(
        max_report_bytes=_int(cfg, "max_report_kib", 512, 1, 16384) * 1024,
        max_name_chars=_int(cfg, "max_name_chars", 40, 2, 80),
        max_reason_chars=_int(cfg, "max_reason_chars", 600, 0, 4000),
        max_submissions=_int(cfg, "max_submissions", 500, 1, 100_000),
        rate_limit_seconds=_float(cfg, "rate_limit_seconds", 20.0, 0.0, 3600.0),
        session_max_submissions=_int(cfg, "session_max_submissions", 10, 1, 1000),
    )
    return BoardConfig(
        enabled=True,
        class_code=code.strip(),
        passcode_hash=passcode_hash,
        instructor_emails=tuple(e.strip().lower() for e in emails),
        connection=connection,
        limits=limits,
    )


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the default SQLite file lives: $QUANTVIZ_DATA_DIR, else ./data (gitignored)."""
    env = os.environ if env is None else env
    return Path(env.get(DATA_DIR_ENV) or "data").expanduser().resolve()


def default_url(env: Mapping[str, str] | None = None) -> str:
    return f"sqlite:///{data_dir(env) / DATABASE_FILE}"


def connection_url(
    secrets: Mapping[str, Any], name: str, env: Mapping[str, str] | None = None
) -> str:
    """The database URL the board's `st.connection(name, type="sql")` should use.

    `[connections.<name>] url` when the deployment sets one (Streamlit's convention), with a bare
    `postgresql://` given the psycopg (3) driver that quantviz installs; else the SQLite file in
    `data_dir()`. Raises ConfigError for a URL SQLAlchemy cannot read.
    """
    connections = _section(secrets, "connections") or {}
    section = connections.get(name)
    if section is None:
        return default_url(env)
    if not isinstance(section, Mapping):
        raise ConfigError(f"[connections.{name}] must be a section")
    raw = section.get("url")
    if raw is None:
        raise ConfigError(
            f'[connections.{name}] needs url = "postgresql://user:password@host:5432/db"'
        )
    try:
        url = make_url(str(raw))
    except ArgumentError:
        raise ConfigError(f"[connections.{name}] url is not a database URL") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("postgresql", "sqlite"):
        raise ConfigError(
            f"[connections.{name}] url must be a PostgreSQL or SQLite URL, got "
            f"{url.get_backend_name()!r}"
        )
    return url.render_as_string(hide_password=False)
