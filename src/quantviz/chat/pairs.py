"""The paired side-by-side view: one row per prompt, each tag's reply next to the other's, and
where two replies part.

Rows come from the transcripts (`chat.transcript`): the messages of one side-by-side run share a
`run_id`, so a row is a run's prompt with every tag's reply to it; a prompt sent to one tag only
(the "One model" view, "Ask the other the same") is a row of its own, its other cells empty.

Where two replies part is counted in the model's **tokens** when the server sent them (side by
side asks for log-probabilities, whose entries carry each token's text; Ollama 0.12.11 and later),
else in **words**: `probe.compare.simple_tokens` splits a reply into words and single
punctuation marks (whitespace dropped), the same split the quality probe falls back to. Tokens
are used only when both replies have them and they join to the reply's text (a reply cut at the
class's length limit, or stopped, does not). The line that shows it is inert Markdown: every
piece of model text goes through `text.plain`, and only our own `**` marks the two pieces
where the replies part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from quantviz.chat.transcript import Message
from quantviz.probe.compare import first_diff, simple_tokens
from quantviz.text import plain

CONTEXT_WORDS = 6  # words of the shared beginning shown before the point where replies part
VISIBLE_SPACE = str.maketrans({" ": "␣", "\n": "↵", "\t": "⇥", "\r": ""})


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
    """Where two replies part, in the model's tokens or in words (`simple_tokens`)."""

    index: int | None  # the first piece that differs (0-based); None: the replies are identical
    words: tuple[str | None, str | None]  # each reply's piece there; None: that reply ended
    n_words: tuple[int, int]
    shared: tuple[str, ...]  # the pieces both replies have before `index`
    unit: str = "word"  # "token" when counted in the model's tokens


def _usable(tokens: Sequence[str] | None, text: str) -> bool:
    return bool(tokens) and "".join(tokens or ()) == text


def first_divergence(
    a: str,
    b: str,
    tokens_a: Sequence[str] | None = None,
    tokens_b: Sequence[str] | None = None,
) -> Divergence:
    """The first token (or word) where `a` and `b` differ, or that one of them lacks."""
    if _usable(tokens_a, a) and _usable(tokens_b, b):
        wa, wb, unit = list(tokens_a or ()), list(tokens_b or ()), "token"
    else:
        wa, wb, unit = simple_tokens(a), simple_tokens(b), "word"
    i = first_diff(wa, wb)
    if i is None:
        return Divergence(None, (None, None), (len(wa), len(wb)), tuple(wa), unit)
    at_a = wa[i] if i < len(wa) else None
    at_b = wb[i] if i < len(wb) else None
    return Divergence(i, (at_a, at_b), (len(wa), len(wb)), tuple(wa[:i]), unit)


def _side(label: str, d: Divergence, piece: str | None) -> str:
    shared = d.shared[-CONTEXT_WORDS:]
    joined = "".join(shared) if d.unit == "token" else " ".join(shared)
    lead = ("… " if len(d.shared) > CONTEXT_WORDS else "") + plain(joined.strip())
    if piece is None:
        where = "*(the reply ends here)*"
    else:  # a token of whitespace only would vanish: its spaces and breaks show as ␣ ↵ ⇥
        shown = piece.strip() or piece.translate(VISIBLE_SPACE)
        where = f"**{plain(shown)}**"
    return f"{plain(label)}: {lead + ' ' if lead else ''}{where}"


def divergence_markdown(
    a_label: str,
    a: str,
    b_label: str,
    b: str,
    tokens_a: Sequence[str] | None = None,
    tokens_b: Sequence[str] | None = None,
) -> str:
    """One inert Markdown line: where the replies part, with the piece each has there in bold.

    'They part at word 4 (of 5 and 5 words): Q4: The sky is **blue** · Q6: The sky is **green**'.
    """
    d = first_divergence(a, b, tokens_a, tokens_b)
    counts = f"{d.n_words[0]} and {d.n_words[1]} {d.unit}s"
    if d.index is None:
        return f"Identical replies ({counts})."
    return (
        f"They part at {d.unit} {d.index + 1} (of {counts}): "
        f"{_side(a_label, d, d.words[0])} · {_side(b_label, d, d.words[1])}"
    )
