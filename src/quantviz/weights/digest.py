"""The instructor's digest: what the real-weights view needs, without the multi-GB files.

A digest holds the statistics of every tensor over all its weights and one tile of real
super-blocks (raw bytes from both files) for every tensor that has them, the tile around the
tensor's largest weight. For a model of a few billion weights that is a few MB.

The file is an `.npz` (a zip of `.npy` arrays) that `numpy.load(..., allow_pickle=False)` reads:

* ``meta.npy``: UTF-8 JSON as uint8, with ``format`` = ``quantviz-weights-digest`` and
  ``version`` = `DIGEST_VERSION`, the two source files (name, size, tensor-table fingerprint),
  the tensor table, the names the statistics rows belong to and each tile's place;
* ``stats_float.npy`` (n, 7) float64 and ``stats_int.npy`` (n, 4) int64: `STAT_FLOATS` and
  `STAT_INTS` per tensor;
* ``tile_q4_NNNN.npy`` / ``tile_q6_NNNN.npy``: the raw block bytes of tile NNNN, uint8.

Writing is deterministic: the same files give a byte-identical digest (fixed member order and
zip timestamps, no compression). A reader refuses a file that is not a digest, a digest of
another version, and a damaged one, each with its own `WeightsError`.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quantviz.quant.ggml import type_sizes
from quantviz.weights.errors import (
    DigestVersionError,
    MissingFileError,
    NotADigestError,
    UnknownTensorError,
    WeightsError,
    printable,
)
from quantviz.weights.pair import TILE_ROWS, ModelPair, PairedTensor, Tile, tile_origin
from quantviz.weights.stats import CHUNK_WEIGHTS, Progress, TensorStats, model_stats

DIGEST_FORMAT = "quantviz-weights-digest"
DIGEST_VERSION = 1
DIGEST_SUFFIX = ".weights.npz"
MAX_DIGEST_BYTES = 256 * 1024 * 1024  # far above any digest; a bigger file is not one of ours
STAT_FLOATS = ("ref_mean", "ref_rms", "ref_min", "ref_max", "q4_rms", "diff_rms", "diff_maxabs")
STAT_INTS = ("n", "absmax_row", "absmax_col", "same_bytes")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry: fixed, for equal bytes


@dataclass(frozen=True)
class SourceFile:
    """One of the two GGUF files a digest was made from."""

    name: str  # the file name only: an instructor's directories stay private
    size: int
    fingerprint: str  # GGUFModel.fingerprint


@dataclass(frozen=True)
class Digest:
    """Statistics of all tensors, and tiles of real super-blocks, of one Q4/Q6 pair."""

    architecture: str | None
    q4: SourceFile
    q6: SourceFile
    tensors: tuple[PairedTensor, ...]
    stats: Mapping[str, TensorStats]
    tiles: Mapping[str, Tile]

    def tensor(self, name: str) -> PairedTensor:
        for t in self.tensors:
            if t.name == name:
                return t
        raise UnknownTensorError(f"The digest has no tensor {printable(name)}.")

    def tile(self, name: str) -> Tile:
        try:
            return self.tiles[name]
        except KeyError:
            raise UnknownTensorError(
                f"The digest has no super-blocks of {printable(name)}."
            ) from None

    def describes(self, pair: ModelPair) -> bool:
        """True when this digest was made from exactly these two files (same tensor tables)."""
        return (
            self.q4.fingerprint == pair.q4.fingerprint
            and self.q6.fingerprint == pair.q6.fingerprint
        )

    @property
    def n_weights(self) -> int:
        return sum(t.n_weights for t in self.tensors)


def _source(model: Any) -> SourceFile:
    return SourceFile(model.path.name, int(model.size), model.fingerprint)


def build_digest(
    pair: ModelPair,
    *,
    chunk_weights: int = CHUNK_WEIGHTS,
    progress: Progress | None = None,
) -> Digest:
    """Statistics over every weight of both files, then one tile per tensor with super-blocks.

    Each tile is the one around the tensor's largest weight, so the digest shows its outlier.
    """
    stats = model_stats(pair, chunk_weights=chunk_weights, progress=progress)
    tiles = {
        t.name: pair.tile(t.name, stats[t.name].absmax_row, stats[t.name].absmax_col)
        for t in pair.tensors
        if t.tileable and t.name in stats
    }
    return Digest(
        architecture=pair.q4.architecture,
        q4=_source(pair.q4),
        q6=_source(pair.q6),
        tensors=pair.tensors,
        stats=stats,
        tiles=tiles,
    )


# --------------------------------------------------------------------------- writing


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _entries(digest: Digest) -> list[tuple[str, np.ndarray]]:
    names = list(digest.stats)
    tiles = list(digest.tiles.values())
    meta = {
        "format": DIGEST_FORMAT,
        "version": DIGEST_VERSION,
        "architecture": digest.architecture,
        "files": {
            label: {"name": f.name, "size": f.size, "fingerprint": f.fingerprint}
            for label, f in (("Q4", digest.q4), ("Q6", digest.q6))
        },
        "tensors": [[t.name, list(t.shape), t.q4_type, t.q6_type] for t in digest.tensors],
        "stats": names,
        "stat_floats": list(STAT_FLOATS),
        "stat_ints": list(STAT_INTS),
        "tiles": [[t.name, t.row0, t.col0, t.cols] for t in tiles],
    }
    text = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    floats = np.array(
        [[getattr(digest.stats[n], f) for f in STAT_FLOATS] for n in names], np.float64
    ).reshape(len(names), len(STAT_FLOATS))
    ints = np.array(
        [[int(getattr(digest.stats[n], f)) for f in STAT_INTS] for n in names], np.int64
    ).reshape(len(names), len(STAT_INTS))
    entries: list[tuple[str, np.ndarray]] = [
        ("meta", np.frombuffer(text.encode("utf-8"), np.uint8)),
        ("stats_float", floats),
        ("stats_int", ints),
    ]
    for i, tile in enumerate(tiles):
        entries.append((f"tile_q4_{i:04d}", tile.q4_bytes))
        entries.append((f"tile_q6_{i:04d}", tile.q6_bytes))
    return entries


def write_digest(digest: Digest, path: str | os.PathLike[str]) -> int:
    """Write `digest` to `path` (through a temporary file, replaced at the end); returns bytes."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name, array in _entries(digest):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            zf.writestr(info, _npy(array))
    os.replace(tmp, path)
    return path.stat().st_size


# --------------------------------------------------------------------------- reading


def _damaged(path: Path, what: str) -> NotADigestError:
    return NotADigestError(f"{printable(path.name)} is a damaged weights digest: {what}.")


def _meta(path: Path, npz: Any) -> dict[str, Any]:
    if "meta" not in npz.files:
        raise NotADigestError(
            f"{printable(path.name)} is an .npz file but not a quantviz weights digest "
            "(it has no meta entry)."
        )
    raw = npz["meta"]
    try:
        meta = json.loads(bytes(raw.astype(np.uint8, copy=False)).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, TypeError):
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != DIGEST_FORMAT:
        raise NotADigestError(
            f"{printable(path.name)} is an .npz file but not a quantviz weights digest."
        )
    version = meta.get("version")
    if version != DIGEST_VERSION:
        raise DigestVersionError(
            f"{printable(path.name)} is a weights digest of format version "
            f"{printable(str(version), 20)}; this quantviz reads version {DIGEST_VERSION}. "
            "Write it again with this version: python -m quantviz digest Q4.gguf Q6.gguf -o "
            f"{printable(path.name)}"
        )
    return meta


def _tensor(path: Path, item: Any) -> PairedTensor:
    ok = (
        isinstance(item, list)
        and len(item) == 4
        and isinstance(item[0], str)
        and isinstance(item[1], list)
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in item[1])
        and 0 < len(item[1]) <= 4
        and all(isinstance(x, str) for x in item[2:])
    )
    if not ok:
        raise _damaged(path, "a tensor entry is malformed")
    name, shape, q4_type, q6_type = item
    for qtype in (q4_type, q6_type):
        try:
            type_sizes(qtype)
        except ValueError:
            what = f"tensor {printable(name)} has unknown type {printable(qtype, 20)}"
            raise _damaged(path, what) from None
    return PairedTensor(name, tuple(shape), q4_type, q6_type)


def _source_file(path: Path, meta: dict[str, Any], label: str) -> SourceFile:
    f = (meta.get("files") or {}).get(label)
    if not (
        isinstance(f, dict)
        and isinstance(f.get("name"), str)
        and isinstance(f.get("size"), int)
        and isinstance(f.get("fingerprint"), str)
    ):
        raise _damaged(path, f"the {label} file record is malformed")
    return SourceFile(f["name"], f["size"], f["fingerprint"])


def _stats(
    path: Path, npz: Any, meta: dict[str, Any], tensors: dict[str, PairedTensor]
) -> dict[str, TensorStats]:
    names = meta.get("stats")
    if meta.get("stat_floats") != list(STAT_FLOATS) or meta.get("stat_ints") != list(STAT_INTS):
        raise _damaged(path, "its statistics columns are not the ones this version writes")
    floats, ints = npz.get("stats_float"), npz.get("stats_int")
    if (
        not isinstance(names, list)
        or floats is None
        or ints is None
        or floats.dtype != np.float64
        or ints.dtype != np.int64
        or floats.shape != (len(names), len(STAT_FLOATS))
        or ints.shape != (len(names), len(STAT_INTS))
    ):
        raise _damaged(path, "the statistics arrays do not match the tensor list")
    stats: dict[str, TensorStats] = {}
    for i, name in enumerate(names):
        if name not in tensors:
            raise _damaged(path, f"statistics for an unlisted tensor {printable(str(name))}")
        values = dict(zip(STAT_FLOATS, (float(v) for v in floats[i]), strict=True))
        counts = dict(zip(STAT_INTS, (int(v) for v in ints[i]), strict=True))
        t = tensors[name]
        if counts["n"] != t.n_weights or not (
            0 <= counts["absmax_row"] < t.n_rows and 0 <= counts["absmax_col"] < t.row_length
        ):
            raise _damaged(path, f"the statistics of {printable(name)} do not fit its shape")
        stats[name] = TensorStats(
            name=name,
            n=counts["n"],
            ref_mean=values["ref_mean"],
            ref_rms=values["ref_rms"],
            ref_min=values["ref_min"],
            ref_max=values["ref_max"],
            absmax_row=counts["absmax_row"],
            absmax_col=counts["absmax_col"],
            q4_rms=values["q4_rms"],
            diff_rms=values["diff_rms"],
            diff_maxabs=values["diff_maxabs"],
            same_bytes=bool(counts["same_bytes"]),
        )
    return stats


def _tiles(
    path: Path, npz: Any, meta: dict[str, Any], tensors: dict[str, PairedTensor]
) -> dict[str, Tile]:
    entries = meta.get("tiles")
    if not isinstance(entries, list):
        raise _damaged(path, "the tile list is missing")
    tiles: dict[str, Tile] = {}
    for i, entry in enumerate(entries):
        if not (
            isinstance(entry, list)
            and len(entry) == 4
            and isinstance(entry[0], str)
            and all(isinstance(n, int) and not isinstance(n, bool) for n in entry[1:])
            and entry[0] in tensors
        ):
            raise _damaged(path, f"tile {i} is malformed")
        name, row0, col0, cols = entry
        t = tensors[name]
        if not t.tileable:
            raise _damaged(path, f"tile {i} belongs to a tensor without super-blocks")
        want = tile_origin(t, row0 + min(TILE_ROWS, t.n_rows) // 2, col0)
        q4, q6 = npz.get(f"tile_q4_{i:04d}"), npz.get(f"tile_q6_{i:04d}")
        shapes_ok = (
            (row0, col0, cols) == (want[0], want[1], want[3])
            and q4 is not None
            and q6 is not None
            and q4.dtype == np.uint8
            and q6.dtype == np.uint8
            and q4.shape == (want[2], cols // t.q4.block_values * t.q4.block_bytes)
            and q6.shape == (want[2], cols // t.q6.block_values * t.q6.block_bytes)
        )
        if not shapes_ok:
            raise _damaged(path, f"the tile of {printable(name)} does not fit the tensor")
        tiles[name] = Tile(name, row0, col0, t.q4_type, t.q6_type, q4, q6, cols)
    return tiles


def read_digest(path: str | os.PathLike[str]) -> Digest:
    """Read and check a digest; a `WeightsError` names what is wrong with a bad one."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"The weights digest {printable(str(path))} does not exist.")
    size = path.stat().st_size
    if size > MAX_DIGEST_BYTES:
        raise NotADigestError(
            f"{printable(path.name)} is {size / 1e6:.0f} MB, far larger than any weights digest: "
            "it is not one."
        )
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise NotADigestError(
                f"{printable(path.name)} is a single .npy array, not a quantviz weights digest."
            )
        with loaded as npz:
            meta = _meta(path, npz)
            arrays = {name: npz[name] for name in npz.files if name != "meta"}
    except WeightsError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise NotADigestError(
            f"{printable(path.name)} is not a quantviz weights digest "
            f"(numpy cannot read it as .npz: {printable(str(exc), 80)})."
        ) from None
    items = meta.get("tensors")
    if not isinstance(items, list) or not items:
        raise _damaged(path, "the tensor list is missing")
    tensors = {}
    for item in items:
        t = _tensor(path, item)
        tensors[t.name] = t
    arch = meta.get("architecture")
    return Digest(
        architecture=arch if isinstance(arch, str) else None,
        q4=_source_file(path, meta, "Q4"),
        q6=_source_file(path, meta, "Q6"),
        tensors=tuple(tensors.values()),
        stats=_stats(path, arrays, meta, tensors),
        tiles=_tiles(path, arrays, meta, tensors),
    )
