"""The floor under a bits move: plotly.js redrawing the explorers' default figures, no Streamlit.

`bench_explorer.py` times a bits move in the app (quiet figures in README, Performance; goal
30 ms). This script separates what plotly.js itself costs from what the page around it adds: it
builds the two explorers' default figures with the widgets' own builders, loads each alone into
an empty page with plotly.js (the bundle of the installed `plotly` package, read from disk, no
server) in the same headless Chromium, and applies the figure's own slider steps with
`Plotly.update`, as the slider does. Per figure and variant it prints the median time from the
call until the next animation frame, over 6 rounds of the seven steps (the first round dropped):

- `steps`: the steps as shipped (trace attributes and layout attribute strings);
- `restyle only` / `relayout only`: the steps' trace part alone, or their layout part alone.

`Plotly.animate` with `redraw: false` (no full replot) is no way out: it was tried and left the
grid's heatmaps undrawn and its bars misplaced (plotly.js transitions only some trace types).

Measured quiet, pinned with `taskset -c 1`, median of 3 runs (README, Performance): 26.1 ms
single-weight, 57.5 ms grid. The grid's steps cost the same whether they change traces or only
layout text (59 ms), because either makes plotly.js replot the whole figure (three heatmaps, four
panels, two colour bars, the slider); a lighter figure, not a lighter step, is the lever left.

    .venv/bin/python benchmarks/bench_plotly_redraw.py [--rounds 6]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import plotly
import plotly.io as pio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from playwright.sync_api import sync_playwright
from streamlit_process import CHROMIUM, CHROMIUM_ARGS

from quantviz.quant.absmax import toy_layer
from quantviz.quant.schemes import NO_CLIP
from quantviz.ui.widgets import grid_explorer, weight_explorer

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

TIME_JS = """async ([steps, rounds]) => {
  const gd = document.getElementById('plot'); const out = [];
  const frame = () => new Promise(r => requestAnimationFrame(r));
  for (let round = 0; round < rounds; round++)
    for (const [, restyle, relayout, traces] of steps) {
    const t0 = performance.now();
    await Plotly.update(gd, restyle, relayout, traces);
    await frame();
    out.push(performance.now() - t0);
  }
  return out.slice(steps.length); }"""


def figures() -> dict[str, dict]:
    """The two explorers' default figures, as the page sends them (plotly JSON)."""
    _, single, _ = weight_explorer._figure(
        weight_explorer.DEFAULT_WEIGHT, weight_explorer.DEFAULT_MAX_ABS
    )
    w = np.ascontiguousarray(toy_layer(7, "normal"), dtype=np.float64)
    settings = grid_explorer.Settings(
        "symmetric", "tensor", grid_explorer.DEFAULT_GROUP_SIZE, NO_CLIP
    )
    _, grid, _ = grid_explorer._figure(w.tobytes(), w.shape, settings, False)
    built = {"single": single, "grid": grid}
    return {name: json.loads(pio.to_json(fig)) for name, fig in built.items()}


def variants(spec: dict) -> dict[str, list[list]]:
    steps = spec["layout"]["sliders"][0]["steps"]
    shipped = [[s["label"], *s["args"]] for s in steps]
    return {
        "steps": shipped,
        "restyle only": [[label, r, {}, t] for label, r, _, t in shipped],
        "relayout only": [[label, {}, lay, t] for label, _, lay, t in shipped],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "index.html"
        (Path(tmp) / "plotly.min.js").write_bytes(PLOTLY_JS.read_bytes())
        page.write_text(
            "<html><body><div id=plot style='width:1200px;height:700px'></div>"
            "<script src='plotly.min.js'></script></body></html>"
        )
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            print(f"plotly.js from {PLOTLY_JS.name} of plotly {plotly.__version__}")
            print(f"{'figure':<8} {'variant':<14} {'median ms':>10} {'p90 ms':>7}")
            for name, spec in figures().items():
                for variant, steps in variants(spec).items():
                    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
                    tab.goto(page.as_uri())
                    tab.evaluate("f => Plotly.newPlot('plot', f.data, f.layout)", spec)
                    times = tab.evaluate(TIME_JS, [steps, args.rounds])
                    p90 = statistics.quantiles(times, n=10)[-1]
                    print(f"{name:<8} {variant:<14} {statistics.median(times):>10.1f} {p90:>7.1f}")
                    tab.close()
            browser.close()


if __name__ == "__main__":
    main()
