"""Plotly figures for the quality probe and the deployment decision (pure: data in, figure out).

Every builder takes `labels` (tag -> display label such as "Q4") so the charts speak the lab's
language; an unlabelled tag shows as itself. Figures come from the shared factory
(`figures._base.figure`); the tests rebuild each one with validation on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from quantviz.decision.memory import FitResult
from quantviz.figures._base import BLUE, GREEN, GREY, ORANGE, PURPLE, TEAL, Spec, figure
from quantviz.probe.binomial import wilson_interval
from quantviz.probe.run import ProbeResult, ProbeRun, ProbeSummary
from quantviz.units import GB, format_bytes, format_tokens

TAG_COLORS = (BLUE, ORANGE, GREEN, PURPLE)
MEMORY_COLORS = {"weights": BLUE, "kv": TEAL, "overhead": GREY}
BUDGET_COLOR = "#C0392B"
MARGIN = {"l": 50, "r": 20, "t": 50, "b": 50}
LEGEND = {"orientation": "h", "y": -0.2}


def _figure(
    data: list[Spec], layout: Spec, title: str, annotations: Sequence[Spec] = ()
) -> go.Figure:
    layout = {"legend": LEGEND, "annotations": list(annotations), **layout}
    return figure(data, layout, title=title, margin=MARGIN)


def _axis(title: str, **more: object) -> Spec:
    return {"title": {"text": title}, **more}


def _label(tag: str, labels: Mapping[str, str] | None) -> str:
    return (labels or {}).get(tag, tag)


def _notice(title: str, message: str) -> go.Figure:
    """An empty chart that says why it is empty."""
    note = {"text": message, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper",
            "showarrow": False, "font": {"size": 14}}  # fmt: skip
    hidden = {"xaxis": {"visible": False}, "yaxis": {"visible": False}}
    return _figure([], hidden, title, [note])


def probe_pass_figure(summary: ProbeSummary, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Checks passed per tag: overall, then per category (grouped bars, hover 'k of n'), each
    with its 95 % Wilson interval as a whisker."""
    categories = list(summary.passes_by_category)
    if not categories:
        return _notice("Probe checks passed", "No probe results yet")
    x = ["all", *categories]
    data: list[Spec] = []
    for i, tag in enumerate(summary.tags):
        passed = [summary.passes[tag]] + [summary.passes_by_category[c][tag] for c in categories]
        asked = [summary.answered[tag]] + [summary.answered_by_category[c][tag] for c in categories]
        # The 95 % Wilson interval of each count, in prompts: a whisker, so two bars whose
        # whiskers overlap read as "within noise" rather than as a difference.
        spans = [
            wilson_interval(p, a) if a else (0.0, 0.0) for p, a in zip(passed, asked, strict=True)
        ]
        up = [high * a - p for (_, high), p, a in zip(spans, passed, asked, strict=True)]
        down = [p - low * a for (low, _), p, a in zip(spans, passed, asked, strict=True)]
        data.append(
            {
                "type": "bar",
                "x": x,
                "y": passed,
                "name": _label(tag, labels),
                "customdata": asked,
                "marker": {"color": TAG_COLORS[i % len(TAG_COLORS)]},
                "text": [f"{p}/{a}" for p, a in zip(passed, asked, strict=True)],
                "textposition": "auto",  # inside the bar, above it when it does not fit
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": up,
                    "arrayminus": down,
                    "color": GREY,
                },
                "hovertemplate": "%{x}: %{y} of %{customdata} passed"
                "<extra>%{fullData.name}</extra>",
            }
        )
    top = max([summary.answered[t] for t in summary.tags] + [1])
    # Ticks stop at the number of prompts (8 prompts: 0-8, no 9); the range above it is only
    # room for the whiskers.
    step = max(1, math.ceil(top / 10))
    ticks = sorted({*range(0, top + 1, step), top})
    axis = _axis("checks passed", range=[0, top * 1.15], tickmode="array", tickvals=ticks)
    layout = {"barmode": "group", "yaxis": axis}
    return _figure(data, layout, "Probe checks passed")


def _compared(run: ProbeRun) -> list[ProbeResult]:
    return [r for r in run.results if r.comparison is not None]


def similarity_figure(run: ProbeRun, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Similarity of the two tags' answers per probe (1 = identical), first differing token."""
    compared = _compared(run)
    if not compared:
        return _notice("Agreement between the answers", "No probe answered by both tags yet")
    ids = [r.probe.id for r in compared]
    sims = [r.comparison.similarity for r in compared if r.comparison]
    hover = []
    for r in compared:
        c = r.comparison
        assert c is not None
        unit = "token" if c.token_source == "logprobs" else "word"
        where = "identical" if c.first_diff is None else f"first differs at {unit} {c.first_diff}"
        hover.append(f"{where} (compared {unit} by {unit})")
    a, b = (_label(t, labels) for t in run.tags[:2])
    bar = {
        "type": "bar",
        "x": ids,
        "y": sims,
        "customdata": hover,
        "marker": {"color": TAG_COLORS[0]},
        "text": [f"{s:.2f}" for s in sims],
        "textposition": "outside",
        "hovertemplate": "%{x}: similarity %{y:.3f}<br>%{customdata}<extra></extra>",
    }
    layout = {"yaxis": _axis("similarity", range=[0, 1.1])}
    return _figure([bar], layout, f"Agreement between {a} and {b} (difflib ratio over tokens)")


def logprob_diff_figure(run: ProbeRun, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Per probe, over the agreed prefix: mean |Δ logprob| (bars) and top-k Jaccard (markers)."""
    title = "Log-probabilities over the agreed prefix"
    compared = _compared(run)
    if not compared:
        return _notice(title, "No probe answered by both tags yet")
    with_lp = [r for r in compared if r.comparison and r.comparison.token_source == "logprobs"]
    if not with_lp:
        return _notice(title, "No log-probabilities came back (not supported by this endpoint)")
    ids = [r.probe.id for r in with_lp]
    diffs = [r.comparison.mean_abs_logprob_diff if r.comparison else None for r in with_lp]
    jac = [r.comparison.topk_jaccard if r.comparison else None for r in with_lp]
    prefix = [r.comparison.agreed_prefix if r.comparison else 0 for r in with_lp]
    data: list[Spec] = [
        {
            "type": "bar",
            "x": ids,
            "y": diffs,
            "name": "mean |Δ logprob|",
            "marker": {"color": TAG_COLORS[0]},
            "customdata": prefix,
            "hovertemplate": "%{x}: %{y:.4f} over %{customdata} tokens<extra></extra>",
        },
        {
            "type": "scatter",
            "x": ids,
            "y": jac,
            "name": "top-k overlap (Jaccard)",
            "yaxis": "y2",
            "mode": "markers",
            "marker": {"size": 11, "color": TAG_COLORS[1], "symbol": "diamond"},
            "hovertemplate": "%{x}: Jaccard %{y:.2f}<extra></extra>",
        },
    ]
    a, b = (_label(t, labels) for t in run.tags[:2])
    layout = {
        "yaxis": _axis("mean |Δ logprob| (nats)", rangemode="tozero"),
        "yaxis2": _axis("top-k Jaccard", overlaying="y", side="right", range=[0, 1.05]),
    }
    return _figure(data, layout, f"{title}: {a} vs {b}")


def token_logprob_figure(result: ProbeResult, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Each tag's per-token log-probabilities for one probe, with the first divergence marked."""
    title = f"Per-token log-probabilities: {result.probe.id}"
    tags = [t for t, r in result.results.items() if r.logprobs]
    if not tags:
        return _notice(title, "No logprobs for this probe")
    data: list[Spec] = []
    for i, tag in enumerate(result.results):
        lps = result.results[tag].logprobs
        if not lps:
            continue
        data.append(
            {
                "type": "scatter",
                "x": list(range(len(lps))),
                "y": [t.logprob for t in lps],
                "name": _label(tag, labels),
                "mode": "lines+markers",
                "customdata": [repr(t.token) for t in lps],
                "line": {"color": TAG_COLORS[i % len(TAG_COLORS)]},
                "hovertemplate": "token %{x} %{customdata}: %{y:.3f}"
                "<extra>%{fullData.name}</extra>",
            }
        )
    layout: Spec = {"xaxis": _axis("token"), "yaxis": _axis("log-probability")}
    notes: list[Spec] = []
    c = result.comparison
    if c is not None and c.first_diff is not None and c.token_source == "logprobs":
        layout["shapes"] = [
            {"type": "line", "xref": "x", "yref": "y domain", "x0": c.first_diff,
             "x1": c.first_diff, "y0": 0, "y1": 1, "line": {"dash": "dash", "color": "#888"}}
        ]  # fmt: skip
        notes.append(
            {"text": f"first difference (token {c.first_diff})", "x": c.first_diff, "xref": "x",
             "y": 1, "yref": "y domain", "xanchor": "left", "yanchor": "top", "showarrow": False}
        )  # fmt: skip
    return _figure(data, layout, title, notes)


def memory_figure(fits: Sequence[FitResult]) -> go.Figure:
    """Weights + KV cache (+ overhead) per tag as stacked bars in GB, with the budget line."""
    if not fits:
        return _notice("Memory against the budget", "No model to show")
    x = [f.label for f in fits]
    parts = [
        ("weights", "weights", [f.weights_bytes for f in fits]),
        ("kv", "KV cache", [f.kv_bytes for f in fits]),
    ]
    if any(f.overhead_bytes for f in fits):
        parts.append(("overhead", "overhead", [f.overhead_bytes for f in fits]))
    data: list[Spec] = [
        {
            "type": "bar",
            "x": x,
            "y": [v / GB for v in values],
            "name": name,
            "marker": {"color": MEMORY_COLORS[key]},
            "customdata": [format_bytes(v) for v in values],
            "hovertemplate": "%{x} " + name + ": %{customdata}<extra></extra>",
        }
        for key, name, values in parts
    ]
    budget = fits[0].budget_bytes
    budget_line = {"type": "line", "xref": "x domain", "yref": "y", "x0": 0, "x1": 1,
                   "y0": budget / GB, "y1": budget / GB,
                   "line": {"dash": "dash", "color": BUDGET_COLOR}}  # fmt: skip
    notes: list[Spec] = [
        {"text": f"budget {format_bytes(budget)}", "x": 0, "xref": "x domain", "y": budget / GB,
         "yref": "y", "xanchor": "left", "yanchor": "bottom", "showarrow": False}
    ]  # fmt: skip
    for f in fits:
        verdict = (
            f"fits, {format_bytes(f.headroom_bytes)} spare"
            if f.fits
            else f"short by {format_bytes(f.shortfall_bytes)}"
        )
        notes.append(
            {"x": f.label, "y": f.total_bytes / GB, "text": verdict, "showarrow": False,
             "yshift": 12}
        )  # fmt: skip
    top = max([f.total_bytes for f in fits] + [budget]) / GB
    ctx = format_tokens(fits[0].context)
    layout = {
        "barmode": "stack",
        "yaxis": _axis("GB", range=[0, top * 1.2]),
        "shapes": [budget_line],
    }
    return _figure(data, layout, f"Memory at {ctx} context ({fits[0].cache_type} KV cache)", notes)
