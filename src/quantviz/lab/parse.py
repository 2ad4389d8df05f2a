"""Lab files -> a typed tree of sections and blocks.

A lab is Markdown with YAML frontmatter (`order`, `title`, `description`, optional `models` and
`probe`), checked once here: a value of the wrong kind makes the file a `LabError` whose message
names the key, so one typo shows as that lab's error page and never takes other pages down.
The text before the first `## ` heading is the overview; every `## ` heading starts a section
(`## Objective N: ...` sections are objectives). Inside a section the text is split into
blocks: Markdown, `lab-callout` boxes and `<div data-NAME></div>` widget markers. HTML comments
are style hints and are dropped. Nothing inside a fenced code block is interpreted.
"""

from __future__ import annotations

import dataclasses
import difflib
import html
import logging
import math
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import frontmatter
import yaml

log = logging.getLogger(__name__)

LABS_DIR_ENV = "QUANTVIZ_LABS_DIR"
DEFAULT_LABS_DIR = Path(__file__).resolve().parents[3] / "labs"

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

# Frontmatter keys quantviz reads; other keys are kept in `Lab.meta` and ignored, unless they look
# like a misspelt one of these (a `model:` would silently leave the lab on the default tags).
FRONTMATTER_KEYS = ("order", "title", "description", "models", "probe")
MAX_ORDER = 99_999
_YAML = frontmatter.YAMLHandler()


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
    meta: dict[str, Any]  # the frontmatter; the keys in FRONTMATTER_KEYS hold checked values
    sections: tuple[Section, ...]

    @property
    def models(self) -> Mapping[str, str] | None:
        """The lab's own `models:` map (label -> tag), checked; None when it names none."""
        return self.meta.get("models")

    @property
    def overview(self) -> Section:
        return self.sections[0]

    def section_with_marker(self, marker: str) -> Section | None:
        return next((s for s in self.sections if marker in s.markers), None)


@dataclass(frozen=True)
class LabError:
    """A lab file that could not be read; it gets a page of its own that says why.

    `url_path` defaults to `lab-error-<slug of the file name>`; `load_labs` adds `-2`, `-3`, ...
    when two file names slugify alike.
    """

    path: Path
    message: str
    url_path: str = ""

    def __post_init__(self) -> None:
        if not self.url_path:
            object.__setattr__(self, "url_path", "lab-error-" + slugify(self.path.stem))

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
    for heading, chunk in _split_sections(content):
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
        description=description,
        meta=meta,
        sections=tuple(sections),
    )


# Shared by every session's script thread: path -> ((mtime_ns, size), parsed lab). One entry per
# file, so an edited lab replaces its old version instead of piling up; the lock makes a new
# version parse once however many sessions ask for it at the same moment. Readers that find the
# current version take no lock. A cached Lab is shared, so nothing may mutate it (checked by
# tests/test_preload.py, which renders every page and compares).
_cache: dict[str, tuple[tuple[int, int], Lab | LabError]] = {}
_cache_lock = threading.Lock()


def _read(path: Path) -> Lab | LabError:
    try:
        return parse_lab(path.read_text(encoding="utf-8"), path)
    except (OSError, UnicodeDecodeError, LabParseError) as exc:
        return LabError(path, str(exc))
    except Exception as exc:
        log.exception("lab file %s could not be parsed", path)
        return LabError(path, f"the file could not be parsed ({type(exc).__name__}: {exc})")


def load_lab(path: Path) -> Lab | LabError:
    """Parse a lab file, cached on (path, mtime, size) so every rerun does not re-read it.

    Whatever is wrong with the file, the result is a LabError: one lab file never takes the app
    down. A mistake the parser did not foresee is logged with its traceback (once per version of
    the file: errors are cached too).
    """
    try:
        stat = path.stat()
    except OSError as exc:
        return LabError(path, str(exc))
    version = (stat.st_mtime_ns, stat.st_size)
    hit = _cache.get(str(path))
    if hit is not None and hit[0] == version:
        return hit[1]
    with _cache_lock:
        hit = _cache.get(str(path))
        if hit is None or hit[0] != version:
            hit = _cache[str(path)] = (version, _read(path))
        return hit[1]


def _unique(url_path: str, taken: Mapping[str, str]) -> str:
    candidate, k = url_path, 2
    while candidate in taken:
        candidate, k = f"{url_path}-{k}", k + 1
    return candidate


def load_labs(
    directory: Path | None = None, reserved: Mapping[str, str] | None = None
) -> list[Lab | LabError]:
    """Every `*.md` lab of the directory: good labs by `order`, then the broken ones.

    Every url path is unique: `reserved` maps the app's other url paths to what owns them (the
    tool pages); a lab that would reuse a taken path (the same `order` as another lab, say)
    becomes an error page, and error pages whose file names slugify alike get `-2`, `-3`, ...
    """
    directory = directory or labs_dir()
    taken: dict[str, str] = dict(reserved or {})
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
        elif used := next((s.url_path for s in lab.sections if s.url_path in taken), None):
            errors.append(LabError(path, f"its page `{used}` has the url path of {taken[used]}"))
        else:
            labs.append(lab)
            taken.update((s.url_path, f"a page of {path.name}") for s in lab.sections)
    unique: list[LabError] = []
    for error in errors:
        url_path = _unique(error.url_path, taken)
        taken[url_path] = f"the error page of {error.path.name}"
        unique.append(dataclasses.replace(error, url_path=url_path))
    return [*sorted(labs, key=lambda lab: lab.order), *unique]
