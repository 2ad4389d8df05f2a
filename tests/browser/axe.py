"""axe-core in Chromium: wait until a Streamlit page has finished drawing, then audit it.

axe-core comes from npm (`tests/browser/package.json` pins it; `make test`, `make browser` and
`.ci/run` install it into `tests/browser/node_modules`), never from a CDN: the pages may load
nothing but the app's own origin, and the audit must not depend on the network.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
INSTALL_HINT = "make axe (or: cd tests/browser && npm install)"
REPORT = HERE.parents[1] / "test-artifacts" / "axe-report.json"  # every violation, per page

# WCAG 2.0 and 2.1, levels A and AA, plus Deque's best practices (cheap: same pass).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("serious", "critical")

# Streamlit's "stale" fade, its loading skeletons and plotly's first draw all change what axe
# would measure; a page is audited only once none of them is left.
_SETTLED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.dataset.testScriptState !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stSkeleton"], [data-stale="true"]')) return false;
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
  return charts.every(c => c.querySelector('.main-svg'));
}"""


def pinned_version() -> str:
    return json.loads((HERE / "package.json").read_text())["dependencies"]["axe-core"]


def axe_source() -> Path:
    """The installed axe.min.js, checked against the pinned version.

    Missing: a skip locally, a failure where QUANTVIZ_REQUIRE_BROWSER is set (CI).
    """
    if not AXE_JS.exists():
        message = f"axe-core is not installed in {AXE_JS.parent.parent}: {INSTALL_HINT}"
        if os.environ.get("QUANTVIZ_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    installed = json.loads((AXE_JS.parent / "package.json").read_text())["version"]
    if installed != pinned_version():
        pytest.fail(
            f"axe-core {installed} is installed, {pinned_version()} is pinned: {INSTALL_HINT}"
        )
    return AXE_JS


def settle(page) -> None:
    """Wait until the page's script has finished and everything it sent has been drawn."""
    page.locator('[data-testid="stMain"] h1, [data-testid="stMain"] h2').first.wait_for()
    page.wait_for_load_state("networkidle")
    page.wait_for_function(_SETTLED)


@dataclass(frozen=True)
class Audit:
    """One page's axe results (violations, and the nodes each rule looked at)."""

    path: str
    axe_version: str
    violations: list[dict[str, Any]]
    passes: list[dict[str, Any]]

    def blocking(self) -> list[dict[str, Any]]:
        return [v for v in self.violations if v["impact"] in BLOCKING]

    def others(self) -> list[dict[str, Any]]:
        return [v for v in self.violations if v["impact"] not in BLOCKING]

    def checked_html(self, rule: str) -> list[str]:
        """The markup of every node `rule` examined, passed or not."""
        return [
            n["html"] for r in self.passes + self.violations if r["id"] == rule for n in r["nodes"]
        ]


def audit(page, path: str, source: Path) -> Audit:
    """Inject axe-core (from the file, once per document) and run the WCAG 2.1 A/AA rules."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(source))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        TAGS,
    )
    return Audit(path, result["testEngine"]["version"], result["violations"], result["passes"])


def describe(violations: list[dict[str, Any]], nodes: int = 3) -> str:
    """Violations as readable lines: impact, rule, count, help, the first nodes and why."""
    lines = []
    for v in violations:
        lines.append(f"  {v['impact']:<9} {v['id']} x{len(v['nodes'])}: {v['help']}")
        for node in v["nodes"][:nodes]:
            lines.append(f"      {', '.join(map(str, node['target']))}")
            reason = (node.get("any") or node.get("all") or node.get("none") or [{}])[0]
            if reason.get("message"):
                lines.append(f"        {reason['message']}")
    return "\n".join(lines)


def check_now(page, path: str, source: Path) -> Audit:
    """Audit the page as it is once the last interaction has been drawn; fail on a serious or
    critical violation (printing the others, for the report)."""
    settle(page)
    result = audit(page, path, source)
    if result.others():
        print(f"{path} (axe {result.axe_version}):\n{describe(result.others())}")
    assert not result.blocking(), f"{path}:\n{describe(result.blocking())}"
    return result


def open_data_table(page, scope: str, name: str) -> None:
    """Open the chart's "Data table: <name>" expander under `scope` with the keyboard only."""
    summary = page.locator(f"{scope} [data-testid='stExpander'] summary").filter(
        has_text=f"Data table: {name}"
    )
    summary.focus()
    page.keyboard.press("Enter")
    summary.locator("xpath=..").locator('[data-testid="stDataFrame"], table').first.wait_for()
