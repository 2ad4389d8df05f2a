"""State shared by every session's script thread and filled on first use (issue 17).

What was checked, and where:
- quantviz.lab.load._cache (parsed lab files): a lock, one entry per file
  (tests/test_labs_cache.py);
- quantviz.ollama.client._ssl_context (one SSLContext for all clients): built once under a lock;
- module-level dicts, lists and sets of quantviz, and the cached Lab objects: read-only,
  which tests/test_preload.py checks by rendering every page and comparing them before/after;
- the explorers' shared figures (quantviz.ui.figure_cache): built once per input, never
  changed after (tests/test_figure_cache.py);
- sys.path: app.py no longer adds src/ again on every rerun;
- the imports themselves: quantviz.ui.preload (tests/test_preload.py, tests/test_burst.py).
"""

from __future__ import annotations

import ssl
import threading

import httpx
from concurrency import WatchedLock, wait_for

from quantviz.ollama import client as ollama_api


def test_a_class_opening_ollama_pages_at_once_builds_one_ssl_context(monkeypatch):
    """Twelve sessions create their first Ollama client at the same moment: one SSLContext is
    built (about 40 ms each), the other eleven wait for it, and all twelve share it."""
    monkeypatch.setattr(ollama_api, "_ssl", None)
    lock = WatchedLock()
    monkeypatch.setattr(ollama_api, "_ssl_lock", lock)
    release = threading.Event()
    built: list[ssl.SSLContext] = []
    real = httpx.create_ssl_context

    def slow_build(*args, **kwargs) -> ssl.SSLContext:
        assert release.wait(10)
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(httpx, "create_ssl_context", slow_build)
    got: list[ssl.SSLContext] = []
    threads = [
        threading.Thread(target=lambda: got.append(ollama_api._ssl_context())) for _ in range(12)
    ]
    for t in threads:
        t.start()
    wait_for(lambda: lock.asked == 12)
    release.set()
    for t in threads:
        t.join(10)
    assert len(built) == 1
    assert len(got) == 12
    assert all(c is built[0] for c in got)


def test_later_clients_reuse_the_context_without_the_lock(monkeypatch):
    """Once built, asking for the context takes no lock and builds nothing."""
    context = httpx.create_ssl_context()
    monkeypatch.setattr(ollama_api, "_ssl", context)

    class NoLock:
        def __enter__(self):
            raise AssertionError("the lock was taken for a built context")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(ollama_api, "_ssl_lock", NoLock())
    assert ollama_api._ssl_context() is context
    assert ollama_api._ssl_context() is context
