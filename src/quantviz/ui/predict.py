"""An explorer's "predict, then look" box: the question, the student's guess, the observed answer.

    from quantviz.ui.predict import prediction_box

    prediction_box(f"{key}-predict", question, observe=lambda: "8 bits (0.85 %)")

The explorer owns the question and computes the observed answer with the core (`observe` runs
only on the click, so the box costs nothing on other reruns). One click reveals the answer and
adds `{question, guess, observed}` to the evidence log as a record of kind `explorer`, titled
"Prediction: <title>". The guess is kept as typed and shown back as plain text (`text.plain`).

This is a widget-level feature, not a lab-format one: the lab's Execute section says
"Record your guess and the observed ..." and the evidence record carries both.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from quantviz.report.measurements import Prediction, PredictionName
from quantviz.text import plain
from quantviz.ui import session

GUESS_CHARS = 200  # a number or a sentence; the evidence log has its own byte cap
REVEAL_LABEL = "Reveal the answer and record my guess"


def prediction_box(
    key: str,
    name: PredictionName,
    title: str,
    question: str,
    observe: Callable[[], str],
    setting: str = "",
) -> None:
    """The box: `question`, a guess field, and a reveal button that records both.

    `setting` names the explorer's values the answer depends on (e.g. "w = 0.156347, max|w| =
    0.910203"); it is recorded beside the question. `name` is the typed measurement the reveal
    also records (`Measurements.record_prediction`), which pre-fills the lab's record field
    (`data-measured="explorer.<name>_prediction"`). Call it from its own `st.fragment`, so
    typing a guess does not rerun the explorer and the explorer's reruns skip the box.

    Keys: `{key}-guess` (the field), `{key}-reveal` (the button), `{key}-revealed` (the
    `(question, setting, guess, observed)` last revealed, kept in session state so a rerun
    still shows it).
    """
    with st.container(border=True, key=f"{key}-box"):
        st.markdown(f"**Predict, then look.** {question}")
        row = st.container(horizontal=True, vertical_alignment="bottom")
        guess = row.text_input(
            "Your guess", key=f"{key}-guess", max_chars=GUESS_CHARS, placeholder="before you look"
        )
        clicked = row.button(
            REVEAL_LABEL,
            key=f"{key}-reveal",
            disabled=not guess.strip(),
            icon=":material/visibility:",
            help="Shows the answer the explorer computes and saves your guess beside it.",
        )
        if clicked and guess.strip():
            observed = observe()
            payload = {
                "question": question,
                "setting": setting,
                "guess": guess.strip(),
                "observed": observed,
            }
            session.measurements().record_prediction(
                name, Prediction(question, setting, guess.strip(), observed)
            )
            if session.record("explorer", f"Prediction: {title}", payload) is not None:
                st.session_state[f"{key}-revealed"] = (question, setting, guess.strip(), observed)
        revealed = st.session_state.get(f"{key}-revealed")
        if revealed is not None and revealed[:2] == (question, setting):
            st.markdown(
                f"Your guess: **{plain(revealed[2])}**. Observed: **{plain(revealed[3])}** "
                f"({plain(setting)}). Both are in your evidence."
            )
