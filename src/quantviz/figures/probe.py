"""Plotly figures for the quality probe and the deployment decision (pure: data in, figure out).

Every builder takes `labels` (tag -> display label such as "Q4") so the charts speak the lab's
language; an unlabelled tag shows as itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from quantviz.decision.memory import FitResult
from quantviz.probe.run import ProbeResult, ProbeRun, ProbeSummary
from quantviz.units import GB, format_bytes, format_tokens

TAG_COLORS = ("#4C78A8", "#F58518", "#54A24B", "#B279A2")
MEMORY_COLORS = {"weights": "#4C78A8", "kv": "#72B7B2", "overhead": "#BAB0AC"}
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 50, "r": 20, "t": 50, "b": 50},
    "legend": {"orientation": "h", "y": -0.2},
}


def _label(tag: str, labels: Mapping[str, str] | None) -> str:
    return (labels or {}).get(tag, tag)


def _notice(title: str, message: str) -> go.Figure:
    """An empty chart that says why it is empty."""
    fig = go.Figure()
    fig.add_annotation(
        text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14}
    )
    fig.update_layout(title=title, xaxis={"visible": False}, yaxis={"visible": False}, **_LAYOUT)
    return fig


def probe_pass_figure(summary: ProbeSummary, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Checks passed per tag: overall, then per category (grouped bars, hover 'k of n')."""
    categories = list(summary.passes_by_category)
    if not categories:
        return _notice("Probe checks passed", "No probe results yet")
    x = ["all", *categories]
    fig = go.Figure()
    for i, tag in enumerate(summary.tags):
        passed = [summary.passes[tag]] + [summary.passes_by_category[c][tag] for c in categories]
        asked = [summary.answered[tag]] + [summary.answered_by_category[c][tag] for c in categories]
        fig.add_bar(
            x=x,
            y=passed,
            name=_label(tag, labels),
            customdata=asked,
            marker_color=TAG_COLORS[i % len(TAG_COLORS)],
            text=[f"{p}/{a}" for p, a in zip(passed, asked, strict=True)],
            textposition="outside",
            hovertemplate="%{x}: %{y} of %{customdata} passed<extra>%{fullData.name}</extra>",
        )
    top = max([summary.answered[t] for t in summary.tags] + [1])
    fig.update_layout(
        title="Probe checks passed",
        barmode="group",
        yaxis={"title": "checks passed", "range": [0, top * 1.15], "dtick": 1},
        **_LAYOUT,
    )
    return fig


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
        where = "identical" if c.first_diff is None else f"first differs at token {c.first_diff}"
        hover.append(f"{where} ({c.token_source} tokens)")
    a, b = (_label(t, labels) for t in run.tags[:2])
    fig = go.Figure(
        go.Bar(
            x=ids,
            y=sims,
            customdata=hover,
            marker_color=TAG_COLORS[0],
            text=[f"{s:.2f}" for s in sims],
            textposition="outside",
            hovertemplate="%{x}: similarity %{y:.3f}<br>%{customdata}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Agreement between {a} and {b} (difflib ratio over tokens)",
        yaxis={"title": "similarity", "range": [0, 1.1]},
        **_LAYOUT,
    )
    return fig


def logprob_diff_figure(run: ProbeRun, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Per probe, over the agreed prefix: mean |Δ logprob| (bars) and top-k Jaccard (markers)."""
    title = "Log-probabilities over the agreed prefix"
    compared = _compared(run)
    if not compared:
        return _notice(title, "No probe answered by both tags yet")
    with_lp = [r for r in compared if r.comparison and r.comparison.token_source == "logprobs"]
    if not with_lp:
        return _notice(title, "Logprobs not supported by this endpoint (Ollama 0.12.11+ needed)")
    ids = [r.probe.id for r in with_lp]
    diffs = [r.comparison.mean_abs_logprob_diff if r.comparison else None for r in with_lp]
    jac = [r.comparison.topk_jaccard if r.comparison else None for r in with_lp]
    prefix = [r.comparison.agreed_prefix if r.comparison else 0 for r in with_lp]
    fig = go.Figure()
    fig.add_bar(
        x=ids,
        y=diffs,
        name="mean |Δ logprob|",
        marker_color=TAG_COLORS[0],
        customdata=prefix,
        hovertemplate="%{x}: %{y:.4f} over %{customdata} tokens<extra></extra>",
    )
    fig.add_scatter(
        x=ids,
        y=jac,
        name="top-k overlap (Jaccard)",
        yaxis="y2",
        mode="markers",
        marker={"size": 11, "color": TAG_COLORS[1], "symbol": "diamond"},
        hovertemplate="%{x}: Jaccard %{y:.2f}<extra></extra>",
    )
    a, b = (_label(t, labels) for t in run.tags[:2])
    fig.update_layout(
        title=f"{title}: {a} vs {b}",
        yaxis={"title": "mean |Δ logprob| (nats)", "rangemode": "tozero"},
        yaxis2={"title": "top-k Jaccard", "overlaying": "y", "side": "right", "range": [0, 1.05]},
        **_LAYOUT,
    )
    return fig


def token_logprob_figure(result: ProbeResult, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Each tag's per-token log-probabilities for one probe, with the first divergence marked."""
    title = f"Per-token log-probabilities: {result.probe.id}"
    tags = [t for t, r in result.results.items() if r.logprobs]
    if not tags:
        return _notice(title, "No logprobs for this probe")
    fig = go.Figure()
    for i, tag in enumerate(result.results):
        lps = result.results[tag].logprobs
        if not lps:
            continue
        fig.add_scatter(
            x=list(range(len(lps))),
            y=[t.logprob for t in lps],
            name=_label(tag, labels),
            mode="lines+markers",
            customdata=[repr(t.token) for t in lps],
            line={"color": TAG_COLORS[i % len(TAG_COLORS)]},
            hovertemplate="token %{x} %{customdata}: %{y:.3f}<extra>%{fullData.name}</extra>",
        )
    c = result.comparison
    if c is not None and c.first_diff is not None and c.token_source == "logprobs":
        fig.add_vline(
            x=c.first_diff,
            line_dash="dash",
            line_color="#888",
            annotation_text=f"first difference (token {c.first_diff})",
        )
    fig.update_layout(
        title=title, xaxis={"title": "token"}, yaxis={"title": "log-probability"}, **_LAYOUT
    )
    return fig


def memory_figure(fits: Sequence[FitResult]) -> go.Figure:
    """Weights + KV cache (+ overhead) per tag as stacked bars in GB, with the budget line."""
    if not fits:
        return _notice("Memory against the budget", "No model to show")
    x = [f.label for f in fits]
    fig = go.Figure()
    parts = [
        ("weights", "weights", [f.weights_bytes for f in fits]),
        ("kv", "KV cache", [f.kv_bytes for f in fits]),
    ]
    if any(f.overhead_bytes for f in fits):
        parts.append(("overhead", "overhead", [f.overhead_bytes for f in fits]))
    for key, name, values in parts:
        fig.add_bar(
            x=x,
            y=[v / GB for v in values],
            name=name,
            marker_color=MEMORY_COLORS[key],
            customdata=[format_bytes(v) for v in values],
            hovertemplate="%{x} " + name + ": %{customdata}<extra></extra>",
        )
    budget = fits[0].budget_bytes
    fig.add_hline(
        y=budget / GB,
        line_dash="dash",
        line_color="#C0392B",
        annotation_text=f"budget {format_bytes(budget)}",
        annotation_position="top left",
    )
    for f in fits:
        verdict = (
            f"fits, {format_bytes(f.headroom_bytes)} spare"
            if f.fits
            else f"short by {format_bytes(f.shortfall_bytes)}"
        )
        fig.add_annotation(
            x=f.label, y=f.total_bytes / GB, text=verdict, showarrow=False, yshift=12
        )
    top = max([f.total_bytes for f in fits] + [budget]) / GB
    ctx = format_tokens(fits[0].context)
    fig.update_layout(
        title=f"Memory at {ctx} context ({fits[0].cache_type} KV cache)",
        barmode="stack",
        yaxis={"title": "GB", "range": [0, top * 1.2]},
        **_LAYOUT,
    )
    return fig
