"""A chart's text alternative: one sentence with the key numbers, and the numbers as a table.

Every figure builder has a function beside it that returns a `ChartText` from the same data (so
the numbers a screen reader hears are the ones drawn); `quantviz.ui.chart.show_chart` shows the
sentence under the chart and the table in a "Data table" expander (issue 18, WCAG 1.1.1). Pure:
no streamlit, no plotly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import SupportsFloat

Cell = str | int | float | None


@dataclass(frozen=True)
class ChartText:
    """What a chart shows, in words and numbers.

    `summary` is one sentence naming what is plotted and its key numbers; `columns` and `rows`
    are the data behind the chart, one tuple per row (None where a value is missing); `name`
    labels the table ("Data table: <name>") so several tables on one page tell themselves apart.
    """

    summary: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    name: str = ""

    def __post_init__(self) -> None:
        width = len(self.columns)
        for row in self.rows:
            if len(row) != width:
                raise ValueError(f"a row of {len(row)} cells under {width} columns: {row!r}")

    @classmethod
    def of(
        cls,
        summary: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Cell | SupportsFloat]],
        name: str = "",
    ) -> ChartText:
        """A ChartText from any sequences; non-finite floats become None (shown as empty)."""
        clean = tuple(tuple(_cell(c) for c in row) for row in rows)
        return cls(summary, tuple(columns), clean, name)

    def table(self) -> dict[str, list[Cell]]:
        """The rows as columns (column name -> values), what a data-frame view takes."""
        return {c: [row[i] for row in self.rows] for i, c in enumerate(self.columns)}


def _cell(value: Cell | SupportsFloat) -> Cell:
    if value is None or isinstance(value, str | int):
        return value
    v = float(value)  # numpy scalars too
    return v if math.isfinite(v) else None


def num(value: float | None, digits: int = 3) -> str:
    """A number for a sentence: `digits` significant digits, "no value" when missing."""
    if value is None or not math.isfinite(value):
        return "no value"
    return f"{value:.{digits}g}"


def listing(items: Sequence[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"
