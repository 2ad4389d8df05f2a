"""One GGUF file through gguf.GGUFReader: tensors, raw rows, dequantized weights, bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter
from gguf import quants as gguf_quants
from gguf_pair import TinyModel, write_pair

from quantviz.quant import ggml
from quantviz.weights.errors import (
    DamagedFileError,
    MissingFileError,
    NotGGUFError,
    TensorTypeError,
    TruncatedFileError,
    WeightsError,
    printable,
)
from quantviz.weights.gguf_file import TensorInfo, can_dequantize, dequantize, open_gguf

NAME = "blk.0.attn_q.weight"


def test_tensors_have_the_written_names_types_and_shapes(tiny_pair: TinyModel) -> None:
    """The reader lists every tensor written, with the type the recipe chose and its shape."""
    q4, q6 = open_gguf(tiny_pair.q4), open_gguf(tiny_pair.q6)
    assert list(q4.tensors) == [s.name for s in tiny_pair.specs]
    for spec in tiny_pair.specs:
        assert q4.tensors[spec.name].qtype == tiny_pair.types_q4[spec.name]
        assert q6.tensors[spec.name].qtype == tiny_pair.types_q6[spec.name]
        assert q4.tensors[spec.name].shape == spec.shape
    assert q4.tensors["blk.2.ffn_down.weight"].qtype == "Q6_K"  # use_more_bits(2, 3)
    assert q4.tensors["blk.0.ffn_down.weight"].qtype == "Q4_K"
    assert q4.architecture == "gemma3"
    assert q4.size == tiny_pair.q4.stat().st_size


def test_rows_are_the_bytes_written_and_dequantize_through_gguf(tiny_pair: TinyModel) -> None:
    """A tensor's rows are the quantizer's bytes; dequantized they equal gguf's own decoding."""
    floats = tiny_pair.floats(NAME)  # (256, 256)
    for path, qtype in ((tiny_pair.q6, "Q6_K"), (tiny_pair.q4, "Q4_K")):
        model = open_gguf(path)
        written = ggml.quantize(floats, qtype)
        rows = model.rows(NAME)
        assert rows.shape == written.shape == (256, 256 // 256 * ggml.FORMATS[qtype].block_bytes)
        np.testing.assert_array_equal(rows, written)
        expected = gguf_quants.dequantize(written, GGMLQuantizationType[qtype])
        np.testing.assert_array_equal(dequantize(rows, qtype), expected)
    q6 = dequantize(open_gguf(tiny_pair.q6).rows(NAME), "Q6_K")
    assert np.abs(q6 - floats).max() < 0.01  # Q6_K keeps normal(0, 0.02) weights close


def test_f32_tensors_read_back_exactly(tiny_pair: TinyModel) -> None:
    """An F32 norm is stored and read back bit for bit, one row of its length."""
    values = dequantize(open_gguf(tiny_pair.q4).rows("blk.1.attn_norm.weight"), "F32")
    np.testing.assert_array_equal(values, tiny_pair.floats("blk.1.attn_norm.weight"))


def test_layer_and_tower_come_from_the_name(tiny_pair: TinyModel) -> None:
    """blk.N. gives the layer; embeddings are outside the blocks (-1); a prefix is a tower."""
    model = open_gguf(tiny_pair.q4)
    assert model.tensors["blk.2.attn_v.weight"].layer == 2
    assert model.tensors["token_embd.weight"].layer == -1
    vision = TensorInfo("v.blk.11.attn_q.weight", "Q4_K", (256, 256))
    assert (vision.layer, vision.tower) == (11, "v")
    assert model.tensors[NAME].tower == ""


def test_which_types_gguf_can_dequantize() -> None:
    """K-quants, legacy quants and floats dequantize; integer tensors and unknown names do not."""
    for qtype in ("Q4_K", "Q5_K", "Q6_K", "Q8_0", "Q5_0", "F32", "F16", "BF16"):
        assert can_dequantize(qtype), qtype
    for qtype in ("I32", "I8", "F64", "NOT_A_TYPE"):
        assert not can_dequantize(qtype), qtype
    with pytest.raises(TensorTypeError):
        dequantize(np.zeros((1, 4), np.uint8), "I32")


def test_fingerprint_tells_files_apart(tiny_pair: TinyModel, tmp_path: Path) -> None:
    """The same file gives the same fingerprint; another quantization of the layout does not."""
    other = write_pair(tmp_path, seed=tiny_pair.seed + 1)
    assert open_gguf(tiny_pair.q4).fingerprint == open_gguf(tiny_pair.q4).fingerprint
    assert open_gguf(tiny_pair.q4).size == open_gguf(other.q4).size  # same layout, same size
    assert open_gguf(tiny_pair.q4).fingerprint != open_gguf(other.q4).fingerprint
    assert open_gguf(tiny_pair.q4).fingerprint != open_gguf(tiny_pair.q6).fingerprint


# --- bad files ---------------------------------------------------------------------------------


def _copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


def test_a_file_that_is_not_gguf(tmp_path: Path) -> None:
    """A text file and an empty file are refused as 'not a GGUF file', naming the file."""
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a model\n")
    with pytest.raises(NotGGUFError, match=r"notes\.txt is not a GGUF file.*magic"):
        open_gguf(text)
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(NotGGUFError, match="empty"):
        open_gguf(empty)


def test_a_missing_file_or_a_directory(tmp_path: Path) -> None:
    """A path that does not exist, or is a folder, is a MissingFileError naming it."""
    with pytest.raises(MissingFileError, match="does not exist"):
        open_gguf(tmp_path / "nope.gguf")
    with pytest.raises(MissingFileError, match="is not a file"):
        open_gguf(tmp_path)


def test_a_file_cut_in_its_tensor_data(tiny_pair: TinyModel, tmp_path: Path) -> None:
    """A download that stopped early (data cut) is 'cut short', with the file's size."""
    cut = _copy(tiny_pair.q4, tmp_path / "cut.gguf")
    size = cut.stat().st_size
    with cut.open("r+b") as f:
        f.truncate(size - 1000)
    with pytest.raises(TruncatedFileError, match=r"cut\.gguf is cut short") as info:
        open_gguf(cut)
    assert f"{size - 1000:,}" in str(info.value)


def test_a_file_cut_in_its_header(tiny_pair: TinyModel, tmp_path: Path) -> None:
    """A file that ends inside its header is 'cut short' as well."""
    cut = tmp_path / "header.gguf"
    cut.write_bytes(tiny_pair.q4.read_bytes()[:200])
    with pytest.raises(TruncatedFileError, match="cut short"):
        open_gguf(cut)


def _with_type_number(src: Path, dst: Path, number: int) -> Path:
    """A copy of `src` whose first tensor's type field holds `number`."""
    _copy(src, dst)
    reader = GGUFReader(dst, "r+")
    reader.tensors[0].field.parts[4][0] = number  # the raw type, a view of the mapped file
    reader.data.flush()
    del reader
    return dst


def test_an_unknown_tensor_type(tiny_pair: TinyModel, tmp_path: Path) -> None:
    """A tensor type number gguf does not know is named in the message, never a traceback."""
    bad = _with_type_number(tiny_pair.q6, tmp_path / "future.gguf", 250)
    with pytest.raises(TensorTypeError, match=r"future\.gguf has a tensor of type number 250"):
        open_gguf(bad)


def test_an_unsupported_gguf_version(tiny_pair: TinyModel, tmp_path: Path) -> None:
    """A GGUF version gguf cannot read is a DamagedFileError that names the version."""
    bad = _copy(tiny_pair.q6, tmp_path / "v9.gguf")
    data = bytearray(bad.read_bytes())
    data[4:8] = (9).to_bytes(4, "little")
    bad.write_bytes(bytes(data))
    with pytest.raises(DamagedFileError, match="version 9"):
        open_gguf(bad)


def test_an_integer_tensor_is_listed_but_not_dequantized(tmp_path: Path) -> None:
    """A valid file with an I32 tensor opens; that tensor's type is one gguf cannot dequantize."""
    path = tmp_path / "ints.gguf"
    writer = GGUFWriter(str(path), "gemma3")
    writer.add_tensor("positions", np.arange(256, dtype=np.int32).reshape(1, 256))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    model = open_gguf(path)
    assert model.tensors["positions"].qtype == "I32"
    assert not can_dequantize("I32")


def test_every_failure_is_a_weights_error_with_a_kind() -> None:
    """Each error of the family carries its kind, and printable() keeps names on one line."""
    kinds = {cls.kind for cls in WeightsError.__subclasses__()}
    assert {"not_gguf", "truncated", "tensor_type", "mismatch", "digest_version"} <= kinds
    assert printable("a\nb\x1b[31m") == "a\\nb\\x1b[31m"
    assert printable("x" * 200, 10) == "x" * 9 + "…"
