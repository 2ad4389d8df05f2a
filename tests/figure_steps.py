"""What a figure's own `layout.sliders` step shows, read off its JSON spec the way plotly.js
applies an `update` step: `args = [restyle, relayout, trace indices]`, where `restyle` maps an
attribute to one value per listed trace and `relayout` maps attribute strings (`coloraxis2.cmax`,
`annotations[3].text`) to their new values (None: removed).

Tests use it to check each precomputed step against an independent computation; the browser
test checks that plotly.js really swaps them.
"""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

Spec = dict[str, Any]


def slider(spec: Spec, name: str = "bits") -> Spec:
    """The layout slider called `name`."""
    return next(s for s in spec["layout"]["sliders"] if s.get("name") == name)


def labels(spec: Spec, name: str = "bits") -> list[str]:
    return [step["label"] for step in slider(spec, name)["steps"]]


def at_step(spec: Spec, label: str, name: str = "bits") -> Spec:
    """The figure as it stands after a person picks the step labelled `label`."""
    step = next(s for s in slider(spec, name)["steps"] if s["label"] == label)
    assert step["method"] == "update", step["method"]
    restyle, relayout, indices = step["args"]
    out = copy.deepcopy(spec)
    for attr, values in restyle.items():
        assert len(values) == len(indices), attr
        for i, value in zip(indices, values, strict=True):
            if value is None:
                out["data"][i].pop(attr, None)
            else:
                out["data"][i][attr] = copy.deepcopy(value)
    for path, value in relayout.items():
        _set(out["layout"], path, copy.deepcopy(value))
    return out


def _set(layout: Spec, path: str, value: Any) -> None:
    """Set a plotly attribute string (`a.b`, `annotations[3].text`); None removes it."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    node: Any = layout
    for part, following in itertools.pairwise(parts):
        if part.startswith("["):
            node = node[int(part[1:-1])]
        else:
            node = node.setdefault(part, [] if following.startswith("[") else {})
    last = parts[-1]
    if last.startswith("["):
        node[int(last[1:-1])] = value
    elif value is None:
        node.pop(last, None)
    else:
        node[last] = value


def readouts(spec: Spec) -> dict[str, str]:
    """Every named annotation's bold value (the figure's readouts), by name."""
    out = {}
    for a in spec["layout"].get("annotations", []):
        if a.get("name") and "<b>" in a.get("text", ""):
            out[a["name"]] = a["text"].split("<b>", 1)[1].split("</b>", 1)[0]
    return out


def trace(spec: Spec, name: str) -> Spec:
    return next(t for t in spec["data"] if t.get("name") == name)
