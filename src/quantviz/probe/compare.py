"""Two answers to one prompt, compared token by token.

Tokens come from the endpoint's logprobs when both answers carry them, otherwise from a simple
word/punctuation split. With logprobs, over the prefix where both tags produced the same tokens,
we report the mean absolute log-probability difference of the chosen tokens and the top-k overlap
as a Jaccard index |A∩B| / |A∪B| of the two top-k token sets, averaged over positions.

Ollama (0.12.11 and later) returns logprobs on `/api/chat` when asked with `logprobs: true`
and `top_logprobs: k` (0-20): each response chunk carries
`"logprobs": [{"token": str, "logprob": float, "bytes": [int], "top_logprobs":
[{"token", "logprob", "bytes"}]}]` for the tokens of that chunk. `normalize_logprobs` accepts
that shape as dicts or as the `ollama` client's `Logprob` objects.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from quantviz.ollama.client import TokenLogprob

Logprobs = Sequence[Any]
_SIMPLE_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def simple_tokens(text: str) -> list[str]:
    """A tokenizer-free split into words and single punctuation marks, whitespace dropped."""
    return _SIMPLE_TOKEN_RE.findall(text)


# --------------------------------------------------------------------------------------------
# Logprobs and comparison


def _get(entry: Any, key: str, default: Any = None) -> Any:
    if isinstance(entry, Mapping):
        return entry.get(key, default)
    return getattr(entry, key, default)


def normalize_logprobs(raw: Logprobs | None) -> list[TokenLogprob] | None:
    """Logprob entries as `TokenLogprob`s; None or empty (the endpoint sent none) gives None.

    Accepts Ollama's `/api/chat` dicts, the `ollama` client's `Logprob` objects (alternatives in
    `top_logprobs`) and `TokenLogprob`s, the one type of `quantviz.ollama.client` (kept as they
    are).
    """
    if not raw:
        return None
    out: list[TokenLogprob] = []
    for entry in raw:
        if isinstance(entry, TokenLogprob):
            out.append(entry)
            continue
        alternatives = _get(entry, "top_logprobs")
        if alternatives is None:
            alternatives = _get(entry, "top")
        top = tuple(
            TokenLogprob(str(_get(alt, "token", "")), float(_get(alt, "logprob", 0.0)))
            for alt in (alternatives or ())
        )
        out.append(
            TokenLogprob(str(_get(entry, "token", "")), float(_get(entry, "logprob", 0.0)), top)
        )
    return out


@dataclass(frozen=True)
class Comparison:
    """How two answers to one prompt agree.

    `first_diff` is the index of the first differing token (None when the token sequences are
    identical; the shorter length when one is a prefix of the other). `similarity` is difflib's
    ratio over the token sequences (1.0 = identical). Logprob figures cover the agreed prefix:
    `mean_abs_logprob_diff` averages |logprob_a - logprob_b| of the shared tokens and
    `topk_jaccard` averages |top_a ∩ top_b| / |top_a ∪ top_b| per position.
    """

    token_source: Literal["logprobs", "words"]
    first_diff: int | None
    n_tokens: tuple[int, int]
    similarity: float
    agreed_prefix: int
    mean_abs_logprob_diff: float | None = None
    topk_jaccard: float | None = None

    @property
    def identical(self) -> bool:
        return self.first_diff is None


def first_diff(a: Sequence[str], b: Sequence[str]) -> int | None:
    """The index of the first differing token: None when `a` and `b` are equal, the shorter
    length when one is a prefix of the other."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def compare_outputs(
    text_a: str,
    text_b: str,
    logprobs_a: Sequence[TokenLogprob] | None = None,
    logprobs_b: Sequence[TokenLogprob] | None = None,
) -> Comparison:
    """Compare two answers; logprob tokens are used only when both sides have them."""
    with_lp = logprobs_a is not None and logprobs_b is not None
    if logprobs_a is not None and logprobs_b is not None:
        tokens_a = [t.token for t in logprobs_a]
        tokens_b = [t.token for t in logprobs_b]
    else:
        tokens_a, tokens_b = simple_tokens(text_a), simple_tokens(text_b)
    first = first_diff(tokens_a, tokens_b)
    agreed = len(tokens_a) if first is None else first
    similarity = difflib.SequenceMatcher(None, tokens_a, tokens_b, autojunk=False).ratio()
    if not tokens_a and not tokens_b:
        similarity = 1.0
    mean_diff: float | None = None
    jaccard: float | None = None
    if logprobs_a is not None and logprobs_b is not None:
        shared = list(zip(logprobs_a[:agreed], logprobs_b[:agreed], strict=True))
        if shared:
            mean_diff = sum(abs(x.logprob - y.logprob) for x, y in shared) / len(shared)
            overlaps = [
                len(top_a & top_b) / len(top_a | top_b)
                for x, y in shared
                if (top_a := {t.token for t in x.top}) | (top_b := {t.token for t in y.top})
            ]
            jaccard = sum(overlaps) / len(overlaps) if overlaps else None
    return Comparison(
        token_source="logprobs" if with_lp else "words",
        first_diff=first,
        n_tokens=(len(tokens_a), len(tokens_b)),
        similarity=similarity,
        agreed_prefix=agreed,
        mean_abs_logprob_diff=mean_diff,
        topk_jaccard=jaccard,
    )
