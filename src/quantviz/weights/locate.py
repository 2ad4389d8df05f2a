"""Where the Q4 and Q6 files (or their digest) are: the instructor's secrets, a local Ollama.

Three ways, tried in this order by the widget:

1. ``[weights] q4`` and ``q6`` in the instructor's secrets: paths on the app's machine;
2. a local Ollama: `/api/show` answers with a ``modelfile`` whose ``FROM`` line names the model's
   blob (``<models>/blobs/sha256-<hex>``, written by `Model.String` in ollama's
   ``server/images.go`` and ``parser/parser.go``, commit
   fb30760996871fa9460115c753afd2c60d4ab0f7); it is used only when the endpoint is this machine
   (loopback) and the path is an Ollama blob that this process can read;
3. a digest file: ``[weights] digest``, else ``<lab file>.weights.npz`` next to the lab.

The instructor's `[weights]` section is parsed by `quantviz.config.weights`; a section that is
there but wrong fails closed: the view shows the error and reads nothing.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

BLOB_NAME = re.compile(r"^sha256-[0-9a-f]{64}$")
_COMMENT = "#"


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
