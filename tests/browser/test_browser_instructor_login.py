"""In Chromium: the instructor page opened through st.login, end to end. One `streamlit run` whose
secrets hold `[auth]` (pointing at the OIDC test provider, tests/oidc_server.py) and `[board]
instructor_emails`; the provider approves at once as the email each test chooses.

The browser follows the real redirects: the app's /auth/login, the provider's authorization
endpoint, the app's /oauth2callback (where Streamlit, through Authlib, exchanges the code and
checks the ID token), then the app's home page with the login cookie. The app is opened as
http://localhost:<port>, the origin of `redirect_uri`, so the cookie belongs to it.
"""

from __future__ import annotations

import sqlalchemy as sa
from board_reports import report
from oidc_server import AUTHORIZE_PATH, TOKEN_PATH, OidcTestServer
from playwright.sync_api import expect
from pytest import fixture
from streamlit_process import free_port, streamlit_app

from quantviz.board.store import BoardStore

CODE = "QV-LOGIN"
TEACHER = "teacher@school.example"
STUDENT = "student@school.example"
CLASSMATE = "Ada Lovelace"
REASON = "Q4 fits my laptop"
TABLE = '[data-testid="stDataFrame"]'  # the submissions table
MAIN = '[data-testid="stMain"]'


@fixture(scope="module")
def login_app(tmp_path_factory):
    """(app base URL on localhost, the provider): one server pair for the module."""
    folder = tmp_path_factory.mktemp("login")
    db_url = f"sqlite:///{folder / 'board.db'}"
    store = BoardStore(sa.create_engine(db_url))
    store.ready(CODE)
    store.submit(CODE, CLASSMATE, REASON, "classmate-session-token-01", report())
    store.engine.dispose()
    with OidcTestServer(client_id="quantviz", client_secret="test-client-secret") as provider:
        secrets = folder / "secrets.toml"
        secrets.write_text(
            f'[board]\nclass_code = "{CODE}"\ninstructor_emails = ["{TEACHER}"]\n\n'
            f'[connections.board]\nurl = "{db_url}"\n\n'
            # Streamlit fills in {port} with the port it serves on (auth_util.get_redirect_uri).
            '[auth]\nredirect_uri = "http://localhost:{port}/oauth2callback"\n'
            'cookie_secret = "a-test-cookie-secret-of-forty-characters"\n\n'
            f'[auth.school]\nclient_id = "{provider.client_id}"\n'
            f'client_secret = "{provider.client_secret}"\n'
            f'server_metadata_url = "{provider.metadata_url}"\n'
        )
        closed = f"http://127.0.0.1:{free_port()}"  # no Ollama needed on these pages
        with streamlit_app(
            env={"OLLAMA_HOST": closed}, args=("--secrets.files", str(secrets))
        ) as url:
            yield url.replace("127.0.0.1", "localhost"), provider


def _log_in(page, base: str) -> None:
    """Open the instructor page, press the login button, and wait for the round trip through
    the provider to land back on the app's home page."""
    page.goto(f"{base}/instructor")
    page.get_by_role("button", name="Log in as the instructor").click()
    page.wait_for_url(f"{base}/")
    page.locator(f"{MAIN} h1").first.wait_for()


def _open_instructor(page, base: str) -> None:
    page.goto(f"{base}/instructor")
    page.get_by_role("heading", name="Class board: instructor").wait_for()


def test_the_instructor_logs_in_sees_the_class_and_logs_out(page, login_app):
    """With the instructor's email, the login goes through the provider (authorization and token
    requests reach it) and back; the instructor page then shows the submissions table with the
    classmate's reason and the CSV export; "Log out" clears the login, and the page offers the
    login again with no submission shown."""
    base, provider = login_app
    provider.login_as(TEACHER)
    authorized, tokens = provider.requested(AUTHORIZE_PATH), provider.requested(TOKEN_PATH)
    _log_in(page, base)
    assert provider.requested(AUTHORIZE_PATH) == authorized + 1
    assert provider.requested(TOKEN_PATH) == tokens + 1

    _open_instructor(page, base)
    main = page.locator(MAIN)
    expect(page.locator(TABLE)).to_be_visible()
    # the reasons list (the table's grid may also hold the text in its accessible cells)
    expect(main.locator("li").filter(has_text=REASON)).to_be_visible()
    expect(page.get_by_role("button", name="Export CSV")).to_be_visible()
    expect(page.get_by_role("button", name="Log in as the instructor")).to_have_count(0)
    assert page.locator('[data-testid="stException"]').count() == 0

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base}/")
    _open_instructor(page, base)
    expect(page.get_by_role("button", name="Log in as the instructor")).to_be_visible()
    expect(page.locator(TABLE)).to_have_count(0)
    expect(main.get_by_text(REASON)).to_have_count(0)


def test_a_student_who_logs_in_is_refused(page, login_app):
    """With a student's email the login succeeds at the provider, but the instructor page says
    that account is not an instructor, offers "Log out", and shows no submission."""
    base, provider = login_app
    provider.login_as(STUDENT)
    _log_in(page, base)
    _open_instructor(page, base)
    main = page.locator(MAIN)
    expect(main.get_by_text(f"{STUDENT} is not an instructor of this class.")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.locator(TABLE)).to_have_count(0)
    expect(main.get_by_text(REASON)).to_have_count(0)
    expect(main.get_by_text(CLASSMATE)).to_have_count(0)
    assert page.locator('[data-testid="stException"]').count() == 0
