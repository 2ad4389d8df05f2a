"""Where the Q4 and Q6 files (or their digest) are: the instructor's secrets, a local Ollama.

Three ways, tried in this order by the widget:

1. ``[weights] q4`` and ``q6`` in the instructor's secrets: paths on the app's machine;
2. a local Ollama: `/api/show` answers with a ``modelfile`` whose ``FROM`` line names the model's
   blob (``<models>/blobs/sha256-<hex>``, written by `Model.String` in ollama's
   ``server/images.go`` and ``parser/parser.go``, commit
   fb30760996871fa9460115c753afd2c60d4ab0f7); it is used only when the endpoint is this machine
   (loopback) and the path is an Ollama blob that this process can read;
3. a digest file: ``[weights] digest``, else ``<lab file>.weights.npz`` next to the lab.

`weights_config` parses the secrets section. A section that is there but wrong fails closed:
the view shows the error and reads nothing (the coordinator may fold this into `config.py`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from quantviz.weights.errors import WeightsConfigError, printable

SECTION = "weights"
KEYS = ("q4", "q6", "digest", "ollama")
BLOB_NAME = re.compile(r"^sha256-[0-9a-f]{64}$")
_COMMENT = "#"


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


def model_path_from_modelfile(modelfile: str) -> str | None:
    """The argument of the first ``FROM`` line of an `/api/show` modelfile, if any.

    Ollama writes comment lines first (one of them ``# FROM <name>``), then ``FROM <model
    path>`` unquoted, then a projector's ``FROM`` if any, then TEMPLATE and the rest.
    """
    for line in modelfile.splitlines():
        text = line.strip()
        if not text or text.startswith(_COMMENT):
            continue
        head, _, rest = text.partition(" ")
        if head.upper() == "FROM":
            return rest.strip() or None
    return None


def is_local_endpoint(url: str) -> bool:
    """True when the endpoint's host is this machine: localhost or a loopback address."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def readable_blob(path_text: str | None) -> Path | None:
    """The path if it is an Ollama blob (absolute, named sha256-<hex>) this process can read."""
    if not path_text:
        return None
    path = Path(path_text)
    if not path.is_absolute() or not BLOB_NAME.match(path.name):
        return None
    try:
        if path.is_file() and os.access(path, os.R_OK):
            return path
    except OSError:
        return None
    return None


def default_digest_path(lab_path: Path) -> Path:
    """``labs/lab-02-foo.md`` -> ``labs/lab-02-foo.weights.npz``."""
    return lab_path.with_name(lab_path.stem + ".weights.npz")


def ollama_blobs(endpoint_url: str, modelfiles: tuple[str, str]) -> tuple[Path, Path] | str:
    """Both model blobs named by the modelfiles of the Q4 and the Q6 tag, or why not.

    Used only for an endpoint on this machine, and only for paths that are Ollama blobs this
    process can read: a remote server's paths mean nothing here, and a path is never opened on
    a server's say-so unless it has a blob's name.
    """
    if not is_local_endpoint(endpoint_url):
        return "the Ollama endpoint is not on this machine, so its model files are not here"
    paths = []
    for label, text in zip(("Q4", "Q6"), modelfiles, strict=True):
        named = model_path_from_modelfile(text)
        if named is None:
            return f"the local Ollama's modelfile for the {label} tag names no model file"
        blob = readable_blob(named)
        if blob is None:
            return f"the local Ollama's {label} model file is not readable by the app"
        paths.append(blob)
    return paths[0], paths[1]
