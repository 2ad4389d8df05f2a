"""`/api/show` for people: the rows of the metadata comparison and the tensor type mix.

Pure presentation of what `quantviz.ollama.client.show` returns: raw GGUF `model_info` keys read
robustly (per-layer arrays, keys the server left out, a vocabulary known only by its length),
two tags paired row by row, and the bytes of each GGML type in a tensor list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gguf import LlamaFileType

from quantviz.ollama.client import ModelMetadata, TensorInfo, arch_key, arch_value
from quantviz.quant import ggml

_MISSING = object()


@dataclass(frozen=True)
class MetadataField:
    """One row of a metadata table: the raw value and how to show it."""

    label: str
    key: str  # the model_info key read, or a description of where the value came from
    raw: Any  # scalar, per-layer list, or None
    display: str
    elided: bool = False  # the server sent null (an array left out of a non-verbose answer)


@dataclass(frozen=True)
class ComparedField:
    label: str
    a: MetadataField
    b: MetadataField
    same: bool | None  # None when either side is unknown


def _fmt_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe_value(value: Any) -> str:
    """Show a scalar as is and a per-layer array compactly.

    [8]*20 + [4]*15 -> "4–8 (per layer: 8×20, 4×15)"; [8]*35 -> "8 (all 35 layers)".
    """
    if value is None:
        return "—"
    if not isinstance(value, list):
        return _fmt_scalar(value)
    if not value:
        return "—"
    if not all(isinstance(v, (int, float, bool, str)) for v in value):
        return f"[{len(value)} items]"
    counts = Counter(value)
    if len(counts) == 1:
        return f"{_fmt_scalar(value[0])} (all {len(value)} layers)"
    if len(counts) > 4 and all(isinstance(v, (int, float)) for v in value):
        return (
            f"{_fmt_scalar(min(value))}–{_fmt_scalar(max(value))} (per layer, {len(value)} layers)"
        )
    runs = ", ".join(f"{_fmt_scalar(v)}×{n}" for v, n in counts.items())
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return f"{_fmt_scalar(min(value))}–{_fmt_scalar(max(value))} (per layer: {runs})"
    return f"per layer: {runs}"


def _field(
    label: str, key: str, info: Mapping[str, Any], display: str | None = None
) -> MetadataField:
    raw = info.get(key, _MISSING)
    if raw is _MISSING:
        return MetadataField(label, key, None, "not reported")
    if raw is None:
        return MetadataField(label, key, None, "left out by the server (ask verbose)", elided=True)
    return MetadataField(label, key, raw, display if display is not None else describe_value(raw))


def file_type_name(file_type: Any) -> str | None:
    """llama.cpp's name for general.file_type: 15 -> 'Q4_K_M'."""
    try:
        name = LlamaFileType(int(file_type)).name
    except (TypeError, ValueError):
        return None
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


def vocab_size(meta: ModelMetadata) -> tuple[int | None, str]:
    """Vocabulary size and where it came from: an arch key, the token list, or token_embd."""
    size = arch_value(meta, "vocab_size")
    if isinstance(size, int) and size > 0:
        return size, arch_key(meta, "vocab_size")
    tokens = meta.model_info.get("tokenizer.ggml.tokens")
    if isinstance(tokens, list) and tokens:
        return len(tokens), "tokenizer.ggml.tokens"
    if "tokenizer.ggml.tokens" in meta.array_lengths:
        return meta.array_lengths["tokenizer.ggml.tokens"], "tokenizer.ggml.tokens"
    embd = next((t for t in meta.tensors if t.name == "token_embd.weight"), None)
    if embd is not None and len(embd.shape) == 2:
        width = arch_value(meta, "embedding_length")
        rows = embd.shape[1] if embd.shape[0] == width or width is None else embd.shape[0]
        return rows, "token_embd.weight shape"
    return None, "not reported"


# The architecture keys metadata_summary reads (some are per-layer arrays in newer models).
SUMMARY_KEYS = (
    "block_count",
    "context_length",
    "embedding_length",
    "feed_forward_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "vocab_size",
)


def metadata_summary(meta: ModelMetadata) -> list[MetadataField]:
    """The rows the metadata comparison shows, read robustly from raw GGUF keys."""
    info = meta.model_info
    file_type = info.get("general.file_type")
    ft_name = file_type_name(file_type)
    vocab, vocab_source = vocab_size(meta)
    n_params = meta.parameter_count
    rows = [
        _field("Architecture", "general.architecture", info),
        MetadataField(
            "Parameters",
            "general.parameter_count",
            n_params,
            _fmt_scalar(n_params) if n_params else "not reported",
        ),
        _field("Layers (blocks)", arch_key(meta, "block_count"), info),
        _field("Context length", arch_key(meta, "context_length"), info),
        _field("Embedding length", arch_key(meta, "embedding_length"), info),
        _field("Feed-forward length", arch_key(meta, "feed_forward_length"), info),
        _field("Attention heads", arch_key(meta, "attention.head_count"), info),
        _field("KV heads", arch_key(meta, "attention.head_count_kv"), info),
        _field("Head dimension", arch_key(meta, "attention.key_length"), info),
        MetadataField(
            "Vocabulary size", vocab_source, vocab, _fmt_scalar(vocab) if vocab else "not reported"
        ),
        _field("Tokenizer model", "tokenizer.ggml.model", info),
        MetadataField(
            "Quantization level",
            "details.quantization_level",
            meta.details.quantization_level,
            meta.details.quantization_level or "not reported",
        ),
        _field(
            "File type",
            "general.file_type",
            info,
            f"{file_type} ({ft_name})" if ft_name else None,
        ),
    ]
    return rows


def compare_metadata(a: ModelMetadata, b: ModelMetadata) -> list[ComparedField]:
    """Pair the summary rows of two tags and mark which are identical."""
    rows = []
    for fa, fb in zip(metadata_summary(a), metadata_summary(b), strict=True):
        same = None if fa.raw is None or fb.raw is None else fa.raw == fb.raw
        rows.append(ComparedField(fa.label, fa, fb, same))
    return rows


# --------------------------------------------------------------------------- tensor type mix


@dataclass(frozen=True)
class TypeShare:
    """Tensors of one GGML type: how many, how many weights, how many bytes."""

    type: str
    count: int
    n_elements: int
    n_bytes: int | None  # None for a type gguf does not know


def tensor_bytes(tensor: TensorInfo) -> int | None:
    """Bytes a tensor takes (whole blocks of its type); None for a type gguf does not know."""
    try:
        return ggml.tensor_bytes(tensor.type, tensor.n_elements)
    except (KeyError, ValueError):
        return None


def tensor_type_mix(tensors: Iterable[TensorInfo]) -> dict[str, TypeShare]:
    """Per GGML type: tensor count, weights and bytes; largest share first."""
    acc: dict[str, list[int | None]] = {}
    for t in tensors:
        count, elements, n_bytes = acc.setdefault(t.type, [0, 0, 0])
        size = tensor_bytes(t)
        acc[t.type] = [
            (count or 0) + 1,
            (elements or 0) + t.n_elements,
            None if n_bytes is None or size is None else n_bytes + size,
        ]
    shares = [TypeShare(k, int(v[0] or 0), int(v[1] or 0), v[2]) for k, v in acc.items()]
    shares.sort(key=lambda s: (s.n_bytes or 0, s.n_elements), reverse=True)
    return {s.type: s for s in shares}
