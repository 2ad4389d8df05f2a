"""A widget's panel that raises in a fragment-only rerun shows the registry's notice, not a
traceback: the rerun runs outside `render_widget`, so `registry.fragment` guards it itself."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from markdown_oracle import read, visible
from streamlit_process import streamlit_server
from streamlit_ws import StreamlitSession
from streamlit_ws import run as run_async

from quantviz.ui.registry import RAISE_ENV

pytestmark = pytest.mark.burst

HOSTILE = "fragment bug <img src=x> **loud**"

APP = f"""
import streamlit as st
from quantviz.ui import registry


@registry.fragment
def guarded() -> None:
    if st.button("Break the guarded panel", key="break-guarded"):
        raise ValueError({HOSTILE!r})
    st.write("guarded panel")


@st.fragment
def bare() -> None:
    if st.button("Break the bare panel", key="break-bare"):
        raise ValueError({HOSTILE!r})
    st.write("bare panel")


guarded()
bare()
"""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    app = Path(tmp_path_factory.mktemp("fragment-guard")) / "app.py"
    app.write_text(textwrap.dedent(APP))
    # deployed behaviour: the tests' "raise" mode off
    with streamlit_server({RAISE_ENV: ""}, app=app) as server:
        yield server.url


def click(app_url: str, key: str):
    async def scenario():
        async with StreamlitSession(app_url) as session:
            first = await session.open()
            return first, await session.set_widget(key, trigger_value=True)

    return run_async(scenario())


def test_a_guarded_panel_that_raises_in_its_own_rerun_shows_the_notice(app_url):
    """Clicking the button inside the guarded fragment reruns only that fragment, which
    raises: the session gets the widget-failure notice with the exception as plain text, and no
    exception element (Streamlit's traceback)."""
    first, broken = click(app_url, "break-guarded")
    assert first.exceptions == [] and first.widget_failures == []
    assert broken.status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"
    assert broken.exceptions == []
    (notice,) = broken.widget_failures
    assert visible(notice) == f"The __main__ widget failed: ValueError: {HOSTILE}"
    shown = read(notice)  # read as that exact text: no image, no emphasis, no HTML
    assert shown.inert and "<strong>" not in shown.html and "<img" not in shown.html


def test_a_bare_fragment_that_raises_shows_streamlits_traceback(app_url):
    """The control: the same panel under plain `st.fragment` reaches Streamlit, which sends an
    exception element with the traceback. This is what the guard prevents, and it shows the
    test above can see a traceback when there is one."""
    _, broken = click(app_url, "break-bare")
    assert broken.exceptions and "fragment bug" in broken.exceptions[0]
    assert broken.widget_failures == []
