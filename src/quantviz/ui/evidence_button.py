"""A "Save these settings to my evidence" button that any widget can drop in.

    from quantviz.ui.evidence_button import save_button

    save_button(f"{key}-save", "Grid explorer: 4 bits, per group of 2", {"bits": 4, ...})

The payload is what the student sees now (the explorer's settings and figures); it is copied into
this session's evidence log on click, so later slider moves do not change it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from quantviz.ui import session

SAVE_LABEL = "Save these settings to my evidence"


def save_button(
    key: str,
    title: str,
    payload: Mapping[str, Any],
    *,
    kind: str = "explorer",
    label: str = SAVE_LABEL,
    help: str | None = None,
) -> bool:
    """A button that records `payload` as evidence of `kind`; True on the run it saved."""
    clicked = st.button(
        label,
        key=key,
        icon=":material/bookmark_add:",
        help=help or "Adds what this widget shows now to the Evidence page and its report.",
    )
    if clicked and session.record(kind, title, dict(payload)) is not None:
        st.success(f"Saved to your evidence: {title}", icon=":material/check:")
        return True
    return False
