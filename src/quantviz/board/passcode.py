"""The instructor passcode: stored as a salted scrypt hash in secrets, checked in constant time.

The stored string describes itself, so its cost can be raised later without breaking old ones:

    scrypt$n=16384,r=8,p=1$<salt, base64>$<key, base64>

`python -m quantviz hash-passcode` prints such a string for the instructor to paste into
`[board] instructor_passcode_hash`. The passcode itself is never stored, logged or shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1  # 16 MiB of memory per check (128 * r * n bytes), ~50 ms on one core
SALT_BYTES = 16
KEY_BYTES = 32
MIN_PASSCODE_CHARS = 8
_FORMAT = re.compile(
    r"^scrypt\$n=(?P<n>\d+),r=(?P<r>\d+),p=(?P<p>\d+)\$(?P<salt>[A-Za-z0-9+/=]+)\$(?P<key>[A-Za-z0-9+/=]+)$"
)
# Bounds on what a hash string may ask for, so a pasted string cannot make a check take minutes.
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16


class PasscodeFormatError(ValueError):
    """A stored hash string that is not `scrypt$n=…,r=…,p=…$salt$key`."""


@dataclass(frozen=True)
class PasscodeHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def __str__(self) -> str:
        salt = base64.b64encode(self.salt).decode()
        key = base64.b64encode(self.key).decode()
        return f"{SCHEME}$n={self.n},r={self.r},p={self.p}${salt}${key}"


def _derive(passcode: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        passcode.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=128 * r * n + 2**20,
        dklen=length,
    )


def hash_passcode(passcode: str, *, salt: bytes | None = None) -> str:
    """The string to paste into secrets for `passcode` (a fresh random salt unless given)."""
    if len(passcode) < MIN_PASSCODE_CHARS:
        raise ValueError(f"the passcode must have at least {MIN_PASSCODE_CHARS} characters")
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    return str(PasscodeHash(N, R, P, salt, _derive(passcode, salt, N, R, P, KEY_BYTES)))


def parse_hash(text: str) -> PasscodeHash:
    """The parts of a stored hash string; PasscodeFormatError says what is wrong."""
    match = _FORMAT.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise PasscodeFormatError(
            "it must look like scrypt$n=16384,r=8,p=1$<salt>$<key>: "
            "make one with `python -m quantviz hash-passcode`"
        )
    n, r, p = int(match["n"]), int(match["r"]), int(match["p"])
    if n < 2 or n & (n - 1) or n > _MAX_N or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P:
        raise PasscodeFormatError(
            f"its cost n={n}, r={r}, p={p} is out of range (n a power of two up to {_MAX_N}, "
            f"r up to {_MAX_R}, p up to {_MAX_P})"
        )
    try:
        salt = base64.b64decode(match["salt"], validate=True)
        key = base64.b64decode(match["key"], validate=True)
    except ValueError:
        raise PasscodeFormatError("its salt or key is not valid base64") from None
    if len(salt) < 8 or len(key) < 16:
        raise PasscodeFormatError("its salt or key is too short")
    return PasscodeHash(n, r, p, salt, key)


def verify_passcode(passcode: str, stored: str | PasscodeHash) -> bool:
    """Whether `passcode` matches the stored hash; the comparison takes constant time."""
    parsed = stored if isinstance(stored, PasscodeHash) else parse_hash(stored)
    if not isinstance(passcode, str) or not passcode:
        return False
    candidate = _derive(passcode, parsed.salt, parsed.n, parsed.r, parsed.p, len(parsed.key))
    return hmac.compare_digest(candidate, parsed.key)
