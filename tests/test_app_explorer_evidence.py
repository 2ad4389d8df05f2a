"""Explorer settings a student chooses to save land in the evidence log and on its page."""

from apptest_utils import open_page, texts
from streamlit.util import calc_hash

from quantviz.ui import session

PREFIX = "lab2-objective1-"


def test_saved_explorer_settings_reach_the_evidence_page():
    """Save on the three Objective 1 explorers adds one record each, listed on the Evidence page."""
    at = open_page("lab2-objective1")
    at.slider(key=f"{PREFIX}quantization-explorer-0-bits").set_value(8).run()
    for widget in ("quantization-explorer", "quantization-grid-explorer", "gguf-formats"):
        at.button(key=f"{PREFIX}{widget}-0-save").click().run()
    assert not at.exception
    log = at.session_state[session.EVIDENCE]
    titles = [r.title for r in log.records]
    assert [r.kind for r in log.records] == ["explorer"] * 3
    assert titles[0] == "Single-weight explorer: w = 0.156347 at 8 bits"
    assert log.records[0].payload["q"] == 22
    assert titles[1].startswith("Grid explorer: 4 bits")
    assert len(log.records[1].payload["codes"]) == 4
    assert "Q4_K" in log.records[2].payload["schemes"]

    at._page_hash = calc_hash("evidence")
    at.run()
    assert "Records: 3" in texts(at)
    labels = " | ".join(e.label.replace("\\", "") for e in at.expander)  # Markdown-escaped
    assert "Single-weight explorer: w = 0.156347 at 8 bits" in labels
