"""The sidebar's page titles: one flat list, so every title names its page on its own.

Named nav sections make Streamlit 1.67 draw invalid list markup (docs/accessibility.md); the
browser's axe test checks the markup, these check the titles that replace the section headers.
"""

from pathlib import Path

from apptest_utils import open_page

PAGES_KEY = "_quantviz_pages"  # where quantviz.ui.nav registers the session's pages

LAB = """---
order: {order}
title: "{title}"
description: A lab for the navigation test.
---

Overview text.

## Objective 1: Read the Numbers

Text.

## Conclusion

Done.
"""


def _titles(at) -> dict[str, str]:
    return {url: page.title for url, page in at.session_state[PAGES_KEY].items()}


def test_one_lab_keeps_its_section_titles_and_its_title_leads_them():
    """With the project's one lab, the overview is listed under the lab's own title (no longer
    "Overview"), the objectives and the conclusion under their headings, the tools unchanged."""
    titles = _titles(open_page())
    assert titles["lab2"] == "Lab 2 - Quantization Tradeoffs: Comparing 4-bit and 6-bit"
    assert titles["lab2-objective1"] == "Objective 1: Understand the Model and the Quantizations"
    assert titles["lab2-conclusion"] == "Conclusion"
    assert titles["settings"] == "Endpoint settings"
    assert titles["evidence"] == "Evidence report"
    assert "Overview" not in titles.values()


def test_with_two_labs_every_page_names_its_lab(tmp_path: Path, monkeypatch):
    """Two labs with the same section headings: each page's title carries "Lab N · ", so the
    two "Objective 1" entries of the flat list tell their labs apart."""
    (tmp_path / "a.md").write_text(LAB.format(order=3, title="Lab 3 - Scales"))
    (tmp_path / "b.md").write_text(LAB.format(order=4, title="Lab 4 - Blocks"))
    monkeypatch.setenv("QUANTVIZ_LABS_DIR", str(tmp_path))
    titles = _titles(open_page())
    assert titles["lab3"] == "Lab 3 - Scales"
    assert titles["lab4"] == "Lab 4 - Blocks"
    assert titles["lab3-objective1"] == "Lab 3 · Objective 1: Read the Numbers"
    assert titles["lab4-objective1"] == "Lab 4 · Objective 1: Read the Numbers"
    assert titles["lab3-conclusion"] == "Lab 3 · Conclusion"
    assert titles["lab4-conclusion"] == "Lab 4 · Conclusion"


def test_a_broken_lab_is_listed_as_not_loaded(monkeypatch):
    """A lab file that cannot be loaded appears in the list as "<title>: could not be loaded",
    the words the home page uses for it."""
    monkeypatch.setenv("QUANTVIZ_LABS_DIR", str(Path(__file__).parent / "fixtures" / "labs"))
    titles = _titles(open_page())
    broken = [t for url, t in titles.items() if url.startswith("lab-error-")]
    assert broken and all(t.endswith(": could not be loaded") for t in broken)


def test_every_page_has_its_own_browser_title():
    """The browser tab names the page first, then the lab, then the app (WCAG 2.4.2): an
    objective "Objective 3: … · Lab 2 · quantviz", an overview its lab's title, home the app."""
    from quantviz.lab import Lab
    from quantviz.lab.load import load_labs
    from quantviz.ui.shell import document_title, section_document_title

    (lab,) = load_labs(None)
    assert isinstance(lab, Lab)
    by_path = {s.url_path: s for s in lab.sections}
    assert (
        section_document_title(lab, by_path["lab2-objective3"])
        == "Objective 3: Measure the Storage Savings · Lab 2 · quantviz"
    )
    assert (
        section_document_title(lab, by_path["lab2"])
        == "Lab 2 - Quantization Tradeoffs: Comparing 4-bit and 6-bit · quantviz"
    )
    assert document_title("Endpoint settings") == "Endpoint settings · quantviz"
    assert document_title() == "quantviz"
