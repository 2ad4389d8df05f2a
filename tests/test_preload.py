"""quantviz.ui.preload: every page's modules imported once, before concurrent sessions race."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import frontmatter
import pytest

from quantviz.ui import preload, registry
from quantviz.ui.preload import Preloader

ROOT = Path(__file__).resolve().parents[1]


class WatchedLock:
    """A threading.Lock that counts the threads that have asked for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._meta = threading.Lock()
        self.asked = 0

    def __enter__(self) -> WatchedLock:
        with self._meta:
            self.asked += 1
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def wait_for(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.001)  # polling a condition, bounded by the deadline


def test_first_caller_runs_every_step_once_while_the_others_wait():
    """Nine threads call ensure_loaded at once: the first runs each step exactly once; the other
    eight have all asked for the lock and none has returned while the first is still importing;
    once it finishes, all nine return and nothing ran twice."""
    release = threading.Event()
    started = threading.Event()
    calls: list[str] = []

    def slow() -> None:
        calls.append("a")
        started.set()
        assert release.wait(10)

    steps = [("a", slow), ("b", lambda: calls.append("b")), ("c", lambda: calls.append("c"))]
    loader = Preloader(lambda: steps)
    lock = WatchedLock()
    loader._lock = lock  # the same lock type would do; this one lets the test count waiters
    returned: list[int] = []

    def call(i: int) -> None:
        loader.ensure_loaded()
        returned.append(i)

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert started.wait(10)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, 9)]
    for t in others:
        t.start()
    wait_for(lambda: lock.asked == 9)
    assert returned == []
    assert calls == ["a"]
    assert not loader.loaded

    release.set()
    for t in [first, *others]:
        t.join(10)
    assert sorted(returned) == list(range(9))
    assert calls == ["a", "b", "c"]
    assert loader.loaded


def test_later_calls_cost_a_flag_check_and_take_no_lock():
    """Once loaded, ensure_loaded neither runs a step again nor touches the lock."""
    calls: list[str] = []
    loader = Preloader(lambda: [("a", lambda: calls.append("a"))])
    loader.ensure_loaded()

    class NoLock:
        def __enter__(self):
            raise AssertionError("the lock was taken after loading")

        def __exit__(self, *exc):
            return False

    loader._lock = NoLock()
    loader.ensure_loaded()
    loader.ensure_loaded()
    assert calls == ["a"]


def test_a_failing_step_is_logged_and_the_others_still_run(caplog):
    """A module that cannot be imported does not stop the preload (its widget then shows the
    registry's failure notice, as before): the error is logged with its name."""
    calls: list[str] = []

    def broken() -> None:
        raise ImportError("No module named 'missing_dependency'")

    loader = Preloader(
        lambda: [
            ("a", lambda: calls.append("a")),
            ("broken.module", broken),
            ("c", lambda: calls.append("c")),
        ]
    )
    with caplog.at_level(logging.ERROR, logger="quantviz.ui.preload"):
        loader.ensure_loaded()
    assert calls == ["a", "c"]
    assert loader.loaded
    assert "preloading broken.module failed" in caplog.text
    assert "missing_dependency" in caplog.text


def test_the_list_holds_every_widget_and_the_libraries_of_the_bug_report():
    """Every module behind the widget registry is preloaded, and so are pandas and pyarrow, the
    circular packages whose half-imported state broke 25 of 30 pages in issue 17."""
    names = preload.modules()
    assert set(registry.WIDGETS.values()) <= set(names)
    assert {"pandas", "pyarrow", "numpy", "plotly.graph_objects"} <= set(names)
    assert "quantviz.ui.preload" not in names
    assert len(names) == len(set(names))


PROBE = r"""
import json, sys
from pathlib import Path
root = Path(sys.argv[1])
sys.path[:0] = [str(root / "src"), str(root / "tests")]
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

# AppTest's own machinery, loaded by a trivial script, is not the app's business.
AppTest.from_string("import streamlit as st\nst.write('warm')").run()
from quantviz.ui.preload import ensure_loaded

ensure_loaded()
before = set(sys.modules)
at = AppTest.from_file(str(root / "app.py"), default_timeout=120)
at.run()
pages = [info.get("url_pathname", "") for info in at._registered_pages.values()]
errors = []
for url in pages:
    at._page_hash = calc_hash(url) if url else ""
    at.run()
    errors += [f"{url}: {e.value}" for e in at.exception]
print(json.dumps({"pages": pages, "errors": errors, "new": sorted(set(sys.modules) - before)}))
"""


@pytest.fixture(scope="module")
def pages_after_preload() -> dict:
    """Every page of the app's navigation rendered in a fresh interpreter after the preload."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_page_imports_a_module_after_the_preload(pages_after_preload):
    """Rendering every page (home, each lab section, each tool page) after ensure_loaded()
    imports nothing more: no script thread of a burst can find a module half-imported."""
    result = pages_after_preload
    assert result["errors"] == []
    assert result["new"] == [], "add these to quantviz.ui.preload"


def test_the_preload_probe_visited_every_objective_page(pages_after_preload):
    """The probe above walked the app's own navigation: home, the tool pages and every
    `## Objective N` of the lab file, so an empty list of new modules means something."""
    pages = pages_after_preload["pages"]
    assert objective_pages() <= set(pages)
    assert {"", "settings", "evidence"} <= set(pages)


def objective_pages() -> set[str]:
    """`lab{order}-objective{N}` for every `## Objective N` heading of every lab file."""
    urls = set()
    for path in (ROOT / "labs").glob("*.md"):
        post = frontmatter.load(path)
        for m in re.finditer(r"^## Objective (\d+)", post.content, re.MULTILINE):
            urls.add(f"lab{post['order']}-objective{m[1]}")
    assert len(urls) >= 6, urls
    return urls
