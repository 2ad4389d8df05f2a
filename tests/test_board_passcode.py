"""The instructor passcode: scrypt hash strings, constant-time check, the hash-passcode command."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from quantviz.board.passcode import PasscodeFormatError, hash_passcode, parse_hash, verify_passcode

# RFC 7914, section 12, last test vector: scrypt("pleaseletmein", "SodiumChloride", N=16384,
# r=8, p=1, dkLen=64).
RFC_KEY = bytes.fromhex(
    "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
    "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"
)
RFC_HASH = (
    "scrypt$n=16384,r=8,p=1$"
    + base64.b64encode(b"SodiumChloride").decode()
    + "$"
    + base64.b64encode(RFC_KEY).decode()
)


def test_rfc_7914_vector_verifies():
    """A hash string holding RFC 7914's published key accepts its passcode, nothing else."""
    assert verify_passcode("pleaseletmein", RFC_HASH)
    assert not verify_passcode("pleaseletmeIn", RFC_HASH)
    assert not verify_passcode("", RFC_HASH)


def test_hash_round_trip_with_fresh_salt():
    """Each hash of one passcode has its own salt; every one verifies that passcode only."""
    first, second = hash_passcode("teach-quant-2025"), hash_passcode("teach-quant-2025")
    assert first != second and first.startswith("scrypt$n=16384,r=8,p=1$")
    for stored in (first, second):
        assert verify_passcode("teach-quant-2025", stored)
        assert not verify_passcode("teach-quant-2026", stored)
    assert "teach-quant-2025" not in first


def test_short_passcodes_are_refused():
    """A passcode shorter than 8 characters is not hashed."""
    with pytest.raises(ValueError, match="at least 8 characters"):
        hash_passcode("1234567")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("plaintext-passcode", "must look like scrypt$"),
        ("scrypt$n=1000,r=8,p=1$c2FsdHNhbHQ=$" + "A" * 44, "out of range"),
        ("scrypt$n=4194304,r=8,p=1$c2FsdHNhbHQ=$" + "A" * 44, "out of range"),
        ("scrypt$n=16384,r=8,p=1$c2E=$" + "A" * 44, "too short"),
    ],
)
def test_malformed_hash_strings_say_what_is_wrong(text, words):
    """A stored string that is not a usable scrypt hash is refused with the reason."""
    with pytest.raises(PasscodeFormatError, match=words.replace("$", r"\$")):
        parse_hash(text)


def test_hash_passcode_command_prints_a_line_to_paste():
    """`python -m quantviz hash-passcode` reads the passcode from a pipe and prints the secrets
    line; the printed hash verifies and the passcode itself is not printed."""
    done = subprocess.run(
        [sys.executable, "-m", "quantviz", "hash-passcode"],
        input="a long class passcode\n",
        capture_output=True,
        text=True,
        check=True,
    )
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith('instructor_passcode_hash = "scrypt$')
    assert verify_passcode("a long class passcode", line.split('"')[1])
    assert "a long class passcode" not in done.stdout + done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "quantviz", "hash-passcode", "--bare"],
        input="short\n",
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "at least 8 characters" in bad.stderr and not bad.stdout
