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
from quantviz.figures._base import (
    CATEGORICAL,
    EDGE,
    OKABE_ITO,
    PATTERNS,
    Spec,
    category_style,
    figure,
)
from quantviz.figures.alt import ChartText, listing, num
from quantviz.probe.binomial import wilson_interval
from quantviz.probe.run import ProbeResult, ProbeRun, ProbeSummary
from quantviz.units import GB, format_bytes, format_tokens

# Tags in the categorical order (Okabe-Ito: blue, orange, ...), bars outlined so the light ones
# reach 3:1 (SC 1.4.11) and patterned per tag. Lines cannot be outlined: they take the palette's
# colours that reach 3:1 on white, and a dash each.
TAG_COLORS = CATEGORICAL[:4]
LINE_COLORS = (OKABE_ITO["blue"], OKABE_ITO["vermilion"], OKABE_ITO["black"], OKABE_ITO["green"])
LINE_DASHES = ("solid", "dash", "dot", "dashdot")
BAR_EDGE = {"width": 1, "color": EDGE}
WHISKER_COLOR = EDGE
MEMORY_STYLES = {  # colour, pattern: weights, KV cache, overhead tell apart without colour too
    "weights": (OKABE_ITO["blue"], PATTERNS[0]),
    "kv": (OKABE_ITO["sky"], PATTERNS[1]),
    "overhead": ("#d9d9d9", PATTERNS[3]),
}
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


def _tag_marker(index: int) -> Spec:
    """A tag's bars: its colour and pattern, outlined."""
    color, pattern, _ = category_style(index)
    return {"color": color, "pattern": {"shape": pattern}, "line": BAR_EDGE}


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
                "marker": _tag_marker(i),
                "text": [f"{p}/{a}" for p, a in zip(passed, asked, strict=True)],
                "textposition": "auto",  # inside the bar, above it when it does not fit
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": up,
                    "arrayminus": down,
                    "color": WHISKER_COLOR,
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
        "marker": _tag_marker(0),
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
            "marker": _tag_marker(0),
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
            "marker": {"size": 11, "color": TAG_COLORS[1], "symbol": "diamond", "line": BAR_EDGE},
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
                "line": {
                    "color": LINE_COLORS[i % len(LINE_COLORS)],
                    "dash": LINE_DASHES[i % len(LINE_DASHES)],
                },
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
            "marker": {
                "color": MEMORY_STYLES[key][0],
                "pattern": {"shape": MEMORY_STYLES[key][1]},
                "line": BAR_EDGE,
            },
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


# Text alternatives (issue 18): one sentence and the plotted numbers, beside each figure above.
# Model output (a token) may sit in a table cell, which the data frame shows as text; it never
# goes into a summary sentence.


def _share(passed: int, answered: int) -> str:
    return f"{passed} of {answered}" + (f" ({100 * passed / answered:.0f} %)" if answered else "")


def probe_pass_text(summary: ProbeSummary, labels: Mapping[str, str] | None = None) -> ChartText:
    """What `probe_pass_figure` shows: checks passed per tag, overall and per category, with
    each count's 95 % Wilson interval."""
    categories = list(summary.passes_by_category)
    if not categories:
        return ChartText.of("No probe results yet.", ("category",), [], "probe checks passed")
    parts = [
        f"{_label(t, labels)} {_share(summary.passes[t], summary.answered[t])}"
        for t in summary.tags
    ]
    rows = []
    for category in ["all", *categories]:
        for tag in summary.tags:
            if category == "all":
                p, a = summary.passes[tag], summary.answered[tag]
            else:
                p = summary.passes_by_category[category][tag]
                a = summary.answered_by_category[category][tag]
            low, high = wilson_interval(p, a) if a else (None, None)
            rows.append((category, _label(tag, labels), p, a, low, high))
    return ChartText.of(
        f"Probe checks passed, per tag and per category: overall {listing(parts)}.",
        ("category", "tag", "passed", "answered", "95 % low (share)", "95 % high (share)"),
        rows,
        "probe checks passed",
    )


def similarity_text(run: ProbeRun, labels: Mapping[str, str] | None = None) -> ChartText:
    """What `similarity_figure` shows: how alike the two tags' answers are, probe by probe."""
    compared = [(r, r.comparison) for r in _compared(run) if r.comparison is not None]
    if not compared:
        return ChartText.of(
            "No probe answered by both tags yet.", ("probe",), [], "agreement between the answers"
        )
    a, b = (_label(t, labels) for t in run.tags[:2])
    sims = [c.similarity for _, c in compared]
    same = sum(1 for _, c in compared if c.first_diff is None)
    low_r, low_c = min(compared, key=lambda rc: rc[1].similarity)
    summary = (
        f"Agreement between the answers of {a} and {b} on {len(compared)} probes: mean "
        f"similarity {num(sum(sims) / len(sims), 2)}, {same} identical, lowest "
        f"{num(low_c.similarity, 2)} on probe {low_r.probe.id}."
    )
    rows = [(r.probe.id, c.similarity, c.first_diff, c.token_source) for r, c in compared]
    return ChartText.of(
        summary,
        ("probe", "similarity", "first difference at", "compared by"),
        rows,
        "agreement between the answers",
    )


def logprob_diff_text(run: ProbeRun, labels: Mapping[str, str] | None = None) -> ChartText:
    """What `logprob_diff_figure` shows: per probe, mean |Δ logprob| and top-k overlap."""
    compared = [
        (r, r.comparison)
        for r in _compared(run)
        if r.comparison is not None and r.comparison.token_source == "logprobs"
    ]
    if not compared:
        return ChartText.of("No log-probabilities to compare.", ("probe",), [], "log-probabilities")
    a, b = (_label(t, labels) for t in run.tags[:2])
    top = max(compared, key=lambda rc: rc[1].mean_abs_logprob_diff or 0.0)
    summary = (
        f"Log-probabilities of {a} and {b} over the tokens both wrote first, on "
        f"{len(compared)} probes: the largest mean |Δ logprob| is "
        f"{num(top[1].mean_abs_logprob_diff)} nats (probe {top[0].probe.id})."
    )
    rows = [
        (r.probe.id, c.mean_abs_logprob_diff, c.topk_jaccard, c.agreed_prefix) for r, c in compared
    ]
    return ChartText.of(
        summary,
        ("probe", "mean |Δ logprob| (nats)", "top-k Jaccard", "agreed tokens"),
        rows,
        "log-probabilities over the agreed prefix",
    )


def token_logprob_text(result: ProbeResult, labels: Mapping[str, str] | None = None) -> ChartText:
    """What `token_logprob_figure` shows: each tag's log-probability per token of one probe."""
    rows = [
        (_label(tag, labels), i, repr(t.token), t.logprob)
        for tag, r in result.results.items()
        for i, t in enumerate(r.logprobs or [])
    ]
    name = f"per-token log-probabilities of {result.probe.id}"
    if not rows:
        return ChartText.of("No logprobs for this probe.", ("tag",), [], name)
    parts = []
    for tag, r in result.results.items():
        if r.logprobs:
            mean = sum(t.logprob for t in r.logprobs) / len(r.logprobs)
            parts.append(f"{_label(tag, labels)} {len(r.logprobs)} tokens, mean {num(mean)}")
    c = result.comparison
    where = (
        f"; the answers part at token {c.first_diff}"
        if c is not None and c.first_diff is not None and c.token_source == "logprobs"
        else ""
    )
    return ChartText.of(
        f"Log-probability of each token on probe {result.probe.id}: {listing(parts)}{where}.",
        ("tag", "token index", "token", "log-probability"),
        rows,
        name,
    )


def memory_text(fits: Sequence[FitResult]) -> ChartText:
    """What `memory_figure` shows: weights, KV cache and overhead per tag against the budget."""
    if not fits:
        return ChartText.of("No model to show.", ("tag",), [], "memory against the budget")
    parts = [
        f"{f.label} {format_bytes(f.total_bytes)} "
        + (
            f"(fits, {format_bytes(f.headroom_bytes)} spare)"
            if f.fits
            else f"(short by {format_bytes(f.shortfall_bytes)})"
        )
        for f in fits
    ]
    summary = (
        f"Memory at {format_tokens(fits[0].context)} context against a budget of "
        f"{format_bytes(fits[0].budget_bytes)}: {listing(parts)}."
    )
    rows = [
        (f.label, f.weights_bytes / GB, f.kv_bytes / GB, f.overhead_bytes / GB,
         f.total_bytes / GB, f.budget_bytes / GB, "yes" if f.fits else "no")
        for f in fits
    ]  # fmt: skip
    return ChartText.of(
        summary,
        ("tag", "weights (GB)", "KV cache (GB)", "overhead (GB)", "total (GB)", "budget (GB)",
         "fits"),
        rows,
        "memory against the budget",
    )  # fmt: skip
