"""The one figure factory, its defaults, and label text from outside made inert for plotly."""

from __future__ import annotations

import plotly.graph_objects as go

from quantviz.figures._base import MARGIN, colorscale, figure, plotly_text


def test_factory_sets_the_shared_defaults_and_layout_wins():
    """An empty template and the shared margins unless told otherwise; a title, height and
    uirevision when given; what the layout says overrides every default; plotly accepts it."""
    fig = figure(
        [{"type": "bar", "x": [1], "y": [2]}],
        {"barmode": "stack"},
        title="T",
        height=200,
        uirevision="k",
        margin={"t": 50},
    )
    layout = fig.to_dict()["layout"]
    assert layout["template"] == {} and layout["title"] == {"text": "T"}
    assert layout["margin"] == {**MARGIN, "t": 50} and layout["height"] == 200
    assert layout["uirevision"] == "k" and layout["barmode"] == "stack"
    assert figure([], {"margin": {"l": 0}}).to_dict()["layout"]["margin"] == {"l": 0}
    go.Figure(fig.to_dict())  # plotly's validation accepts the spec


def test_colorscale_samples_a_named_scale_at_evenly_spaced_stops():
    """Five stops by default, from 0 to 1, each a colour plotly.js can read."""
    stops = colorscale("RdBu_r")
    assert [s for s, _ in stops] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert all(c.startswith("rgb") for _, c in stops)
    assert len(colorscale("cividis", 9)) == 9


def test_plotly_text_escapes_the_markup_plotly_reads():
    """Tags and entities show as typed; quotes stay, since plotly.js would print &quot; as is."""
    assert plotly_text('<a href="x">Zelda</a> & co') == '&lt;a href="x"&gt;Zelda&lt;/a&gt; &amp; co'
    assert plotly_text(3) == "3"
