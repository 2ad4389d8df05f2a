"""A real `streamlit run` whose secrets file is broken: the class stays safe, and only the server
log says what is wrong."""

from __future__ import annotations

from concurrency import wait_for
from streamlit_process import streamlit_app

from quantviz.ui.pages import settings

KEY = "sk-instructor-31c9-never-shown"


def test_invalid_secrets_fail_closed_and_only_the_log_has_the_details(page, tmp_path):
    """With a secrets.toml that is not valid TOML, a student sees a neutral notice, the endpoint
    fields are locked and private endpoints refused; the server log names the file and line,
    and the instructor's key appears nowhere."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[ollama]\napi_key = "{KEY}"\nallow_pull = nope\n')
    log = tmp_path / "server.log"
    with streamlit_app(args=["--secrets.files", str(secrets)], log_file=log) as url:
        page.goto(f"{url}/settings")
        page.get_by_text("runs with its safest settings").wait_for()
        main = page.locator('[data-testid="stMain"]')
        main.get_by_text("refused (the configuration has a problem)").wait_for()
        assert page.locator(f".st-key-{settings.HOST_INPUT} input").is_disabled()
        shown = main.inner_text()
        assert "secrets.toml" not in shown and "line 3" not in shown and "nope" not in shown
        assert KEY not in page.content()

        expected = f"Error parsing secrets file at {secrets}"
        wait_for(lambda: expected in log.read_text(), timeout=30)
    server_log = log.read_text()
    assert "runs with its hosted protections on" in server_log
    assert KEY not in server_log
