"""The first visitor after a server start: a deep link opens its page, working, with no dialog.

Community Cloud apps sleep and wake, so "the first session after a start" happens every day.
This module starts its own server for each test, so the browser's session really is the first.
"""

from __future__ import annotations

import pytest
from streamlit_process import streamlit_app

DIALOG = '[data-testid="stDialog"]'


@pytest.fixture
def fresh_app():
    """A server that no session has talked to yet (only /_stcore/health was polled)."""
    with streamlit_app() as url:
        yield url


def test_deep_link_as_the_first_session_opens_a_working_page(page, fresh_app):
    """The very first session opens /lab2-objective5: Objective 5 shows, no "Page not found"
    dialog covers it, and its "Next" link navigates to Objective 6."""
    page.goto(f"{fresh_app}/lab2-objective5")
    page.locator("h2").filter(has_text="Objective 5:").wait_for()
    next_link = page.locator('[data-testid="stPageLink"] a').filter(has_text="Next: Objective 6")
    next_link.wait_for()  # the last element of the page: the whole run has arrived

    assert page.locator(DIALOG).count() == 0
    assert page.get_by_text("Page not found").count() == 0

    next_link.click()
    page.locator("h2").filter(has_text="Objective 6:").wait_for()
    assert page.url.endswith("/lab2-objective6"), page.url
    assert page.locator('[data-testid="stException"]').count() == 0
