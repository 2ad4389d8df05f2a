"""Lab files -> sections and blocks."""

from pathlib import Path

import pytest

from quantviz.labs import (
    Callout,
    LabError,
    LabParseError,
    Markdown,
    WidgetMarker,
    load_labs,
    parse_lab,
)

FIXTURES = Path(__file__).parent / "fixtures" / "labs"
SEED = Path(__file__).parents[1] / "labs" / "lab-02-quantization-tradeoffs.md"


def _good():
    path = FIXTURES / "good.md"
    return parse_lab(path.read_text(), path)


def test_frontmatter_and_sections():
    """Frontmatter fields are read; overview, objectives and other sections get stable paths."""
    lab = _good()
    assert (lab.order, lab.title) == (7, "Lab 7 - Fixture")
    assert lab.description == "A fixture lab in the seed's syntax."
    assert [(s.kind, s.url_path) for s in lab.sections] == [
        ("overview", "lab7"),
        ("objective", "lab7-objective1"),
        ("objective", "lab7-objective2"),
        ("other", "lab7-wrap-up-next-steps"),
    ]
    assert lab.sections[1].number == 1
    assert lab.sections[1].title == "Objective 1: First Things"


def test_comments_are_dropped_and_callouts_become_markdown():
    """HTML comments vanish; a callout keeps <strong> as bold and <br /> as a line break."""
    overview = _good().overview
    assert overview.blocks == (
        Markdown("Intro text."),
        Callout("warning", "**Careful**  \nLine two & more."),
    )
    kinds = [b.kind for b in _good().sections[2].blocks if isinstance(b, Callout)]
    assert kinds == ["error", "success"]


def test_markers_tables_and_code_fences():
    """Markers become WidgetMarkers; code fences keep markers, headings and comments literal."""
    objective = _good().sections[1]
    assert objective.markers == ["quantization-explorer", "no-such-widget"]
    code = objective.blocks[0]
    assert isinstance(code, Markdown)
    assert "| 1 | 2 |" in code.text
    assert "<div data-not-a-marker></div>" in code.text
    assert "## not a heading" in code.text
    assert "<!-- kept inside code -->" in code.text
    assert isinstance(objective.blocks[1], WidgetMarker)


def test_broken_frontmatter_is_an_error_not_a_crash():
    """Unparseable YAML is reported as a LabParseError that names the problem."""
    path = FIXTURES / "broken-frontmatter.md"
    with pytest.raises(LabParseError, match="frontmatter"):
        parse_lab(path.read_text(), path)


def test_lab_without_objectives_is_an_error():
    """A lab needs at least one `## Objective N:` section."""
    path = FIXTURES / "no-objectives.md"
    with pytest.raises(LabParseError, match="no `## Objective N"):
        parse_lab(path.read_text(), path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no frontmatter\n\n## Objective 1: x\n", "no YAML frontmatter"),
        ("---\ntitle: t\n---\n## Objective 1: x\n", "no `order`"),
        ("---\norder: two\n---\n## Objective 1: x\n", "whole number"),
        ("---\norder: 1\n---\n## Objective 1: x\n## Objective 1: y\n", "twice"),
    ],
)
def test_frontmatter_mistakes(text, message):
    """Each frontmatter mistake gets its own readable message."""
    with pytest.raises(LabParseError, match=message):
        parse_lab(text, Path("x.md"))


def test_load_labs_orders_good_labs_and_keeps_errors(tmp_path):
    """Good labs come by `order`; broken files and duplicate orders become LabErrors."""
    for name in ("good.md", "broken-frontmatter.md", "no-objectives.md"):
        (tmp_path / name).write_text((FIXTURES / name).read_text())
    (tmp_path / "a-first.md").write_text("---\norder: 1\n---\n## Objective 1: x\n")
    (tmp_path / "z-same-order.md").write_text("---\norder: 1\n---\n## Objective 1: y\n")
    (tmp_path / "README.md").write_text("not a lab")
    labs = load_labs(tmp_path)
    good = [lab for lab in labs if not isinstance(lab, LabError)]
    errors = {lab.path.name: lab.message for lab in labs if isinstance(lab, LabError)}
    assert [lab.order for lab in good] == [1, 7]
    assert set(errors) == {"broken-frontmatter.md", "no-objectives.md", "z-same-order.md"}
    assert "already used by a-first.md" in errors["z-same-order.md"]


def test_the_project_lab_has_every_objective_and_marker():
    """labs/lab-02 keeps the seed's frontmatter and carries objectives 1-6 and their markers."""
    lab = parse_lab(SEED.read_text(), SEED)
    assert lab.order == 2
    assert lab.title == "Lab 2 - Quantization Tradeoffs: Comparing 4-bit and 6-bit"
    assert lab.meta["models"] == {"Q4": "batiai/gemma4-e2b:q4", "Q6": "batiai/gemma4-e2b:q6"}
    assert [s.number for s in lab.sections if s.kind == "objective"] == [1, 2, 3, 4, 5, 6]
    assert lab.sections[-1].url_path == "lab2-conclusion"
    markers = {m for s in lab.sections for m in s.markers}
    assert {
        "quantization-explorer",
        "quantization-grid-explorer",
        "gguf-formats",
        "model-pull",
        "storage-savings",
        "metadata-compare",
        "objective5-chat",
        "quality-probe",
    } <= markers


def test_lab2_objective1_list_follows_its_own_formula() -> None:
    """The reconstructed values Objective 1 lists are q × max(|w|) / (2^(bits-1) - 1) for the
    buckets 0, 1, 5, 22 at 2, 4, 6, 8 bits, to six places: 0.000000, 0.130029, 0.146807 and
    0.157673 (the seed's 0.157782 survives only in the note on the seed's arithmetic)."""
    text = (
        Path(__file__).resolve().parents[1] / "labs/lab-02-quantization-tradeoffs.md"
    ).read_text()
    values = [q * 0.910203 / (2 ** (b - 1) - 1) for q, b in ((0, 2), (1, 4), (5, 6), (22, 8))]
    listed = [f"- `{v:.6f}`" for v in values]
    assert listed == ["- `0.000000`", "- `0.130029`", "- `0.146807`", "- `0.157673`"]
    for line in listed:
        assert line in text
    seed_lines = [line for line in text.splitlines() if "0.157782" in line]
    assert seed_lines and all(line.startswith("Note on an earlier version") for line in seed_lines)
    assert "`q = -1, 0, +1`" in text  # why 2 bits give 3 levels
