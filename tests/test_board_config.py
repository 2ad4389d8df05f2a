"""The `[board]` secrets section and the board's database URL."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from quantviz.config import ConfigError
from quantviz.config.board import connection_url, load_board_config

HASH = (
    "scrypt$n=16384,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$"
    "cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw=="
)
QV1 = {"class_code": "QV1"}
EXAMPLE = Path(__file__).resolve().parents[1] / ".streamlit" / "secrets.toml.example"


def test_without_a_section_the_board_is_off():
    """No [board] section (or no secrets file at all) means no board, not an error."""
    assert load_board_config({}).enabled is False

    class NoFile(dict):
        def get(self, key, default=None):
            raise FileNotFoundError("no secrets.toml")

    assert load_board_config(NoFile()).enabled is False


def test_full_section():
    """Every key is read; limits come in the documented units; emails are lower-cased."""
    cfg = load_board_config(
        {
            "board": {
                "class_code": " QV-2025-A ",
                "instructor_passcode_hash": HASH,
                "instructor_emails": ["Prof@School.edu"],
                "connection": "classdb",
                "max_report_kib": 64,
                "max_name_chars": 30,
                "max_reason_chars": 300,
                "max_submissions": 120,
                "rate_limit_seconds": 5,
                "session_max_submissions": 3,
            }
        }
    )
    assert cfg.enabled and cfg.class_code == "QV-2025-A" and cfg.passcode_hash is not None
    assert cfg.instructor_emails == ("prof@school.edu",) and cfg.connection == "classdb"
    limits = cfg.limits
    assert (limits.max_report_bytes, limits.max_name_chars, limits.max_reason_chars) == (
        65536,
        30,
        300,
    )
    assert (limits.max_submissions, limits.rate_limit_seconds) == (120, 5.0)
    assert limits.session_max_submissions == 3
    assert "QV-2025-A" not in repr(cfg) and HASH not in repr(cfg)


def test_defaults():
    """Only a class code: no passcode, the `board` connection and the default limits."""
    cfg = load_board_config({"board": {"class_code": "QV1"}})
    assert cfg.passcode_hash is None and cfg.connection == "board"
    assert (cfg.limits.max_report_bytes, cfg.limits.max_name_chars) == (512 * 1024, 40)
    assert (cfg.limits.rate_limit_seconds, cfg.limits.max_submissions) == (20.0, 500)


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({}, "[board] class_code is missing"),
        ({"class_code": "  "}, "[board] class_code is missing"),
        ({"class_code": "a b"}, "[board] class_code must be 3-64 letters"),
        ({"class_code": 2025}, "[board] class_code must be 3-64 letters"),
        ({**QV1, "instructor_passcode_hash": "hunter22"},
         "[board] instructor_passcode_hash: it must look like scrypt$"),
        ({**QV1, "instructor_emails": "a@x.org"}, "[board] instructor_emails must be a list"),
        ({**QV1, "instructor_emails": ["not an email"]}, "is not an email address"),
        ({**QV1, "max_name_chars": 500}, "[board] max_name_chars must be between 2 and"),
        ({**QV1, "max_report_kib": "lots"}, "[board] max_report_kib must be a whole"),
        ({**QV1, "rate_limit_seconds": True}, "[board] rate_limit_seconds must be a"),
        ({**QV1, "passcode": "plain"}, "[board] has unknown keys: passcode"),
        ({**QV1, "connection": "a b"}, "[board] connection must name"),
    ],
)  # fmt: skip
def test_bad_values_fail_closed_naming_the_key(section, words):
    """Each unusable value raises ConfigError naming its key (the UI then shows no board)."""
    with pytest.raises(ConfigError) as err:
        load_board_config({"board": section})
    assert words in str(err.value)


def test_board_must_be_a_section():
    """`board = "x"` instead of a [board] table is a clear error."""
    with pytest.raises(ConfigError, match=r"\[board\] must be a section"):
        load_board_config({"board": "QV1"})


def test_default_url_is_a_sqlite_file_in_the_data_dir(tmp_path):
    """Without [connections.board], the board is the SQLite file in $QUANTVIZ_DATA_DIR."""
    url = connection_url({}, "board", {"QUANTVIZ_DATA_DIR": str(tmp_path)})
    assert url == f"sqlite:///{tmp_path}/quantviz-board.db"


def test_postgres_url_from_the_streamlit_connection_section():
    """[connections.board] url wins; a bare postgresql:// gets the installed psycopg driver."""
    secrets = {"connections": {"board": {"url": "postgresql://qv:pw@db.example.org:5432/class"}}}
    assert connection_url(secrets, "board", {}) == (
        "postgresql+psycopg://qv:pw@db.example.org:5432/class"
    )
    other = {"connections": {"classdb": {"url": "postgresql+psycopg://u@h/d"}}}
    assert connection_url(other, "classdb", {}) == "postgresql+psycopg://u@h/d"


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"dialect": "postgresql"}, "[connections.board] needs url"),
        ({"url": "not a url"}, "[connections.board] url is not a database URL"),
        ({"url": "mysql://u@h/d"}, "must be a PostgreSQL or SQLite URL, got 'mysql'"),
    ],
)
def test_bad_connection_sections(section, words):
    """A connection section the board cannot use fails with the section's name."""
    with pytest.raises(ConfigError) as err:
        connection_url({"connections": {"board": section}}, "board", {})
    assert words in str(err.value)


def test_example_secrets_file_documents_the_board():
    """secrets.toml.example documents every [board] key; its section loads once the placeholder
    hash is replaced by a real one (as printed by hash-passcode), and fails closed before."""
    text = EXAMPLE.read_text()
    keys = ["class_code", "instructor_passcode_hash", "instructor_emails", "connection"]
    keys += ["max_report_kib", "max_name_chars", "max_reason_chars", "max_submissions"]
    keys += ["rate_limit_seconds", "session_max_submissions", "[connections.board]"]
    for key in keys:
        assert key in text
    secrets = tomllib.loads(text)
    with pytest.raises(ConfigError, match="instructor_passcode_hash"):
        load_board_config(secrets)
    secrets["board"]["instructor_passcode_hash"] = HASH
    assert load_board_config(secrets).class_code == "QV-2025-A"
