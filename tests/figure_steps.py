"""What a figure's own `layout.sliders` step shows, read off its JSON spec the way plotly.js
applies an `update` step: `args = [restyle, relayout, trace indices]`, where `restyle` maps an
attribute to one value per listed trace and `relayout` replaces top-level layout keys.

Tests use it to check each precomputed step against an independent computation; the browser
test checks that plotly.js really swaps them.
"""

from __future__ import annotations

import copy
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
    for key, value in relayout.items():
        assert "." not in key, key  # whole keys only: the helper does not split paths
        if value is None:
            out["layout"].pop(key, None)
        else:
            out["layout"][key] = copy.deepcopy(value)
    return out


def readouts(spec: Spec) -> dict[str, str]:
    """Every named annotation's bold value (the figure's readouts), by name."""
    out = {}
    for a in spec["layout"].get("annotations", []):
        if a.get("name") and "<b>" in a.get("text", ""):
            out[a["name"]] = a["text"].split("<b>", 1)[1].split("</b>", 1)[0]
    return out


def trace(spec: Spec, name: str) -> Spec:
    return next(t for t in spec["data"] if t.get("name") == name)
