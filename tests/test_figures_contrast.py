"""Plot text reaches 4.5:1 and plot marks 3:1 against the plot's background (issue 18).

Every figure builder (tests/figure_samples.py lists them all, and fails when one is missing) is
built and its spec walked by tests/plot_contrast.py: text on axes, colour bars, annotations,
legends and sliders; lines, markers, bars and shapes; the in-figure slider's grip. Where the
figure sets no colour, the one Streamlit's chart theme or plotly.js would use (measured in
Chromium) is checked instead. `python tests/plot_contrast.py` prints the table in
docs/accessibility.md.
"""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
from figure_samples import SAMPLES, builders
from plot_contrast import contrast, problems

from quantviz.figures._base import figure


def test_every_figure_builder_is_checked():
    """Every public function of quantviz.figures that returns a figure has a sample here."""
    assert builders() == set(SAMPLES)


def test_the_check_knows_wcag_contrast_and_the_themes_defaults():
    """The contrast formula gives WCAG's known pairs (21:1, #767676 4.54:1, Streamlit's tick
    grey #808495 3.72:1 as measured) and alpha over white; a bare figure with the theme's
    colours fails on its tick labels and its uncoloured trace, the factory's figure passes."""
    assert contrast("#000000") == pytest.approx(21.0)
    assert contrast("#767676") == pytest.approx(4.54, abs=0.01)
    assert contrast("#808495") == pytest.approx(3.72, abs=0.01)
    assert contrast("rgba(0, 0, 0, 0.5)") == pytest.approx(contrast("#808080"), abs=0.05)
    bare = go.Figure({"data": [{"type": "bar", "x": [1], "y": [1]}],
                      "layout": {"xaxis": {"title": {"text": "x"}}}})  # fmt: skip
    found = problems(bare.to_dict())
    assert any("xaxis tick labels: #808495" in p for p in found)
    assert any("bar fill: no colour set" in p for p in found)
    made = figure([{"type": "bar", "x": [1], "y": [1], "marker": {"color": "#0072B2"}}],
                  {"xaxis": {"title": {"text": "x"}}})  # fmt: skip
    assert problems(made.to_dict()) == []


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_plot_text_and_marks_reach_wcag_contrast(name):
    """Each figure's text reaches 4.5:1 and each mark that carries meaning 3:1."""
    found = [p for fig in SAMPLES[name]() for p in problems(fig.to_dict())]
    assert found == []
