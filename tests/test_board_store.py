"""The class board's store, on SQLite and on PostgreSQL (every test runs on both)."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from board_reports import Q4_TAG, report

from quantviz.board.schema import LATEST, SchemaTooNew
from quantviz.board.store import BoardError, BoardStore, resolve_class_code
from quantviz.config.board import Limits

DATA = Path(__file__).parent / "data"
CODE = "QV-TEST"
T0 = datetime(2025, 10, 1, 9, 0, 0)


def _token(n: int) -> str:
    return f"session-token-{n:04d}-abcdef"


@pytest.fixture
def store(board_engine) -> BoardStore:
    store = BoardStore(board_engine)
    store.prepare()
    store.ensure_class(CODE)
    return store


def _load_script(engine: sa.Engine, name: str) -> None:
    text = (DATA / f"{name}.{engine.dialect.name}.sql").read_text()
    statements = [s.strip() for s in text.split(";\n") if s.strip()]
    with engine.begin() as conn:
        for statement in statements:
            body = "\n".join(
                line for line in statement.splitlines() if not line.startswith("--")
            ).strip()
            if body:
                conn.exec_driver_sql(body)


def _all_text(engine: sa.Engine) -> str:
    """Every value of every board table, as text."""
    out = []
    with engine.connect() as conn:
        for table in ("board_classes", "board_submissions", "schema_version"):
            out += [repr(tuple(row)) for row in conn.exec_driver_sql(f"SELECT * FROM {table}")]
    return "\n".join(out)


def test_empty_database_gets_the_latest_schema(board_engine):
    """A new database is built by every migration in order, each recorded in schema_version."""
    store = BoardStore(board_engine)
    assert store.prepare() == (0, 2)
    inspector = sa.inspect(board_engine)
    assert {"schema_version", "board_classes", "board_submissions"} <= set(
        inspector.get_table_names()
    )
    columns = {c["name"] for c in inspector.get_columns("board_submissions")}
    assert {"updated_at", "resubmissions", "q4_tokens_per_s", "q6_probe_total", "reason"} <= columns
    with board_engine.connect() as conn:
        versions = [r[0] for r in conn.exec_driver_sql("SELECT version FROM schema_version")]
    assert sorted(versions) == [1, 2]
    # A second app start (another replica, a restart) finds nothing to do.
    assert BoardStore(board_engine).prepare() == (2, 2)


def test_version_1_database_is_upgraded_and_keeps_its_rows(board_engine):
    """A database left by schema version 1 is migrated; its submission keeps every figure, gains
    updated_at = submitted_at, and its owner can still replace it."""
    _load_script(board_engine, "board_v1")
    store = BoardStore(board_engine)
    assert store.prepare() == (1, 2)
    (old,) = store.submissions("QV-OLD", token="v1-session-token-grace")
    assert old.own and old.name == "Grace"
    assert old.submitted_at == datetime(2025, 9, 2, 9, 30)
    assert old.updated_at == old.submitted_at and old.resubmissions == 0
    assert (old.figures.q4.size_bytes, old.figures.q4.tokens_per_s) == (3_100_000_000, 41.5)
    assert (old.figures.q6.probe_passed, old.figures.q6.probe_total) == (7, 8)
    assert old.figures.decision == "Q4"
    assert old.reason == "Fits in 4 GB with room for 8k context."

    result = store.submit(
        "QV-OLD", "Grace H.", "Q6 after all.", "v1-session-token-grace",
        report(q4_speed=50.0, choice=None), now=datetime(2025, 10, 1),
    )  # fmt: skip
    assert result.replaced
    (new,) = store.submissions("QV-OLD")
    assert (new.id, new.name, new.resubmissions) == (1, "Grace H.", 1)
    assert new.figures.q4.tokens_per_s == 50.0 and new.figures.decision == "none"
    assert new.submitted_at == datetime(2025, 9, 2, 9, 30)  # the first submission's time
    other = store.submit("QV-OLD", "Alan", "", _token(2), report(), now=datetime(2025, 10, 1))
    assert other.id > 1  # the id sequence continues after the old row (PG may skip some)


def test_database_newer_than_the_app_is_refused_untouched(board_engine):
    """A schema_version above what this app knows stops it with a message naming both
    versions; nothing is created or changed."""
    with board_engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP "
            "NOT NULL, app_version VARCHAR(32) NOT NULL)"
        )
        conn.exec_driver_sql(
            "INSERT INTO schema_version VALUES (1, '2025-01-01 00:00:00', '0.1.0'), "
            f"({LATEST + 1}, '2026-01-01 00:00:00', '9.0.0')"
        )
    with pytest.raises(SchemaTooNew) as err:
        BoardStore(board_engine).prepare()
    assert f"schema version {LATEST + 1}, newer than this app" in str(err.value)
    assert f"(version {LATEST}," in str(err.value)
    assert sa.inspect(board_engine).get_table_names() == ["schema_version"]


def test_submission_stores_the_figures_of_the_report(store):
    """The typed columns hold the report's sizes, bits per weight, tokens/s, probe passes and
    decision; the student's reason is kept as typed (trimmed)."""
    result = store.submit(CODE, "  Ada   Lovelace ", " Q4 fits.\nQ6 does not. ", _token(1),
                          report(), now=T0)  # fmt: skip
    assert not result.replaced
    (row,) = store.submissions(CODE, token=_token(1))
    assert row.own and row.name == "Ada Lovelace"
    f = row.figures
    assert (f.q4.size_bytes, f.q6.size_bytes) == (3_110_000_000, 4_080_000_000)
    assert (f.q4.bits_per_weight, f.q6.bits_per_weight) == (4.97, 6.52)
    assert (f.q4.tokens_per_s, f.q6.tokens_per_s) == (42.0, 31.5)
    assert (f.q4.probe_passed, f.q4.probe_total, f.q6.probe_passed) == (6, 8, 7)
    assert f.decision == "Q4" and f.decision_text.startswith("Q4 fits with 0.4 GB")
    assert row.reason == "Q4 fits.\nQ6 does not."
    assert store.submissions(CODE, token=_token(2))[0].own is False


def test_resubmission_replaces_the_earlier_one(store):
    """The same session submitting again (after the rate limit) replaces its row, name
    included; the class still has one row for it."""
    store.submit(CODE, "Ada", "first", _token(1), report(q4_speed=40.0), now=T0)
    again = store.submit(
        CODE, "Ada L.", "second", _token(1), report(q4_speed=55.5), now=T0 + timedelta(minutes=5)
    )
    assert again.replaced
    (row,) = store.submissions(CODE)
    assert (row.name, row.reason, row.figures.q4.tokens_per_s) == ("Ada L.", "second", 55.5)
    assert row.resubmissions == 1
    assert row.submitted_at == T0 and row.updated_at == T0 + timedelta(minutes=5)


def test_a_taken_name_is_refused_to_another_session(store):
    """Names are unique per class regardless of case, width and spacing: another session
    cannot take (or overwrite) a classmate's name."""
    store.submit(CODE, "Ada Lovelace", "", _token(1), report(), now=T0)
    for name in ("ada lovelace", "ＡＤＡ  LOVELACE"):
        with pytest.raises(BoardError) as err:
            store.submit(CODE, name, "", _token(2), report(q4_speed=1.0), now=T0)
        assert err.value.kind == "name_taken"
        assert "is taken in this class" in err.value.message
    (row,) = store.submissions(CODE)
    assert row.figures.q4.tokens_per_s == 42.0


def test_store_side_rate_limit(board_engine):
    """A session replacing its submission sooner than rate_limit_seconds is refused by the
    store itself, and accepted once the time has passed."""
    store = BoardStore(board_engine, Limits(rate_limit_seconds=30))
    store.prepare()
    store.ensure_class(CODE)
    store.submit(CODE, "Ada", "", _token(1), report(), now=T0)
    with pytest.raises(BoardError) as err:
        store.submit(CODE, "Ada", "", _token(1), report(), now=T0 + timedelta(seconds=29))
    assert err.value.kind == "rate_limited" and "30 s" in err.value.message
    assert store.submit(CODE, "Ada", "", _token(1), report(), now=T0 + timedelta(seconds=31))


@pytest.mark.parametrize(
    ("name", "reason", "kind", "words"),
    [
        ("", "", "bad_name", "Enter a display name"),
        ("x" * 41, "", "bad_name", "41 characters; at most 40"),
        ("Ada\x1b[31m", "", "bad_name", "control characters"),
        ("Ada", "y" * 601, "bad_reason", "601 characters; at most 600"),
    ],
)
def test_name_and_reason_limits(store, name, reason, kind, words):
    """Names and reasons beyond the limits, or with control characters, are refused clearly."""
    with pytest.raises(BoardError) as err:
        store.submit(CODE, name, reason, _token(1), report(), now=T0)
    assert err.value.kind == kind and words in err.value.message
    assert store.submissions(CODE) == []


def test_report_size_limit(board_engine):
    """A report larger than max_report_bytes is refused with its size and the limit."""
    store = BoardStore(board_engine, Limits(max_report_bytes=4096))
    store.prepare()
    store.ensure_class(CODE)
    with pytest.raises(BoardError) as err:
        store.submit(CODE, "Ada", "", _token(1), report(note="n" * 5000), now=T0)
    assert err.value.kind == "too_large"
    assert "the class board takes at most 4 KiB" in err.value.message
    assert store.submit(CODE, "Ada", "", _token(1), report(note="short"), now=T0)


def test_class_capacity(board_engine):
    """A full class refuses newcomers but still lets a member replace their submission."""
    store = BoardStore(board_engine, Limits(max_submissions=2, rate_limit_seconds=0))
    store.prepare()
    store.ensure_class(CODE)
    store.submit(CODE, "A", "", _token(1), report(), now=T0)
    store.submit(CODE, "B", "", _token(2), report(), now=T0)
    with pytest.raises(BoardError) as err:
        store.submit(CODE, "C", "", _token(3), report(), now=T0)
    assert err.value.kind == "full" and "at most 2 submissions" in err.value.message
    assert store.submit(CODE, "A", "", _token(1), report(), now=T0 + timedelta(seconds=1)).replaced


def test_bad_or_missing_class_code(store):
    """An empty or unknown class code is refused before anything is written."""
    with pytest.raises(BoardError) as err:
        store.submit("", "Ada", "", _token(1), report(), now=T0)
    assert err.value.kind == "missing_code"
    with pytest.raises(BoardError) as err:
        store.submit("QV-NOPE", "Ada", "", _token(1), report(), now=T0)
    assert err.value.kind == "bad_code" and "class code is not right" in err.value.message
    assert store.submissions(CODE) == [] and store.submissions("QV-NOPE") == []


def test_closed_class_refuses_until_reopened(store):
    """Closing submissions refuses new ones with a message; reopening accepts them again."""
    store.set_open(CODE, False)
    assert store.is_open(CODE) is False
    with pytest.raises(BoardError) as err:
        store.submit(CODE, "Ada", "", _token(1), report(), now=T0)
    assert err.value.kind == "closed" and "closed by the instructor" in err.value.message
    store.set_open(CODE, True)
    assert store.submit(CODE, "Ada", "", _token(1), report(), now=T0)
    with pytest.raises(BoardError):
        store.set_open("QV-NOPE", False)


def test_report_without_board_figures_is_refused(store):
    """A report with only notes has nothing for the board and is refused, saying why."""
    from quantviz.report.evidence import EvidenceLog, report_dict

    log = EvidenceLog()
    log.append("note", "Note", {"text": "hello"})
    with pytest.raises(BoardError) as err:
        store.submit(CODE, "Ada", "", _token(1), report_dict(log), now=T0)
    assert err.value.kind == "no_figures" and "save a deployment decision" in err.value.message


def test_planted_keys_never_reach_the_database(store, board_engine):
    """Keys planted in a note, under a secret-looking field and in a URL's userinfo and query
    are absent from every stored value, whether or not report_dict redacted them first."""
    key = "sk-planted-5c1e0b7d9a"
    note = f"my key is {key}; endpoint http://me:{key}@gpu.example.org:11434/?token={key}"
    redacted = report((key,), note=note)
    store.submit(CODE, "Ada", "", _token(1), redacted, now=T0)
    raw = report(note=note)  # not redacted by report_dict: the store's own scrub must hold
    raw["records"].append({"kind": "note", "title": "t", "payload": {"api_key": key}})
    store.submit(CODE, "Bob", "", _token(2), raw, secrets=(key,), now=T0)
    stored = _all_text(board_engine)
    assert "gpu.example.org" in stored  # the notes were stored ...
    assert key not in stored  # ... without the key anywhere
    assert key not in store.export_json(CODE) and key not in store.export_csv(CODE)


def test_delete_one_submission(store):
    """Deleting removes exactly that row; a second delete of it reports nothing deleted."""
    a = store.submit(CODE, "Ada", "", _token(1), report(), now=T0)
    store.submit(CODE, "Bob", "", _token(2), report(), now=T0)
    assert store.delete(CODE, a.id) is True
    assert [s.name for s in store.submissions(CODE)] == ["Bob"]
    assert store.delete(CODE, a.id) is False


def test_csv_and_json_exports(store):
    """CSV has a header and one line per submission, with formula-like text defused; JSON
    holds the same figures and each stored report."""
    store.submit(CODE, "=HYPERLINK(1)", "-2+3 is why", _token(1), report(), now=T0)
    store.submit(CODE, "Bob", 'He said "Q6", then, Q4', _token(2), report(choice=None), now=T0)
    rows = list(csv.DictReader(io.StringIO(store.export_csv(CODE))))
    assert [r["name"] for r in rows] == ["'=HYPERLINK(1)", "Bob"]
    assert rows[0]["reason"] == "'-2+3 is why"
    assert rows[1]["reason"] == 'He said "Q6", then, Q4'
    assert (rows[0]["q4_tokens_per_s"], rows[0]["q6_probe_passed"]) == ("42.0", "7")
    assert [r["decision"] for r in rows] == ["Q4", "none"]
    assert "report_json" not in rows[0]
    data = json.loads(store.export_json(CODE))
    assert data["format"] == "quantviz-board/1" and data["class_code"] == CODE
    first = data["submissions"][0]
    assert first["name"] == "=HYPERLINK(1)" and first["q6_size_bytes"] == 4_080_000_000
    assert first["report"]["models"]["Q4"] == Q4_TAG


def test_hundred_concurrent_students_lose_nothing(board_engine):
    """100 threads submit at once (distinct students): all 100 rows are there, none failed."""
    store = BoardStore(board_engine)
    store.prepare()
    store.ensure_class(CODE)
    start = threading.Barrier(100)
    errors: list[BaseException] = []

    def student(i: int) -> None:
        try:
            start.wait()
            store.submit(CODE, f"Student {i:03d}", f"reason {i}", _token(i),
                         report(q4_speed=float(i + 1)), now=T0)  # fmt: skip
        except BaseException as exc:  # collected, reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=student, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = store.submissions(CODE)
    assert len(rows) == 100
    speeds = [r.figures.q4.tokens_per_s for r in rows]
    assert sorted(s for s in speeds if s is not None) == [float(i) for i in range(1, 101)]
    assert None not in speeds


def test_class_code_is_checked_against_the_configuration():
    """The typed code must match the configured one (case-insensitive); an empty or wrong code
    and a deployment without a class code each get their own message."""
    assert resolve_class_code("  qv-test ", "QV-TEST") == "QV-TEST"
    for typed, kind in (("", "missing_code"), (None, "missing_code"), ("QV-TEST2", "bad_code")):
        with pytest.raises(BoardError) as err:
            resolve_class_code(typed, "QV-TEST")
        assert err.value.kind == kind
    with pytest.raises(BoardError) as err:
        resolve_class_code("QV-TEST", None)
    assert err.value.kind == "no_board"
