"""AppTest of the class board: the submit form, the students' page and the instructor's page."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest
import sqlalchemy as sa
from apptest_utils import go_to, open_page, texts
from board_reports import evidence_log, report

from quantviz.board.store import BoardStore
from quantviz.ui import board_submit, session

CODE = "QV-APPTEST"
PASSCODE = "pleaseletmein"
# RFC 7914's published scrypt("pleaseletmein", "SodiumChloride", N=16384, r=8, p=1) key.
PASSCODE_HASH = (
    "scrypt$n=16384,r=8,p=1$"
    + base64.b64encode(b"SodiumChloride").decode()
    + "$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw=="
)
CLASSMATE = "Zed Classmate"


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'board.db'}"


def _secrets(db_url: str, **board) -> dict:
    return {
        "board": {"class_code": CODE, "instructor_passcode_hash": PASSCODE_HASH, **board},
        "connections": {"board": {"url": db_url}},
    }


def _store(db_url: str) -> BoardStore:
    store = BoardStore(sa.create_engine(db_url))
    store.ready(CODE)
    return store


def _evidence_page(secrets: dict):
    at = open_page("evidence", secrets=secrets)
    at.session_state[session.EVIDENCE] = evidence_log(q4_speed=44.0, q6_speed=33.0)
    at.run()
    assert not at.exception, at.exception
    return at


def _submit(at, name: str, code: str, reason: str = "") -> None:
    at.text_input(key=board_submit.NAME_KEY).input(name)
    at.text_input(key=board_submit.CODE_KEY).input(code)
    at.text_area(key=board_submit.REASON_KEY).input(reason)
    next(b for b in at.button if b.label == "Submit to the class board").click().run()
    assert not at.exception, at.exception


def _goto(at, url_path: str) -> None:
    go_to(at, url_path)
    assert not at.exception, at.exception


def _chart(at, key: str) -> dict:
    import json

    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if chart.proto.id and key in chart.proto.id:
            return spec
    raise AssertionError(f"no chart {key}")


def test_submit_then_see_the_class_anonymously(db_url):
    """A student submits from the Evidence page, then the class board shows the class's figures
    with their own point as a star, and never a classmate's name."""
    classmate = report(q4_speed=20.0, q6_speed=19.0)
    _store(db_url).submit(CODE, CLASSMATE, "Q6 is worth it.", "classmate-token-0001", classmate,
                          now=datetime(2025, 10, 1))  # fmt: skip
    at = _evidence_page(_secrets(db_url))
    _submit(at, "Ada", " qv-apptest ", "Q4 fits my 4 GB card.")
    assert "Submitted as Ada: is on the class board." in texts(at)

    _goto(at, "class-board")
    shown = texts(at)
    assert "Submissions: 2" in shown
    assert "**Your submission** as Ada: Q4 44.0 tok/s, Q6 33.0 tok/s · decision: Q4" in shown
    assert len(at.get("plotly_chart")) == 4
    speed = _chart(at, "board-speed")
    you = next(t for t in speed["data"] if t.get("name") == "You")
    assert (you["x"], you["y"]) == ([44.0], [33.0])
    machines = next(t for t in speed["data"] if t.get("name") == "a student's machine")
    assert sorted(machines["x"]) == [20.0, 44.0]
    page_text = shown + "".join(c.proto.spec for c in at.get("plotly_chart"))
    # Each chart has its text alternative: a sentence under it and its numbers as a table.
    assert "Tokens per second, Q4 against Q6, for 2 students" in shown
    labels = [e.label for e in at.expander]
    assert labels == [
        "Data table: sizes and bits per weight",
        "Data table: tokens per second",
        "Data table: probe checks passed",
        "Data table: decisions taken",
    ]
    assert not [m for m in at.markdown if m.value.startswith("| ")]  # drawn once opened
    for chart in ("sizes", "speed", "probe", "decisions"):
        at.session_state[f"board-{chart}-data"] = True
    at.run()
    tables = [m.value for m in at.markdown if m.value.startswith("| ")]  # the charts' order
    speed_table = tables[1].splitlines()
    assert speed_table[0] == "| student | Q4 tokens/s | Q6 tokens/s |"
    assert sorted(line.split(" | ")[1] for line in speed_table[2:]) == ["20", "44"]
    assert any(line.startswith("| you |") for line in speed_table[2:])
    page_text += "".join(tables)
    assert CLASSMATE not in page_text and "Q6 is worth it" not in page_text


def test_resubmitting_replaces(db_url):
    """Submitting again from the same session (rate limit 0) replaces the row."""
    at = _evidence_page(_secrets(db_url, rate_limit_seconds=0))
    _submit(at, "Ada", CODE)
    _submit(at, "Ada L.", CODE)
    assert "Submitted as Ada L\\.: replaced your earlier submission." in texts(at)
    (row,) = _store(db_url).submissions(CODE)
    assert row.name == "Ada L." and row.resubmissions == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "Enter the class code your instructor gave you."),
        ("QV-WRONG", "This class code is not right. Check it with your instructor."),
    ],
)
def test_bad_or_missing_class_code_is_refused(db_url, code, message):
    """A wrong or empty class code gets a clear refusal and stores nothing."""
    at = _evidence_page(_secrets(db_url))
    _submit(at, "Ada", code)
    assert message in [e.value for e in at.error]
    assert _store(db_url).submissions(CODE) == []


def test_session_rate_limit(db_url):
    """A second submission right after the first is refused by the session's rate limit."""
    at = _evidence_page(_secrets(db_url, rate_limit_seconds=600))
    _submit(at, "Ada", CODE)
    _submit(at, "Ada", CODE)
    assert any("You just submitted; wait" in e.value for e in at.error)


def test_taken_name_is_refused(db_url):
    """A classmate's name, in other letter case, is refused with the store's message."""
    _store(db_url).submit(CODE, CLASSMATE, "", "classmate-token-0001", report(),
                          now=datetime(2025, 10, 1))  # fmt: skip
    at = _evidence_page(_secrets(db_url))
    _submit(at, CLASSMATE.upper(), CODE)
    assert any("is taken in this class" in e.value for e in at.error)


def test_without_a_board_section_there_is_no_form():
    """No [board] secrets: the Evidence page says there is no board; the board page explains."""
    at = open_page("evidence", secrets={"ollama": {"allow_pull": False}})
    assert not at.exception
    assert "There is no class board on this deployment." in texts(at)
    assert not [b for b in at.button if b.label == "Submit to the class board"]
    _goto(at, "class-board")
    assert "There is no class board on this deployment" in texts(at)


def test_broken_board_section_fails_closed(db_url):
    """A [board] section with a bad value shows the error naming the key and no form."""
    secrets = _secrets(db_url)
    secrets["board"]["instructor_passcode_hash"] = "hunter2"
    at = open_page("evidence", secrets=secrets)
    assert not at.exception
    assert any(
        "The class board is off" in e.value and "[board] instructor_passcode_hash" in e.value
        for e in at.error
    )
    assert not [b for b in at.button if b.label == "Submit to the class board"]


def test_board_page_before_submitting(db_url):
    """Before submitting, a student sees the count and the way to submit, not the figures."""
    at = open_page("class-board", secrets=_secrets(db_url))
    assert not at.exception
    assert "Submissions: 0" in texts(at)
    assert "Submit your evidence from the Evidence report page" in texts(at)
    assert not at.get("plotly_chart")


def _unlock(at, passcode: str) -> None:
    at.text_input(key="instructor-passcode").input(passcode)
    next(b for b in at.button if b.label == "Unlock").click().run()
    assert not at.exception, at.exception


def test_instructor_passcode_missing_wrong_right(db_url):
    """No passcode and a wrong one are refused with their own messages; the right one shows
    every submission with names, the figures, reasons and the exports."""
    _store(db_url).submit(CODE, "**Bold** [link](http://evil.example)", "Because <b>Q4</b>",
                          "student-token-0001", report(), now=datetime(2025, 10, 1))  # fmt: skip
    at = open_page("instructor", secrets=_secrets(db_url))
    assert not at.exception
    _unlock(at, "")
    assert "Enter the instructor passcode." in [e.value for e in at.error]
    assert not at.dataframe
    _unlock(at, "pleaseletmeIn")
    assert "Wrong passcode." in [e.value for e in at.error]
    assert not at.dataframe
    _unlock(at, PASSCODE)
    assert not at.error
    assert "Submissions: 1" in texts(at)
    table = at.dataframe[0].value
    assert list(table["name"]) == ["**Bold** [link](http://evil.example)"]
    assert list(table["Q4 tok/s"]) == [42.0]
    assert len(at.get("plotly_chart")) == 4
    reasons = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert reasons == [
        # URL-like text goes into inline code: remark-gfm links a bare URL even when escaped
        "- **\\*\\*Bold\\*\\* \\[link\\]\\(`http://evil.example`\\)** (Q4): "
        "Because \\<b\\>Q4\\</b\\>"
    ]
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Export CSV", "Export JSON"]


def test_instructor_deletes_and_closes(db_url):
    """Delete one submission; close submissions, after which a student is refused."""
    store = _store(db_url)
    for i, name in enumerate(("Ada", "Bob")):
        store.submit(CODE, name, "", f"student-token-{i:04d}", report(), now=datetime(2025, 10, 1))
    at = open_page("instructor", secrets=_secrets(db_url))
    _unlock(at, PASSCODE)
    bob = next(s.id for s in store.submissions(CODE) if s.name == "Bob")
    at.selectbox(key="instructor-delete-choice").set_value(bob).run()
    at.button(key="instructor-delete").click().run()
    assert f"Deleted submission #{bob}." in texts(at)
    assert [s.name for s in store.submissions(CODE)] == ["Ada"]
    at.button(key="instructor-toggle-open").click().run()
    assert store.is_open(CODE) is False
    assert "submissions are **closed**" in texts(at)

    student = _evidence_page(_secrets(db_url))
    assert "Submissions to the class board are closed." in texts(student)
    assert not [b for b in student.button if b.label == "Submit to the class board"]


def test_instructor_page_stays_locked_without_a_passcode_hash(db_url):
    """A board without instructor_passcode_hash (and no login) never shows the class."""
    secrets = _secrets(db_url)
    del secrets["board"]["instructor_passcode_hash"]
    at = open_page("instructor", secrets=secrets)
    assert not at.exception
    assert any("No instructor passcode is configured" in e.value for e in at.error)
    assert not at.dataframe and not at.text_input


def test_instructor_login_where_auth_is_configured(db_url):
    """With [auth] and instructor_emails, the page offers st.login instead of a passcode."""
    secrets = _secrets(db_url, instructor_emails=["prof@school.edu"])
    secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "school": {
            "client_id": "id",
            "client_secret": "secret",
            "server_metadata_url": "https://id.school.edu/.well-known/openid-configuration",
        },
    }
    at = open_page("instructor", secrets=secrets)
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in as the instructor"]
    assert not at.text_input and not at.dataframe


def test_database_newer_than_the_app_turns_the_board_off(db_url):
    """A board database written by a newer quantviz is refused on the pages with the store's
    message, and no form is offered."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP "
            "NOT NULL, app_version VARCHAR(32) NOT NULL)"
        )
        conn.exec_driver_sql("INSERT INTO schema_version VALUES (99, '2030-01-01', '9.0')")
    engine.dispose()
    at = _evidence_page(_secrets(db_url))
    assert any("schema version 99, newer than this app" in e.value for e in at.error)
    assert not [b for b in at.button if b.label == "Submit to the class board"]
    assert "There is no class board" not in texts(at)
    _goto(at, "instructor")
    assert any("schema version 99, newer than this app" in e.value for e in at.error)
    assert not at.text_input and "There is no class board" not in texts(at)
