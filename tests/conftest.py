"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ollama_server import OllamaTestServer

from quantviz.ollama_api import Endpoint


@pytest.fixture
def ollama_server() -> Iterator[OllamaTestServer]:
    """A fresh Ollama-protocol test server on 127.0.0.1 (Q4 and Q6 tags installed, no faults)."""
    with OllamaTestServer() as server:
        yield server


@pytest.fixture
def ollama_endpoint(ollama_server: OllamaTestServer) -> Endpoint:
    """An Endpoint for `ollama_server`, without an API key."""
    return Endpoint(ollama_server.url)
