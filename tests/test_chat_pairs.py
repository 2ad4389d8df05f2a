"""chat.pairs: side-by-side rows from the transcripts, and where two replies part."""

from __future__ import annotations

from quantviz.chat.pairs import divergence_markdown, first_divergence, paired_rows
from quantviz.chat.transcript import Message


def _turn(label: str, prompt: str, reply: str, run_id: str, at: str) -> list[Message]:
    return [
        Message("user", prompt, run_id=run_id, created_at=at),
        Message("assistant", reply, label=label, run_id=run_id, created_at=at),
    ]


def test_replies_of_one_run_share_a_row_and_rows_keep_their_order():
    """A side-by-side run is one row with both replies; a prompt sent to one tag only is a row
    of its own with the other cell empty; rows are oldest first."""
    q4 = [
        *_turn("Q4", "first", "a1", "run1", "2026-01-01T10:00:00"),
        *_turn("Q4", "alone", "a2", "solo", "2026-01-01T10:01:00"),
        *_turn("Q4", "third", "a3", "run3", "2026-01-01T10:02:00"),
    ]
    q6 = [
        *_turn("Q6", "first", "b1", "run1", "2026-01-01T10:00:00"),
        *_turn("Q6", "third", "b3", "run3", "2026-01-01T10:02:00"),
    ]
    rows = paired_rows({"Q4": q4, "Q6": q6})
    assert [r.prompt for r in rows] == ["first", "alone", "third"]
    assert {k: m.content for k, m in rows[0].replies.items()} == {"Q4": "a1", "Q6": "b1"}
    assert list(rows[1].replies) == ["Q4"]
    assert rows[2].replies["Q6"].content == "b3"


def test_a_prompt_still_waiting_for_its_reply_has_no_reply_yet():
    """A prompt without an answer yet (or an empty transcript) makes no false pairs."""
    rows = paired_rows({"Q4": [Message("user", "hi", run_id="r")], "Q6": []})
    assert len(rows) == 1 and rows[0].replies == {}
    assert paired_rows({"Q4": [], "Q6": []}) == []


def test_first_divergence_counts_words_and_punctuation():
    """'The sky is blue.' against 'The sky is green.': the fourth word (index 3)."""
    d = first_divergence("The sky is blue.", "The sky is green.")
    assert d.index == 3
    assert d.words == ("blue", "green")
    assert d.n_words == (5, 5)
    assert d.shared == ("The", "sky", "is")


def test_identical_and_ending_early():
    """Same words (whitespace aside) are identical; a reply that stops early parts where it
    ends."""
    assert first_divergence("Yes,  it is.", "Yes, it\nis.").index is None
    d = first_divergence("Paris", "Paris, France")
    assert d.index == 1 and d.words == (None, ",")


def test_the_line_marks_the_two_words_and_keeps_model_text_inert():
    """The words where the replies part are bold; model text that looks like Markdown or HTML
    is escaped, so it shows as typed."""
    line = divergence_markdown("Q4", "The sky is blue.", "Q6", "The sky is green.")
    assert line == (
        "They part at word 4 (of 5 and 5 words): Q4: The sky is **blue** · Q6: The sky is **green**"
    )
    hostile = divergence_markdown("Q4", "[y](x) <b>*blue*", "Q6", "[y](x) <b>*green*")
    assert "<b>" not in hostile and "](" not in hostile
    assert "Q4: … x \\) \\< b \\> \\* **blue** · " in hostile  # escaped, shown as typed
    assert divergence_markdown("Q4", "Same.", "Q6", "Same.") == "Identical replies (2 and 2 words)."


def test_long_shared_beginnings_are_cut_to_the_last_words():
    """Only the last six shared words are shown before the difference, after an ellipsis."""
    a = "one two three four five six seven eight nine ten alpha"
    b = "one two three four five six seven eight nine ten beta"
    assert divergence_markdown("Q4", a, "Q6", b).endswith(
        "Q6: … five six seven eight nine ten **beta**"
    )
    assert "ends here" in divergence_markdown("Q4", "a b", "Q6", "a b c")


def test_the_models_tokens_are_used_when_both_replies_have_them():
    """With each reply's tokens (from logprobs), the count is in tokens and the context keeps
    the tokens' own spacing; a token that is only a space shows as a visible mark."""
    a_tokens = ["The", " sky", " is", " blue", "."]
    b_tokens = ["The", " sky", " is", " ", "green", "."]
    line = divergence_markdown("Q4", "".join(a_tokens), "Q6", "".join(b_tokens), a_tokens, b_tokens)
    assert line == (
        "They part at token 4 (of 5 and 6 tokens): Q4: The sky is **blue** · Q6: The sky is **␣**"
    )


def test_tokens_that_do_not_spell_the_reply_are_not_used():
    """Tokens that do not join to the reply's text (a reply cut at the length limit) fall back
    to words; so does a reply without tokens."""
    d = first_divergence("The sky is blue.", "The sky is green.", ["The", " sky"], None)
    assert d.unit == "word" and d.index == 3
    d = first_divergence("ab", "ac", ["a", "b"], ["a", "c"])
    assert d.unit == "token" and d.index == 1 and d.words == ("b", "c")


def test_a_line_break_token_is_shown_as_a_mark():
    """A token that is a line break shows as ↵ in bold, not as an empty bold pair."""
    line = divergence_markdown("Q4", "Hi\n", "Q6", "Hi!", ["Hi", "\n"], ["Hi", "!"])
    assert line.endswith("Q4: Hi **↵** · Q6: Hi **\\!**")
