"""Command-line helpers: `python -m quantviz <command>`.

python -m quantviz hash-passcode     # prints the [board] instructor_passcode_hash to paste
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence


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
        return 2
    if not args.bare:
        print("# Paste into .streamlit/secrets.toml (or the app's Secrets), section [board]:")
        print(f'instructor_passcode_hash = "{stored}"')
    else:
        print(stored)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m quantviz", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    hashing = commands.add_parser(
        "hash-passcode",
        help="hash the instructor passcode for [board] instructor_passcode_hash",
        description="Reads the passcode (typed twice without echo, or one line from a pipe) "
        "and prints its salted scrypt hash. The passcode itself is never printed or stored.",
    )
    hashing.add_argument("--bare", action="store_true", help="print only the hash string")
    hashing.set_defaults(run=hash_passcode_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
