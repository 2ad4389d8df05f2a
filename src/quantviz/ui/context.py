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
        return widget_key(self.section.url_path, self.marker, self.occurrence)


def widget_key(url_path: str, marker: str, occurrence: int = 0) -> str:
    """The key prefix of the `occurrence`-th widget `marker` on the page at `url_path`, e.g.
    `lab2-objective1-gguf-formats-0`; a widget's own keys add a suffix (`-seed`, `-input`)."""
    return f"{url_path}-{marker}-{occurrence}"
