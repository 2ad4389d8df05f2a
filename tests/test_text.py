"""Outside text made inert: `plain` for server strings, `model_markdown` for model output.

Every expectation here is read back through `markdown_oracle` (markdown-it-py rendering the
output as HTML), not compared with this module's own escaping.
"""

from __future__ import annotations

import random

import pytest
from markdown_oracle import read, visible

from quantviz.text import code_fences, code_span, fence, model_markdown, plain

ATTACKER = "http://127.0.0.1:9/x.png"
ISSUE_11_FORMS = {
    "reference-style": f"A ![logo] here.\n\n[logo]: {ATTACKER}",
    "nested brackets": f"![a [b] c]({ATTACKER})",
    "line break in the alt": f"![multi\nline]({ATTACKER})",
    "escaped bracket": f"![esc \\] x]({ATTACKER})",
    "fence with a backtick in its info": f"```a`b\n![fence]({ATTACKER})\n",
    "html": f'<img src="{ATTACKER}">',
    "html block": f'<div>\n<img src="{ATTACKER}">\n</div>',
    "link": f"[click]({ATTACKER})",
    "autolink": f"<{ATTACKER}>",
    "bare url": f"see {ATTACKER} now",
    "www": "see www.example.invalid/a now",
    "email": "mail root@example.invalid now",
}


@pytest.mark.parametrize("form", ISSUE_11_FORMS, ids=list(ISSUE_11_FORMS))
def test_model_markdown_leaves_nothing_to_fetch_or_click(form):
    """Each form a browser turned into an image or a link reads back with no image, no link and
    no autolink candidate outside code."""
    shown = read(model_markdown(ISSUE_11_FORMS[form]))
    assert shown.images == [], shown.html
    assert shown.links == [], shown.html
    assert shown.autolinks == [], shown.prose


def test_images_show_their_alt_text_and_links_their_url():
    """An image becomes `[image: alt]`; a link its words then its URL; raw HTML its characters;
    a reference definition is not shown."""
    assert visible(model_markdown(ISSUE_11_FORMS["reference-style"])) == "A [image: logo] here."
    assert visible(model_markdown(ISSUE_11_FORMS["nested brackets"])) == "[image: a [b] c]"
    assert visible(model_markdown(ISSUE_11_FORMS["line break in the alt"])) == (
        "[image: multi line]"
    )
    assert visible(model_markdown(ISSUE_11_FORMS["escaped bracket"])) == "[image: esc ] x]"
    assert visible(model_markdown(ISSUE_11_FORMS["link"])) == f"click ({ATTACKER})"
    assert visible(model_markdown(ISSUE_11_FORMS["autolink"])) == ATTACKER
    assert visible(model_markdown(ISSUE_11_FORMS["html"])) == ISSUE_11_FORMS["html"]
    assert visible(model_markdown("![](http://x/y.png)")) == "[image]"


def test_structure_survives():
    """Paragraphs, emphasis, lists (nested, numbered from their start), quotes, headings,
    tables, strikethrough and code keep their shape."""
    text = (
        "# Title\n\nSome *em*, **strong**, ~~gone~~ and `code`.\n\n"
        "3. three\n4. four\n   - nested\n\n> quoted\n\n"
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "```python\nprint('```')\n```\n"
    )
    html = read(model_markdown(text)).html
    assert "<h3>Title</h3>" in html  # headings two levels down
    assert "<em>em</em>" in html and "<strong>strong</strong>" in html
    assert "<s>gone</s>" in html and "<code>code</code>" in html
    assert '<ol start="3">' in html and "<li>four\n<ul>\n<li>nested</li>" in html
    assert "<blockquote>\n<p>quoted</p>" in html
    assert '<th style="text-align:left">a</th>' in html
    assert '<td style="text-align:right">2</td>' in html
    assert "<code class=\"language-python\">print('```')\n</code>" in html


def test_ordinary_prose_reads_as_written():
    """Punctuation, numbers, prices, comparisons and colons show exactly as the model wrote."""
    prose = 'You asked: "What is 3.5 < 4?". It costs $5 & 10:30, a_b, x*y, 1) no list #1!'
    assert visible(model_markdown(prose)) == prose


def test_lines_that_would_start_blocks_stay_prose():
    """A line of a paragraph starting with -, +, #, = or `1.` inside text does not become a list,
    heading or setext underline once written back."""
    assert "<ul>" in read(model_markdown("first\n- x")).html  # a real list stays a list
    for line in ("\\- a", "\\+ b", "1\\. c", "\\= d"):
        html = read(model_markdown(f"para\n{line}")).html
        assert "<li>" not in html and "<h" not in html, html


def test_streamlit_directives_and_math_stay_text():
    """`:material/...:`, `:red[...]`, emoji shortcodes and `$...$` are shown, not interpreted."""
    text = ":material/home: :red[alarm] :smile: $x^2$"
    out = model_markdown(text)
    assert visible(out) == text
    for broken in ("\\:material/", "\\:red\\[", "\\:smile:", "\\$x"):
        assert broken in out, out  # each one's first character is escaped in the source


def test_fuzzed_markup_never_builds_an_image_or_link():
    """Random strings of Markdown punctuation, brackets, URLs and line breaks: whatever the
    parser makes of them, the written-back Markdown reads with no image and no link."""
    rng = random.Random(11)
    pieces = ["![", "[", "]", "(", ")", "<", ">", "\\", "`", "```", "~~~", "\n", "\n\n", "*",
              "_", "!", ":", "http://e.invalid/p.png", "www.e.invalid", "a@e.invalid", " ",
              "x", "#", "- ", "1. ", "|", "&amp;", "&#33;", "'", '"', "[r]: /u"]  # fmt: skip
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        out = model_markdown(text)
        assert read(out).inert, (text, out)


def test_plain_shows_server_strings_exactly_on_one_line():
    """`plain` folds whitespace and shows every character, including image syntax and URLs, with
    nothing to fetch or click."""
    hostile = f"![q]({ATTACKER}) **bold** <b>x</b> :material/home: www.e.invalid &amp;"
    shown = read(plain(hostile + "\nsecond line"))
    assert shown.inert, shown.html
    assert visible(plain(hostile + "\nsecond line")) == hostile + " second line"


def test_code_span_and_fence_hold_any_backticks():
    """A code span or fence around text full of backticks shows that text verbatim."""
    tricky = "a ` b `` c ```` d"
    assert read(code_span(tricky)).text.strip() == tricky
    assert read(code_span("`x`")).text.strip() == "`x`"
    block = fence("```\n![x](http://e/p.png)\n````", "text ignored`")
    assert read(block).images == []
    assert read(block).text.strip() == "```\n![x](http://e/p.png)\n````"


# --------------------------------------------------------------------------- code fences


def test_code_fences_follow_commonmark():
    """A ``` block ends only at a bare fence as long: ```python inside it is code, ```` holds
    ```, an unclosed fence runs to the end, and text that merely contains ``` is no fence."""
    text = "a\n```\n```python\nx\n```\n~~~~ svg\n~~~\n~~~~\n```json\n{}"
    fences = code_fences(text)
    assert [(f.info, f.body, f.closed) for f in fences] == [
        ("", "```python\nx\n", True),
        ("svg", "~~~\n", True),
        ("json", "{}", False),
    ]
    assert text[fences[0].start : fences[0].end] == "```\n```python\nx\n```\n"
    assert fences[-1].end == len(text)
    assert code_fences("Sure: ```json {} ``` done") == []


def test_code_fences_inside_a_quote_drop_its_markers():
    """A fence in a block quote is found, its body without the `> ` prefixes."""
    (fence,) = code_fences("> ```xml\n> <svg/>\n> ```\nafter")
    assert (fence.info, fence.body, fence.closed) == ("xml", "<svg/>\n", True)
