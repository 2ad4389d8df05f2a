"""Command line: `python -m quantviz <command>`.

    python -m quantviz digest Q4.gguf Q6.gguf -o labs/<lab>.weights.npz
    python -m quantviz hash-passcode     # prints the [board] instructor_passcode_hash to paste

`digest` reads both GGUF files of one model (memory-mapped, in row chunks) and writes the digest
the real-weights view shows on a hosted app that does not have the files; progress goes to
stderr. Bad input ends with one line saying what is wrong and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from quantviz.units import format_bytes
from quantviz.weights.digest import DIGEST_SUFFIX, build_digest, write_digest
from quantviz.weights.errors import WeightsError, printable
from quantviz.weights.gguf_file import open_gguf
from quantviz.weights.pair import pair_models
from quantviz.weights.stats import CHUNK_WEIGHTS, total_weights

EXIT_BAD_INPUT = 2


def _digest(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if not out.name.endswith(DIGEST_SUFFIX):
        raise WeightsError(f"the output name must end in {DIGEST_SUFFIX}, got {out.name}")
    if not out.parent.is_dir():
        raise WeightsError(f"the output folder {printable(str(out.parent))} does not exist")
    started = time.perf_counter()
    pair = pair_models(open_gguf(args.q4), open_gguf(args.q6))
    total = total_weights(pair)
    from tqdm import tqdm

    with tqdm(
        total=total,
        unit="w",
        unit_scale=True,
        desc="reading both files",
        file=sys.stderr,
        disable=args.quiet,
        dynamic_ncols=True,
    ) as bar:
        digest = build_digest(pair, chunk_weights=args.chunk, progress=bar.update)
    size = write_digest(digest, out)
    seconds = time.perf_counter() - started
    if not args.quiet:
        print(
            f"wrote {out} ({format_bytes(size)}): statistics of {len(digest.stats)} tensors over "
            f"{total:,} weights per file, {len(digest.tiles)} tiles of super-blocks, "
            f"in {seconds:.1f} s ({total / max(seconds, 1e-9) / 1e6:.0f} M weights/s per file)",
            file=sys.stderr,
        )
    return 0


def _read_passcode() -> str:
    """From the terminal, typed twice without echo; from a pipe, its first line."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Instructor passcode: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("The two passcodes differ; nothing was printed.")
    return first


def hash_passcode_command(args: argparse.Namespace) -> int:
    from quantviz.board.passcode import hash_passcode

    try:
        stored = hash_passcode(_read_passcode())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.bare:
        print("# Paste into .streamlit/secrets.toml (or the app's Secrets), section [board]:")
        print(f'instructor_passcode_hash = "{stored}"')
    else:
        print(stored)
    return 0


def build_parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m quantviz", description="quantviz command line tools."
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="command")
    digest = commands.add_parser(
        "digest",
        help="precompute the real-weights view of a Q4/Q6 GGUF pair for a hosted class",
        description="Read a Q4 GGUF file and a Q6 GGUF file of the same model and write a digest "
        "(a few MB): the statistics of every tensor over all its weights, and real super-blocks "
        "of every quantized tensor. Put it next to the lab as labs/<lab>.weights.npz, or name "
        "it in the secrets as [weights] digest.",
    )
    digest.add_argument("q4", help="the Q4 file (for example the Q4_K_M GGUF)")
    digest.add_argument("q6", help="the Q6 file (for example the Q6_K GGUF)")
    digest.add_argument(
        "-o", "--output", required=True, help=f"the digest to write, ending in {DIGEST_SUFFIX}"
    )
    digest.add_argument(
        "--chunk",
        type=int,
        default=CHUNK_WEIGHTS,
        help=f"weights dequantized at a time, which bounds memory (default {CHUNK_WEIGHTS:,})",
    )
    digest.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    digest.set_defaults(run=_digest)
    hashing = commands.add_parser(
        "hash-passcode",
        help="hash the instructor passcode for [board] instructor_passcode_hash",
        description="Reads the passcode (typed twice without echo, or one line from a pipe) "
        "and prints its salted scrypt hash. The passcode itself is never printed or stored.",
    )
    hashing.add_argument("--bare", action="store_true", help="print only the hash string")
    hashing.set_defaults(run=hash_passcode_command)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "chunk", 1) < 1:
        parser.error("--chunk must be at least 1")
    try:
        return int(args.run(args))
    except WeightsError as exc:
        print(f"quantviz {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"quantviz {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
