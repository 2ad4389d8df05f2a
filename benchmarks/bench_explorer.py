"""Explorer interactivity: slider move -> updated chart, in Chromium against `streamlit run`.

Reports, per explorer and as medians: the wire round trip (key press on the bits slider until
the last delta of the fragment rerun arrives on the websocket), the browser round trip (until
the chart's DOM has changed, which adds plotly's redraw in a GPU-less headless Chromium), and
the server CPU per interaction (utime+stime of the streamlit process from /proc around the
batch: what one fragment rerun costs the shared server).
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


# Timestamps taken inside the page (one clock): the key press, every websocket message, and the
# first DOM change of the chart.
PROBE_JS = """
window.__ws = [];
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", () => window.__ws.push(performance.now()));
  }
};
document.addEventListener("keydown", () => { window.__key = performance.now(); }, true);
"""


def measure(
    page, pid: int, slider_key: str, chart_key: str, moves: int
) -> tuple[list, list, float]:
    prefix = ".st-key-lab2-objective1-"
    chart = f"{prefix}{chart_key} .js-plotly-plot"
    slider = page.locator(f'{prefix}{slider_key} input[type="range"]')
    slider.scroll_into_view_if_needed()
    slider.focus()
    wire, browser = [], []
    cpu0 = cpu_seconds(pid)
    for i in range(moves):
        page.evaluate(
            """sel => { window.__mut = null;
                new MutationObserver((m, o) => {
                  window.__mut = performance.now(); o.disconnect(); })
                  .observe(document.querySelector(sel), {subtree: true, childList: true,
                                                         attributes: true}); }""",
            chart,
        )
        page.keyboard.press("ArrowRight" if (i // 3) % 2 == 0 else "ArrowLeft")
        page.wait_for_function("() => window.__mut !== null", polling="raf")
        page.wait_for_load_state("networkidle")
        time.sleep(0.3)  # let the rerun's last deltas arrive before reading the clock
        key, last, mut = page.evaluate(
            "() => [window.__key, Math.max(...window.__ws.filter(t => t > window.__key)),"
            " window.__mut]"
        )
        wire.append(last - key)
        browser.append(mut - key)
    cpu_ms = (cpu_seconds(pid) - cpu0) * 1000 / moves
    return wire, browser, cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=40)
    args = parser.parse_args()
    with streamlit_process() as (url, pid), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.add_init_script(PROBE_JS)
        page.goto(f"{url}/lab2-objective1")
        page.locator(".js-plotly-plot").first.wait_for()
        page.wait_for_load_state("networkidle")
        print(
            f"{'explorer':<14} {'moves':>5} {'wire ms':>8} {'browser ms':>11} "
            f"{'browser p90':>12} {'server CPU ms/move':>19}"
        )
        for name, (slider_key, chart_key) in EXPLORERS.items():
            measure(page, pid, slider_key, chart_key, 5)  # warm-up
            wire, trips, cpu_ms = measure(page, pid, slider_key, chart_key, args.moves)
            p90 = statistics.quantiles(trips, n=10)[-1]
            print(
                f"{name:<14} {len(trips):>5} {statistics.median(wire):>8.1f} "
                f"{statistics.median(trips):>11.1f} {p90:>12.1f} {cpu_ms:>19.1f}"
            )
        browser.close()


if __name__ == "__main__":
    main()
