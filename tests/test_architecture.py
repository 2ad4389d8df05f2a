"""The house rules the layout stands on, checked over every module rather than a sample."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import quantviz

SRC = Path(quantviz.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(("quantviz", *parts)).removesuffix(".__init__")
        out[name] = path
    return out


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


CORE = [name for name in _modules() if not name.startswith("quantviz.ui")]


def test_the_walk_finds_the_whole_package():
    """The module list the checks below use covers every layer of the layout."""
    names = set(_modules())
    for package in ("config", "lab", "quant", "ollama", "chat", "probe", "decision", "report",
                    "figures", "board", "weights", "ui"):  # fmt: skip
        assert f"quantviz.{package}" in names
    assert len(CORE) > 50


def test_no_module_outside_ui_imports_streamlit():
    """Each core module, imported in a fresh interpreter one after the other, leaves streamlit
    unloaded; the first that loads it is named."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {json.dumps(CORE)}:\n"
        "    importlib.import_module(name)\n"
        "    if 'streamlit' in sys.modules:\n"
        "        print(name); break\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "", f"{result.stdout.strip()} imports streamlit"


def test_no_core_module_imports_the_ui_or_streamlit_even_lazily():
    """Not even inside a function: a core module never names streamlit or quantviz.ui."""
    offenders = {
        name: sorted(
            i
            for i in _imports(path)
            if i.split(".")[0] == "streamlit" or i.startswith("quantviz.ui")
        )
        for name, path in _modules().items()
        if name in CORE
    }
    assert {n: i for n, i in offenders.items() if i} == {}


def test_modules_import_one_another_without_cycles():
    """The top-level imports between quantviz modules form no cycle (the Ollama client, its
    endpoint rule and its transport import the errors module, not each other in a ring)."""
    modules = _modules()
    graph = {
        name: {i for i in _imports(path, top_level_only=True) if i in modules and i != name}
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        for dep in sorted(graph[name]):
            assert dep not in trail, " -> ".join([*trail[trail.index(dep) :], dep])
            if dep not in done:
                visit(dep, [*trail, dep])
        done.add(name)

    for name in graph:
        visit(name, [name])


def test_pages_escape_outside_text_with_the_one_helper():
    """`plain` is imported from quantviz.text and nowhere else; no module re-exports it."""
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and any(a.name == "plain" for a in node.names):
                assert node.module == "quantviz.text", f"{name} imports plain from {node.module}"
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                assert "plain" not in ast.literal_eval(node.value), f"{name} re-exports plain"


def test_the_test_ollama_server_is_not_checked_against_the_app():
    """The Ollama-protocol test server imports nothing of quantviz: what it serves (sizes,
    recipes, metadata) is written from upstream sources, so the app cannot agree with itself."""
    imports = _imports(TESTS / "ollama_server.py")
    assert not [i for i in imports if i.split(".")[0] == "quantviz"]


CHART_HELPER = "quantviz.ui.chart"


def _plotly_chart_calls(path: Path) -> list[int]:
    """Lines where a module calls `<anything>.plotly_chart(...)`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "plotly_chart"
    ]


def test_only_the_chart_helper_calls_plotly_chart():
    """Every chart goes through quantviz.ui.chart.show_chart, so none lacks its summary sentence
    and data table (issue 18): no other module calls `.plotly_chart` (st., a column, a
    container), and the helper does."""
    calls = {name: _plotly_chart_calls(path) for name, path in _modules().items()}
    assert calls[CHART_HELPER]
    offenders = {name: lines for name, lines in calls.items() if lines and name != CHART_HELPER}
    assert offenders == {}


def test_no_module_shows_a_toast():
    """st.toast draws, in Streamlit 1.67, a role="alertdialog" with no accessible name (axe
    aria-dialog-name, serious; docs/accessibility.md): confirmations are inline st.success /
    st.warning messages (role status / alert) instead."""
    offenders = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [
            f"{name}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "toast"
        ]
    assert offenders == []


def test_every_widget_panel_fragment_is_guarded():
    """Widgets draw their panels with `registry.fragment`, never bare `st.fragment`: a
    fragment reruns outside `render_widget`, and a bare one that raises shows the student
    Streamlit's traceback (tests/test_fragment_guard.py shows both)."""
    bare = []
    for name, path in _modules().items():
        if not name.startswith("quantviz.ui.") or name == "quantviz.ui.registry":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "fragment"
                and isinstance(node.value, ast.Name)
                and node.value.id == "st"
            ):
                bare.append(f"{name}:{node.lineno}")
    assert bare == []
    assert any("registry.fragment" in p.read_text() for p in (SRC / "ui" / "widgets").glob("*.py"))
