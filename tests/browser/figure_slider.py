"""Drive a plotly figure's own `layout.sliders` in Chromium as a person does: a click on the
rail under a step's label (plotly.js moves to the nearest step on mousedown), and count the
websocket frames the page exchanges meanwhile."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Frames:
    """Every websocket frame the page sends or receives, in order (Playwright's events)."""

    sent: list[int] = field(default_factory=list)
    received: list[int] = field(default_factory=list)

    def attach(self, page) -> Frames:
        def on_socket(ws) -> None:
            ws.on("framesent", lambda payload: self.sent.append(len(payload)))
            ws.on("framereceived", lambda payload: self.received.append(len(payload)))

        page.on("websocket", on_socket)
        return self

    @property
    def count(self) -> tuple[int, int]:
        return len(self.sent), len(self.received)


def click_step(page, plot_selector: str, label: str) -> None:
    """Click the slider rail of the figure at `plot_selector` where step `label` sits."""
    plot = page.locator(plot_selector)
    step = plot.locator(".slider-label-group").filter(has_text=label).first
    rail = plot.locator(".slider-rail-touch-rect").first
    rail.scroll_into_view_if_needed()
    step_box, rail_box = step.bounding_box(), rail.bounding_box()
    assert step_box and rail_box, "the figure has no bits slider"
    x = step_box["x"] + step_box["width"] / 2
    y = rail_box["y"] + rail_box["height"] / 2
    page.mouse.click(x, y)


# The bold value under the figure's readout annotation whose label line is `label`, or null.
_READOUT = """([sel, label]) => {
    for (const a of document.querySelectorAll(sel + ' .annotation-text')) {
        const lines = a.querySelectorAll('tspan.line');
        if (lines.length >= 2 && lines[0].textContent === label) return lines[1].textContent;
    }
    return null;
}"""


def readout(page, plot_selector: str, name_label: str) -> str:
    """The bold value under the readout whose label line is `name_label`."""
    return page.evaluate(_READOUT, [plot_selector, name_label])


def wait_readout(page, plot_selector: str, name_label: str, value: str) -> None:
    """Wait until the readout whose label line is `name_label` shows `value`."""
    page.wait_for_function(
        f"([sel, label, value]) => ({_READOUT})([sel, label]) === value",
        arg=[plot_selector, name_label, value],
    )
