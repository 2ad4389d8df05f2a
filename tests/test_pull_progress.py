"""quantviz.ollama.progress: every pull bar's value and its text come from one computation."""

from __future__ import annotations

import re

from test_registry import GEMMA_2B

from quantviz.ollama.client import PullProgress
from quantviz.ollama.progress import PullTracker, percent
from quantviz.ollama.registry import parse_manifest

# gemma:2b's blobs (the real manifest in test_registry.GEMMA_2B), in pull order, and the config.
MODEL = "sha256:c1864a5eb19305c40519da12cc543519e48a0697ecd30e15d5ac228644957d12"
LICENSE = "sha256:097a36493f718248845233af1d3fefe7a303f864fae13bc31a3a9704229378ca"
CONFIG = "sha256:887433b89a901c156f7e6944442f3c9e57f3c55d6ed52042cbb7303aea994290"
MODEL_SIZE, LICENSE_SIZE = 1_678_447_520, 8_433
ALL_BLOBS = 1_678_456_656  # 1678447520 + 8433 + 136 + 84 + 483, summed by hand


def _line(digest: str, total: int, completed: int | None) -> PullProgress:
    return PullProgress(f"pulling {digest[7:19]}", digest, total, completed)


def _percent_in(text: str) -> int:
    found = re.search(r"· (\d+) %", text)
    assert found is not None, text
    return int(found.group(1))


def test_percent_is_the_floor_of_done_over_total():
    """Whole percent rounded down: 100 only when everything is done; no total is 0."""
    assert percent(1, 3) == 33
    assert percent(2, 3) == 66
    assert percent(999, 1000) == 99
    assert percent(5, 5) == 100
    assert percent(0, 0) == 0
    assert percent(7, 5) == 100


def test_with_the_manifest_the_total_is_every_blob_and_bar_and_text_agree():
    """With the tag's manifest read first, the overall total is every blob from the first line,
    the bar only moves forward, and its text prints the same percent and bytes as the bar."""
    tracker = PullTracker.from_manifest(parse_manifest(GEMMA_2B, "gemma:2b"))
    lines = [
        _line(MODEL, MODEL_SIZE, None),
        _line(MODEL, MODEL_SIZE, MODEL_SIZE // 2),
        _line(MODEL, MODEL_SIZE, MODEL_SIZE),
        _line(LICENSE, LICENSE_SIZE, None),
        _line(LICENSE, LICENSE_SIZE, LICENSE_SIZE),
    ]
    seen = []
    for progress in lines:
        tracker.add(progress)
        figures = tracker.figures()
        assert figures.total == ALL_BLOBS and figures.total_known
        assert _percent_in(figures.text) == figures.percent
        seen.append(figures.percent)
    assert seen == [0, 49, 99, 99, 99]
    figures = tracker.figures()
    assert figures.text == "All layers: 1.68 GB / 1.68 GB (5 layers) · 99 %"
    assert tracker.figures().layers[0].text.startswith("weights \\(GGUF\\) `c1864a5eb193` · 100 %")
    assert tracker.figures().layers[1].text.startswith("license `097a36493f71` · 100 %")
    tracker.add(PullProgress("success"))
    assert tracker.figures().percent == 100


def test_without_a_manifest_the_text_says_so_far_and_layers_are_unnamed():
    """Without a manifest the total is what was announced so far, and the text says so: the bar
    may step back when the next blob is announced, but text and bar still agree."""
    tracker = PullTracker()
    tracker.add(_line(MODEL, MODEL_SIZE, MODEL_SIZE))
    first = tracker.figures()
    assert first.percent == 100 and not first.total_known
    assert first.text.startswith("Layers announced so far: 1.68 GB / 1.68 GB (1 layers)")
    tracker.add(_line(LICENSE, LICENSE_SIZE, None))
    second = tracker.figures()
    assert second.percent == 99 and _percent_in(second.text) == 99
    assert second.layers[1].text.startswith("layer `097a36493f71` · 0 %")


def test_a_manifest_that_does_not_describe_the_pull_only_names_layers():
    """A blob announced with another size than the manifest's: the manifest is not the pull's,
    so the total falls back to the announced blobs; the names by digest still apply."""
    tracker = PullTracker.from_manifest(parse_manifest(GEMMA_2B, "gemma:2b"))
    tracker.add(_line(MODEL, 1_000, 500))
    figures = tracker.figures()
    assert not figures.total_known and figures.total == 1_000 and figures.percent == 50
    assert figures.layers[0].kind == "weights (GGUF)"


def test_a_blob_complete_in_its_first_line_was_already_there_and_success_fills_every_bar():
    """A blob whose first line is already complete is marked as on the endpoint; after
    `success` every bar is at 100 % and the total is the announced blobs."""
    tracker = PullTracker.from_manifest(parse_manifest(GEMMA_2B, "gemma:2b"))
    tracker.add(_line(LICENSE, LICENSE_SIZE, LICENSE_SIZE))
    tracker.add(_line(MODEL, MODEL_SIZE, 10))
    tracker.add(PullProgress("success"))
    figures = tracker.figures()
    assert [layer.already_present for layer in figures.layers] == [True, False]
    assert "already on the endpoint" in figures.layers[0].text
    assert [layer.percent for layer in figures.layers] == [100, 100]
    assert figures.percent == 100 and figures.total == MODEL_SIZE + LICENSE_SIZE
    assert figures.text.startswith("All layers: ")
    assert CONFIG not in {layer.digest for layer in figures.layers}
