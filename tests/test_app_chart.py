"""The one chart helper: every chart comes with its summary sentence and its data table."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _app() -> None:
    import plotly.graph_objects as go
    import streamlit as st

    from quantviz.figures.alt import ChartText
    from quantviz.ui.chart import show_chart

    fig = go.Figure({"data": [{"type": "bar", "x": ["a", "b"], "y": [1, 2]}],
                     "layout": {"title": {"text": "Sizes &lt;b&gt;"}}})  # fmt: skip
    hostile = "tensor **blk.0** [link](https://evil.example) <img src=x>"
    show_chart(
        fig,
        key="demo",
        alt=ChartText.of(f"Two bars: a 1, b 2, for {hostile}.", ("x", "y"), [("a", 1), ("b", 2)]),
    )
    left, _ = st.columns(2)
    named = ChartText.of("One.", ("v",), [(1.5,)], "one value")
    show_chart(fig, key="named", alt=named, where=left)
    many = ChartText.of("Many.", ("i", "i²"), [(i, i * i) for i in range(50)], "many rows")
    show_chart(fig, key="many", alt=many, open_table=True)


def test_a_chart_shows_its_summary_and_its_numbers_as_a_table():
    """show_chart draws the figure, then the summary as a caption shown literally (outside
    text cannot become a link or markup), then a collapsed "Data table: <name>" expander whose
    table holds the rows (Markdown, a real <table>, up to 40 rows; a data frame beyond, here
    in the open); the name is the ChartText's, else the figure's title as shown."""
    at = AppTest.from_function(_app).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3
    caption = at.caption[0].value
    assert "https://evil.example" in caption and "**blk" not in caption  # escaped, not bold
    assert "](" not in caption.replace("\\]\\(", "")  # no Markdown link survives
    assert [e.label for e in at.expander] == ["Data table: Sizes \\<b\\>", "Data table: one value"]
    assert [e.proto.expanded for e in at.expander] == [False, False]
    # collapsed, the tables are not drawn yet (a page pays for one only once it is opened)
    assert not [m.value for m in at.markdown if m.value.startswith("| ")]
    at.session_state["demo-data"] = True
    at.session_state["named-data"] = True
    at.run()
    tables = [m.value for m in at.markdown if m.value.startswith("| ")]
    assert tables == ["| x | y |\n| --- | --- |\n| a | 1 |\n| b | 2 |", "| v |\n| --- |\n| 1.5 |"]
    (frame,) = (df.value for df in at.dataframe)
    assert list(frame["i²"])[-1] == 49 * 49


def test_chart_text_rows_must_fit_the_columns():
    """A row with a cell too many or too few is refused with a message naming the row; NaN and
    infinity become missing values, not numbers a reader would take as data."""
    import math

    import pytest

    from quantviz.figures.alt import ChartText

    with pytest.raises(ValueError, match=r"a row of 1 cells under 2 columns"):
        ChartText.of("s.", ("a", "b"), [(1,)])
    alt = ChartText.of("s.", ("a", "b"), [(math.nan, math.inf)])
    assert alt.rows == ((None, None),)


def _slider_app() -> None:
    import plotly.graph_objects as go

    from quantviz.figures.alt import ChartText
    from quantviz.figures.explorers import weight_explorer_figure
    from quantviz.quant.absmax import weight_states
    from quantviz.ui.chart import show_chart

    states = weight_states(0.156347, 0.910203)
    alt = ChartText.of("The weight.", ("bits",), [(s.bits,) for s in states])
    show_chart(weight_explorer_figure(0.156347, 0.910203, states), key="bits-fig", alt=alt)
    plain = go.Figure({"data": [{"type": "bar", "x": ["a"], "y": [1]}]})
    show_chart(plain, key="plain-fig", alt=ChartText.of("One bar.", ("x",), [("a",)]))


def test_a_figure_with_its_own_slider_gets_the_keyboard_element():
    """A figure that carries its own plotly slider (the explorers' bits) is followed by the
    `quantviz.slider_keys` element, told which chart and the slider's name ("bits"), so the
    browser makes that slider keyboard-operable; a figure without a slider gets none."""
    import json

    from apptest_utils import _protos

    at = AppTest.from_function(_slider_app).run()
    assert not at.exception
    keys = [
        json.loads(p.json)
        for p in _protos(at._tree)
        if getattr(p, "component_name", "") == "quantviz.slider_keys"
    ]
    assert keys == [{"chart": "bits-fig", "name": "bits"}]
