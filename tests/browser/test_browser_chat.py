"""Chromium against `streamlit run`: the compare chat streams, switches models, and stops."""

from __future__ import annotations

import pytest
from concurrency import wait_for
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer
from streamlit_process import streamlit_app

from quantviz.ui.context import widget_key

K = widget_key("lab2-objective5", "compare-chat")
WIDGET = f".st-key-{K}-box"
INPUT = f'.st-key-{K}-input [data-testid="stChatInputTextArea"]'
MESSAGES = f'{WIDGET} [data-testid="stChatMessage"]'
Q4_REPLY = " ".join(f"four{i}" for i in range(40)) + " END4"
Q6_REPLY = " ".join(f"six{i}" for i in range(10)) + " END6"
LONG_REPLY = " ".join(f"long{i}" for i in range(400))
HOSTILE_SVG = (
    "```svg\n"
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40" width="40" height="40" '
    'onload="window.__pwned = 1">'
    "<script>window.__pwned = 2</script>"
    '<image href="https://evil.example/beacon.png" width="4" height="4"/>'
    '<circle cx="20" cy="20" r="15" fill="#fc0"/></svg>\n```'
)


@pytest.fixture(scope="module")
def chat_server():
    """Scripted replies per tag, streamed slowly enough to watch them arrive."""
    with OllamaTestServer(token_delay=0.04) as server:
        server.script(Q4_TAG, "quantization", Q4_REPLY)
        server.script(Q6_TAG, "quantization", Q6_REPLY)
        server.script("*", "long story", LONG_REPLY)
        server.script("*", "with a script", HOSTILE_SVG)
        yield server


@pytest.fixture(scope="module")
def chat_app(browser, chat_server):
    with streamlit_app(env={"OLLAMA_HOST": chat_server.url}) as url:
        yield url


def _send(page, prompt: str) -> None:
    box = page.locator(INPUT)
    box.click()
    box.fill(prompt)
    box.press("Enter")


def _choose_model(page, label: str, tag: str) -> None:
    page.locator(f".st-key-{K}-model").get_by_text(f"{label} · {tag}").click()


def _messages(page) -> list[str]:
    return page.locator(MESSAGES).all_inner_texts()


def test_type_stream_switch_and_come_back(page, chat_app, chat_server):
    """A typed prompt streams in token by token; Q6 shows its own transcript; back on Q4 the
    first conversation is still there."""
    page.goto(f"{chat_app}/lab2-objective5")
    page.locator(INPUT).wait_for()
    page.get_by_text("No messages with Q4 yet.").wait_for()

    _send(page, "What does quantization do?")
    # Streaming: part of the reply is on screen before its last word.
    page.wait_for_function(
        """sel => { const t = [...document.querySelectorAll(sel)].map(e => e.innerText).join();
                    return t.includes('four3') && !t.includes('END4'); }""",
        arg=MESSAGES,
    )
    page.locator(MESSAGES).filter(has_text="END4").wait_for()
    page.locator(WIDGET).get_by_text("done: stop").wait_for()
    assert "What does quantization do?" in _messages(page)[0]

    _choose_model(page, "Q6", Q6_TAG)
    page.get_by_text("No messages with Q6 yet.").wait_for()
    assert not any("four0" in m for m in _messages(page))
    _send(page, "What does quantization do?")
    page.locator(MESSAGES).filter(has_text="END6").wait_for()
    assert not any("END4" in m for m in _messages(page))

    _choose_model(page, "Q4", Q4_TAG)
    page.locator(MESSAGES).filter(has_text="END4").wait_for()
    assert not any("END6" in m for m in _messages(page))
    assert len(_messages(page)) == 2
    assert page.locator('[data-testid="stException"]').count() == 0
    bodies = [r.body for r in chat_server.requests_to("/api/chat")]
    assert [b["model"] for b in bodies][-2:] == [Q4_TAG, Q6_TAG]


def test_stop_button_keeps_the_partial_reply(page, chat_app, chat_server):
    """Stop mid-reply: the words so far stay, marked stopped, and the server stops sending."""
    page.goto(f"{chat_app}/lab2-objective5")
    page.locator(INPUT).wait_for()
    _send(page, "Tell me a long story.")
    page.locator(MESSAGES).filter(has_text="long5").wait_for()
    page.locator(f".st-key-{K}-stop").get_by_role("button", name="Stop").first.click()
    page.get_by_text("Stopped early").wait_for()
    reply = page.locator(MESSAGES).last.inner_text()
    assert "long5" in reply and "long399" not in reply
    request = chat_server.requests_to("/api/chat")[-1]
    wait_for(lambda: request.finished is not None, timeout=10)  # the whole reply takes 16 s
    assert page.locator(f".st-key-{K}-stop").count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0


def test_side_by_side_draws_a_hostile_svg_as_inert_pictures(page, chat_app, chat_server):
    """Side by side, both tags' SVG answers show as data-URI pictures that really render;
    the SVG's onload and script never run and its external image is never fetched."""
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "evil.example" in r.url else None)
    page.goto(f"{chat_app}/lab2-objective5")
    page.locator(f".st-key-{K}-mode").get_by_text("Side by side").click()
    page.get_by_text("No messages with Q6 yet.").wait_for()
    _send(page, "Draw a pelican on a bicycle, with a script.")
    page.get_by_text("The two requests overlapped").wait_for()
    images = page.locator(f'{WIDGET} [data-testid="stImage"] img')
    images.nth(1).wait_for()
    assert images.count() == 2
    for i in range(2):
        src = images.nth(i).get_attribute("src") or ""
        assert src.startswith("data:image/svg+xml;base64,"), src[:40]
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.evaluate("() => window.__pwned === undefined")
    assert page.locator(f"{WIDGET} script").count() == 0
    assert fetched == []
    assert page.locator('[data-testid="stException"]').count() == 0


def test_side_by_side_rows_keep_each_prompt_at_the_same_height(page, chat_app, chat_server):
    """Side by side, each prompt is a row: after a long Q4 reply and a short Q6 one, the next
    prompt still starts at the same height in both columns; each row shows its settings
    (deterministic by default) and the token where the replies part, in bold."""
    chat_server.script(Q4_TAG, "colour", "The sky is blue today.")
    chat_server.script(Q6_TAG, "colour", "The sky is green today.")
    page.goto(f"{chat_app}/lab2-objective5")
    page.locator(f".st-key-{K}-mode").get_by_text("Side by side").click()
    page.get_by_text("No messages with Q6 yet.").wait_for()
    _send(page, "Explain quantization briefly.")
    page.get_by_text("They part at token 1").wait_for()  # the first row has ended
    _send(page, "What colour is the sky?")
    line = page.get_by_text("They part at token 4")
    line.wait_for()
    assert line.locator("strong").all_inner_texts() == ["blue", "green"]
    messages = page.locator(MESSAGES)
    assert messages.count() == 8  # two rows of (prompt, reply) per tag
    q4_prompt, q6_prompt = messages.nth(4).bounding_box(), messages.nth(6).bounding_box()
    assert q4_prompt and q6_prompt
    assert abs(q4_prompt["y"] - q6_prompt["y"]) < 2, (q4_prompt, q6_prompt)
    assert q4_prompt["x"] < q6_prompt["x"]  # Q4 left, Q6 right
    assert "The sky is blue today." in messages.nth(5).inner_text()
    assert "The sky is green today." in messages.nth(7).inner_text()
    settings = page.get_by_text("Settings: temperature 0.0 · seed 42")
    assert settings.count() == 2
    bodies = [r.body for r in chat_server.requests_to("/api/chat")[-2:]]
    assert all(b["options"]["temperature"] == 0 and b["options"]["seed"] == 42 for b in bodies)
    assert page.locator('[data-testid="stException"]').count() == 0
