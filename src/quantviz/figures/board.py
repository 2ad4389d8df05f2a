"""Plotly figures of a class: records in, `go.Figure` out (pure, no streamlit).

Colours are Okabe-Ito (safe for the common colour-vision deficiencies), and no figure relies on
colour alone: Q4 and Q6 also differ by marker shape (circle / diamond), the student's own point
is a large black-edged star named "You" in the legend, and bars carry their count as text.

Student figures (`sizes_figure`, `speed_figure`, `probe_figure`, `decisions_figure` with
`names=False`) never read a name: the class stays anonymous. Instructor figures show names, which
are students' text: they go through `plotly_text` so plotly's HTML-like label markup (`<a>`,
`<b>`, `<br>`) shows as typed and never becomes a link.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

import plotly.graph_objects as go

from quantviz.board.extract import SIDE_LABELS, SIDES, SideFigures
from quantviz.board.store import Submission
from quantviz.figures._base import EDGE, LEGEND_TOP_RIGHT, OKABE_ITO, Spec, figure, plotly_text
from quantviz.figures.alt import ChartText, listing, num

COLORS = {"q4": OKABE_ITO["orange"], "q6": OKABE_ITO["blue"]}
SYMBOLS = {"q4": "circle", "q6": "diamond"}
OWN = {"symbol": "star", "size": 20, "color": "#000000", "line": {"width": 2, "color": "#FFFFFF"}}
DECISION_ORDER = ("Q4", "Q6", "none", "undecided")
DECISION_LABELS = {"Q4": "Q4", "Q6": "Q6", "none": "nothing fits", "undecided": "no decision"}
DECISION_COLORS = {
    "Q4": COLORS["q4"],
    "Q6": COLORS["q6"],
    "none": "#999999",
    "undecided": "#CCCCCC",
}
PAIR_LINE = "#808080"  # 3.9:1 on white: the line that pairs a student's Q4 and Q6 (SC 1.4.11)
OUTLINE = {"width": 1, "color": "#333333"}
MARGIN = {"t": 50}


def _figure(data: list[Spec], layout: Spec) -> go.Figure:
    return figure(data, {"legend": LEGEND_TOP_RIGHT, **layout}, margin=MARGIN)


def _title(text: str) -> Spec:
    return {"text": text, "x": 0, "xanchor": "left", "font": {"size": 15}}


def _side(row: Submission, side: str) -> SideFigures:
    return getattr(row.figures, side)


def _gb(n: int | None) -> float | None:
    return None if n is None else n / 1e9


def _pass_rate(s: SideFigures) -> float | None:
    if s.probe_passed is None or not s.probe_total:
        return None
    return 100.0 * s.probe_passed / s.probe_total


def _side_marker(side: str, size: int = 10, **more: Any) -> Spec:
    """A side's marker: its colour and its shape (Q4 circle, Q6 diamond), outlined."""
    return {"color": COLORS[side], "symbol": SYMBOLS[side], "size": size, **more, "line": OUTLINE}


def _name(row: Submission, names: bool) -> str:
    """The student's name as inert label text, or nothing on an anonymous figure."""
    return plotly_text(row.name) if names else ""


Point = tuple[Any, Any, str]  # x, y, hover text


def _collect(
    rows: Sequence[Submission], point: Callable[[int, Submission], Point | None]
) -> tuple[list[Any], list[Any], list[str], list[Any], list[Any]]:
    """xs, ys and texts of the rows `point(index, row)` places, then the x and y of the asking
    student's own point(s)."""
    xs, ys, texts, own_x, own_y = [], [], [], [], []
    for i, row in enumerate(rows):
        p = point(i, row)
        if p is None:
            continue
        x, y, text = p
        xs.append(x)
        ys.append(y)
        texts.append(text)
        if row.own:
            own_x.append(x)
            own_y.append(y)
    return xs, ys, texts, own_x, own_y


def _own_trace(xs: list[Any], ys: list[Any]) -> list[Spec]:
    if not xs:
        return []
    return [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "You",
            "x": xs,
            "y": ys,
            "marker": OWN,
            "hovertemplate": "you: %{x}, %{y}<extra></extra>",
        }
    ]


def _points(
    rows: Sequence[Submission], side: str, x_of: Any, y_of: Any, names: bool, hover: str
) -> tuple[Spec, list[Any], list[Any]]:
    """One side's trace, plus the x and y of the asking student's own point(s)."""

    def point(_: int, row: Submission) -> Point | None:
        x, y = x_of(row, side), y_of(row, side)
        return None if x is None or y is None else (x, y, _name(row, names))

    xs, ys, text, own_x, own_y = _collect(rows, point)
    trace: Spec = {
        "type": "scatter",
        "mode": "markers",
        "name": SIDE_LABELS[side],
        "x": xs,
        "y": ys,
        "marker": _side_marker(side, opacity=0.85),
        "hovertemplate": ("%{text}<br>" if names else "")
        + hover
        + "<extra>%{fullData.name}</extra>",
    }
    if names:
        trace["text"] = text
    return trace, own_x, own_y


def sizes_figure(rows: Sequence[Submission], *, names: bool = False) -> go.Figure:
    """Size on the endpoint against estimated bits per weight, one point per tag and student."""
    data: list[Spec] = []
    own_x: list[Any] = []
    own_y: list[Any] = []
    for side in SIDES:
        trace, ox, oy = _points(
            rows,
            side,
            lambda r, s: _side(r, s).bits_per_weight,
            lambda r, s: _gb(_side(r, s).size_bytes),
            names,
            "%{x:.2f} bits/weight, %{y:.2f} GB",
        )
        data.append(trace)
        own_x += ox
        own_y += oy
    return _figure(
        data + _own_trace(own_x, own_y),
        {
            "title": _title("Sizes and bits per weight"),
            "xaxis": {"title": {"text": "bits per weight (estimated)"}, "zeroline": False},
            "yaxis": {"title": {"text": "size on the endpoint (GB)"}, "rangemode": "tozero"},
            "height": 360,
        },
    )


def speed_figure(rows: Sequence[Submission], *, names: bool = False) -> go.Figure:
    """Each student's Q4 tokens/s against their Q6 tokens/s; the diagonal is "same speed"."""

    def point(_: int, row: Submission) -> Point | None:
        q4, q6 = row.figures.q4.tokens_per_s, row.figures.q6.tokens_per_s
        return None if q4 is None or q6 is None else (q4, q6, _name(row, names))

    xs, ys, text, own_x, own_y = _collect(rows, point)
    top = max([*xs, *ys, 1.0]) * 1.1
    students: Spec = {
        "type": "scatter",
        "mode": "markers",
        "name": "a student's machine",
        "x": xs,
        "y": ys,
        "marker": {"color": OKABE_ITO["sky"], "size": 10, "line": OUTLINE},
        "hovertemplate": ("%{text}<br>" if names else "")
        + "Q4 %{x:.1f} tok/s, Q6 %{y:.1f} tok/s<extra></extra>",
    }
    if names:
        students["text"] = text
    diagonal: Spec = {
        "type": "scatter",
        "mode": "lines",
        "name": "same speed",
        "x": [0, top],
        "y": [0, top],
        "line": {"color": "#666666", "dash": "dash", "width": 1},
        "hoverinfo": "skip",
    }
    return _figure(
        [diagonal, students, *_own_trace(own_x, own_y)],
        {
            "title": _title("Tokens/s: Q4 against Q6 (below the line: Q4 is faster)"),
            "xaxis": {"title": {"text": "Q4 tokens/s"}, "range": [0, top]},
            "yaxis": {"title": {"text": "Q6 tokens/s"}, "range": [0, top]},
            "height": 380,
        },
    )


def _jitter(i: int) -> float:
    """A fixed spread in [-0.2, 0.2] so equal scores do not hide each other."""
    return ((i * 0.618034) % 1.0 - 0.5) * 0.4


def probe_figure(rows: Sequence[Submission], *, names: bool = False) -> go.Figure:
    """Probe checks passed (% of answered), one dot per student and tag."""
    data: list[Spec] = []
    own_x: list[float] = []
    own_y: list[float] = []
    for pos, side in enumerate(SIDES):

        def point(i: int, row: Submission, pos: int = pos, side: str = side) -> Point | None:
            s = _side(row, side)
            rate = _pass_rate(s)
            if rate is None:
                return None
            name = _name(row, names) + "<br>" if names else ""
            return pos + _jitter(i), rate, f"{name}{s.probe_passed}/{s.probe_total} checks passed"

        xs, ys, text, ox, oy = _collect(rows, point)
        own_x += ox
        own_y += oy
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": SIDE_LABELS[side],
                "x": xs,
                "y": ys,
                "text": text,
                "marker": _side_marker(side),
                "hovertemplate": "%{text}<extra>%{fullData.name}</extra>",
            }
        )
    own = _own_trace(own_x, own_y)
    for trace in own:
        trace["hovertemplate"] = "you: %{y:.0f} %<extra></extra>"
    return _figure(
        data + own,
        {
            "title": _title("Quality probe: checks passed"),
            "xaxis": {
                "title": {"text": "model"},
                "tickmode": "array",
                "tickvals": [0, 1],
                "ticktext": [SIDE_LABELS[s] for s in SIDES],
                "range": [-0.6, 1.6],
            },
            "yaxis": {"title": {"text": "checks passed (% of answered)"}, "range": [-5, 105]},
            "height": 360,
        },
    )


def decision_counts(rows: Sequence[Submission]) -> dict[str, int]:
    """How many students chose Q4, Q6, nothing (nothing fits) or saved no decision."""
    counts = dict.fromkeys(DECISION_ORDER, 0)
    for row in rows:
        key = row.figures.decision if row.figures.decision in counts else "undecided"
        counts[key] += 1
    return counts


def decisions_figure(rows: Sequence[Submission]) -> go.Figure:
    """A bar per decision with its count; the asking student's bar is hatched and says so."""
    counts = decision_counts(rows)
    own = next((r for r in rows if r.own), None)
    own_key = None
    if own is not None:
        own_key = own.figures.decision if own.figures.decision in counts else "undecided"
    labels = [DECISION_LABELS[k] for k in DECISION_ORDER]
    bar: Spec = {
        "type": "bar",
        "name": "students",
        "x": labels,
        "y": [counts[k] for k in DECISION_ORDER],
        "text": [f"{counts[k]}" + (" (yours)" if k == own_key else "") for k in DECISION_ORDER],
        "textposition": "outside",
        "marker": {
            "color": [DECISION_COLORS[k] for k in DECISION_ORDER],
            # Every bar outlined: "nothing fits" and "no decision" are light greys (SC 1.4.11).
            "line": {"width": [3 if k == own_key else 1 for k in DECISION_ORDER], "color": EDGE},
            "pattern": {"shape": ["/" if k == own_key else "" for k in DECISION_ORDER]},
        },
        "hovertemplate": "%{x}: %{y} students<extra></extra>",
        "showlegend": False,
    }
    top = max(counts.values(), default=0)
    return _figure(
        [bar],
        {
            "title": _title("Decisions taken"),
            "xaxis": {"title": {"text": "deployment decision"}},
            "yaxis": {"title": {"text": "students"}, "range": [0, max(top * 1.25, 1)]},
            "height": 340,
        },
    )


def _metric(row: Submission, side: str, metric: str) -> float | None:
    """A SideFigures field, with sizes in GB, or "pass_rate" (probe checks passed, %)."""
    s = _side(row, side)
    if metric == "pass_rate":
        return _pass_rate(s)
    if metric == "size_bytes":
        return _gb(s.size_bytes)
    return getattr(s, metric)


def paired_figure(
    rows: Sequence[Submission], metric: str, *, title: str, axis_title: str
) -> go.Figure:
    """Instructor: one row per student, the Q4 and Q6 values as dots joined by a line.

    `metric` is a SideFigures field ("tokens_per_s", "bits_per_weight", "size_bytes") or
    "pass_rate" (probe checks passed, %).
    """

    def value(row: Submission, side: str) -> float | None:
        return _metric(row, side, metric)

    names = [plotly_text(f"{r.name} (#{r.id})") for r in rows]
    line_x: list[float | None] = []
    line_y: list[str | None] = []
    for row, label in zip(rows, names, strict=True):
        a, b = value(row, "q4"), value(row, "q6")
        if a is not None and b is not None:
            line_x += [a, b, None]
            line_y += [label, label, None]
    data: list[Spec] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "pair",
            "x": line_x,
            "y": line_y,
            "line": {"color": PAIR_LINE, "width": 2},
            "hoverinfo": "skip",
            "showlegend": False,
        }
    ]
    for side in SIDES:
        xs, ys = [], []
        for row, label in zip(rows, names, strict=True):
            v = value(row, side)
            if v is not None:
                xs.append(v)
                ys.append(label)
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": SIDE_LABELS[side],
                "x": xs,
                "y": ys,
                "marker": _side_marker(side, size=11),
                "hovertemplate": "%{y}: %{x:.2f}<extra>%{fullData.name}</extra>",
            }
        )
    return _figure(
        data,
        {
            "title": _title(title),
            "xaxis": {"title": {"text": axis_title}, "rangemode": "tozero"},
            "yaxis": {
                "title": {"text": "student"},
                "type": "category",
                "categoryorder": "array",
                "categoryarray": list(reversed(names)),
                "automargin": True,
            },
            "height": max(260, 60 + 26 * len(rows)),
        },
    )


def speed_memory_figure(rows: Sequence[Submission]) -> go.Figure:
    """Instructor: tokens/s against the tag's size, per student and tag; pairs are joined."""
    line_x: list[float | None] = []
    line_y: list[float | None] = []
    for row in rows:
        pts = [(_gb(_side(row, s).size_bytes), _side(row, s).tokens_per_s) for s in SIDES]
        if all(x is not None and y is not None for x, y in pts):
            line_x += [pts[0][0], pts[1][0], None]
            line_y += [pts[0][1], pts[1][1], None]
    data: list[Spec] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "same student",
            "x": line_x,
            "y": line_y,
            "line": {"color": PAIR_LINE, "width": 1},
            "hoverinfo": "skip",
        }
    ]
    for side in SIDES:
        trace, _, _ = _points(
            rows,
            side,
            lambda r, s: _gb(_side(r, s).size_bytes),
            lambda r, s: _side(r, s).tokens_per_s,
            True,
            "%{x:.2f} GB, %{y:.1f} tok/s",
        )
        data.append(trace)
    return _figure(
        data,
        {
            "title": _title("Speed against memory"),
            "xaxis": {"title": {"text": "size on the endpoint (GB)"}, "rangemode": "tozero"},
            "yaxis": {"title": {"text": "tokens/s"}, "rangemode": "tozero"},
            "height": 380,
        },
    )


# Text alternatives (issue 18): one sentence and the plotted numbers, beside each figure above.
# Student figures stay anonymous: a row is "student k" in the table, never a name.


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _who(i: int, row: Submission, names: bool) -> str:
    if names:
        return f"{row.name} (#{row.id})"
    return "you" if row.own else f"student {i + 1}"


def _side_values(
    rows: Sequence[Submission], side: str, value: Callable[[SideFigures], float | None]
) -> list[float]:
    return [v for r in rows if (v := value(_side(r, side))) is not None]


def sizes_text(rows: Sequence[Submission], *, names: bool = False) -> ChartText:
    """What `sizes_figure` shows: each tag's size against its bits per weight."""
    parts = []
    for side in SIDES:
        sizes = _side_values(rows, side, lambda s: _gb(s.size_bytes))
        bpw = _side_values(rows, side, lambda s: s.bits_per_weight)
        parts.append(
            f"{SIDE_LABELS[side]} median {num(_median(sizes))} GB at "
            f"{num(_median(bpw))} bits per weight ({len(sizes)} submissions)"
        )
    table = [
        (_who(i, r, names), SIDE_LABELS[side], _side(r, side).bits_per_weight,
         _gb(_side(r, side).size_bytes))
        for i, r in enumerate(rows) for side in SIDES
    ]  # fmt: skip
    return ChartText.of(
        f"Size on the endpoint against estimated bits per weight: {listing(parts)}.",
        ("student", "model", "bits per weight", "size (GB)"),
        table,
        "sizes and bits per weight",
    )


def speed_text(rows: Sequence[Submission], *, names: bool = False) -> ChartText:
    """What `speed_figure` shows: each student's Q4 tokens/s against their Q6 tokens/s."""
    pairs = [
        (i, r, r.figures.q4.tokens_per_s, r.figures.q6.tokens_per_s)
        for i, r in enumerate(rows)
        if r.figures.q4.tokens_per_s is not None and r.figures.q6.tokens_per_s is not None
    ]
    faster = sum(1 for _, _, q4, q6 in pairs if q4 > q6)
    summary = (
        f"Tokens per second, Q4 against Q6, for {len(pairs)} students: Q4 was faster on "
        f"{faster} machines and not faster on {len(pairs) - faster}; median Q4 "
        f"{num(_median([p[2] for p in pairs]))}, median Q6 {num(_median([p[3] for p in pairs]))}."
    )
    return ChartText.of(
        summary,
        ("student", "Q4 tokens/s", "Q6 tokens/s"),
        [(_who(i, r, names), q4, q6) for i, r, q4, q6 in pairs],
        "tokens per second",
    )


def probe_text(rows: Sequence[Submission], *, names: bool = False) -> ChartText:
    """What `probe_figure` shows: probe checks passed, per student and tag."""
    parts = []
    for side in SIDES:
        rates = _side_values(rows, side, _pass_rate)
        parts.append(f"{SIDE_LABELS[side]} median {num(_median(rates))} % ({len(rates)} students)")
    table = [
        (_who(i, r, names), SIDE_LABELS[side], s.probe_passed, s.probe_total, _pass_rate(s))
        for i, r in enumerate(rows)
        for side in SIDES
        if _pass_rate(s := _side(r, side)) is not None
    ]
    return ChartText.of(
        f"Quality probe checks passed, as a share of those answered: {listing(parts)}.",
        ("student", "model", "passed", "answered", "passed (%)"),
        table,
        "probe checks passed",
    )


def decisions_text(rows: Sequence[Submission]) -> ChartText:
    """What `decisions_figure` shows: how many students took each decision."""
    counts = decision_counts(rows)
    own = next((r for r in rows if r.own), None)
    yours = ""
    if own is not None:
        key = own.figures.decision if own.figures.decision in counts else "undecided"
        yours = f" Yours: {DECISION_LABELS[key]}."
    parts = [f"{DECISION_LABELS[k]} {counts[k]}" for k in DECISION_ORDER]
    return ChartText.of(
        f"Decisions taken by {len(rows)} students: {listing(parts)}.{yours}",
        ("decision", "students"),
        [(DECISION_LABELS[k], counts[k]) for k in DECISION_ORDER],
        "decisions taken",
    )


def paired_text(
    rows: Sequence[Submission], metric: str, *, title: str, axis_title: str
) -> ChartText:
    """What `paired_figure` shows: each student's Q4 and Q6 value of `metric`."""

    def value(row: Submission, side: str) -> float | None:
        return _metric(row, side, metric)

    table = [(f"{r.name} (#{r.id})", value(r, "q4"), value(r, "q6")) for r in rows]
    both = [(a, b) for _, a, b in table if a is not None and b is not None]
    higher = sum(1 for a, b in both if a > b)
    return ChartText.of(
        f"{title}, one row per student ({len(rows)}): Q4 above Q6 for {higher} of the "
        f"{len(both)} with both values; median Q4 {num(_median([a for a, _ in both]))}, "
        f"median Q6 {num(_median([b for _, b in both]))} ({axis_title}).",
        ("student", f"Q4 {axis_title}", f"Q6 {axis_title}"),
        table,
        title,
    )


def speed_memory_text(rows: Sequence[Submission]) -> ChartText:
    """What `speed_memory_figure` shows: tokens/s against the tag's size, per student and tag."""
    table = [
        (f"{r.name} (#{r.id})", SIDE_LABELS[side], _gb(_side(r, side).size_bytes),
         _side(r, side).tokens_per_s)
        for r in rows for side in SIDES
    ]  # fmt: skip
    parts = []
    for side in SIDES:
        size = _median(_side_values(rows, side, lambda s: _gb(s.size_bytes)))
        speed = _median(_side_values(rows, side, lambda s: s.tokens_per_s))
        parts.append(f"{SIDE_LABELS[side]} median {num(size)} GB at {num(speed)} tokens/s")
    return ChartText.of(
        f"Speed against memory for {len(rows)} students: {listing(parts)}.",
        ("student", "model", "size (GB)", "tokens/s"),
        table,
        "speed against memory",
    )
