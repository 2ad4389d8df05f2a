"""AppTest of the real-weights widget on Objective 4: from files, a digest, a local Ollama, none."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from apptest_utils import ROOT, open_page, texts
from gguf import GGUFReader
from gguf import quants as gguf_quants
from gguf_pair import TinyModel, tiny_layout, write_pair
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer

import quantviz.weights.digest as digest_module
from quantviz.quant.recipe import TensorSpec
from quantviz.ui.context import widget_key
from quantviz.weights.digest import build_digest, write_digest
from quantviz.weights.gguf_file import open_gguf
from quantviz.weights.pair import pair_models

PAGE = "lab2-objective4"
KEY = widget_key("lab2-objective4", "real-weights")
LAB = ROOT / "labs" / "lab-02-quantization-tradeoffs.md"
DEFAULT = "blk.0.attn_q.weight"


def _shown(at) -> str:
    """The page's text with Markdown escapes removed, as a reader sees it."""
    return texts(at).replace("\\", "")


def _files(pair: TinyModel) -> dict:
    return {"weights": {"q4": str(pair.q4), "q6": str(pair.q6)}}


def _chart(at, name: str) -> dict:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith(f"{KEY}-{name}"))
    return json.loads(chart.proto.spec)


def _gguf_values(path: Path, name: str) -> np.ndarray:
    """gguf's reading of a whole tensor, straight from GGUFReader: the test's oracle."""
    t = next(t for t in GGUFReader(path).tensors if t.name == name)
    return gguf_quants.dequantize(t.data, t.tensor_type)


def _tile_is_the_files_weights(at, pair: TinyModel, name: str) -> tuple[int, int]:
    """The three heatmaps hold the tensor's real weights from both files and their difference."""
    heat = [t for t in _chart(at, "tile")["data"] if t["type"] == "heatmap"]
    rows, cols = heat[0]["y"], heat[0]["x"]
    r, c = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    q4, q6 = _gguf_values(pair.q4, name)[r, c], _gguf_values(pair.q6, name)[r, c]
    np.testing.assert_array_equal(np.array(heat[0]["z"]), q4)
    np.testing.assert_array_equal(np.array(heat[1]["z"]), q6)
    np.testing.assert_allclose(np.array(heat[2]["z"]), q4.astype(np.float64) - q6, atol=0)
    assert len(rows) == 16 and len(cols) == 256
    return rows[0], cols[0]


@pytest.fixture(autouse=True)
def no_local_ollama(monkeypatch, tmp_path):
    """An endpoint with the lab's tags but no blobs on disk, unless a test puts them there."""
    with OllamaTestServer(models_dir=tmp_path / "ollama") as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        yield srv


def test_from_the_instructors_files(tiny_pair: TinyModel) -> None:
    """[weights] q4/q6: the default Q4_K tensor of layer 0, its real tile, stats and profile."""
    at = open_page(PAGE, secrets=_files(tiny_pair))
    assert not at.exception
    assert at.selectbox(key=f"{KEY}-tensor").value == DEFAULT
    page = texts(at)
    assert "Reading the instructor's files" in page
    row0, col0 = _tile_is_the_files_weights(at, tiny_pair, DEFAULT)
    w = tiny_pair.floats(DEFAULT)
    big_row, big_col = np.unravel_index(np.abs(w).argmax(), w.shape)
    assert row0 <= big_row < row0 + 16 and col0 <= big_col < col0 + 256  # opens on the outlier
    assert "weights in the tensor: 65,536" in page
    hist = _chart(at, "hist")
    marks = next(t for t in hist["data"] if t.get("mode") == "markers")
    assert max(abs(x) for x in marks["x"]) == pytest.approx(np.abs(w).max(), rel=0.01)
    assert "Metadata side by side" in page  # the rest of the page goes on


def test_the_profile_shows_the_recipes_q6_k_tensors_at_zero(tiny_pair: TinyModel) -> None:
    """Q6_K in both files: exactly zero difference, coloured as Q6_K; Q4_K tensors above zero."""
    at = open_page(PAGE, secrets=_files(tiny_pair))
    traces = {t["name"]: t for t in _chart(at, "profile")["data"]}
    q6 = traces["Q6_K in the Q4 file"]
    names = sorted(c[0] for c in q6["customdata"])
    assert names == ["blk.2.attn_v.weight", "blk.2.ffn_down.weight", "token_embd.weight"]
    assert set(q6["y"]) == {0.0}
    assert min(traces["Q4_K in the Q4 file"]["y"]) > 0
    assert "3 are Q6_K in both files, 3 of them with a difference of exactly 0" in _shown(at)


def test_picking_a_tensor_and_moving_the_tile(tiny_pair: TinyModel) -> None:
    """Another tensor redraws its own weights; the row and super-block inputs move the tile."""
    at = open_page(PAGE, secrets=_files(tiny_pair))
    name = "blk.1.ffn_down.weight"  # rows of 512: two super-blocks per row
    at.selectbox(key=f"{KEY}-tensor").set_value(name).run()
    assert not at.exception
    index = [s.name for s in tiny_pair.specs].index(name)
    at.number_input(key=f"{KEY}-row-{index}").set_value(100).run()
    at.number_input(key=f"{KEY}-block-{index}").set_value(1).run()
    assert _tile_is_the_files_weights(at, tiny_pair, name) == (92, 256)
    same = "blk.2.ffn_down.weight"
    at.selectbox(key=f"{KEY}-tensor").set_value(same).run()
    assert any("byte for byte alike" in s.value for s in at.success)


def test_from_a_digest_named_in_the_secrets(tiny_pair: TinyModel, tmp_path: Path) -> None:
    """A digest alone: the same tile as the files give, fixed at the largest weight."""
    path = tmp_path / "class.weights.npz"
    write_digest(build_digest(pair_models(open_gguf(tiny_pair.q4), open_gguf(tiny_pair.q6))), path)
    at = open_page(PAGE, secrets={"weights": {"digest": str(path), "ollama": False}})
    assert not at.exception
    assert "Reading the digest class.weights.npz" in _shown(at)
    assert at.selectbox(key=f"{KEY}-tensor").value == DEFAULT
    _tile_is_the_files_weights(at, tiny_pair, DEFAULT)
    assert not [n for n in at.number_input if n.key and n.key.startswith(f"{KEY}-row")]
    at.selectbox(key=f"{KEY}-tensor").set_value("blk.2.ffn_up.weight").run()
    _tile_is_the_files_weights(at, tiny_pair, "blk.2.ffn_up.weight")


def test_a_digest_next_to_the_lab_file(tiny_pair: TinyModel, tmp_path: Path, monkeypatch) -> None:
    """With no secrets, `<lab>.weights.npz` beside the lab file is found and used."""
    shutil.copyfile(LAB, tmp_path / LAB.name)
    digest = tmp_path / (LAB.stem + ".weights.npz")
    write_digest(
        build_digest(pair_models(open_gguf(tiny_pair.q4), open_gguf(tiny_pair.q6))), digest
    )
    monkeypatch.setenv("QUANTVIZ_LABS_DIR", str(tmp_path))
    at = open_page(PAGE)
    assert not at.exception
    assert f"Reading the digest {digest.name}" in _shown(at)
    assert len(at.get("plotly_chart")) >= 3


def test_from_a_local_ollamas_blobs(tiny_pair: TinyModel, no_local_ollama) -> None:
    """The FROM line of a local Ollama's modelfile leads to the blobs, read from disk."""
    srv = no_local_ollama
    for tag, src in ((Q4_TAG, tiny_pair.q4), (Q6_TAG, tiny_pair.q6)):
        srv.blob_path(tag).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, srv.blob_path(tag))
    at = open_page(PAGE)
    assert not at.exception
    assert "Reading the local Ollama's model files" in texts(at)
    _tile_is_the_files_weights(at, tiny_pair, DEFAULT)
    assert srv.requests_to("/api/show")


def test_without_files_the_view_says_how_to_enable_it(no_local_ollama) -> None:
    """No files and no digest: one info box with the digest command; the rest of the page works."""
    at = open_page(PAGE)
    assert not at.exception and not at.error
    info = "\n".join(i.value for i in at.info)
    assert "To enable it" in info
    assert "python -m quantviz digest Q4.gguf Q6.gguf -o labs/lab-02-quantization" in info
    assert '[weights]` `q4 = "/path/to/q4.gguf"' in info
    assert "model file is not readable" in texts(at)
    assert "Metadata side by side" in texts(at)
    assert all(KEY not in c.proto.id for c in at.get("plotly_chart"))  # none of the view's


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("only q4", "needs both q4 and q6"),
        ("missing file", "nope.gguf does not exist"),
        ("not gguf", "is not a GGUF file"),
        ("truncated", "is cut short"),
        ("other model", "not the same model"),
        ("old digest", "format version 0"),
        ("not a digest", "not a quantviz weights digest"),
        ("missing digest", "does not exist"),
    ],
)
def test_bad_input_is_a_clear_message(
    case, message, tiny_pair: TinyModel, tmp_path, monkeypatch
) -> None:
    """Each bad file or setting shows one error naming the problem, never a traceback."""
    notes = tmp_path / "notes.gguf"
    notes.write_text("hello")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_pair.q6.read_bytes()[:-3000])
    digest = tmp_path / "old.weights.npz"
    foreign = tmp_path / "foreign.weights.npz"
    np.savez(foreign, a=np.arange(3))
    if case == "old digest":  # written as a quantviz with digest format version 0 would
        pair = pair_models(open_gguf(tiny_pair.q4), open_gguf(tiny_pair.q6))
        with monkeypatch.context() as m:
            m.setattr(digest_module, "DIGEST_VERSION", 0)
            write_digest(build_digest(pair), digest)
    other = (
        write_pair(tmp_path / "other", specs=tiny_layout(n_layers=2))
        if case == "other model"
        else None
    )
    secrets = {
        "only q4": {"q4": str(tiny_pair.q4)},
        "missing file": {"q4": str(tiny_pair.q4), "q6": str(tmp_path / "nope.gguf")},
        "not gguf": {"q4": str(tiny_pair.q4), "q6": str(notes)},
        "truncated": {"q4": str(tiny_pair.q4), "q6": str(cut)},
        "other model": {"q4": str(other.q4) if other else "", "q6": str(tiny_pair.q6)},
        "old digest": {"digest": str(digest)},
        "not a digest": {"digest": str(foreign)},
        "missing digest": {"digest": str(tmp_path / "nope.weights.npz")},
    }[case]
    at = open_page(PAGE, secrets={"weights": secrets})
    assert not at.exception
    errors = [e.value for e in at.error if "metadata" not in e.value]
    assert len(errors) == 1 and message in errors[0].replace("\\", ""), errors
    assert "Metadata side by side" in texts(at)


def test_names_from_the_files_stay_inert(tmp_path: Path) -> None:
    """A tensor name with Markdown and HTML shows as text: escaped captions and hover text."""
    evil = "v[x](https://evil.example/)<b>"
    specs = [*tiny_layout(n_layers=1), TensorSpec(f"{evil}.blk.0.attn_q.weight", (256, 256))]
    pair = write_pair(tmp_path, specs=specs)
    at = open_page(PAGE, secrets=_files(pair))
    at.selectbox(key=f"{KEY}-tensor").set_value(f"{evil}.blk.0.attn_q.weight").run()
    assert not at.exception
    caption = next(c.value for c in at.caption if "quantized tensors of the" in c.value)
    # the URL shows as inline code: remark-gfm would link a bare URL even when escaped
    assert "\\[x\\]\\(`https://evil.example/`\\)" in caption and "](https" not in caption
    assert "<b>" not in caption
    profile = json.dumps(_chart(at, "profile"))
    assert "<b>" not in profile and "&lt;b&gt;" in profile
    for element in (*at.markdown, *at.caption, *at.info, *at.error, *at.success):
        assert "](https://evil" not in element.value


def test_the_bytes_view_opens_on_the_outliers_super_block(tiny_pair: TinyModel) -> None:
    """The raw-bytes view starts on the row of the largest weight; its Q4_K fields and bytes
    are the file's, as gguf decodes them."""
    at = open_page(PAGE, secrets=_files(tiny_pair))
    w = tiny_pair.floats(DEFAULT)
    big_row, big_col = np.unravel_index(np.abs(w).argmax(), w.shape)
    slider = next(s for s in at.slider if s.key and s.key.startswith(f"{KEY}-block-row-"))
    assert slider.value == big_row
    t = next(t for t in GGUFReader(tiny_pair.q4).tensors if t.name == DEFAULT)
    block = np.asarray(t.data[big_row, :144])  # rows of 256: one Q4_K block per row
    sc, m = gguf_quants.Q4_K.get_scale_min(block[4:16].reshape(1, 12))
    table = next(d.value for d in at.dataframe if "dmin·min" in d.value.columns)  # the Q4_K one
    assert table["scale"].tolist() == sc[0].tolist()
    assert table["min"].tolist() == m[0].tolist()
    assert table["scale"].iloc[big_col // 32] == sc[0].max()  # the outlier's sub-block
    code = next(c.value for c in at.code if c.value.startswith("d (2 B)"))
    assert code.splitlines()[0].endswith(f"{block[0]:02x} {block[1]:02x}")
    assert "Q4 file (Q4_K): 144 bytes" in texts(at).replace("\\", "")


def test_a_large_pair_computes_its_profile_on_request(tiny_pair: TinyModel, monkeypatch) -> None:
    """Above the automatic limit the profile waits for a click, then stays for the session."""
    from quantviz.ui.widgets import real_weights

    monkeypatch.setattr(real_weights, "AUTO_STATS_WEIGHTS", 1000)
    at = open_page(PAGE, secrets=_files(tiny_pair))
    assert not at.exception
    assert not [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"{KEY}-profile")]
    assert "needs the statistics of every tensor" in texts(at)
    assert "weights in the tensor: 65,536" in texts(at)  # the tile works without them
    at.button(key=f"{KEY}-compute").click().run()
    assert not at.exception
    assert _chart(at, "profile")["data"]
    at.selectbox(key=f"{KEY}-tensor").set_value("blk.1.attn_k.weight").run()
    assert _chart(at, "profile")["data"]  # computed once, kept for the session
    assert not [b for b in at.button if b.key == f"{KEY}-compute"]


def test_a_remote_endpoint_is_not_asked_for_blob_paths(monkeypatch) -> None:
    """With a remote Ollama host the view says its files are not here, without asking it."""
    monkeypatch.setenv("OLLAMA_HOST", "http://ollama.invalid:11434")
    at = open_page(PAGE)
    assert not at.exception
    assert "the Ollama endpoint is not on this machine" in _shown(at)
    assert "could not describe" not in _shown(at)
