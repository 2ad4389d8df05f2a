"""WCAG 2.1 A/AA, checked by axe-core in Chromium on every page (issue 18, docs/accessibility.md).

Every page is opened by URL with its widgets in their default state, against the Ollama test
server so the Ollama widgets show their real tables and charts. Serious and critical
violations fail the test; the others are printed and written to test-artifacts/axe-report.json.
"""

from __future__ import annotations

import html
import json
from urllib.parse import urlsplit

from axe import REPORT, audit, axe_source, describe, settle

NAV_LINKS = '[data-testid="stSidebarNav"] a'
# What the class is sure to open; the walk covers whatever else the sidebar lists too.
EXPECTED = {
    "",
    "lab2",
    *(f"lab2-objective{n}" for n in range(1, 7)),
    "lab2-conclusion",
    "settings",
    "evidence",
    "class-board",
    "instructor",
}


def _rule(result, rule: str) -> list:
    return [v for v in result.violations if v["id"] == rule]


def test_every_page_has_no_serious_or_critical_axe_violation(page, served_app):
    """Home, every objective and section of the lab and every tool page, opened by URL and fully
    drawn (script finished, no loading skeleton, plotly charts drawn, no dialog over the page):
    axe-core's WCAG 2.0/2.1 A and AA rules and best practices find no serious or critical
    violation, and axe really examined the page (its heading was among the nodes checked for
    contrast). Every page has a browser tab title of its own, and no heading skips a level."""
    source = axe_source()
    page.goto(served_app)
    settle(page)
    hrefs = page.locator(NAV_LINKS).evaluate_all("links => links.map(a => a.href)")
    paths = sorted({urlsplit(h).path.strip("/") for h in hrefs})
    assert set(paths) >= EXPECTED

    audits = []
    titles: dict[str, str] = {}
    for path in paths:
        page.goto(f"{served_app}/{path}")
        settle(page)
        # A dialog (e.g. Streamlit's "Page not found") makes the rest of the page inert and
        # hidden from axe, which would then pass a page it never looked at.
        assert page.locator('[role="dialog"]').count() == 0, path
        heading = page.locator('[data-testid="stMain"] h1, [data-testid="stMain"] h2').first
        result = audit(page, path, source)
        titles[path] = page.title()
        if path.startswith("lab2-"):  # a lab page's tab names its heading first (WCAG 2.4.2)
            assert titles[path].startswith(heading.inner_text().strip()), (path, titles[path])
        title = html.escape(heading.inner_text().strip()[:30], quote=False)
        assert any(title in markup for markup in result.checked_html("color-contrast")), path
        audits.append(result)

    report = {a.path or "/": {"blocking": a.blocking(), "others": a.others()} for a in audits}
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=1))
    for a in audits:
        if a.violations:
            print(f"/{a.path} (axe {a.axe_version}):\n{describe(a.violations)}")

    # Each tab says which page it is, and the app's name last (WCAG 2.4.2, issue 18).
    assert len(set(titles.values())) == len(titles), titles
    assert titles[""] == "quantviz"
    assert titles["lab2-objective3"].endswith(" · Lab 2 · quantviz"), titles
    assert titles["settings"] == "Endpoint settings · quantviz"
    # Headings go down one level at a time (the h3 right after the h1 on /lab2 and /settings).
    skipped = {a.path: a.violations for a in audits if _rule(a, "heading-order")}
    assert not skipped, "\n".join(f"/{p}:\n{describe(v)}" for p, v in skipped.items())

    blocking = {f"/{a.path}": a.blocking() for a in audits if a.blocking()}
    assert not blocking, "\n".join(f"{p}:\n{describe(v)}" for p, v in blocking.items())
