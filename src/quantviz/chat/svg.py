"""SVG in model text: found, validated, made safe and shown as an image (no streamlit).

`split_svg` cuts a reply into text and SVG parts (a fenced ```svg block, or a bare
<svg>...</svg> outside other code); `check_svg` validates one with an XML parser (no DOCTYPE or
entities, an <svg> root, a size limit); `sanitize_svg` and `svg_data_uri` turn it into a
`data:image/svg+xml` URI for an `<img>`, where scripts never run and nothing external loads.
The chat draws answers with these, and the quality probe's svg check reads them the same way.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from quantviz.text import code_fences

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
MAX_SVG_CHARS = 200_000
XML_NS = "http://www.w3.org/XML/1998/namespace"

_SVG_OPEN_RE = re.compile(r"<svg\b", re.IGNORECASE)
_SVG_TAG_RE = re.compile(r"<svg\b|</svg\s*>", re.IGNORECASE)
_SVG_START_RE = re.compile(r"\s*(<\?xml[^>]*>\s*)?<svg\b", re.IGNORECASE)
DRAWABLE = frozenset(
    {"path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "image", "use"}
)


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class SvgPart:
    """An SVG found in a reply; `problem` says why it cannot be drawn (None: it can)."""

    source: str
    problem: str | None = None


Part = TextPart | SvgPart


def split_svg(text: str) -> list[Part]:
    """A reply as text parts and SVG parts, in order.

    An SVG is a fenced block labelled svg (or xml, html or unlabelled, holding an <svg> root),
    or a bare <svg>...</svg> outside any fence (nested <svg> elements included). One that never
    closes (a stopped or truncated reply) is an SvgPart with a problem; other code stays text.
    Fences are found by `quantviz.text.code_fences`, as CommonMark reads them.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fences = code_fences(text)
    parts: list[Part] = []
    text_start = pos = 0

    def emit(start: int, end: int, source: str, closed: bool) -> None:
        nonlocal text_start, pos
        if start > text_start:
            parts.append(TextPart(text[text_start:start]))
        problem = check_svg(source) if closed else "the reply ended before the SVG was complete"
        parts.append(SvgPart(source, problem))
        text_start = pos = end

    while pos < len(text):
        fence = next((f for f in fences if f.start >= pos), None)
        bare = _SVG_OPEN_RE.search(text, pos, fence.start if fence else len(text))
        if bare is not None:
            end, closed = _svg_end(text, bare.start())
            emit(bare.start(), end, text[bare.start() : end].strip(), closed)
            continue
        if fence is None:
            break
        if fence.info == "svg" or (
            fence.info in ("xml", "html", "") and _SVG_START_RE.match(fence.body)
        ):
            emit(fence.start, fence.end, fence.body.strip(), fence.closed)
        else:
            pos = fence.end  # other code: stays text, and its <svg> too
    if text_start < len(text):
        parts.append(TextPart(text[text_start:]))
    return [p for p in parts if not (isinstance(p, TextPart) and not p.text.strip())]


def first_svg(text: str) -> SvgPart | None:
    """The first SVG of a text (fenced or bare), or None when it has none."""
    return next((p for p in split_svg(text) if isinstance(p, SvgPart)), None)


def drawable_elements(source: str) -> list[str]:
    """The drawing elements (path, rect, text, ...) of an SVG that `check_svg` accepts, in order."""
    return [n for el in ET.fromstring(source).iter() if (n := _local(el.tag).lower()) in DRAWABLE]


def _svg_end(text: str, start: int) -> tuple[int, bool]:
    """End of the bare <svg> element opening at `start` (nesting counted), and if it closed."""
    depth = 0
    for tag in _SVG_TAG_RE.finditer(text, start):
        depth += -1 if tag.group(0).startswith("</") else 1
        if depth == 0:
            return tag.end(), True
    return len(text), False


def check_svg(source: str) -> str | None:
    """None when `source` is a well-formed SVG document, else the reason it is not."""
    if len(source) > MAX_SVG_CHARS:
        return f"it is too large to draw ({len(source):,} characters)"
    if re.search(r"<!(DOCTYPE|ENTITY)", source, re.IGNORECASE):
        return "it declares a DOCTYPE or entities, which are not drawn"
    try:
        root = ET.fromstring(source)
    except ET.ParseError as exc:
        return f"it is not well-formed XML ({exc})"
    if root.tag not in (f"{{{SVG_NS}}}svg", "svg"):
        return f"its root element is <{_local(root.tag)}>, not <svg>"
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


_EXTERNAL_URL_RE = re.compile(r"url\(\s*['\"]?\s*(?!#)", re.IGNORECASE)
_DROPPED_ELEMENTS = {"script", "foreignObject", "iframe", "object", "embed", "audio", "video"}


def sanitize_svg(source: str) -> str:
    """A copy of a valid SVG without scripts, event handlers or external references.

    Defence in depth: an `<img>` already runs no script and loads nothing, but the picture can
    also be saved and opened on its own. Raises ValueError for an SVG `check_svg` rejects.
    """
    problem = check_svg(source)
    if problem:
        raise ValueError(problem)
    root = ET.fromstring(source)
    svg = f"{{{SVG_NS}}}"
    no_namespace = root.tag == "svg"  # then every element is read as SVG, as a browser would
    for parent in list(root.iter()):
        for child in list(parent):
            if not isinstance(child.tag, str):
                continue
            local = _local(child.tag)
            foreign = not (child.tag.startswith(svg) or (no_namespace and "}" not in child.tag))
            bad_style = local == "style" and _unsafe_css(child.text or "")
            if foreign or local in _DROPPED_ELEMENTS or bad_style:
                parent.remove(child)
    uses_xlink = False
    for el in root.iter():
        el.tag = _local(el.tag)
        for name in list(el.attrib):
            value = el.attrib.pop(name)
            local = _local(name)
            if (
                local.lower().startswith("on")
                or (local == "href" and not value.strip().startswith("#"))
                or _unsafe_css(value)
            ):
                continue
            # Write names as plain text (`xlink:href`), so the output has one default namespace.
            if name.startswith(f"{{{XLINK_NS}}}"):
                el.set(f"xlink:{local}", value)
                uses_xlink = True
            elif name.startswith(f"{{{XML_NS}}}"):
                el.set(f"xml:{local}", value)
            elif "}" not in name:
                el.set(name, value)
    root.set("xmlns", SVG_NS)
    if uses_xlink:
        root.set("xmlns:xlink", XLINK_NS)
    return ET.tostring(root, encoding="unicode")


def _unsafe_css(value: str) -> bool:
    return bool(_EXTERNAL_URL_RE.search(value)) or "@import" in value.lower()


def svg_data_uri(source: str) -> str:
    """The sanitised SVG as a base64 data URI, for st.image (an <img>, never inline HTML)."""
    clean = sanitize_svg(source)
    return "data:image/svg+xml;base64," + base64.b64encode(clean.encode()).decode("ascii")
