"""Display units, one function each: bytes, contexts in tokens, weight counts (no streamlit).

`format_bytes` uses decimal units as Ollama and the lab do (GB = 10^9 bytes). GB and TB keep two
decimals: model files and memory budgets are compared to within 10 MB (a Q4 file of 3.11 GB
against a budget of 3.50 GB, "0.12 GB more"). MB, kB and B are whole numbers: below a GB the
figures are parts of a whole (a 63 MB KV cache, a 512 MB layer), where a whole number is exact
enough and reads as Ollama's own `format.HumanBytes` does at ten units and more
(ollama `format/bytes.go`, commit fb30760996871fa9460115c753afd2c60d4ab0f7).
"""

from __future__ import annotations

GB = 10**9
_UNITS = (("TB", 10**12, 2), ("GB", GB, 2), ("MB", 10**6, 0), ("kB", 10**3, 0))


def format_bytes(n: float | None) -> str:
    """3_190_000_000 -> '3.19 GB', 74_000_000 -> '74 MB', 512 -> '512 B', None -> '—'."""
    if n is None:
        return "—"
    value = float(n)
    for unit, size, decimals in _UNITS:
        if abs(value) >= size:
            return f"{value / size:.{decimals}f} {unit}"
    return f"{value:.0f} B"


def format_tokens(n: int) -> str:
    """Contexts the way people say them: 8192 -> '8k', 6000 -> '6,000'."""
    return f"{n // 1024}k" if n >= 1024 and n % 1024 == 0 else f"{n:,}"


def format_billions(n: float) -> str:
    """A count of weights in billions: 5_123_456_789 -> '5.12 B'."""
    return f"{n / 1e9:.2f} B"
