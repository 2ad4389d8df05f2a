"""The Q4 file and the Q6 file of one model, tensor by tensor, and tiles of real super-blocks.

`pair_models` checks that the two files hold the same model (the same tensor names with the same
shapes) and lists each tensor with its type in either file. A `Tile` is a few rows of one
tensor, one super-block (256 weights) wide, as raw bytes from both files: what the widget draws
and what a digest stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from quantviz.weights.errors import (
    ModelMismatchError,
    TensorTypeError,
    UnknownTensorError,
    printable,
)
from quantviz.weights.gguf_file import GGUFModel, TensorInfo, can_dequantize, dequantize

TILE_ROWS = 16  # rows of a tile: 16 super-blocks
TILE_COLS = 256  # weights per tile row: one K-quant super-block
DEFAULT_Q4_TYPE = "Q4_K"
_LIST = 3  # names quoted in a mismatch message


@dataclass(frozen=True)
class PairedTensor:
    """One tensor of the model, with the type each file stores it in."""

    name: str
    shape: tuple[int, ...]  # GGUF order, ne0 first
    q4_type: str
    q6_type: str

    @property
    def q4(self) -> TensorInfo:
        return TensorInfo(self.name, self.q4_type, self.shape)

    @property
    def q6(self) -> TensorInfo:
        return TensorInfo(self.name, self.q6_type, self.shape)

    @property
    def n_weights(self) -> int:
        return self.q4.n_weights

    @property
    def n_rows(self) -> int:
        return self.q4.n_rows

    @property
    def row_length(self) -> int:
        return self.q4.row_length

    @property
    def layer(self) -> int:
        return self.q4.layer

    @property
    def tower(self) -> str:
        return self.q4.tower

    @property
    def quantized(self) -> bool:
        """Quantized in at least one file: a tensor the recipe decides about."""
        return self.q4.quantized or self.q6.quantized

    @property
    def tileable(self) -> bool:
        """A 2-D (or more) tensor both of whose types gguf can dequantize."""
        return (
            len(self.shape) >= 2
            and self.quantized
            and can_dequantize(self.q4_type)
            and can_dequantize(self.q6_type)
        )


@dataclass(frozen=True)
class Tile:
    """`rows` rows of a tensor from row `row0`, weights `col0` to `col0 + cols - 1`, both files.

    `q4_bytes` / `q6_bytes` are `(rows, bytes)` uint8: whole blocks of each file's type.
    """

    name: str
    row0: int
    col0: int
    q4_type: str
    q6_type: str
    q4_bytes: NDArray[np.uint8]
    q6_bytes: NDArray[np.uint8]
    cols: int

    @property
    def rows(self) -> int:
        return int(self.q4_bytes.shape[0])

    def _side(self, which: str) -> tuple[NDArray[np.uint8], TensorInfo]:
        if which == "Q4":
            return self.q4_bytes, TensorInfo(self.name, self.q4_type, (self.cols,))
        return self.q6_bytes, TensorInfo(self.name, self.q6_type, (self.cols,))

    def values(self, which: str) -> NDArray[np.float32]:
        """The tile's weights from the "Q4" or "Q6" file, (rows, cols) float32, via gguf."""
        raw, info = self._side(which)
        return dequantize(raw, info.qtype).reshape(self.rows, self.cols)

    def block(self, which: str, row: int, index: int = 0) -> NDArray[np.uint8]:
        """Raw bytes of block `index` in tile row `row` of the "Q4" or "Q6" file."""
        raw, info = self._side(which)
        size = info.block_bytes
        return np.ascontiguousarray(raw[row, index * size : (index + 1) * size])

    def blocks_per_row(self, which: str) -> int:
        return self.cols // self._side(which)[1].block_values


def tile_origin(tensor: PairedTensor, row: int, col: int) -> tuple[int, int, int, int]:
    """The tile that holds weight (row, col): (row0, col0, rows, cols), inside the tensor.

    The tile's rows centre on `row` where the tensor allows; its columns are the super-block
    (or, for rows shorter than 256, the whole row) that holds `col`.
    """
    rows = min(TILE_ROWS, tensor.n_rows)
    cols = min(TILE_COLS, tensor.row_length)
    row = min(max(int(row), 0), tensor.n_rows - 1)
    col = min(max(int(col), 0), tensor.row_length - 1)
    row0 = min(max(row - rows // 2, 0), tensor.n_rows - rows)
    col0 = min(col // cols * cols, tensor.row_length - cols)
    step = np.lcm(tensor.q4.block_values, tensor.q6.block_values)
    col0 = int(col0 // step * step)
    return row0, col0, rows, cols


class ModelPair:
    """Two opened GGUF files of the same model; build it with `pair_models`."""

    def __init__(self, q4: GGUFModel, q6: GGUFModel, tensors: tuple[PairedTensor, ...]) -> None:
        self.q4 = q4
        self.q6 = q6
        self.tensors = tensors
        self._by_name = {t.name: t for t in tensors}

    def tensor(self, name: str) -> PairedTensor:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownTensorError(
                f"There is no tensor {printable(name)} in these files."
            ) from None

    def rows(self, name: str, start: int, stop: int) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
        """Raw rows `start` to `stop - 1` of a tensor from both files (views of the maps)."""
        return self.q4.rows(name)[start:stop], self.q6.rows(name)[start:stop]

    def chunks(
        self, name: str, max_weights: int
    ) -> Iterator[tuple[int, NDArray[np.uint8], NDArray[np.uint8]]]:
        """(first row, Q4 rows, Q6 rows) in chunks of at most `max_weights` weights (>= 1 row)."""
        t = self.tensor(name)
        step = max(1, max_weights // max(t.row_length, 1))
        for start in range(0, t.n_rows, step):
            q4, q6 = self.rows(name, start, min(start + step, t.n_rows))
            yield start, q4, q6

    def tile(self, name: str, row: int = 0, col: int = 0) -> Tile:
        """The tile of real super-blocks that holds weight (row, col), copied out of both files."""
        t = self.tensor(name)
        if not t.tileable:
            raise TensorTypeError(
                f"{printable(name)} ({t.q4_type} / {t.q6_type}) has no super-blocks to show."
            )
        row0, col0, rows, cols = tile_origin(t, row, col)
        q4, q6 = self.rows(name, row0, row0 + rows)
        return Tile(
            name=name,
            row0=row0,
            col0=col0,
            q4_type=t.q4_type,
            q6_type=t.q6_type,
            q4_bytes=_columns(q4, t.q4, col0, cols),
            q6_bytes=_columns(q6, t.q6, col0, cols),
            cols=cols,
        )


def _columns(raw: NDArray[np.uint8], info: TensorInfo, col0: int, cols: int) -> NDArray[np.uint8]:
    start = col0 // info.block_values * info.block_bytes
    stop = (col0 + cols) // info.block_values * info.block_bytes
    return np.array(raw[:, start:stop], dtype=np.uint8)


def _names(names: set[str]) -> str:
    shown = sorted(names)[:_LIST]
    more = f" and {len(names) - _LIST} more" if len(names) > _LIST else ""
    return ", ".join(printable(n, 60) for n in shown) + more


def pair_tensors(
    q4: dict[str, TensorInfo], q6: dict[str, TensorInfo], q4_name: str, q6_name: str
) -> tuple[PairedTensor, ...]:
    """The tensors of two files, paired by name; ModelMismatchError unless names and shapes agree.

    `q4_name` / `q6_name` name the files in the message.
    """
    only4, only6 = set(q4) - set(q6), set(q6) - set(q4)
    if only4 or only6:
        parts = []
        if only4:
            parts.append(f"only {printable(q4_name)} has {_names(only4)}")
        if only6:
            parts.append(f"only {printable(q6_name)} has {_names(only6)}")
        raise ModelMismatchError(
            "These two files are not the same model: their tensor names differ ("
            + "; ".join(parts)
            + ")."
        )
    for name, a in q4.items():
        b = q6[name]
        if a.shape != b.shape:
            raise ModelMismatchError(
                f"These two files are not the same model: tensor {printable(name)} is "
                f"{' × '.join(map(str, a.shape))} in {printable(q4_name)} but "
                f"{' × '.join(map(str, b.shape))} in {printable(q6_name)}."
            )
    return tuple(PairedTensor(name, a.shape, a.qtype, q6[name].qtype) for name, a in q4.items())


def pair_models(q4: GGUFModel, q6: GGUFModel) -> ModelPair:
    """Pair two opened files of one model; ModelMismatchError when they are not."""
    return ModelPair(q4, q6, pair_tensors(q4.tensors, q6.tensors, q4.path.name, q6.path.name))


def default_tensor(tensors: tuple[PairedTensor, ...] | list[PairedTensor]) -> str | None:
    """The view's first tensor: a Q4_K tensor of layer 0, else the first one with super-blocks."""
    tileable = [t for t in tensors if t.tileable]
    for t in tileable:
        if t.q4_type == DEFAULT_Q4_TYPE and t.layer == 0 and not t.tower:
            return t.name
    for t in tileable:
        if t.q4_type == DEFAULT_Q4_TYPE:
            return t.name
    return tileable[0].name if tileable else None
