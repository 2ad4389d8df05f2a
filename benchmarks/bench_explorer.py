"""Explorer interactivity: a bits move -> redrawn chart, in Chromium against `streamlit run`.

The two quantization explorers carry every bit width in the figure (issue 13), so a bits move is
the figure's own plotly slider: no server involved. Per explorer this prints, over `--moves`
clicks on the figure's slider (a real mouse click on the rail under a step label, cycling
through the widths so every move changes the chart):

- the median and p90 time from the click's `mousedown` (captured in the page) until the frame
  after the figure's readouts show the new width (a MutationObserver on the plot compares the
  annotations' text, then one requestAnimationFrame: the redraw has been laid out and is about
  to be painted), one clock (performance.now());
- websocket frames per move, sent and received, counted by wrapping the page's WebSocket
  (goal 0: the move never reaches the server);
- the server's CPU per move (utime + stime of the streamlit process from /proc around the batch).

Goal (issue 13): <= 30 ms median and zero websocket messages per bits move. Headless Chromium
without a GPU draws in software, so a desktop browser is at least as fast.

First, `--loads` fresh tabs (new browser contexts) open Objective 1 and it prints the median
time from navigation start (performance.now() = 0) until the single-weight explorer's figure is
drawn with its slider, and until it has answered a first bits click (the click is sent as soon
as the figure is there). Goal (issue 13): interactive in <= 1.5 s.

    .venv/bin/python benchmarks/bench_explorer.py [--moves 40] [--loads 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))

from figure_slider import click_step
from playwright.sync_api import sync_playwright
from streamlit_process import CHROMIUM, CHROMIUM_ARGS, streamlit_process

TICKS = os.sysconf("SC_CLK_TCK")
PREFIX = ".st-key-lab2-objective1-"
EXPLORERS = {
    "single-weight": f"{PREFIX}quantization-explorer-0-line .js-plotly-plot",
    "grid": f"{PREFIX}quantization-grid-explorer-0-heatmaps .js-plotly-plot",
}
# Every width but the one the figure opens on comes next, so each move changes the chart.
SEQUENCE = ["5", "6", "7", "8", "2", "3", "4"]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


# Timestamps taken inside the page (one clock): every mousedown, every websocket frame.
PROBE_JS = """
window.__frames = {sent: 0, received: 0};
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", () => { window.__frames.received += 1; });
  }
  send(data) { window.__frames.sent += 1; return super.send(data); }
};
document.addEventListener("mousedown", () => { window.__down = performance.now(); }, true);
"""

# The move counts as drawn once the readouts' text differs from before the click (moving the
# mouse onto the rail restyles the slider's grip on hover, and a click moves the grip before
# plotly redraws), then one animation frame later.
ARM_JS = """sel => { window.__paint = null; window.__down = null;
    const plot = document.querySelector(sel);
    const text = () => Array.from(plot.querySelectorAll('.annotation-text'))
        .map(a => a.textContent).join('|');
    const before = text();
    new MutationObserver((m, o) => {
        if (window.__down === null || text() === before) return;
        o.disconnect();
        requestAnimationFrame(() => { window.__paint = performance.now(); }); })
      .observe(plot, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def measure(page, pid: int, plot: str, moves: int) -> tuple[list[float], dict, float]:
    times = []
    frames0 = page.evaluate("() => ({...window.__frames})")
    cpu0 = cpu_seconds(pid)
    for i in range(moves):
        page.evaluate(ARM_JS, plot)
        click_step(page, plot, SEQUENCE[i % len(SEQUENCE)])
        page.wait_for_function("() => window.__paint !== null", polling="raf")
        times.append(page.evaluate("() => window.__paint - window.__down"))
    cpu_ms = (cpu_seconds(pid) - cpu0) * 1000 / moves
    frames1 = page.evaluate("() => ({...window.__frames})")
    frames = {k: (frames1[k] - frames0[k]) / moves for k in frames0}
    return times, frames, cpu_ms


def page_load(browser, url: str) -> tuple[float, float]:
    """(figure drawn, first bits click answered), ms since navigation start, in a fresh tab."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.add_init_script(PROBE_JS)
    plot = EXPLORERS["single-weight"]
    page.goto(f"{url}/lab2-objective1", wait_until="commit")
    page.locator(f"{plot} .slider-rail-touch-rect").wait_for()
    drawn = page.evaluate("() => performance.now()")
    page.evaluate(ARM_JS, plot)
    click_step(page, plot, "8")
    page.wait_for_function("() => window.__paint !== null", polling="raf")
    answered = page.evaluate("() => window.__paint")
    context.close()
    return drawn, answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with streamlit_process() as (url, pid), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page_load(browser, url)  # warm-up: the server's first session imports everything
        loads = [page_load(browser, url) for _ in range(args.loads)]
        print(
            f"Objective 1 in a fresh tab, median of {len(loads)}: single-weight figure drawn at "
            f"{statistics.median(d for d, _ in loads):.0f} ms, first bits click answered at "
            f"{statistics.median(a for _, a in loads):.0f} ms after navigation start"
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.add_init_script(PROBE_JS)
        page.goto(f"{url}/lab2-objective1")
        for plot in EXPLORERS.values():
            page.locator(plot).wait_for()
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached")
        print(
            f"{'explorer':<14} {'moves':>5} {'median ms':>10} {'p90 ms':>7} "
            f"{'ws sent/move':>13} {'ws recv/move':>13} {'server CPU ms/move':>19}"
        )
        for name, plot in EXPLORERS.items():
            measure(page, pid, plot, 5)  # warm-up
            times, frames, cpu_ms = measure(page, pid, plot, args.moves)
            p90 = statistics.quantiles(times, n=10)[-1]
            print(
                f"{name:<14} {len(times):>5} {statistics.median(times):>10.1f} {p90:>7.1f} "
                f"{frames['sent']:>13.2f} {frames['received']:>13.2f} {cpu_ms:>19.2f}"
            )
        browser.close()
    print(
        "Method: real mouse clicks on the figure's own bits slider; time = mousedown until the "
        "animation frame after the readouts' text changed (performance.now(), in the page); "
        "frames counted by wrapping WebSocket; server CPU = utime+stime from /proc."
    )


if __name__ == "__main__":
    main()
