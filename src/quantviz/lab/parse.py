"""One lab file -> a typed tree of sections and blocks (no streamlit).

A lab is Markdown with YAML frontmatter (`order`, `title`, `description`, optional `models` and
`probe`), checked once here: a value of the wrong kind makes the file a `LabError` whose message
names the key, so one typo shows as that lab's error page and never takes other pages down.

The Markdown is read as CommonMark by markdown-it-py, block by block, with each block's line map:
the parser decides what is a code block, exactly as a Markdown viewer (and Streamlit) will, so
nothing inside a fenced or indented code block is ever interpreted. In a ``` block, a line such
as ```python is code, not the end of the block (a closing fence has no info string). Then:

* the text before the first `## ` heading is the overview; every ATX `## ` heading starts a
  section (`## Objective N: ...` sections are objectives); headings of other levels stay text;
* raw HTML blocks are read line by line: `<div data-NAME></div>` is a widget marker (a renamed
  marker's old name reads as its new one, `MARKER_ALIASES`), a
  `<div class="lab-callout ...">` up to its `</div>` a callout (`info`, `warning`, `success`,
  `danger`/`error`), anything else stays Markdown;
* HTML comments are style hints and are dropped, except inside code;
* in a list under an `### Execute` heading, an item that carries a record marker
  (`<div data-record="ID" data-measured="KEY ..."></div>`, on a line of its own inside the item)
  or whose text starts with "Record" becomes a `RecordField`; the other items stay Markdown
  (`_list_blocks`). A record marker anywhere else is an error that names its line;
* everything else stays Markdown, consecutive blocks joined.

As in any CommonMark viewer, an HTML block runs until a blank line: a `## ` line directly under a
marker (no blank line between) is part of that HTML block and does not start a section.
"""

from __future__ import annotations

import difflib
import html
import math
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import frontmatter
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from quantviz.lab import (
    Block,
    Callout,
    CalloutKind,
    Lab,
    LabParseError,
    Markdown,
    RecordField,
    Section,
    WidgetMarker,
    slugify,
)
from quantviz.report.measurements import MEASURED

_CALLOUT_KINDS: dict[str, CalloutKind] = {
    "info": "info",
    "note": "info",
    "warning": "warning",
    "success": "success",
    "danger": "error",
    "error": "error",
}
_OBJECTIVE = re.compile(r"^Objective\s+(?P<n>\d+)\s*[:.\-–]\s*(?P<name>.+)$", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MARKER = re.compile(r"^\s*<div\s+data-(?P<name>[A-Za-z0-9_-]+)(?P<attrs>[^>]*)>\s*</div>\s*$")
_ATTR = re.compile(r'data-(?P<k>[A-Za-z0-9_-]+)(?:\s*=\s*"(?P<v>[^"]*)")?')
_CALLOUT_OPEN = re.compile(
    r'^\s*<div\s+class="(?P<cls>[^"]*\blab-callout\b[^"]*)"\s*>(?P<rest>.*)$'
)
_CALLOUT_CLOSE = re.compile(r"</div>\s*$")
_CODE = ("fence", "code_block")
# A record marker inside an Execute list item: `<div data-record="obj3-ratio"
# data-measured="storage.ratio"></div>` (an empty div, so a Markdown viewer shows nothing).
_RECORD_MARKER = re.compile(r"<div\s+data-record\b(?P<attrs>[^>]*)>\s*</div>")
_RECORD_ATTR = re.compile(r'data-(?P<k>record|measured)\s*=\s*"(?P<v>[^"]*)"')
RECORD_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_EXECUTE = re.compile(r"^Execute\b", re.IGNORECASE)
_RECORD_WORD = re.compile(r"^Record\b", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+")
_LISTS = {"bullet_list_open": "bullet_list_close", "ordered_list_open": "ordered_list_close"}
# Marker names that were renamed: the old name keeps working and reads as the new one, so the
# widget, its keys and links to it are the same whichever name a lab file uses.
MARKER_ALIASES = {"objective5-chat": "compare-chat"}

# Frontmatter keys quantviz reads; other keys are kept in `Lab.meta` and ignored, unless they look
# like a misspelt one of these (a `model:` would silently leave the lab on the default tags).
FRONTMATTER_KEYS = ("order", "title", "description", "models", "probe")
MAX_ORDER = 99_999
_YAML = frontmatter.YAMLHandler()


@cache
def _parser() -> MarkdownIt:
    """CommonMark, block structure only: the inline pass is not needed to find blocks."""
    return MarkdownIt("commonmark").disable(["inline", "text_join"])


def _callout_markdown(inner: str) -> str:
    """The callout's HTML as Markdown: whitespace folds as in HTML, <br /> breaks the line."""
    text = re.sub(r"\s+", " ", inner).strip()
    text = re.sub(r"\s*<br\s*/?>\s*", "  \n", text)
    text = re.sub(r"</?(strong|b)>", "**", text)
    text = re.sub(r"</?(em|i)>", "*", text)
    text = re.sub(r"</?code>", "`", text)
    text = re.sub(r"<[^>]+>", "", text)  # any other tag: keep its text, drop the markup
    return html.unescape(text).strip()


def _callout_kind(classes: str) -> CalloutKind:
    for name in classes.split():
        kind = _CALLOUT_KINDS.get(name.removeprefix("lab-callout--"))
        if kind is not None:
            return kind
    return "info"


class _Blocks:
    """Collects a section's blocks; consecutive Markdown is joined into one block."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._markdown: list[str] = []

    def markdown(self, text: str) -> None:
        if text.strip():
            self._markdown.append(text.strip("\n"))

    def add(self, block: Block) -> None:
        self.flush()
        self.blocks.append(block)

    def flush(self) -> None:
        if self._markdown:
            self.blocks.append(Markdown("\n\n".join(self._markdown)))
            self._markdown = []


def _html_lines(lines: Sequence[str], out: _Blocks, rest: Sequence[str]) -> int:
    """An HTML block, line by line: markers, callouts, and the rest as Markdown.

    A callout that is still open at the end of the block (a blank line inside it) goes on into
    `rest`, the section's following lines; returns how many of those it took.
    """
    buffer: list[str] = []
    taken = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if _RECORD_MARKER.search(line):
            raise LabParseError(
                f"a `data-record` marker stands outside an Execute list item ({line.strip()}); "
                "put it on its own line inside the `- Record ...` item it belongs to"
            )
        if m := _MARKER.match(line):
            out.markdown("\n".join(buffer))
            buffer = []
            attrs = {a["k"]: a["v"] or "" for a in _ATTR.finditer(m["attrs"])}
            name = MARKER_ALIASES.get(m["name"], m["name"])
            out.add(WidgetMarker(name, attrs))
        elif m := _CALLOUT_OPEN.match(line):
            out.markdown("\n".join(buffer))
            buffer = []
            inner = [m["rest"]]
            while not _CALLOUT_CLOSE.search(inner[-1]):
                if i + 1 < len(lines):
                    i += 1
                    inner.append(lines[i])
                elif taken < len(rest):
                    inner.append(rest[taken])
                    taken += 1
                else:
                    break
            inner[-1] = _CALLOUT_CLOSE.sub("", inner[-1])
            out.add(Callout(_callout_kind(m["cls"]), _callout_markdown("\n".join(inner))))
        else:
            buffer.append(line)
        i += 1
    out.markdown("\n".join(buffer))
    return taken


def _source(lines: Sequence[str], token: Token) -> list[str]:
    start, end = token.map or (0, 0)
    return list(lines[start:end])


def _record_attrs(found: list[re.Match[str]], line: str) -> dict[str, str]:
    if len(found) > 1:
        raise LabParseError(f"one Execute item holds {len(found)} record markers ({line})")
    return {a["k"]: a["v"] for a in _RECORD_ATTR.finditer(found[0].group(0))}


def _record_field(item: list[str]) -> RecordField | None:
    """The item as a record field (markers removed), or None when it asks for no record."""
    found = [m for line in item for m in _RECORD_MARKER.finditer(line)]
    text = [_COMMENT.sub("", _RECORD_MARKER.sub("", line)).rstrip() for line in item]
    text = [line for line in text if line.strip()]
    prompt = " ".join(" ".join(text).split())
    prompt = _BULLET.sub("", prompt, count=1)
    if not found and not _RECORD_WORD.match(prompt):
        return None
    attrs = _record_attrs(found, found[0].group(0)) if found else {}
    measured = tuple(attrs.get("measured", "").split())
    return RecordField(attrs.get("record", ""), "\n".join(text), prompt, measured)


def _list_items(tokens: Sequence[Token], start: int, lines: Sequence[str]) -> list[list[str]]:
    """The source lines of each item of the list whose open token is `tokens[start]`."""
    close = _LISTS[tokens[start].type]
    items: list[list[str]] = []
    for token in tokens[start + 1 :]:
        if token.level == 0 and token.type == close:
            break
        if token.type == "list_item_open" and token.level == 1 and token.map is not None:
            items.append(list(lines[token.map[0] : token.map[1]]))
    return items


def _list_blocks(items: list[list[str]], text: str, out: _Blocks, execute: bool) -> None:
    """A list: under an Execute heading its record items become fields and the other items stay
    Markdown between them; any other list (or one without a record item) stays as written."""
    for item in items:
        if not execute and (hit := next((x for x in item if _RECORD_MARKER.search(x)), None)):
            raise LabParseError(
                f"a `data-record` marker stands in a list outside an `### Execute` section "
                f"({hit.strip()})"
            )
    fields = [_record_field(item) if execute else None for item in items]
    if not any(fields):
        out.markdown(text)
        return
    pending: list[str] = []
    for item, field in zip(items, fields, strict=True):
        if field is None:
            pending.extend(item)
            continue
        out.markdown("\n".join(pending))
        pending = []
        out.add(field)
    out.markdown("\n".join(pending))


def _section_blocks(tokens: Sequence[Token], lines: Sequence[str], end: int) -> tuple[Block, ...]:
    """The blocks of one section: its top-level tokens, read from the source lines they map."""
    out = _Blocks()
    skip_to = 0  # lines already taken by a callout that ran past its HTML block
    execute = False  # under an `### Execute` heading (until the next heading)
    for i, token in enumerate(tokens):
        if token.level != 0 or token.map is None or token.nesting == -1:
            continue
        stop = token.map[1]
        if stop <= skip_to:
            continue
        text = "\n".join(_source(lines, token))
        if token.type == "heading_open":
            title = tokens[i + 1].content if i + 1 < len(tokens) else ""
            execute = bool(_EXECUTE.match(title.strip()))
        if token.type in _CODE:
            out.markdown(text)
        elif token.type == "html_block":
            source = _COMMENT.sub("", text).split("\n")
            skip_to = stop + _html_lines(source, out, lines[stop:end])
        elif token.type in _LISTS:
            _list_blocks(_list_items(tokens, i, lines), _COMMENT.sub("", text), out, execute)
        else:
            out.markdown(_COMMENT.sub("", text))
    out.flush()
    return tuple(out.blocks)


def _record_ids(
    blocks: tuple[Block, ...], prefix: str, used: dict[str, str], where: str
) -> tuple[Block, ...]:
    """The section's record fields with their ids checked (or made from the prompt) and their
    measured keys known; `used` maps the ids taken so far to the section that took them."""
    out: list[Block] = []
    for block in blocks:
        if isinstance(block, RecordField):
            record_id = block.id
            if record_id:
                if not RECORD_ID.match(record_id):
                    raise LabParseError(
                        f"record id {record_id!r} ({where}) must be lower-case letters, digits "
                        "and dashes, at most 64"
                    )
                if record_id in used:
                    raise LabParseError(
                        f"record id {record_id!r} appears twice ({used[record_id]} and {where})"
                    )
            else:
                words = slugify(" ".join(block.prompt.split()[1:6]))  # after "Record"
                record_id = base = f"{prefix}-{words}"[:64].strip("-")
                k = 2
                while record_id in used:
                    record_id, k = f"{base}-{k}", k + 1
            for key in block.measured:
                if key not in MEASURED:
                    raise LabParseError(
                        f"record {record_id!r} ({where}) names an unknown measured value "
                        f"{key!r}; known: {', '.join(MEASURED)}"
                    )
            used[record_id] = where
            block = RecordField(record_id, block.markdown, block.prompt, block.measured)
        out.append(block)
    return tuple(out)


def _is_section_heading(token: Token) -> bool:
    return token.type == "heading_open" and token.level == 0 and token.markup == "##"


def _split_sections(body: str) -> list[tuple[str | None, tuple[Block, ...]]]:
    """[(heading or None for the overview, blocks)], split on top-level `## ` headings."""
    lines = body.split("\n")
    tokens = _parser().parse(body)
    headings = [i for i, t in enumerate(tokens) if _is_section_heading(t)]
    # A section runs from after its heading (heading_open, inline, heading_close) to the next
    # heading's token and line; the overview from the start.
    firsts = [0] + [i + 3 for i in headings]
    lasts = [*headings, len(tokens)]
    end_lines = [(tokens[i].map or (0, 0))[0] for i in headings] + [len(lines)]
    titles = [None, *(" ".join(tokens[i + 1].content.split()) for i in headings)]
    return [
        (title, _section_blocks(tokens[first:last], lines, end))
        for title, first, last, end in zip(titles, firsts, lasts, end_lines, strict=True)
    ]


def _shown(value: Any) -> str:
    """A frontmatter value for an error message: its kind for containers, else a short repr."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _frontmatter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML frontmatter as a dict with name keys, and the Markdown after it."""
    if not _YAML.detect(text):
        raise LabParseError("the file has no YAML frontmatter (`---` ... `---` at the top)")
    try:
        raw, content = _YAML.split(text)
    except ValueError:
        raise LabParseError("the YAML frontmatter has no closing `---` line") from None
    try:
        data = _YAML.load(raw)
    except yaml.YAMLError as exc:
        raise LabParseError(f"the YAML frontmatter does not parse: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LabParseError(f"the frontmatter must be `key: value` lines, got {_shown(data)}")
    for key in data:
        if not isinstance(key, str):
            raise LabParseError(f"frontmatter keys must be names, got {key!r}")
    return data, content.strip()


def _order(value: Any) -> int:
    wrong = LabParseError(
        f"`order` must be a whole number from 0 to {MAX_ORDER}, got {_shown(value)}"
    )
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):  # floats too: inf, nan, 2.5
        raise wrong
    if not 0 <= value <= MAX_ORDER:
        raise wrong
    return value


def _text(meta: Mapping[str, Any], key: str, default: str) -> str:
    value = meta.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip() or default
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    raise LabParseError(f"`{key}` must be text, got {_shown(value)}")


def _models(value: Any) -> Mapping[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        raise LabParseError(
            f'`models` must map labels to tags, e.g. `models: {{Q4: "name:q4"}}`, '
            f"got {_shown(value)}"
        )
    models: dict[str, str] = {}
    for label, tag in value.items():
        if not isinstance(tag, str) or not tag.strip():
            raise LabParseError(
                f"`models`: the tag of {label} must be a model tag (text), got {_shown(tag)}"
            )
        models[str(label)] = tag.strip()
    return MappingProxyType(models)


def _check_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The frontmatter with every key quantviz reads checked; raises naming the key."""
    for key in meta:
        if key not in FRONTMATTER_KEYS and (
            near := difflib.get_close_matches(key, FRONTMATTER_KEYS, n=1, cutoff=0.8)
        ):
            raise LabParseError(f"`{key}` is not a frontmatter key; did you mean `{near[0]}`?")
    if "order" not in meta:
        raise LabParseError("the frontmatter has no `order`")
    checked = dict(meta)
    checked["order"] = _order(meta["order"])
    checked["models"] = _models(meta.get("models"))
    if checked["models"] is None:
        del checked["models"]
    probe = meta.get("probe")
    if probe is not None and not isinstance(probe, (str, list)):
        raise LabParseError(
            f"`probe` must be a battery file name or a list of probes, got {_shown(probe)}"
        )
    return checked


def parse_lab(text: str, path: Path) -> Lab:
    """Parse one lab file; raises LabParseError with a reader-facing message."""
    raw, content = _frontmatter(text)
    if not raw:
        raise LabParseError("the file has no YAML frontmatter (`---` ... `---` at the top)")
    meta = _check_meta(raw)
    order: int = meta["order"]
    title = _text(meta, "title", path.stem)
    description = _text(meta, "description", "")

    sections: list[Section] = []
    used: set[str] = set()
    record_ids: dict[str, str] = {}
    for heading, blocks in _split_sections(content):
        if heading is None:
            blocks = _record_ids(blocks, "overview", record_ids, "the overview")
            sections.append(Section("overview", title, f"lab{order}", blocks))
            continue
        if m := _OBJECTIVE.match(heading):
            n = int(m["n"])
            url = f"lab{order}-objective{n}"
            if url in used:
                raise LabParseError(f"Objective {n} appears twice")
            blocks = _record_ids(blocks, f"obj{n}", record_ids, f"Objective {n}")
            sections.append(Section("objective", heading, url, blocks, number=n))
        else:
            url = base = f"lab{order}-{slugify(heading)}"
            k = 2
            while url in used:
                url, k = f"{base}-{k}", k + 1
            blocks = _record_ids(blocks, slugify(heading)[:24], record_ids, f"`## {heading}`")
            sections.append(Section("other", heading, url, blocks))
        used.add(sections[-1].url_path)
    if not any(s.kind == "objective" for s in sections):
        raise LabParseError("the lab has no `## Objective N: ...` sections")
    return Lab(
        path=path,
        order=order,
        title=title,
        description=description,
        meta=meta,
        sections=tuple(sections),
    )
