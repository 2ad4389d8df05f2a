"""The websocket protocol client (tests/streamlit_ws.py) against a real `streamlit run`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from figure_steps import readouts
from streamlit_process import streamlit_app
from streamlit_ws import StreamlitSession, burst
from streamlit_ws import run as run_async

from quantviz.ui.context import widget_key

pytestmark = pytest.mark.burst


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with streamlit_app() as url:
        yield url


def explorer_readouts(run) -> dict[str, str]:
    """The single-weight explorer figure's readouts (its opening width, 4 bits)."""
    line = widget_key("lab2-objective1", "quantization-explorer") + "-line"
    specs = [json.loads(e.body.spec) for e in run.of_kind("plotly_chart") if line in e.body.id]
    assert len(specs) == 1, len(specs)
    return readouts(specs[0])


def test_a_deep_link_then_a_control_move_rerun_only_the_fragment(app_url):
    """Opening Objective 1 by its URL path gives the whole page (four charts, the explorer's
    readouts); changing the single-weight explorer's max|w| from 0.910203 to 0.5 reruns only
    its fragment, and its figure then shows the 4-bit scale 0.5 / 7 = 0.071429 instead of
    0.910203 / 7 = 0.130029, with the rest of the page still there. (Its bits slider is the
    figure's own and sends nothing: tests/browser/test_browser_explorers.py.)"""

    async def scenario():
        async with StreamlitSession(app_url) as session:
            first = await session.open("lab2-objective1")
            moved = await session.set_widget(
                widget_key("lab2-objective1", "quantization-explorer") + "-max",
                double_value=0.5,
            )
            return first, moved, session.navigation

    first, moved, navigation = run_async(scenario())
    assert first.status == "FINISHED_SUCCESSFULLY"
    assert first.exceptions == [] and first.widget_failures == []
    assert first.count("plotly_chart") == 4
    assert explorer_readouts(first)["scale"] == "0.130029"
    assert explorer_readouts(first)["levels"] == "15"
    assert any(a.format == "INFO" for a in first.alerts)
    assert "lab2-objective1" in {p["url_pathname"] for p in navigation}

    assert moved.status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"
    assert explorer_readouts(moved)["scale"] == "0.071429"
    assert moved.count("plotly_chart") == 4
    assert moved.sent_at < moved.last_delta_at <= moved.finished_at


def test_an_unknown_page_is_reported_as_not_found(app_url):
    """A URL path the app does not have comes back as Streamlit's page_not_found message (the
    browser's "Page not found" dialog), and the run still finishes on the home page."""

    async def scenario():
        async with StreamlitSession(app_url) as session:
            return await session.open("no-such-page")

    run = run_async(scenario())
    assert run.page_not_found
    assert run.finished
    assert run.count("title") + run.count("heading") >= 1


def test_a_burst_times_every_session_from_one_common_start(app_url):
    """burst() opens one session per page asked for, each with its own complete run, and times
    them all from the same start."""
    visits = run_async(burst(app_url, ["lab2", "settings", "lab2", ""]))
    assert [v.page for v in visits] == ["lab2", "settings", "lab2", ""]
    assert len({v.started_at for v in visits}) == 1
    for visit in visits:
        assert visit.problems == []
        assert 0 < visit.seconds < 120
