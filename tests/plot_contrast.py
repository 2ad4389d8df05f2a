"""WCAG contrast of what a plotly figure spec draws: its text (4.5:1) and its marks (3:1).

Reads the colours a figure would be drawn with in the app: the figure's own, else what
Streamlit 1.67's chart theme puts in the template, measured in Chromium on the running app
(docs/accessibility.md): tick labels, axis titles and annotations #808495, legend text #262730,
the plot's background #ffffff; else plotly.js's own defaults (a slider's border #bec8d9, a
shape's line #444444). Marks are what carries a figure's meaning (lines, markers, bars, shapes,
a slider's grip); their edge counts, so a pale fill with a dark outline passes (SC 1.4.11:
"the visual information required to identify" the object). Lines drawn over a heatmap are
compared with the middle of its colour scale, where symmetric maps put 0. Heatmap cells are
judged by the colour-vision test, their printed values are coloured by plotly against each
cell (auto contrast), and hover labels are not static content.

`python tests/plot_contrast.py` prints every figure's worst text and worst mark.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from plotly.colors import get_colorscale

BACKGROUND = "#ffffff"  # the plot's paper and plot area, measured
THEME_TEXT = "#808495"  # Streamlit's gray70 on ticks, axis titles, annotations: measured
THEME_LEGEND = "#262730"  # Streamlit's legend text, measured
PLOTLY_SLIDER_BORDER = "#bec8d9"  # plotly.js sliders: bordercolor default
PLOTLY_SHAPE_LINE = "#444444"  # plotly.js shapes: line.color default
TEXT_MIN = 4.5  # SC 1.4.3, text under 18 pt (plot text is 11-16 px)
MARK_MIN = 3.0  # SC 1.4.11, graphical objects
_NAMES = {"black": "#000000", "white": "#ffffff"}
_FUNC = re.compile(r"rgba?\(([^)]*)\)")


def rgba(color: str) -> tuple[float, float, float, float]:
    """A CSS colour (#rgb, #rrggbb, rgb(), rgba(), black, white) as 0-1 floats."""
    c = _NAMES.get(color.strip().lower(), color.strip())
    if c.startswith("#"):
        h = c[1:]
        if len(h) == 3:
            h = "".join(ch * 2 for ch in h)
        return (*(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)), 1.0)  # type: ignore[return-value]
    m = _FUNC.fullmatch(c)
    if not m:
        raise ValueError(f"colour {color!r} is not one the check reads")
    parts = [float(p) for p in m.group(1).split(",")]
    return (parts[0] / 255, parts[1] / 255, parts[2] / 255, parts[3] if len(parts) > 3 else 1.0)


def _over(fg: tuple[float, ...], alpha: float, bg: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(alpha * f + (1 - alpha) * b for f, b in zip(fg[:3], bg[:3], strict=True))


def luminance(rgb: tuple[float, ...]) -> float:
    """WCAG 2.1 relative luminance."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str = BACKGROUND, opacity: float = 1.0) -> float:
    """WCAG contrast of `fg` (its alpha times `opacity`) drawn over the opaque `bg`."""
    f, b = rgba(fg), rgba(bg)
    drawn = _over(f, f[3] * opacity, b)
    hi, lo = sorted((luminance(drawn), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@dataclass(frozen=True)
class Drawn:
    """One coloured thing a figure draws, against what it is drawn on."""

    where: str
    color: str | None  # None: the figure sets none, and the theme's would be a guess
    background: str
    needed: float
    opacity: float = 1.0

    @property
    def ratio(self) -> float:
        return 0.0 if self.color is None else contrast(self.color, self.background, self.opacity)

    @property
    def ok(self) -> bool:
        return self.ratio >= self.needed


def _get(d: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def _colors(value: Any) -> list[str | None]:
    if isinstance(value, list | tuple):
        return [v if isinstance(v, str) else None for v in value] or [None]
    return [value if isinstance(value, str) else None]


def _scale_middle(trace: dict[str, Any], layout: dict[str, Any]) -> str:
    scale = trace.get("colorscale") or _get(layout, trace.get("coloraxis", ""), "colorscale")
    if isinstance(scale, str):
        scale = get_colorscale(scale)
    return _at(scale, 0.5)


def _at(scale: list[Any], x: float) -> str:
    """The colour of a plotly colour scale (stops of [position, colour]) at `x`, as rgb()."""
    stops = [(float(at), rgba(str(col))) for at, col in scale]
    for (a, ca), (b, cb) in itertools.pairwise(stops):
        if a <= x <= b:
            t = 0.0 if b == a else (x - a) / (b - a)
            mixed = [(1 - t) * p + t * q for p, q in zip(ca[:3], cb[:3], strict=True)]
            return "rgb({}, {}, {})".format(*(round(255 * c) for c in mixed))
    raise ValueError(f"{x} is outside the colour scale")


def _heatmap_axes(spec: dict[str, Any]) -> dict[tuple[str, str], str]:
    """The middle colour of the heatmap drawn on each (x, y) axis pair, if any."""
    out = {}
    for t in spec["data"]:
        if t.get("type") == "heatmap":
            out[(t.get("xaxis", "x"), t.get("yaxis", "y"))] = _scale_middle(t, spec["layout"])
    return out


def _texts(layout: dict[str, Any]) -> Iterator[Drawn]:
    font = _get(layout, "font", "color", default=THEME_TEXT)
    for key, axis in layout.items():
        if not re.fullmatch(r"[xy]axis\d*", key) or not isinstance(axis, dict):
            continue
        if axis.get("visible", True) is False:
            continue
        if axis.get("showticklabels", True):
            yield Drawn(f"{key} tick labels", _get(axis, "tickfont", "color", default=THEME_TEXT),
                        BACKGROUND, TEXT_MIN)  # fmt: skip
        if _get(axis, "title", "text"):
            yield Drawn(f"{key} title", _get(axis, "title", "font", "color", default=THEME_TEXT),
                        BACKGROUND, TEXT_MIN)  # fmt: skip
    for key, axis in layout.items():
        if re.fullmatch(r"coloraxis\d*", key) and axis.get("showscale", True):
            bar = axis.get("colorbar", {})
            yield Drawn(f"{key} colour bar", _get(bar, "tickfont", "color", default=THEME_TEXT),
                        BACKGROUND, TEXT_MIN)  # fmt: skip
    for i, note in enumerate(layout.get("annotations") or []):
        yield Drawn(f"annotation {i} ({str(note.get('text'))[:30]!r})",
                    _get(note, "font", "color", default=font), BACKGROUND, TEXT_MIN)  # fmt: skip
    if layout.get("showlegend", True) is not False:
        yield Drawn("legend", _get(layout, "legend", "font", "color", default=THEME_LEGEND),
                    BACKGROUND, TEXT_MIN)  # fmt: skip
    for i, slider in enumerate(layout.get("sliders") or []):
        own = _get(slider, "font", "color", default=font)
        yield Drawn(f"slider {i} labels", own, BACKGROUND, TEXT_MIN)
        current = _get(slider, "currentvalue", "font", "color", default=own)
        yield Drawn(f"slider {i} current value", current, BACKGROUND, TEXT_MIN)
        edge = slider.get("bordercolor", PLOTLY_SLIDER_BORDER)
        yield Drawn(f"slider {i} grip and rail edge", edge, BACKGROUND, MARK_MIN)


def _scatter_mode(trace: dict[str, Any]) -> str:
    if "mode" in trace:
        return str(trace["mode"])
    n = len(trace.get("x") or trace.get("y") or [])
    return "lines+markers" if n < 20 else "lines"


def _edge(where: str, marker: dict[str, Any], bg: str, opacity: float) -> Iterator[Drawn]:
    """A marker's or bar's fill, or its outline where that stands out more from `bg`."""
    widths = _get(marker, "line", "width", default=0)
    widths = widths if isinstance(widths, list) else [widths]
    outlines = _colors(_get(marker, "line", "color"))
    for i, fill in enumerate(_colors(marker.get("color"))):
        best = Drawn(f"{where} fill", fill, bg, MARK_MIN, opacity)
        line = outlines[i % len(outlines)]
        if (widths[i % len(widths)] or 0) > 0 and line is not None:
            edge = Drawn(f"{where} outline", line, bg, MARK_MIN, opacity)
            best = max(best, edge, key=lambda d: d.ratio)
        yield best


def _marks(spec: dict[str, Any]) -> Iterator[Drawn]:
    over_heatmap = _heatmap_axes(spec)
    for i, t in enumerate(spec["data"]):
        if t.get("visible", True) is False:
            continue
        kind = t.get("type", "scatter")
        name = f"trace {i} ({t.get('name') or kind})"
        swatch = all(v is None for v in (t.get("x") or [None]))  # drawn in the legend only
        axes = (t.get("xaxis", "x"), t.get("yaxis", "y"))
        bg = BACKGROUND if swatch else over_heatmap.get(axes, BACKGROUND)
        if kind == "heatmap":
            continue
        opacity = float(t.get("opacity", 1.0))
        color = _get(t, "textfont", "color")
        if isinstance(color, str):
            inside = t.get("textposition") in ("inside", "auto")
            behind = _colors(_get(t, "marker", "color"))[0] if inside else bg
            yield Drawn(f"{name} text", color, behind or bg, TEXT_MIN)
        if kind == "scatter":
            mode = _scatter_mode(t)
            if "lines" in mode:
                yield Drawn(f"{name} line", _get(t, "line", "color"), bg, MARK_MIN, opacity)
            if "markers" in mode:
                marker = dict(t.get("marker", {}))
                marker.setdefault("color", _get(t, "line", "color"))  # plotly's default
                alpha = opacity * float(marker.get("opacity", 1.0))
                if str(marker.get("symbol", "")).endswith("-open"):
                    yield Drawn(f"{name} open marker", marker.get("color"), bg, MARK_MIN, alpha)
                else:
                    yield from _edge(f"{name} marker", marker, bg, alpha)
        for axis in ("error_x", "error_y"):
            bars = t.get(axis)
            if (
                isinstance(bars, dict)
                and bars.get("visible", True)
                and (bars.get("array") or bars.get("value"))
            ):
                color = bars.get("color", PLOTLY_SHAPE_LINE)  # plotly.js: the trace's, else #444
                yield Drawn(f"{name} {axis} whiskers", color, bg, MARK_MIN, opacity)
        if kind == "bar":
            marker = t.get("marker", {})
            alpha = opacity * float(marker.get("opacity", 1.0))
            yield from _edge(f"{name} bar", marker, bg, alpha)
        elif kind != "scatter":
            yield Drawn(f"{name}: type {kind} is not checked", None, bg, MARK_MIN)
    for i, shape in enumerate(spec["layout"].get("shapes") or []):
        yield Drawn(f"shape {i} ({shape.get('type')})",
                    _get(shape, "line", "color", default=PLOTLY_SHAPE_LINE), BACKGROUND, MARK_MIN,
                    float(shape.get("opacity", 1.0)))  # fmt: skip


def drawn(spec: dict[str, Any]) -> list[Drawn]:
    """Every text and mark `spec` (a figure's `to_dict()`) draws, with what it needs."""
    return [*_texts(spec["layout"]), *_marks(spec)]


def problems(spec: dict[str, Any]) -> list[str]:
    return [
        f"{d.where}: {d.color or 'no colour set'} on {d.background} is {d.ratio:.2f}:1, "
        f"needs {d.needed}:1"
        for d in drawn(spec)
        if not d.ok
    ]


if __name__ == "__main__":
    from figure_samples import SAMPLES

    print("| figure | worst text | worst mark |\n| --- | --- | --- |")
    for name, make in sorted(SAMPLES.items()):
        items = [d for fig in make() for d in drawn(fig.to_dict())]
        texts = [d for d in items if d.needed == TEXT_MIN]
        marks = [d for d in items if d.needed == MARK_MIN]
        worst = [min(group, key=lambda d: d.ratio) if group else None for group in (texts, marks)]
        cell = [f"{d.ratio:.2f}:1 ({d.where})" if d else "—" for d in worst]
        print(f"| `{name}` | {cell[0]} | {cell[1]} |")
