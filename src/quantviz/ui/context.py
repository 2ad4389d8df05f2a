"""What a widget knows about where it stands."""

from __future__ import annotations

from dataclasses import dataclass, field

from quantviz.lab import Lab, Section


@dataclass(frozen=True)
class WidgetContext:
    lab: Lab
    section: Section
    marker: str
    occurrence: int = 0  # 0 for the first widget of this name on the page, 1 for the next...
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Prefix for the widget's Streamlit keys: stable when lab text around it changes."""
        return f"{self.section.url_path}-{self.marker}-{self.occurrence}"
