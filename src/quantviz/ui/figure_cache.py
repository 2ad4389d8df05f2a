"""Figures shared between sessions: built once per distinct input, read by every session.

A class opens Objective 1 at once, and every fresh session asks for the same default figures
(the single-weight explorer at w = 0.156347, the grid explorer's seed-7 layer). Building one
is most of an explorer's cost per page (the grid's seven-width figure ~6 ms, plus its text
alternative); a 100-session burst paid it 100 times. `figure_cache` memoises a builder on its
hashable inputs (an LRU of `MAX_ENTRIES` per builder, so a student typing many values cannot
grow it without bound).

Sharing is safe because nothing changes a cached figure after it is built: `st.plotly_chart`
only reads it (`Figure.to_dict` copies), and `show_chart` reads its title.
`tests/test_figure_cache.py` renders the explorers and checks the cached figures are unchanged
and the hits. Two sessions that miss at once may both build; the second result wins, and both
are equal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")
MAX_ENTRIES = 64


def figure_cache(builder: Callable[..., R]) -> functools._lru_cache_wrapper[R]:
    """`builder` memoised on its (hashable) arguments; its results must never be mutated.

    The wrapper keeps `cache_info()` and `cache_clear()` (tests read and reset them)."""
    cached: functools._lru_cache_wrapper[R] = functools.lru_cache(maxsize=MAX_ENTRIES)(builder)
    return cached
