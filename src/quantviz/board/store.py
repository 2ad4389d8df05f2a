"""The class board's store: submissions of one class, on any SQLAlchemy engine.

Pure (no streamlit): the app passes the engine of `st.connection("board", type="sql")`; tests and
benchmarks pass their own. SQLite (the default, one file) and PostgreSQL (a hosted class, several
replicas) are both supported and tested.

Identity: a submission belongs to one browser session, named by a random token kept in that
session's state (stored here only as its SHA-256). Within a class a display name is unique,
compared case- and width-insensitively. The same session submitting again replaces its row (also
when it changes its name); another session asking for a taken name is refused, so nobody can
overwrite a classmate. A student who lost their session (a refresh) submits under a new name or
asks the instructor to delete the old row.

Concurrency: every write is one upsert (`INSERT … ON CONFLICT (class_code, submitter) DO UPDATE`)
in a short transaction. SQLite runs in WAL mode, each write transaction starts with
`BEGIN IMMEDIATE` (so a writer waits for the lock up front instead of failing on an upgrade) with
a busy timeout, and a write that still finds the database busy is retried until a deadline.
PostgreSQL serialization failures and deadlocks are retried the same way.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import random
import threading
import time
import unicodedata
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from quantviz.board.extract import Figures, SideFigures, figures_from_report
from quantviz.board.schema import classes, migrate, submissions, utcnow
from quantviz.config.board import Limits
from quantviz.report.evidence import scrub, to_jsonable

T = TypeVar("T")
SQLITE_BUSY_TIMEOUT_MS = 10_000
WRITE_DEADLINE_S = 30.0
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class BoardError(Exception):
    """A submission or request the board refuses; `message` is for the student or instructor."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Submission:
    """One student's row. `own` is True for the row of the session that asked."""

    id: int
    name: str
    submitted_at: datetime
    updated_at: datetime | None
    resubmissions: int
    figures: Figures
    reason: str
    report_bytes: int
    own: bool = False

    def row(self) -> dict[str, Any]:
        """Flat values for a table or a CSV line (no report)."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "submitted_at": _iso(self.submitted_at),
            "updated_at": _iso(self.updated_at),
            "resubmissions": self.resubmissions,
        }
        out.update(self.figures.columns())
        out["reason"] = self.reason
        out["report_bytes"] = self.report_bytes
        return out


@dataclass(frozen=True)
class SubmitResult:
    id: int
    replaced: bool
    figures: Figures = field(default_factory=Figures)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def normalize_name(name: str, limits: Limits) -> tuple[str, str]:
    """(display name, uniqueness key) of a typed name, or BoardError saying what is wrong."""
    text = " ".join(str(name or "").split())
    if not text:
        raise BoardError("bad_name", "Enter a display name for the class board.")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise BoardError("bad_name", "The display name contains control characters.")
    if len(text) > limits.max_name_chars:
        raise BoardError(
            "bad_name",
            f"The display name has {len(text)} characters; at most {limits.max_name_chars}.",
        )
    return text, unicodedata.normalize("NFKC", text).casefold()


def normalize_reason(reason: str, limits: Limits) -> str:
    text = str(reason or "").strip().replace("\r\n", "\n")
    if any(unicodedata.category(c).startswith("C") and c not in "\n\t" for c in text):
        raise BoardError("bad_reason", "The reason contains control characters.")
    if len(text) > limits.max_reason_chars:
        raise BoardError(
            "bad_reason",
            f"The reason has {len(text)} characters; at most {limits.max_reason_chars}.",
        )
    return text


def resolve_class_code(typed: str | None, configured: str | None) -> str:
    """The configured class code if `typed` matches it (case-insensitive, constant time)."""
    if not configured:
        raise BoardError("no_board", "The class board is not set up on this deployment.")
    wanted = str(typed or "").strip()
    if not wanted:
        raise BoardError("missing_code", "Enter the class code your instructor gave you.")
    if not hmac.compare_digest(wanted.casefold().encode(), configured.casefold().encode()):
        raise BoardError("bad_code", "This class code is not right. Check it with your instructor.")
    return configured


def submitter_id(token: str) -> str:
    """What the store keeps of a session's token: its SHA-256, hex."""
    if not isinstance(token, str) or len(token) < 16:
        raise ValueError("a submitter token has at least 16 characters")
    return hashlib.sha256(token.encode()).hexdigest()


def safe_csv_cell(value: Any) -> Any:
    """A spreadsheet cannot run a student's text as a formula: such cells start with a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# --------------------------------------------------------------------------------------------
# Engine preparation


def _prepare_sqlite(conn: Connection) -> None:
    """Per DB-API connection, once: manual transactions, WAL, busy timeout, foreign keys."""
    raw = conn.connection.dbapi_connection
    assert raw is not None  # a checked-out connection has its DB-API connection
    info = conn.connection.info
    if info.get("quantviz_prepared"):
        return
    raw.isolation_level = None  # pysqlite must not BEGIN on its own; _begin does
    cursor = raw.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()
    info["quantviz_prepared"] = True


def _begin(conn: Connection) -> None:
    _prepare_sqlite(conn)
    write = conn.get_execution_options().get("quantviz_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def install_engine_hooks(engine: Engine) -> None:
    """SQLite: WAL, busy timeout, and BEGIN IMMEDIATE for writes. Idempotent; PG: nothing."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "begin", _begin):
        event.listen(engine, "begin", _begin)


def _retryable(exc: sa.exc.DBAPIError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text


# Process-wide facts about shared engines (no per-user data): the schema version each engine was
# brought to, and the classes known to exist in it.
_migrated: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()
_classes_ready: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()
_migrate_lock = threading.Lock()


class BoardStore:
    """Submissions of classes in one database. Call `prepare()` once before use."""

    def __init__(
        self, engine: Engine, limits: Limits | None = None, *, deadline_s: float = WRITE_DEADLINE_S
    ) -> None:
        self.engine = engine
        self.limits = limits or Limits()
        self.deadline_s = deadline_s
        install_engine_hooks(engine)

    # -- plumbing ------------------------------------------------------------------------------

    def _write(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one write transaction; retry while the database says it is busy."""
        deadline = time.monotonic() + self.deadline_s
        delay = 0.01
        while True:
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(quantviz_write=True)
                    with conn.begin():
                        return work(conn)
            except sa.exc.DBAPIError as exc:
                if not _retryable(exc):
                    raise
                if time.monotonic() + delay > deadline:
                    raise BoardError(
                        "busy", "The class board is busy right now; try again in a moment."
                    ) from exc
            time.sleep(delay * (0.5 + random.random()))  # back off, jittered, then try again
            delay = min(delay * 2, 0.5)

    def _read(self, work: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn, conn.begin():
            return work(conn)

    def prepare(self) -> tuple[int, int]:
        """Create or upgrade the schema (once per engine and process): (before, after)."""
        with _migrate_lock:
            if self.engine in _migrated:
                return _migrated[self.engine], _migrated[self.engine]
            result = self._write(migrate)
            _migrated[self.engine] = result[1]
            return result

    def ready(self, class_code: str) -> None:
        """`prepare()` and `ensure_class(class_code)`, each done once per engine and process."""
        self.prepare()
        with _migrate_lock:
            if class_code in _classes_ready.get(self.engine, set()):
                return
        self.ensure_class(class_code)
        with _migrate_lock:
            _classes_ready.setdefault(self.engine, set()).add(class_code)

    # -- classes ------------------------------------------------------------------------------

    def ensure_class(self, code: str) -> None:
        """Create the class (open) unless it exists; safe to call from every replica."""

        def work(conn: Connection) -> None:
            exists = conn.execute(sa.select(classes.c.code).where(classes.c.code == code)).first()
            if exists is None:
                conn.execute(
                    _insert(conn)(classes)
                    .values(code=code, is_open=True, created_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["code"])
                )

        self._write(work)

    def is_open(self, code: str) -> bool:
        row = self._read(
            lambda c: c.execute(sa.select(classes.c.is_open).where(classes.c.code == code)).first()
        )
        return bool(row and row[0])

    def set_open(self, code: str, is_open: bool) -> None:
        def work(conn: Connection) -> None:
            done = conn.execute(
                classes.update().where(classes.c.code == code).values(is_open=is_open)
            )
            if done.rowcount == 0:
                raise BoardError("bad_code", f"There is no class {code!r} on this board.")

        self._write(work)

    # -- submitting ---------------------------------------------------------------------------

    def submit(
        self,
        class_code: str,
        name: str,
        reason: str,
        token: str,
        report: Mapping[str, Any],
        *,
        secrets: Iterable[str] = (),
        now: datetime | None = None,
    ) -> SubmitResult:
        """Add or replace this session's submission; BoardError says why one is refused.

        `report` is `evidence.report_dict(...)`, already redacted; it is scrubbed once more here
        (secret-looking keys, credentialed URLs, every string in `secrets`) before it is stored.
        """
        if not class_code:
            raise BoardError("missing_code", "Enter the class code your instructor gave you.")
        display, key = normalize_name(name, self.limits)
        reason = normalize_reason(reason, self.limits)
        who = submitter_id(token)
        clean = scrub(to_jsonable(dict(report)), tuple(secrets))
        text = json.dumps(clean, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        size = len(text.encode("utf-8"))
        if size > self.limits.max_report_bytes:
            raise BoardError(
                "too_large",
                f"Your report is {size / 1024:.0f} KiB; the class board takes at most "
                f"{self.limits.max_report_bytes / 1024:.0f} KiB. Clear the log and record "
                "fewer chats, then submit again.",
            )
        figures = figures_from_report(clean)
        if figures.empty:
            raise BoardError(
                "no_figures",
                "Your evidence has none of the figures the class board collects yet: measure "
                "storage, chat or run the probe, and save a deployment decision first.",
            )
        when = now or utcnow()
        row = {
            "class_code": class_code,
            "name": display,
            "name_key": key,
            "submitter": who,
            "submitted_at": when,
            "updated_at": when,
            "resubmissions": 0,
            **figures.columns(),
            "reason": reason,
            "report_json": text,
            "report_bytes": size,
        }
        cutoff = when - timedelta(seconds=self.limits.rate_limit_seconds)

        def work(conn: Connection) -> SubmitResult:
            found = conn.execute(
                sa.select(classes.c.is_open)
                .where(classes.c.code == class_code)
                .with_for_update(read=True)
            ).first()
            if found is None:
                raise BoardError("bad_code", "This class code is not right.")
            if not found[0]:
                raise BoardError(
                    "closed", "Submissions to this class board are closed by the instructor."
                )
            mine = conn.execute(
                sa.select(submissions.c.id).where(
                    submissions.c.class_code == class_code, submissions.c.submitter == who
                )
            ).first()
            if mine is None:
                count = conn.execute(
                    sa.select(sa.func.count()).where(submissions.c.class_code == class_code)
                ).scalar_one()
                if count >= self.limits.max_submissions:
                    raise BoardError(
                        "full",
                        f"The class board holds at most {self.limits.max_submissions} "
                        "submissions and is full.",
                    )
            insert = _insert(conn)(submissions).values(**row)
            kept = ("class_code", "submitter", "submitted_at", "resubmissions")
            stmt = insert.on_conflict_do_update(
                index_elements=["class_code", "submitter"],
                set_={
                    **{k: insert.excluded[k] for k in row if k not in kept},
                    "resubmissions": submissions.c.resubmissions + 1,
                },
                where=sa.or_(
                    submissions.c.updated_at.is_(None), submissions.c.updated_at <= cutoff
                ),
            ).returning(submissions.c.id, submissions.c.resubmissions)
            try:
                result = conn.execute(stmt).first()
            except sa.exc.IntegrityError:
                raise BoardError(
                    "name_taken",
                    f"The name {display!r} is taken in this class. Choose another one (if it "
                    "is yours from an earlier browser tab, the instructor can delete that one).",
                ) from None
            if result is None:
                raise BoardError(
                    "rate_limited",
                    f"You submitted less than {self.limits.rate_limit_seconds:g} s ago; "
                    "wait a moment before replacing your submission.",
                )
            return SubmitResult(id=int(result[0]), replaced=int(result[1]) > 0, figures=figures)

        return self._write(work)

    # -- reading ------------------------------------------------------------------------------

    def submissions(self, class_code: str, token: str | None = None) -> list[Submission]:
        """Every submission of the class, oldest first; `own` marks the asking session's row."""
        who = submitter_id(token) if token else None

        def work(conn: Connection) -> list[Submission]:
            rows = conn.execute(
                sa.select(submissions)
                .where(submissions.c.class_code == class_code)
                .order_by(submissions.c.id)
            ).mappings()
            return [_submission(r, who) for r in rows]

        return self._read(work)

    def report(self, class_code: str, submission_id: int) -> dict[str, Any] | None:
        text = self._read(
            lambda c: c.execute(
                sa.select(submissions.c.report_json).where(
                    submissions.c.class_code == class_code, submissions.c.id == submission_id
                )
            ).scalar()
        )
        return json.loads(text) if text else None

    def delete(self, class_code: str, submission_id: int) -> bool:
        def work(conn: Connection) -> bool:
            done = conn.execute(
                submissions.delete().where(
                    submissions.c.class_code == class_code, submissions.c.id == int(submission_id)
                )
            )
            return done.rowcount > 0

        return self._write(work)

    def export_csv(self, class_code: str) -> str:
        """One line per submission: the figures, the decision and the reason (no report)."""
        rows = [s.row() for s in self.submissions(class_code)]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(_row_fields()), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: safe_csv_cell(v) for k, v in row.items()})
        return out.getvalue()

    def export_json(self, class_code: str) -> str:
        """Every submission with its figures, reason and the stored (redacted) report."""

        def work(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                sa.select(submissions)
                .where(submissions.c.class_code == class_code)
                .order_by(submissions.c.id)
            ).mappings()
            return [
                {**_submission(r, None).row(), "report": json.loads(r["report_json"])} for r in rows
            ]

        data: dict[str, Any] = {
            "format": "quantviz-board/1",
            "class_code": class_code,
            "submissions": [],
        }
        data["submissions"] = self._read(work)
        return json.dumps(data, indent=2, ensure_ascii=False)


def _row_fields() -> list[str]:
    empty = Submission(0, "", datetime(2000, 1, 1), None, 0, Figures(), "", 0)
    return list(empty.row())


def _side(r: Mapping[Any, Any], side: str) -> SideFigures:
    return SideFigures(
        size_bytes=r[f"{side}_size_bytes"],
        bits_per_weight=r[f"{side}_bits_per_weight"],
        tokens_per_s=r[f"{side}_tokens_per_s"],
        probe_passed=r[f"{side}_probe_passed"],
        probe_total=r[f"{side}_probe_total"],
    )


def _submission(r: Mapping[Any, Any], who: str | None) -> Submission:
    return Submission(
        id=int(r["id"]),
        name=r["name"],
        submitted_at=r["submitted_at"],
        updated_at=r["updated_at"],
        resubmissions=int(r["resubmissions"] or 0),
        figures=Figures(
            q4=_side(r, "q4"),
            q6=_side(r, "q6"),
            decision=r["decision"],
            decision_text=r["decision_text"],
        ),
        reason=r["reason"],
        report_bytes=int(r["report_bytes"]),
        own=who is not None and r["submitter"] == who,
    )


def _insert(conn: Connection) -> Callable[..., Any]:
    """The dialect's INSERT with ON CONFLICT support."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert
    raise BoardError(
        "bad_database",
        f"The class board runs on SQLite or PostgreSQL, not {conn.dialect.name}.",
    )


__all__ = [
    "BoardError",
    "BoardStore",
    "Submission",
    "SubmitResult",
    "normalize_name",
    "resolve_class_code",
]
