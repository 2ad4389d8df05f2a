"""Lab files -> sections and blocks."""

import re
from pathlib import Path

import pytest

from quantviz.lab import Callout, LabError, LabParseError, Markdown, WidgetMarker
from quantviz.lab.load import load_lab, load_labs
from quantviz.lab.parse import parse_lab

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
        "compare-chat",
        "quality-probe",
    } <= markers


def _lab(frontmatter: str) -> str:
    return f"---\n{frontmatter}\n---\n\n## Objective 1: x\n"


@pytest.mark.parametrize(
    ("frontmatter", "message"),
    [
        ("order: .inf", "`order` must be a whole number from 0 to 99999, got inf"),
        ("order: .nan", "`order` must be a whole number from 0 to 99999, got nan"),
        ("order: true", "`order` must be a whole number from 0 to 99999, got True"),
        ("order: 2.5", "`order` must be a whole number from 0 to 99999, got 2.5"),
        ("order: 2024-01-01", "`order` must be a whole number from 0 to 99999"),
        ("order: [1]", "`order` must be a whole number from 0 to 99999, got a list"),
        ("order: -1", "`order` must be a whole number from 0 to 99999, got -1"),
        ("order: 123456789012345678901234567890", "`order` must be a whole number from 0 to"),
        ("order: 1\ntitle: {a: 1}", "`title` must be text, got a mapping"),
        ("order: 1\ntitle: [a, b]", "`title` must be text, got a list"),
        ("order: 1\ntitle: yes", "`title` must be text, got True"),
        ("order: 1\ndescription: {a: 1}", "`description` must be text, got a mapping"),
        ("order: 1\nmodels: [a:q4, a:q6]", "`models` must map labels to tags"),
        ("order: 1\nmodels: a:q4", "`models` must map labels to tags"),
        ("order: 1\nmodels: {}", "`models` must map labels to tags"),
        ("order: 1\nmodels: {Q4: 4}", "`models`: the tag of Q4 must be a model tag (text), got 4"),
        ("order: 1\nmodels: {Q4: ''}", "`models`: the tag of Q4 must be a model tag (text)"),
        ("order: 1\nmodels: {Q4: [a, b]}", "`models`: the tag of Q4 must be a model tag"),
        ("order: 1\nmodels: {[a]: x}", "does not parse"),
        ("order: 1\nprobe: 5", "`probe` must be a battery file name or a list of probes"),
        ("order: 1\nmodel: {Q4: a}", "`model` is not a frontmatter key; did you mean `models`"),
        ("order: 1\n1: 2", "frontmatter keys must be names, got 1"),
        ("- order\n- 1", "must be `key: value` lines, got a list"),
    ],
)
def test_frontmatter_values_are_checked_and_the_key_named(frontmatter, message):
    """A frontmatter value of the wrong kind is a LabParseError whose message names the key."""
    with pytest.raises(LabParseError, match=re.escape(message)):
        parse_lab(_lab(frontmatter), Path("x.md"))


def test_good_frontmatter_is_read_into_typed_fields():
    """Quoted numbers, numeric titles and label maps are read as the author meant them."""
    text = _lab("order: '3'\ntitle: 2024\nmodels: {Q4: ' a:q4 ', 8: 'a:q8'}")
    lab = parse_lab(text, Path("x.md"))
    assert (lab.order, lab.title) == (3, "2024")
    assert lab.models is not None and dict(lab.models) == {"Q4": "a:q4", "8": "a:q8"}
    assert lab.sections[1].url_path == "lab3-objective1"
    assert parse_lab(_lab("order: 0"), Path("x.md")).models is None


def test_only_yaml_frontmatter_is_frontmatter():
    """TOML (`+++`) or JSON frontmatter, or an unclosed `---`, is an error that says so."""
    with pytest.raises(LabParseError, match="no YAML frontmatter"):
        parse_lab("+++\norder = 1\n+++\n## Objective 1: x\n", Path("x.md"))
    with pytest.raises(LabParseError, match="no closing `---`"):
        parse_lab("---\norder: 1\n## Objective 1: x\n", Path("x.md"))


@pytest.mark.parametrize(
    "text",
    [
        _lab("order: .inf"),
        _lab("order: 1\n1: 2"),
        _lab("order: 1\ntitle: {a: 1}"),
        "+++\norder = 1\n+++\n## Objective 1: x\n",
        '{\n"order": 1\n}\n## Objective 1: x\n',
    ],
)
def test_no_frontmatter_mistake_escapes_load_lab(tmp_path, text):
    """load_lab turns any mistake in a lab file into a LabError; nothing is raised."""
    path = tmp_path / "typo.md"
    path.write_text(text)
    result = load_lab(path)
    assert isinstance(result, LabError), result
    assert result.url_path == "lab-error-typo"


def test_broken_files_whose_names_slugify_alike_get_distinct_pages(tmp_path):
    """`Broken Lab.md` and `broken-lab.md` (both broken) get two error pages, two url paths."""
    (tmp_path / "Broken Lab.md").write_text(_lab("order: .inf"))
    (tmp_path / "broken-lab.md").write_text(_lab("order: nope"))
    (tmp_path / "broken_lab.md").write_text("no frontmatter")
    (tmp_path / "good.md").write_text((FIXTURES / "good.md").read_text())
    labs = load_labs(tmp_path)
    errors = {lab.path.name: lab.url_path for lab in labs if isinstance(lab, LabError)}
    assert errors == {
        "Broken Lab.md": "lab-error-broken-lab",
        "broken-lab.md": "lab-error-broken-lab-2",
        "broken_lab.md": "lab-error-broken-lab-3",
    }


def test_a_lab_whose_url_path_is_taken_becomes_an_error(tmp_path):
    """A url path already in use (a reserved tool page, or another lab's) makes the later lab
    an error page that names the path and its owner; the first owner keeps it."""
    (tmp_path / "a.md").write_text("---\norder: 5\n---\n## Objective 1: x\n## Settings\n")
    labs = load_labs(tmp_path, reserved={"lab5-settings": "the Endpoint settings page"})
    assert len(labs) == 1 and isinstance(labs[0], LabError)
    assert labs[0].message == (
        "its page `lab5-settings` has the url path of the Endpoint settings page"
    )


def test_an_unforeseen_parser_failure_is_a_lab_error_and_logged(tmp_path, monkeypatch, caplog):
    """If the parser itself breaks on a file, that file is a LabError naming the exception, the
    traceback goes to the log once, and the other labs still load."""
    import quantviz.lab.parse as labs_module

    real = labs_module._split_sections

    def split_or_break(body: str):
        if "BREAKS-THE-PARSER" in body:
            raise RecursionError("parser bug")
        return real(body)

    monkeypatch.setattr(labs_module, "_split_sections", split_or_break)
    (tmp_path / "good.md").write_text((FIXTURES / "good.md").read_text())
    (tmp_path / "odd.md").write_text("---\norder: 3\n---\nBREAKS-THE-PARSER\n## Objective 1: x\n")
    for _ in range(2):
        labs = load_labs(tmp_path)
    errors = [lab for lab in labs if isinstance(lab, LabError)]
    assert [e.path.name for e in errors] == ["odd.md"]
    assert errors[0].message == "the file could not be parsed (RecursionError: parser bug)"
    assert [lab.order for lab in labs if not isinstance(lab, LabError)] == [7]
    logged = [r for r in caplog.records if "odd.md could not be parsed" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None


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


CODE_WITH_AN_INFO_LINE = """---
order: 1
---
## Objective 1: Code

```
```python
<div data-quantization-explorer></div>
## not a section
```

<div data-model-pull></div>
"""


def test_a_fence_line_with_an_info_string_inside_a_code_block_does_not_close_it():
    """CommonMark: a closing fence has no info string, so inside a ``` block a line such as
    ```python is code. The marker and the `## ` line after it stay text, not a widget or a
    section; the marker after the block is live."""
    lab = parse_lab(CODE_WITH_AN_INFO_LINE, Path("x.md"))
    assert [s.title for s in lab.sections] == ["x", "Objective 1: Code"]
    objective = lab.sections[1]
    assert objective.markers == ["model-pull"]
    code = objective.blocks[0]
    assert isinstance(code, Markdown)
    assert "```python\n<div data-quantization-explorer></div>\n## not a section" in code.text


def test_a_renamed_markers_old_name_reads_as_its_new_one():
    """`data-objective5-chat` (the seed lab's) is the compare chat: the same marker, keys and
    links as `data-compare-chat`."""
    text = "---\norder: 1\n---\n## Objective 1: a\n<div data-objective5-chat></div>\n"
    (section,) = parse_lab(text, Path("x.md")).sections[1:]
    assert section.markers == ["compare-chat"]
    seed = FIXTURES.parent / "seed" / "lab2-quantization-tradeoffs.md"
    lab = parse_lab(seed.read_text(), seed)
    assert lab.section_with_marker("compare-chat") is lab.sections[1]
