"""Beyond one process: deploy/run-local.sh starts PostgreSQL, two `streamlit run` replicas and
HAProxy. A student pinned to replica r1 submits; the instructor, pinned to r2, sees it.

The replica is chosen with HAProxy's stickiness cookie (QVREPLICA=r1 / r2) set in each browser
context before the first request, and every answer names its replica (X-Quantviz-Replica), so
the test checks where each page, and therefore its websocket, was served.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from board_flow import PASSCODE_HASH, save_decision_and_submit, unlock_instructor
from pg_cluster import REQUIRE_ENV, postgres_bin
from streamlit_process import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CODE = "QV-REPLICAS"


def _wait_for_ready(proc: subprocess.Popen, timeout: float) -> str:
    """The load balancer URL from the script's READY line (its other output is kept)."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("READY "):
                found.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found.wait(0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("deploy/run-local.sh did not get ready:\n" + "".join(lines))
    return next(line for line in lines if line.startswith("READY ")).split()[1]


@pytest.fixture(scope="module")
def deployment(browser):
    missing = [name for name in ("haproxy", "runuser") if shutil.which(name) is None]
    if postgres_bin() is None:
        missing.append("postgresql")
    if missing:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"missing for the two-replica test: {', '.join(missing)}")
        pytest.skip(f"missing: {', '.join(missing)}")
    env = {
        **os.environ,
        "QUANTVIZ_LB_PORT": "0",
        "QUANTVIZ_CLASS_CODE": CODE,
        "QUANTVIZ_PASSCODE_HASH": PASSCODE_HASH,
        "OLLAMA_HOST": f"http://127.0.0.1:{free_port()}",  # none: built-in figures
        "PYTHON": sys.executable,
    }
    proc = subprocess.Popen(
        ["bash", str(ROOT / "deploy" / "run-local.sh")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _wait_for_ready(proc, timeout=120)
        # Each replica's first session runs in Streamlit's legacy pages mode (README, Known
        # issues): open one page on each before the test's deep links.
        for replica in ("r1", "r2"):
            context = browser.new_context()
            context.add_cookies([{"name": "QVREPLICA", "value": replica, "url": url}])
            page = context.new_page()
            page.goto(url)
            page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=60_000)
            context.close()
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _pinned(browser, url: str, replica: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": "QVREPLICA", "value": replica, "url": url}])
    page = context.new_page()
    page.set_default_timeout(45_000)
    served = []
    page.on(
        "response",
        lambda r: (
            served.append(r.headers.get("x-quantviz-replica")) if r.url.startswith(url) else 0
        ),
    )
    return context, page, served


def test_submission_through_one_replica_shows_on_the_other(browser, deployment):
    """A student on r1 submits; the instructor page served by r2 lists the submission; every
    response each browser got came from its own replica."""
    student_context, student, student_served = _pinned(browser, deployment, "r1")
    teacher_context, teacher, teacher_served = _pinned(browser, deployment, "r2")
    try:
        save_decision_and_submit(student, deployment, "Replica Ada", CODE, "Submitted via r1.")
        unlock_instructor(teacher, deployment)
        teacher.get_by_text("Submitted via r1.").wait_for()
        assert "Replica Ada" in teacher.locator('[data-testid="stMain"]').inner_text()
        assert student_served and set(student_served) == {"r1"}
        assert teacher_served and set(teacher_served) == {"r2"}
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        student.screenshot(path=str(ARTIFACTS / "two-replicas-student.png"), full_page=True)
        teacher.screenshot(path=str(ARTIFACTS / "two-replicas-teacher.png"), full_page=True)
        raise
    finally:
        student_context.close()
        teacher_context.close()
