"""The paired side-by-side view: one row per prompt, each tag's reply next to the other's, and
where two replies part.

Rows come from the transcripts (`chat.transcript`): the messages of one side-by-side run share a
`run_id`, so a row is a run's prompt with every tag's reply to it; a prompt sent to one tag only
(the "One model" view, "Ask the other the same") is a row of its own, its other cells empty.

Where two replies part is counted in **words**: the chat does not ask the server for
log-probabilities, so the model's own tokens are unknown; `probe.compare.simple_tokens` splits a
reply into words and single punctuation marks (whitespace dropped), the same split the quality
probe falls back to. The line that shows it is inert Markdown: every piece of model text goes
through `text.plain`, and only our own `**` marks the two words where the replies part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from quantviz.chat.transcript import Message
from quantviz.probe.compare import simple_tokens
from quantviz.text import plain

CONTEXT_WORDS = 6  # words of the shared beginning shown before the point where replies part


@dataclass
class PairRow:
    """One prompt and each tag's reply to it (a label missing: that tag was not asked)."""

    key: str  # the run id (or the prompt message's id)
    prompt: str
    created_at: str
    replies: dict[str, Message] = field(default_factory=dict)


def paired_rows(transcripts: Mapping[str, Sequence[Message]]) -> list[PairRow]:
    """Each label's transcript folded into rows, one per run, oldest first.

    A reply belongs to the prompt before it in its transcript; replies of the same run (same
    `run_id`) share a row.
    """
    rows: dict[str, PairRow] = {}
    for label, messages in transcripts.items():
        current: PairRow | None = None
        for m in messages:
            if m.role == "user":
                key = m.run_id or m.id
                current = rows.get(key)
                if current is None:
                    current = rows[key] = PairRow(key, m.content, m.created_at)
            elif current is not None and label not in current.replies:
                current.replies[label] = m
    return sorted(rows.values(), key=lambda row: row.created_at)


@dataclass(frozen=True)
class Divergence:
    """Where two replies part, in words (`simple_tokens`)."""

    index: int | None  # the first word that differs (0-based); None: the replies are identical
    words: tuple[str | None, str | None]  # each reply's word there; None: that reply ended
    n_words: tuple[int, int]
    shared: tuple[str, ...]  # the words both replies have before `index`


def first_divergence(a: str, b: str) -> Divergence:
    """The first word where `a` and `b` differ (or that one of them lacks)."""
    wa, wb = simple_tokens(a), simple_tokens(b)
    i = 0
    while i < len(wa) and i < len(wb) and wa[i] == wb[i]:
        i += 1
    if i == len(wa) == len(wb):
        return Divergence(None, (None, None), (len(wa), len(wb)), tuple(wa))
    at_a = wa[i] if i < len(wa) else None
    at_b = wb[i] if i < len(wb) else None
    return Divergence(i, (at_a, at_b), (len(wa), len(wb)), tuple(wa[:i]))


def _side(label: str, shared: Sequence[str], word: str | None) -> str:
    context = list(shared[-CONTEXT_WORDS:])
    lead = ("… " if len(shared) > CONTEXT_WORDS else "") + plain(" ".join(context))
    where = f"**{plain(word)}**" if word is not None else "*(the reply ends here)*"
    return f"{plain(label)}: {lead + ' ' if lead else ''}{where}"


def divergence_markdown(a_label: str, a: str, b_label: str, b: str) -> str:
    """One inert Markdown line: where the replies part, with the word each has there in bold.

    'They part at word 4 of 6 and 6: Q4: The sky is **blue** · Q6: The sky is **green**'.
    """
    d = first_divergence(a, b)
    counts = f"{d.n_words[0]} and {d.n_words[1]} words"
    if d.index is None:
        return f"Identical replies ({counts})."
    return (
        f"They part at word {d.index + 1} (of {counts}): "
        f"{_side(a_label, d.shared, d.words[0])} · {_side(b_label, d.shared, d.words[1])}"
    )
