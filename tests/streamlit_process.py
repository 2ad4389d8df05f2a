"""Run the real app with `streamlit run` on a free port, for browser tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class StreamlitServer:
    """A running `streamlit run`: where it answers, and when it started and became healthy."""

    url: str
    pid: int
    started_at: float  # time.monotonic() just before the process was spawned
    healthy_at: float  # time.monotonic() when /_stcore/health first answered "ok"
    log_path: Path  # the server's stdout and stderr

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def streamlit_app(
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    *,
    args: Sequence[str] = (),
    log_file: Path | None = None,
) -> Iterator[str]:
    """Start `streamlit run app.py`; yield its base URL once /_stcore/health answers ok.

    `args` are extra `streamlit run` options (e.g. `--secrets.files PATH`); with `log_file` the
    server's output (its log) goes to that file, for tests that read what the server logged.
    """
    with streamlit_server(env, timeout, args=args, log_file=log_file) as server:
        yield server.url


@contextmanager
def streamlit_process(
    env: Mapping[str, str] | None = None, timeout: float = 60, *, args: Sequence[str] = ()
) -> Iterator[tuple[str, int]]:
    """Like streamlit_app, but yields `(url, pid)` so benchmarks can read the server's CPU."""
    with streamlit_server(env, timeout, args=args) as server:
        yield server.url, server.pid


@contextmanager
def streamlit_server(
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    *,
    app: Path = ROOT / "app.py",
    cpus: str | None = None,
    poll: float = 0.2,
    args: Sequence[str] = (),
    log_file: Path | None = None,
) -> Iterator[StreamlitServer]:
    """Start `streamlit run <app>` on a free port; yield it once /_stcore/health answers ok.

    `cpus` pins the server with `taskset -c` (e.g. "0": one core, as on a small cloud host);
    `poll` is the health-check interval, which bounds the precision of `healthy_at`. The
    server's output goes to a file rather than a pipe nobody reads, which would block a
    server that logs much (a burst of tracebacks) once the pipe buffer is full: `log_file`, or
    a temporary file removed afterwards. `args` are extra `streamlit run` options.
    """
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
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
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
    with tempfile.TemporaryDirectory(prefix="quantviz-streamlit-") as tmp:
        log_path = log_file or Path(tmp) / "server.log"
        with log_path.open("w") as log:
            started = time.monotonic()
            proc = subprocess.Popen(
                cmd,
                cwd=app.parent,
                env={**os.environ, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                        if resp.read().strip() == b"ok":
                            healthy = time.monotonic()
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("streamlit did not become healthy")
                time.sleep(poll)
            yield StreamlitServer(url, proc.pid, started, healthy, log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
