"""AppTest: a configuration problem fails closed; students see a neutral notice, the log and
the instructor's function get the exact problem.

Two ways in: `at.secrets` (what st.secrets returns, for mistakes in the values), and Streamlit's
real secrets loader pointed at files on disk (`secrets.files`), for files it cannot read.
"""

from __future__ import annotations

import logging

import pytest
from apptest_utils import open_page, page_bytes, texts
from streamlit import config as streamlit_config
from streamlit.runtime.secrets import secrets_singleton
from streamlit.testing.v1 import AppTest

from quantviz.ui.context import widget_key

NOTICE = "runs with its safest settings"
SAVE = "FormSubmitter:settings-form-Save"
PULL = widget_key("lab2-objective2", "model-pull")
HOST = "https://ollama.example.edu"
KEY = "sk-instructor-5d1e-never-shown"


@pytest.fixture
def secrets_files(monkeypatch):
    """Point Streamlit's own secrets loader at the given files (its `secrets.files` option)."""
    before = streamlit_config.get_option("secrets.files")

    def use(*paths) -> None:
        streamlit_config.set_option("secrets.files", [str(p) for p in paths])
        secrets_singleton._reset()

    yield use
    streamlit_config.set_option("secrets.files", before)
    secrets_singleton._reset()


def _notices(at) -> list[str]:
    return [w.value for w in at.warning if NOTICE in w.value]


def _config_errors(caplog) -> str:
    return "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("quantviz") and r.levelno >= logging.ERROR
    )


def test_a_typo_keeps_protections_on_and_students_see_only_a_neutral_notice(caplog, ollama_server):
    """allow_pull = "nope": every page shows one neutral notice without the key or value, the
    settings page refuses private endpoints and fixes the endpoint, Pull is disabled (the
    instructor's endpoint is still used), and the server log names the key and the value."""
    secrets = {"ollama": {"host": ollama_server.url, "api_key": KEY, "allow_pull": "nope"}}
    with caplog.at_level(logging.ERROR):
        home = open_page("", secrets=secrets)
        settings = open_page("settings", secrets=secrets)
        pulls = open_page("lab2-objective2", secrets=secrets)
    for at in (home, settings, pulls):
        assert not at.exception
        assert len(_notices(at)) == 1
        shown = page_bytes(at)
        assert b"allow_pull" not in shown and b"nope" not in shown and KEY.encode() not in shown
    page = texts(settings)
    assert "Loopback and private-network endpoints (127.0.0.1, 10.x, 192.168.x, ...): " in page
    assert "**refused** (the configuration has a problem)" in page
    assert settings.button(key=SAVE).disabled
    assert pulls.button(key=f"{PULL}-pull-Q4").disabled
    assert "Pulling is turned off while the app's configuration has a problem" in texts(pulls)
    assert not ollama_server.requests_to("/api/pull")
    assert "[ollama] allow_pull must be true or false, got 'nope'" in _config_errors(caplog)
    assert KEY not in caplog.text


def test_a_misspelt_key_never_shows_or_logs_its_value(caplog):
    """`apikey = "sk-..."` (for api_key): the log names the key and suggests api_key, and the
    value appears neither on the page nor in the log."""
    secrets = {"ollama": {"host": HOST, "apikey": KEY}}
    with caplog.at_level(logging.ERROR):
        at = open_page("settings", secrets=secrets)
    assert _notices(at) and KEY.encode() not in page_bytes(at)
    assert "[ollama] apikey is not a key quantviz reads (did you mean api_key?)" in (
        _config_errors(caplog)
    )
    assert KEY not in caplog.text


def test_a_good_configuration_shows_no_notice():
    """A valid [ollama] section: no notice, and the instructor's rules apply as written."""
    at = open_page("settings", secrets={"ollama": {"host": HOST, "allow_private_endpoints": True}})
    assert not _notices(at) and not at.exception
    assert (
        "Loopback and private-network endpoints (127.0.0.1, 10.x, 192.168.x, ...): **allowed**"
        in (texts(at))
    )


def test_invalid_toml_fails_closed(tmp_path, secrets_files, caplog):
    """A secrets.toml that is not valid TOML (Streamlit's loader raises) is not "no secrets":
    the notice shows, private endpoints are refused, and the log names the file and line."""
    path = tmp_path / "secrets.toml"
    path.write_text('[ollama]\nhost = "https://ollama.example.edu"\nallow_pull = nope\n')
    secrets_files(path)
    with caplog.at_level(logging.ERROR):
        at = open_page("settings")
    assert not at.exception and _notices(at)
    assert "**refused** (the configuration has a problem)" in texts(at)
    logged = _config_errors(caplog)
    assert f"Error parsing secrets file at {path}" in logged and "line 3" in logged


def test_a_directory_where_the_secrets_file_should_be_fails_closed(
    tmp_path, secrets_files, ollama_server, monkeypatch
):
    """A secrets.toml that exists but cannot be read (here a directory) fails closed, page up."""
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    (tmp_path / "secrets.toml").mkdir()
    secrets_files(tmp_path / "secrets.toml")
    at = open_page("lab2-objective2")
    assert not at.exception and _notices(at)
    assert at.button(key=f"{PULL}-pull-Q4").disabled


def test_a_broken_second_secrets_file_fails_closed(tmp_path, secrets_files, caplog):
    """Of two secrets locations, the later one is not UTF-8: the good first one does not make
    the deployment look fine."""
    good, broken = tmp_path / "global.toml", tmp_path / "project.toml"
    good.write_text('[ollama]\nhost = "https://ollama.example.edu"\n')
    broken.write_bytes(b'[ollama]\nhost = "\xff"\n')
    secrets_files(good, broken)
    with caplog.at_level(logging.ERROR):
        at = open_page("settings")
    assert _notices(at)
    assert "not UTF-8 text" in _config_errors(caplog)


def test_no_secrets_file_is_a_local_run_without_a_notice(tmp_path, secrets_files):
    """No file at any secrets location: defaults, private endpoints allowed, no notice."""
    secrets_files(tmp_path / "absent.toml")
    at = open_page("settings")
    assert not _notices(at) and not at.exception
    assert "**allowed**" in texts(at)


def _instructor_page() -> None:
    import streamlit as st

    from quantviz.ui.session import config_problem

    problem = config_problem()
    st.code(problem or "no problem")


def test_the_exact_problem_is_one_call_away_for_an_instructor_page():
    """`session.config_problem()` returns the exact problem (for the instructor page of issue
    15), and None when the configuration is fine."""
    at = AppTest.from_function(_instructor_page)
    at.secrets["ollama"] = {"host": HOST, "allow_pull": "nope"}
    at.run()
    assert "[ollama] allow_pull must be true or false, got 'nope'" in at.code[0].value
    fine = AppTest.from_function(_instructor_page)
    fine.secrets["ollama"] = {"host": HOST}
    fine.run()
    assert fine.code[0].value == "no problem"
