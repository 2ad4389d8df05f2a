"""Configuration in one place: defaults < the instructor's secrets < the student's session.

`load_settings(st.secrets, os.environ)` reads the `[ollama]` and `[limits]` sections documented
in `.streamlit/secrets.toml.example`; `with_lab_models` applies a lab's `models:` frontmatter;
`with_session` applies what a student typed on the settings page, only where the instructor
allows it. Everything is pure (no streamlit): pass mappings in, get a frozen `Settings` out.

The instructor's API key is used only for the instructor's own host, and only when the student
has not entered a key; it is never part of a repr, and nothing here returns it for display.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from quantviz.endpoint import check_endpoint, normalize_url
from quantviz.ollama_api import Endpoint, OllamaError

DEFAULT_HOST = "http://localhost:11434"
DEFAULT_MODELS: Mapping[str, str] = MappingProxyType(
    {"Q4": "batiai/gemma4-e2b:q4", "Q6": "batiai/gemma4-e2b:q6"}
)

HostSource = Literal["default", "env", "secrets", "session"]
KeySource = Literal["none", "instructor", "student"]


class ConfigError(ValueError):
    """A configuration value the app cannot use; the message names the key."""


@dataclass(frozen=True)
class Caps:
    """Generation limits the instructor sets for a shared endpoint."""

    max_num_predict: int = 1024
    max_temperature: float = 2.0
    request_timeout: float = 120.0

    def clamp(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """`options` with temperature and num_predict held within the caps.

        num_predict <= 0 (Ollama's "until done") becomes the cap, so a shared server is never
        asked for an unbounded reply.
        """
        out = dict(options)
        if "temperature" in out and out["temperature"] is not None:
            out["temperature"] = min(max(float(out["temperature"]), 0.0), self.max_temperature)
        predict = out.get("num_predict")
        if predict is None or int(predict) <= 0:
            out["num_predict"] = self.max_num_predict
        else:
            out["num_predict"] = min(int(predict), self.max_num_predict)
        return out


@dataclass(frozen=True)
class Limits:
    """What one browser session may hold or send, so one student cannot exhaust the process
    the whole class shares. Defaults below; the instructor's `[limits]` section overrides them.
    See docs/security.md for what happens when each is reached."""

    reply_chars: int = 50_000  # one model reply; the stream stops there, the part is kept
    prompt_chars: int = 8_000  # one chat prompt
    transcript_messages: int = 200  # messages in one conversation (model and endpoint)
    transcripts: int = 12  # conversations with text in one session
    evidence_records: int = 500  # records in the session's evidence log
    evidence_bytes: int = 5_000_000  # their JSON size together
    response_bytes: int = 16_000_000  # one answer from the endpoint (a verbose /api/show...)
    metadata_cache: int = 16  # /api/show and /api/tags answers kept per session

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))


@dataclass(frozen=True)
class Settings:
    """What the app uses now. Build with `load_settings`; derive with `with_*`."""

    host: str  # normalised URL the requests go to
    api_key: str | None = field(default=None, repr=False)
    models: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_MODELS))
    instructor_host: str = DEFAULT_HOST  # normalised; the host the instructor's key belongs to
    instructor_api_key: str | None = field(default=None, repr=False)
    allow_custom_endpoint: bool = True
    allow_pull: bool = True
    allow_private_endpoints: bool = True
    caps: Caps = field(default_factory=Caps)
    limits: Limits = field(default_factory=Limits)
    host_source: HostSource = "default"
    instructor_host_source: HostSource = "default"
    key_source: KeySource = "none"

    @property
    def endpoint(self) -> Endpoint:
        """Where requests go; a student's own endpoint is held to the address rule on every
        connection, the instructor's host is trusted."""
        rule = self.allow_private_endpoints if self.host_source == "session" else None
        return Endpoint(self.host, self.api_key, rule, self.limits.response_bytes)

    @property
    def key_status(self) -> str:
        """Where the key in use comes from, safe to show (never the key itself)."""
        return {
            "none": "no API key",
            "instructor": "the instructor's API key (hidden)",
            "student": "your API key (hidden)",
        }[self.key_source]

    @property
    def has_instructor_key(self) -> bool:
        return bool(self.instructor_api_key)


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"[ollama] {key} must be true or false, got {value!r}")


def _number(value: Any, key: str, kind: type[int] | type[float], minimum: float) -> Any:
    if isinstance(value, bool):
        raise ConfigError(f"[ollama] {key} must be a number, got {value!r}")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"[ollama] {key} must be a number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"[ollama] {key} must be at least {minimum}, got {number}")
    return number


def _models(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f'{where} must map labels to model tags, e.g. Q4 = "name:tag"')
    models = {}
    for label, tag in raw.items():
        if not isinstance(tag, str) or not tag.strip():
            raise ConfigError(f"{where}: the tag for {label!r} must be a non-empty string")
        models[str(label)] = tag.strip()
    return models


def _limits(raw: Any) -> Limits:
    """The `[limits]` section: each key a whole number of at least 1; unknown keys refused."""
    if raw is None:
        return Limits()
    if not isinstance(raw, Mapping):
        raise ConfigError("[limits] must be a section of whole numbers, e.g. reply_chars = 50000")
    unknown = sorted(set(raw) - set(Limits.names()))
    if unknown:
        raise ConfigError(
            f"[limits] has no key {unknown[0]!r}; the keys are {', '.join(Limits.names())}"
        )
    values = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"[limits] {key} must be a whole number of at least 1, got {value!r}")
        values[key] = value
    return Limits(**values)


def _normalized(host: str, where: str) -> str:
    try:
        return normalize_url(host).url
    except OllamaError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None


def load_settings(secrets: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """Defaults, then env OLLAMA_HOST, then the `[ollama]` section of the secrets.

    `secrets` is `st.secrets` (or any mapping); `env` is `os.environ`. Raises ConfigError for a
    value the app cannot use.
    """
    try:
        section = secrets.get("ollama")
        limits = _limits(secrets.get("limits"))
    except FileNotFoundError:  # st.secrets without any secrets.toml: a plain local run
        section, limits = None, Limits()
    has_section = isinstance(section, Mapping)
    cfg: Mapping[str, Any] = section if isinstance(section, Mapping) else {}

    source: HostSource = "default"
    host = DEFAULT_HOST
    if env.get("OLLAMA_HOST", "").strip():
        host, source = _normalized(env["OLLAMA_HOST"], "OLLAMA_HOST"), "env"
    if cfg.get("host"):
        host, source = _normalized(str(cfg["host"]), "[ollama] host"), "secrets"

    key = str(cfg["api_key"]).strip() if cfg.get("api_key") else None
    caps = Caps(
        max_num_predict=_number(cfg.get("max_num_predict", 1024), "max_num_predict", int, 1),
        max_temperature=_number(cfg.get("max_temperature", 2.0), "max_temperature", float, 0),
        request_timeout=_number(cfg.get("request_timeout", 120.0), "request_timeout", float, 1),
    )
    if "allow_private_endpoints" in cfg:
        allow_private = _bool(cfg["allow_private_endpoints"], "allow_private_endpoints")
    elif env.get("QUANTVIZ_ALLOW_PRIVATE_ENDPOINTS", "").strip():
        allow_private = _bool(env["QUANTVIZ_ALLOW_PRIVATE_ENDPOINTS"], "allow_private_endpoints")
    else:
        # No instructor section means a student's own run next to their own Ollama; a class
        # deployment configures [ollama] and then must opt in to private endpoints.
        allow_private = not has_section
    models = _models(cfg["models"], "[ollama] models") if "models" in cfg else dict(DEFAULT_MODELS)
    return Settings(
        host=host,
        api_key=key,
        models=models,
        instructor_host=host,
        instructor_api_key=key,
        allow_custom_endpoint=_bool(
            cfg.get("allow_custom_endpoint", True), "allow_custom_endpoint"
        ),
        allow_pull=_bool(cfg.get("allow_pull", True), "allow_pull"),
        allow_private_endpoints=allow_private,
        caps=caps,
        limits=limits,
        host_source=source,
        instructor_host_source=source,
        key_source="instructor" if key else "none",
    )


def with_lab_models(settings: Settings, lab_meta: Mapping[str, Any]) -> Settings:
    """The settings with a lab's own `models:` map (label -> tag), if its frontmatter has one."""
    raw = lab_meta.get("models")
    if raw is None:
        return settings
    return dataclasses.replace(settings, models=_models(raw, "the lab's models: frontmatter"))


def with_session(settings: Settings, host: str | None, api_key: str | None) -> Settings:
    """Apply the student's endpoint and key, where allowed.

    An empty host keeps the instructor's. Another host needs `allow_custom_endpoint` and must
    pass the safety rule (raises OllamaError "blocked" or "bad_url"). The student's key wins when
    given; otherwise the instructor's key is used, but only toward the instructor's host.
    """
    key = api_key.strip() if api_key and api_key.strip() else None
    target = settings.instructor_host
    source: HostSource = settings.instructor_host_source
    if host and host.strip():
        wanted = normalize_url(host).url
        if wanted != settings.instructor_host:
            if not settings.allow_custom_endpoint:
                raise OllamaError(
                    "blocked",
                    "The instructor has fixed the endpoint for this class; it cannot be changed.",
                )
            target = check_endpoint(wanted, allow_private=settings.allow_private_endpoints).url
            source = "session"
    if key:
        key_source: KeySource = "student"
    elif target == settings.instructor_host and settings.instructor_api_key:
        key, key_source = settings.instructor_api_key, "instructor"
    else:
        key_source = "none"
    return dataclasses.replace(
        settings, host=target, api_key=key, host_source=source, key_source=key_source
    )
