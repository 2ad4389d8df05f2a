"""What a polite live region (quantviz.ui.live.announce) says in the browser: the text of the
role="status" node in the shadow root of the component under `.st-key-<key>`.

The region's script sets its text once the component's module has loaded, so tests poll for a
text rather than read it once.
"""

from __future__ import annotations

# The region's text, or null while it has none drawn yet.
TEXT = """(key) => {
  const hosts = [...document.querySelectorAll(`.st-key-${key} *`)].filter(e => e.shadowRoot);
  const region = hosts.map(h => h.shadowRoot.querySelector('[role="status"]')).find(Boolean);
  return region ? region.textContent : null;
}"""


def said(page, key: str) -> str | None:
    """What the live region `key` says now."""
    return page.evaluate(TEXT, key)


def wait_said(page, key: str, text: str, *, start: bool = False) -> None:
    """Wait until the live region `key` says `text` (begins with it, with `start`)."""
    page.wait_for_function(
        f"""([key, text, start]) => {{
            const now = ({TEXT})(key);
            return now !== null && (start ? now.startsWith(text) : now.includes(text));
        }}""",
        arg=[key, text, start],
    )


def wait_changed(page, key: str, old: str | None) -> None:
    """Wait until the live region `key` says something other than `old`."""
    page.wait_for_function(f"([key, old]) => ({TEXT})(key) !== old", arg=[key, old])
