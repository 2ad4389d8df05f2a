"""Lab files -> a typed tree of sections and blocks.

A lab is Markdown with YAML frontmatter (`order`, `title`, `description`, optional `models`).
The text before the first `## ` heading is the overview; every `## ` heading starts a section
(`## Objective N: ...` sections are objectives). Inside a section the text is split into
blocks: Markdown, `lab-callout` boxes and `<div data-NAME></div>` widget markers. HTML comments
are style hints and are dropped. Nothing inside a fenced code block is interpreted.
"""

from __future__ import annotations

import html
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import frontmatter
import yaml

LABS_DIR_ENV = "QUANTVIZ_LABS_DIR"
DEFAULT_LABS_DIR = Path(__file__).resolve().parents[2] / "labs"

CalloutKind = Literal["info", "warning", "success", "error"]
SectionKind = Literal["overview", "objective", "other"]

_CALLOUT_KINDS: dict[str, CalloutKind] = {
    "info": "info",
    "note": "info",
    "warning": "warning",
    "success": "success",
    "danger": "error",
    "error": "error",
}
_HEADING = re.compile(r"^##\s+(?P<title>.+?)\s*#*\s*$")
_OBJECTIVE = re.compile(r"^Objective\s+(?P<n>\d+)\s*[:.\-–]\s*(?P<name>.+)$", re.IGNORECASE)
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MARKER = re.compile(r"^\s*<div\s+data-(?P<name>[A-Za-z0-9_-]+)(?P<attrs>[^>]*)>\s*</div>\s*$")
_ATTR = re.compile(r'data-(?P<k>[A-Za-z0-9_-]+)(?:\s*=\s*"(?P<v>[^"]*)")?')
_CALLOUT_OPEN = re.compile(
    r'^\s*<div\s+class="(?P<cls>[^"]*\blab-callout\b[^"]*)"\s*>(?P<rest>.*)$'
)
_CALLOUT_CLOSE = re.compile(r"</div>\s*$")


@dataclass(frozen=True)
class Markdown:
    text: str


@dataclass(frozen=True)
class Callout:
    kind: CalloutKind
    text: str  # Markdown: <strong> became **bold**, <br /> a line break


@dataclass(frozen=True)
class WidgetMarker:
    name: str
    attrs: dict[str, str] = field(default_factory=dict)


Block = Markdown | Callout | WidgetMarker


@dataclass(frozen=True)
class Section:
    kind: SectionKind
    title: str
    url_path: str
    blocks: tuple[Block, ...]
    number: int | None = None  # the objective's N

    @property
    def markers(self) -> list[str]:
        return [b.name for b in self.blocks if isinstance(b, WidgetMarker)]


@dataclass(frozen=True)
class Lab:
    path: Path
    order: int
    title: str
    description: str
    meta: dict[str, Any]
    sections: tuple[Section, ...]

    @property
    def overview(self) -> Section:
        return self.sections[0]

    def section_with_marker(self, marker: str) -> Section | None:
        return next((s for s in self.sections if marker in s.markers), None)


@dataclass(frozen=True)
class LabError:
    """A lab file that could not be read; it gets a page of its own that says why."""

    path: Path
    message: str

    @property
    def url_path(self) -> str:
        return "lab-error-" + slugify(self.path.stem)

    @property
    def title(self) -> str:
        return self.path.name


class LabParseError(ValueError):
    pass


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


def labs_dir() -> Path:
    return Path(os.environ.get(LABS_DIR_ENV) or DEFAULT_LABS_DIR)


def _callout_markdown(inner: str) -> str:
    """The callout's HTML as Markdown: whitespace folds as in HTML, <br /> breaks the line."""
    text = re.sub(r"\s+", " ", inner).strip()
    text = re.sub(r"\s*<br\s*/?>\s*", "  \n", text)
    text = re.sub(r"</?(strong|b)>", "**", text)
    text = re.sub(r"</?(em|i)>", "*", text)
    text = re.sub(r"</?code>", "`", text)
    text = re.sub(r"<[^>]+>", "", text)  # any other tag: keep its text, drop the markup
    return html.unescape(text).strip()


def _strip_comments(text: str) -> str:
    """Drop HTML comments (style hints), leaving fenced code untouched."""
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        if fence is None and (m := _FENCE.match(line)):
            out.append(_COMMENT.sub("", "\n".join(prose)))
            prose, fence = [], m.group(1)
            out.append(line)
        elif fence is not None:
            out.append(line)
            if line.strip().startswith(fence):
                fence = None
        else:
            prose.append(line)
    out.append(_COMMENT.sub("", "\n".join(prose)))
    return "\n".join(out)


def parse_blocks(text: str) -> tuple[Block, ...]:
    """Split a section's body into Markdown, callouts and widget markers."""
    blocks: list[Block] = []
    buffer: list[str] = []
    lines = _strip_comments(text).splitlines()
    fence: str | None = None
    i = 0

    def flush() -> None:
        body = "\n".join(buffer).strip("\n")
        if body.strip():
            blocks.append(Markdown(body))
        buffer.clear()

    while i < len(lines):
        line = lines[i]
        if fence:
            buffer.append(line)
            if line.strip().startswith(fence):
                fence = None
            i += 1
            continue
        if m := _FENCE.match(line):
            fence = m.group(1)
            buffer.append(line)
            i += 1
            continue
        if m := _MARKER.match(line):
            flush()
            attrs = {a["k"]: a["v"] or "" for a in _ATTR.finditer(m["attrs"])}
            blocks.append(WidgetMarker(m["name"], attrs))
            i += 1
            continue
        if m := _CALLOUT_OPEN.match(line):
            flush()
            kind = next(
                (
                    _CALLOUT_KINDS[c.removeprefix("lab-callout--")]
                    for c in m["cls"].split()
                    if c.removeprefix("lab-callout--") in _CALLOUT_KINDS
                ),
                "info",
            )
            inner = [m["rest"]]
            while not _CALLOUT_CLOSE.search(inner[-1]) and i + 1 < len(lines):
                i += 1
                inner.append(lines[i])
            inner[-1] = _CALLOUT_CLOSE.sub("", inner[-1])
            blocks.append(Callout(kind, _callout_markdown("\n".join(inner))))
            i += 1
            continue
        buffer.append(line)
        i += 1
    flush()
    return tuple(blocks)


def _split_sections(body: str) -> list[tuple[str | None, str]]:
    """[(heading or None for the overview, text)], split on `## ` outside code fences."""
    parts: list[tuple[str | None, list[str]]] = [(None, [])]
    fence: str | None = None
    for line in body.splitlines():
        if fence:
            if line.strip().startswith(fence):
                fence = None
        elif m := _FENCE.match(line):
            fence = m.group(1)
        elif m := _HEADING.match(line):
            parts.append((m["title"], []))
            continue
        parts[-1][1].append(line)
    return [(title, "\n".join(lines)) for title, lines in parts]


def parse_lab(text: str, path: Path) -> Lab:
    """Parse one lab file; raises LabParseError with a reader-facing message."""
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        raise LabParseError(f"the YAML frontmatter does not parse: {exc}") from exc
    meta = dict(post.metadata)
    if not meta:
        raise LabParseError("the file has no YAML frontmatter (`---` ... `---` at the top)")
    try:
        order = int(meta["order"])
    except KeyError:
        raise LabParseError("the frontmatter has no `order`") from None
    except (TypeError, ValueError):
        raise LabParseError(f"`order` must be a whole number, got {meta['order']!r}") from None
    title = str(meta.get("title") or path.stem)

    sections: list[Section] = []
    used: set[str] = set()
    for heading, chunk in _split_sections(post.content):
        blocks = parse_blocks(chunk)
        if heading is None:
            sections.append(Section("overview", title, f"lab{order}", blocks))
            continue
        if m := _OBJECTIVE.match(heading):
            n = int(m["n"])
            url = f"lab{order}-objective{n}"
            if url in used:
                raise LabParseError(f"Objective {n} appears twice")
            sections.append(Section("objective", heading, url, blocks, number=n))
        else:
            url = base = f"lab{order}-{slugify(heading)}"
            k = 2
            while url in used:
                url, k = f"{base}-{k}", k + 1
            sections.append(Section("other", heading, url, blocks))
        used.add(sections[-1].url_path)
    if not any(s.kind == "objective" for s in sections):
        raise LabParseError("the lab has no `## Objective N: ...` sections")
    return Lab(
        path=path,
        order=order,
        title=title,
        description=str(meta.get("description") or ""),
        meta=meta,
        sections=tuple(sections),
    )


# Shared by every session's script thread: path -> ((mtime_ns, size), parsed lab). One entry per
# file, so an edited lab replaces its old version instead of piling up; the lock makes a new
# version parse once however many sessions ask for it at the same moment. Readers that find the
# current version take no lock. A cached Lab is shared, so nothing may mutate it (checked by
# tests/test_preload.py, which renders every page and compares).
_cache: dict[str, tuple[tuple[int, int], Lab]] = {}
_cache_lock = threading.Lock()


def load_lab(path: Path) -> Lab | LabError:
    """Parse a lab file, cached on (path, mtime, size) so every rerun does not re-read it."""
    try:
        st_ = path.stat()
        version = (st_.st_mtime_ns, st_.st_size)
        hit = _cache.get(str(path))
        if hit is not None and hit[0] == version:
            return hit[1]
        with _cache_lock:
            hit = _cache.get(str(path))
            if hit is not None and hit[0] == version:
                return hit[1]
            lab = parse_lab(path.read_text(encoding="utf-8"), path)
            _cache[str(path)] = (version, lab)
            return lab
    except (OSError, UnicodeDecodeError, LabParseError) as exc:
        return LabError(path, str(exc))


def load_labs(directory: Path | None = None) -> list[Lab | LabError]:
    """Every `*.md` lab of the directory: good labs by `order`, then the broken ones.

    Two labs with the same `order` would share url_paths, so the later file becomes an error.
    """
    directory = directory or labs_dir()
    labs: list[Lab] = []
    errors: list[LabError] = []
    for path in sorted(directory.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        lab = load_lab(path)
        if isinstance(lab, LabError):
            errors.append(lab)
        elif clash := next((other for other in labs if other.order == lab.order), None):
            errors.append(
                LabError(path, f"`order: {lab.order}` is already used by {clash.path.name}")
            )
        else:
            labs.append(lab)
    return [*sorted(labs, key=lambda lab: lab.order), *errors]
