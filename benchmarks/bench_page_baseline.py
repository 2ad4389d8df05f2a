"""The browser's floor for "Objective 1 interactive in 1.5 s": a bare Streamlit page beside it.

    .venv/bin/python benchmarks/bench_page_baseline.py [--loads 5]

Two `streamlit run` servers on this machine: a minimal app (a title, one number input, one small
plotly chart; written to a temp dir) and this app. Each is opened in `--loads` fresh Chromium
tabs (the browser tests' headless flags, 1440 x 900); per tab, the times after navigation start
(`performance.now()` in the page) when the first number input and the first plotly chart are in
the page. Medians. What the bare page takes is what Streamlit and plotly.js cost in this browser
before any content of ours: the gap to Objective 1 is the page's own share.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from playwright.sync_api import sync_playwright
from streamlit_process import CHROMIUM, CHROMIUM_ARGS, streamlit_server

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """\
import plotly.graph_objects as go
import streamlit as st

st.title("A bare page")
st.number_input("x", value=1.0)
st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])), key="chart")
"""


def measure(browser, url: str, loads: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"first input": [], "first chart": []}
    for _ in range(loads):
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(url)
        page.locator('[data-testid="stNumberInput"] input').first.wait_for(timeout=60_000)
        times["first input"].append(page.evaluate("performance.now()"))
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        times["first chart"].append(page.evaluate("performance.now()"))
        context.close()
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "app.py"
        bare.write_text(MINIMAL)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            rows = []
            for name, app, path in (
                ("bare Streamlit page", bare, ""),
                ("Objective 1", ROOT / "app.py", "lab2-objective1"),
            ):
                with streamlit_server(app=app) as server:
                    measure(browser, f"{server.url}/{path}", 1)  # warm the first run
                    rows.append((name, measure(browser, f"{server.url}/{path}", args.loads)))
            browser.close()
    print(f"median of {args.loads} fresh tabs, ms after navigation start")
    print(f"{'page':<22}{'first input':>14}{'first chart':>14}")
    for name, figures in rows:
        print(f"{name:<22}{figures['first input']:>14.0f}{figures['first chart']:>14.0f}")


if __name__ == "__main__":
    main()
