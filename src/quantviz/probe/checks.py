"""Checkers of the quality probe: is an answer right? Data-driven, tolerant of chatty answers.

A check is a `CheckSpec` (`kind` + params). Checkers are tolerant of chatty answers (they take the
last number, look inside code fences, find the `<svg>` in prose) but strict about what was asked
(three words means three words). `run_check` never raises: a checker bug is a failed check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from quantviz.chat.svg import drawable_elements, first_svg
from quantviz.text import code_fences


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
class CheckResult:
    passed: bool
    reason: str


# --------------------------------------------------------------------------------------------
# Text helpers

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


def strip_think(text: str) -> str:
    """Drop `<think>...</think>` spans some models emit before the answer."""
    return _THINK_RE.sub("", text)


def strip_code_fences(text: str) -> str:
    """The text with fence lines removed but the fenced content kept."""
    out, pos = [], 0
    for f in code_fences(text):
        out += [text[pos : f.start], f.body]
        pos = f.end
    return "".join(out) + text[pos:]


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
    fences = code_fences(body)
    if len(fences) == 1 and fences[0].start == 0 and not body[fences[0].end :].strip():
        return fences[0].body.strip(), " (inside a code fence)"  # the whole answer is one fence
    if strict:
        return body, ""
    if fences:
        return fences[0].body.strip(), " (from a code block)"
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


def _check_svg(text: str, p: Mapping[str, Any]) -> CheckResult:
    """The answer's first SVG, as the chat would draw it (`quantviz.chat.svg`), with enough
    drawing elements; a malformed or unfinished one fails with the reason it cannot be drawn."""
    min_elements = int(p.get("min_elements", 1))
    svg = first_svg(strip_think(text))
    if svg is None:
        return CheckResult(False, "no <svg> element in the answer")
    if svg.problem is not None:
        return CheckResult(False, f"the SVG cannot be drawn: {svg.problem}")
    drawn = drawable_elements(svg.source)
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
