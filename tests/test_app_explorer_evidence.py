"""Explorer settings a student chooses to save land in the evidence log and on its page."""

from apptest_utils import go_to, open_page, texts

from quantviz.ui import session

PREFIX = "lab2-objective1-"


def test_saved_explorer_settings_reach_the_evidence_page():
    """Save on the three Objective 1 explorers adds one record each, listed on the Evidence page.

    The two quantization explorers save every width (2-8) they show, since their bits slider
    lives in the browser."""
    at = open_page("lab2-objective1")
    for widget in ("quantization-explorer", "quantization-grid-explorer", "gguf-formats"):
        at.button(key=f"{PREFIX}{widget}-0-save").click().run()
    assert not at.exception
    log = at.session_state[session.EVIDENCE]
    titles = [r.title for r in log.records]
    assert [r.kind for r in log.records] == ["explorer"] * 3
    assert titles[0] == "Single-weight explorer: w = 0.156347 at 2–8 bits"
    eight = log.records[0].payload["widths"][6]
    assert eight["bits"] == 8 and eight["q"] == 22
    assert titles[1].startswith("Grid explorer: 2–8 bits")
    four = log.records[1].payload["widths"][2]
    assert four["bits"] == 4 and len(four["codes"]) == 4
    assert "Q4_K" in log.records[2].payload["schemes"]

    go_to(at, "evidence")
    assert "Records: 3" in texts(at)
    labels = " | ".join(e.label.replace("\\", "") for e in at.expander)  # Markdown-escaped
    assert "Single-weight explorer: w = 0.156347 at 2–8 bits" in labels
