"""Keyboard-only browsing: Tab (or Shift+Tab) to an element, and check that focus shows.

Only `page.keyboard` acts on the page. Each time focus moves, the element that had it is
compared with itself focused and unfocused: its own and its four nearest ancestors' computed
outline, box-shadow, border colour, background colour, text decoration and colour. Streamlit
1.67 shows focus by a box-shadow ring (buttons, links, summaries), a border colour (text
fields) or a background (sidebar links); an element with none of these differences had an
invisible focus (SC 2.4.7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Focusable containers that are not controls: Chromium makes scrollable regions keyboard
# focusable, and Streamlit's main area is one; Streamlit draws no focus ring on it
# (docs/accessibility.md, "Keyboard"). A data frame's canvas is checked by its pixels instead.
CANVAS = '[data-testid="data-grid-canvas"]'
NOT_CONTROLS = ('[data-testid="stMain"]', CANVAS)
_GRID = "() => document.activeElement?.closest('[data-testid=\"stDataFrame\"]') ?? null"

_SETTLED = """() => document.getAnimations().every(
  a => !(a instanceof CSSTransition) || a.playState !== 'running')"""
_STEP = """([selector, excluded, text]) => {
  const styles = (e) => {
    const out = [];
    for (let n = e, i = 0; i < 5 && n && n !== document.body; i++, n = n.parentElement) {
      const s = getComputedStyle(n);
      out.push([s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.borderColor,
                s.backgroundColor, s.textDecorationLine, s.color].join('|'));
    }
    return out.join(' / ');
  };
  // An element is judged once focus has left its widget (its stElementContainer): a number
  // field's border stays lit while focus is on its own step buttons.
  const e = document.activeElement;
  const verdicts = [];
  const pending = (window.__kbPending || []).filter(p => {
    if (!p.el.isConnected) return false;
    if (p.el === e || (p.group && p.group.contains(e))) return true;
    verdicts.push([p.label, styles(p.el) !== p.styles]);
    return false;
  });
  if (e && e !== document.body && !pending.some(p => p.el === e)
      && !excluded.some(sel => e.matches(sel))) {
    pending.push({
      el: e,
      group: e.closest('[data-testid="stElementContainer"]'),
      styles: styles(e),
      label: (e.dataset.testid || e.tagName.toLowerCase()) + ' "' +
        (e.getAttribute('aria-label') || e.innerText || e.value || '').trim().slice(0, 40) + '"',
    });
  }
  window.__kbPending = pending;
  const inside = !!(e && (e.matches(selector) || e.closest(selector)));
  return [verdicts, inside && (!text || (e.innerText || '').includes(text))];
}"""


@dataclass
class KeyboardWalk:
    """Moves focus with Tab / Shift+Tab only, remembering every focus that did not show."""

    page: Any
    invisible: list[str] = field(default_factory=list)
    stops: int = 0
    _grid: Any = None  # the data frame that had focus, and how it looked then
    _grid_shot: bytes = b""

    def _step(self, selector: str, text: str | None = None) -> bool:
        # Computed styles lag behind CSS transitions (a text field's border fades in): read them
        # once the transitions that focus started have ended.
        self.page.wait_for_function(_SETTLED)
        if self._grid is not None and not self._grid.evaluate(
            "g => g.contains(document.activeElement)"
        ):
            # glide-data-grid draws its focused cell inside the canvas: compare the pixels
            self.stops += 1
            if self._grid.screenshot(animations="disabled") == self._grid_shot:
                self.invisible.append("stDataFrame (canvas)")
            self._grid = None
        verdicts, hit = self.page.evaluate(_STEP, [selector, list(NOT_CONTROLS), text])
        for label, shown in verdicts:
            self.stops += 1
            if not shown:
                self.invisible.append(label)
        if self._grid is None and self.page.evaluate(
            f"() => !!document.activeElement?.matches('{CANVAS}')"
        ):
            grid = self.page.evaluate_handle(_GRID).as_element()
            if grid is not None:
                self._grid, self._grid_shot = grid, grid.screenshot(animations="disabled")
        return bool(hit)

    def tab_to(
        self, selector: str, *, text: str | None = None, back: bool = False, limit: int = 120
    ) -> None:
        """Press Tab (Shift+Tab with `back`) until the focused element is or is inside
        `selector` (and shows `text`, if given); fails after `limit` presses."""
        if self._step(selector, text):
            return
        for _ in range(limit):
            self.page.keyboard.press("Shift+Tab" if back else "Tab")
            if self._step(selector, text):
                return
        raise AssertionError(f"{limit} presses of {'Shift+' if back else ''}Tab never reached "
                             f"{selector}")  # fmt: skip

    def focus_start(self) -> None:
        """Start from the top of the document, as a freshly loaded page does."""
        self.page.evaluate("() => { document.activeElement?.blur?.(); window.__kbPending = []; }")
