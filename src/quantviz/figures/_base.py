"""What every figure shares: one factory, the margins, the colours, inert label text.

Speed decides the factory (a fragment rerun may spend about 30 ms of server CPU): figures are
plain dict specs wrapped with ``go.Figure(spec, _validate=False)``, because plotly's property
validation costs tens of milliseconds per figure (about 40 ms on this machine), more than a
whole rerun, while the wrapped figure behaves the same (``fig.data[0].y``, ``update_layout``,
``to_json``). The tests rebuild every figure with validation on, so a typo still fails there.

The template is empty on purpose: copying and serialising plotly.py's default template costs
about 1.2 ms per figure (4 ms through `st.plotly_chart`), and a named one ("plotly_white") makes
plotly import a graph-object class per styled property on first use. It carries only colour
defaults, which these figures set themselves; Streamlit's frontend writes the app theme (fonts,
background, grid) into every chart's template whatever the figure brings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import get_colorscale, sample_colorscale

Spec = dict[str, Any]

MARGIN: Mapping[str, int] = {"l": 10, "r": 10, "t": 40, "b": 10}
LEGEND_TOP_RIGHT: Mapping[str, Any] = {
    "orientation": "h",
    "x": 1,
    "xanchor": "right",
    "y": 1.02,
    "yanchor": "bottom",
}

# Tableau 10 (plotly's and Vega's categorical palette): the app's colours for marks.
BLUE, ORANGE, RED, TEAL, GREEN = "#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b"
YELLOW, PURPLE, PINK, BROWN, GREY = "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"
SLATE, LIGHT_SLATE, INDIGO = "#64748b", "#cbd5e1", "#4f46e5"
# Okabe-Ito: safe for the common colour-vision deficiencies, for what tells classes apart.
OKABE_ITO: Mapping[str, str] = {
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermilion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}
# Classes (tensor types, tags) take these colours in order: every pair stays at least 11 CAM02-UCS
# ΔE apart under simulated deuteranopia, protanopia and tritanopia (Tableau 10: 1.4, red against
# green). Beyond eight classes a colour comes back, so each class also gets its own bar pattern
# and marker symbol (`category_style`): tests/test_figures_colour_vision.py checks both.
CATEGORICAL: tuple[str, ...] = tuple(
    OKABE_ITO[k]
    for k in ("blue", "orange", "green", "vermilion", "sky", "purple", "yellow", "black")
)
PATTERNS = ("", "/", "\\", "x", "-", "|", "+", ".")  # plotly bar fill patterns
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "star", "hexagon")


def category_style(index: int) -> tuple[str, str, str]:
    """Colour, bar pattern and marker symbol of class `index`; no two classes share all three.

    Colours repeat every eight classes; the pattern and symbol shift by one at each repeat, so
    classes that share a colour differ in both.
    """
    n = len(CATEGORICAL)
    shift = index + index // n
    return CATEGORICAL[index % n], PATTERNS[shift % len(PATTERNS)], SYMBOLS[shift % len(SYMBOLS)]


# Plot text and edges (issue 18, docs/accessibility.md). Streamlit's chart theme draws tick labels,
# axis titles, annotations and the in-figure slider's labels in its gray70 #808495: 3.72:1 on
# the white plot, below the 4.5:1 that 12-14 px text needs (measured in Chromium). The factory
# sets them, on every axis and colour bar, in Streamlit's gray80 (7.05:1); a mark whose fill is
# lighter than 3:1 gets an EDGE outline. tests/test_figures_contrast.py checks every builder.
TEXT_COLOR = "#555867"
EDGE = "#333333"  # 12.6:1 on white
_AXIS = re.compile(r"^[xy]axis\d*$")
_COLOR_AXIS = re.compile(r"^coloraxis\d*$")


def _with_text_color(part: Any) -> Spec:
    """A copy of a layout part ({...} or None) whose font colour defaults to TEXT_COLOR."""
    part = dict(part or {})
    part["font"] = {"color": TEXT_COLOR, **part.get("font", {})}
    return part


def _axis_text(axis: Any) -> Spec:
    axis = dict(axis or {})
    axis["tickfont"] = {"color": TEXT_COLOR, **axis.get("tickfont", {})}
    title = axis.get("title")
    axis["title"] = _with_text_color({"text": title} if isinstance(title, str) else title)
    return axis


def readable_text(layout: Spec) -> Spec:
    """`layout` with TEXT_COLOR wherever Streamlit's template would put its lighter grey.

    Streamlit's template names a colour for every axis's ticks and title and for colour bars,
    which a figure-wide `font.color` does not override; explicit colours in `layout` win.
    """
    out = dict(layout)
    out["font"] = {"color": TEXT_COLOR, **out.get("font", {})}
    for key in {"xaxis", "yaxis", *(k for k in out if _AXIS.match(k))}:
        out[key] = _axis_text(out.get(key))
    for key in [k for k in out if _COLOR_AXIS.match(k)]:
        axis = dict(out[key])
        axis["colorbar"] = _axis_text(axis.get("colorbar"))
        out[key] = axis
    return out


# Colour maps, one per meaning: signed values (w, ŵ) on ColorBrewer's RdBu (negative blue,
# positive red), errors w − ŵ on PuOr (purple to orange), so a value is never mistaken for an
# error (cividis is the choice for unsigned magnitudes, when a figure needs one). ColorBrewer
# lists RdBu and PuOr as colour-blind safe; neither pairs red against green. Checked by
# simulation (deuteranopia, protanopia, tritanopia): tests/test_figures_colour_vision.py.
VALUE_MAP = "RdBu_r"
ERROR_MAP = "PuOr"


def figure(
    data: list[Spec],
    layout: Spec,
    *,
    title: str | None = None,
    height: int | None = None,
    uirevision: str | None = None,
    margin: Mapping[str, int] | None = None,
) -> go.Figure:
    """A dict spec as a `go.Figure`, without plotly's validation, with the shared defaults.

    `margin` overrides single sides of `MARGIN`; `uirevision` keeps the student's zoom across
    reruns that only change the data; `layout` wins over every default.
    """
    spec = figure_spec(
        data, layout, title=title, height=height, uirevision=uirevision, margin=margin
    )
    return go.Figure(spec, _validate=False)


def figure_spec(
    data: list[Spec],
    layout: Spec,
    *,
    title: str | None = None,
    height: int | None = None,
    uirevision: str | None = None,
    margin: Mapping[str, int] | None = None,
) -> Spec:
    """What `figure` wraps: `{"data": ..., "layout": ...}` with the shared defaults."""
    base: Spec = {"template": {}, "margin": {**MARGIN, **(margin or {})}}
    if height is not None:
        base["height"] = height
    if uirevision is not None:
        base["uirevision"] = uirevision
    if title:
        base["title"] = {"text": title}
    return {"data": data, "layout": readable_text({**base, **layout})}


def colorscale(name: str, n: int = 5) -> list[list[Any]]:
    """A named plotly.py colour scale as `n` explicit stops.

    Explicit, because without validation plotly.py passes the name on to plotly.js, which does
    not know every name ("RdBu_r", "PuOr"); few stops, because each costs copying and
    serialising (the 11 of a full scale about half a millisecond per figure).
    """
    at = np.linspace(0.0, 1.0, n).tolist()
    return [[s, c] for s, c in zip(at, sample_colorscale(get_colorscale(name), at), strict=True)]


def colorbar(title: str, **placement: Any) -> Spec:
    """A slim colour bar whose title names the quantity and its unit.

    A horizontal bar (`orientation="h"`) gets its title on top: beside it, plotly shrinks the
    bar to make room for the title."""
    side = "top" if placement.get("orientation") == "h" else "right"
    return {
        "title": {"text": title, "side": side, "font": {"size": 12}},
        "thickness": 10,
        "nticks": 5,
        "tickfont": {"size": 10},
        **placement,
    }


def bits_slider(
    states: Sequence[Spec], labels: Sequence[str], active: int, *, prefix: str = "bits: "
) -> go.Figure:
    """One figure whose own slider switches between precomputed states, in the browser.

    `states` are figure specs (`{"data": [...], "layout": {...}}`) with the same traces in the
    same order, one per slider position; the figure starts as `states[active]`. Each step is a
    plotly `update`: the trace attributes that differ between states (for the traces that
    change) and the layout attributes that do, as attribute strings (`annotations[5].text`).
    Moving the slider then redraws without a message to the server: no arithmetic runs in the
    browser, it only swaps numbers computed here. Labels become the steps' labels and values.
    """
    if not states or len(states) != len(labels):
        raise ValueError("one label per state, and at least one state")
    base = states[active]
    n = len(base["data"])
    if any(len(s["data"]) != n for s in states):
        raise ValueError("every state must have the same traces")
    changed: dict[int, list[str]] = {}
    for i, trace in enumerate(base["data"]):
        keys = sorted({k for s in states for k in s["data"][i]})
        moving = [k for k in keys if any(s["data"][i].get(k) != trace.get(k) for s in states)]
        if moving:
            changed[i] = moving
    indices = list(changed)
    attrs = sorted({k for keys in changed.values() for k in keys})
    paths = sorted({p for s in states for p in _changed_paths(base["layout"], s["layout"])})
    steps = []
    for state, label in zip(states, labels, strict=True):
        restyle = {a: [state["data"][i].get(a) for i in indices] for a in attrs}
        relayout = {p: _at_path(state["layout"], p) for p in paths}
        steps.append(
            {
                "label": label,
                "value": label,
                "method": "update",
                "args": [restyle, relayout, indices],
            }
        )
    slider: Spec = {
        "name": "bits",
        "active": active,
        "steps": steps,
        "currentvalue": {"prefix": prefix, "font": {"size": 14}},
        # The grip's and rail's edge: plotly's default #bec8d9 is 1.69:1 on white (SC 1.4.11).
        "bordercolor": EDGE,
        "tickcolor": EDGE,
        "pad": {"t": 36, "b": 0},
        "len": 1.0,
        "x": 0.0,
        "y": 0.0,
        "yanchor": "top",
    }
    return go.Figure(
        {"data": base["data"], "layout": {**base["layout"], "sliders": [slider]}}, _validate=False
    )


def _changed_paths(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Plotly attribute strings (`coloraxis2.cmax`, `annotations[3].text`) where `b` differs
    from `a`: into dicts, and into lists of dicts of the same length (annotations); anything
    else that differs is replaced whole. A step then carries only what changes."""
    if a == b:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        sep = "." if prefix else ""
        return [
            p
            for k in sorted(set(a) | set(b))
            for p in _changed_paths(a.get(k), b.get(k), f"{prefix}{sep}{k}")
        ]
    if (
        isinstance(a, list)
        and isinstance(b, list)
        and len(a) == len(b)
        and prefix
        and all(isinstance(x, dict) for x in a + b)
    ):
        return [
            p
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for p in _changed_paths(x, y, f"{prefix}[{i}]")
        ]
    return [prefix]


def _at_path(spec: Spec, path: str) -> Any:
    """The value at a plotly attribute string, None where it is absent."""
    node: Any = spec
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            index = int(part[1:-1])
            node = node[index] if isinstance(node, list) and index < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def plotly_text(text: object) -> str:
    """Text from outside (a student's name, a tensor name) shown literally by plotly.

    Plotly reads labels as pseudo-HTML (`<a>`, `<b>`, `<br>`) and converts entities: escaping
    `&`, `<` and `>` shows the text as typed and never makes a link. Quotes stay as they are:
    plotly.js converts only a few named entities (amp, lt, gt, nbsp, ...), so `&quot;` would
    show as written.
    """
    return html.escape(str(text), quote=False)
