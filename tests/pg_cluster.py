"""A throwaway PostgreSQL cluster for tests and benchmarks: Debian's binaries, a temp dir.

`initdb` refuses to run as root, so as root (CI) the cluster belongs to the `postgres` user that
Debian's package creates, started through `runuser`; otherwise it runs as the current user. It
listens on 127.0.0.1 on a free port and trusts local connections; it is stopped and its files
deleted on exit.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streamlit_process import free_port

REQUIRE_ENV = "QUANTVIZ_REQUIRE_POSTGRES"


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextmanager
def postgres_cluster(*, durable: bool = False) -> Iterator[str]:
    """Start a cluster; yield its SQLAlchemy URL (psycopg 3 driver, database `postgres`).

    `durable=False` turns fsync off (tests: fast, nothing to keep); benchmarks pass True so
    commits cost what they cost on a real server.
    """
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL binaries not found (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="quantviz-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
    data = root / "data"
    port = free_port()
    settings = [
        "-p", str(port),
        "-k", str(root),
        "-c", "listen_addresses=127.0.0.1",
        "-c", "max_connections=200",
    ]  # fmt: skip
    if not durable:
        settings += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
    initdb += ["-E", "UTF8", "--no-sync"]
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w"]
    pg_ctl += ["-t", "60", "-o", " ".join(settings), "start"]
    try:
        subprocess.run(_as_owner(initdb), check=True, capture_output=True)
        subprocess.run(_as_owner(pg_ctl), check=True, capture_output=True)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
