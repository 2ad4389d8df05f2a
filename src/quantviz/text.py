"""Text from outside the app, made inert for Streamlit's Markdown (no streamlit here).

Two kinds of outside text reach `st.markdown`, captions, labels, notices and reports:

* **strings from a server or an exception** (an error message, a tag's quantization level, a
  tensor type, a version): `plain(text)`, one line, every Markdown character escaped;
* **model output**: `model_markdown(text)` parses the reply as CommonMark with markdown-it-py
  (plus GFM tables and strikethrough) and writes it back as Markdown the browser can only show.
  Paragraphs, emphasis, lists, quotes, tables and code blocks keep their shape; an image becomes
  `[image: alt]`; a link becomes its text followed by its URL as inline code; raw HTML is shown
  as the characters it is made of.

Why a parser and then escaping, not a pattern: the browser reads Markdown with its own parser
(react-markdown, remark with GFM, plus Streamlit's directives, icons, emoji and math), and every
pattern-based filter missed a form it accepts (a reference-style image, nested or escaped
brackets or a line break in the alt text, a "fence" CommonMark does not treat as one). Here the
parser decides the structure, and the text between the structure is escaped so that no character
of it can start markup, whatever parser reads it next:

* `\\ ` * [ ] < > ! | ~ $ { }` are always escaped; `_` unless it stands inside a word (where
  CommonMark never reads it as emphasis); `:` when a non-space character of the same text
  follows it (`:icon:`, `:red[`, `scheme:`), `&` before a letter or `#` (entities), and at the
  start of a line `# + - =` and the `.`/`)` of `1.`/`1)`;
* URL-like runs (`scheme://...`, `www....`, `name@host.tld`) are put in inline code. remark-gfm
  finds autolink literals in the *decoded* text, so backslashes cannot stop them
  (remarkjs/remark-gfm#33); inline code is never autolinked.

Code spans and fenced blocks are the only raw text in the output; their fences are longer than
any backtick run inside, so nothing inside can close them.

`code_fences(text)` is the one fence detector of the app (the probe's checkers and the chat's SVG
answers use it): the same parser finds the fenced code blocks, as CommonMark defines them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

# Characters `plain` escapes (one-line strings: labels, captions, notices); `_` and `-` only
# where they could delimit something, i.e. not between two letters or digits ("Q4_K_M").
_PLAIN_SPECIAL = re.compile(r"([\\`*{}\[\]()<>#+.!|~:$]|(?<![^\W_])[_\-]|[_\-](?![^\W_]))")
# Characters model text escapes everywhere; the others depend on what follows (see module doc).
_ALWAYS = frozenset("\\`*[]<>!|~${}")
_URLISH = re.compile(
    r"(?i)(?<![a-z0-9])(?:"
    r"[a-z][a-z0-9+.\-]*:/+[^\s<>`\"']+"  # scheme://...
    r"|www\d{0,3}\.[^\s<>`\"']*"  # www.example.org
    r"|(?:mailto|xmpp):[^\s<>`\"']+"
    r")|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"  # name@host.tld
)
ZWSP = "\u200b"  # keeps two adjacent code spans apart, invisibly
_URL_TAIL = ".,:;!?)]}*_~"  # trailing punctuation is the sentence's, not the URL's (as in GFM)
_SCHEME_ONLY = re.compile(r"(?i)[a-z][a-z0-9+.\-]*:/*")
_LINE_START_ORDERED = re.compile(r"^(\d{1,9})([.)])")
_INFO_WORD = re.compile(r"[\w+#.\-]{1,32}")
_CONTAINER_PREFIX = re.compile(r"^[ \t>]*")  # block quote markers and indentation


# --------------------------------------------------------------------------- short strings


def plain(text: object) -> str:
    """`text` for st.markdown, a caption, a label or a notice: shown exactly, never as markup.

    Whitespace folds to single spaces (a label is one line); every Markdown character is
    escaped (`_` and `-` inside a word cannot delimit anything and stay as they are); URL-like
    runs become inline code so no parser turns them into links.
    """
    folded = " ".join(str(text).split())
    return _with_code_urls(folded, lambda run, _first: _entities(_PLAIN_SPECIAL.sub(r"\\\1", run)))


def code_span(text: str) -> str:
    """`text` as one inline code span, whatever backticks it holds (newlines become spaces)."""
    body = " ".join(str(text).splitlines())
    if not body:
        return ""
    ticks = "`" * (_longest_run(body, "`") + 1)
    if body.startswith("`") or body.endswith("`") or (body[0] == " " and body[-1] == " "):
        body = f" {body} "
    return f"{ticks}{body}{ticks}"


def fence(text: str, info: str = "") -> str:
    """A fenced code block holding `text` verbatim; no line inside can close it."""
    ticks = "`" * max(3, _longest_run(text, "`") + 1)
    word = _INFO_WORD.match(info.strip())
    return f"{ticks}{word.group(0) if word else ''}\n{text.rstrip(chr(10))}\n{ticks}"


def _longest_run(text: str, char: str) -> int:
    return max((len(m) for m in re.findall(f"{re.escape(char)}+", text)), default=0)


def _entities(text: str) -> str:
    return re.sub(r"&(?=[#A-Za-z])", r"\\&", text)


def _trim_url(url: str) -> str:
    """Drop trailing punctuation that belongs to the sentence (a `)` only when unbalanced)."""
    while url and url[-1] in _URL_TAIL:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _with_code_urls(text: str, escape: Callable[[str, bool], str]) -> str:
    """`escape(run, first)` applied to the text around URL-like runs; those become code spans."""
    out, pos = [], 0
    for match in _URLISH.finditer(text):
        url = _trim_url(match.group(0))
        if not url or _SCHEME_ONLY.fullmatch(url):
            continue  # "http://" alone names a scheme in a sentence; it is no address
        out.append(escape(text[pos : match.start()], pos == 0))
        out.append(code_span(url))
        pos = match.start() + len(url)
    out.append(escape(text[pos:], pos == 0))
    return _join(out)


def _join(pieces: Iterable[str]) -> str:
    """Concatenate, keeping two code spans apart: "`a`" + "``b``" would read as one run "```"."""
    out: list[str] = []
    for piece in pieces:
        if piece and out and out[-1].endswith("`") and piece.startswith("`"):
            out.append(ZWSP)
        out.append(piece)
    return "".join(out)


# --------------------------------------------------------------------------- model output


def escape_text(text: str, *, line_start: bool = False) -> str:
    """Running text on one line with every character that could start markup escaped.

    `line_start`: the text begins a line, where `#`, `-`, `1.` and the like start blocks.
    """
    one_line = text.replace("\r", " ").replace("\n", " ")
    return _with_code_urls(one_line, lambda run, first: _escape_run(run, line_start and first))


def _escape_run(text: str, line_start: bool) -> str:
    out: list[str] = []
    n = len(text)
    lead = len(text) - len(text.lstrip(" \t")) if line_start else -1
    ordered = _LINE_START_ORDERED.match(text[lead:]) if line_start else None
    for i, ch in enumerate(text):
        nxt = text[i + 1] if i + 1 < n else ""
        prv = text[i - 1] if i else ""
        if (
            ch in _ALWAYS
            or (ch == "_" and not (prv.isalnum() and nxt.isalnum()))
            or (ch == ":" and nxt and not nxt.isspace())
            or (ch == "&" and (nxt == "#" or nxt.isalpha()))
            or (i == lead and ch in "#+-=")
            or (ordered is not None and i == lead + len(ordered.group(1)))
        ):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def model_markdown(text: str) -> str:
    """Model output as Markdown that keeps its structure and can fetch or link nothing."""
    if not text.strip():
        return ""
    root = SyntaxTreeNode(_parser().parse(text))
    return "\n\n".join("\n".join(lines) for lines in _blocks(root.children)).strip("\n")


def _blocks(nodes: Iterable[SyntaxTreeNode]) -> list[list[str]]:
    return [lines for node in nodes if (lines := _block(node))]


def _joined(nodes: Iterable[SyntaxTreeNode], tight: bool = False) -> list[str]:
    lines: list[str] = []
    for block in _blocks(nodes):
        if lines and not tight:
            lines.append("")
        lines.extend(block)
    return lines


def _block(node: SyntaxTreeNode) -> list[str]:
    kind = node.type
    if kind == "paragraph":
        return _inline_lines(node)
    if kind == "heading":
        # Two levels down: a model's "# Title" should not outgrow the page's own headings.
        level = min(int(node.tag[1]) + 2, 6)
        return ["#" * level + " " + " ".join(_inline_lines(node))]
    if kind in ("fence", "code_block"):
        return fence(node.content, node.info if kind == "fence" else "").split("\n")
    if kind == "blockquote":
        return [f"> {line}" if line else ">" for line in _joined(node.children)]
    if kind in ("bullet_list", "ordered_list"):
        return _list(node)
    if kind == "hr":
        return ["***"]  # never read as a setext underline, unlike ---
    if kind == "html_block":  # shown as the characters it is made of, line by line
        lines = [line for line in node.content.split("\n") if line.strip()]
        return [escape_text(line, line_start=True) + ("\\" if i < len(lines) - 1 else "")
                for i, line in enumerate(lines)]  # fmt: skip
    if kind == "table":
        return _table(node)
    text = " ".join(node.content.split()) if node.content else ""  # anything else: as text
    return [escape_text(text, line_start=True)] if text else _joined(node.children)


def _list(node: SyntaxTreeNode) -> list[str]:
    tight = all(p.hidden for item in node.children for p in item.children if p.type == "paragraph")
    number = int(node.attrs.get("start", 1)) if node.type == "ordered_list" else None
    lines: list[str] = []
    for item in node.children:
        marker = f"{number}. " if number is not None else "- "
        body = _joined(item.children, tight=tight) or [""]
        if lines and not tight:
            lines.append("")
        lines.append(marker + body[0])
        lines.extend((" " * len(marker) + line) if line else "" for line in body[1:])
        if number is not None:
            number += 1
    return lines


def _table(node: SyntaxTreeNode) -> list[str]:
    rows = [tr for part in node.children for tr in part.children]
    if not rows:
        return []

    def cells(tr: SyntaxTreeNode) -> list[str]:
        return [" ".join(_inline_lines(cell)) or " " for cell in tr.children]

    def align(cell: SyntaxTreeNode) -> str:
        style = str(cell.attrs.get("style", ""))
        left, right = "left" in style or "center" in style, "right" in style or "center" in style
        return (":" if left else "") + "---" + (":" if right else "")

    out = ["| " + " | ".join(cells(rows[0])) + " |"]
    out.append("| " + " | ".join(align(c) for c in rows[0].children) + " |")
    out += ["| " + " | ".join(cells(tr)) + " |" for tr in rows[1:]]
    return out


class _Inline:
    """Renders one inline run; knows whether the next character starts a line."""

    def __init__(self) -> None:
        self.line_start = True

    def render(self, nodes: Iterable[SyntaxTreeNode]) -> str:
        return _join(self.node(n) for n in nodes)

    def node(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "inline":
            return self.render(node.children)
        if kind in ("softbreak", "hardbreak"):
            self.line_start = True
            return "\n" if kind == "softbreak" else "\\\n"
        if kind in ("text", "html_inline"):
            out = escape_text(node.content, line_start=self.line_start)
        elif kind == "code_inline":
            out = code_span(node.content)
        elif kind in ("em", "strong", "s"):
            mark = {"em": "*", "strong": "**", "s": "~~"}[kind]
            inner = self.render(node.children)
            return f"{mark}{inner}{mark}" if inner else ""
        elif kind == "image":
            alt = " ".join(_plain_text(node).split())
            out = "\\[image" + (f": {escape_text(alt)}" if alt else "") + "\\]"
        elif kind == "link":
            inner = self.render(node.children)
            href = str(node.attrs.get("href", ""))
            if href and _plain_text(node) != href:
                return f"{inner} ({code_span(href)})" if inner else code_span(href)
            return code_span(href) if href else inner
        else:
            out = escape_text(" ".join(_plain_text(node).split()), line_start=self.line_start)
        if out:
            self.line_start = False
        return out


def _inline_lines(block: SyntaxTreeNode) -> list[str]:
    return _Inline().render(block.children).split("\n")


def _plain_text(node: SyntaxTreeNode) -> str:
    """The text a node shows (an image's alt text, a link's words), markup dropped."""
    if node.type in ("text", "code_inline", "html_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(_plain_text(child) for child in node.children)


# --------------------------------------------------------------------------- code fences


@dataclass(frozen=True)
class Fence:
    """One fenced code block of a text, as CommonMark reads it."""

    info: str  # the first word of the info string, lower-cased ("" when there is none)
    body: str  # the code, as written (container indentation removed)
    start: int  # offset of the opening fence's line in the text
    end: int  # offset just past the closing fence's line (the text's end when unclosed)
    closed: bool  # False: the text ended before a closing fence


@cache
def _block_parser() -> MarkdownIt:
    """CommonMark block structure only: finding fences needs no inline pass."""
    return MarkdownIt("commonmark").disable(["inline", "text_join"])


def code_fences(text: str) -> list[Fence]:
    """Every fenced code block of `text` (``` or ~~~, in any container), in order.

    CommonMark decides: a fence opens at the start of a line (up to three spaces in), and only a
    line of the same character, at least as long and with no info string, closes it; so a line
    such as ```python inside a ``` block is code. A fence that never closes runs to the end.
    """
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    fences = []
    for token in _block_parser().parse(text):
        if token.type != "fence" or token.map is None:
            continue
        first, last = token.map
        closing = _CONTAINER_PREFIX.sub("", lines[last - 1]).rstrip() if last - 1 > first else ""
        mark = token.markup
        closed = bool(closing) and set(closing) == {mark[0]} and len(closing) >= len(mark)
        info = token.info.strip().split(maxsplit=1)
        fences.append(
            Fence(
                info=info[0].lower() if info else "",
                body=token.content,
                start=offsets[first],
                end=min(offsets[last], len(text)),
                closed=closed,
            )
        )
    return fences
