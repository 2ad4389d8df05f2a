"""quantviz.ui.preload: every page's modules imported once, before concurrent sessions race."""

from __future__ import annotations

import ast
import gc
import importlib.util
import json
import logging
import re
import subprocess
import sys
import threading
from pathlib import Path

import frontmatter
import pytest
from concurrency import WatchedLock, wait_for

from quantviz.ui import preload, registry
from quantviz.ui.preload import Preloader

ROOT = Path(__file__).resolve().parents[1]


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
    loader._lock = lock  # type: ignore[assignment]  # counts the waiters; a Lock would do
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

    loader._lock = NoLock()  # type: ignore[assignment]
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


def test_the_collector_pauses_while_the_steps_run_and_resumes_after():
    """The imports run with the garbage collector paused (they make long-lived objects, not
    garbage), and it is back on afterwards, also when a step fails."""
    seen: list[bool] = []

    def broken() -> None:
        raise ImportError("gone")

    loader = Preloader(lambda: [("a", lambda: seen.append(gc.isenabled())), ("b", broken)])
    assert gc.isenabled()
    loader.ensure_loaded()
    assert seen == [False]
    assert gc.isenabled()


def test_the_list_holds_every_widget_and_the_libraries_of_the_bug_report():
    """Every module behind the widget registry is preloaded, and so are pandas and pyarrow, the
    circular packages whose half-imported state broke 25 of 30 pages in issue 17."""
    names = preload.modules()
    assert set(registry.WIDGETS.values()) <= set(names)
    assert {"pandas", "pyarrow", "numpy", "plotly.graph_objects"} <= set(names)
    assert "quantviz.ui.preload" not in names
    assert len(names) == len(set(names))


PROBE = r"""
import gc, json, sys
from pathlib import Path
root = Path(sys.argv[1])
sys.path[:0] = [str(root / "src"), str(root / "tests")]
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

# AppTest's own machinery, loaded by a trivial script, is not the app's business.
AppTest.from_string("import streamlit as st\nst.write('warm')").run()
from quantviz.ui.preload import ensure_loaded

ensure_loaded()
from quantviz.lab.load import load_labs

load_labs()  # fill the shared lab cache as the first session would


def shared_state():  # repr of every module-level dict, list and set of quantviz
    return {
        f"{name}.{attr}": repr(value)
        for name, module in sorted(sys.modules.items())
        if name.startswith("quantviz")
        for attr, value in sorted(vars(module).items())
        if type(value) in (dict, list, set)
    }


state = shared_state()
before = set(sys.modules)
at = AppTest.from_file(str(root / "app.py"), default_timeout=120)
at.run()
pages = [info.get("url_pathname", "") for info in at._registered_pages.values()]
errors = []
for url in pages:
    at._page_hash = calc_hash(url) if url else ""
    at.run()
    errors += [f"{url}: {e.value}" for e in at.exception]
after = shared_state()
changed = sorted(k for k in state.keys() | after.keys() if state.get(k) != after.get(k))
print(json.dumps({
    "pages": pages,
    "errors": errors,
    "new": sorted(set(sys.modules) - before),
    "shared": sorted(state),
    "changed": changed,
    "frozen": gc.get_freeze_count(),
}))
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
    imports nothing more, bar plotly's graph-object classes (next test): no script thread of a
    burst can find a module half-imported."""
    result = pages_after_preload
    assert result["errors"] == []
    late = [m for m in result["new"] if not m.startswith(preload.LAZY_SAFE_PREFIXES)]
    assert late == [], "add these to quantviz.ui.preload"


# What a lazily imported plotly graph-object module may import when it loads: modules that are
# loaded already, or another graph-object class (which this test checks in turn).
PLOTLY_LEAF_IMPORTS = {
    "sys",
    "typing",
    "copy",
    "warnings",
    "plotly.basedatatypes",
    "_plotly_utils.importers",
    "plotly.graph_objs",
}


def module_level_imports(tree: ast.Module) -> set[str]:
    """Modules a file imports while it loads (not under `if TYPE_CHECKING`, not in functions)."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                found.add("." * node.level + (node.module or ""))
            elif isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.ClassDef | ast.Try | ast.With):
                for part in ("body", "orelse", "finalbody"):
                    visit(getattr(node, part, []))

    visit(tree.body)
    return found


def test_plotly_classes_left_to_first_use_cannot_be_half_imported(pages_after_preload):
    """The graph-object modules the pages import on first use import only what is loaded
    already or another such class: no import cycle, so a second thread waits on the module's
    import lock and gets it whole (the preload leaves them out to keep the first page cheap)."""
    lazy = [m for m in pages_after_preload["new"] if m.startswith(preload.LAZY_SAFE_PREFIXES)]
    assert lazy, "the pages draw plotly figures"
    for name in lazy:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, name
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        assert module_level_imports(tree) <= PLOTLY_LEAF_IMPORTS, name


def test_the_import_time_objects_are_frozen_for_the_garbage_collector(pages_after_preload):
    """After the preload the objects the imports created sit in the collector's permanent
    generation, so a full collection during a burst does not walk them again."""
    assert pages_after_preload["frozen"] > 100_000


def test_no_page_changes_state_shared_between_sessions(pages_after_preload):
    """Rendering every page leaves every module-level dict, list and set of quantviz as it was,
    the lab cache and the Lab objects in it included: what one session does cannot leak into
    another through module state."""
    result = pages_after_preload
    assert "quantviz.lab.load._cache" in result["shared"]
    assert "quantviz.ui.registry.WIDGETS" in result["shared"]
    assert result["changed"] == []


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
