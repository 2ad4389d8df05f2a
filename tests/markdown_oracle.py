"""How a Markdown reader would show a string: a second, independent reading for the tests.

`read(md)` renders Markdown with markdown-it-py (CommonMark plus GFM tables and strikethrough)
and reports what a browser would get: the images and links it would build, the visible text, and
the runs of visible text outside code that a GFM autolink pass would turn into links. The
patterns are GFM's autolink-literal rules (www., http(s)://, e-mail, each only after whitespace,
punctuation or the start), applied to decoded text as remark-gfm does (remarkjs/remark-gfm#33:
backslash escapes do not stop them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# A literal counts only after whitespace, punctuation or the start (GFM's "previous" rule).
AUTOLINK_LITERAL = re.compile(
    r"(?i)(?<![a-z0-9])(?:https?://|www\.)[-.\w]+"
    r"|(?<![a-z0-9])[-.\w+]+@[-\w]+(?:\.[-\w]+)+"
    r"|(?<![a-z0-9])(?:mailto|xmpp):[-.\w+]+@"
)


@dataclass
class Reading:
    html: str
    images: list[str] = field(default_factory=list)  # src of every <img>
    links: list[str] = field(default_factory=list)  # href of every <a>
    text: str = ""  # every visible character, code included
    prose: str = ""  # visible text outside <code>

    @property
    def autolinks(self) -> list[str]:
        return AUTOLINK_LITERAL.findall(self.prose)

    @property
    def inert(self) -> bool:
        """Nothing to fetch and nothing to click."""
        return not self.images and not self.links and not self.autolinks


class _Collector(HTMLParser):
    def __init__(self, reading: Reading) -> None:
        super().__init__(convert_charrefs=True)
        self.reading = reading
        self.in_code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.reading.images.append(values.get("src") or "")
            self.reading.text += values.get("alt") or ""
        elif tag == "a":
            self.reading.links.append(values.get("href") or "")
        elif tag == "code":
            self.in_code += 1
        elif tag in ("p", "li", "br", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th"):
            self.reading.text += "\n" if tag not in ("td", "th") else " "
            self.reading.prose += "\n" if tag not in ("td", "th") else " "

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self.in_code -= 1

    def handle_data(self, data: str) -> None:
        self.reading.text += data
        if not self.in_code:
            self.reading.prose += data


def read(markdown: str) -> Reading:
    reading = Reading(_MD.render(markdown))
    _Collector(reading).feed(reading.html)
    return reading


def visible(markdown: str) -> str:
    """The text a reader sees, whitespace folded."""
    return " ".join(read(markdown).text.split())
