"""One GGUF file, read memory-mapped through `gguf.GGUFReader`, as rows of raw block bytes.

`open_gguf(path)` checks the file before and after gguf parses it and turns every failure into
one of the `WeightsError` kinds: not a GGUF file, cut short, a tensor type gguf does not know, a
header gguf cannot parse. Nothing is read into memory but the header: a tensor is a view of the
mapped file, `(n_rows, row_bytes)` uint8, and `dequantize` turns any slice of whole rows (or of
whole blocks within rows) into float32 weights with `gguf.quants.dequantize`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from gguf import GGMLQuantizationType, GGUFReader
from gguf import quants as gguf_quants
from numpy.typing import NDArray

from quantviz.quant.ggml import type_sizes
from quantviz.weights.errors import (
    DamagedFileError,
    MissingFileError,
    NotGGUFError,
    TensorTypeError,
    TruncatedFileError,
    printable,
)

GGUF_MAGIC = b"GGUF"
UNQUANTIZED = frozenset({"F32", "F16", "BF16", "F64"})
_BLOCK = re.compile(r"(?:^|\.)blk\.(\d+)\.")
_UNKNOWN_TYPE = re.compile(r"(\d+)\)? is not a valid GGMLQuantizationType")


@dataclass(frozen=True)
class TensorInfo:
    """A tensor as the file describes it. `shape` is in GGUF order: the row length ne0 first."""

    name: str
    qtype: str  # a GGMLQuantizationType name: "Q4_K", "Q6_K", "F32", ...
    shape: tuple[int, ...]

    @property
    def n_weights(self) -> int:
        return math.prod(self.shape)

    @property
    def row_length(self) -> int:
        return self.shape[0] if self.shape else 1

    @property
    def n_rows(self) -> int:
        return math.prod(self.shape[1:])

    @property
    def block_values(self) -> int:
        return type_sizes(self.qtype)[0]

    @property
    def block_bytes(self) -> int:
        return type_sizes(self.qtype)[1]

    @property
    def row_bytes(self) -> int:
        return self.row_length // self.block_values * self.block_bytes

    @property
    def quantized(self) -> bool:
        return self.qtype not in UNQUANTIZED

    @property
    def layer(self) -> int:
        """The block number of `blk.N.` in the name (`v.blk.3.` too), -1 outside the blocks."""
        match = _BLOCK.search(self.name)
        return int(match.group(1)) if match else -1

    @property
    def tower(self) -> str:
        """What stands before `blk.N.`: "" for the language model, "v" or "a" for a tower."""
        match = _BLOCK.search(self.name)
        return self.name[: match.start()].rstrip(".") if match else ""


@functools.cache
def can_dequantize(qtype: str) -> bool:
    """Whether `gguf.quants.dequantize` turns this type into weights (probed on one zero block)."""
    try:
        gtype = GGMLQuantizationType[qtype]
    except KeyError:
        return False
    if gtype in (GGMLQuantizationType.F64,) or qtype.startswith("I"):
        return False  # integer and float64 tensors are not weights gguf dequantizes
    block_values, block_bytes = type_sizes(qtype)
    try:
        out = gguf_quants.dequantize(np.zeros((1, block_bytes), np.uint8), gtype)
    except (NotImplementedError, ValueError, TypeError):
        return False
    return out.dtype == np.float32 and out.size == block_values


def dequantize(raw: NDArray[np.uint8], qtype: str) -> NDArray[np.float32]:
    """Float32 weights of raw bytes: `(..., n_bytes)` whole blocks -> `(..., n_weights)`."""
    if not can_dequantize(qtype):
        raise TensorTypeError(f"gguf cannot dequantize tensors of type {qtype}")
    raw = np.ascontiguousarray(raw)
    # a scale that overflowed fp16 decodes to inf or NaN, as in llama.cpp: no warning for it
    with np.errstate(over="ignore", invalid="ignore"):
        out = gguf_quants.dequantize(raw, GGMLQuantizationType[qtype])
    return np.asarray(out, np.float32)


class _PastEndError(Exception):
    """A read beyond the end of the file while parsing the header or placing a tensor."""


class _BoundedReader(GGUFReader):
    """GGUFReader that says so when the header sends it past the end of the file.

    gguf slices its memory map, and a slice past the end is silently short; the errors that
    follow (a failed reshape, an IndexError) do not say the file is cut short. This check does.
    """

    def _get(
        self,
        offset: int,
        dtype: npt.DTypeLike,
        count: int = 1,
        override_order: Literal["I", "S", "<"] | None = None,
    ) -> npt.NDArray[Any]:
        end = int(offset) + int(np.dtype(dtype).itemsize) * int(count)
        if end > self.data.size:
            raise _PastEndError(end)
        return super()._get(offset, dtype, count, override_order)


def _check_readable(path: Path) -> int:
    if not path.exists():
        raise MissingFileError(f"{printable(str(path))} does not exist.")
    if not path.is_file():
        raise MissingFileError(f"{printable(str(path))} is not a file.")
    if not os.access(path, os.R_OK):
        raise MissingFileError(f"{printable(str(path))} cannot be read (permission denied).")
    return path.stat().st_size


def _classify(path: Path, size: int, exc: Exception) -> Exception:
    """A WeightsError for whatever gguf raised while parsing the header of `path`."""
    where = printable(path.name)
    text = str(exc)
    unknown = _UNKNOWN_TYPE.search(text)
    if unknown:
        return TensorTypeError(
            f"{where} has a tensor of type number {unknown.group(1)}, which this version of "
            "gguf does not know: the file needs a newer gguf (or llama.cpp) to be read."
        )
    if isinstance(exc, _PastEndError):
        return TruncatedFileError(
            f"{where} is cut short: its header announces more data than the file's "
            f"{size:,} bytes hold. Was the download or copy complete?"
        )
    if "version" in text:
        return DamagedFileError(f"{where}: {printable(text)}.")
    return DamagedFileError(
        f"{where} starts like a GGUF file, but gguf cannot read its header "
        f"({type(exc).__name__}: {printable(text)})."
    )


def _architecture(reader: GGUFReader) -> str | None:
    field = reader.get_field("general.architecture")
    try:
        value = field.contents() if field is not None else None
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    return value if isinstance(value, str) else None


class GGUFModel:
    """A GGUF file opened read-only and memory-mapped; `tensors` in file order.

    Build it with `open_gguf`. Tensor data stay in the mapped file until a caller slices rows.
    """

    def __init__(self, path: Path, reader: GGUFReader, size: int) -> None:
        self.path = path
        self.size = size
        # Keep the memory map and the tensor table, not the reader: its parsed metadata (one
        # numpy view per vocabulary entry, ~0.7 GB for a 262144-token file) is freed here.
        self._data = reader.data
        self.architecture = _architecture(reader)
        self.tensors: dict[str, TensorInfo] = {}
        self._offsets: dict[str, int] = {}
        for t in reader.tensors:
            info = TensorInfo(t.name, t.tensor_type.name, tuple(int(n) for n in t.shape))
            self.tensors[t.name] = info
            self._offsets[t.name] = int(t.data_offset)
            if t.data_offset + t.n_bytes > size:
                raise TruncatedFileError(
                    f"{printable(path.name)} is cut short: tensor {printable(t.name)} needs "
                    f"bytes up to {t.data_offset + t.n_bytes:,}, the file has {size:,}."
                )

    def rows(self, name: str) -> NDArray[np.uint8]:
        """The tensor's bytes as `(n_rows, row_bytes)`, a view of the mapped file."""
        info = self.tensors[name]
        start = self._offsets[name]
        flat = self._data[start : start + info.n_rows * info.row_bytes]
        return flat.reshape(info.n_rows, info.row_bytes)

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 of the tensor table (names, types, shapes, offsets), the file size and the
        first row of every tensor.

        Files with the same fingerprint hold the same tensors at the same places, starting with
        the same bytes; a digest records it so the app can tell whether the digest describes the
        files it has. Reading one row per tensor keeps it to a few MB for a real model.
        """
        h = hashlib.sha256()
        table = [
            [t.name, t.qtype, list(t.shape), self._offsets[t.name]] for t in self.tensors.values()
        ]
        h.update(json.dumps({"size": self.size, "tensors": table}, separators=(",", ":")).encode())
        for name, t in self.tensors.items():
            if t.n_rows:
                h.update(self.rows(name)[0].tobytes())
        return h.hexdigest()


def open_gguf(path: str | os.PathLike[str]) -> GGUFModel:
    """Open a GGUF file memory-mapped; a `WeightsError` says what is wrong with a bad one."""
    path = Path(path)
    size = _check_readable(path)
    with path.open("rb") as f:
        magic = f.read(len(GGUF_MAGIC))
    if magic != GGUF_MAGIC:
        what = "is empty" if size == 0 else "does not start with the GGUF magic bytes"
        raise NotGGUFError(f"{printable(path.name)} is not a GGUF file: it {what}.")
    try:
        reader = _BoundedReader(path, "r")
    except (
        _PastEndError,
        ValueError,
        IndexError,
        KeyError,
        OverflowError,
        MemoryError,
        TypeError,
    ) as exc:
        raise _classify(path, size, exc) from None
    except OSError as exc:
        raise MissingFileError(f"{printable(path.name)} cannot be read: {exc.strerror}.") from None
    return GGUFModel(path, reader, size)
