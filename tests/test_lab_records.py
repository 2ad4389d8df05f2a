"""Record fields in lab files: `- Record …` items of an Execute list, with optional markers."""

from pathlib import Path

import pytest

from quantviz.lab import Markdown, RecordField
from quantviz.lab.parse import parse_lab

SEED = Path(__file__).parents[1] / "labs" / "lab-02-quantization-tradeoffs.md"

HEAD = """---
title: Lab 9 - Records
order: 9
---

Intro.

## Objective 1: Measure

### Explore: Look

- Record nothing here: this list is not under an Execute heading.

### Execute: Write it down

"""


def _lab(body: str):
    return parse_lab(HEAD + body, Path("lab-09.md"))


def test_record_items_become_fields_and_other_items_stay_markdown():
    """Under an Execute heading, a `- Record …` item becomes a field with an id made from its
    words; an item with a marker takes the marker's id and measured keys; the other items stay
    Markdown in place; a list under an Explore heading is left alone."""
    lab = _lab(
        "- Pull both tags first.\n"
        "- Record the size of each tag.\n"
        "- Compare the ratio with the rule of thumb.\n"
        '  <div data-record="obj1-gap" data-measured="storage.ratio storage.recipe_ratio"></div>\n'
        "- Then move on.\n"
    )
    blocks = lab.sections[1].blocks
    assert [type(b).__name__ for b in blocks] == [
        "Markdown",
        "RecordField",
        "RecordField",
        "Markdown",
    ]
    assert "- Record nothing here" in blocks[0].text
    assert blocks[0].text.endswith("### Execute: Write it down\n\n- Pull both tags first.")
    assert blocks[1] == RecordField(
        "obj1-the-size-of-each-tag",
        "- Record the size of each tag.",
        "Record the size of each tag.",
    )
    assert blocks[2] == RecordField(
        "obj1-gap",
        "- Compare the ratio with the rule of thumb.",
        "Compare the ratio with the rule of thumb.",
        ("storage.ratio", "storage.recipe_ratio"),
    )
    assert blocks[3] == Markdown("- Then move on.")
    assert [r.id for _, r in lab.records] == ["obj1-the-size-of-each-tag", "obj1-gap"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('- Record it.\n  <div data-record="Bad Id"></div>\n', "lower-case"),
        (
            '- Record a.\n  <div data-record="x"></div>\n'
            '- Record b.\n  <div data-record="x"></div>\n',
            "appears twice",
        ),
        ('- Record it.\n  <div data-record="x" data-measured="no.such"></div>\n', "no.such"),
        ('Text.\n\n<div data-record="x"></div>\n', "outside an Execute list item"),
    ],
)
def test_bad_record_markers_are_errors_that_say_what_is_wrong(body, message):
    """A bad id, a repeated id, an unknown measured key or a marker outside a list item is a
    LabParseError naming the problem, not a silently missing field."""
    with pytest.raises(Exception, match=message) as info:
        _lab(body)
    assert type(info.value).__name__ == "LabParseError"


def test_a_record_marker_in_an_explore_list_is_an_error():
    """A marker only means something in an Execute list: elsewhere it is refused."""
    text = HEAD.replace(
        "- Record nothing here: this list is not under an Execute heading.",
        '- Record nothing here.\n  <div data-record="x"></div>',
    )
    with pytest.raises(Exception, match="outside an `### Execute` section"):
        parse_lab(text + "- Record it.\n", Path("lab-09.md"))


def test_the_seed_lab_declares_its_record_fields():
    """Every Execute item of the seed lab that asks for a record is a field, with the measured
    values named where the app measures them."""
    lab = parse_lab(SEED.read_text(), SEED)
    by_id = {r.id: (s.number, r.measured) for s, r in lab.records}
    assert len(by_id) == 23
    assert by_id["obj1-fewest-bits"] == (1, ("explorer.weight_prediction",))
    assert by_id["obj1-outlier-zeros"] == (1, ("explorer.grid_prediction",))
    assert by_id["obj3-savings"] == (
        3,
        ("storage.sizes", "storage.bytes_saved", "storage.percent_saved", "storage.ratio"),
    )
    assert by_id["obj4-type-mix"] == (4, ("metadata.type_mix",))
    assert by_id["obj5-speed"] == (5, ("chat.speed",))
    assert by_id["obj5-passes"] == (5, ("probe.passes",))
    assert by_id["obj6-budget-fit"] == (6, ("decision.budget", "decision.fit"))
    assert by_id["obj2-layers"] == (2, ())
    # the text a Markdown viewer shows is the item itself: the marker is an empty div
    assert "data-record" not in "".join(r.markdown for _, r in lab.records)
