"""The lab cache is shared by every session's script thread: safe when a class arrives at once."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from concurrency import WatchedLock, wait_for

from quantviz.lab import load as labs


def lab_text(title: str) -> str:
    return f'---\norder: 7\ntitle: "{title}"\n---\n\nIntro.\n\n## Objective 1: First\nText.\n'


def _grew(seen: Sequence[object], size: int) -> bool:
    return len(seen) > size


def write_atomically(path: Path, text: str) -> None:
    """How git and most editors save: a new file renamed over the old one."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def test_sixteen_sessions_asking_for_a_new_lab_at_once_parse_it_once(tmp_path, monkeypatch):
    """While the first session parses a lab file, the fifteen others that want it wait for that
    parse instead of parsing it again; all sixteen get the same Lab."""
    path = tmp_path / "lab.md"
    path.write_text(lab_text("Shared"), encoding="utf-8")
    lock = WatchedLock()
    monkeypatch.setattr(labs, "_cache_lock", lock)
    monkeypatch.setattr(labs, "_cache", {})
    release = threading.Event()
    parsed: list[str] = []
    real_parse = labs.parse_lab

    def slow_parse(text: str, p: Path) -> labs.Lab:
        parsed.append(p.name)
        assert release.wait(10)
        return real_parse(text, p)

    monkeypatch.setattr(labs, "parse_lab", slow_parse)
    results: list[labs.Lab | labs.LabError] = []
    threads = [
        threading.Thread(target=lambda: results.append(labs.load_lab(path))) for _ in range(16)
    ]
    for t in threads:
        t.start()
    wait_for(lambda: lock.asked == 16)
    assert parsed == ["lab.md"]
    release.set()
    for t in threads:
        t.join(10)
    assert parsed == ["lab.md"]
    assert len(results) == 16
    assert all(r is results[0] for r in results)
    assert isinstance(results[0], labs.Lab) and results[0].title == "Shared"


def test_an_edited_lab_replaces_its_cached_version_while_sessions_read_it(tmp_path, monkeypatch):
    """Eight sessions reload the labs while the file is saved 40 times: every read is a whole
    version (never an error, never a mix), the cache keeps one entry for the file rather than
    one per version, and once the saving stops every session gets the last version."""
    monkeypatch.setattr(labs, "_cache", {})
    path = tmp_path / "lab.md"
    titles = [f"Version {i}" + "x" * i for i in range(41)]  # every version a different size
    write_atomically(path, lab_text(titles[0]))
    stop = threading.Event()
    seen: list[str] = []
    errors: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            for lab in labs.load_labs(tmp_path):
                if isinstance(lab, labs.LabError):
                    errors.append(lab.message)
                else:
                    seen.append(lab.title)

    readers = [threading.Thread(target=reader) for _ in range(8)]
    for t in readers:
        t.start()
    for title in titles[1:]:
        before = len(seen)
        write_atomically(path, lab_text(title))
        wait_for(partial(_grew, seen, before + 8))  # readers ran on this version
    stop.set()
    for t in readers:
        t.join(10)

    assert errors == []
    assert set(seen) <= set(titles)
    assert len(set(seen)) > 1
    assert list(labs._cache) == [str(path)]
    final = labs.load_labs(tmp_path)
    assert [lab.title for lab in final] == [titles[-1]]
    assert list(labs._cache) == [str(path)]
