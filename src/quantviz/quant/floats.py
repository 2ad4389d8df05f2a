"""How a weight is stored before any quantization: FP32, FP16 and BF16 bit by bit.

Each format is sign | exponent | mantissa, value ``(-1)^s * 2^(e - bias) * 1.m`` (subnormals
``0.m * 2^(1 - bias)``). The "original" weight of the lab is already one of these roundings:

- FP32: the float64 input rounded to nearest even (numpy's float32 cast).
- FP16: the float64 input rounded to nearest even directly (numpy's float16 cast); beyond 65504
  it overflows to infinity.
- BF16: the top 16 bits of the FP32 pattern, rounded to nearest even on the 16 dropped bits
  (``(u + 0x7FFF + ((u >> 16) & 1)) >> 16``), as PyTorch and the hardware do. NaN stays a quiet
  NaN. Going through FP32 first can differ from a direct float64 rounding in rare exact ties.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

FieldName = Literal["sign", "exponent", "mantissa"]
FIELDS: tuple[FieldName, ...] = ("sign", "exponent", "mantissa")


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE-style binary float: 1 sign bit, `exponent_bits`, `mantissa_bits`."""

    name: str
    exponent_bits: int
    mantissa_bits: int

    @property
    def total_bits(self) -> int:
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def bias(self) -> int:
        return 2 ** (self.exponent_bits - 1) - 1


FP32 = FloatFormat("FP32", exponent_bits=8, mantissa_bits=23)
FP16 = FloatFormat("FP16", exponent_bits=5, mantissa_bits=10)
BF16 = FloatFormat("BF16", exponent_bits=8, mantissa_bits=7)
FORMATS: tuple[FloatFormat, ...] = (FP32, FP16, BF16)


def format_bits(w: ArrayLike, fmt: FloatFormat) -> NDArray[np.uint32]:
    """The stored bit pattern of each value of `w` in `fmt`, as unsigned integers."""
    x = np.asarray(w, dtype=np.float64)
    with np.errstate(over="ignore"):
        if fmt == FP32:
            return x.astype(np.float32).view(np.uint32)
        if fmt == FP16:
            return x.astype(np.float16).view(np.uint16).astype(np.uint32)
        if fmt == BF16:
            f32 = x.astype(np.float32)
            u = f32.view(np.uint32).astype(np.uint64)
            rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
            quiet_nan = (u >> 16) | 0x0040
            return np.where(np.isnan(f32), quiet_nan, rounded).astype(np.uint32)
    raise ValueError(f"unknown format {fmt!r}")


def decode_bits(raw: ArrayLike, fmt: FloatFormat) -> NDArray[np.float64]:
    """The value each bit pattern of `fmt` stands for, as float64 (exactly)."""
    u = np.asarray(raw, dtype=np.uint32)
    if fmt == FP32:
        return u.view(np.float32).astype(np.float64)
    if fmt == FP16:
        return u.astype(np.uint16).view(np.float16).astype(np.float64)
    if fmt == BF16:
        return (u << np.uint32(16)).view(np.float32).astype(np.float64)
    raise ValueError(f"unknown format {fmt!r}")


class BitCell(NamedTuple):
    """One cell of a bit strip: the bit (0 or 1) and the field it belongs to."""

    bit: int
    field: FieldName


@dataclass(frozen=True)
class FloatEncoding:
    """One value stored in one format: its bits, what they decode to, and the rounding error."""

    fmt: FloatFormat
    value: float  # the float64 input
    raw: int  # the stored pattern as an unsigned integer
    decoded: float

    @property
    def bits(self) -> str:
        return format(self.raw, f"0{self.fmt.total_bits}b")

    @property
    def sign(self) -> str:
        return self.bits[0]

    @property
    def exponent(self) -> str:
        return self.bits[1 : 1 + self.fmt.exponent_bits]

    @property
    def mantissa(self) -> str:
        return self.bits[1 + self.fmt.exponent_bits :]

    @property
    def total_bits(self) -> int:
        return self.fmt.total_bits

    @property
    def hex(self) -> str:
        return format(self.raw, f"0{self.fmt.total_bits // 4}x")

    @property
    def kind(self) -> Literal["zero", "subnormal", "normal", "inf", "nan"]:
        e, m = int(self.exponent, 2), int(self.mantissa, 2)
        if e == 0:
            return "zero" if m == 0 else "subnormal"
        if e == 2**self.fmt.exponent_bits - 1:
            return "inf" if m == 0 else "nan"
        return "normal"

    @property
    def exponent_value(self) -> int:
        """The unbiased power of two of a normal number (zero and subnormals: 1 - bias)."""
        return max(int(self.exponent, 2), 1) - self.fmt.bias

    @property
    def error(self) -> float:
        """decoded - value; infinite when the format overflowed."""
        return self.decoded - self.value

    @property
    def abs_error(self) -> float:
        return abs(self.error)

    @property
    def rel_error(self) -> float:
        """|error| / |value|; 0 for an exactly stored 0."""
        if self.value == 0:
            return 0.0 if self.decoded == 0 else float("inf")
        return self.abs_error / abs(self.value)

    @property
    def strip(self) -> list[BitCell]:
        """The bits most significant first, each tagged sign / exponent / mantissa."""
        fields: list[FieldName] = ["sign"]
        fields += ["exponent"] * self.fmt.exponent_bits
        fields += ["mantissa"] * self.fmt.mantissa_bits
        return [BitCell(int(b), f) for b, f in zip(self.bits, fields, strict=True)]


def encode(value: float, fmt: FloatFormat) -> FloatEncoding:
    """Store one float64 `value` in `fmt`."""
    raw = int(format_bits(value, fmt))
    decoded = float(decode_bits(raw, fmt))
    return FloatEncoding(fmt=fmt, value=float(value), raw=raw, decoded=decoded)


def encode_all(value: float) -> list[FloatEncoding]:
    """`value` as FP32, FP16 and BF16, in that order."""
    return [encode(value, fmt) for fmt in FORMATS]
