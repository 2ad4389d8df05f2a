"""In Chromium: a student submits from the Evidence page and sees the class; the instructor
sees the submission. One `streamlit run` with a SQLite board."""

from __future__ import annotations

import pytest
from board_flow import save_decision_and_submit, secrets_toml, sidebar_to, unlock_instructor
from playwright.sync_api import expect
from streamlit_process import free_port, streamlit_app

CODE = "QV-BROWSER"


@pytest.fixture(scope="module")
def board_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("board")
    secrets = folder / "secrets.toml"
    secrets.write_text(secrets_toml(CODE, f"sqlite:///{folder / 'board.db'}"))
    closed = f"http://127.0.0.1:{free_port()}"  # no Ollama: the decision uses built-in figures
    with streamlit_app(env={"OLLAMA_HOST": closed}, args=("--secrets.files", str(secrets))) as url:
        yield url


def test_submit_then_see_the_class(page, board_app):
    """After submitting, the class board shows the student's summary and four figures, the
    decisions bar marking the student's own choice; the instructor page lists the reason under
    the name, and a new session (the instructor's tab) has no point of its own."""
    save_decision_and_submit(page, board_app, "Ada Browser", CODE.lower(), "It fits my laptop.")
    page.get_by_role("link", name="See the class on the class board").click()
    page.wait_for_url("**/class-board")
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("Your submission")
    expect(main).to_contain_text("as Ada Browser")
    charts = page.locator('[data-testid="stPlotlyChart"]')
    expect(charts).to_have_count(4)
    # Only a decision was measured here: the decisions bar marks the student's own choice.
    expect(charts.nth(3).locator("text", has_text="1 (yours)")).to_have_count(1)
    assert page.locator('[data-testid="stException"]').count() == 0

    unlock_instructor(page, board_app)
    page.get_by_text("It fits my laptop.").wait_for()
    assert "Ada Browser" in page.locator('[data-testid="stMain"]').inner_text()
    # The instructor's tab is another session: the board has no point of its own for it.
    sidebar_to(page, "class-board")
    page.get_by_text("Submit your evidence from the Evidence report page").wait_for()


def test_after_submitting_the_board_pages_stay_accessible(page, board_app):
    """axe after the main interactions of the board: the evidence submitted (the Evidence page
    with its success message), the class board with the student's point and a chart's data
    table opened by keyboard, the unlocked instructor page: no serious or critical violation."""
    from axe import axe_source, check_now, open_data_table

    source = axe_source()
    save_decision_and_submit(page, board_app, "Bo Axe", CODE.lower(), "Fits, and fast.")
    check_now(page, "/evidence (submitted)", source)
    sidebar_to(page, "class-board")
    page.get_by_text("Your submission").wait_for()
    open_data_table(page, '[data-testid="stMain"]', "decisions taken")
    check_now(page, "/class-board (own point, data table open)", source)
    unlock_instructor(page, board_app)
    page.get_by_text("Fits, and fast.").wait_for()
    check_now(page, "/instructor (unlocked)", source)
