"""How integer codes become bytes: 4-bit nibbles, 6-bit codes split 4 + 2, and the fp16 scale.

**Unsigned codes.** Bytes hold unsigned codes, so the seed's signed symmetric codes
``q in [-(2^(b-1) - 1), 2^(b-1) - 1]`` are stored as ``u = q + 2^(b-1)`` (1 .. 2^b - 1; code 0 is
never produced). llama.cpp uses the same offset: Q4_0 stores ``q + 8`` and Q6_K ``q + 32``.
Asymmetric codes are unsigned already (pass ``signed=False``).

**Two layouts.**

- ``"sequential"`` (the toy layer): codes in order. 4 bits: byte ``j`` holds code ``2j`` in its
  low nibble and code ``2j + 1`` in its high nibble. 6 bits: ``ql`` holds the low 4 bits the same
  way, ``qh`` byte ``j`` holds the upper 2 bits of codes ``4j .. 4j + 3`` at bit 0, 2, 4, 6. Any
  other width is one little-endian bit stream (first code in the lowest bits of byte 0); at 4
  bits that stream is exactly the sequential nibble packing.
- ``"ggml"`` (how llama.cpp stores a block): interleaved by half-blocks so a SIMD kernel unpacks
  with one shift. Q4_0, blocks of 32: byte ``j`` = ``q[j]`` low nibble, ``q[j + 16]`` high nibble.
  Q6_K, per 128 values: ``ql[l]`` = low 4 bits of ``q[l]`` (low nibble) and ``q[l + 64]`` (high
  nibble) for l < 64; ``qh[l]`` = upper 2 bits of ``q[l]``, ``q[l + 32]``, ``q[l + 64]``,
  ``q[l + 96]`` at bit 0, 2, 4, 6 for l < 32. A layer smaller than one block is treated as one
  block of its own size (a 4x4 layer: byte j = q[j] | q[j + 8] << 4).

The scale is stored as fp16, little-endian (low byte first), as GGUF files store it. Real Q6_K
super-blocks also carry 16 int8 sub-scales; the toy layer has only the fp16 scale(s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Layout = Literal["sequential", "ggml"]
LAYOUTS: tuple[Layout, ...] = ("sequential", "ggml")
Q4_0_BLOCK = 32  # values per Q4_0 block
Q6_K_CHUNK = 128  # values per Q6_K half super-block (one ql/qh interleave unit)
SCALE_BITS = 16


def to_unsigned(q: ArrayLike, bits: int) -> NDArray[np.uint8]:
    """Signed codes → stored codes: ``q + 2^(bits-1)``; raises if a code does not fit."""
    u = np.asarray(q, dtype=np.int64) + 2 ** (bits - 1)
    return _as_codes(u, bits)


def _as_codes(codes: ArrayLike, bits: int) -> NDArray[np.uint8]:
    if not 1 <= bits <= 8:
        raise ValueError(f"bits must be from 1 to 8, got {bits!r}")
    c = np.asarray(codes, dtype=np.int64).ravel()
    if c.size and (c.min() < 0 or c.max() >= 2**bits):
        raise ValueError(f"codes must lie in 0 .. {2**bits - 1} for {bits} bits")
    return c.astype(np.uint8)


def _ggml_span(n: int, block: int, multiple: int) -> int:
    span = block if n >= block else n
    if span == 0 or span % multiple or n % span:
        raise ValueError(
            f"the ggml layout needs a length that is a multiple of {block} "
            f"(or one block of a multiple of {multiple} below it), got {n}"
        )
    return span


def pack_bitstream(codes: ArrayLike, bits: int) -> NDArray[np.uint8]:
    """Pack `bits`-bit codes into a little-endian bit stream, zero-padded to whole bytes."""
    c = _as_codes(codes, bits)
    stream = np.unpackbits(c[:, None], axis=1, bitorder="little")[:, :bits]  # (n, bits)
    return np.packbits(stream.ravel(), bitorder="little")


def unpack_bitstream(data: ArrayLike, bits: int, n: int) -> NDArray[np.uint8]:
    """The first `n` codes of a stream written by `pack_bitstream`."""
    stream = np.unpackbits(np.asarray(data, dtype=np.uint8), bitorder="little")[: n * bits]
    return np.packbits(stream.reshape(n, bits), axis=1, bitorder="little").ravel()


def pack_4bit(codes: ArrayLike, layout: Layout = "sequential") -> NDArray[np.uint8]:
    """Two 4-bit codes per byte (see the module notes for the nibble order of each layout)."""
    c = _as_codes(codes, 4)
    if layout == "sequential":
        return pack_bitstream(c, 4)
    if layout == "ggml":
        span = _ggml_span(c.size, Q4_0_BLOCK, 2)
        halves = c.reshape(-1, 2, span // 2)  # (n_blocks, 2, span/2)
        return (halves[:, 0] | (halves[:, 1] << 4)).ravel().astype(np.uint8, copy=False)
    raise ValueError(f"unknown layout {layout!r}")


def unpack_4bit(data: ArrayLike, n: int, layout: Layout = "sequential") -> NDArray[np.uint8]:
    """The `n` codes packed by `pack_4bit` with the same layout."""
    d = np.asarray(data, dtype=np.uint8)
    if layout == "sequential":
        return unpack_bitstream(d, 4, n)
    if layout == "ggml":
        span = _ggml_span(n, Q4_0_BLOCK, 2)
        d = d.reshape(-1, 1, span // 2) >> np.array([0, 4], dtype=np.uint8).reshape(1, 2, 1)
        nibbles = (d & 0x0F).ravel()  # (n_blocks, 2, span/2): low nibbles, then high nibbles
        return nibbles.astype(np.uint8, copy=False)
    raise ValueError(f"unknown layout {layout!r}")


def pack_6bit(
    codes: ArrayLike, layout: Layout = "sequential"
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """6-bit codes as `(ql, qh)`: the low 4 bits two per byte, the upper 2 bits four per byte."""
    c = _as_codes(codes, 6)
    low, high = c & 0x0F, c >> 4
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8)
    if layout == "sequential":
        ql = pack_bitstream(low, 4)
        pad = np.zeros(-high.size % 4, dtype=np.uint8)
        quads = np.concatenate([high, pad]).reshape(-1, 4)  # (ceil(n/4), 4)
        qh = np.bitwise_or.reduce(quads << shifts, axis=1).astype(np.uint8)
        return ql, qh
    if layout == "ggml":
        span = _ggml_span(c.size, Q6_K_CHUNK, 4)
        low = low.reshape(-1, 2, span // 2)  # (n_chunks, 2, span/2)
        ql = (low[:, 0] | (low[:, 1] << 4)).ravel().astype(np.uint8, copy=False)
        high = high.reshape(-1, 4, span // 4)  # (n_chunks, 4, span/4)
        qh = np.bitwise_or.reduce(high << shifts.reshape(1, 4, 1), axis=1).astype(np.uint8)
        return ql, qh.ravel()
    raise ValueError(f"unknown layout {layout!r}")


def unpack_6bit(
    ql: ArrayLike, qh: ArrayLike, n: int, layout: Layout = "sequential"
) -> NDArray[np.uint8]:
    """The `n` codes packed by `pack_6bit` with the same layout."""
    ql, qh = np.asarray(ql, dtype=np.uint8), np.asarray(qh, dtype=np.uint8)
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8)
    if layout == "sequential":
        low = unpack_bitstream(ql, 4, n)
        high = ((qh[:, None] >> shifts) & 0x03).ravel()[:n]
        return (low | (high << 4)).astype(np.uint8, copy=False)
    if layout == "ggml":
        span = _ggml_span(n, Q6_K_CHUNK, 4)
        nibbles = ql.reshape(-1, 1, span // 2) >> np.array([0, 4], dtype=np.uint8).reshape(1, 2, 1)
        pairs = qh.reshape(-1, 1, span // 4) >> shifts.reshape(1, 4, 1)
        return ((nibbles & 0x0F).ravel() | ((pairs & 0x03).ravel() << 4)).astype(np.uint8)
    raise ValueError(f"unknown layout {layout!r}")


def hex_bytes(data: ArrayLike, sep: str = " ") -> str:
    """Bytes as two-digit lowercase hex, e.g. ``"a1 0f"``."""
    return sep.join(f"{b:02x}" for b in np.asarray(data, dtype=np.uint8).ravel())


def fp16_bytes(scale: ArrayLike) -> NDArray[np.uint8]:
    """Each scale as fp16, little-endian: two bytes per scale, low byte first."""
    with np.errstate(over="ignore"):
        half = np.asarray(scale, dtype=np.float64).ravel().astype("<f2")
    return half.view(np.uint8)


def fp16_hex(scale: ArrayLike, sep: str = " ") -> str:
    """`fp16_bytes` as hex, e.g. 0.130029 → ``"29 30"``."""
    return hex_bytes(fp16_bytes(scale), sep)


def bits_per_weight(
    bits: int, n_weights: int, n_scales: int = 1, scale_bits: int = SCALE_BITS
) -> float:
    """Storage per weight: the codes plus every fp16 scale (same argument order as schemes')."""
    return (n_weights * bits + n_scales * scale_bits) / n_weights


@dataclass(frozen=True)
class PackedLayer:
    """A layer's codes as the bytes a file would hold, with the scale bytes beside them.

    `arrays` maps ggml's names to byte arrays: ``{"qs": ...}`` for 4 bits and for the bit stream
    of other widths, ``{"ql": ..., "qh": ...}`` for 6 bits.
    """

    bits: int
    layout: Layout
    codes: NDArray[np.uint8]  # the unsigned codes, flattened row-major
    arrays: dict[str, NDArray[np.uint8]]
    scale_bytes: NDArray[np.uint8]  # fp16, little-endian, 2 per scale

    @property
    def n_codes(self) -> int:
        return int(self.codes.size)

    @property
    def n_scales(self) -> int:
        return self.scale_bytes.size // 2

    @property
    def code_bytes(self) -> int:
        return sum(int(a.size) for a in self.arrays.values())

    @property
    def total_bytes(self) -> int:
        return self.code_bytes + int(self.scale_bytes.size)

    @property
    def bits_per_weight(self) -> float:
        """Every stored bit (codes, padding, scales) per weight."""
        return self.total_bytes * 8 / self.n_codes

    @property
    def hex(self) -> dict[str, str]:
        """Each byte array, then ``"scale"``, as hex strings."""
        out = {name: hex_bytes(a) for name, a in self.arrays.items()}
        out["scale"] = hex_bytes(self.scale_bytes)
        return out

    def unpack(self) -> NDArray[np.uint8]:
        """Read the codes back from the bytes."""
        if self.bits == 4:
            return unpack_4bit(self.arrays["qs"], self.n_codes, self.layout)
        if self.bits == 6:
            return unpack_6bit(self.arrays["ql"], self.arrays["qh"], self.n_codes, self.layout)
        return unpack_bitstream(self.arrays["qs"], self.bits, self.n_codes)


def pack_layer(
    q: ArrayLike,
    bits: int,
    scale: ArrayLike,
    layout: Layout = "sequential",
    signed: bool = True,
) -> PackedLayer:
    """Pack a layer's codes (row-major) and its scale(s).

    `q` are the seed's signed codes (offset by 2^(bits-1)) unless ``signed=False``. The ggml
    layout exists for 4 and 6 bits; other widths use the sequential bit stream.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}")
    codes = to_unsigned(q, bits) if signed else _as_codes(q, bits)
    if bits == 4:
        arrays = {"qs": pack_4bit(codes, layout)}
    elif bits == 6:
        ql, qh = pack_6bit(codes, layout)
        arrays = {"ql": ql, "qh": qh}
    elif layout == "ggml":
        raise ValueError(f"the ggml layout is shown for 4 and 6 bits, not {bits}")
    else:
        arrays = {"qs": pack_bitstream(codes, bits)}
    return PackedLayer(bits, layout, codes, arrays, fp16_bytes(scale))
