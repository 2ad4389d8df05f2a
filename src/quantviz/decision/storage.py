"""Storage arithmetic of two tags (Objective 3): what the smaller file saves, bits per weight.

    bytes saved   = size(larger) - size(smaller)
    percent saved = bytes saved / size(larger) × 100
    size ratio    = size(smaller) / size(larger)
    bits/weight   ≈ size × 8 / parameter count

Sizes come from `/api/tags` (exact bytes), parameter counts from `/api/show`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Average bits per weight of a whole file of that type, as the lab quotes them: Q4_K_M and Q6_K
# are llama.cpp's usual figures; the others are exact for a single-type file.
NOMINAL_BITS_PER_WEIGHT: Mapping[str, float] = {
    "Q4_K_M": 4.8,
    "Q6_K": 6.6,
    "Q8_0": 8.5,
    "F16": 16.0,
    "BF16": 16.0,
    "F32": 32.0,
}


def bits_per_weight(size_bytes: int, parameter_count: int) -> float:
    """Average stored bits per weight: size × 8 / parameter count."""
    if parameter_count <= 0:
        raise ValueError("parameter_count must be positive")
    return size_bytes * 8 / parameter_count


def nominal_bits_per_weight(quantization_level: str | None) -> float | None:
    """The lab's nominal figure for a quantization level ('Q4_K_M' -> 4.8), if it has one."""
    return NOMINAL_BITS_PER_WEIGHT.get((quantization_level or "").strip().upper())


@dataclass(frozen=True)
class StorageRow:
    """One tag's size on the endpoint and what it implies per weight."""

    label: str
    tag: str
    size: int  # bytes, from /api/tags
    parameter_count: int | None = None  # general.parameter_count, from /api/show
    quantization_level: str | None = None

    @property
    def bits_per_weight(self) -> float | None:
        """size × 8 / parameter count (None without a parameter count)."""
        if not self.parameter_count or self.parameter_count <= 0:
            return None
        return bits_per_weight(self.size, self.parameter_count)

    @property
    def nominal_bits_per_weight(self) -> float | None:
        return nominal_bits_per_weight(self.quantization_level)

    @property
    def nominal_size(self) -> float | None:
        """Bytes the file would take at exactly the nominal bits per weight."""
        nominal = self.nominal_bits_per_weight
        if nominal is None or not self.parameter_count:
            return None
        return nominal * self.parameter_count / 8


@dataclass(frozen=True)
class Savings:
    """What the smaller file saves against the larger one."""

    smaller: StorageRow
    larger: StorageRow

    @property
    def bytes_saved(self) -> int:
        return self.larger.size - self.smaller.size

    @property
    def percent_saved(self) -> float | None:
        return self.bytes_saved / self.larger.size * 100 if self.larger.size else None

    @property
    def size_ratio(self) -> float | None:
        return self.smaller.size / self.larger.size if self.larger.size else None

    @property
    def nominal_ratio(self) -> float | None:
        """The ratio the nominal bits per weight predict (4.8 / 6.6 ≈ 0.73 for Q4_K_M/Q6_K)."""
        small, large = self.smaller.nominal_bits_per_weight, self.larger.nominal_bits_per_weight
        return small / large if small and large else None


def compare_sizes(a: StorageRow, b: StorageRow) -> Savings:
    """Savings of the smaller of two tags against the larger (ties keep the given order)."""
    return Savings(a, b) if a.size <= b.size else Savings(b, a)
