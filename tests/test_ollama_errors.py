"""One set of error kinds: every kind the Ollama layer raises has its meaning for a student."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from quantviz.ollama.errors import (
    KINDS,
    REGISTRY_HINTS,
    ErrorKind,
    fatal,
    fixed_in_settings,
    hint,
    registry_hint,
)

OLLAMA = Path(__file__).resolve().parents[1] / "src" / "quantviz" / "ollama"


def test_every_error_kind_has_one_entry_in_the_table():
    """The table covers exactly the kinds of the ErrorKind type, no more, no fewer."""
    assert set(KINDS) == set(get_args(ErrorKind))


def test_every_error_kind_has_a_registry_hint_entry():
    """The registry's hint table covers exactly the kinds too, so a manifest read that fails
    with any kind gets its hint (or None) instead of a KeyError; none sends the student to the
    Endpoint settings page, which holds nothing about registries."""
    assert set(REGISTRY_HINTS) == set(get_args(ErrorKind))
    assert all("settings page" not in (registry_hint(kind) or "") for kind in KINDS)
    assert "[ollama] registries" in str(registry_hint("refused"))


def test_every_kind_the_layer_raises_is_a_declared_kind():
    """Every OllamaError("<kind>", ...) written in the Ollama layer names a declared kind."""
    raised = set()
    for path in OLLAMA.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "OllamaError"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                raised.add(node.args[0].value)
    assert raised, "no OllamaError found: the scan is broken"
    assert raised <= set(KINDS), raised - set(KINDS)


def test_what_each_kind_means_for_a_student():
    """A wrong key or address is fixed on the settings page and ends a probe run; an unknown
    tag ends it too but is fixed by a pull; a broken stream is worth another try."""
    assert fixed_in_settings("auth") and fatal("auth") and "API key" in str(hint("auth"))
    assert fixed_in_settings("refused") and fatal("refused")
    assert fixed_in_settings("not_ollama") and not fatal("not_ollama")
    assert fatal("not_found") and not fixed_in_settings("not_found")
    assert not fatal("stream") and not fixed_in_settings("stream")
    assert "Try again" in str(hint("stream"))
