"""quantviz.config: defaults < instructor secrets < the student's session."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest
from config_utils import load_settings

from quantviz.config import (
    DEFAULT_MODELS,
    Caps,
    ConfigError,
    instructor_config,
    with_lab_models,
    with_session,
)
from quantviz.ollama.errors import OllamaError

EXAMPLE = Path(__file__).resolve().parents[1] / ".streamlit" / "secrets.toml.example"


def instructor(**overrides: object) -> dict[str, object]:
    section: dict[str, object] = {"host": "https://ollama.example.org", "api_key": "sk-instructor"}
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
    assert s.key_status == "the instructor's API key (hidden)" and bool(s.instructor_api_key)


def test_example_secrets_file_loads_and_documents_every_key() -> None:
    """secrets.toml.example parses, loads, and mentions every key the loader reads."""
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


# --- failing closed: any problem with a deployment's configuration keeps the protections on


def _closed(settings) -> bool:
    return not (
        settings.allow_private_endpoints or settings.allow_custom_endpoint or settings.allow_pull
    )


def test_a_typo_fails_closed_and_names_the_key() -> None:
    """allow_pull = "nope": private endpoints refused, custom endpoints and pulls off, the
    instructor's host and key still used, and the problem names the key and the value."""
    config = instructor_config(instructor(allow_pull="nope", allow_private_endpoints=True), {})
    assert config.problems == ("[ollama] allow_pull must be true or false, got 'nope'",)
    s = config.settings
    assert _closed(s) and s.failed_closed
    assert s.host == "https://ollama.example.org:443" and s.api_key == "sk-instructor"
    with pytest.raises(OllamaError) as info:
        with_session(s, "http://127.0.0.1:8080", None)
    assert info.value.kind == "blocked"
    assert "allow_pull must be true or false" in str(config.report())


def test_a_good_configuration_has_no_problems() -> None:
    """The documented example and a plain local run (no secrets) have no problem to report."""
    example = instructor_config(tomllib.loads(EXAMPLE.read_text()), {})
    assert example.problems == () and example.report() is None
    assert not example.settings.failed_closed and example.settings.allow_custom_endpoint
    local = instructor_config({}, {})
    assert local.problems == () and local.settings.allow_private_endpoints


def test_every_problem_is_listed_and_invalid_values_fall_back() -> None:
    """Several mistakes are all reported; each bad value falls back to its default."""
    config = instructor_config(
        instructor(host="ftp://x", max_num_predict=".inf", request_timeout=float("nan")), {}
    )
    assert [p.split(" ", 2)[1] for p in config.problems] == [
        "host:",
        "max_num_predict",
        "request_timeout",
    ]
    s = config.settings
    assert s.host == "http://localhost:11434" and s.caps == Caps() and _closed(s)
    assert s.api_key is None  # the key belongs to the host that could not be read


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"max_num_predict": float("inf")}, "[ollama] max_num_predict must be a finite number"),
        ({"max_num_predict": 1.5}, "[ollama] max_num_predict must be a whole number, got 1.5"),
        ({"max_temperature": float("nan")}, "[ollama] max_temperature must be a finite number"),
        ({"request_timeout": -1}, "[ollama] request_timeout must be at least 1"),
        ({"allow_custom_endpoint": 2}, "[ollama] allow_custom_endpoint must be true or false"),
        ({"host": 11434}, "[ollama] host must be text, got 11434"),
        ({"models": ["a:q4"]}, "[ollama] models must map labels to model tags"),
    ],
)
def test_bad_values_fail_closed_with_a_message_naming_the_key(override, message) -> None:
    """Each value the app cannot use is a problem that names the key; protections stay on."""
    config = instructor_config(instructor(**override), {})
    assert len(config.problems) == 1 and config.problems[0].startswith(message)
    assert _closed(config.settings)


def test_the_api_key_value_is_never_part_of_a_problem() -> None:
    """An api_key of the wrong type, or a key under a misspelt name, is reported without its
    value; a misspelt key gets a suggestion."""
    wrong_type = instructor_config(instructor(api_key=["sk-list-9f2"]), {})
    assert wrong_type.problems == ("[ollama] api_key must be text (its value is not shown)",)
    misspelt = instructor_config(
        {"ollama": {"host": "https://o.example.org", "apikey": "sk-misspelt-77"}}, {}
    )
    assert misspelt.problems == (
        "[ollama] apikey is not a key quantviz reads (did you mean api_key?); "
        "its value is not shown",
    )
    for config in (wrong_type, misspelt):
        assert "sk-" not in str(config.report()) and _closed(config.settings)
        assert config.settings.api_key is None


def test_misplaced_keys_and_sections_fail_closed() -> None:
    """Keys of [ollama] at the top level, a misspelt [ollama] header or an [ollama] that is not
    a section are problems: without them the deployment would look like a local run."""
    top_level = instructor_config({"host": "https://o.example.org", "allow_pull": False}, {})
    assert top_level.problems == (
        "host is at the top level of the secrets; quantviz reads it only under [ollama]",
        "allow_pull is at the top level of the secrets; quantviz reads it only under [ollama]",
    )
    misspelt = instructor_config({"olama": {"host": "https://o.example.org"}}, {})
    assert misspelt.problems == ("[olama] is not a section quantviz reads; did you mean [ollama]?",)
    capital = instructor_config({"Ollama": {"host": "https://o.example.org"}}, {})
    assert capital.problems == ("[Ollama] is not a section quantviz reads; did you mean [ollama]?",)
    not_a_section = instructor_config({"ollama": "https://o.example.org"}, {})
    assert not_a_section.problems == (
        "[ollama] must be a section ([ollama] and key = value lines)",
    )
    other = instructor_config({"connections": {"sql": {"url": "sqlite://"}}, "OPENAI_KEY": "x"}, {})
    assert other.problems == () and other.settings.allow_private_endpoints
    for config in (top_level, misspelt, capital, not_a_section):
        assert _closed(config.settings)


def test_environment_mistakes_fail_closed() -> None:
    """A bad OLLAMA_HOST or QUANTVIZ_ALLOW_PRIVATE_ENDPOINTS is a problem, not a crash."""
    bad_host = instructor_config({}, {"OLLAMA_HOST": "ftp://x"})
    assert bad_host.problems[0].startswith("OLLAMA_HOST: ")
    assert bad_host.settings.host == "http://localhost:11434" and _closed(bad_host.settings)
    bad_flag = instructor_config({}, {"QUANTVIZ_ALLOW_PRIVATE_ENDPOINTS": "sometimes"})
    assert bad_flag.problems == (
        "QUANTVIZ_ALLOW_PRIVATE_ENDPOINTS must be true or false, got 'sometimes'",
    )
    assert _closed(bad_flag.settings)


class BrokenSecrets(Mapping):
    """Like st.secrets when its files cannot be used: every read raises the loader's error."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getitem__(self, key: str) -> object:
        raise self.error

    def __iter__(self):
        raise self.error

    def __len__(self) -> int:
        raise self.error


class StreamlitLikeError(FileNotFoundError):
    """Streamlit's StreamlitSecretNotFoundError is a FileNotFoundError with an error_id."""

    def __init__(self, message: str, error_id: str) -> None:
        super().__init__(message)
        self.error_id = error_id


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (
            StreamlitLikeError(
                "Error parsing secrets file at /app/.streamlit/secrets.toml: "
                "Invalid value (at line 3, column 13)",
                "failed-parsing-secrets-file",
            ),
            "the secrets cannot be read: Error parsing secrets file at "
            "/app/.streamlit/secrets.toml: Invalid value (at line 3, column 13)",
        ),
        (
            IsADirectoryError(21, "Is a directory", "/app/.streamlit/secrets.toml"),
            "the secrets cannot be read: Is a directory: /app/.streamlit/secrets.toml",
        ),
        (
            PermissionError(13, "Permission denied", "/app/.streamlit/secrets.toml"),
            "the secrets cannot be read: Permission denied: /app/.streamlit/secrets.toml",
        ),
        (
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
            "the secrets cannot be read: a secrets file is not UTF-8 text (byte 0)",
        ),
    ],
)
def test_secrets_that_exist_but_cannot_be_read_fail_closed(error, problem) -> None:
    """Invalid TOML, a directory or an unreadable file where secrets.toml should be, or a file
    that is not UTF-8: the deployment fails closed and the problem says what and where."""
    config = instructor_config(BrokenSecrets(error), {"OLLAMA_HOST": "gpu-box:11500"})
    assert config.problems == (problem,)
    assert _closed(config.settings) and config.settings.host == "http://gpu-box:11500"


def test_no_secrets_file_is_a_local_run(tmp_path) -> None:
    """Streamlit's "no secrets found", or a plain FileNotFoundError with no file at any secrets
    location, is a local run: defaults, private endpoints allowed, no problem."""
    nothing = StreamlitLikeError("No secrets found.", "no-secrets-found")
    files = [str(tmp_path / "global.toml"), str(tmp_path / "project.toml")]
    for error in (nothing, FileNotFoundError("No secrets found.")):
        config = instructor_config(BrokenSecrets(error), {}, secrets_files=files)
        assert config.problems == () and config.settings.allow_private_endpoints


def test_a_read_error_with_a_secrets_file_present_fails_closed(tmp_path) -> None:
    """A FileNotFoundError while a secrets file does exist (say, deleted halfway) fails closed."""
    present = tmp_path / "secrets.toml"
    present.write_text('[ollama]\nhost = "https://o.example.org"\n')
    config = instructor_config(
        BrokenSecrets(FileNotFoundError("gone")), {}, secrets_files=[str(present)]
    )
    assert config.problems == ("the secrets cannot be read: gone",)
    assert _closed(config.settings)


def test_ollama_in_two_secrets_files_fails_closed(tmp_path) -> None:
    """Streamlit keeps the last file's [ollama] whole (sections are not merged), so a second
    [ollama] silently drops the first one's keys: it is a problem naming both files."""
    first, second = tmp_path / "global.toml", tmp_path / "project.toml"
    first.write_text("[ollama]\nallow_pull = false\n")
    second.write_text('[ollama]\nhost = "https://o.example.org"\n')
    merged = {"ollama": {"host": "https://o.example.org"}}  # what st.secrets then holds
    config = instructor_config(merged, {}, secrets_files=[str(first), str(second)])
    assert config.problems == (
        f"[ollama] is set in {first} and in {second}; Streamlit uses only the last one (it does "
        "not merge sections), so keep a single [ollama] section",
    )
    assert _closed(config.settings)
    second.write_text("OTHER = 1\n")
    alone = instructor_config({"ollama": {"allow_pull": False}}, {}, secrets_files=[str(first)])
    assert alone.problems == ()


# --------------------------------------------------------------------------- [ollama] registries


def test_registries_default_and_configured() -> None:
    """Without the key only registry.ollama.ai, held to public addresses; with it, the listed
    registries, trusted like the instructor's host."""
    assert [(r.name, r.allow_private) for r in load_settings({}, {}).registries] == [
        ("registry.ollama.ai", False)
    ]
    s = load_settings(instructor(registries=["registry.ollama.ai", "http://127.0.0.1:5000"]), {})
    assert [(r.name, r.base.url, r.allow_private) for r in s.registries] == [
        ("registry.ollama.ai", "https://registry.ollama.ai:443", None),
        ("127.0.0.1:5000", "http://127.0.0.1:5000", None),
    ]
    mirror = load_settings(
        instructor(registries={"registry.ollama.ai": "http://10.0.0.5:8081"}), {}
    )
    assert [(r.name, r.base.url) for r in mirror.registries] == [
        ("registry.ollama.ai", "http://10.0.0.5:8081")
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("registry.ollama.ai", "[ollama] registries must be a list"),
        ([], "[ollama] registries is empty"),
        (["gopher://x.example"], "[ollama] registries[0]: Use http:// or https://"),
        ({"no spaces allowed": "https://x.example"}, "[ollama] registries.no spaces allowed:"),
    ],
)
def test_unusable_registries_fail_closed_naming_the_key(value, message) -> None:
    """A registries value the app cannot use is a problem naming the key; the protections stay
    on and manifests fall back to the default registry at public addresses only."""
    config = instructor_config(instructor(registries=value), {})
    assert len(config.problems) == 1 and config.problems[0].startswith(message)
    assert _closed(config.settings)
    assert [(r.name, r.allow_private) for r in config.settings.registries] == [
        ("registry.ollama.ai", False)
    ]


def test_a_misspelt_registries_key_fails_closed() -> None:
    """`registry = [...]` is not a key quantviz reads: a problem naming it, protections on; a
    closer typo gets the suggestion."""
    config = instructor_config(instructor(registry=["hf.co"]), {})
    assert config.problems == (
        "[ollama] registry is not a key quantviz reads; its value is not shown",
    )
    assert _closed(config.settings)
    typo = instructor_config(instructor(registires=["hf.co"]), {})
    assert typo.problems[0].startswith(
        "[ollama] registires is not a key quantviz reads (did you mean registries?)"
    )


def test_the_example_documents_registries() -> None:
    """secrets.toml.example explains `registries`, in both forms, and still loads cleanly."""
    text = EXAMPLE.read_text()
    assert "# registries = [" in text and "# registries = {" in text
    tomllib = pytest.importorskip("tomllib")
    lines = (
        'registries = ["registry.ollama.ai", "hf.co"]',
        'registries = { "registry.ollama.ai" = "https://mirror.school.example/ollama" }',
    )
    for line in lines:
        assert f"# {line}" in text
        section = tomllib.loads(line)
        config = instructor_config(instructor(**section), {})
        assert config.problems == (), line
