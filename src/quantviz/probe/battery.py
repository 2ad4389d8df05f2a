"""Probe batteries: the built-in one, and an instructor's from YAML or a lab's frontmatter.

Battery files: a lab `labs/<stem>.md` may sit beside `labs/<stem>.probe.yaml`; its frontmatter
`probe:` key (a list of probes, or a file name relative to the lab) takes precedence. Every
mistake in a battery is a `BatteryError` naming the file, the probe and the field at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from quantviz.probe.checks import _JSON_TYPES, _KINDS, _REGEX_FLAGS, CHECK_KINDS, CheckSpec

BATTERY_SUFFIX = ".probe.yaml"


class BatteryError(ValueError):
    """A probe battery (YAML file or frontmatter list) is malformed; the message says where."""


@dataclass(frozen=True)
class Probe:
    """One prompt with a checkable answer."""

    id: str
    category: str
    prompt: str
    check: CheckSpec

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "prompt": self.prompt,
            "check": self.check.to_dict(),
        }


# --------------------------------------------------------------------------------------------
# Built-in battery


def _p(id_: str, category: str, prompt: str, kind: str, **params: Any) -> Probe:
    return Probe(id_, category, prompt, CheckSpec(kind, params))


BUILTIN_BATTERY: tuple[Probe, ...] = (
    _p(
        "multiply",
        "arithmetic",
        "What is 17 × 23? Reply with the number only.",
        "number",
        expected=391,
    ),
    _p(
        "word-problem",
        "arithmetic",
        "A box holds 12 eggs. How many eggs are there in 7 full boxes plus 5 loose eggs? "
        "Reply with the number only.",
        "number",
        expected=89,
    ),
    _p(
        "capital",
        "fact",
        "What is the capital city of Australia? Answer in one word.",
        "contains",
        any=["Canberra"],
    ),
    _p(
        "json-book",
        "json",
        'Return only a JSON object, with no other text, describing a book with the keys "title" '
        '(a string), "year" (an integer) and "authors" (an array of strings).',
        "json_keys",
        required={"title": "string", "year": "integer", "authors": "array"},
    ),
    _p(
        "count-r",
        "counting",
        'How many times does the letter "r" appear in the word "strawberry"? '
        "Reply with the number only.",
        "letter_count",
        word="strawberry",
        letter="r",
    ),
    _p(
        "three-words",
        "instruction",
        "Describe the ocean in exactly three words, all in capital letters, ending with the "
        "word BLUE. Reply with the three words only.",
        "all_of",
        checks=[
            CheckSpec("word_count", {"count": 3}),
            CheckSpec("all_caps", {}),
            CheckSpec("ends_with", {"word": "BLUE"}),
        ],
    ),
    _p(
        "primes",
        "format",
        "List the first five prime numbers, separated by commas, and nothing else.",
        "regex",
        pattern=r"^\s*2\s*,\s*3\s*,\s*5\s*,\s*7\s*,\s*11\s*\.?\s*$",
        describe="exactly '2, 3, 5, 7, 11'",
    ),
    _p(
        "svg-pelican",
        "svg",
        "Draw a pelican riding a bicycle as an SVG image. Reply with only the SVG code.",
        "svg",
        min_elements=3,
    ),
)


# --------------------------------------------------------------------------------------------
# Loading a battery from YAML or frontmatter

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _validate_check(raw: Any, where: str) -> CheckSpec:
    if not isinstance(raw, Mapping):
        raise BatteryError(f"{where}: 'check' must be a mapping with a 'kind', got {raw!r}")
    kind = raw.get("kind")
    if kind not in _KINDS:
        raise BatteryError(
            f"{where}: check kind {kind!r} is unknown; known kinds: {', '.join(CHECK_KINDS)}"
        )
    _, required, optional = _KINDS[kind]
    params = {k: v for k, v in raw.items() if k != "kind"}
    allowed = {**required, **optional}
    for key in params:
        if key not in allowed:
            takes = ", ".join(allowed) if allowed else "no parameters"
            raise BatteryError(
                f"{where}: check kind {kind!r} does not take {key!r}; it takes {takes}"
            )
    for key in required:
        if key not in params:
            raise BatteryError(f"{where}: check kind {kind!r} needs {key!r}")
    for key, value in params.items():
        types = allowed[key]
        bad_bool = isinstance(value, bool) and bool not in types
        if bad_bool or not isinstance(value, types):
            names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
            raise BatteryError(f"{where}: {key!r} must be {names}, got {value!r}")
    return _finish_check(kind, params, where)


_TYPE_NAMES = {
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
    bool: "true or false",
}


def _finish_check(kind: str, params: dict[str, Any], where: str) -> CheckSpec:
    if kind == "contains":
        for key in ("any", "all"):
            if isinstance(params.get(key), str):
                params[key] = [params[key]]
        if not params.get("any") and not params.get("all"):
            raise BatteryError(f"{where}: check kind 'contains' needs 'any' or 'all'")
    elif kind == "regex":
        flags = params.get("flags", "")
        if any(ch not in _REGEX_FLAGS for ch in flags):
            raise BatteryError(f"{where}: regex flags must be letters from 'ims', got {flags!r}")
        try:
            re.compile(params["pattern"])
        except re.error as err:
            raise BatteryError(f"{where}: invalid regex {params['pattern']!r}: {err}") from None
    elif kind == "json_keys":
        required = params.get("required", {})
        if isinstance(required, Mapping):
            for key, type_name in required.items():
                if type_name is not None and type_name not in _JSON_TYPES:
                    raise BatteryError(
                        f"{where}: JSON type {type_name!r} for {key!r} is unknown; "
                        f"use {', '.join(_JSON_TYPES)}"
                    )
    elif kind == "letter_count":
        if len(params["letter"]) != 1:
            raise BatteryError(f"{where}: 'letter' must be a single character")
    elif kind == "word_count":
        if not any(k in params for k in ("count", "min", "max")):
            raise BatteryError(f"{where}: check kind 'word_count' needs 'count', 'min' or 'max'")
    elif kind == "all_of":
        if not params["checks"]:
            raise BatteryError(f"{where}: 'all_of' needs at least one check")
        params["checks"] = [
            c if isinstance(c, CheckSpec) else _validate_check(c, f"{where}, check #{i + 1}")
            for i, c in enumerate(params["checks"])
        ]
    return CheckSpec(kind, params)


def _validate_probe(raw: Any, index: int, origin: str) -> Probe:
    where = f"{origin}: probe #{index + 1}"
    if not isinstance(raw, Mapping):
        raise BatteryError(f"{where}: expected a mapping with id, prompt and check, got {raw!r}")
    if isinstance(raw.get("id"), str):
        where += f" ({raw['id']!r})"
    unknown = set(raw) - {"id", "category", "prompt", "check"}
    if unknown:
        raise BatteryError(
            f"{where}: unknown field{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(sorted(map(str, unknown)))}; "
            "a probe has id, category, prompt and check"
        )
    for key in ("id", "prompt", "check"):
        if key not in raw:
            raise BatteryError(f"{where}: missing {key!r}")
    pid, prompt = raw["id"], raw["prompt"]
    if not isinstance(pid, str) or not _ID_RE.match(pid):
        raise BatteryError(
            f"{where}: 'id' must be a short name of letters, digits, '-', '_' or '.', got {pid!r}"
        )
    if not isinstance(prompt, str) or not prompt.strip():
        raise BatteryError(f"{where}: 'prompt' must be a non-empty string")
    category = raw.get("category", "general")
    if not isinstance(category, str) or not category.strip():
        raise BatteryError(f"{where}: 'category' must be a non-empty string")
    return Probe(pid, category.strip(), prompt.strip(), _validate_check(raw["check"], where))


def parse_battery(data: Any, origin: str = "battery") -> list[Probe]:
    """Validate a list of probe mappings (or `{"probes": [...]}`) into probes."""
    if isinstance(data, Mapping):
        extra = set(data) - {"probes", "version"}
        if "probes" not in data or extra:
            raise BatteryError(
                f"{origin}: expected a list of probes or a mapping with a "
                f"'probes' list, got keys {', '.join(map(str, data))}"
            )
        data = data["probes"]
    if not isinstance(data, list):
        raise BatteryError(f"{origin}: expected a list of probes, got {type(data).__name__}")
    if not data:
        raise BatteryError(f"{origin}: the battery is empty")
    probes = [_validate_probe(raw, i, origin) for i, raw in enumerate(data)]
    seen: set[str] = set()
    for p in probes:
        if p.id in seen:
            raise BatteryError(f"{origin}: probe id {p.id!r} appears more than once")
        seen.add(p.id)
    return probes


def load_battery(
    source: Sequence[Mapping[str, Any]] | Mapping[str, Any] | str | Path,
) -> list[Probe]:
    """Probes from a frontmatter-style list of dicts or from a YAML file path.

    The YAML file holds either a list of probes or `{version: 1, probes: [...]}`; each probe is
    `{id, category, prompt, check: {kind, ...params}}`. Raises `BatteryError` naming the file,
    the probe and the field at fault.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise BatteryError(f"{path.name}: cannot read probe battery: {err.strerror}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err)
            raise BatteryError(f"{path.name}: not valid YAML{at}: {problem}") from None
        return parse_battery(data, path.name)
    data = list(source) if isinstance(source, tuple) else source
    return parse_battery(data, "frontmatter 'probe'")


def battery_path_for(lab_path: str | Path) -> Path:
    """The battery file beside a lab: `labs/lab-02-x.md` -> `labs/lab-02-x.probe.yaml`."""
    lab_path = Path(lab_path)
    return lab_path.with_name(lab_path.stem + BATTERY_SUFFIX)


@dataclass(frozen=True)
class Battery:
    probes: tuple[Probe, ...]
    source: str  # "built-in", "frontmatter", or the battery file's name


def resolve_battery(
    lab_path: str | Path | None = None, frontmatter: Mapping[str, Any] | None = None
) -> Battery:
    """The battery for a lab: frontmatter `probe:` > `<lab>.probe.yaml` beside it > built-in.

    Frontmatter `probe:` is either the list of probes or a file name relative to the lab.
    """
    raw = (frontmatter or {}).get("probe")
    if raw is not None:
        if isinstance(raw, str):
            base = Path(lab_path).parent if lab_path is not None else Path.cwd()
            path = base / raw
            return Battery(tuple(load_battery(path)), path.name)
        return Battery(tuple(load_battery(raw)), "frontmatter")
    if lab_path is not None:
        path = battery_path_for(lab_path)
        if path.is_file():
            return Battery(tuple(load_battery(path)), path.name)
    return Battery(BUILTIN_BATTERY, "built-in")
