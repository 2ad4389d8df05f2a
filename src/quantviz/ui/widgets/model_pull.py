"""Pull widget (`data-model-pull`): which tags the endpoint has, and `ollama pull` with progress.

A Pull click only records the request (button callback); the fragment run that follows draws the
rows with every button disabled, streams the pull into one progress bar per layer plus an overall
bar and the status line, stores the outcome in the session, forgets the cached model list and
reruns the fragment, so the rows show the new installed state and the final bars stay in view.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from quantviz.config import Settings
from quantviz.ollama.client import Endpoint, PullTracker, find_model, pull
from quantviz.ollama.errors import OllamaError
from quantviz.text import code_span, plain
from quantviz.ui import registry, session
from quantviz.ui.context import WidgetContext
from quantviz.ui.ollama_common import (
    endpoint_for_evidence,
    endpoint_line,
    forget,
    host_label,
    models_on,
    record_once,
    refresh_button,
    show_error,
)
from quantviz.units import format_bytes

DRAW_INTERVAL = 0.1  # seconds between progress redraws; a real pull sends many lines a second
MAX_LAYERS = 64  # a model has a handful of layers; one bar each, so a server may not send more
NO_PULL_REASON = (
    "Pulling is turned off for this class (the instructor set `allow_pull = false`): "
    "the tags must already be on the endpoint."
)
NO_PULL_CONFIG_PROBLEM = (
    "Pulling is turned off while the app's configuration has a problem: the tags must already "
    "be on the endpoint."
)


@dataclass(frozen=True)
class Layer:
    digest: str
    completed: int
    total: int
    already_present: bool  # complete in its first progress line: the endpoint had it

    @property
    def short(self) -> str:
        return self.digest.removeprefix("sha256:")[:12]


@dataclass(frozen=True)
class PullOutcome:
    """How a pull ended, kept in the session so the final bars survive the refresh rerun."""

    label: str
    tag: str
    host: str
    status: str
    fraction: float
    layers: tuple[Layer, ...]
    error_kind: str | None = None
    error_message: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.error_kind is None

    @property
    def total(self) -> int:
        return sum(layer.total for layer in self.layers)

    @property
    def completed(self) -> int:
        return sum(layer.completed for layer in self.layers)

    def evidence(self, endpoint: str) -> dict[str, object]:
        largest = max(self.layers, key=lambda layer: layer.total, default=None)
        return {
            "label": self.label,
            "tag": self.tag,
            "endpoint": endpoint,
            "outcome": "success" if self.succeeded else "failed",
            "error_kind": self.error_kind,
            "error": self.error_message,
            "last_status": self.status,
            "n_layers": len(self.layers),
            "total_bytes": self.total,
            "largest_layer_bytes": largest.total if largest else None,
            "layers": [
                {
                    "digest": layer.digest,
                    "bytes": layer.total,
                    "already_present": layer.already_present,
                }
                for layer in self.layers
            ],
        }


def render(ctx: WidgetContext) -> None:
    with st.container(border=True):
        st.subheader("Pull the model tags", anchor=False)
        _panel(ctx)


def _request(pending_key: str, label: str, tag: str) -> None:
    st.session_state[pending_key] = (label, tag)


@registry.fragment
def _panel(ctx: WidgetContext) -> None:
    settings = session.settings(ctx.lab)
    endpoint = settings.endpoint
    no_pull = NO_PULL_CONFIG_PROBLEM if settings.failed_closed else NO_PULL_REASON
    pending_key, last_key = f"{ctx.key}-pending", f"{ctx.key}-last"
    pending: tuple[str, str] | None = st.session_state.pop(pending_key, None)

    endpoint_line(settings)
    listing = models_on(endpoint)
    if isinstance(listing, OllamaError):
        show_error(listing, "Could not list the endpoint's models")
        refresh_button(f"{ctx.key}-refresh", endpoint, [("tags",)])
        return

    present = {}
    for label, tag in settings.models.items():
        entry = find_model(listing, tag)
        present[label] = entry
        left, right = st.columns([4, 1], vertical_alignment="center")
        if entry is None:
            left.markdown(f"**{plain(label)}** `{tag}` · :orange[not on this endpoint]")
        else:
            left.markdown(
                f"**{plain(label)}** `{tag}` · :green[on the endpoint] · {format_bytes(entry.size)}"
                f" ({entry.size:,} bytes)"
            )
        right.button(
            "Pull again" if entry else "Pull",
            key=f"{ctx.key}-pull-{label}",
            icon=":material/download:",
            on_click=_request,
            args=(pending_key, label, tag),
            disabled=not settings.allow_pull or pending is not None,
            help=no_pull if not settings.allow_pull else f"ollama pull {tag}",
        )
    if not settings.allow_pull:
        st.caption(f":material/block: {no_pull}")
    refresh_button(f"{ctx.key}-refresh", endpoint, [("tags",)])
    record_once(
        f"{ctx.key}-installed",
        "pull",
        "Tags on the endpoint",
        {
            "endpoint": endpoint_for_evidence(settings),
            "tags": [
                {
                    "label": label,
                    "tag": settings.models[label],
                    "present": entry is not None,
                    "size_bytes": entry.size if entry else None,
                }
                for label, entry in present.items()
            ],
        },
    )

    area = st.container()
    if pending is not None and settings.allow_pull and pending in settings.models.items():
        label, tag = pending
        outcome = _run_pull(area, endpoint, label, tag, settings)
        st.session_state[last_key] = outcome
        forget(endpoint, ("tags",), ("show", tag))
        session.record(
            "pull",
            f"Pull {label} ({tag}): {'success' if outcome.succeeded else 'failed'}",
            outcome.evidence(endpoint_for_evidence(settings)),
        )
        _rerun_fragment()
    last: PullOutcome | None = st.session_state.get(last_key)
    if last is not None:
        with area:
            _draw(last)


def _rerun_fragment() -> None:
    # A click in the fragment reruns only the fragment; a full-app run (AppTest, or a rerun
    # that happened to include this fragment) may not scope a rerun to it, so rerun the page.
    try:
        st.rerun(scope="fragment")
    except st.errors.StreamlitAPIException:
        st.rerun()


def _run_pull(
    area: DeltaGenerator, endpoint: Endpoint, label: str, tag: str, settings: Settings
) -> PullOutcome:
    """Stream the pull into the area; the outcome (success or the error) is returned."""
    with area:
        st.markdown(f"**Pulling {plain(label)}** `{tag}`")
        status_slot = st.empty()
        overall_slot = st.empty()
        layer_box = st.container()
    tracker = PullTracker()
    bars: dict[str, DeltaGenerator] = {}
    present: set[str] = set()
    last_draw = 0.0

    def outcome(kind: str | None = None, message: str | None = None) -> PullOutcome:
        layers = tuple(
            Layer(d, done, total, d in present) for d, (done, total) in tracker.layers.items()
        )
        return PullOutcome(
            label, tag, host_label(endpoint.host), tracker.status, tracker.fraction, layers,
            kind, message,
        )  # fmt: skip

    def draw(current: PullOutcome) -> None:
        status_slot.caption(f"Status: {plain(current.status or 'starting')}")
        _overall_bar(overall_slot, current)
        for layer in current.layers:
            if layer.digest not in bars:
                bars[layer.digest] = layer_box.empty()
            _layer_bar(bars[layer.digest], layer)

    progress_lines = pull(endpoint, tag, timeout=settings.caps.request_timeout)
    try:
        with contextlib.closing(progress_lines) as lines:
            for progress in lines:
                known = progress.digest in tracker.layers
                if not known and progress.digest and len(tracker.layers) >= MAX_LAYERS:
                    raise OllamaError(
                        "too_large",
                        f"The server announced more than {MAX_LAYERS} layers for {tag}; a model "
                        "has a handful. The pull view stopped there.",
                    )
                tracker.add(progress)
                first_seen = progress.digest and progress.total and not known
                if first_seen and (progress.completed or 0) >= (progress.total or 0):
                    present.add(progress.digest or "")
                now = time.monotonic()
                if not known or now - last_draw >= DRAW_INTERVAL or progress.status == "success":
                    draw(outcome())
                    last_draw = now
        result = outcome()
    except OllamaError as exc:
        result = outcome(exc.kind, exc.message)
    draw(result)
    return result


def _overall_bar(slot: DeltaGenerator, outcome: PullOutcome) -> None:
    if outcome.total:
        text = (
            f"All layers: {format_bytes(outcome.completed)} / {format_bytes(outcome.total)} "
            f"({len(outcome.layers)} layers)"
        )
    else:
        text = "All layers: waiting for the manifest"
    slot.progress(min(max(outcome.fraction, 0.0), 1.0), text=text)


def _layer_bar(slot: DeltaGenerator, layer: Layer) -> None:
    done = min(layer.completed / layer.total, 1.0) if layer.total else 0.0
    note = " · already on the endpoint" if layer.already_present else ""
    slot.progress(
        done,
        text=f"{code_span(layer.short)} {format_bytes(layer.completed)} / "
        f"{format_bytes(layer.total)}"
        f" ({layer.completed:,} / {layer.total:,} bytes){note}",
    )


def _draw(outcome: PullOutcome) -> None:
    """The stored outcome: heading, status, the final bars, and success or the error."""
    st.markdown(f"**Last pull: {plain(outcome.label)}** `{outcome.tag}` on `{outcome.host}`")
    st.caption(f"Status: {plain(outcome.status or 'no answer')}")
    _overall_bar(st.empty(), outcome)
    for layer in outcome.layers:
        _layer_bar(st.empty(), layer)
    if outcome.succeeded:
        skipped = sum(layer.already_present for layer in outcome.layers)
        st.success(
            f"Pulled {plain(outcome.label)} `{outcome.tag}`: {len(outcome.layers)} layers, "
            f"{format_bytes(outcome.total)}"
            + (f"; {skipped} of them were already on the endpoint." if skipped else "."),
            icon=":material/check_circle:",
        )
        return
    error = OllamaError(outcome.error_kind or "stream", outcome.error_message or "")  # type: ignore[arg-type]
    show_error(error, f"Pulling `{outcome.tag}` failed")
    if outcome.error_kind == "not_found":
        st.caption(
            "An unknown or misspelled tag fails at the manifest step: check the tag in the lab "
            "(or the instructor's configuration) before suspecting the network."
        )
