"""What a widget knows about where it stands."""

from __future__ import annotations

from dataclasses import dataclass, field

from quantviz.labs import Lab, Section


@dataclass(frozen=True)
class WidgetContext:
    lab: Lab
    section: Section
    marker: str
    index: int = 0  # the marker's position among the page's markers
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Prefix for the widget's Streamlit keys: unique per page and marker."""
        return f"{self.section.url_path}-{self.marker}-{self.index}"
