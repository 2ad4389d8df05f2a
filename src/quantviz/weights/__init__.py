"""Real weights: the same tensor in the Q4 and the Q6 GGUF file, block by block (no streamlit).

* `gguf_file`: one GGUF file memory-mapped through `gguf.GGUFReader`, dequantized by
  `gguf.quants.dequantize`;
* `pair`: the two files of one model paired tensor by tensor, tiles of real super-blocks;
* `stats`: per-tensor statistics over all weights, streamed in row chunks;
* `digest`: the instructor's digest (`python -m quantviz digest`): statistics plus tiles;
* `locate`: where the files are (secrets, a local Ollama's blobs, the digest next to the lab);
* `errors`: one exception family, `WeightsError`, for every kind of bad input.

Their plotly figures (tiles, histograms, the per-layer profile) are `quantviz.figures.weights`.
"""

from quantviz.weights.digest import Digest, build_digest, read_digest, write_digest
from quantviz.weights.errors import WeightsError
from quantviz.weights.gguf_file import GGUFModel, open_gguf
from quantviz.weights.pair import ModelPair, PairedTensor, Tile, default_tensor, pair_models
from quantviz.weights.stats import TensorStats, model_stats, tensor_stats

__all__ = [
    "Digest",
    "GGUFModel",
    "ModelPair",
    "PairedTensor",
    "TensorStats",
    "Tile",
    "WeightsError",
    "build_digest",
    "default_tensor",
    "model_stats",
    "open_gguf",
    "pair_models",
    "read_digest",
    "tensor_stats",
    "write_digest",
]
