"""Command line: ``python -m quantviz <command>``. One command so far:

    python -m quantviz digest Q4.gguf Q6.gguf -o labs/<lab>.weights.npz

reads both GGUF files of one model (memory-mapped, in row chunks), and writes the digest the
real-weights view shows on a hosted app that does not have the files. Progress goes to stderr;
bad input ends with one line saying what is wrong and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

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
            f"wrote {out} ({size / 1e6:.1f} MB): statistics of {len(digest.stats)} tensors over "
            f"{total:,} weights per file, {len(digest.tiles)} tiles of super-blocks, "
            f"in {seconds:.1f} s ({total / max(seconds, 1e-9) / 1e6:.0f} M weights/s per file)",
            file=sys.stderr,
        )
    return 0


def parser() -> argparse.ArgumentParser:
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
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "chunk", 1) < 1:
        parser().error("--chunk must be at least 1")
    try:
        return args.run(args)
    except WeightsError as exc:
        print(f"quantviz {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"quantviz {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
