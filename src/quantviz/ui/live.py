"""A polite live region: what an explorer's readout now says, read out once per change.

Streamlit 1.67 draws no element as a live region, and `st.html` is no substitute: it sends a
new `<div>` on every rerun (checked in Chromium: the node is replaced), and a live region must
exist before its text changes for screen readers to announce the change. A components-v2
element is kept across reruns, fragment reruns included (checked: the same node, its text
updated), so the region is created once, empty, and each rerun sets its text.

Only app-computed text goes in (numbers and the app's own words): the text is set with
`textContent`, so even markup would show as characters, but model or server text never comes
here (docs/security.md). The region is visually hidden: the same numbers are on the page.
The component's script reaches the browser as a same-origin blob URL: nothing is fetched.
"""

from __future__ import annotations

import streamlit as st

_HTML = '<div role="status" aria-live="polite" aria-atomic="true" class="live"></div>'
# Visually hidden, still read (the usual "sr-only" rules); inside the component's shadow root.
_CSS = (
    ".live{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;"
    "clip:rect(0,0,0,0);white-space:nowrap;border:0}"
)
# Called on every render with the new data; the region node stays, only its text changes, and
# only when it differs (an unchanged readout is not read again).
_JS = """export default function ({ data, parentElement }) {
  const region = parentElement.querySelector('[role="status"]');
  const text = String((data && data.text) || "");
  if (region && region.textContent !== text) region.textContent = text;
}"""

_region = st.components.v2.component("quantviz.live_region", html=_HTML, css=_CSS, js=_JS)


def announce(text: str, *, key: str) -> None:
    """Set the live region `key` to `text`; assistive technology reads it when it changes.

    Put it after the readout it repeats, in the same fragment, so it changes when that does.
    """
    _region(data={"text": text}, key=key, height=0)
