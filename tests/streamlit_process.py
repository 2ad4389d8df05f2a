"""Run the real app with `streamlit run` on a free port, for browser tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_app(
    env: Mapping[str, str] | None = None, timeout: float = 60, args: Sequence[str] = ()
) -> Iterator[str]:
    """Start `streamlit run app.py`; yield its base URL once /_stcore/health answers ok.

    `args` are extra command-line options, e.g. `("--secrets.files", path)`.
    """
    with streamlit_process(env, timeout, args) as (url, _pid):
        yield url


@contextmanager
def streamlit_process(
    env: Mapping[str, str] | None = None, timeout: float = 60, args: Sequence[str] = ()
) -> Iterator[tuple[str, int]]:
    """Like streamlit_app, but yields `(url, pid)` so benchmarks can read the server's CPU."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        *args,
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{proc.stdout.read()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("streamlit did not become healthy")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def warm_up(browser, url: str) -> None:
    """Run one session so Streamlit leaves its legacy pages/ mode (see README, Known issues).

    The first session after a server start runs in the pre-st.navigation mode because a
    `pages/` folder exists; a deep link then also raises a harmless "Page not found" dialog.
    """
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=60_000)
    context.close()
