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

# Colour maps, one per meaning: signed values (w, ŵ) on ColorBrewer's RdBu (negative blue,
# positive red), errors w − ŵ on PuOr (purple to orange), so a value is never mistaken for an
# error (cividis is the choice for unsigned magnitudes, when a figure needs one). ColorBrewer
# lists RdBu and PuOr as colour-blind safe; neither pairs red against green. Not yet
# checked here by simulation (deuteranopia, protanopia, tritanopia): the accessibility pass.
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
    return {"data": data, "layout": {**base, **layout}}


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
