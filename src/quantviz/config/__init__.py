"""Configuration in one place: defaults < the instructor's secrets < the student's session.

`instructor_config(st.secrets, os.environ, secrets_files=...)` reads the `[ollama]` and
`[limits]` sections documented in `.streamlit/secrets.toml.example` and decides what happens
when they are wrong: any problem (a value of the wrong kind, an unknown or misplaced key, a
secrets file that exists but cannot be read) fails closed, that is, private endpoints refused
and custom endpoints and pulls off, and comes back as a message naming the key (never the value
of `api_key` or of an unknown key).
`with_lab_models` applies a lab's `models:` frontmatter; `with_session` applies what a student
typed on the settings page, only where the instructor allows it. Everything is pure (no
streamlit): pass mappings in, get a frozen `Settings` out.

The instructor's API key is used only for the instructor's own host, and only when the student
has not entered a key; it is never part of a repr, and nothing here returns it for display.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from quantviz.ollama.client import Endpoint
from quantviz.ollama.endpoint import check_endpoint, normalize_url
from quantviz.ollama.errors import OllamaError
from quantviz.ollama.registry import DEFAULT_REGISTRIES, Registry, registries_from

DEFAULT_HOST = "http://localhost:11434"
DEFAULT_MODELS: Mapping[str, str] = MappingProxyType(
    {"Q4": "batiai/gemma4-e2b:q4", "Q6": "batiai/gemma4-e2b:q6"}
)

# Every key of the [ollama] section; anything else there is a problem (a misspelt `allow_pul`
# would otherwise leave pulls on). Values of `api_key` and of unknown keys are never echoed.
# A new key must be added here, or every deployment that sets it fails closed (the test that
# loads secrets.toml.example without problems catches a documented key missing here).
OLLAMA_KEYS = (
    "host",
    "api_key",
    "models",
    "allow_custom_endpoint",
    "allow_pull",
    "allow_private_endpoints",
    "max_num_predict",
    "max_temperature",
    "request_timeout",
    "registries",
)
_PERMISSIONS = ("allow_custom_endpoint", "allow_pull", "allow_private_endpoints")

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
    record_chars: int = 4_000  # one answer in a lab's record field
    response_bytes: int = 16_000_000  # one answer from the endpoint (a verbose /api/show...)
    metadata_cache: int = 16  # /api/show and /api/tags answers kept per session

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))


@dataclass(frozen=True)
class Settings:
    """What the app uses now. Build with `instructor_config`; derive with `with_*`."""

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
    # The configuration has a problem, so the three permissions above are off whatever it says.
    failed_closed: bool = False
    # Where model manifests may be read (`quantviz.ollama.registry`); a tag naming any other
    # registry host is refused before anything is sent.
    registries: tuple[Registry, ...] = DEFAULT_REGISTRIES

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


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {_shown(value)}")


def _number(value: Any, key: str, kind: type[int] | type[float], minimum: float) -> Any:
    if isinstance(value, bool):
        raise ConfigError(f"{key} must be a number, got {_shown(value)}")
    try:
        number = value if isinstance(value, int) else float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a number, got {_shown(value)}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ConfigError(f"{key} must be a finite number, got {_shown(value)}")
    if kind is int:
        if isinstance(number, float) and not number.is_integer():
            raise ConfigError(f"{key} must be a whole number, got {_shown(value)}")
        number = int(number)
    else:
        number = float(number)
    if number < minimum:
        raise ConfigError(f"{key} must be at least {minimum:g}, got {number:g}")
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


def _registries(raw: Any) -> tuple[Registry, ...]:
    try:
        return registries_from(raw)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _normalized(host: str, where: str) -> str:
    try:
        return normalize_url(host).url
    except OllamaError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None


@dataclass(frozen=True)
class InstructorConfig:
    """The instructor's settings and what is wrong with the configuration, if anything.

    With problems, `settings` keeps every value that could be read and has the permissions off
    (`failed_closed`). The problems are for the instructor (server log, instructor page); they
    name keys and files and never contain the value of `api_key` or of an unknown key.
    """

    settings: Settings
    problems: tuple[str, ...] = ()

    def report(self) -> str | None:
        """The exact problem, for the server log and the instructor; None when all is well."""
        if not self.problems:
            return None
        lines = "\n".join(f"- {p}" for p in self.problems)
        return (
            "The quantviz configuration has a problem, so the app runs with its hosted "
            "protections on (private endpoints refused, custom endpoints and pulls off) until "
            f"it is fixed:\n{lines}"
        )


def _plain(value: Any) -> Any:
    """st.secrets (or any nested mapping) as plain dicts; reading it may raise."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _exists(path: str) -> bool:
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True  # there, or at least not provably absent: treat it as there
    return True


def _read_error(exc: Exception, secrets_files: Sequence[str]) -> str | None:
    """What went wrong reading the secrets, or None when there simply are none."""
    if isinstance(exc, FileNotFoundError):
        error_id = getattr(exc, "error_id", None)  # streamlit's StreamlitSecretNotFoundError
        if error_id == "no-secrets-found":
            return None
        if error_id is None and not any(_exists(p) for p in secrets_files):
            return None
        return f"the secrets cannot be read: {exc}"
    if isinstance(exc, UnicodeDecodeError):  # its text would quote the bytes: say where only
        return f"the secrets cannot be read: a secrets file is not UTF-8 text (byte {exc.start})"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"the secrets cannot be read: {exc.strerror or type(exc).__name__}{where}"
    return f"the secrets cannot be read ({type(exc).__name__})"


_sources_cache: dict[tuple[tuple[str, int, int], ...], tuple[str, ...]] = {}


def _ollama_sources(secrets_files: Sequence[str]) -> tuple[str, ...]:
    """The secrets locations that define an [ollama] section (cached on the files' stat)."""
    stats = []
    for path in secrets_files:
        try:
            st = os.stat(path)
        except OSError:
            continue
        stats.append((path, st.st_mtime_ns, st.st_size))
    key = tuple(stats)
    if key not in _sources_cache:
        found = []
        for path, _, _ in stats:
            if os.path.isdir(path):  # Kubernetes-style: one folder per top-level secret
                if os.path.isdir(os.path.join(path, "ollama")):
                    found.append(path)
                continue
            try:
                with open(path, "rb") as f:
                    if "ollama" in tomllib.load(f):
                        found.append(path)
            except (OSError, ValueError):
                continue  # unreadable: Streamlit's own read reports it
        _sources_cache.clear()
        _sources_cache[key] = tuple(found)
    return _sources_cache[key]


def _structure(raw: Mapping[str, Any], secrets_files: Sequence[str]) -> list[str]:
    """Problems with where things are: misplaced keys, a misspelt or doubled [ollama]."""
    problems = []
    section = raw.get("ollama")
    for key in raw:
        if key == "ollama":
            continue
        if key in _PERMISSIONS or (key in OLLAMA_KEYS and section is None):
            problems.append(
                f"{key} is at the top level of the secrets; quantviz reads it only under [ollama]"
            )
        elif isinstance(raw[key], Mapping) and (
            key.lower() == "ollama" or difflib.get_close_matches(key.lower(), ["ollama"], 1, 0.8)
        ):
            problems.append(f"[{key}] is not a section quantviz reads; did you mean [ollama]?")
    if section is not None and not isinstance(section, Mapping):
        problems.append("[ollama] must be a section ([ollama] and key = value lines)")
    if isinstance(section, Mapping):
        for key in section:
            if key not in OLLAMA_KEYS:
                near = difflib.get_close_matches(str(key), OLLAMA_KEYS, 1, 0.8)
                hint = f" (did you mean {near[0]}?)" if near else ""
                problems.append(
                    f"[ollama] {key} is not a key quantviz reads{hint}; its value is not shown"
                )
    sources = _ollama_sources(secrets_files)
    if len(sources) > 1:
        problems.append(
            f"[ollama] is set in {' and in '.join(sources)}; Streamlit uses only the last one "
            "(it does not merge sections), so keep a single [ollama] section"
        )
    return problems


def _settings(raw: Mapping[str, Any], env: Mapping[str, str], problems: list[str]) -> Settings:
    """Settings from the secrets and the environment; each unusable value adds a problem and
    falls back to its default."""
    section = raw.get("ollama")
    has_section = isinstance(section, Mapping)
    cfg: Mapping[str, Any] = section if isinstance(section, Mapping) else {}

    def take(parse: Any, *args: Any, default: Any) -> Any:
        try:
            return parse(*args)
        except ConfigError as exc:
            problems.append(str(exc))
            return default

    limits = take(_limits, raw.get("limits"), default=Limits())

    source: HostSource = "default"
    host = DEFAULT_HOST
    if env.get("OLLAMA_HOST", "").strip():
        env_host = take(_normalized, env["OLLAMA_HOST"], "OLLAMA_HOST", default=None)
        if env_host:
            host, source = env_host, "env"
    host_ok = True
    if cfg.get("host") not in (None, ""):
        if isinstance(cfg["host"], str):
            secrets_host = take(_normalized, cfg["host"], "[ollama] host", default=None)
        else:
            problems.append(f"[ollama] host must be text, got {_shown(cfg['host'])}")
            secrets_host = None
        if secrets_host:
            host, source = secrets_host, "secrets"
        else:
            host_ok = False

    raw_key = cfg.get("api_key")
    key: str | None = None
    if isinstance(raw_key, str):
        key = raw_key.strip() or None
    elif raw_key is not None:
        problems.append("[ollama] api_key must be text (its value is not shown)")
    if not host_ok:
        key = None  # it belongs to the host that could not be read, never to a fallback

    def number(name: str, kind: type[int] | type[float], minimum: float, default: Any) -> Any:
        if name not in cfg:
            return default
        return take(_number, cfg[name], f"[ollama] {name}", kind, minimum, default=default)

    defaults = Caps()
    caps = Caps(
        max_num_predict=number("max_num_predict", int, 1, defaults.max_num_predict),
        max_temperature=number("max_temperature", float, 0, defaults.max_temperature),
        request_timeout=number("request_timeout", float, 1, defaults.request_timeout),
    )
    env_private = env.get("QUANTVIZ_ALLOW_PRIVATE_ENDPOINTS", "").strip()
    if "allow_private_endpoints" in cfg:
        allow_private = take(
            _bool,
            cfg["allow_private_endpoints"],
            "[ollama] allow_private_endpoints",
            default=False,
        )
    elif env_private:
        allow_private = take(_bool, env_private, "QUANTVIZ_ALLOW_PRIVATE_ENDPOINTS", default=False)
    else:
        # No instructor section means a student's own run next to their own Ollama; a class
        # deployment configures [ollama] and then must opt in to private endpoints.
        allow_private = not has_section
    models = dict(DEFAULT_MODELS)
    if "models" in cfg:
        models = take(_models, cfg["models"], "[ollama] models", default=models)
    registries = DEFAULT_REGISTRIES
    if "registries" in cfg:
        registries = take(_registries, cfg["registries"], default=DEFAULT_REGISTRIES)
    return Settings(
        host=host,
        api_key=key,
        models=models,
        instructor_host=host,
        instructor_api_key=key,
        allow_custom_endpoint=take(
            _bool,
            cfg.get("allow_custom_endpoint", True),
            "[ollama] allow_custom_endpoint",
            default=False,
        ),
        allow_pull=take(_bool, cfg.get("allow_pull", True), "[ollama] allow_pull", default=False),
        allow_private_endpoints=allow_private,
        caps=caps,
        limits=limits,
        host_source=source,
        instructor_host_source=source,
        key_source="instructor" if key else "none",
        registries=registries,
    )


def instructor_config(
    secrets: Mapping[str, Any], env: Mapping[str, str], *, secrets_files: Sequence[str] = ()
) -> InstructorConfig:
    """Defaults, then env OLLAMA_HOST, then the `[ollama]` section of the secrets, with every
    problem found; any problem turns the hosted protections on (fails closed).

    `secrets` is `st.secrets` (or any mapping; reading it may raise, as st.secrets does for a
    file that exists but cannot be parsed or read), `env` is `os.environ`, `secrets_files` the
    locations Streamlit reads (its `secrets.files` option): they tell "no secrets at all" (a
    local run) from "secrets that cannot be read", and show an [ollama] set in two files.
    """
    problems: list[str] = []
    try:
        raw = _plain(secrets)
    except Exception as exc:  # whatever reading the secrets raises, it must not open anything
        raw = {}
        if (problem := _read_error(exc, secrets_files)) is not None:
            problems.append(problem)
    else:
        problems += _structure(raw, secrets_files)
    settings = _settings(raw, env, problems)
    if problems:
        settings = dataclasses.replace(
            settings,
            allow_custom_endpoint=False,
            allow_pull=False,
            allow_private_endpoints=False,
            failed_closed=True,
        )
    return InstructorConfig(settings, tuple(problems))


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
                    "Custom endpoints are off while the app's configuration has a problem."
                    if settings.failed_closed
                    else "The instructor has fixed the endpoint for this class; it cannot be "
                    "changed.",
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
