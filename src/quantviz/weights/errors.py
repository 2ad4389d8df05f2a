"""One exception family for every way a weights file, a file pair or a digest can be wrong.

Each error carries a `kind` the UI and the CLI can branch on and a message that names the file
and what is wrong with it, in words an instructor can act on. File names and tensor names in a
message come from the files: a caller escapes the message before it reaches Markdown.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "config",  # the instructor's [weights] secrets cannot be used
    "missing",  # a file does not exist or cannot be read
    "not_gguf",  # the file is not a GGUF file at all
    "truncated",  # the file ends before its header or its tensor data does
    "damaged",  # a GGUF header that gguf cannot parse for another reason
    "tensor_type",  # a tensor type gguf does not know, or cannot dequantize
    "mismatch",  # the two files are not the same model (tensor names or shapes differ)
    "digest_version",  # a digest written by another version of the digest format
    "not_digest",  # a file that is not a quantviz weights digest, or a damaged one
    "no_tensor",  # a tensor name that is not in the pair or the digest
]


class WeightsError(Exception):
    """Base of the family: `kind` says which failure, `str(exc)` says it in words."""

    kind: ErrorKind = "damaged"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class WeightsConfigError(WeightsError):
    kind: ErrorKind = "config"


class MissingFileError(WeightsError):
    kind: ErrorKind = "missing"


class NotGGUFError(WeightsError):
    kind: ErrorKind = "not_gguf"


class TruncatedFileError(WeightsError):
    kind: ErrorKind = "truncated"


class DamagedFileError(WeightsError):
    kind: ErrorKind = "damaged"


class TensorTypeError(WeightsError):
    kind: ErrorKind = "tensor_type"


class ModelMismatchError(WeightsError):
    kind: ErrorKind = "mismatch"


class DigestVersionError(WeightsError):
    kind: ErrorKind = "digest_version"


class NotADigestError(WeightsError):
    kind: ErrorKind = "not_digest"


class UnknownTensorError(WeightsError):
    kind: ErrorKind = "no_tensor"


def printable(text: str, limit: int = 120) -> str:
    """`text` from a file with control characters shown as escapes, cut to `limit` characters.

    Tensor names and paths come from files and may hold anything; this keeps them on one line
    and inert in a terminal. Markdown escaping is the UI's job on top of this.
    """
    out = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )
    return out if len(out) <= limit else out[: limit - 1] + "…"
