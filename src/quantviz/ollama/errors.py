"""`OllamaError` and the one set of its kinds: what went wrong, and what a student can do.

Every failure of the Ollama layer (`quantviz.ollama.client`, `.endpoint`, `.transport`) is an
`OllamaError` with a `kind`. `KINDS` says, once for every widget, what each kind means for the
student: the hint shown under the message, whether the Endpoint settings page is where it gets
fixed, and whether every further request to the endpoint would fail the same way (a probe run
stops there instead of failing prompt after prompt).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

ErrorKind = Literal[
    "bad_url",  # the address is malformed (or redirects elsewhere)
    "blocked",  # the address is refused by the deployment's safety rule or settings
    "refused",  # nothing answered: connection refused, unknown host, TLS failure
    "timeout",  # the server did not answer in time
    "auth",  # 401/403: missing or wrong API key
    "not_found",  # unknown model or tag (the server's own words)
    "not_ollama",  # something answered, but not like an Ollama server
    "bad_request",  # the server rejected the request's parameters (400)
    "server",  # the server failed (5xx)
    "stream",  # the stream broke: error line mid-stream, dropped connection, no final chunk
    "bad_answer",  # an Ollama-shaped answer with a malformed field (named in the message)
    "too_large",  # the answer passed one of this deployment's size limits
]


class OllamaError(Exception):
    """A failure talking to Ollama, with a `kind` to branch on and a student-facing message.

    `partial_text` holds the reply text already streamed when a chat broke mid-way.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status_code: int | None = None,
        partial_text: str = "",
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.status_code = status_code
        self.partial_text = partial_text

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"OllamaError(kind={self.kind!r}, message={self.message!r})"


@dataclass(frozen=True)
class KindInfo:
    """What one kind of failure means for a student."""

    hint: str | None  # what to do, shown under the message; None: the message says it all
    settings: bool = False  # fixed on the Endpoint settings page (the widget links there)
    fatal: bool = False  # every further request to this endpoint would fail the same way


KINDS: Mapping[ErrorKind, KindInfo] = MappingProxyType(
    {
        "bad_url": KindInfo("Fix the address on the settings page.", settings=True, fatal=True),
        "blocked": KindInfo(
            "Choose another endpoint on the settings page.", settings=True, fatal=True
        ),
        "refused": KindInfo(
            "Check the address on the settings page, and that Ollama is running there.",
            settings=True,
            fatal=True,
        ),
        "timeout": KindInfo(
            "The server may be busy or unreachable; try Refresh in a moment.",
            settings=True,
            fatal=True,
        ),
        "auth": KindInfo(
            "Enter or correct the API key on the settings page.", settings=True, fatal=True
        ),
        "not_found": KindInfo(None, fatal=True),
        "not_ollama": KindInfo("Check the address and port on the settings page.", settings=True),
        "bad_request": KindInfo(None),
        "server": KindInfo(None),
        "stream": KindInfo("Try again; a pull resumes where it stopped."),
        "bad_answer": KindInfo(
            "Check that the address is an Ollama server; the field named is not what Ollama sends."
        ),
        "too_large": KindInfo(
            "This endpoint's answer is larger than this class allows; ask your instructor."
        ),
    }
)


def hint(kind: ErrorKind) -> str | None:
    """What a student can do about this kind of failure, or None when the message says it."""
    return KINDS[kind].hint


# A manifest read from a model registry (`quantviz.ollama.registry`) fails for other reasons
# than a request to the endpoint: nothing about it is fixed on the Endpoint settings page (no
# API key goes to a registry), and the registries are the instructor's configuration.
REGISTRY_HINTS: Mapping[ErrorKind, str | None] = MappingProxyType(
    {
        "bad_url": "Your instructor can configure the registry's new address "
        "(`[ollama] registries`).",
        "blocked": None,  # the message names the registries this class allows
        "refused": "The app's server cannot reach that registry from where it runs; your "
        "instructor can configure a mirror it can reach (`[ollama] registries`).",
        "timeout": "The registry may be busy; read it again in a moment.",
        "auth": None,  # the message says why: no key, public manifests only
        "not_found": None,  # the message holds the lesson: the pull would fail the same way
        "not_ollama": None,
        "bad_request": None,  # the message names the part of the name that is wrong
        "server": "The registry had a problem; read it again later.",
        "stream": "Read it again; a manifest is small and comes whole or not at all.",
        "bad_answer": "The answer is not a manifest ollama would read; your instructor can "
        "check the registry's address.",
        "too_large": None,  # the message gives the bound
    }
)


def registry_hint(kind: ErrorKind) -> str | None:
    """What a student can do when reading a manifest failed, or None when the message says it."""
    return REGISTRY_HINTS[kind]


def fixed_in_settings(kind: ErrorKind) -> bool:
    """The Endpoint settings page is where this kind of failure gets fixed."""
    return KINDS[kind].settings


def fatal(kind: ErrorKind) -> bool:
    """Every further request to the endpoint would fail the same way."""
    return KINDS[kind].fatal
