"""Pull widget (`data-model-pull`): which tags the endpoint has, their manifests from the
registry, a tag of the student's own, and `ollama pull` with progress.

Everything is one fragment, so a click reruns only this widget:

- **The tags**: each configured tag, whether the endpoint has it, and a Pull button (disabled,
  with the reason, when the instructor turned pulls off).
- **Manifests**: "Read the manifests" reads each tag's manifest from the registry `ollama pull`
  reads (`quantviz.ollama.registry`, the class's `[ollama] registries`), whatever `allow_pull`
  says: the layers with their media-type names, sizes and digests, the largest layer, and which
  blobs a pull of the second tag skips because the first brought them. That is what Objective
  2's Execute tasks ask for, so they work where pulls are off.
- **Your own tag**: a field reads the manifest of any tag on the class's registries; a misspelt
  one shows the 404 that `ollama pull` fails with ("pull model manifest: file does not exist").
  Where pulls are on it can be pulled too; where they are off, the field says so and why.
- **A pull**: a Pull click only records the request (button callback); the fragment run that
  follows takes the tag's manifest if this session read it already (the pull itself sends no
  request to the registry: the endpoint does that), draws the rows with every button
  disabled, streams the pull into one bar per layer plus an overall bar, stores the outcome,
  forgets the cached model list and reruns the fragment. Every bar's value and text come
  from `quantviz.ollama.progress`.

Registry and server text reaches the page only through `plain`, code spans of our own strings,
and dataframe cells.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from quantviz.config import Settings
from quantviz.ollama.client import Endpoint, find_model, pull
from quantviz.ollama.errors import OllamaError
from quantviz.ollama.progress import LayerProgress, PullFigures, PullTracker
from quantviz.ollama.registry import (
    Manifest,
    ManifestComparison,
    ManifestLayer,
    compare_manifests,
    manifest_request,
)
from quantviz.text import code_span, plain
from quantviz.ui import registry, session
from quantviz.ui.context import WidgetContext
from quantviz.ui.ollama_common import (
    cached_manifest,
    endpoint_for_evidence,
    endpoint_line,
    forget,
    forget_manifests,
    host_label,
    manifest_of,
    models_on,
    record_once,
    refresh_button,
    show_error,
    show_registry_error,
)
from quantviz.units import format_bytes

DRAW_INTERVAL = 0.1  # seconds between progress redraws; a real pull sends many lines a second
MAX_LAYERS = 64  # a model has a handful of layers; one bar each, so a server may not send more
EVIDENCE_LAYERS = 64  # layers of a manifest written to the evidence (a safetensors tag has 1000s)
OWN_LABEL = "Your tag"
NO_PULL_REASON = (
    "Pulling is turned off for this class (the instructor set `allow_pull = false`): "
    "the tags must already be on the endpoint."
)
NO_PULL_CONFIG_PROBLEM = (
    "Pulling is turned off while the app's configuration has a problem: the tags must already "
    "be on the endpoint."
)


@dataclass(frozen=True)
class PullOutcome:
    """How a pull ended, kept in the session so the final bars survive the refresh rerun."""

    label: str
    tag: str
    host: str
    status: str
    figures: PullFigures
    error_kind: str | None = None
    error_message: str | None = None
    manifest_note: str | None = None  # why the layers have no names (the manifest was not read)

    @property
    def succeeded(self) -> bool:
        return self.error_kind is None

    @property
    def layers(self) -> tuple[LayerProgress, ...]:
        return self.figures.layers

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
            "total_bytes": sum(layer.total for layer in self.layers),
            "largest_layer_bytes": largest.total if largest else None,
            "largest_layer_kind": largest.kind if largest else None,
            "layers": [
                {
                    "digest": layer.digest,
                    "kind": layer.kind,
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


def _request_own(pending_key: str, input_key: str) -> None:
    tag = (st.session_state.get(input_key) or "").strip()
    if tag:
        st.session_state[pending_key] = (OWN_LABEL, tag)


def _no_pull_reason(settings: Settings) -> str:
    return NO_PULL_CONFIG_PROBLEM if settings.failed_closed else NO_PULL_REASON


@registry.fragment
def _panel(ctx: WidgetContext) -> None:
    settings = session.settings(ctx.lab)
    endpoint = settings.endpoint
    no_pull = _no_pull_reason(settings)
    pending_key, last_key = f"{ctx.key}-pending", f"{ctx.key}-last"
    pending: tuple[str, str] | None = st.session_state.pop(pending_key, None)

    endpoint_line(settings)
    listing = models_on(endpoint)
    if isinstance(listing, OllamaError):
        show_error(listing, "Could not list the endpoint's models")
        refresh_button(f"{ctx.key}-refresh", endpoint, [("tags",)])
    else:
        _tag_rows(ctx, settings, listing, pending, pending_key, no_pull)

    area = st.container()
    if pending is not None and _may_pull(settings, pending):
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

    _own_tag(ctx, settings, pending is not None, no_pull)
    _manifests(ctx, settings)


def _tag_rows(
    ctx: WidgetContext,
    settings: Settings,
    listing: Mapping[str, Any],
    pending: tuple[str, str] | None,
    pending_key: str,
    no_pull: str,
) -> None:
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
    refresh_button(f"{ctx.key}-refresh", settings.endpoint, [("tags",)])
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


def _may_pull(settings: Settings, pending: tuple[str, str]) -> bool:
    """A lab tag, or the student's own tag on one of the class's registries, with pulls on."""
    if not settings.allow_pull:
        return False
    label, tag = pending
    if label != OWN_LABEL:
        return pending in settings.models.items()
    try:
        manifest_request(tag, settings.registries)
    except OllamaError as exc:
        show_registry_error(exc, f"Not pulled: {code_span(tag)}")
        return False
    return True


def _rerun_fragment() -> None:
    # A click in the fragment reruns only the fragment; a full-app run (AppTest, or a rerun
    # that happened to include this fragment) may not scope a rerun to it, so rerun the page.
    try:
        st.rerun(scope="fragment")
    except st.errors.StreamlitAPIException:
        st.rerun()


# --------------------------------------------------------------------------- a pull


def _run_pull(
    area: DeltaGenerator, endpoint: Endpoint, label: str, tag: str, settings: Settings
) -> PullOutcome:
    """Stream the pull into the area; the outcome (success or the error) is returned."""
    with area:
        st.markdown(f"**Pulling {plain(label)}** {code_span(tag)}")
        status_slot = st.empty()
        overall_slot = st.empty()
        layer_box = st.container()
        note_slot = st.empty()
    manifest = cached_manifest(settings.registries, tag)
    note = None
    if not isinstance(manifest, Manifest):
        note = (
            "The layers are named by digest only, and the overall total counts the layers "
            "announced so far: read the manifests below first to name them."
        )
        note_slot.caption(note)
    tracker = PullTracker.from_manifest(manifest if isinstance(manifest, Manifest) else None)
    bars: dict[str, DeltaGenerator] = {}
    last_draw = 0.0

    def outcome(kind: str | None = None, message: str | None = None) -> PullOutcome:
        host = host_label(endpoint.host)
        return PullOutcome(label, tag, host, tracker.status, tracker.figures(), kind, message, note)

    def draw(current: PullOutcome) -> None:
        status_slot.caption(f"Status: {plain(current.status or 'starting')}")
        _overall_bar(overall_slot, current.figures)
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
                now = time.monotonic()
                if not known or now - last_draw >= DRAW_INTERVAL or progress.status == "success":
                    draw(outcome())
                    last_draw = now
        result = outcome()
    except OllamaError as exc:
        result = outcome(exc.kind, exc.message)
    draw(result)
    return result


def _overall_bar(slot: DeltaGenerator, figures: PullFigures) -> None:
    slot.progress(figures.percent, text=figures.text)


def _layer_bar(slot: DeltaGenerator, layer: LayerProgress) -> None:
    slot.progress(layer.percent, text=layer.text)


def _draw(outcome: PullOutcome) -> None:
    """The stored outcome: heading, status, the final bars, and success or the error."""
    st.markdown(
        f"**Last pull: {plain(outcome.label)}** {code_span(outcome.tag)} on `{outcome.host}`"
    )
    st.caption(f"Status: {plain(outcome.status or 'no answer')}")
    _overall_bar(st.empty(), outcome.figures)
    for layer in outcome.layers:
        _layer_bar(st.empty(), layer)
    if outcome.manifest_note:
        st.caption(plain(outcome.manifest_note))
    if outcome.succeeded:
        skipped = sum(layer.already_present for layer in outcome.layers)
        st.success(
            f"Pulled {plain(outcome.label)} {code_span(outcome.tag)}: {len(outcome.layers)} "
            f"layers, {format_bytes(outcome.figures.total)}"
            + (f"; {skipped} of them were already on the endpoint." if skipped else "."),
            icon=":material/check_circle:",
        )
        return
    error = OllamaError(outcome.error_kind or "stream", outcome.error_message or "")  # type: ignore[arg-type]
    show_error(error, f"Pulling {code_span(outcome.tag)} failed")
    if outcome.error_kind == "not_found":
        st.caption(
            "An unknown or misspelled tag fails at the manifest step: check the tag in the lab "
            "(or the instructor's configuration) before suspecting the network."
        )


# --------------------------------------------------------------------------- manifests


def _own_tag(ctx: WidgetContext, settings: Settings, busy: bool, no_pull: str) -> None:
    """A field for any tag: read its manifest, and pull it where pulls are on."""
    input_key, pending_key = f"{ctx.key}-own-tag", f"{ctx.key}-pending"
    st.markdown("**Try a tag of your own**")
    left, mid, right = st.columns([3, 1, 1], vertical_alignment="bottom")
    tag = left.text_input(
        "Model tag",
        key=input_key,
        max_chars=200,
        placeholder="for example batiai/gemma4-e2b:q5 or gemma3:1b",
        help="A name as `ollama pull` takes it: [host/][namespace/]model[:tag]. Manifests are "
        "read only from the registries this class allows: "
        + ", ".join(r.name for r in settings.registries),
    )
    tag = (tag or "").strip()
    if mid.button(
        "Read its manifest",
        key=f"{ctx.key}-own-read",
        icon=":material/list_alt:",
        disabled=not tag,
    ):
        forget_manifests(settings.registries, [tag])
        st.session_state[f"{ctx.key}-own-shown"] = tag
    right.button(
        "Pull it",
        key=f"{ctx.key}-own-pull",
        icon=":material/download:",
        on_click=_request_own,
        args=(pending_key, input_key),
        disabled=not tag or not settings.allow_pull or busy,
        help=no_pull if not settings.allow_pull else "ollama pull, with the tag as typed",
    )
    if not settings.allow_pull:
        st.caption(
            f":material/block: {no_pull} Reading a manifest still works: it is the first thing "
            "a pull does, and where a misspelt tag fails."
        )
    shown = st.session_state.get(f"{ctx.key}-own-shown")
    if shown:
        manifest = manifest_of(settings.registries, shown)
        if isinstance(manifest, OllamaError):
            show_registry_error(manifest, f"The manifest of {code_span(shown)}")
        else:
            _manifest_table(f"{ctx.key}-own", OWN_LABEL, shown, manifest)
        _record_manifests(ctx, settings, {OWN_LABEL: (shown, manifest)}, own=True)


def _manifests(ctx: WidgetContext, settings: Settings) -> None:
    """Each lab tag's manifest from the registry, and what the second pull skips."""
    tags = dict(settings.models)
    registries = settings.registries
    st.markdown("**What each tag is made of: its manifest**")
    st.caption(
        "Read from the model registry the way `ollama pull` reads it before it downloads "
        "anything, so pulls are not needed (registries this class allows: "
        + ", ".join(code_span(r.name) for r in registries)
        + ")."
    )
    open_key = f"{ctx.key}-manifests-open"  # once read, they stay in view ("Read again")
    if not st.session_state.get(open_key):
        if not st.button(
            "Read the manifests",
            key=f"{ctx.key}-read-manifests",
            icon=":material/list_alt:",
            help="One small request per tag to the registry; no model is downloaded.",
        ):
            return
        st.session_state[open_key] = True
    with st.spinner("Reading the manifests…"):
        found = {label: (tag, manifest_of(registries, tag)) for label, tag in tags.items()}
    for label, (tag, manifest) in found.items():
        if isinstance(manifest, OllamaError):
            show_registry_error(manifest, f"The manifest of {plain(label)} {code_span(tag)}")
    manifests = {label: m for label, (_, m) in found.items() if isinstance(m, Manifest)}
    labels = list(manifests)
    comparison = (
        compare_manifests(manifests[labels[0]], manifests[labels[1]]) if len(labels) >= 2 else None
    )
    for label in labels:
        skipped_by = labels[0] if comparison is not None and label == labels[1] else None
        _manifest_table(
            f"{ctx.key}-manifest-{label}",
            label,
            tags[label],
            manifests[label],
            comparison if skipped_by else None,
            skipped_by,
        )
    if comparison is not None:
        _second_pull(labels[0], labels[1], comparison)
    st.button(
        "Read again",
        key=f"{ctx.key}-manifests-again",
        icon=":material/refresh:",
        type="tertiary",
        on_click=forget_manifests,
        args=(registries, list(tags.values())),
        help="Ask the registry again (manifests are kept for this session until then).",
    )
    _record_manifests(ctx, settings, found, comparison=comparison)


def _size(n: int) -> str:
    return f"{format_bytes(n)} ({n:,} bytes)"


def _kinds(blobs: tuple[ManifestLayer, ...]) -> str:
    return ", ".join(plain(b.kind) for b in blobs) or "nothing"


def _manifest_table(
    key: str,
    label: str,
    tag: str,
    manifest: Manifest,
    comparison: ManifestComparison | None = None,
    first: str | None = None,
) -> None:
    """One tag: a summary line (layers, total, largest) and one row per blob."""
    largest = manifest.largest
    config = " and a config blob" if manifest.config is not None else ""
    st.markdown(
        f"**{plain(label)}** {code_span(tag)}: {len(manifest.layers)} layers{config}, "
        f"{_size(manifest.total_size)} in all."
        + (
            f" Largest layer: {plain(largest.kind)}, {_size(largest.size)}, "
            f"{code_span(largest.short_digest)}."
            if largest is not None
            else " It lists no layers."
        )
    )
    shared = {b.digest for b in comparison.shared} if comparison is not None else set()
    rows = []
    for blob in manifest.blobs:
        notes = []
        if largest is not None and blob is largest:
            notes.append("largest layer")
        if blob is manifest.config:
            notes.append("config blob (pulled last)")
        if blob.digest in shared:
            notes.append(f"skipped when pulled after {first}: {first} brought it")
        rows.append(
            {
                "layer": blob.kind,
                "media type": blob.media_type,
                "size": format_bytes(blob.size),
                "bytes": f"{blob.size:,}",
                "digest (first 12)": blob.short_digest,
                "note": "; ".join(notes),
            }
        )
        if len(rows) >= EVIDENCE_LAYERS:
            break
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"{key}-table")
    if len(manifest.blobs) > len(rows):
        kinds = "; ".join(
            f"{plain(s.kind)}: {s.count:,} ({format_bytes(s.size)})" for s in manifest.by_kind()
        )
        st.caption(f"The first {len(rows)} of {len(manifest.blobs):,} blobs. By kind: {kinds}.")


def _second_pull(first: str, second: str, comparison: ManifestComparison) -> None:
    skipped, fetched = comparison.shared, comparison.to_download
    st.info(
        f"Pulling {plain(second)} after {plain(first)} skips {len(skipped)} blobs that "
        f"{plain(first)} already brought ({_kinds(skipped)}: "
        f"{format_bytes(comparison.shared_bytes)}) and downloads {len(fetched)} "
        f"({_kinds(fetched)}: {format_bytes(comparison.download_bytes)}). `ollama pull` skips "
        "a blob whose digest is already on the endpoint.",
        icon=":material/difference:",
    )


def _blob_record(b: ManifestLayer) -> dict[str, Any]:
    return {"kind": b.kind, "digest": b.digest, "size": b.size}


def _manifest_record(label: str, tag: str, value: Manifest | OllamaError) -> dict[str, Any]:
    if isinstance(value, OllamaError):
        return {"label": label, "tag": tag, "error_kind": value.kind, "error": value.message}
    record = value.record()
    layers = record["layers"]
    if len(layers) > EVIDENCE_LAYERS:
        record["layers"] = layers[:EVIDENCE_LAYERS]
        record["layers_omitted"] = len(layers) - EVIDENCE_LAYERS
        record["by_kind"] = [
            {"kind": s.kind, "count": s.count, "bytes": s.size} for s in value.by_kind()
        ]
    return {"label": label, "tag": tag, **record}


def _record_manifests(
    ctx: WidgetContext,
    settings: Settings,
    found: Mapping[str, tuple[str, Manifest | OllamaError]],
    *,
    comparison: ManifestComparison | None = None,
    own: bool = False,
) -> None:
    """The manifests read, once per change, as a `pull` evidence record (source: registry)."""
    payload: dict[str, Any] = {
        "source": "registry",
        "registries": [r.name for r in settings.registries],
        "tags": [_manifest_record(label, tag, value) for label, (tag, value) in found.items()],
    }
    if comparison is not None:
        payload["second_pull"] = {
            "first": comparison.first.name.display_shortest(),
            "second": comparison.second.name.display_shortest(),
            "skipped": [_blob_record(b) for b in comparison.shared],
            "skipped_bytes": comparison.shared_bytes,
            "downloaded": [_blob_record(b) for b in comparison.to_download],
            "downloaded_bytes": comparison.download_bytes,
        }
    if own:
        tag = next(iter(found.values()))[0]
        title = f"Manifest of your tag {tag[:80]}"
    else:
        title = "Manifests from the registry"
    record_once(f"{ctx.key}-{'own' if own else 'lab'}-manifests", "pull", title, payload)
