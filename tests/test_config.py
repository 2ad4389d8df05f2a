"""quantviz.config: defaults < instructor secrets < the student's session."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantviz.config import (
    DEFAULT_MODELS,
    Caps,
    ConfigError,
    load_settings,
    with_lab_models,
    with_session,
)
from quantviz.ollama_api import OllamaError

EXAMPLE = Path(__file__).resolve().parents[1] / ".streamlit" / "secrets.toml.example"


def instructor(**overrides: object) -> dict[str, object]:
    section = {"host": "https://ollama.example.org", "api_key": "sk-instructor"}
    section.update(overrides)
    return {"ollama": section}


def test_defaults_without_secrets_or_env() -> None:
    """No secrets and no OLLAMA_HOST: localhost:11434, the two default tags, everything allowed."""
    s = load_settings({}, {})
    assert s.host == s.instructor_host == "http://localhost:11434"
    assert (
        dict(s.models)
        == dict(DEFAULT_MODELS)
        == {
            "Q4": "batiai/gemma4-e2b:q4",
            "Q6": "batiai/gemma4-e2b:q6",
        }
    )
    assert s.api_key is None and s.key_source == "none" and s.host_source == "default"
    assert s.allow_custom_endpoint and s.allow_pull and s.allow_private_endpoints
    assert s.caps == Caps()


class MissingSecrets(dict):
    """Like st.secrets when no secrets.toml exists: reading raises FileNotFoundError."""

    def get(self, key: str, default: object = None) -> object:
        raise FileNotFoundError("No secrets found.")


def test_missing_secrets_file_means_defaults() -> None:
    """st.secrets without a secrets.toml (reads raise FileNotFoundError) gives the defaults."""
    s = load_settings(MissingSecrets(), {})
    assert s.host == "http://localhost:11434" and s.allow_private_endpoints


def test_env_ollama_host_is_used_and_normalised() -> None:
    """OLLAMA_HOST (the client's own variable) overrides the default, normalised."""
    assert load_settings({}, {"OLLAMA_HOST": "gpu-box:11500"}).host == "http://gpu-box:11500"
    s = load_settings({}, {"OLLAMA_HOST": "0.0.0.0"})
    assert s.host == "http://0.0.0.0:11434" and s.host_source == "env"


def test_secrets_override_env_and_defaults() -> None:
    """The [ollama] section wins over OLLAMA_HOST; every key is read."""
    secrets = instructor(
        models={"Q4": "a:q4", "Q8": "a:q8"},
        allow_custom_endpoint=False,
        allow_pull="false",
        allow_private_endpoints=True,
        max_num_predict=256,
        max_temperature=1.5,
        request_timeout=30,
    )
    s = load_settings(secrets, {"OLLAMA_HOST": "elsewhere:1"})
    assert s.host == "https://ollama.example.org:443" and s.host_source == "secrets"
    assert s.api_key == "sk-instructor" and s.key_source == "instructor"
    assert dict(s.models) == {"Q4": "a:q4", "Q8": "a:q8"}
    assert not s.allow_custom_endpoint and not s.allow_pull and s.allow_private_endpoints
    assert s.caps == Caps(max_num_predict=256, max_temperature=1.5, request_timeout=30.0)


def test_private_endpoints_default_off_in_a_configured_deployment() -> None:
    """With an [ollama] section, private endpoints are off unless set; the env can set them."""
    assert not load_settings(instructor(), {}).allow_private_endpoints
    env = {"QUANTVIZ_ALLOW_PRIVATE_ENDPOINTS": "true"}
    assert load_settings(instructor(), env).allow_private_endpoints
    assert not load_settings({}, {"QUANTVIZ_ALLOW_PRIVATE_ENDPOINTS": "0"}).allow_private_endpoints


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"allow_pull": "maybe"}, "allow_pull"),
        ({"max_num_predict": "lots"}, "max_num_predict"),
        ({"max_num_predict": 0}, "max_num_predict"),
        ({"request_timeout": True}, "request_timeout"),
        ({"models": {"Q4": ""}}, "models"),
        ({"models": "a:q4"}, "models"),
        ({"host": "ftp://x"}, "host"),
    ],
)
def test_bad_values_name_the_key(override: dict[str, object], needle: str) -> None:
    """A value the app cannot use raises ConfigError naming the key."""
    with pytest.raises(ConfigError, match=needle):
        load_settings(instructor(**override), {})


def test_the_key_is_never_shown() -> None:
    """repr and key_status never contain the instructor's key."""
    s = load_settings(instructor(), {})
    assert "sk-instructor" not in repr(s) + s.key_status + repr(s.endpoint) + str(s.endpoint)
    assert s.key_status == "the instructor's API key (hidden)" and s.has_instructor_key


def test_example_secrets_file_loads_and_documents_every_key() -> None:
    """secrets.toml.example parses, loads, and mentions every key the loader reads."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    secrets = tomllib.loads(EXAMPLE.read_text())
    s = load_settings(secrets, {})
    assert s.host == "https://ollama.example.edu:443" and not s.allow_pull
    text = EXAMPLE.read_text()
    for key in ("host", "api_key", "allow_custom_endpoint", "allow_pull",
                "allow_private_endpoints", "max_num_predict", "max_temperature",
                "request_timeout", "[ollama.models]"):  # fmt: skip
        assert key in text


def test_lab_models_replace_the_configured_ones() -> None:
    """A lab's `models:` frontmatter replaces the tags for that lab; no map keeps them."""
    base = load_settings({}, {})
    lab = with_lab_models(base, {"title": "Lab 2", "models": {"Q4": "x:q4", "Q8": "x:q8"}})
    assert dict(lab.models) == {"Q4": "x:q4", "Q8": "x:q8"}
    assert with_lab_models(base, {"title": "Lab 1"}) is base
    with pytest.raises(ConfigError, match="frontmatter"):
        with_lab_models(base, {"models": ["x:q4"]})


def test_session_without_host_keeps_the_instructors_endpoint_and_key() -> None:
    """An empty session host keeps the instructor's host and key."""
    s = with_session(load_settings(instructor(), {}), "", None)
    assert s.host == "https://ollama.example.org:443"
    assert s.api_key == "sk-instructor" and s.key_source == "instructor"
    same = with_session(load_settings(instructor(), {}), "https://ollama.example.org", "")
    assert same.api_key == "sk-instructor" and same.host_source == "secrets"


def test_student_key_wins_on_the_instructors_host() -> None:
    """A student's own key replaces the instructor's."""
    s = with_session(load_settings(instructor(), {}), None, "  sk-student  ")
    assert s.api_key == "sk-student" and s.key_source == "student"


def test_instructors_key_never_goes_to_a_student_endpoint() -> None:
    """A custom endpoint without a student key gets no key at all."""
    base = load_settings(instructor(allow_private_endpoints=True), {})
    s = with_session(base, "http://127.0.0.1:11500", None)
    assert s.host == "http://127.0.0.1:11500" and s.host_source == "session"
    assert s.api_key is None and s.key_source == "none"
    with_key = with_session(base, "http://127.0.0.1:11500", "sk-own")
    assert with_key.api_key == "sk-own" and with_key.endpoint.api_key == "sk-own"
    back = with_session(with_key, "", None)
    assert back.host == base.host and back.api_key == "sk-instructor"
    assert back.host_source == "secrets"


def test_custom_endpoint_refused_when_not_allowed() -> None:
    """allow_custom_endpoint = false refuses another host with kind blocked."""
    base = load_settings(instructor(allow_custom_endpoint=False), {})
    with pytest.raises(OllamaError) as info:
        with_session(base, "https://other.example.org", None)
    assert info.value.kind == "blocked" and "fixed the endpoint" in info.value.message
    assert with_session(base, "https://ollama.example.org:443", None).host == base.host


def test_session_applies_the_safety_rule() -> None:
    """Metadata is always refused; loopback only where private endpoints are allowed."""
    hosted = load_settings(instructor(), {})
    local = load_settings({}, {})
    for settings in (hosted, local):
        with pytest.raises(OllamaError) as info:
            with_session(settings, "http://169.254.169.254", None)
        assert info.value.kind == "blocked"
    with pytest.raises(OllamaError) as info:
        with_session(hosted, "http://127.0.0.1:8080", None)
    assert info.value.kind == "blocked"
    assert with_session(local, "http://127.0.0.1:8080", None).host == "http://127.0.0.1:8080"
    with pytest.raises(OllamaError) as info:
        with_session(local, "http://", None)
    assert info.value.kind == "bad_url"


def test_caps_clamp_generation_options() -> None:
    """Temperature and num_predict are held within the caps; "until done" becomes the cap."""
    caps = Caps(max_num_predict=200, max_temperature=1.0)
    assert caps.clamp({"temperature": 1.7, "num_predict": 500, "seed": 3}) == {
        "temperature": 1.0,
        "num_predict": 200,
        "seed": 3,
    }
    assert caps.clamp({"num_predict": -1})["num_predict"] == 200
    assert caps.clamp({"temperature": -2, "num_predict": 50}) == {
        "temperature": 0.0,
        "num_predict": 50,
    }
