"""One super-block of 256 weights under every scheme the GGUF formats explorer shows (no streamlit).

The explorer draws 256 weights (normal(0, 0.02), optionally with one outlier), quantizes them
with the seed's per-tensor toy int-N and with every GGUF type of `quant.ggml.FORMATS` exactly as
llama.cpp does, and shows what each stores. Everything it displays is computed here: the draw,
each scheme's codes, bytes and decoded blocks, the scales table of a block, the hex dump of its
bytes, and the sentence on what the largest weight does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from quantviz.quant import ggml, packing
from quantviz.quant.absmax import Distribution, quantize_symmetric
from quantviz.quant.schemes import error_stats

N_WEIGHTS = ggml.QK_K  # one super-block
SIGMA = 0.02
OUTLIER_RANGE = (0.2, 0.4)  # |outlier|: 10 to 20 sigma
TOY = "toy"
TOY_FORMULA = "ŵ = scale · (code − {offset})"  # offset = 2^(bits-1)
GGUF_TYPES = tuple(ggml.FORMATS)  # Q4_0, Q4_K, Q5_K, Q6_K, Q8_0
SCHEMES = (TOY, *GGUF_TYPES)
HEX_BYTES_PER_LINE = 16


def draw_superblock(seed: int, distribution: Distribution = "normal") -> NDArray[np.float32]:
    """256 seeded normal(0, 0.02) weights; "outlier" sets one of them to ±0.2-0.4."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, SIGMA, N_WEIGHTS)
    if distribution == "outlier":
        i = rng.integers(N_WEIGHTS)
        w[i] = rng.choice([-1.0, 1.0]) * rng.uniform(*OUTLIER_RANGE)
    elif distribution != "normal":
        raise ValueError(f"unknown distribution {distribution!r}")
    return w.astype(np.float32)


@dataclass(frozen=True)
class SchemeResult:
    """One scheme applied to the super-block: what it stores and what it reconstructs."""

    scheme: str  # "toy" or a GGUF type name
    name: str  # "toy int4", "Q4_K", ...
    label: str  # for the table: "toy int4 (per tensor)", "Q4_K", ...
    w_hat: NDArray[np.float64]  # (256,)
    codes: NDArray[np.int64]  # (256,) the stored integer code of every weight
    data: NDArray[np.uint8]  # every stored byte of the 256 weights
    blocks: tuple[ggml.BlockFields, ...]  # decoded blocks (empty for the toy)
    block: int  # weights per block with its own fp16 scale
    sub_block: int  # weights per sub-block scale
    bits_per_weight: float  # scales included
    scale: float = 0.0  # the toy's one scale

    @property
    def n_bytes(self) -> int:
        return int(self.data.size)


def quantize_gguf(w: NDArray[np.float32], qtype: str) -> SchemeResult:
    """Quantize with llama.cpp's reference quantizer and decode every block it wrote."""
    fmt = ggml.FORMATS[qtype]
    data = ggml.quantize(w, qtype)
    blocks = tuple(ggml.unpack_block(data, qtype, i) for i in range(w.size // fmt.block_values))
    return SchemeResult(
        scheme=qtype,
        name=qtype,
        label=qtype,
        w_hat=np.concatenate([b.values for b in blocks]).astype(np.float64),
        codes=np.concatenate([b.q for b in blocks]).astype(np.int64),
        data=data,
        blocks=blocks,
        block=fmt.block_values,
        sub_block=fmt.sub_block,
        bits_per_weight=ggml.bits_per_weight(qtype),
    )


def quantize_toy(w: NDArray[np.float32], bits: int) -> SchemeResult:
    """The seed's per-tensor absmax int-N; stored as one fp16 scale and codes q + 2^(bits-1)."""
    q, scale, w_hat = quantize_symmetric(w, bits)
    codes = packing.to_unsigned(q, bits).astype(np.int64)
    data = np.concatenate([packing.fp16_bytes(scale), packing.pack_bitstream(codes, bits)])
    return SchemeResult(
        scheme=TOY,
        name=f"toy int{bits}",
        label=f"toy int{bits} (per tensor)",
        w_hat=np.asarray(w_hat, np.float64),
        codes=codes,
        data=data,
        blocks=(),
        block=w.size,
        sub_block=w.size,
        bits_per_weight=bits + packing.SCALE_BITS / w.size,
        scale=float(scale),
    )


def block_fields(qtype: str) -> list[tuple[str, int]]:
    """The fields of one block in byte order, from the type table: [("d", 2), ...]."""
    return [(f.name, f.n_bytes) for f in ggml.FORMATS[qtype].fields]


def hex_dump(fields: Sequence[tuple[str, int]], data: NDArray[np.uint8]) -> str:
    """Bytes as hex, one labelled group per field, each line led by its offset in the block."""
    lines, start = [], 0
    heads = [f"{name} ({n} B)" for name, n in fields]
    pad = max(len(h) for h in heads) + 2
    for head, (_, n) in zip(heads, fields, strict=True):
        for i in range(0, n, HEX_BYTES_PER_LINE):
            label = head if i == 0 else ""
            chunk = data[start + i : start + min(n, i + HEX_BYTES_PER_LINE)]
            lines.append(f"{label:<{pad}}{start + i:03x}  {packing.hex_bytes(chunk)}")
        start += n
    return "\n".join(lines)


def outlier_caption(
    w: NDArray[np.float32],
    toy: SchemeResult,
    q4k: SchemeResult,
    bits: int,
    distribution: Distribution = "outlier",
) -> str:
    """One sentence from the numbers: what the largest weight does to the toy scale and to Q4_K."""
    w = np.asarray(w, np.float64)
    i = int(np.abs(w).argmax())
    rest = np.delete(w, i)
    ratio = abs(w[i]) / float(np.sqrt(np.mean(rest * rest)))
    zeros = int(np.sum(toy.codes == 2 ** (bits - 1)))
    t, k = error_stats(w, toy.w_hat).rmse, error_stats(w, q4k.w_hat).rmse
    if k < t:
        verdict = f"keeps RMSE at {k:.3g}, {t / k:.1f}× lower"
    else:  # many toy bits beat Q4_K's 4.5
        extra = toy.bits_per_weight - q4k.bits_per_weight
        verdict = (
            f"has RMSE {k:.3g}, {k / t:.1f}× the toy's, which spends {extra:.2f} more bits "
            "per weight"
        )
    verb = "rounds" if zeros == 1 else "round"
    toy_part = (
        f"sets the toy int{bits} scale to {toy.scale:.3g}, so {zeros} of 256 weights {verb} to 0 "
        f"(RMSE {t:.3g})"
    )
    sub = q4k.blocks[0].sub_scales  # (8,) d·sc of each sub-block of 32
    if distribution != "outlier":
        return (
            f"With no outlier the largest weight, w[{i}] = {w[i]:+.4f}, is {ratio:.1f}× the RMS "
            f"of the others; it {toy_part}. Q4_K fits a scale to each sub-block of 32 "
            f"({sub.min():.3g} to {sub.max():.3g}) and {verdict}."
        )
    n = q4k.sub_block
    s = i // n
    others = float(np.median(np.delete(sub, s)))
    return (
        f"The outlier w[{i}] = {w[i]:+.3f} ({ratio:.0f}× the RMS of the others) {toy_part}. "
        f"Q4_K gives only its sub-block {s} (weights {s * n}–{s * n + n - 1}) a coarse scale, "
        f"{sub[s]:.3g}, against a median of {others:.3g} for the other seven, and {verdict}."
    )


def formula(scheme: str, bits: int) -> str:
    """How the scheme turns what it stores into weights (the toy's offset for `bits`)."""
    if scheme == TOY:
        return TOY_FORMULA.format(offset=2 ** (bits - 1))
    return ggml.FORMATS[scheme].formula


def sub_block_rows(
    block: ggml.BlockFields, first: int = 0, *, encodings: bool = True
) -> list[dict[str, object]]:
    """A row per sub-block of a block with sub-block scales: its weights, stored scale (and
    min), and the float scale (and min) they give. Columns are named after the stored field
    ("6-bit scale", "int8 scale") unless `encodings` is False ("scale", "min"); `first` is the
    number of the block's first weight."""
    encoding = next(f.encoding for f in ggml.FORMATS[block.qtype].fields if f.name == "scales")
    label = f"{encoding} " if encodings else ""
    n = block.sub_block
    rows: list[dict[str, object]] = []
    for s in range(block.scales.size):
        row: dict[str, object] = {
            "sub-block": s,
            "weights": f"{first + s * n}–{first + (s + 1) * n - 1}",
            f"{label}scale": int(block.scales[s]),
        }
        if block.mins.size:
            row[f"{label}min"] = int(block.mins[s])
        row["d·scale"] = float(block.sub_scales[s])
        if block.mins.size:
            row["dmin·min"] = float(block.sub_mins[s])
        rows.append(row)
    return rows


def block_rows(result: SchemeResult) -> list[dict[str, object]]:
    """A row per block of a type with one fp16 d per block (Q4_0, Q8_0): its weights and d."""
    n = result.block
    return [
        {
            "block": i,
            "weights": f"{n * i}–{n * i + n - 1}",
            "d (fp16)": blk.d,
            "d bytes": packing.fp16_hex(blk.d),
        }
        for i, blk in enumerate(result.blocks)
    ]
