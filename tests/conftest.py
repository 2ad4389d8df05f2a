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


@pytest.fixture(scope="session")
def tiny_pair(tmp_path_factory: pytest.TempPathFactory):
    """A Q4_K_M-recipe GGUF and a Q6_K GGUF of one random 3-layer model (rows of 256 and 512).

    Written once per test session with the project's quantizers and gguf.GGUFWriter; tests
    must not modify the files (copy them first).
    """
    from gguf_pair import write_pair

    return write_pair(tmp_path_factory.mktemp("tiny-pair"))
