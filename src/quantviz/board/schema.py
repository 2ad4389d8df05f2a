"""The class board's tables, and the ordered migrations that build and upgrade them.

A database always goes through the same steps: version 1's tables, then each later migration in
order, each recorded in `schema_version`. A newer app upgrades an older database on start; an app
that finds a version newer than it knows refuses the database (`SchemaTooNew`) rather than
writing rows an older layout cannot hold.

Migrations run in one transaction under a lock (PostgreSQL: an advisory transaction lock;
SQLite: BEGIN IMMEDIATE), so two replicas starting at once cannot both apply one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from quantviz import __version__

# The tables as the code reads and writes them now (the latest version). They are not used to
# create anything: the migrations below do, so an old and a new database end up identical.
metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
    sa.Column("app_version", sa.String(32), nullable=False),
)

classes = sa.Table(
    "board_classes",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("is_open", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

_SIDES = ("q4", "q6")


def _figure_columns() -> list[sa.Column]:
    cols: list[sa.Column] = []
    for side in _SIDES:
        cols += [
            sa.Column(f"{side}_size_bytes", sa.BigInteger),
            sa.Column(f"{side}_bits_per_weight", sa.Float),
            sa.Column(f"{side}_tokens_per_s", sa.Float),
            sa.Column(f"{side}_probe_passed", sa.Integer),
            sa.Column(f"{side}_probe_total", sa.Integer),
        ]
    return cols


submissions = sa.Table(
    "board_submissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "class_code",
        sa.String(64),
        sa.ForeignKey("board_classes.code", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("name_key", sa.String(80), nullable=False),
    sa.Column("submitter", sa.String(64), nullable=False),
    sa.Column("submitted_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime),  # v2; set on every write
    sa.Column("resubmissions", sa.Integer, nullable=False, server_default="0"),  # v2
    *_figure_columns(),
    sa.Column("decision", sa.String(16)),
    sa.Column("decision_text", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("report_json", sa.Text, nullable=False),
    sa.Column("report_bytes", sa.Integer, nullable=False),
    sa.UniqueConstraint("class_code", "name_key", name="uq_board_name"),
    sa.UniqueConstraint("class_code", "submitter", name="uq_board_submitter"),
)


class SchemaTooNew(RuntimeError):
    """The database was made by a newer quantviz; this app refuses to touch it."""


def _v1(conn: Connection) -> None:
    """Version 1: classes and submissions with the extracted figures and the report."""
    v1 = sa.MetaData()
    sa.Table(
        "board_classes",
        v1,
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("is_open", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "board_submissions",
        v1,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "class_code",
            sa.String(64),
            sa.ForeignKey("board_classes.code", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("name_key", sa.String(80), nullable=False),
        sa.Column("submitter", sa.String(64), nullable=False),
        sa.Column("submitted_at", sa.DateTime, nullable=False),
        *_figure_columns(),
        sa.Column("decision", sa.String(16)),
        sa.Column("decision_text", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("report_json", sa.Text, nullable=False),
        sa.Column("report_bytes", sa.Integer, nullable=False),
        sa.UniqueConstraint("class_code", "name_key", name="uq_board_name"),
        sa.UniqueConstraint("class_code", "submitter", name="uq_board_submitter"),
    )
    v1.create_all(conn)


def _v2(conn: Connection) -> None:
    """Version 2: when a submission last changed and how often it was replaced.

    The store-side rate limit compares `updated_at`; version 1 rows count from their first
    submission.
    """
    conn.execute(sa.text("ALTER TABLE board_submissions ADD COLUMN updated_at TIMESTAMP"))
    conn.execute(
        sa.text("ALTER TABLE board_submissions ADD COLUMN resubmissions INTEGER NOT NULL DEFAULT 0")
    )
    conn.execute(sa.text("UPDATE board_submissions SET updated_at = submitted_at"))
    conn.execute(
        sa.text("CREATE INDEX ix_board_submissions_class ON board_submissions (class_code, id)")
    )


MIGRATIONS: tuple[tuple[int, Callable[[Connection], None]], ...] = ((1, _v1), (2, _v2))
LATEST = MIGRATIONS[-1][0]
_PG_LOCK_KEY = 0x5156_0015  # "QV", issue 15: one advisory lock for schema changes


def utcnow() -> datetime:
    """Now in UTC, naive (stored as such on both engines), to the microsecond."""
    return datetime.now(UTC).replace(tzinfo=None)


def current_version(conn: Connection) -> int:
    """The highest applied migration; 0 for a database without the board's tables."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return int(conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0)


def _refuse_if_newer(found: int) -> None:
    if found > LATEST:
        raise SchemaTooNew(
            f"The class board database is at schema version {found}, newer than this app "
            f"understands (version {LATEST}, quantviz {__version__}). Deploy the newer quantviz "
            "that created it, or point [connections.board] at another database."
        )


def migrate(conn: Connection) -> tuple[int, int]:
    """Bring the database to LATEST inside the caller's write transaction: (before, after).

    The caller holds the write lock (see `quantviz.board.store`); on PostgreSQL this also takes
    an advisory lock so that concurrent starters wait for each other.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    before = current_version(conn)
    _refuse_if_newer(before)
    if before == 0:
        schema_version.create(conn, checkfirst=True)
    for version, step in MIGRATIONS:
        if version <= before:
            continue
        step(conn)
        conn.execute(
            schema_version.insert().values(
                version=version, applied_at=utcnow(), app_version=__version__
            )
        )
    return before, LATEST
