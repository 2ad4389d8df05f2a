"""Write a Q4_K_M-recipe GGUF and a Q6_K GGUF of the same random model, for tests and benchmarks.

The float weights are seeded normal(0, 0.02), one outlier of ±12 sigma per 2-D tensor, so a
histogram has something to mark. Each tensor is quantized with the project's byte-exact
quantizers (`quantviz.quant.ggml`): the Q4 file takes the type `quantviz.quant.recipe.q4_k_m`
picks, the Q6 file Q6_K for every 2-D tensor; 1-D tensors stay F32 in both. `gguf.GGUFWriter` writes
the files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter
from layouts import gemma_like_layout

from quantviz.quant import ggml
from quantviz.quant.recipe import TensorSpec, q4_k_m

ARCH = "gemma3"
SIGMA = 0.02
OUTLIER_SIGMAS = 12.0


@dataclass(frozen=True)
class TinyModel:
    """What the tests need to know about a written pair."""

    q4: Path
    q6: Path
    types_q4: dict[str, str]
    types_q6: dict[str, str]
    specs: tuple[TensorSpec, ...]
    seed: int

    def floats(self, name: str) -> np.ndarray:
        """The float32 source of a tensor, (n_rows, ne0), regenerated from the seed."""
        spec = next(s for s in self.specs if s.name == name)
        return float_weights(spec, self.seed)


def tiny_layout(n_layers: int = 3) -> list[TensorSpec]:
    """A Gemma-like model with rows of 256 (one super-block) and 512: about 2 M weights."""
    return gemma_like_layout(
        n_layers=n_layers, n_embd=256, n_head=1, n_head_kv=1, head_dim=256, n_ff=512, n_vocab=512
    )


def float_weights(spec: TensorSpec, seed: int) -> np.ndarray:
    """Seeded weights of one tensor as (n_rows, ne0) float32; 1-D tensors (norms) near 1."""
    key = int.from_bytes(hashlib.sha256(spec.name.encode()).digest()[:8], "little")
    rng = np.random.default_rng([seed, key])
    ne0 = spec.shape[0]
    rows = int(np.prod(spec.shape[1:])) if len(spec.shape) > 1 else 1
    if len(spec.shape) == 1:
        return (1.0 + rng.normal(0.0, 0.1, (1, ne0))).astype(np.float32)
    w = rng.normal(0.0, SIGMA, (rows, ne0)).astype(np.float32)
    r, c = rng.integers(rows), rng.integers(ne0)
    w[r, c] = np.float32(rng.choice([-1.0, 1.0]) * OUTLIER_SIGMAS * SIGMA)
    return w


def quantized(values: np.ndarray, qtype: str) -> np.ndarray:
    """Raw GGUF bytes of `values` in `qtype` (F32 stays float32)."""
    if qtype == "F32":
        return np.ascontiguousarray(values, np.float32)
    return ggml.quantize(values, qtype)


def write_gguf(
    path: Path,
    tensors: Iterable[tuple[str, tuple[int, ...], str, Callable[[], np.ndarray]]],
    *,
    file_type: int,
    n_layers: int,
    vocab: int = 0,
) -> Path:
    """A GGUF file of (name, GGUF shape, type, make-bytes) tensors, written by gguf.GGUFWriter.

    `vocab` adds that many tokens (with scores and types), as a real file carries them; the
    reader parses them one by one, so they make opening a file as slow as a real one.
    """
    writer = GGUFWriter(str(path), ARCH)
    writer.add_file_type(file_type)
    writer.add_block_count(n_layers)
    writer.add_name("quantviz tiny test model")
    if vocab:
        writer.add_tokenizer_model("llama")
        writer.add_token_list([f"<tok_{i}>" for i in range(vocab)])
        writer.add_token_scores([0.0] * vocab)
        writer.add_token_types([1] * vocab)
    for name, shape, qtype, make in tensors:
        data = make()
        if qtype == "F32":
            writer.add_tensor(name, data.reshape(tuple(reversed(shape))))
        else:
            writer.add_tensor(name, data, raw_dtype=GGMLQuantizationType[qtype])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _tensors(
    specs: list[TensorSpec], types: dict[str, str], seed: int
) -> Iterator[tuple[str, tuple[int, ...], str, Callable[[], np.ndarray]]]:
    for spec in specs:
        qtype = types[spec.name]

        def make(spec: TensorSpec = spec, qtype: str = qtype) -> np.ndarray:
            return quantized(float_weights(spec, seed), qtype)

        yield spec.name, spec.shape, qtype, make


def write_pair(
    directory: Path,
    *,
    seed: int = 7,
    specs: list[TensorSpec] | None = None,
    names: tuple[str, str] = ("model-q4_k_m.gguf", "model-q6_k.gguf"),
    vocab: int = 0,
) -> TinyModel:
    """Write the Q4_K_M-recipe file and the Q6_K file of one random model into `directory`."""
    specs = list(specs or tiny_layout())
    n_layers = 1 + max((int(s.name.split(".")[1]) for s in specs if s.name.startswith("blk.")),
                       default=-1)  # fmt: skip
    types_q4 = {c.name: c.qtype for c in q4_k_m(specs, n_layers)}
    types_q6 = {s.name: "F32" if s.n_dims < 2 else "Q6_K" for s in specs}
    directory.mkdir(parents=True, exist_ok=True)
    q4 = write_gguf(directory / names[0], _tensors(specs, types_q4, seed), file_type=15,
                    n_layers=n_layers, vocab=vocab)  # fmt: skip
    q6 = write_gguf(directory / names[1], _tensors(specs, types_q6, seed), file_type=18,
                    n_layers=n_layers, vocab=vocab)  # fmt: skip
    return TinyModel(q4, q6, types_q4, types_q6, tuple(specs), seed)
