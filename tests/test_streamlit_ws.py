"""The websocket protocol client (tests/streamlit_ws.py) against a real `streamlit run`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit_process import streamlit_app
from streamlit_ws import StreamlitSession, burst
from streamlit_ws import run as run_async

from quantviz.ui.context import widget_key

pytestmark = pytest.mark.burst


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with streamlit_app() as url:
        yield url


def metric(run, label: str) -> str:
    values = [e.body.body for e in run.of_kind("metric") if e.body.label == label]
    assert len(values) == 1, (label, values)
    return values[0]


def test_a_deep_link_then_a_slider_move_rerun_only_the_fragment(app_url):
    """Opening Objective 1 by its URL path gives the whole page (four charts, the explorer's
    metrics); moving the single-weight explorer's bits slider from 4 to 3 reruns only its
    fragment, and the page then shows 2³ − 1 = 7 levels instead of 2⁴ − 1 = 15, with the rest
    of the page still there."""

    async def scenario():
        async with StreamlitSession(app_url) as session:
            first = await session.open("lab2-objective1")
            moved = await session.set_widget(
                widget_key("lab2-objective1", "quantization-explorer") + "-bits",
                double_array_value=[3],
            )
            return first, moved, session.navigation

    first, moved, navigation = run_async(scenario())
    assert first.status == "FINISHED_SUCCESSFULLY"
    assert first.exceptions == [] and first.widget_failures == []
    assert first.count("plotly_chart") == 4
    assert metric(first, "levels") == "15"
    assert any(a.format == "INFO" for a in first.alerts)
    assert "lab2-objective1" in {p["url_pathname"] for p in navigation}

    assert moved.status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"
    assert metric(moved, "levels") == "7"
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
