"""`python -m quantviz digest`: a digest with a progress bar, or one clear line and status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from gguf_pair import TinyModel, tiny_layout, write_pair

from quantviz.__main__ import EXIT_BAD_INPUT, main
from quantviz.weights.digest import read_digest
from quantviz.weights.gguf_file import open_gguf
from quantviz.weights.pair import pair_models


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quantviz", *args], capture_output=True, text=True, timeout=120
    )


def test_digest_command_writes_a_readable_digest(tiny_pair: TinyModel, tmp_path: Path) -> None:
    """A real process writes the digest, shows progress on stderr and prints nothing on stdout."""
    out = tmp_path / "lab.weights.npz"
    done = _run("digest", str(tiny_pair.q4), str(tiny_pair.q6), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "reading both files" in done.stderr and "100%" in done.stderr
    assert f"wrote {out}" in done.stderr
    digest = read_digest(out)
    assert digest.describes(pair_models(open_gguf(tiny_pair.q4), open_gguf(tiny_pair.q6)))
    assert len(digest.stats) == len(tiny_pair.specs)


def test_quiet_digest_in_process_equals_the_subprocess_one(
    tiny_pair: TinyModel, tmp_path: Path
) -> None:
    """`main()` with --quiet writes the same bytes as the command line, and returns 0."""
    a, b = tmp_path / "a.weights.npz", tmp_path / "b.weights.npz"
    assert main(["digest", str(tiny_pair.q4), str(tiny_pair.q6), "-o", str(a), "--quiet"]) == 0
    assert _run("digest", str(tiny_pair.q4), str(tiny_pair.q6), "-o", str(b)).returncode == 0
    assert a.read_bytes() == b.read_bytes()


def _bad(tmp_path: Path, tiny_pair: TinyModel) -> dict[str, tuple[list[str], str]]:
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_pair.q6.read_bytes()[:-5000])
    other = write_pair(tmp_path / "other", specs=tiny_layout(n_layers=2))
    out = str(tmp_path / "x.weights.npz")
    q4, q6 = str(tiny_pair.q4), str(tiny_pair.q6)
    return {
        "not gguf": ([q4, str(text), "-o", out], "notes.gguf is not a GGUF file"),
        "truncated": ([q4, str(cut), "-o", out], "cut.gguf is cut short"),
        "other model": ([str(other.q4), q6, "-o", out], "not the same model"),
        "missing": ([q4, str(tmp_path / "nope.gguf"), "-o", out], "does not exist"),
        "suffix": ([q4, q6, "-o", str(tmp_path / "x.npz")], "must end in .weights.npz"),
        "folder": ([q4, q6, "-o", str(tmp_path / "no" / "x.weights.npz")], "does not exist"),
    }


@pytest.mark.parametrize(
    "case", ["not gguf", "truncated", "other model", "missing", "suffix", "folder"]
)
def test_bad_input_is_one_line_and_status_2(
    case: str, tiny_pair: TinyModel, tmp_path: Path
) -> None:
    """Each bad input ends the process with status 2 and one error line, never a traceback."""
    args, message = _bad(tmp_path, tiny_pair)[case]
    done = _run("digest", *args)
    assert done.returncode == EXIT_BAD_INPUT
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and lines[0].startswith("quantviz digest: error: ")
    assert message in lines[0]
    assert not (tmp_path / "x.weights.npz").exists()


def test_usage_errors_come_from_argparse(tiny_pair: TinyModel) -> None:
    """No command, or no -o, is a usage message with status 2."""
    assert _run().returncode == 2
    done = _run("digest", str(tiny_pair.q4), str(tiny_pair.q6))
    assert done.returncode == 2 and "-o/--output" in done.stderr
    assert "Traceback" not in done.stderr
