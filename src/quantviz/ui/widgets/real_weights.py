"""Real weights (`data-real-weights`): the same tensor in the lab's Q4 and Q6 file, block by block.

Where the files come from (see `quantviz.weights.locate`): the instructor's `[weights] q4 / q6`
paths, else the blobs of a local Ollama that has both tags, else a digest (`[weights] digest`,
or `<lab>.weights.npz` next to the lab file). With files the student can move the tile anywhere
in the tensor; with a digest, the tile is the one around each tensor's largest weight.

Heavy things are cached per process with `st.cache_resource`, keyed by path, mtime and size:
the memory-mapped files, their statistics and the digest are the instructor's, the same for
every session. What a student picks (tensor, tile, threshold) stays in their session state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import streamlit as st

from quantviz.config.weights import WeightsConfig, weights_config
from quantviz.figures.weights import (
    ProfilePoint,
    histogram_text,
    layer_profile,
    layer_profile_text,
    tile_figure,
    tile_text,
    weight_histogram,
)
from quantviz.ollama.client import ModelMetadata
from quantviz.quant import ggml
from quantviz.quant.superblock import block_fields, hex_dump, sub_block_rows
from quantviz.text import code_span, plain
from quantviz.ui import registry, session
from quantviz.ui.chart import show_chart
from quantviz.ui.context import WidgetContext
from quantviz.ui.evidence_button import save_button
from quantviz.ui.ollama_common import metadata_of
from quantviz.units import format_billions
from quantviz.weights.digest import Digest, read_digest
from quantviz.weights.errors import WeightsError
from quantviz.weights.gguf_file import TensorInfo, open_gguf
from quantviz.weights.locate import (
    default_digest_path,
    is_local_endpoint,
    ollama_blobs,
)
from quantviz.weights.pair import ModelPair, PairedTensor, Tile, default_tensor, pair_models
from quantviz.weights.stats import TensorStats, model_stats, total_weights

AUTO_STATS_WEIGHTS = 50_000_000  # below this the profile is computed at once (a second or two)
DEFAULT_SIGMAS = 4

FileKey = tuple[str, int, int]  # path, mtime_ns, size


@dataclass(frozen=True)
class Source:
    """What the view reads from: a pair of files (tiles anywhere) or a digest (fixed tiles)."""

    via: str  # for the caption: where the files or the digest were found
    tensors: tuple[PairedTensor, ...]
    stats: Mapping[str, TensorStats] | None
    pair: ModelPair | None = None
    digest: Digest | None = None

    def tile(self, name: str, row: int, col: int) -> Tile:
        if self.pair is not None:
            return self.pair.tile(name, row, col)
        assert self.digest is not None
        return self.digest.tile(name)

    def choices(self) -> list[PairedTensor]:
        """Tensors the picker offers: those with super-blocks (and, from a digest, a tile)."""
        if self.digest is not None:
            return [t for t in self.tensors if t.name in self.digest.tiles]
        return [t for t in self.tensors if t.tileable]


# --------------------------------------------------------------------------- cached reads


def _file_key(path: Path) -> FileKey:
    st_ = path.stat()
    return str(path), st_.st_mtime_ns, st_.st_size


@st.cache_resource(max_entries=4, show_spinner="Opening the two GGUF files…")
def _open_pair(q4: FileKey, q6: FileKey) -> ModelPair | WeightsError:
    """Both files memory-mapped and paired; a bad file's error is cached too (no retry loop)."""
    try:
        return pair_models(open_gguf(q4[0]), open_gguf(q6[0]))
    except WeightsError as exc:
        return exc


@st.cache_resource(max_entries=4, show_spinner="Reading every weight of both files…")
def _pair_stats(q4: FileKey, q6: FileKey, _pair: ModelPair) -> dict[str, TensorStats]:
    return model_stats(_pair)


@st.cache_resource(max_entries=4, show_spinner="Reading the weights digest…")
def _read_digest(key: FileKey) -> Digest | WeightsError:
    try:
        return read_digest(key[0])
    except WeightsError as exc:
        return exc


# --------------------------------------------------------------------------- finding the source


def _config() -> WeightsConfig:
    return weights_config(st.secrets, Path.cwd())


def _digest_at(path: Path) -> Digest | WeightsError | None:
    if not path.is_file():
        return None
    return _read_digest(_file_key(path))


def _ollama_files(ctx: WidgetContext) -> tuple[Path, Path] | str:
    settings = session.settings(ctx.lab)
    tags = list(settings.models.values())[:2]
    if len(tags) < 2:
        return "the lab names fewer than two model tags"
    if not is_local_endpoint(settings.endpoint.host):  # ask nothing of a remote server
        return ollama_blobs(settings.endpoint.host, ("", ""))
    texts = []
    for tag in tags:
        meta = metadata_of(settings.endpoint, tag)
        if not isinstance(meta, ModelMetadata):
            return f"the Ollama endpoint could not describe {tag}"
        texts.append(meta.modelfile)
    return ollama_blobs(settings.endpoint.host, (texts[0], texts[1]))


def _with_stats(ctx: WidgetContext, via: str, keys: tuple[FileKey, FileKey], pair: ModelPair,
                digest: Digest | None) -> Source:  # fmt: skip
    """The files as the source; statistics from a digest of these very files, or computed."""
    if digest is not None and digest.describes(pair):
        return Source(f"{via}; statistics from the digest", pair.tensors, digest.stats, pair=pair)
    n = total_weights(pair)
    wanted = f"{ctx.key}-stats-wanted"
    if n <= AUTO_STATS_WEIGHTS or st.session_state.get(wanted):
        return Source(via, pair.tensors, _pair_stats(*keys, pair), pair=pair)
    st.button(
        f"Compute the per-layer profile (reads all {format_billions(n)} weights of each file, "
        "a few minutes, once for everyone)",
        key=f"{ctx.key}-compute",
        icon=":material/calculate:",
        on_click=_flag,
        args=(wanted,),
        help="Or write a digest once with `python -m quantviz digest` and put it next to the lab.",
    )
    return Source(via, pair.tensors, None, pair=pair)


def _flag(key: str) -> None:
    st.session_state[key] = True


def _source(ctx: WidgetContext) -> Source | None:
    """Find the files or the digest; show why not, and return None, when there is nothing."""
    try:
        config = _config()
    except WeightsError as exc:
        st.error(f"The instructor's `[weights]` settings cannot be used: {plain(exc)}")
        return None
    digest_path = config.digest or default_digest_path(ctx.lab.path)
    found = _digest_at(digest_path)
    if isinstance(found, WeightsError):
        st.error(f"The weights digest cannot be used: {plain(found.message)}")
        return None
    if config.digest is not None and found is None:
        st.error(f"The weights digest set in the secrets does not exist: {plain(digest_path)}")
        return None

    notes: list[str] = []
    if config.has_files:
        assert config.q4 is not None and config.q6 is not None
        files: tuple[Path, Path] | str = (config.q4, config.q6)
        via = "the instructor's files"
    elif config.use_ollama:
        files = _ollama_files(ctx)
        via = "the local Ollama's model files"
    else:
        files, via = "the instructor turned the Ollama lookup off", ""
    if isinstance(files, tuple):
        missing = [p for p in files if not p.is_file()]
        if missing:
            problem = f"{missing[0]} does not exist or is not a file"
        else:
            keys = (_file_key(files[0]), _file_key(files[1]))
            pair = _open_pair(*keys)
            if isinstance(pair, ModelPair):
                return _with_stats(
                    ctx, f"{via}: {files[0].name}, {files[1].name}", keys, pair, found
                )
            problem = pair.message
        if config.has_files:  # the instructor named these files: say so, do not fall back
            st.error(f"The files in `[weights]` cannot be used: {plain(problem)}")
            return None
        notes.append(f"{via} could not be used: {problem}")
    elif files:
        notes.append(files)
    if found is not None:
        return Source(f"the digest {digest_path.name}", found.tensors, found.stats, digest=found)
    _how_to_enable(digest_path, notes)
    return None


def _how_to_enable(digest_path: Path, notes: list[str]) -> None:
    st.info(
        "This view needs the lab's two GGUF files, or a digest of them, on the app's machine; "
        "this deployment has neither. The rest of the page works without it.  \n"
        "**To enable it**, do one of these:\n"
        "1. Write a digest (a few MB) where the files are, and deploy it next to the lab:  \n"
        + code_span(f"python -m quantviz digest Q4.gguf Q6.gguf -o labs/{digest_path.name}")
        + "\n2. Name the files in the app's secrets:  \n"
        '`[weights]` `q4 = "/path/to/q4.gguf"` `q6 = "/path/to/q6.gguf"`\n'
        "3. Run the app on the machine of a local Ollama that has both tags pulled.",
        icon=":material/info:",
    )
    if notes:
        st.caption("Not found here: " + "; ".join(plain(n) for n in notes) + ".")


# --------------------------------------------------------------------------- the view


def render(ctx: WidgetContext) -> None:
    with st.container(border=True):
        st.subheader("Real weights: one tensor in the Q4 and the Q6 file", anchor=False)
        _view(ctx)


def _label(t: PairedTensor) -> str:
    shape = " × ".join(str(n) for n in t.shape)
    return f"{t.name} · {t.q4_type} / {t.q6_type} · {shape}"


@registry.fragment
def _view(ctx: WidgetContext) -> None:
    source = _source(ctx)
    if source is None:
        return
    st.caption(f":material/folder_open: Reading {plain(source.via)}.")
    choices = source.choices()
    if not choices:
        st.warning("These files hold no quantized tensor with super-blocks to show.")
        return
    names = [t.name for t in choices]
    by_name = {t.name: t for t in choices}
    first = default_tensor(choices)
    pick = st.selectbox(
        "tensor",
        names,
        index=names.index(first) if first in names else 0,
        format_func=lambda n: _label(by_name[n]),
        key=f"{ctx.key}-tensor",
        help="Every quantized tensor, with its type in the Q4 file / the Q6 file and its shape "
        "(row length first, as GGUF lists it).",
    )
    tensor = by_name[pick or names[0]]
    stats = source.stats.get(tensor.name) if source.stats else None
    row, col = _position(ctx, source, tensor, stats)
    try:
        tile = source.tile(tensor.name, row, col)
        q4, q6 = tile.values("Q4"), tile.values("Q6")
    except WeightsError as exc:
        st.error(plain(exc.message))
        return
    _summary(tensor, tile, stats, q4, q6)
    types = (tensor.q4_type, tensor.q6_type)
    show_chart(
        tile_figure(q4, q6, tile.row0, tile.col0, types, _sub_blocks(tensor)),
        key=f"{ctx.key}-tile",
        alt=tile_text(q4, q6, tile.row0, tile.col0, types),
    )
    st.caption(
        f"Rows {tile.row0}–{tile.row0 + tile.rows - 1}, weights {tile.col0}–"
        f"{tile.col0 + tile.cols - 1} of each row: {tile.rows} real super-blocks per file, "
        "dequantized by gguf exactly as llama.cpp computes with them. Q4 and Q6 share one colour "
        "scale; dotted lines mark each file's sub-blocks (each has its own scale)."
    )
    _histogram(ctx, tile, q6, stats)
    _bytes(ctx, tile, stats, [t.name for t in choices].index(tensor.name))
    _profile(ctx, source, tensor.name)
    if stats is not None:
        save_button(
            f"{ctx.key}-save",
            f"Real weights: {plain(tensor.name)}",
            {
                "tensor": tensor.name,
                "types": {"Q4": tensor.q4_type, "Q6": tensor.q6_type},
                "shape": list(tensor.shape),
                "weights": stats.n,
                "rms_weight": stats.ref_rms,
                "largest_abs_weight": stats.ref_absmax,
                "rms_q4_minus_q6": stats.diff_rms,
                "max_abs_q4_minus_q6": stats.diff_maxabs,
                "relative_difference": stats.relative_diff,
                "tile": {"row0": tile.row0, "col0": tile.col0, "rows": tile.rows},
            },
        )


def _sub_blocks(t: PairedTensor) -> tuple[int, int]:
    def width(qtype: str) -> int:
        fmt = ggml.FORMATS.get(qtype)
        return fmt.sub_block if fmt else TensorInfo(t.name, qtype, t.shape).block_values

    return width(t.q4_type), width(t.q6_type)


def _position(
    ctx: WidgetContext, source: Source, t: PairedTensor, stats: TensorStats | None
) -> tuple[int, int]:
    """Where the tile is: movable with files, fixed (around the largest weight) with a digest."""
    if source.pair is None:
        return 0, 0
    index = [x.name for x in source.tensors].index(t.name)
    row_key, block_key = f"{ctx.key}-row-{index}", f"{ctx.key}-block-{index}"
    width = min(256, t.row_length)
    n_blocks = max(1, t.row_length // width)
    if row_key not in st.session_state:
        st.session_state[row_key] = stats.absmax_row if stats else 0
        st.session_state[block_key] = stats.absmax_col // width if stats else 0
    c1, c2, c3 = st.columns([2, 2, 3], vertical_alignment="bottom")
    row = c1.number_input(
        "row", 0, t.n_rows - 1, step=1, key=row_key, help=f"The tile's middle row, of {t.n_rows:,}."
    )
    block = c2.number_input(
        "super-block within the row",
        0,
        n_blocks - 1,
        step=1,
        key=block_key,
        help=f"{n_blocks:,} super-blocks of {width} weights per row.",
    )
    if stats is not None:
        c3.button(
            "Go to the largest weight",
            key=f"{ctx.key}-to-max-{index}",
            icon=":material/my_location:",
            on_click=_jump,
            args=(row_key, block_key, stats.absmax_row, stats.absmax_col // width),
        )
    return int(row), int(block) * width


def _jump(row_key: str, block_key: str, row: int, block: int) -> None:
    st.session_state[row_key] = row
    st.session_state[block_key] = block


def _summary(
    t: PairedTensor, tile: Tile, stats: TensorStats | None, q4: np.ndarray, q6: np.ndarray
) -> None:
    cols = st.columns(4)
    cols[0].metric("weights in the tensor", f"{t.n_weights:,}")
    if stats is None:
        d = (q4 - q6).astype(np.float64)
        cols[1].metric("RMS(Q4 − Q6), this tile", f"{float(np.sqrt(np.mean(d * d))):.3e}")
        cols[2].metric("largest |w|, this tile", f"{float(np.abs(q6).max()):.4f}")
        return
    cols[1].metric("RMS(Q4 − Q6), whole tensor", f"{stats.diff_rms:.3e}",
                   help="Over every weight of the tensor: sqrt(mean((ŵ₄ − ŵ₆)²)).")  # fmt: skip
    cols[2].metric("relative to RMS(w)", f"{stats.relative_diff:.2%}",
                   help=f"RMS(w) of the Q6 file's weights: {stats.ref_rms:.3e}.")  # fmt: skip
    sigmas = stats.ref_absmax / stats.ref_std if stats.ref_std > 0 else 0.0
    cols[3].metric("largest |w| in the tensor", f"{stats.ref_absmax:.4f}",
                   help=f"{sigmas:.1f} standard deviations; at row {stats.absmax_row}, "
                   f"column {stats.absmax_col}.")  # fmt: skip
    if stats.same_bytes:
        st.success(
            f"Both files store this tensor byte for byte alike ({t.q4_type}): the Q4_K_M recipe "
            "gave it the same type the Q6_K file uses, so Q4 − Q6 is exactly zero.",
            icon=":material/equal:",
        )


@registry.fragment
def _histogram(ctx: WidgetContext, tile: Tile, q6: np.ndarray, stats: TensorStats | None) -> None:
    k = st.slider(
        "outlier threshold (standard deviations of the whole tensor)",
        2,
        10,
        DEFAULT_SIGMAS,
        key=f"{ctx.key}-sigmas",
    )
    if stats is not None:
        mean, std, whole = stats.ref_mean, stats.ref_std, (stats.ref_min, stats.ref_max)
    else:
        mean, std, whole = float(q6.mean()), float(q6.std()), None
    rows, cols = np.indices(q6.shape)
    positions = [
        f"row {tile.row0 + r}, column {tile.col0 + c}"
        for r, c in zip(rows.ravel().tolist(), cols.ravel().tolist(), strict=True)
    ]
    show_chart(
        weight_histogram(q6, mean, std, k, whole, positions=positions),
        key=f"{ctx.key}-hist",
        alt=histogram_text(q6, mean, std, k),
    )
    n_out = int(np.sum(np.abs(q6.astype(np.float64) - mean) > k * std)) if std > 0 else 0
    whose = "the whole tensor's" if stats is not None else "this tile's"
    st.caption(
        f"The tile's {q6.size:,} weights from the Q6 file. {n_out} lie beyond ±{k} σ "
        f"({whose} σ = {std:.3e}), marked ×"
        + (
            "; solid lines: the smallest and largest weight of the whole tensor."
            if stats is not None
            else "."
        )
        + " Such outliers stretch the scale of their sub-block."
    )


def _table(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows)


@registry.fragment
def _bytes(ctx: WidgetContext, tile: Tile, stats: TensorStats | None, index: int) -> None:
    """One super-block's raw bytes and fields from each file, as the formats explorer shows them.

    It starts on the super-block that holds the tensor's largest weight when the tile has it.
    """
    st.markdown("**What each file stores for one super-block**")
    last = tile.row0 + tile.rows - 1
    holds_max = (
        stats is not None
        and tile.row0 <= stats.absmax_row <= last
        and tile.col0 <= stats.absmax_col < tile.col0 + tile.cols
    )
    start = stats.absmax_row if holds_max and stats is not None else tile.row0
    row = st.slider(
        "super-block: the weights of this row inside the tile",
        tile.row0,
        last,
        start,
        key=f"{ctx.key}-block-row-{index}-{tile.row0}-{tile.col0}",
        help="Starts on the super-block that holds the tensor's largest weight, if shown.",
    )
    r = row - tile.row0
    sides = (("Q4", tile.q4_type), ("Q6", tile.q6_type))
    for col, (which, qtype) in zip(st.columns(2), sides, strict=True):
        with col:
            _block_view(ctx, tile, which, qtype, r)
    for which, qtype in sides:
        _raw_bytes(tile, which, qtype, r)


def _block_view(ctx: WidgetContext, tile: Tile, which: str, qtype: str, r: int) -> None:
    """d, dmin and the sub-block scales of one file's block, decoded by ggml.unpack_block."""
    st.markdown(f"{which} file: **{plain(qtype)}**")
    if qtype not in ggml.FORMATS:
        st.caption(f"The fields of {plain(qtype)} are not decoded here; its raw bytes are below.")
        return
    b = ggml.unpack_block(tile.block(which, r, 0), qtype)
    c1, c2 = st.columns(2)
    c1.metric("d (fp16)", f"{b.d:.4e}")
    if b.mins.size:
        c2.metric("dmin (fp16)", f"{b.dmin:.4e}")
    if not b.scales.size:
        return
    st.dataframe(
        _table(sub_block_rows(b, tile.col0, encodings=False)),
        hide_index=True,
        key=f"{ctx.key}-scales-{which}",
        column_config={
            "d·scale": st.column_config.NumberColumn(format="%.3e"),
            "dmin·min": st.column_config.NumberColumn(format="%.3e"),
        },
    )


def _raw_bytes(tile: Tile, which: str, qtype: str, r: int) -> None:
    """The block's bytes in file order, one labelled group per field (full width: 16 a line)."""
    n_blocks = tile.blocks_per_row(which)
    if qtype in ggml.FORMATS:
        raw = tile.block(which, r, 0)
        dump = hex_dump(block_fields(qtype), raw)
    else:
        raw = np.concatenate([tile.block(which, r, i) for i in range(min(n_blocks, 2))])
        dump = hex_dump([("bytes", raw.size)], raw)
    more = f", the first of its {n_blocks} blocks" if n_blocks > 1 else ""
    st.caption(f"{which} file ({plain(qtype)}): {raw.size} bytes{more}, in file order")
    st.code(dump, language=None)


@registry.fragment
def _profile(ctx: WidgetContext, source: Source, selected: str) -> None:
    st.markdown("**Across the model: how far apart the two files are, tensor by tensor**")
    if not source.stats:
        st.caption("The per-layer profile needs the statistics of every tensor (see above).")
        return
    chosen = next((t for t in source.tensors if t.name == selected), None)
    tower = chosen.tower if chosen else ""
    points = [
        ProfilePoint(t.name, t.layer, t.q4_type, t.q6_type, s.diff_rms, s.relative_diff)
        for t in source.tensors
        if t.quantized and t.tower == tower and (s := source.stats.get(t.name)) is not None
    ]
    relative = st.toggle(
        "relative to each tensor's RMS",
        key=f"{ctx.key}-relative",
        help="RMS(Q4 − Q6) / RMS(w): compares tensors whose weights have different sizes.",
    )
    show_chart(
        layer_profile(points, relative, selected),
        key=f"{ctx.key}-profile",
        alt=layer_profile_text(points, relative),
    )
    same = [p for p in points if p.q4_type == p.q6_type]
    zero = [p for p in same if p.diff_rms == 0]
    where = f" of the {plain(tower)} tower" if tower else ""
    st.caption(
        f"{len(points)} quantized tensors{where}, each a dot at its layer. "
        f"{len(same)} are {plain(same[0].q4_type) if same else 'Q6_K'} in both files, "
        f"{len(zero)} of them with a difference of exactly 0: the Q4_K_M recipe (Objective 1) "
        "gave them Q6_K, so the Q4 file stores them as the Q6 file does."
    )
