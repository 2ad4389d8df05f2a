"""Keyboard for a figure's own slider: Tab to it, arrow keys move it, still no server round trip.

The explorers switch bit widths with plotly's `layout.sliders` (issue 13): plotly.js draws that
slider in SVG and takes pointer input only, so a keyboard user could not reach it (issue 18,
SC 2.1.1). This element, placed beside such a chart, makes the slider a focusable ARIA slider:

- the slider's SVG group gets `tabindex="0"`, `role="slider"`, a name, `aria-valuemin`/`max`
  and `aria-valuenow` (the step labels, 2 to 8) and `aria-valuetext` (plotly's own readout
  where the figure shows one, "bits: 4", else the label and the slider's name), refreshed
  after every redraw through plotly.js's public `plotly_afterplot` event, so a screen reader
  hears each new value;
- ArrowRight/ArrowUp/PageUp and ArrowLeft/ArrowDown/PageDown move one step, Home and End to the
  ends: the script presses the rail where that step's tick is drawn, exactly as a mouse does,
  so plotly.js runs the step it already holds (the numbers stay computed in Python; nothing is
  computed here, and no message reaches the server);
- focus shows as a 3 px ring in the theme's primary colour (`:focus-visible`).

What it relies on from plotly.js besides the public event: the slider's `active` attribute on
the datum d3 binds to its group, and the class names of the slider's
drawn parts (`slider-container`, `slider-group`, `slider-tick-rect`, `slider-grip-rect`,
`slider-rail-touch-rect`, `slider-label-group`, and `slider-label` for the current value's
text), stable since plotly.js 1.x. `tests/browser/test_browser_keyboard.py` drives it in
Chromium, so an upgrade that renames them fails there. The script reaches the browser as a
same-origin blob URL (Streamlit's components v2): nothing is fetched.
"""

from __future__ import annotations

import streamlit as st

# The explorers' caption under a figure with a bits slider.
HINT = (
    "Move the figure's **bits** slider with the mouse, or Tab to it and use the arrow keys "
    "(Home and End for 2 and 8): every width is already in the page. The table under the "
    "figure holds the same numbers."
)

# The theme's primary colour (.streamlit/config.toml): 6.3:1 on white, a visible ring (SC 2.4.7).
FOCUS_COLOUR = "#4f46e5"

_JS = (
    """const FOCUS_CSS = `.js-plotly-plot g.slider-container:focus { outline: none; }
.js-plotly-plot g.slider-container:focus-visible {
  outline: 3px solid FOCUS_COLOUR; outline-offset: 3px; }`;
const MOVES = {ArrowRight: 1, ArrowUp: 1, PageUp: 1, ArrowLeft: -1, ArrowDown: -1, PageDown: -1};
const attached = (window.__quantvizSliderKeys ??= new WeakSet());

function centre(node) {
  const box = node.getBoundingClientRect();
  return [box.left + box.width / 2, box.top + box.height / 2];
}

function parts(plot) {
  const container = plot.querySelector('g.slider-container');
  const group = container && container.querySelector('g.slider-group');
  const ticks = group ? [...group.querySelectorAll('rect.slider-tick-rect')] : [];
  const grip = group && group.querySelector('rect.slider-grip-rect');
  const rail = group && group.querySelector('rect.slider-rail-touch-rect');
  if (!ticks.length || !grip || !rail) return null;
  // The slider's `active` step (its layout attribute), from the datum d3 binds to the group
  // (`__data__`, d3's documented place); the grip is animated between steps, so its position
  // is a fallback only.
  const datum = group.__data__;
  let active = datum && Number.isInteger(datum.active) ? datum.active : -1;
  if (active < 0 || active >= ticks.length) {
    const x = centre(grip)[0];
    active = 0;
    ticks.forEach((tick, i) => {
      if (Math.abs(centre(tick)[0] - x) < Math.abs(centre(ticks[active])[0] - x)) active = i;
    });
  }
  const labels = [...group.querySelectorAll('g.slider-label-group')].map(
    (g) => g.textContent.trim());
  const current = group.querySelector(':scope > text.slider-label');  // "bits: 4"
  return {container, ticks, rail, active, labels, text: current ? current.textContent : ''};
}

function describe(plot, name) {
  const p = parts(plot);
  if (!p) return;
  const numeric = p.labels.length === p.ticks.length
    && p.labels.every((l) => l !== '' && !isNaN(l));
  const value = (i) => (numeric ? Number(p.labels[i]) : i);
  const set = (k, v) => {
    if (p.container.getAttribute(k) !== String(v)) p.container.setAttribute(k, v);
  };
  set('tabindex', '0');
  set('role', 'slider');
  set('aria-label', name);
  set('aria-orientation', 'horizontal');
  set('aria-valuemin', value(0));
  set('aria-valuemax', value(p.ticks.length - 1));
  set('aria-valuenow', value(p.active));
  set('aria-valuetext', p.text || `${p.labels[p.active] ?? p.active} ${name}`);
}

function move(plot, event) {
  if (!event.target.matches || !event.target.matches('g.slider-container')) return;
  const p = parts(plot);
  if (!p) return;
  const last = p.ticks.length - 1;
  let target = p.active;
  if (event.key in MOVES) target += MOVES[event.key];
  else if (event.key === 'Home') target = 0;
  else if (event.key === 'End') target = last;
  else return;
  event.preventDefault();
  target = Math.max(0, Math.min(last, target));
  if (target === p.active) return;
  const [x] = centre(p.ticks[target]);
  const [, y] = centre(p.rail);
  const init = {bubbles: true, cancelable: true, clientX: x, clientY: y, view: window};
  p.rail.dispatchEvent(new MouseEvent('mousedown', init));
  plot.dispatchEvent(new MouseEvent('mouseup', init));
}

function attach(plot, name) {
  if (attached.has(plot)) return;
  attached.add(plot);
  plot.addEventListener('keydown', (event) => move(plot, event));
  if (typeof plot.on === 'function') plot.on('plotly_afterplot', () => describe(plot, name));
  describe(plot, name);
}

export default function ({ data }) {
  if (!document.getElementById('quantviz-slider-keys')) {
    const style = document.createElement('style');
    style.id = 'quantviz-slider-keys';
    style.textContent = FOCUS_CSS;
    document.head.appendChild(style);
  }
  const selector = `.st-key-${CSS.escape(String(data.chart))} .js-plotly-plot`;
  const name = String(data.name);
  let tries = 0;
  const find = () => {
    const plot = document.querySelector(selector);
    if (plot && plot.querySelector('g.slider-container')) attach(plot, name);
    else if (tries++ < 300) setTimeout(find, 100);  // plotly.js draws after its bundle loads
  };
  find();
}"""
).replace("FOCUS_COLOUR", FOCUS_COLOUR)

_keys = st.components.v2.component("quantviz.slider_keys", html="<span hidden></span>", js=_JS)


def keyboard_slider(chart_key: str, name: str) -> None:
    """Make the own slider of the chart shown with `key=chart_key` operable by keyboard."""
    _keys(data={"chart": chart_key, "name": name}, key=f"{chart_key}-keys", height=0)
