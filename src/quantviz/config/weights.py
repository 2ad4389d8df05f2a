"""The `[weights]` section of the instructor's secrets: where the lab's two GGUF files are.

Pure (no streamlit): pass `st.secrets` (or any mapping) and the folder relative paths start from.
A section that is there but wrong raises `WeightsConfigError` naming the key, so the real-weights
view fails closed: it shows the error and reads nothing. How the paths, a local Ollama's blobs and
a digest are then tried is `quantviz.weights.locate`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantviz.weights.errors import WeightsConfigError, printable

SECTION = "weights"
KEYS = ("q4", "q6", "digest", "ollama")


@dataclass(frozen=True)
class WeightsConfig:
    """The `[weights]` section: file paths (absolute), and whether to ask a local Ollama."""

    q4: Path | None = None
    q6: Path | None = None
    digest: Path | None = None
    use_ollama: bool = True

    @property
    def has_files(self) -> bool:
        return self.q4 is not None and self.q6 is not None


def _path(value: Any, key: str, base: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise WeightsConfigError(f"[{SECTION}] {key} must be a file path (a non-empty string).")
    if "\0" in value:
        raise WeightsConfigError(f"[{SECTION}] {key} holds a NUL character.")
    path = Path(os.path.expanduser(value.strip()))
    return path if path.is_absolute() else base / path


def weights_config(secrets: Mapping[str, Any], base: Path) -> WeightsConfig:
    """The `[weights]` section of the secrets; relative paths are taken from `base`.

    No section gives the defaults (no files, no digest override, a local Ollama is asked).
    Raises WeightsConfigError naming the key for an unknown key, a value of the wrong type, or
    only one of q4 / q6.
    """
    try:
        section = secrets.get(SECTION)
    except FileNotFoundError:  # st.secrets with no secrets.toml anywhere
        section = None
    if section is None:
        return WeightsConfig()
    if not isinstance(section, Mapping):
        raise WeightsConfigError(f"[{SECTION}] must be a table (q4, q6, digest, ollama).")
    unknown = sorted(str(k) for k in section if k not in KEYS)
    if unknown:
        raise WeightsConfigError(
            f"[{SECTION}] has unknown key {printable(unknown[0], 40)}; the keys are "
            + ", ".join(KEYS)
            + "."
        )
    q4 = _path(section["q4"], "q4", base) if "q4" in section else None
    q6 = _path(section["q6"], "q6", base) if "q6" in section else None
    if (q4 is None) != (q6 is None):
        raise WeightsConfigError(f"[{SECTION}] needs both q4 and q6, or neither.")
    digest = _path(section["digest"], "digest", base) if "digest" in section else None
    use_ollama = section.get("ollama", True)
    if not isinstance(use_ollama, bool):
        raise WeightsConfigError(f"[{SECTION}] ollama must be true or false.")
    return WeightsConfig(q4, q6, digest, use_ollama)
