"""Shared pytest fixtures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from ollama_server import OllamaTestServer

from quantviz.ollama.client import Endpoint
from quantviz.ui.registry import RAISE_ENV


def pytest_configure(config: pytest.Config) -> None:
    """A widget that raises fails its page (AppTest sees the exception, and so do the apps
    the browser and burst tests start) instead of showing the registry's notice, which no
    page test would notice."""
    os.environ[RAISE_ENV] = "raise"


@pytest.fixture
def ollama_server() -> Iterator[OllamaTestServer]:
    """A fresh Ollama-protocol test server on 127.0.0.1 (Q4 and Q6 tags installed, no faults)."""
    with OllamaTestServer() as server:
        yield server


@pytest.fixture
def ollama_endpoint(ollama_server: OllamaTestServer) -> Endpoint:
    """An Endpoint for `ollama_server`, without an API key."""
    return Endpoint(ollama_server.url)


# --------------------------------------------------------------------------------------------
# Class board: the same store tests on SQLite and on a throwaway PostgreSQL cluster


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL cluster for the whole run; skipped locally without Debian's binaries, a
    failure instead when QUANTVIZ_REQUIRE_POSTGRES=1 (CI)."""
    from pg_cluster import REQUIRE_ENV, postgres_bin, postgres_cluster

    if postgres_bin() is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail("PostgreSQL binaries are missing; .ci/run installs Debian's postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres_cluster() as url:
        yield url


def _fresh_postgres_database(server_url: str) -> tuple[str, Callable[[], None]]:
    """A new empty database on the cluster: its URL and a function that drops it."""
    name = f"board_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server_url.rsplit("/", 1)[0] + f"/{name}", drop


@pytest.fixture(params=["sqlite", "postgresql"])
def board_url(request, tmp_path) -> Iterator[str]:
    """An empty database URL, once for SQLite (a file) and once for PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'board.db'}"
        return
    url, drop = _fresh_postgres_database(request.getfixturevalue("postgres_url"))
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def board_engine(board_url: str) -> Iterator[sa.Engine]:
    """An engine on an empty board database (pool large enough for the concurrency tests)."""
    engine = sa.create_engine(board_url, pool_size=10, max_overflow=20)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def tiny_pair(tmp_path_factory: pytest.TempPathFactory):
    """A Q4_K_M-recipe GGUF and a Q6_K GGUF of one random 3-layer model (rows of 256 and 512).

    Written once per test session with the project's quantizers and gguf.GGUFWriter; tests
    must not modify the files (copy them first).
    """
    from gguf_pair import write_pair

    return write_pair(tmp_path_factory.mktemp("tiny-pair"))
