"""The widget registry: a widget that raises shows a notice, and the notice stays inert."""

from __future__ import annotations

import pytest
from apptest_utils import open_page
from markdown_oracle import read, visible
from streamlit.testing.v1 import AppTest

from quantviz.ui import registry

HOSTILE = "bad answer ![x](http://127.0.0.1:9/p.png) <img src=x> **loud**"


def _page_with_one_widget() -> None:
    from quantviz.lab import Lab
    from quantviz.lab.load import load_labs
    from quantviz.ui import registry
    from quantviz.ui.context import WidgetContext

    lab = next(lab for lab in load_labs() if isinstance(lab, Lab))
    registry.render_widget(WidgetContext(lab, lab.sections[0], "storage-savings"))


def test_widget_failure_notice_quotes_the_exception_literally(monkeypatch):
    """Deployed (the tests' RAISE_ENV unset), the notice names the widget and the exception, and
    its Markdown reads as that exact text: no image, no link, no emphasis, no HTML."""

    def boom(ctx) -> None:
        raise ValueError(HOSTILE)

    monkeypatch.delenv(registry.RAISE_ENV)
    monkeypatch.setattr(registry, "widget_for", lambda name: boom)
    at = AppTest.from_function(_page_with_one_widget, default_timeout=30).run()
    assert not at.exception
    (notice,) = at.error
    shown = read(notice.value)
    assert shown.inert and "<strong>" not in shown.html and "<img" not in shown.html
    assert visible(notice.value) == f"The storage-savings widget failed: ValueError: {HOSTILE}"


@pytest.mark.parametrize("url_path", ["lab2-objective1", "lab2-objective3"])
def test_a_widget_that_raises_fails_the_page_test(url_path, monkeypatch):
    """Under the tests a widget's exception is the page's: the check every page test makes
    (`not at.exception`) fails on it, where before the notice hid it from all of them."""

    def boom(ctx) -> None:
        raise ValueError("a widget bug")

    monkeypatch.setattr(registry, "widget_for", lambda name: boom)
    at = open_page(url_path)
    assert at.exception and "a widget bug" in at.exception[0].message
    assert not [e for e in at.error if "widget failed" in e.value]
