"""A whole class opening the link at once, right after the app starts (issue 17).

Each test starts a fresh `streamlit run` (no warm-up session: the burst is the first traffic the
server sees) and opens 60 sessions with Streamlit's websocket protocol (`streamlit_ws`), spread
over every page of the app's navigation: home, every lab section and every tool page. All 60
sockets are opened first and the 60 page requests then sent back to back, so the script runs
start together: the harshest race. No session may see an exception, a widget-failure notice,
a "Page not found" (Streamlit's legacy `pages/` mode, which a top-level `pages/` folder would
bring back for every session of a burst right after a start) or an unfinished script. The Ollama
widgets talk to the project's Ollama-protocol test server.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import frontmatter
import pytest
from ollama_server import OllamaTestServer
from streamlit_process import streamlit_server
from streamlit_ws import StreamlitSession, burst
from streamlit_ws import run as run_async

pytestmark = pytest.mark.burst

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = 60
OBJECTIVE_1 = "lab2-objective1"
OBJECTIVE_1_CHARTS = 4  # counted in Chromium: single-weight line, grid heatmaps, GGUF x2


@pytest.fixture(scope="module")
def ollama() -> Iterator[OllamaTestServer]:
    with OllamaTestServer() as server:
        yield server


def lab_objective_pages() -> set[str]:
    """`lab{order}-objective{N}` for every `## Objective N` heading of every lab file."""
    urls = set()
    for path in (ROOT / "labs").glob("*.md"):
        post = frontmatter.load(path)
        for m in re.finditer(r"^## Objective (\d+)", post.content, re.MULTILINE):
            urls.add(f"lab{post['order']}-objective{m[1]}")
    return urls


@pytest.fixture(scope="module")
def pages(ollama: OllamaTestServer) -> list[str]:
    """Every page of the app's navigation, read from a throwaway server's `navigation` message.

    A server of its own, so every burst below still hits a server nobody has visited.
    """

    async def navigation(url: str) -> list[str]:
        async with StreamlitSession(url) as session:
            run = await session.open()
            assert run.finished, run.status
            return [p["url_pathname"] for p in session.navigation]

    with streamlit_server({"OLLAMA_HOST": ollama.url}) as server:
        urls = run_async(navigation(server.url))
    assert lab_objective_pages() <= set(urls), urls
    assert {"settings", "evidence"} <= set(urls), urls
    return urls


@pytest.mark.parametrize("run", [1, 2, 3])
def test_sixty_sessions_at_once_on_a_fresh_server(run, pages, ollama):
    """60 sessions open every objective page, every other section and every tool page at the
    same instant on a fresh server: each script finishes, no page shows an exception, a
    widget-failure notice or "Page not found", and every Objective 1 page carries its four
    charts."""
    assert 3 * len(pages) <= SESSIONS, "every page gets several concurrent sessions"
    wanted = [pages[i % len(pages)] for i in range(SESSIONS)]
    with streamlit_server({"OLLAMA_HOST": ollama.url}) as server:
        visits = run_async(burst(server.url, wanted, connect_first=True, timeout=180))
        log = server.log()

    problems = [p for v in visits for p in v.problems]
    assert problems == [], f"{len(problems)} problems: {Counter(problems).most_common(5)}"
    assert "Traceback" not in log, log[-3000:]
    for visit in visits:
        assert visit.result is not None
        assert visit.result.status == "FINISHED_SUCCESSFULLY"
        if visit.page == OBJECTIVE_1:
            assert visit.result.count("plotly_chart") == OBJECTIVE_1_CHARTS
    assert Counter(v.page for v in visits) == Counter(wanted)
