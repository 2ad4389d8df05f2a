"""Quality probe: checkers, battery loading, comparisons and the cancellable runner."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import ollama
import pytest
from probe_runs import run_to_end

from quantviz.chat.svg import SvgPart, first_svg
from quantviz.ollama.client import TokenLogprob
from quantviz.probe.battery import (
    BUILTIN_BATTERY,
    BatteryError,
    Probe,
    battery_path_for,
    load_battery,
    resolve_battery,
)
from quantviz.probe.checks import CHECK_KINDS, CheckSpec, last_number, run_check
from quantviz.probe.compare import compare_outputs, normalize_logprobs, simple_tokens
from quantviz.probe.run import ProbeRun, check_answer, run_probes

BUILTIN = {p.id: p for p in BUILTIN_BATTERY}

GOOD_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
    '<circle cx="30" cy="70" r="15"/><circle cx="70" cy="70" r="15"/>'
    '<path d="M30 70 L50 40 L70 70"/><ellipse cx="50" cy="30" rx="12" ry="8"/></svg>'
)

# A realistic passing answer for every built-in probe.
GOOD_ANSWERS = {
    "multiply": "Sure! 17 × 23 = **391**.",
    "word-problem": "7 boxes × 12 eggs = 84 eggs, plus 5 loose eggs gives 89.",
    "capital": "The capital of Australia is **Canberra**.",
    "json-book": '```json\n{"title": "Dune", "year": 1965, "authors": ["Frank Herbert"]}\n```',
    "count-r": 'The letter "r" appears **3** times in "strawberry".',
    "three-words": "DEEP VAST BLUE",
    "primes": "2, 3, 5, 7, 11",
    "svg-pelican": f"Here is a pelican on a bicycle:\n\n```svg\n{GOOD_SVG}\n```\nEnjoy!",
}


def spec(kind: str, **params: object) -> CheckSpec:
    return CheckSpec(kind, params)


# --- checkers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("probe", BUILTIN_BATTERY, ids=lambda p: p.id)
def test_builtin_probe_passes_its_reference_answer(probe: Probe) -> None:
    """Every built-in probe accepts a realistic, chatty but correct answer."""
    result = check_answer(probe, GOOD_ANSWERS[probe.id])
    assert result.passed, result.reason


@pytest.mark.parametrize("probe", BUILTIN_BATTERY, ids=lambda p: p.id)
def test_builtin_probe_fails_a_refusal_with_a_reason(probe: Probe) -> None:
    """A refusal fails every built-in probe and the reason is a non-empty sentence."""
    result = check_answer(probe, "I'm sorry, I can't help with that.")
    assert not result.passed
    assert len(result.reason) > 5


def test_builtin_battery_covers_the_issue_categories() -> None:
    """The built-in battery has about eight probes with unique ids over the required categories."""
    assert 6 <= len(BUILTIN_BATTERY) <= 10
    assert len(BUILTIN) == len(BUILTIN_BATTERY)
    cats = {p.category for p in BUILTIN_BATTERY}
    assert {"arithmetic", "fact", "json", "counting", "instruction", "svg"} <= cats


def test_number_takes_the_last_number_of_a_chatty_answer() -> None:
    """The number checker reads the last number, so working shown before the result is fine."""
    check = spec("number", expected=391)
    ok = run_check(check, "Let me work it out: 17 × 20 = 340 and 17 × 3 = 51, so 340 + 51 = 391.")
    assert ok.passed
    bad = run_check(check, "17 × 23 = 381. Hope that helps!")
    assert not bad.passed
    assert "381" in bad.reason and "391" in bad.reason


def test_number_prefers_a_bold_answer_over_trailing_talk() -> None:
    """A bold number is the answer even when the model keeps talking after it."""
    assert last_number("The result is **391** (that is 17 times 23).") == 391
    assert run_check(spec("number", expected=391), "**391** (17 × 23)").passed


def test_number_reads_thousands_words_and_negatives() -> None:
    """Thousands separators, number words and a minus sign are understood."""
    assert last_number("It costs $1,234.50 in total") == 1234.5
    assert last_number("There are three of them.") == 3
    assert last_number("The temperature is −5 degrees") == -5
    assert last_number("No digits here") is None
    assert not run_check(spec("number", expected=3), "No idea.").passed


def test_number_tolerance() -> None:
    """A tolerance accepts answers within ± tolerance of the expected value."""
    check = spec("number", expected=3.1416, tolerance=0.001)
    assert run_check(check, "π ≈ 3.1416").passed
    assert not run_check(check, "π ≈ 3.14").passed


def test_letter_count_derives_the_expected_count() -> None:
    """The letter-count checker computes the true count itself and names it on failure."""
    check = spec("letter_count", word="strawberry", letter="r")
    assert run_check(check, "There are three r's in strawberry.").passed
    fail = run_check(check, "The letter r appears 2 times: st-r-awbe-r-y.")
    assert not fail.passed and "has 3" in fail.reason


def test_contains_is_case_insensitive_and_ignores_markdown() -> None:
    """`contains` matches through bold markup and case; `all` names what is missing."""
    assert run_check(spec("contains", any=["Canberra"]), "It's **CANBERRA**!").passed
    fail = run_check(spec("contains", all=["Paris", "France"]), "Paris is lovely")
    assert not fail.passed and "'France'" in fail.reason


def test_regex_check_reports_its_description() -> None:
    """A regex checker with `describe` uses the description in its reasons."""
    check = spec("regex", pattern=r"^\s*yes\s*$", flags="i", describe="a bare yes")
    assert run_check(check, "YES").passed
    fail = run_check(check, "Yes, of course.")
    assert not fail.passed and "a bare yes" in fail.reason


def test_json_keys_accepts_a_fenced_object_and_checks_types() -> None:
    """Strict JSON may sit in one code fence; wrong types and missing keys are named."""
    check = spec("json_keys", required={"title": "string", "year": "integer"})
    assert run_check(check, '```json\n{"title": "Dune", "year": 1965}\n```').passed
    wrong = run_check(check, '{"title": "Dune", "year": "1965"}')
    assert not wrong.passed and "'year' is string, expected integer" in wrong.reason
    missing = run_check(check, '{"title": "Dune"}')
    assert not missing.passed and "missing key 'year'" in missing.reason


def test_json_keys_strict_rejects_prose_and_lenient_finds_the_object() -> None:
    """Strict mode fails an object wrapped in prose; strict=false extracts it."""
    answer = 'Here is the JSON you asked for: {"ok": true} Let me know!'
    strict = run_check(spec("json_keys", required=["ok"]), answer)
    assert not strict.passed and "not strict JSON" in strict.reason
    assert run_check(spec("json_keys", required=["ok"], strict=False), answer).passed


def test_json_keys_booleans_are_not_integers() -> None:
    """JSON true is a boolean, never an integer, even though Python's bool is an int."""
    result = run_check(spec("json_keys", required={"n": "integer"}), '{"n": true}')
    assert not result.passed and "boolean" in result.reason


def test_json_keys_reports_the_parse_error_position() -> None:
    """Invalid JSON fails with the decoder's message and position."""
    result = run_check(spec("json_keys", required=["a"]), "{'a': 1}")
    assert not result.passed and "line 1 column 2" in result.reason


def test_instruction_checks_combine_with_all_of() -> None:
    """all_of passes only when every sub-check passes and lists every failure."""
    probe = BUILTIN["three-words"]
    assert check_answer(probe, "DEEP, VAST, BLUE.").passed
    chatty = check_answer(probe, "Sure! DEEP VAST BLUE")
    assert not chatty.passed and "4 words" in chatty.reason
    lower = check_answer(probe, "deep vast blue")
    assert not lower.passed and "not all capitals" in lower.reason
    wrong_end = check_answer(probe, "VAST DEEP SEA")
    assert not wrong_end.passed and "'SEA'" in wrong_end.reason


def test_word_count_range() -> None:
    """word_count accepts min/max bounds as well as an exact count."""
    check = spec("word_count", min=2, max=4)
    assert run_check(check, "two words").passed
    assert not run_check(check, "one").passed


def test_svg_bare_and_fenced_are_found() -> None:
    """An SVG is found bare inside prose or in a fenced block (an xml one after its declaration),
    and passes the svg check either way."""
    fenced = f"```xml\n<?xml version='1.0'?>\n{GOOD_SVG}\n```"
    assert first_svg(f"Sure: {GOOD_SVG} done") == SvgPart(GOOD_SVG, None)
    found = first_svg(fenced)
    assert found is not None and found.problem is None and found.source.endswith(GOOD_SVG)
    assert first_svg("no picture") is None
    assert run_check(spec("svg", min_elements=4), fenced).passed
    assert run_check(spec("svg", min_elements=4), f"Sure: {GOOD_SVG} done").passed


def test_svg_failures_have_reasons() -> None:
    """Malformed XML, a non-svg root, too few shapes and a missing SVG each fail with a reason."""
    check = spec("svg", min_elements=2)
    broken = run_check(check, "<svg><circle r='1'></svg>")
    assert not broken.passed and "not well-formed" in broken.reason
    sparse = run_check(check, '<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>')
    assert not sparse.passed and "1 drawable element," in sparse.reason
    assert "no <svg>" in run_check(check, "I cannot draw").reason


def test_svg_entities_are_never_expanded() -> None:
    """A DOCTYPE with entities is not parsed: the entity reference makes the SVG invalid."""
    answer = '<!DOCTYPE svg [<!ENTITY x "boom">]><svg><text>&x;</text><rect/></svg>'
    result = run_check(spec("svg"), answer)
    assert not result.passed and "undefined entity" in result.reason


def test_a_checker_error_becomes_a_failed_result() -> None:
    """A checker that raises on odd params reports a failure instead of raising."""
    result = run_check(CheckSpec("number", {"expected": "not a number"}), "42")
    assert not result.passed and "checker number failed" in result.reason


# --- battery loading --------------------------------------------------------------------------


BATTERY_YAML = """\
version: 1
probes:
  - id: add
    category: arithmetic
    prompt: What is 2 + 2? Reply with the number only.
    check: {kind: number, expected: 4}
  - id: colour
    prompt: What colour is the sky on a clear day?
    check:
      kind: contains
      any: [blue]
"""


def test_battery_loads_from_a_yaml_file_beside_the_lab(tmp_path: Path) -> None:
    """`<lab>.probe.yaml` beside the lab is found and parsed; category defaults to general."""
    lab = tmp_path / "lab-02-quantization-tradeoffs.md"
    lab.write_text("---\ntitle: x\n---\n")
    path = battery_path_for(lab)
    assert path.name == "lab-02-quantization-tradeoffs.probe.yaml"
    path.write_text(BATTERY_YAML)
    battery = resolve_battery(lab, {"title": "x"})
    assert battery.source == path.name
    assert [p.id for p in battery.probes] == ["add", "colour"]
    assert battery.probes[1].category == "general"
    assert battery.probes[1].check == CheckSpec("contains", {"any": ["blue"]})


def test_battery_loads_from_a_frontmatter_list() -> None:
    """A frontmatter `probe:` list becomes probes, and a string `any` becomes a list."""
    probes = load_battery(
        [
            {
                "id": "cap",
                "category": "fact",
                "prompt": "Capital of France?",
                "check": {"kind": "contains", "any": "Paris"},
            },
            {
                "id": "caps",
                "prompt": "Say hi in capitals",
                "check": {
                    "kind": "all_of",
                    "checks": [{"kind": "all_caps"}, {"kind": "word_count", "count": 1}],
                },
            },
        ]
    )
    assert probes[0].check.params["any"] == ["Paris"]
    assert check_answer(probes[1], "HI").passed
    assert not check_answer(probes[1], "Hi").passed


def test_frontmatter_battery_wins_over_the_file(tmp_path: Path) -> None:
    """Frontmatter `probe:` takes precedence over the file; a string names a file to load."""
    lab = tmp_path / "lab.md"
    battery_path_for(lab).write_text(BATTERY_YAML)
    (tmp_path / "other.yaml").write_text(BATTERY_YAML.replace("id: add", "id: plus"))
    inline = resolve_battery(
        lab, {"probe": [{"id": "x", "prompt": "p", "check": {"kind": "all_caps"}}]}
    )
    assert inline.source == "frontmatter" and [p.id for p in inline.probes] == ["x"]
    named = resolve_battery(lab, {"probe": "other.yaml"})
    assert named.source == "other.yaml" and named.probes[0].id == "plus"


def test_without_any_battery_the_builtin_one_is_used(tmp_path: Path) -> None:
    """No frontmatter key and no file: the built-in battery."""
    battery = resolve_battery(tmp_path / "lab.md", {})
    assert battery.source == "built-in" and battery.probes == BUILTIN_BATTERY


@pytest.mark.parametrize(
    ("probe", "message"),
    [
        (
            {"id": "a", "prompt": "p", "check": {"kind": "numbr", "expected": 1}},
            "check kind 'numbr' is unknown; known kinds: number",
        ),
        ({"id": "a", "check": {"kind": "all_caps"}}, "probe #1 ('a'): missing 'prompt'"),
        (
            {"id": "a", "prompt": "p", "check": {"kind": "number", "expect": 4}},
            "does not take 'expect'; it takes expected, tolerance",
        ),
        ({"id": "a", "prompt": "p", "check": {"kind": "number"}}, "needs 'expected'"),
        (
            {"id": "a", "prompt": "p", "check": {"kind": "number", "expected": "four"}},
            "'expected' must be an integer or a number, got 'four'",
        ),
        ({"id": "a", "prompt": "p", "check": {"kind": "regex", "pattern": "("}}, "invalid regex"),
        (
            {"id": "a", "prompt": "p", "check": {"kind": "json_keys", "required": {"k": "str"}}},
            "JSON type 'str' for 'k' is unknown",
        ),
        ({"id": "a b", "prompt": "p", "check": {"kind": "all_caps"}}, "'id' must be a short name"),
        (
            {"id": "a", "prompt": "p", "check": {"kind": "all_caps"}, "answer": 1},
            "unknown field answer",
        ),
        (
            {"id": "a", "prompt": "p", "check": {"kind": "number", "expected": True}},
            "'expected' must be",
        ),
    ],
)
def test_malformed_probe_gives_a_clear_error(probe: dict[str, object], message: str) -> None:
    """Each kind of mistake in a probe raises BatteryError naming the probe and the problem."""
    with pytest.raises(BatteryError, match="frontmatter 'probe': probe #1") as err:
        load_battery([probe])
    assert message in str(err.value)


def test_malformed_yaml_file_names_the_file_and_line(tmp_path: Path) -> None:
    """Invalid YAML reports the file name and the line of the problem."""
    path = tmp_path / "lab-02.probe.yaml"
    path.write_text("probes:\n  - id: a\n    prompt: [unclosed\n")
    with pytest.raises(BatteryError, match=r"lab-02\.probe\.yaml: not valid YAML at line"):
        load_battery(path)


def test_battery_file_shape_errors(tmp_path: Path) -> None:
    """Duplicate ids, an empty battery and a wrong top-level shape are each reported."""
    path = tmp_path / "b.probe.yaml"
    twice = "- {id: a, prompt: p, check: {kind: all_caps}}\n" * 2
    path.write_text(twice)
    with pytest.raises(BatteryError, match="probe id 'a' appears more than once"):
        load_battery(path)
    path.write_text("[]\n")
    with pytest.raises(BatteryError, match="the battery is empty"):
        load_battery(path)
    path.write_text("questions: []\n")
    with pytest.raises(BatteryError, match="mapping with a 'probes' list"):
        load_battery(path)
    with pytest.raises(BatteryError, match="cannot read probe battery"):
        load_battery(tmp_path / "missing.probe.yaml")


def test_check_kinds_are_documented_by_the_error() -> None:
    """Every checker kind is listed in the unknown-kind message."""
    with pytest.raises(BatteryError) as err:
        load_battery([{"id": "a", "prompt": "p", "check": {"kind": "?"}}])
    for kind in CHECK_KINDS:
        assert kind in str(err.value)


# --- comparison -------------------------------------------------------------------------------


def lp(token: str, logprob: float, *top: str) -> TokenLogprob:
    return TokenLogprob(token, logprob, tuple(TokenLogprob(t, -1.0) for t in top))


def test_identical_outputs_without_logprobs() -> None:
    """Identical answers: no differing token, similarity 1, logprob figures None."""
    c = compare_outputs("The answer is 391.", "The answer is 391.")
    assert c.identical and c.first_diff is None
    assert c.similarity == 1.0 and c.token_source == "words"
    assert c.mean_abs_logprob_diff is None and c.topk_jaccard is None


def test_first_difference_by_simple_tokens() -> None:
    """Without logprobs the first differing word/punctuation token is found."""
    assert simple_tokens("17 × 23 = 391.") == ["17", "×", "23", "=", "391", "."]
    c = compare_outputs("The answer is 391.", "The answer is 381.")
    assert c.first_diff == 3 and c.agreed_prefix == 3
    assert 0.5 < c.similarity < 1.0


def test_prefix_output_differs_at_the_shorter_length() -> None:
    """When one answer extends the other, the first difference is at the shorter length."""
    c = compare_outputs("Canberra", "Canberra is the capital")
    assert c.first_diff == 1


def test_logprob_comparison_hand_checked() -> None:
    """Mean |Δ logprob| and top-k Jaccard are computed over the agreed prefix only."""
    a = [lp("The", -0.1, "The", "A"), lp(" sky", -0.5, " sky", " sea"), lp(" is", -1.0, " is")]
    b = [lp("The", -0.3, "The", "A"), lp(" sky", -0.2, " sky", " sun"), lp(" was", -2.0, " was")]
    c = compare_outputs("The sky is", "The sky was", a, b)
    assert c.token_source == "logprobs"
    assert c.first_diff == 2 and c.agreed_prefix == 2
    # |(-0.1)-(-0.3)| = 0.2 and |(-0.5)-(-0.2)| = 0.3 -> mean 0.25
    assert c.mean_abs_logprob_diff == pytest.approx(0.25)
    # {The, A} vs {The, A}: 1; {sky, sea} vs {sky, sun}: 1/3 -> mean 2/3
    assert c.topk_jaccard == pytest.approx(2 / 3)


def test_logprobs_on_one_side_only_fall_back_to_words() -> None:
    """If only one answer has logprobs, the comparison uses words and has no logprob figures."""
    c = compare_outputs("a b", "a c", [lp("a", -0.1), lp(" b", -0.2)], None)
    assert c.token_source == "words" and c.mean_abs_logprob_diff is None


def test_logprobs_without_top_k_give_no_jaccard() -> None:
    """top_logprobs=0 answers carry no alternatives: Jaccard is None, Δ logprob still computed."""
    c = compare_outputs("a", "a", [lp("a", -0.5)], [lp("a", -0.25)])
    assert c.mean_abs_logprob_diff == pytest.approx(0.25) and c.topk_jaccard is None


def test_first_difference_matches_a_brute_force_scan() -> None:
    """On seeded random token sequences, first_diff equals a direct scan."""
    rng = np.random.default_rng(6)
    for _ in range(200):
        n_a, n_b = rng.integers(0, 8, size=2)
        a = [str(t) for t in rng.integers(0, 3, size=n_a)]
        b = [str(t) for t in rng.integers(0, 3, size=n_b)]
        expected = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        if expected is None and len(a) != len(b):
            expected = min(len(a), len(b))
        la = [lp(t, -1.0) for t in a]
        lb = [lp(t, -1.0) for t in b]
        assert compare_outputs("".join(a), "".join(b), la, lb).first_diff == expected


def test_normalize_logprobs_accepts_ollama_shapes() -> None:
    """Raw `/api/chat` dicts and the `ollama` client's Logprob objects normalize alike."""
    top = [{"token": "Hi", "logprob": -0.2}, {"token": "Hello", "logprob": -1.9}]
    raw = [{"token": "Hi", "logprob": -0.2, "bytes": [72, 105], "top_logprobs": top}]
    response = ollama.ChatResponse.model_validate(
        {
            "model": "m",
            "message": {"role": "assistant", "content": "Hi"},
            "done": True,
            "logprobs": raw,
        }
    )
    expected = [TokenLogprob("Hi", -0.2, (TokenLogprob("Hi", -0.2), TokenLogprob("Hello", -1.9)))]
    assert normalize_logprobs(raw) == expected
    assert normalize_logprobs(response.logprobs) == expected
    assert normalize_logprobs(None) is None
    assert normalize_logprobs([]) is None  # an endpoint without logprob support sends none


def test_normalize_logprobs_keeps_the_one_token_type() -> None:
    """`TokenLogprob`s (the one type, alternatives in `top`) come back as they were given."""
    token = TokenLogprob("Hi", -0.2, (TokenLogprob("Hi", -0.2), TokenLogprob("Hello", -1.9)))
    assert normalize_logprobs((token,)) == [token]


# --- runner -----------------------------------------------------------------------------------


@dataclass
class FakeMetrics:
    eval_count: int
    eval_duration: int
    tokens_per_s: float | None = None


class FakeEndpoint:
    """Answers every probe correctly on tag 'q6' and one arithmetic probe wrongly on 'q4'."""

    def __init__(self, logprobs: bool = True) -> None:
        self.calls: list[tuple[str, str]] = []
        self.logprobs = logprobs

    def __call__(self, tag: str, prompt: str):
        self.calls.append((tag, prompt))
        probe = next(p for p in BUILTIN_BATTERY if p.prompt == prompt)
        text = GOOD_ANSWERS[probe.id]
        if tag == "q4" and probe.id == "multiply":
            text = "Sure! 17 × 23 = **381**."
        lps = None
        if self.logprobs:
            lps = [
                {
                    "token": t,
                    "logprob": -0.1 if tag == "q6" else -0.3,
                    "top_logprobs": [{"token": t, "logprob": -0.1}],
                }
                for t in simple_tokens(text)
            ]
        speed = 40.0 if tag == "q4" else 30.0
        return text, lps, FakeMetrics(eval_count=int(speed), eval_duration=1_000_000_000)


def test_full_run_summarises_passes_similarity_and_logprobs() -> None:
    """A full run checks every answer, compares the tags and summarises the figures."""
    run = run_to_end(BUILTIN_BATTERY, ["q4", "q6"], FakeEndpoint())
    summary = run.summary()
    n = len(BUILTIN_BATTERY)
    assert run.finished and not run.cancelled and summary.completed == n
    assert summary.passes == {"q4": n - 1, "q6": n}
    assert summary.passes_by_category["arithmetic"] == {"q4": 1, "q6": 2}
    assert summary.logprobs_supported is True
    assert summary.mean_abs_logprob_diff == pytest.approx(0.2)
    assert summary.mean_topk_jaccard == pytest.approx(1.0)
    assert summary.mean_tokens_per_s == {"q4": pytest.approx(40.0), "q6": pytest.approx(30.0)}
    assert summary.identical == n - 1 and summary.mean_similarity is not None
    multiply = run.results[0]
    assert multiply.comparison is not None and multiply.comparison.first_diff == 8
    assert "381" in multiply.results["q4"].check.reason
    json.dumps(run.to_dict())  # the evidence log stores it as JSON


def test_endpoint_without_logprobs_is_named_and_the_rest_works() -> None:
    """With no logprobs, comparisons use words and the summary says logprobs are unsupported."""
    run = run_to_end(BUILTIN_BATTERY, ["q4", "q6"], FakeEndpoint(logprobs=False))
    summary = run.summary()
    assert summary.logprobs_supported is False
    assert "not supported" in summary.logprob_text
    assert summary.mean_abs_logprob_diff is None
    assert all(r.comparison and r.comparison.token_source == "words" for r in run.results)
    assert summary.passes["q6"] == len(BUILTIN_BATTERY)


def test_cancel_halfway_keeps_finished_results() -> None:
    """Setting the Event mid-run stops before the next request and keeps every finished answer."""
    cancel = threading.Event()
    endpoint = FakeEndpoint()

    def ask(tag: str, prompt: str):
        answer = endpoint(tag, prompt)
        if len(endpoint.calls) == 8:  # four probes × two tags
            cancel.set()
        return answer

    events = list(run_probes(BUILTIN_BATTERY, ["q4", "q6"], ask, cancel=cancel))
    run = events[-1].run
    assert events[-1].phase == "cancelled"
    assert run.cancelled and not run.finished
    assert len(endpoint.calls) == 8
    assert run.completed == 4 and len(run.results) == 4
    assert all(r.comparison is not None for r in run.results)
    summary = run.summary()
    assert summary.completed == 4 and summary.total == len(BUILTIN_BATTERY)
    assert summary.answered == {"q4": 4, "q6": 4}


def test_cancel_between_tags_keeps_the_half_answered_probe() -> None:
    """A callable cancel that fires after Q4 answered keeps that answer, marked incomplete."""
    endpoint = FakeEndpoint()
    run = ProbeRun(tags=("q4", "q6"), probes=BUILTIN_BATTERY)
    for _ in run_probes(
        BUILTIN_BATTERY, ["q4", "q6"], endpoint, cancel=lambda: len(endpoint.calls) >= 1, run=run
    ):
        pass
    assert run.cancelled and len(run.results) == 1
    only = run.results[0]
    assert not only.complete and list(only.results) == ["q4"] and only.comparison is None
    assert run.summary().answered == {"q4": 1, "q6": 0}


def test_progress_steps_count_every_request() -> None:
    """Progress goes from 0 to probes × tags and ends with a finished event."""
    events = list(run_probes(BUILTIN_BATTERY[:3], ["q4", "q6"], FakeEndpoint()))
    answered = [e for e in events if e.phase == "answered"]
    assert [e.step for e in answered] == [1, 2, 3, 4, 5, 6]
    assert events[-1].phase == "finished" and events[-1].fraction == 1.0
    assert events[0].phase == "asking" and events[0].fraction == 0.0
    assert len({id(e.run) for e in events}) == 1


def test_a_failing_request_is_recorded_and_the_run_goes_on() -> None:
    """An exception from `ask` becomes a failed answer with its message; later probes still run."""
    endpoint = FakeEndpoint()

    def ask(tag: str, prompt: str):
        if tag == "q4" and prompt == BUILTIN_BATTERY[0].prompt:
            raise ConnectionError("connection refused")
        return endpoint(tag, prompt)

    run = run_to_end(BUILTIN_BATTERY[:2], ["q4", "q6"], ask)
    failed = run.results[0].results["q4"]
    assert failed.error == "ConnectionError: connection refused"
    assert not failed.check.passed and "connection refused" in failed.check.reason
    assert run.results[0].comparison is None
    assert run.results[1].comparison is not None
    assert run.summary().errors == 1


def test_single_tag_run_has_no_comparison() -> None:
    """A run on one tag checks answers without comparing anything."""
    run = run_to_end(BUILTIN_BATTERY[:2], ["q6"], FakeEndpoint())
    assert all(r.comparison is None for r in run.results)
    assert run.summary().logprobs_supported is None


def test_tokens_per_s_is_derived_from_eval_counts() -> None:
    """Metrics as a mapping with eval_count and eval_duration (ns) yield tokens per second."""

    def ask(tag: str, prompt: str):
        return "4", None, {"eval_count": 50, "eval_duration": 2_000_000_000}

    probes = load_battery(
        [{"id": "a", "prompt": "2+2?", "check": {"kind": "number", "expected": 4}}]
    )
    run = run_to_end(probes, ["q4"], ask)
    assert run.results[0].results["q4"].tokens_per_s == pytest.approx(25.0)


def test_run_needs_a_tag() -> None:
    """Running with no tags is a programming error, reported at once."""
    with pytest.raises(ValueError, match="at least one tag"):
        list(run_probes(BUILTIN_BATTERY, [], FakeEndpoint()))


def test_tokens_per_s_property_of_a_metrics_object_is_used() -> None:
    """A metrics dataclass exposing tokens_per_s as a property is read through the property."""

    @dataclass
    class ChatMetricsLike:
        eval_count: int

        @property
        def tokens_per_s(self) -> float:
            return 12.5

    probes = load_battery([{"id": "a", "prompt": "p", "check": {"kind": "all_caps"}}])
    run = run_to_end(probes, ["q4"], lambda tag, prompt: ("OK", None, ChatMetricsLike(3)))
    result = run.results[0].results["q4"]
    assert result.tokens_per_s == 12.5 and result.metrics == {"eval_count": 3, "tokens_per_s": 12.5}


def test_frontmatter_probe_of_the_wrong_type_is_reported(tmp_path: Path) -> None:
    """A frontmatter `probe:` that is neither a list nor a file name raises BatteryError."""
    with pytest.raises(BatteryError, match="expected a list of probes, got int"):
        resolve_battery(tmp_path / "lab.md", {"probe": 5})
