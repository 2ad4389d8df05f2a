"""AppTest of the instructor page's `st.login` path: a misconfigured `[auth]` fails closed with
a message naming the key, and a logged-in account is admitted or refused by its email.

`st.login` reads `[auth]` through Streamlit's own secrets loader, which `at.secrets` does not
reach: the misconfiguration tests write a real secrets file and point Streamlit's `secrets.files`
option at it, so Streamlit's own checks run. AppTest cannot run the OIDC redirect itself; it can
seed `st.user` (`at.user`), which is how the logged-in cases are shown here. The redirect,
the provider and the cookie run for real in tests/browser/test_browser_instructor_login.py.
"""

from __future__ import annotations

import logging
import sys

import pytest
import sqlalchemy as sa
from apptest_utils import APP, go_to, open_page, page_bytes, texts
from board_reports import report
from streamlit import config as streamlit_config
from streamlit.runtime.secrets import secrets_singleton
from streamlit.testing.v1 import AppTest

from quantviz.board.store import BoardStore

CODE = "QV-LOGIN"
CLIENT_SECRET = "client-secret-9f2c-never-shown"
COOKIE_SECRET = "cookie-secret-4b7e-never-shown-0123456789"
TEACHER = "teacher@school.example"
LOCKED = "The instructor login is not set up right, so this page stays locked"


@pytest.fixture
def db_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'board.db'}"
    store = BoardStore(sa.create_engine(url))
    store.ready(CODE)
    store.submit(CODE, "Ada Student", "It fits.", "ada-student-token-0001", report())
    return url


@pytest.fixture
def secrets_file(tmp_path, db_url):
    """Write `[auth]` lines with the board's sections into a secrets file and point Streamlit's
    own secrets loader at it; restore the loader afterwards."""
    before = streamlit_config.get_option("secrets.files")

    def use(auth_toml: str) -> None:
        path = tmp_path / "secrets.toml"
        path.write_text(
            f'[board]\nclass_code = "{CODE}"\ninstructor_emails = ["{TEACHER}"]\n\n'
            f'[connections.board]\nurl = "{db_url}"\n\n{auth_toml}'
        )
        streamlit_config.set_option("secrets.files", [str(path)])
        secrets_singleton._reset()

    yield use
    streamlit_config.set_option("secrets.files", before)
    secrets_singleton._reset()


def _auth(*, omit: str = "", **values: str) -> str:
    """An [auth] section with one named provider, `school`; `omit` drops a key, `values` set
    keys (a provider key written under [auth.school])."""
    top = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": COOKIE_SECRET,
    }
    provider = {
        "client_id": "quantviz",
        "client_secret": CLIENT_SECRET,
        "server_metadata_url": "https://id.school.example/.well-known/openid-configuration",
    }
    for key, value in values.items():
        (top if key in top else provider)[key] = value
    top.pop(omit, None)
    provider.pop(omit, None)
    lines = ["[auth]", *(f'{k} = "{v}"' for k, v in top.items()), "", "[auth.school]"]
    lines += [f'{k} = "{v}"' for k, v in provider.items()]
    return "\n".join(lines) + "\n"


def _click_login(caplog):
    at = open_page("instructor")
    assert not at.exception, at.exception
    with caplog.at_level(logging.ERROR):
        at.button(key="instructor-login").click().run()
    assert not at.exception, at.exception
    return at


def _refusals(caplog) -> str:
    return "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("quantviz") and "Instructor login refused" in r.getMessage()
    )


@pytest.mark.parametrize(
    ("auth", "named"),
    [
        # Streamlit's own checks (auth_util.validate_auth_credentials), their words:
        (_auth(omit="cookie_secret"), 'missing the "cookie_secret" key'),
        (_auth(omit="redirect_uri"), 'missing the "redirect_uri" key'),
        (_auth(omit="server_metadata_url"), "missing the following keys: ['server_metadata_url']"),
        # What Streamlit lets through to fail after the redirect (quantviz.config.auth):
        (
            _auth(server_metadata_url="id.school.example/openid"),
            "[auth.school] server_metadata_url must be an http(s) URL",
        ),
        (
            _auth(redirect_uri="http://localhost:8501/"),
            "[auth] redirect_uri must be the app's own address ending in /oauth2callback",
        ),
    ],
    ids=[
        "no-cookie-secret",
        "no-redirect-uri",
        "no-metadata-url",
        "bad-metadata-url",
        "bad-redirect",
    ],
)
def test_a_misconfigured_auth_keeps_the_page_locked_and_names_the_key(
    secrets_file, caplog, auth, named
):
    """Clicking "Log in as the instructor" with an [auth] that cannot work shows an error that
    says the page stays locked and names the key, with no traceback; the class is not shown; the
    server log names it too; neither secret appears on the page or in the log."""
    secrets_file(auth)
    at = _click_login(caplog)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(LOCKED) and named in errors[0], errors
    assert not at.dataframe and "Ada Student" not in texts(at)
    assert at.button(key="instructor-login")  # the way in is still offered
    assert named in _refusals(caplog)
    shown = page_bytes(at)
    for secret in (CLIENT_SECRET, COOKIE_SECRET):
        assert secret.encode() not in shown and secret not in caplog.text


def test_authlib_missing_is_a_message_not_a_traceback(secrets_file, caplog, monkeypatch):
    """With Authlib not importable (a deployment that never installed it), the click says so in
    Streamlit's words and the page stays locked."""
    secrets_file(_auth())
    monkeypatch.setitem(sys.modules, "authlib", None)  # `import authlib` raises ImportError
    at = _click_login(caplog)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(LOCKED), errors
    assert "Authlib" in errors[0] and "Authlib" in _refusals(caplog)
    assert not at.dataframe


def test_a_working_auth_starts_the_login_without_an_error(secrets_file, caplog):
    """The same page with a complete [auth] (the control for the cases above): the click starts
    the login, so no error is shown and nothing is logged as refused."""
    secrets_file(_auth())
    at = _click_login(caplog)
    assert not at.error
    assert _refusals(caplog) == ""


def _logged_in(db_url: str, **user) -> AppTest:
    """The instructor page for a session whose st.user is `user`, logged in."""
    secrets = {
        "board": {"class_code": CODE, "instructor_emails": [TEACHER]},
        "connections": {"board": {"url": db_url}},
        "auth": {
            "redirect_uri": "http://localhost:8501/oauth2callback",
            "cookie_secret": COOKIE_SECRET,
            "school": {
                "client_id": "quantviz",
                "client_secret": CLIENT_SECRET,
                "server_metadata_url": "https://id.school.example/.well-known/openid-configuration",
            },
        },
    }
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in secrets.items():
        at.secrets[key] = value
    at.user = {"is_logged_in": True, **user}
    at.run()
    go_to(at, "instructor")
    assert not at.exception, at.exception
    return at


def test_a_logged_in_instructor_sees_the_class_and_can_log_out(db_url):
    """An account whose email is on instructor_emails (any case) sees the submissions table and
    a "Log out" button instead of "Lock this page"; pressing it logs the session out, and the
    page is locked again with the login offered."""
    at = _logged_in(db_url, email="Teacher@School.example", email_verified=True)
    assert at.dataframe and "Ada Student" in texts(at)
    assert not [b for b in at.button if b.label == "Lock this page"]
    at.button(key="instructor-logout").click().run()
    assert not at.exception, at.exception
    assert not at.dataframe and "Ada Student" not in texts(at)
    assert [b.label for b in at.button] == ["Log in as the instructor"]


@pytest.mark.parametrize(
    "user",
    [
        {"email": "student@school.example", "email_verified": True},
        {"email": TEACHER, "email_verified": False},
        {},
    ],
    ids=["another-email", "unverified", "no-email"],
)
def test_an_account_that_is_not_the_instructor_is_refused(db_url, user):
    """A logged-in account that is not on instructor_emails, whose provider says the email is
    unverified, or that has no email is told it is not an instructor, offered "Log out", and
    shown no submission."""
    at = _logged_in(db_url, **user)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].endswith("is not an instructor of this class."), errors
    assert not at.dataframe and "Ada Student" not in texts(at)
    assert [b.label for b in at.button] == ["Log out"]
