"""Every lab of a folder, parsed once per version of each file and shared by all sessions.

`load_labs()` reads `labs/` (or `$QUANTVIZ_LABS_DIR`): good labs by `order`, then one `LabError`
per file that could not be used, every url path unique. `load_lab(path)` is cached on the file's
(mtime, size), so a rerun does not re-read it and an edited file replaces its old version.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from quantviz.lab import Lab, LabError, LabParseError
from quantviz.lab.parse import parse_lab

log = logging.getLogger(__name__)

LABS_DIR_ENV = "QUANTVIZ_LABS_DIR"
DEFAULT_LABS_DIR = Path(__file__).resolve().parents[3] / "labs"


def labs_dir() -> Path:
    return Path(os.environ.get(LABS_DIR_ENV) or DEFAULT_LABS_DIR)


# Shared by every session's script thread: path -> ((mtime_ns, size), parsed lab). One entry per
# file, so an edited lab replaces its old version instead of piling up; the lock makes a new
# version parse once however many sessions ask for it at the same moment. Readers that find the
# current version take no lock. A cached Lab is shared, so nothing may mutate it (checked by
# tests/test_preload.py, which renders every page and compares).
_cache: dict[str, tuple[tuple[int, int], Lab | LabError]] = {}
_cache_lock = threading.Lock()


def _read(path: Path) -> Lab | LabError:
    try:
        return parse_lab(path.read_text(encoding="utf-8"), path)
    except (OSError, UnicodeDecodeError, LabParseError) as exc:
        return LabError(path, str(exc))
    except Exception as exc:
        log.exception("lab file %s could not be parsed", path)
        return LabError(path, f"the file could not be parsed ({type(exc).__name__}: {exc})")


def load_lab(path: Path) -> Lab | LabError:
    """Parse a lab file, cached on (path, mtime, size) so every rerun does not re-read it.

    Whatever is wrong with the file, the result is a LabError: one lab file never takes the app
    down. A mistake the parser did not foresee is logged with its traceback (once per version of
    the file: errors are cached too).
    """
    try:
        stat = path.stat()
    except OSError as exc:
        return LabError(path, str(exc))
    version = (stat.st_mtime_ns, stat.st_size)
    hit = _cache.get(str(path))
    if hit is not None and hit[0] == version:
        return hit[1]
    with _cache_lock:
        hit = _cache.get(str(path))
        if hit is None or hit[0] != version:
            hit = _cache[str(path)] = (version, _read(path))
        return hit[1]


def _unique(url_path: str, taken: Mapping[str, str]) -> str:
    candidate, k = url_path, 2
    while candidate in taken:
        candidate, k = f"{url_path}-{k}", k + 1
    return candidate


def load_labs(
    directory: Path | None = None, reserved: Mapping[str, str] | None = None
) -> list[Lab | LabError]:
    """Every `*.md` lab of the directory: good labs by `order`, then the broken ones.

    Every url path is unique: `reserved` maps the app's other url paths to what owns them (the
    tool pages); a lab that would reuse a taken path (the same `order` as another lab, say)
    becomes an error page, and error pages whose file names slugify alike get `-2`, `-3`, ...
    """
    directory = directory or labs_dir()
    taken: dict[str, str] = dict(reserved or {})
    labs: list[Lab] = []
    errors: list[LabError] = []
    for path in sorted(directory.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        lab = load_lab(path)
        if isinstance(lab, LabError):
            errors.append(lab)
        elif clash := next((other for other in labs if other.order == lab.order), None):
            errors.append(
                LabError(path, f"`order: {lab.order}` is already used by {clash.path.name}")
            )
        elif used := next((s.url_path for s in lab.sections if s.url_path in taken), None):
            errors.append(LabError(path, f"its page `{used}` has the url path of {taken[used]}"))
        else:
            labs.append(lab)
            taken.update((s.url_path, f"a page of {path.name}") for s in lab.sections)
    unique: list[LabError] = []
    for error in errors:
        url_path = _unique(error.url_path, taken)
        taken[url_path] = f"the error page of {error.path.name}"
        unique.append(dataclasses.replace(error, url_path=url_path))
    return [*sorted(labs, key=lambda lab: lab.order), *unique]
