"""Display units: one format for bytes, tokens and weight counts across the app."""

from __future__ import annotations

import pytest

from quantviz.units import format_billions, format_bytes, format_tokens


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (999, "999 B"),
        (1_500, "2 kB"),
        (74_000_000, "74 MB"),
        (62_914_560, "63 MB"),
        (1_721_349_614, "1.72 GB"),
        (3_190_000_000, "3.19 GB"),
        (-120_000_000, "-120 MB"),
        (2_500_000_000_000, "2.50 TB"),
        (None, "—"),
    ],
)
def test_format_bytes_uses_decimal_units_two_decimals_from_a_gigabyte(n, text):
    """Sizes read like `ollama list` (powers of 1000): GB and TB with two decimals, smaller
    units as whole numbers; an unknown size is a dash."""
    assert format_bytes(n) == text


def test_contexts_and_weight_counts():
    """Contexts that are multiples of 1024 read as 'k'; weight counts in billions."""
    assert format_tokens(8192) == "8k" and format_tokens(6000) == "6,000"
    assert format_billions(5_123_456_789) == "5.12 B"
