"""Quality probe: a battery of prompts with checkable answers, run on two tags and compared.

A probe is a prompt plus a data-driven checker spec (`kind` + params). Checkers are tolerant of
chatty answers (they take the last number, look inside code fences, find the `<svg>` in prose)
but strict about what was asked (three words means three words).

Two outputs are compared token by token. Tokens come from the endpoint's logprobs when both
answers carry them, otherwise from a simple word/punctuation split. With logprobs, over the
prefix where both tags produced the same tokens, we report the mean absolute log-probability
difference of the chosen tokens and the top-k overlap as a Jaccard index |A∩B| / |A∪B| of the
two top-k token sets, averaged over positions.

Ollama (0.12.11 and later) returns logprobs on `/api/chat` when asked with `logprobs: true`
and `top_logprobs: k` (0-20): each response chunk carries
`"logprobs": [{"token": str, "logprob": float, "bytes": [int], "top_logprobs":
[{"token", "logprob", "bytes"}]}]` for the tokens of that chunk. `normalize_logprobs` accepts
that shape as dicts or as the `ollama` client's `Logprob` objects.

The runner never talks to Ollama itself: it calls `ask(tag, prompt) -> (text, logprobs | None,
metrics | None)`, checks `cancel` before every request and keeps every finished answer.
Battery files: a lab `labs/<stem>.md` may sit beside `labs/<stem>.probe.yaml`; its frontmatter
`probe:` key (a list of probes, or a file name relative to the lab) takes precedence.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

# Deterministic generation for a fair comparison; the UI passes these as Ollama `options`.
PROBE_OPTIONS: dict[str, Any] = {"temperature": 0, "seed": 42}
DEFAULT_TOP_LOGPROBS = 5
BATTERY_SUFFIX = ".probe.yaml"

Logprobs = Sequence[Any]
AskResult = tuple[str, Logprobs | None, Any]
AskFn = Callable[[str, str], AskResult]
CancelSignal = threading.Event | Callable[[], bool] | None


class BatteryError(ValueError):
    """A probe battery (YAML file or frontmatter list) is malformed; the message says where."""


# --------------------------------------------------------------------------------------------
# Data model


@dataclass(frozen=True)
class CheckSpec:
    """Which checker to run and its parameters, e.g. `CheckSpec("number", {"expected": 391})`."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for key, value in self.params.items():
            if key == "checks":
                out[key] = [c.to_dict() if isinstance(c, CheckSpec) else c for c in value]
            else:
                out[key] = value
        return out


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


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    reason: str


@dataclass(frozen=True)
class TokenLogprob:
    """A generated token, its log-probability and the top-k alternatives at that position."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


# --------------------------------------------------------------------------------------------
# Text helpers

_FENCE_RE = re.compile(
    r"(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+.-]*)[^\n]*\n(?P<body>.*?)(?P=fence)", re.DOTALL
)
_THINK_RE = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        (
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        )
    )
}
_NUMBER_RE = re.compile(
    r"(?P<num>(?:(?<!\w)-)?(?<![\d.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d]))"
    r"|\b(?P<word>" + "|".join(_NUMBER_WORDS) + r")\b",
    re.IGNORECASE,
)
_BOLD_RE = re.compile(r"\*\*(.+?)\*\*|__(.+?)__", re.DOTALL)
_WORD_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_SIMPLE_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def strip_think(text: str) -> str:
    """Drop `<think>...</think>` spans some models emit before the answer."""
    return _THINK_RE.sub("", text)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced code block as `(language, body)`, language lower-cased ('' when absent)."""
    return [(m["lang"].lower(), m["body"]) for m in _FENCE_RE.finditer(text)]


def strip_code_fences(text: str) -> str:
    """The text with fence lines removed but the fenced content kept."""
    return _FENCE_RE.sub(lambda m: m["body"], text)


def plain_text(text: str) -> str:
    """Answer text without thinking spans, fences or markdown emphasis, trimmed."""
    text = strip_code_fences(strip_think(text))
    text = re.sub(r"[*_`#>]+", " ", text)
    return text.strip()


def extract_numbers(text: str) -> list[float]:
    """All numbers in reading order: digits (with thousands commas) and number words 0-20."""
    text = strip_think(text).replace("\u2212", "-")
    out: list[float] = []
    for m in _NUMBER_RE.finditer(text):
        if m["num"] is not None:
            out.append(float(m["num"].replace(",", "")))
        else:
            out.append(float(_NUMBER_WORDS[m["word"].lower()]))
    return out


def last_number(text: str) -> float | None:
    """The answer's number: the last **bold** number if any, else the last number at all.

    Chatty replies usually end on their result ("17 × 23 = 391."); when a model marks its result
    in bold and then keeps talking ("**391** (17 times 23)"), the bold one is the answer.
    """
    spans = [a or b for a, b in _BOLD_RE.findall(strip_think(text))]
    bold = [n for span in spans for n in extract_numbers(span)]
    if bold:
        return bold[-1]
    numbers = extract_numbers(text)
    return numbers[-1] if numbers else None


def words(text: str) -> list[str]:
    """Words of the plain answer text, punctuation dropped (hyphens and apostrophes kept)."""
    return _WORD_RE.findall(plain_text(text))


def simple_tokens(text: str) -> list[str]:
    """A tokenizer-free split into words and single punctuation marks, whitespace dropped."""
    return _SIMPLE_TOKEN_RE.findall(text)


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# Checkers


def _check_number(text: str, p: Mapping[str, Any]) -> CheckResult:
    expected = float(p["expected"])
    tolerance = float(p.get("tolerance", 0))
    found = last_number(text)
    if found is None:
        return CheckResult(False, f"no number in the answer (expected {_fmt_num(expected)})")
    if abs(found - expected) <= tolerance:
        return CheckResult(True, f"answered {_fmt_num(found)} as expected")
    return CheckResult(False, f"answered {_fmt_num(found)}, expected {_fmt_num(expected)}")


def _check_letter_count(text: str, p: Mapping[str, Any]) -> CheckResult:
    word, letter = str(p["word"]), str(p["letter"])
    expected = word.lower().count(letter.lower())
    found = last_number(text)
    what = f"'{letter}' in '{word}'"
    if found is None:
        return CheckResult(False, f"no number in the answer ({what} occurs {expected} times)")
    if found == expected:
        return CheckResult(True, f"counted {expected} × {what} correctly")
    return CheckResult(False, f"counted {_fmt_num(found)} × {what}, the word has {expected}")


def _check_contains(text: str, p: Mapping[str, Any]) -> CheckResult:
    case = bool(p.get("case_sensitive", False))
    hay = " ".join(plain_text(text).split())
    hay_cmp = hay if case else hay.casefold()

    def has(needle: str) -> bool:
        n = " ".join(str(needle).split())
        return (n if case else n.casefold()) in hay_cmp

    any_of = [str(x) for x in p.get("any", [])]
    all_of = [str(x) for x in p.get("all", [])]
    missing = [n for n in all_of if not has(n)]
    if missing:
        return CheckResult(False, f"missing {', '.join(repr(m) for m in missing)}")
    if any_of:
        hits = [n for n in any_of if has(n)]
        if not hits:
            return CheckResult(False, f"none of {', '.join(repr(n) for n in any_of)} in the answer")
        return CheckResult(True, f"mentions {hits[0]!r}")
    return CheckResult(True, f"mentions {', '.join(repr(n) for n in all_of)}")


_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


def _regex_flags(flags: str) -> int:
    out = 0
    for ch in flags:
        out |= _REGEX_FLAGS[ch]
    return out


def _check_regex(text: str, p: Mapping[str, Any]) -> CheckResult:
    pattern = str(p["pattern"])
    what = str(p.get("describe") or f"/{pattern}/")
    body = strip_code_fences(strip_think(text))
    m = re.search(pattern, body, _regex_flags(p.get("flags", "")))
    if m:
        return CheckResult(True, f"matches {what}: {_short(m.group(0), 40)!r}")
    return CheckResult(False, f"does not match {what}: {_short(body, 40)!r}")


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _json_type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    for name in ("string", "integer", "number", "array", "object", "null"):
        if isinstance(value, _JSON_TYPES[name]):
            return name
    return type(value).__name__


def _is_json_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES[name])


def _json_candidate(text: str, strict: bool) -> tuple[str | None, str]:
    """The JSON text to parse and a note on where it came from."""
    body = strip_think(text).strip()
    blocks = fenced_blocks(body)
    whole_fence = _FENCE_RE.fullmatch(body)
    if whole_fence:
        return whole_fence["body"].strip(), " (inside a code fence)"
    if strict:
        return body, ""
    if blocks:
        return blocks[0][1].strip(), " (from a code block)"
    start = body.find("{")
    end = body.rfind("}")
    if start == -1 or end < start:
        return None, ""
    return body[start : end + 1], " (found in surrounding text)"


def _check_json_keys(text: str, p: Mapping[str, Any]) -> CheckResult:
    strict = bool(p.get("strict", True))
    candidate, note = _json_candidate(text, strict)
    if candidate is None:
        return CheckResult(False, "no JSON object in the answer")
    try:
        data = json.loads(candidate)
    except json.JSONDecodeError as err:
        prefix = "not strict JSON" if strict else "not valid JSON"
        return CheckResult(False, f"{prefix}: {err.msg} at line {err.lineno} column {err.colno}")
    if not isinstance(data, dict):
        return CheckResult(False, f"JSON is {_json_type_name(data)}, expected an object")
    required = p.get("required", {})
    wanted = dict(required) if isinstance(required, Mapping) else dict.fromkeys(map(str, required))
    missing = [k for k in wanted if k not in data]
    if missing:
        return CheckResult(
            False,
            f"missing key{'s' if len(missing) > 1 else ''} {', '.join(repr(k) for k in missing)}",
        )
    for key, type_name in wanted.items():
        if type_name is not None and not _is_json_type(data[key], type_name):
            return CheckResult(
                False, f"{key!r} is {_json_type_name(data[key])}, expected {type_name}"
            )
    for key, expected in dict(p.get("values", {})).items():
        if data.get(key) != expected:
            return CheckResult(False, f"{key!r} is {data.get(key)!r}, expected {expected!r}")
    keys = ", ".join(wanted) if wanted else "an object"
    return CheckResult(True, f"valid JSON with {keys}{note}")


def _check_word_count(text: str, p: Mapping[str, Any]) -> CheckResult:
    found = words(text)
    n = len(found)
    lo = int(p.get("count", p.get("min", 0)))
    hi = int(p.get("count", p.get("max", 10**9)))
    shown = _short(" ".join(found), 50)
    if lo <= n <= hi:
        return CheckResult(True, f"{n} word{'s' if n != 1 else ''}: {shown}")
    wanted = f"exactly {lo}" if lo == hi else f"{lo}-{hi}" if hi < 10**9 else f"at least {lo}"
    return CheckResult(False, f"{n} words, expected {wanted}: {shown}")


def _check_all_caps(text: str, p: Mapping[str, Any]) -> CheckResult:
    found = words(text)
    lower = [w for w in found if any(c.isalpha() for c in w) and w != w.upper()]
    if not any(c.isalpha() for c in "".join(found)):
        return CheckResult(False, "no letters in the answer")
    if lower:
        return CheckResult(False, f"not all capitals: {lower[0]!r}")
    return CheckResult(True, "all capitals")


def _check_ends_with(text: str, p: Mapping[str, Any]) -> CheckResult:
    target = str(p["word"])
    found = words(text)
    if not found:
        return CheckResult(False, f"empty answer, expected it to end with {target!r}")
    last = found[-1]
    case = bool(p.get("case_sensitive", False))
    same = last == target if case else last.casefold() == target.casefold()
    if same:
        return CheckResult(True, f"ends with {last!r}")
    return CheckResult(False, f"ends with {last!r}, expected {target!r}")


_SVG_DRAWABLE = frozenset(
    {"path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "image", "use"}
)
_SVG_SPAN_RE = re.compile(r"<svg\b.*?</svg\s*>|<svg\b[^>]*/>", re.DOTALL | re.IGNORECASE)


def extract_svg(text: str) -> str | None:
    """The first `<svg>...</svg>` in the answer, fenced or bare; None if there is none."""
    text = strip_think(text)
    for _, body in fenced_blocks(text):
        m = _SVG_SPAN_RE.search(body)
        if m:
            return m.group(0)
    m = _SVG_SPAN_RE.search(text)
    return m.group(0) if m else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _check_svg(text: str, p: Mapping[str, Any]) -> CheckResult:
    min_elements = int(p.get("min_elements", 1))
    svg = extract_svg(text)
    if svg is None:
        return CheckResult(False, "no <svg> element in the answer")
    try:
        # Parsing starts at <svg>: no DOCTYPE, so no entity definitions reach the parser.
        root = ET.fromstring(svg)
    except ET.ParseError as err:
        return CheckResult(False, f"SVG is not well-formed XML: {err}")
    if _local(root.tag) != "svg":
        return CheckResult(False, f"root element is <{_local(root.tag)}>, expected <svg>")
    drawn = [_local(el.tag) for el in root.iter() if _local(el.tag) in _SVG_DRAWABLE]
    if len(drawn) < min_elements:
        return CheckResult(
            False,
            f"SVG has {len(drawn)} drawable element{'s' if len(drawn) != 1 else ''}, "
            f"expected at least {min_elements}",
        )
    kinds = ", ".join(sorted(set(drawn)))
    return CheckResult(True, f"well-formed SVG with {len(drawn)} drawable elements ({kinds})")


def _check_all_of(text: str, p: Mapping[str, Any]) -> CheckResult:
    results = [run_check(spec, text) for spec in p["checks"]]
    failed = [r.reason for r in results if not r.passed]
    if failed:
        return CheckResult(False, "; ".join(failed))
    return CheckResult(True, "; ".join(r.reason for r in results))


Checker = Callable[[str, Mapping[str, Any]], CheckResult]

# kind -> (checker, required params with types, optional params with types)
_KINDS: dict[str, tuple[Checker, dict[str, tuple[type, ...]], dict[str, tuple[type, ...]]]] = {
    "number": (_check_number, {"expected": (int, float)}, {"tolerance": (int, float)}),
    "letter_count": (_check_letter_count, {"word": (str,), "letter": (str,)}, {}),
    "contains": (
        _check_contains,
        {},
        {"any": (list, str), "all": (list, str), "case_sensitive": (bool,)},
    ),
    "regex": (_check_regex, {"pattern": (str,)}, {"flags": (str,), "describe": (str,)}),
    "json_keys": (
        _check_json_keys,
        {},
        {"required": (dict, list), "values": (dict,), "strict": (bool,)},
    ),
    "word_count": (_check_word_count, {}, {"count": (int,), "min": (int,), "max": (int,)}),
    "all_caps": (_check_all_caps, {}, {}),
    "ends_with": (_check_ends_with, {"word": (str,)}, {"case_sensitive": (bool,)}),
    "svg": (_check_svg, {}, {"min_elements": (int,)}),
    "all_of": (_check_all_of, {"checks": (list,)}, {}),
}
CHECK_KINDS: tuple[str, ...] = tuple(_KINDS)


def run_check(spec: CheckSpec, text: str) -> CheckResult:
    """Run one checker on an answer; a checker bug is reported as a failure, never raised."""
    checker = _KINDS[spec.kind][0]
    try:
        return checker(text, spec.params)
    except Exception as err:  # a malformed answer must not end a probe run
        return CheckResult(False, f"checker {spec.kind} failed: {type(err).__name__}: {err}")


def check_answer(probe: Probe, text: str) -> CheckResult:
    return run_check(probe.check, text)


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


# --------------------------------------------------------------------------------------------
# Logprobs and comparison


def _get(entry: Any, key: str, default: Any = None) -> Any:
    if isinstance(entry, Mapping):
        return entry.get(key, default)
    return getattr(entry, key, default)


def normalize_logprobs(raw: Logprobs | None) -> list[TokenLogprob] | None:
    """Logprob entries as `TokenLogprob`s; None or empty (the endpoint sent none) gives None.

    Accepts Ollama's `/api/chat` dicts, the `ollama` client's `Logprob` objects (alternatives in
    `top_logprobs`) and `quantviz.ollama.client.TokenLogprob` (alternatives in `top`).
    """
    if not raw:
        return None
    out: list[TokenLogprob] = []
    for entry in raw:
        if isinstance(entry, TokenLogprob):
            out.append(entry)
            continue
        alternatives = _get(entry, "top_logprobs")
        if alternatives is None:
            alternatives = _get(entry, "top")
        top = tuple(
            (str(_get(alt, "token", "")), float(_get(alt, "logprob", 0.0)))
            for alt in (alternatives or ())
        )
        out.append(
            TokenLogprob(str(_get(entry, "token", "")), float(_get(entry, "logprob", 0.0)), top)
        )
    return out


@dataclass(frozen=True)
class Comparison:
    """How two answers to one prompt agree.

    `first_diff` is the index of the first differing token (None when the token sequences are
    identical; the shorter length when one is a prefix of the other). `similarity` is difflib's
    ratio over the token sequences (1.0 = identical). Logprob figures cover the agreed prefix:
    `mean_abs_logprob_diff` averages |logprob_a - logprob_b| of the shared tokens and
    `topk_jaccard` averages |top_a ∩ top_b| / |top_a ∪ top_b| per position.
    """

    token_source: Literal["logprobs", "words"]
    first_diff: int | None
    n_tokens: tuple[int, int]
    similarity: float
    agreed_prefix: int
    mean_abs_logprob_diff: float | None = None
    topk_jaccard: float | None = None

    @property
    def identical(self) -> bool:
        return self.first_diff is None


def _first_diff(a: Sequence[str], b: Sequence[str]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def compare_outputs(
    text_a: str,
    text_b: str,
    logprobs_a: Sequence[TokenLogprob] | None = None,
    logprobs_b: Sequence[TokenLogprob] | None = None,
) -> Comparison:
    """Compare two answers; logprob tokens are used only when both sides have them."""
    with_lp = logprobs_a is not None and logprobs_b is not None
    if logprobs_a is not None and logprobs_b is not None:
        tokens_a = [t.token for t in logprobs_a]
        tokens_b = [t.token for t in logprobs_b]
    else:
        tokens_a, tokens_b = simple_tokens(text_a), simple_tokens(text_b)
    first = _first_diff(tokens_a, tokens_b)
    agreed = len(tokens_a) if first is None else first
    similarity = difflib.SequenceMatcher(None, tokens_a, tokens_b, autojunk=False).ratio()
    if not tokens_a and not tokens_b:
        similarity = 1.0
    mean_diff: float | None = None
    jaccard: float | None = None
    if logprobs_a is not None and logprobs_b is not None:
        shared = list(zip(logprobs_a[:agreed], logprobs_b[:agreed], strict=True))
        if shared:
            mean_diff = sum(abs(x.logprob - y.logprob) for x, y in shared) / len(shared)
            overlaps = [
                len({t for t, _ in x.top} & {t for t, _ in y.top})
                / len({t for t, _ in x.top} | {t for t, _ in y.top})
                for x, y in shared
                if x.top or y.top
            ]
            jaccard = sum(overlaps) / len(overlaps) if overlaps else None
    return Comparison(
        token_source="logprobs" if with_lp else "words",
        first_diff=first,
        n_tokens=(len(tokens_a), len(tokens_b)),
        similarity=similarity,
        agreed_prefix=agreed,
        mean_abs_logprob_diff=mean_diff,
        topk_jaccard=jaccard,
    )


# --------------------------------------------------------------------------------------------
# Results


def metrics_dict(metrics: Any) -> dict[str, Any] | None:
    """Metrics from `ask` (a dataclass, mapping, pydantic model or object) as a plain dict."""
    if metrics is None:
        return None
    if dataclasses.is_dataclass(metrics) and not isinstance(metrics, type):
        data = dataclasses.asdict(metrics)
    elif isinstance(metrics, Mapping):
        data = dict(metrics)
    elif hasattr(metrics, "model_dump"):
        data = metrics.model_dump()
    else:
        try:
            data = {k: v for k, v in vars(metrics).items() if not k.startswith("_")}
        except TypeError:
            data = {}
    if data.get("tokens_per_s") is None:
        # A `tokens_per_s` property is not a dataclass field: ask the object itself first.
        attr = None if isinstance(metrics, Mapping) else getattr(metrics, "tokens_per_s", None)
        tps = attr if isinstance(attr, (int, float)) else _tokens_per_s(data)
        if tps is not None:
            data["tokens_per_s"] = tps
    return data


def _tokens_per_s(data: Mapping[str, Any]) -> float | None:
    count, duration = data.get("eval_count"), data.get("eval_duration")
    if isinstance(count, (int, float)) and isinstance(duration, (int, float)) and duration > 0:
        return count / duration * 1e9
    return None


@dataclass
class TagResult:
    """One tag's answer to one probe."""

    tag: str
    output: str
    check: CheckResult
    metrics: dict[str, Any] | None = None
    logprobs: list[TokenLogprob] | None = None
    elapsed_s: float | None = None
    error: str | None = None

    @property
    def tokens_per_s(self) -> float | None:
        value = (self.metrics or {}).get("tokens_per_s")
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "output": self.output,
            "passed": self.check.passed,
            "reason": self.check.reason,
            "metrics": self.metrics,
            "logprobs": None
            if self.logprobs is None
            else [
                {
                    "token": t.token,
                    "logprob": t.logprob,
                    "top_logprobs": [{"token": tok, "logprob": lp} for tok, lp in t.top],
                }
                for t in self.logprobs
            ],
            "elapsed_s": self.elapsed_s,
            "error": self.error,
        }


@dataclass
class ProbeResult:
    """Every tag's answer to one probe and, once two tags answered, their comparison."""

    probe: Probe
    results: dict[str, TagResult] = field(default_factory=dict)
    comparison: Comparison | None = None
    complete: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "probe": self.probe.to_dict(),
            "results": {tag: r.to_dict() for tag, r in self.results.items()},
            "comparison": None if self.comparison is None else dataclasses.asdict(self.comparison),
            "complete": self.complete,
        }


@dataclass(frozen=True)
class ProbeSummary:
    tags: tuple[str, ...]
    completed: int
    total: int
    cancelled: bool
    passes: dict[str, int]
    answered: dict[str, int]
    passes_by_category: dict[str, dict[str, int]]
    answered_by_category: dict[str, dict[str, int]]
    mean_similarity: float | None
    identical: int
    logprobs_supported: bool | None  # None: nothing compared yet
    mean_abs_logprob_diff: float | None
    mean_topk_jaccard: float | None
    mean_tokens_per_s: dict[str, float | None]
    errors: int

    @property
    def logprob_text(self) -> str:
        """One line on the logprob figures, or why there are none."""
        if self.logprobs_supported is None:
            return "logprobs: nothing compared yet"
        if not self.logprobs_supported:
            return "logprobs: not supported by this endpoint (needs Ollama 0.12.11 or later)"
        parts = []
        if self.mean_abs_logprob_diff is not None:
            parts.append(f"mean |Δ logprob| {self.mean_abs_logprob_diff:.3f} over agreed tokens")
        if self.mean_topk_jaccard is not None:
            parts.append(f"top-k overlap (Jaccard) {self.mean_topk_jaccard:.2f}")
        return "logprobs: " + ("; ".join(parts) if parts else "no agreed tokens to compare")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["logprob_text"] = self.logprob_text
        return data


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class ProbeRun:
    """A probe run in progress or finished; results only ever grow."""

    tags: tuple[str, ...]
    probes: tuple[Probe, ...]
    results: list[ProbeResult] = field(default_factory=list)
    cancelled: bool = False
    finished: bool = False

    @property
    def total(self) -> int:
        return len(self.probes)

    @property
    def completed(self) -> int:
        return sum(1 for r in self.results if r.complete)

    def summary(self) -> ProbeSummary:
        passes = {t: 0 for t in self.tags}
        answered = {t: 0 for t in self.tags}
        by_cat: dict[str, dict[str, int]] = {}
        ans_cat: dict[str, dict[str, int]] = {}
        speeds: dict[str, list[float]] = {t: [] for t in self.tags}
        errors = 0
        for res in self.results:
            cat = res.probe.category
            by_cat.setdefault(cat, {t: 0 for t in self.tags})
            ans_cat.setdefault(cat, {t: 0 for t in self.tags})
            for tag, tr in res.results.items():
                answered[tag] += 1
                ans_cat[cat][tag] += 1
                if tr.check.passed:
                    passes[tag] += 1
                    by_cat[cat][tag] += 1
                if tr.error:
                    errors += 1
                if tr.tokens_per_s is not None:
                    speeds[tag].append(tr.tokens_per_s)
        comps = [r.comparison for r in self.results if r.comparison is not None]
        with_lp = [c for c in comps if c.token_source == "logprobs"]
        supported: bool | None = None if not comps else bool(with_lp)
        return ProbeSummary(
            tags=self.tags,
            completed=self.completed,
            total=self.total,
            cancelled=self.cancelled,
            passes=passes,
            answered=answered,
            passes_by_category=by_cat,
            answered_by_category=ans_cat,
            mean_similarity=_mean([c.similarity for c in comps]),
            identical=sum(1 for c in comps if c.identical),
            logprobs_supported=supported,
            mean_abs_logprob_diff=_mean(
                [c.mean_abs_logprob_diff for c in with_lp if c.mean_abs_logprob_diff is not None]
            ),
            mean_topk_jaccard=_mean(
                [c.topk_jaccard for c in with_lp if c.topk_jaccard is not None]
            ),
            mean_tokens_per_s={t: _mean(v) for t, v in speeds.items()},
            errors=errors,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tags": list(self.tags),
            "probe_ids": [p.id for p in self.probes],
            "total": self.total,
            "completed": self.completed,
            "cancelled": self.cancelled,
            "finished": self.finished,
            "results": [r.to_dict() for r in self.results],
            "summary": self.summary().to_dict(),
        }


@dataclass(frozen=True)
class ProbeProgress:
    """One step of a run: `phase` is asking, answered, cancelled or finished."""

    phase: Literal["asking", "answered", "cancelled", "finished"]
    step: int  # requests finished so far
    steps: int  # requests in the whole run (probes × tags)
    probe_id: str | None
    tag: str | None
    run: ProbeRun
    message: str

    @property
    def fraction(self) -> float:
        return self.step / self.steps if self.steps else 1.0


def _is_cancelled(cancel: CancelSignal) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def run_probes(
    battery: Sequence[Probe],
    tags: Sequence[str],
    ask: AskFn,
    *,
    cancel: CancelSignal = None,
    run: ProbeRun | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[ProbeProgress]:
    """Ask every probe of the battery to every tag, yielding progress as it goes.

    `cancel` (a `threading.Event` or a callable returning True to stop) is checked before every
    request; finished answers stay in `progress.run`, a probe cut between its tags is kept with
    `complete=False`. An exception from `ask` is recorded as a failed answer with its message
    and the run goes on. The run object is the same in every progress event.
    """
    if not tags:
        raise ValueError("run_probes needs at least one tag")
    if run is None:
        run = ProbeRun(tags=tuple(tags), probes=tuple(battery))
    steps = len(battery) * len(tags)
    step = 0
    for probe in battery:
        result: ProbeResult | None = None
        for tag in tags:
            if _is_cancelled(cancel):
                run.cancelled = True
                yield ProbeProgress(
                    "cancelled",
                    step,
                    steps,
                    probe.id,
                    tag,
                    run,
                    f"cancelled after {run.completed} of {run.total} probes",
                )
                return
            yield ProbeProgress(
                "asking", step, steps, probe.id, tag, run, f"asking {tag}: {probe.id}"
            )
            start = clock()
            try:
                text, raw_lp, raw_metrics = ask(tag, probe.prompt)
                tag_result = TagResult(
                    tag=tag,
                    output=text,
                    check=check_answer(probe, text),
                    metrics=metrics_dict(raw_metrics),
                    logprobs=normalize_logprobs(raw_lp),
                    elapsed_s=clock() - start,
                )
            except Exception as err:  # the endpoint failing must not lose earlier answers
                message = f"{type(err).__name__}: {err}"
                tag_result = TagResult(
                    tag=tag,
                    output="",
                    check=CheckResult(False, f"no answer ({message})"),
                    elapsed_s=clock() - start,
                    error=message,
                )
            if result is None:
                result = ProbeResult(probe)
                run.results.append(result)
            result.results[tag] = tag_result
            step += 1
            verdict = "pass" if tag_result.check.passed else "fail"
            yield ProbeProgress(
                "answered", step, steps, probe.id, tag, run, f"{tag}: {probe.id} {verdict}"
            )
        assert result is not None
        result.complete = True
        if len(tags) >= 2:
            a, b = result.results[tags[0]], result.results[tags[1]]
            if a.error is None and b.error is None:
                result.comparison = compare_outputs(a.output, b.output, a.logprobs, b.logprobs)
    run.finished = True
    yield ProbeProgress(
        "finished", step, steps, None, None, run, f"finished {run.completed} probes"
    )


def run_all(
    battery: Sequence[Probe], tags: Sequence[str], ask: AskFn, *, cancel: CancelSignal = None
) -> ProbeRun:
    """Run `run_probes` to the end and return the run."""
    run = ProbeRun(tags=tuple(tags), probes=tuple(battery))
    for _ in run_probes(battery, tags, ask, cancel=cancel, run=run):
        pass
    return run
