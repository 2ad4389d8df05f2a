"""Lab files: Markdown with YAML frontmatter, read into sections of Markdown, callouts and markers.

The types live here; `quantviz.lab.parse` reads one file (frontmatter checked, Markdown parsed by
markdown-it-py), `quantviz.lab.load` finds the labs of a folder and caches them per file.
The items of an `### Execute` list that ask the student to record something become
`RecordField`s: a field on the page, saved to the evidence (README, "Add a lab").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

CalloutKind = Literal["info", "warning", "success", "error"]
SectionKind = Literal["overview", "objective", "other"]


@dataclass(frozen=True)
class Markdown:
    text: str


@dataclass(frozen=True)
class Callout:
    kind: CalloutKind
    text: str  # Markdown: <strong> became **bold**, <br /> a line break


@dataclass(frozen=True)
class WidgetMarker:
    name: str
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordField:
    """One item of an Execute list that the student answers in a field of their own.

    `markdown` is the list item as the lab writes it (its bullet kept, the record marker
    removed); `prompt` the same item on one line without its bullet, for labels and the
    report's summary. `measured` names what the app measured for it
    (`quantviz.report.measurements.MEASURED`), which pre-fills the field.
    """

    id: str
    markdown: str
    prompt: str
    measured: tuple[str, ...] = ()


Block = Markdown | Callout | WidgetMarker | RecordField


@dataclass(frozen=True)
class Section:
    kind: SectionKind
    title: str
    url_path: str
    blocks: tuple[Block, ...]
    number: int | None = None  # the objective's N

    @property
    def markers(self) -> list[str]:
        return [b.name for b in self.blocks if isinstance(b, WidgetMarker)]

    @property
    def records(self) -> list[RecordField]:
        """The section's record fields, in page order."""
        return [b for b in self.blocks if isinstance(b, RecordField)]


@dataclass(frozen=True)
class Lab:
    path: Path
    order: int
    title: str
    description: str
    meta: dict[str, Any]  # the frontmatter; the keys in FRONTMATTER_KEYS hold checked values
    sections: tuple[Section, ...]

    @property
    def models(self) -> Mapping[str, str] | None:
        """The lab's own `models:` map (label -> tag), checked; None when it names none."""
        return self.meta.get("models")

    @property
    def overview(self) -> Section:
        return self.sections[0]

    @property
    def records(self) -> list[tuple[Section, RecordField]]:
        """Every record field of the lab with its section, in page order."""
        return [(s, r) for s in self.sections for r in s.records]

    def section_with_marker(self, *markers: str) -> Section | None:
        """The first section that holds any of `markers` (a widget's name or its aliases)."""
        return next((s for s in self.sections if any(m in s.markers for m in markers)), None)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


@dataclass(frozen=True)
class LabError:
    """A lab file that could not be read; it gets a page of its own that says why.

    `url_path` defaults to `lab-error-<slug of the file name>`; `load_labs` adds `-2`, `-3`, ...
    when two file names slugify alike.
    """

    path: Path
    message: str
    url_path: str = ""

    def __post_init__(self) -> None:
        if not self.url_path:
            object.__setattr__(self, "url_path", "lab-error-" + slugify(self.path.stem))

    @property
    def title(self) -> str:
        return self.path.name


class LabParseError(ValueError):
    """A lab file the app cannot use; the message is for the instructor and names what is wrong."""
