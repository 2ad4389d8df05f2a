"""Browser steps the class board tests share: record a decision, submit it, unlock the
instructor page."""

from __future__ import annotations

import base64

from quantviz.ui import board_submit
from quantviz.ui.context import widget_key

DECISION = widget_key("lab2-objective6", "tradeoff-decision")
DECISION_SAVE = f".st-key-{DECISION}-save button"
PASSCODE = "pleaseletmein"
# RFC 7914's published scrypt("pleaseletmein", "SodiumChloride", N=16384, r=8, p=1) key.
PASSCODE_HASH = (
    "scrypt$n=16384,r=8,p=1$"
    + base64.b64encode(b"SodiumChloride").decode()
    + "$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw=="
)


def secrets_toml(class_code: str, db_url: str) -> str:
    return (
        f'[board]\nclass_code = "{class_code}"\ninstructor_passcode_hash = "{PASSCODE_HASH}"\n'
        f'rate_limit_seconds = 0\n\n[connections.board]\nurl = "{db_url}"\n'
    )


def sidebar_to(page, url_path: str) -> None:
    """Navigate inside the session (sidebar link), keeping its session state."""
    page.locator(f'[data-testid="stSidebarNav"] a[href$="/{url_path}"]').click()


def open_at(page, base: str, url_path: str) -> None:
    """Open a page by its deep link: a new browser session that starts on that page."""
    page.goto(f"{base}/{url_path}")
    page.locator('[data-testid="stMain"] :is(h1, h2)').first.wait_for()


def save_decision_and_submit(page, base: str, name: str, code: str, reason: str) -> None:
    """Objective 6: commit the student's own choice (Q4, with `reason`) and save the deployment
    decision (no endpoint needed), then submit the evidence from the Evidence page; waits for
    the success message."""
    open_at(page, base, "lab2-objective6")
    page.locator(f".st-key-{DECISION}-student-choice").get_by_text("Q4", exact=True).click()
    reason_box = page.locator(f".st-key-{DECISION}-student-reason textarea")
    reason_box.fill(reason)
    reason_box.press("Control+Enter")
    page.get_by_role("button", name="Commit my choice").click()
    page.get_by_text("The widget's reading of the figures").wait_for()
    page.locator(DECISION_SAVE).click()
    page.get_by_text("Decision saved to your evidence.").wait_for()
    sidebar_to(page, "evidence")
    page.get_by_text("Records").first.wait_for()
    page.locator(f".st-key-{board_submit.NAME_KEY} input").fill(name)
    page.locator(f".st-key-{board_submit.CODE_KEY} input").fill(code)
    page.locator(f".st-key-{board_submit.REASON_KEY} textarea").fill(reason)
    page.get_by_role("button", name="Submit to the class board").click()
    page.get_by_text(f"Submitted as {name}").wait_for()


def unlock_instructor(page, base: str) -> None:
    open_at(page, base, "instructor")
    page.locator(".st-key-instructor-passcode input").fill(PASSCODE)
    page.get_by_role("button", name="Unlock").click()
    page.get_by_text("Submissions", exact=False).first.wait_for()
