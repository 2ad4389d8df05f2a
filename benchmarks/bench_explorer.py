"""Explorer interactivity: slider move -> updated chart, in Chromium against `streamlit run`.

Reports, per explorer, the median browser round trip (key press on the bits slider until the
chart's DOM changes) and the server CPU per interaction (utime+stime of the streamlit process
from /proc around the batch, which is what one fragment rerun costs the shared server).
Goals (issue 2): <= 150 ms slider-to-chart and <= 30 ms server side, median.

    .venv/bin/python benchmarks/bench_explorer.py [--moves 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from playwright.sync_api import sync_playwright
from streamlit_process import CHROMIUM, CHROMIUM_ARGS, streamlit_process

TICKS = os.sysconf("SC_CLK_TCK")
EXPLORERS = {
    "single-weight": ("quantization-explorer-0-bits", "quantization-explorer-0-line"),
    "grid": ("quantization-grid-explorer-0-bits", "quantization-grid-explorer-0-heatmaps"),
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def measure(page, pid: int, slider_key: str, chart_key: str, moves: int) -> tuple[list, float]:
    prefix = ".st-key-lab2-objective1-"
    chart = f"{prefix}{chart_key} .js-plotly-plot"
    slider = page.locator(f'{prefix}{slider_key} input[type="range"]')
    slider.scroll_into_view_if_needed()
    slider.focus()
    round_trips = []
    cpu0 = cpu_seconds(pid)
    for i in range(moves):
        page.evaluate(
            """sel => { window.__changed = false;
                new MutationObserver((m, o) => { window.__changed = true; o.disconnect(); })
                  .observe(document.querySelector(sel), {subtree: true, childList: true,
                                                         attributes: true}); }""",
            chart,
        )
        t0 = time.perf_counter()
        page.keyboard.press("ArrowRight" if (i // 3) % 2 == 0 else "ArrowLeft")
        page.wait_for_function("() => window.__changed", polling="raf")
        round_trips.append((time.perf_counter() - t0) * 1000)
        page.wait_for_load_state("networkidle")
        time.sleep(0.05)
    cpu_ms = (cpu_seconds(pid) - cpu0) * 1000 / moves
    return round_trips, cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=40)
    args = parser.parse_args()
    with streamlit_process() as (url, pid), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(url)  # the first session after start runs in legacy pages mode
        page.locator('[data-testid="stMain"] h1').first.wait_for()
        page.goto(f"{url}/lab2-objective1")
        page.locator(".js-plotly-plot").first.wait_for()
        page.wait_for_load_state("networkidle")
        print(
            f"{'explorer':<14} {'moves':>5} {'browser median ms':>18} {'p90 ms':>8} "
            f"{'server CPU ms/move':>19}"
        )
        for name, (slider_key, chart_key) in EXPLORERS.items():
            measure(page, pid, slider_key, chart_key, 5)  # warm-up
            trips, cpu_ms = measure(page, pid, slider_key, chart_key, args.moves)
            p90 = statistics.quantiles(trips, n=10)[-1]
            print(
                f"{name:<14} {len(trips):>5} {statistics.median(trips):>18.1f} {p90:>8.1f} "
                f"{cpu_ms:>19.1f}"
            )
        browser.close()


if __name__ == "__main__":
    main()
