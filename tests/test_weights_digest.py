"""The instructor's digest: deterministic, small, read back whole, and refused when not ours."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gguf_pair import TinyModel, write_pair

from quantviz.weights.digest import (
    DIGEST_VERSION,
    Digest,
    build_digest,
    read_digest,
    write_digest,
)
from quantviz.weights.errors import (
    DigestVersionError,
    MissingFileError,
    NotADigestError,
    UnknownTensorError,
)
from quantviz.weights.gguf_file import open_gguf
from quantviz.weights.pair import ModelPair, pair_models


@pytest.fixture(scope="module")
def pair(tiny_pair: TinyModel) -> ModelPair:
    return pair_models(open_gguf(tiny_pair.q4), open_gguf(tiny_pair.q6))


@pytest.fixture(scope="module")
def digest(pair: ModelPair) -> Digest:
    return build_digest(pair)


@pytest.fixture
def written(digest: Digest, tmp_path: Path) -> Path:
    path = tmp_path / "lab.weights.npz"
    write_digest(digest, path)
    return path


def test_the_same_files_give_a_byte_identical_digest(tiny_pair: TinyModel, tmp_path: Path) -> None:
    """Two runs over the same files write the same bytes (no timestamps, fixed order)."""
    a, b = tmp_path / "a.weights.npz", tmp_path / "b.weights.npz"
    for out in (a, b):
        write_digest(
            build_digest(pair_models(open_gguf(tiny_pair.q4), open_gguf(tiny_pair.q6))), out
        )
    assert a.read_bytes() == b.read_bytes()


def test_size_grows_with_tiles_not_with_weights(digest: Digest, written: Path) -> None:
    """The digest holds one 16 x 256 tile per quantized tensor plus a small table, no more."""
    tiles = digest.tiles.values()
    tile_bytes = sum(t.q4_bytes.nbytes + t.q6_bytes.nbytes for t in tiles)
    block = {"Q4_K": 144, "Q6_K": 210}  # bytes per super-block of 256 weights
    assert tile_bytes == sum(16 * (block[t.q4_type] + block[t.q6_type]) for t in tiles)
    size = written.stat().st_size
    assert tile_bytes < size < tile_bytes + 40_000  # the rest: headers, JSON, statistics
    n_weights = sum(t.n_weights for t in digest.tensors)
    assert size < n_weights * 4 / 50  # under 2 % of one file's float32 weights


def test_read_back_equals_what_was_written(digest: Digest, written: Path, pair: ModelPair) -> None:
    """Statistics, tensor table and every tile's bytes survive the round trip exactly."""
    back = read_digest(written)
    assert back.tensors == digest.tensors
    assert back.stats == digest.stats
    assert back.tiles.keys() == digest.tiles.keys()
    for name, tile in back.tiles.items():
        np.testing.assert_array_equal(tile.q4_bytes, digest.tiles[name].q4_bytes)
        np.testing.assert_array_equal(tile.q6_bytes, digest.tiles[name].q6_bytes)
        assert (tile.row0, tile.col0, tile.cols) == (
            digest.tiles[name].row0,
            digest.tiles[name].col0,
            digest.tiles[name].cols,
        )
    assert back.architecture == "gemma3"
    assert back.q4.name == "model-q4_k_m.gguf" and back.q4.size == pair.q4.size
    assert back.describes(pair)
    with pytest.raises(UnknownTensorError):
        back.tile("blk.0.attn_norm.weight")


def test_each_tile_holds_its_tensors_largest_weight(digest: Digest, pair: ModelPair) -> None:
    """The digest's tile of a tensor is the one around its largest |w| (its outlier)."""
    for name, tile in digest.tiles.items():
        s = digest.stats[name]
        assert tile.row0 <= s.absmax_row < tile.row0 + tile.rows
        assert tile.col0 <= s.absmax_col < tile.col0 + tile.cols
        q6 = tile.values("Q6")
        assert np.abs(q6).max() == pytest.approx(s.ref_absmax)
        np.testing.assert_array_equal(
            tile.q4_bytes, pair.tile(name, s.absmax_row, s.absmax_col).q4_bytes
        )


def test_the_file_is_a_plain_npz_without_pickles(written: Path) -> None:
    """numpy opens it with allow_pickle=False; meta is JSON with the format and the version."""
    with np.load(written, allow_pickle=False) as npz:
        meta = json.loads(bytes(npz["meta"]).decode())
        assert meta["format"] == "quantviz-weights-digest"
        assert meta["version"] == DIGEST_VERSION
        assert npz["stats_float"].dtype == np.float64
        assert all(npz[k].dtype != object for k in npz.files)
    assert "/" not in json.dumps(meta["files"])  # file names only, not the instructor's paths


def test_a_digest_of_other_files_does_not_describe_them(digest: Digest, tmp_path: Path) -> None:
    """A pair quantized from other weights (same layout, same sizes) is told apart."""
    other = write_pair(tmp_path, seed=99)
    assert not digest.describes(pair_models(open_gguf(other.q4), open_gguf(other.q6)))


# --- not a digest, or not this version ---------------------------------------------------------


def _rewrite(src: Path, dst: Path, change_meta=None, drop: str | None = None) -> Path:
    """A copy of a digest with its meta JSON changed or one entry dropped."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if drop and info.filename == f"{drop}.npy":
                continue
            if info.filename == "meta.npy" and change_meta:
                meta = json.loads(bytes(np.load(io.BytesIO(data))).decode())
                change_meta(meta)
                buf = io.BytesIO()
                np.save(buf, np.frombuffer(json.dumps(meta).encode(), np.uint8))
                data = buf.getvalue()
            zout.writestr(info, data)
    return dst


def test_a_digest_from_another_version(written: Path, tmp_path: Path) -> None:
    """Another format version is refused with both versions and the command to rerun."""
    other = _rewrite(written, tmp_path / "old.weights.npz", lambda m: m.update(version=99))
    with pytest.raises(DigestVersionError, match=r"version 99; this quantviz reads version 1"):
        read_digest(other)
    with pytest.raises(DigestVersionError, match="python -m quantviz digest"):
        read_digest(other)


def test_files_that_are_not_our_digest(tmp_path: Path, tiny_pair: TinyModel) -> None:
    """Another npz, a pickle, a lone .npy, a text file and a GGUF file are 'not a digest'."""
    other = tmp_path / "other.npz"
    np.savez(other, a=np.arange(3))
    with pytest.raises(NotADigestError, match="not a quantviz weights digest"):
        read_digest(other)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, meta=np.frombuffer(b'{"format": "something else"}', np.uint8))
    with pytest.raises(NotADigestError, match="not a quantviz weights digest"):
        read_digest(foreign)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, meta=np.array([{"format": "quantviz-weights-digest"}], dtype=object))
    with pytest.raises(NotADigestError, match="not a quantviz weights digest"):
        read_digest(pickled)
    lone = tmp_path / "lone.npy"
    np.save(lone, np.arange(4))
    with pytest.raises(NotADigestError, match=r"single \.npy array"):
        read_digest(lone)
    text = tmp_path / "notes.weights.npz"
    text.write_text("not a zip")
    with pytest.raises(NotADigestError, match="numpy cannot read it"):
        read_digest(text)
    with pytest.raises(NotADigestError):
        read_digest(tiny_pair.q4)
    with pytest.raises(MissingFileError, match="does not exist"):
        read_digest(tmp_path / "nope.weights.npz")


def test_a_damaged_digest(written: Path, tmp_path: Path) -> None:
    """A digest whose parts do not fit each other is refused as damaged, naming the part."""
    no_tile = _rewrite(written, tmp_path / "a.weights.npz", drop="tile_q6_0000")
    with pytest.raises(NotADigestError, match=r"damaged.*tile of .* does not fit"):
        read_digest(no_tile)

    def bad_type(meta):
        meta["tensors"][0][2] = "Q99_K"

    with pytest.raises(NotADigestError, match=r"damaged.*unknown type Q99_K"):
        read_digest(_rewrite(written, tmp_path / "b.weights.npz", bad_type))

    def bad_row(meta):
        meta["tiles"][0][1] = 10**9

    with pytest.raises(NotADigestError, match="damaged"):
        read_digest(_rewrite(written, tmp_path / "c.weights.npz", bad_row))
    no_stats = _rewrite(written, tmp_path / "d.weights.npz", drop="stats_int")
    with pytest.raises(NotADigestError, match="statistics arrays"):
        read_digest(no_stats)
