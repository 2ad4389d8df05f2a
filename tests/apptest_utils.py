"""Open one page of the real app.py in Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def open_page(
    url_path: str = "", *, secrets: dict[str, Any] | None = None, timeout: float = 30
) -> AppTest:
    """Run app.py, then the page registered at `url_path` ("" is Home; see `go_to`)."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if secrets:
        for key, value in secrets.items():
            at.secrets[key] = value
    at.run()
    return go_to(at, url_path) if url_path else at


def go_to(at: AppTest, url_path: str) -> AppTest:
    """Open the page registered at `url_path` in this session (a sidebar click), and run it.

    AppTest.switch_page only knows file pages; st.Page hashes its url_path into the page's
    script hash, so lab pages (callables) are selected by that hash.
    """
    at._page_hash = calc_hash(url_path)
    return at.run()


def texts(at: AppTest) -> str:
    """Every markdown, caption, metric and callout text of the page, for `in` checks."""
    parts: list[str] = []
    for kind in (
        "markdown",
        "caption",
        "title",
        "header",
        "subheader",
        "info",
        "warning",
        "success",
        "error",
        "latex",
    ):
        parts.extend(str(getattr(e, "value", "")) for e in at.get(kind))
    parts.extend(f"{m.label}: {m.value}" for m in at.metric)
    return "\n".join(parts)


def _protos(node):
    proto = getattr(node, "proto", None)
    if proto is not None:
        yield proto
    for child in getattr(node, "children", {}).values():
        yield from _protos(child)


def page_bytes(at: AppTest) -> bytes:
    """Every element the page sent to the browser, serialised (for "never shown" checks)."""
    return b"".join(p.SerializeToString() for p in _protos(at._tree))


def live_text(at: AppTest, key: str) -> str:
    """What the polite live region `key` (quantviz.ui.live.announce) says now."""
    import json

    for proto in _protos(at._tree):
        if getattr(proto, "component_name", "") == "quantviz.live_region" and proto.id.endswith(
            key
        ):
            return str(json.loads(proto.json)["text"])
    raise AssertionError(f"no live region {key}")
