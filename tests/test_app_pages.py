"""AppTest over the real app.py: every page renders, the explorers respond."""

import json
from pathlib import Path

import pytest
from apptest_utils import open_page, texts
from figure_steps import at_step, readouts

from quantviz.lab import Lab
from quantviz.lab.load import load_labs
from quantviz.ui.context import widget_key

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


def _url_paths(directory: Path) -> list[str]:
    return [
        "",
        *(s.url_path for lab in load_labs(directory) if isinstance(lab, Lab) for s in lab.sections),
    ]


def _heading(at) -> str:
    return (at.title or at.header)[0].value


@pytest.mark.parametrize("url_path", _url_paths(ROOT / "labs"))
def test_every_page_of_the_project_lab_runs(url_path):
    """Home and every section page of labs/ render with no exception."""
    at = open_page(url_path)
    assert not at.exception, at.exception
    assert _heading(at)


@pytest.mark.parametrize("url_path", _url_paths(FIXTURES / "seed"))
def test_seed_as_the_only_lab_renders(url_path, monkeypatch):
    """The seed file as the only lab renders every page with no exception."""
    monkeypatch.setenv("QUANTVIZ_LABS_DIR", str(FIXTURES / "seed"))
    at = open_page(url_path)
    assert not at.exception, at.exception


def test_deep_link_selects_the_objective_page():
    """Opening lab2-objective3 shows Objective 3, not the default page."""
    at = open_page("lab2-objective3")
    assert at.header[0].value.startswith("Objective 3:")


def test_overview_shows_the_callout_and_links_every_section():
    """The overview renders the Lab Flow Guide callout as bold text with line breaks."""
    at = open_page("lab2")
    assert at.title[0].value.startswith("Lab 2 - Quantization Tradeoffs")
    assert any("**Lab Flow Guide**  \n**Explore**" in i.value for i in at.info)
    assert "<!--" not in texts(at)


def test_broken_labs_get_their_own_error_page_and_others_still_work(monkeypatch):
    """A broken lab shows a clear error on its page; the good lab beside it still renders."""
    monkeypatch.setenv("QUANTVIZ_LABS_DIR", str(FIXTURES / "labs"))
    broken = open_page("lab-error-broken-frontmatter")
    assert "YAML frontmatter does not parse" in broken.error[0].value
    empty = open_page("lab-error-no-objectives")
    assert "no `## Objective N: ...` sections" in empty.error[0].value
    good = open_page("lab7-objective1")
    assert not good.exception
    assert good.header[0].value == "Objective 1: First Things"
    home = open_page("")
    assert not home.exception


def test_unknown_marker_shows_a_notice_that_names_it(monkeypatch):
    """`<div data-no-such-widget>` renders a visible notice naming the widget."""
    monkeypatch.setenv("QUANTVIZ_LABS_DIR", str(FIXTURES / "labs"))
    at = open_page("lab7-objective1")
    assert any("data-no-such-widget" in w.value for w in at.warning)


def _figure(at, key_part: str) -> dict:
    chart = next(c for c in at.get("plotly_chart") if key_part in c.proto.id)
    return json.loads(chart.proto.spec)


def test_weight_explorer_reproduces_the_seed_and_follows_the_bits_slider():
    """Defaults give q=1 and ŵ=0.130029 at 4 bits; 8 bits gives q=22 and ŵ≈0.157673.

    The bits slider is the figure's own: its steps are read as plotly.js applies them."""
    line = widget_key("lab2-objective1", "quantization-explorer") + "-line"
    at = open_page("lab2-objective1")
    spec = _figure(at, line)
    assert readouts(spec)["q"] == "1"
    assert readouts(spec)["w_hat"] == "0.130029"
    assert readouts(at_step(spec, "8"))["q"] == "22"
    assert readouts(at_step(spec, "8"))["w_hat"] == "0.157673"
    assert readouts(at_step(spec, "2"))["q"] == "0"
    assert readouts(at_step(spec, "2"))["levels"] == "3"


def _heatmap_z(spec: dict) -> list:
    return [trace["z"] for trace in spec["data"] if trace["type"] == "heatmap"]


def test_grid_explorer_bits_change_numbers_and_heatmap():
    """Moving the grid's bits slider changes its levels, RMSE and the reconstruction heatmap."""
    at = open_page("lab2-objective1")
    spec = _figure(at, "heatmaps")
    two = at_step(spec, "2")
    before = (readouts(spec)["levels_used"], readouts(spec)["rmse"], _heatmap_z(spec))
    after = (readouts(two)["levels_used"], readouts(two)["rmse"], _heatmap_z(two))
    assert after[0].endswith("of 3") and before[0].endswith("of 15")
    assert float(after[1]) > float(before[1])
    assert after[2][0] == before[2][0]  # the original layer is unchanged
    assert after[2][1] != before[2][1]  # its reconstruction is not


GOOD_PAGES = ("", "lab7", "lab7-objective1", "settings", "evidence")
TYPO_LABS = {
    "order-inf": ({"inf.md": "---\norder: .inf\n---\n## Objective 1: x\n"}, {"lab-error-inf"}),
    "names-slugify-alike": (
        {
            "Broken Lab.md": "---\norder: nope\n---\n## Objective 1: x\n",
            "broken-lab.md": "---\ntitle: no order\n---\n## Objective 1: x\n",
        },
        {"lab-error-broken-lab", "lab-error-broken-lab-2"},
    ),
    "models-as-a-list": (
        {"listed.md": "---\norder: 9\nmodels: [a:q4, a:q6]\n---\n## Objective 1: x\n"},
        {"lab-error-listed"},
    ),
    "title-a-mapping": (
        {"mapped.md": "---\norder: 9\ntitle: {en: Lab 9}\n---\n## Objective 1: x\n"},
        {"lab-error-mapped"},
    ),
    "key-not-a-name": (
        {"numbered.md": "---\norder: 9\n1: one\n---\n## Objective 1: x\n"},
        {"lab-error-numbered"},
    ),
}


@pytest.mark.parametrize("case", TYPO_LABS)
def test_an_instructor_typo_is_that_labs_error_page_and_every_other_page_works(
    case, tmp_path, monkeypatch
):
    """Next to a good lab, each typo'd lab file gets an error page of its own that names the
    key at fault, and home, the good lab's pages and both tool pages still render."""
    files, error_pages = TYPO_LABS[case]
    (tmp_path / "good.md").write_text((FIXTURES / "labs" / "good.md").read_text())
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setenv("QUANTVIZ_LABS_DIR", str(tmp_path))

    for url_path in (*GOOD_PAGES, *sorted(error_pages)):
        at = open_page(url_path)
        assert not at.exception, (url_path, at.exception)
        assert _heading(at), url_path
    home_links = [link.proto.label for link in open_page("").get("page_link")]
    assert sum("could not be loaded" in label for label in home_links) == len(error_pages)
    assert "Lab 7 - Fixture" in home_links
    for url_path in error_pages:
        at = open_page(url_path)
        assert at.error and "could not be loaded" in at.error[0].value, url_path
    assert open_page("lab7-objective1").header[0].value == "Objective 1: First Things"


def test_error_pages_name_the_key_at_fault(tmp_path, monkeypatch):
    """The error page of a typo'd lab says which key is wrong and what it should be."""
    (tmp_path / "inf.md").write_text("---\norder: .inf\n---\n## Objective 1: x\n")
    (tmp_path / "listed.md").write_text("---\norder: 9\nmodels: [a:q4]\n---\n## Objective 1: x\n")
    monkeypatch.setenv("QUANTVIZ_LABS_DIR", str(tmp_path))
    assert "`order` must be a whole number" in open_page("lab-error-inf").error[0].value
    assert "`models` must map labels to tags" in open_page("lab-error-listed").error[0].value
