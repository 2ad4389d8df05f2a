"""Marker name -> widget. Widgets are imported on first use, so a page loads only its own."""

from __future__ import annotations

import functools
import importlib
import logging
import os
from collections.abc import Callable
from typing import ParamSpec

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from quantviz.text import plain
from quantviz.ui.context import WidgetContext
from quantviz.ui.records import shown_measurements_changed

log = logging.getLogger(__name__)
P = ParamSpec("P")

# "raise": a widget's exception fails the page instead of becoming a notice. The test suite sets
# it (tests/conftest.py), so a page test that asserts no exception also sees a widget's.
RAISE_ENV = "QUANTVIZ_WIDGET_ERRORS"

# `<div data-NAME></div>` -> module with a `render(ctx: WidgetContext) -> None`.
WIDGETS: dict[str, str] = {
    "quantization-explorer": "quantviz.ui.widgets.weight_explorer",
    "quantization-grid-explorer": "quantviz.ui.widgets.grid_explorer",
    "gguf-formats": "quantviz.ui.widgets.gguf_formats",
    "model-pull": "quantviz.ui.widgets.model_pull",
    "storage-savings": "quantviz.ui.widgets.storage_savings",
    "metadata-compare": "quantviz.ui.widgets.metadata_compare",
    "real-weights": "quantviz.ui.widgets.real_weights",
    "quality-probe": "quantviz.ui.widgets.quality_probe",
    "tradeoff-decision": "quantviz.ui.widgets.tradeoff",
    "compare-chat": "quantviz.ui.widgets.chat",  # also `data-objective5-chat` (lab.parse aliases)
    "lab-recap": "quantviz.ui.widgets.recap",
}


def widget_for(name: str) -> Callable[[WidgetContext], None] | None:
    module = WIDGETS.get(name)
    return importlib.import_module(module).render if module else None


def render_widget(ctx: WidgetContext) -> None:
    """Render the widget registered for the marker, or a visible notice naming it.

    A widget that raises does not take the page down: the reader sees which widget failed and
    why, the rest of the page still renders, and the traceback goes to the server log. The
    exception's text often quotes a server's answer, so it is shown through `plain`. Under the
    tests (`RAISE_ENV` set to "raise") the exception propagates, so it fails the page's test.
    """
    render = widget_for(ctx.marker)
    if render is None:
        st.warning(
            f"Widget `data-{ctx.marker}` is not available in this version of quantviz.",
            icon=":material/extension_off:",
        )
        return
    try:
        render(ctx)
    except (st.errors.StreamlitAPIException, st.errors.FragmentHandledException):
        raise
    except Exception as exc:  # a widget bug must not hide the lab text around it
        _failed(ctx.marker, exc)


def fragment(func: Callable[P, None]) -> Callable[P, None]:
    """`st.fragment` for a widget's panel, with `render_widget`'s guard on every rerun.

    A fragment reruns on its own, outside the `render_widget` call that drew it first: without
    this, an exception there reaches Streamlit, which shows its traceback to the student. The
    notice names the widget of the module the panel lives in. After a fragment-only rerun that
    changed what a record field of the page would show (`records.shown_measurements_changed`),
    the whole page reruns once, so the field shows the new measurement.
    """
    marker = next((m for m, mod in WIDGETS.items() if mod == func.__module__), func.__module__)

    @functools.wraps(func)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            func(*args, **kwargs)
        except (st.errors.StreamlitAPIException, st.errors.FragmentHandledException):
            raise
        except Exception as exc:
            _failed(marker, exc)
            return
        if _fragment_only_run() and shown_measurements_changed():
            # A record field of this page would show another measured value: one full run
            # redraws it (rare: a measurement changes on a reveal, a reply, a probe run).
            st.rerun(scope="app")

    return st.fragment(guarded)


def _fragment_only_run() -> bool:
    """True while Streamlit reruns fragments alone (not the whole page)."""
    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def _failed(marker: str, exc: Exception) -> None:
    """The notice for a widget that raised (or, under the tests, the exception itself)."""
    if os.environ.get(RAISE_ENV) == "raise":
        raise exc
    log.exception("widget %s failed", marker)
    st.error(
        f"The `{marker}` widget failed: {plain(f'{type(exc).__name__}: {exc}')}",
        icon=":material/error:",
    )
