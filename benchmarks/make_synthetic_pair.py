"""Write (once) the synthetic Q4_K_M / Q6_K GGUF pair that `bench_digest.py` reads.

    .venv/bin/python benchmarks/make_synthetic_pair.py [--dir /tmp/quantviz-bench]

The model is the Gemma-like layout of `tests/layouts.py` cut to 6 layers with a 32768-token
embedding: 262 M weights per file. Both files come from the same seeded float weights
(`tests/gguf_pair.py`), quantized by this project's byte-exact quantizers: the Q4 file with the
Q4_K_M recipe's type per tensor, the Q6 file Q6_K throughout. Each also carries a 262144-token
vocabulary, as Gemma's files do, so opening them costs what opening the real files costs.

Quantizing takes minutes (Q4_K runs at a few M weights/s), so the pair is cached: a second run
with the same layout finds `pair.json` and does nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from gguf_pair import write_pair
from layouts import gemma_like_layout

DEFAULT_DIR = Path("/tmp/quantviz-bench")
LAYOUT = {"n_layers": 6, "n_vocab": 32768}
VOCAB = 262_144
SEED = 11
NAMES = ("synthetic-q4_k_m.gguf", "synthetic-q6_k.gguf")


def ensure_pair(directory: Path = DEFAULT_DIR) -> tuple[Path, Path, int]:
    """The cached pair's paths and weights per file, written first if missing or stale."""
    stamp = directory / "pair.json"
    want = {"layout": LAYOUT, "vocab": VOCAB, "seed": SEED, "names": list(NAMES)}
    specs = gemma_like_layout(**LAYOUT)
    n_weights = sum(s.n_weights for s in specs)
    q4, q6 = directory / NAMES[0], directory / NAMES[1]
    if stamp.exists() and json.loads(stamp.read_text()) == want and q4.exists() and q6.exists():
        return q4, q6, n_weights
    print(f"writing {n_weights / 1e6:.0f} M weights per file into {directory} ...", file=sys.stderr)
    started = time.perf_counter()
    stamp.unlink(missing_ok=True)
    write_pair(directory, seed=SEED, specs=specs, names=NAMES, vocab=VOCAB)
    stamp.write_text(json.dumps(want))
    print(f"done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return q4, q6, n_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    q4, q6, n = ensure_pair(args.dir)
    print(f"{q4}\n{q6}\n{n:,} weights per file")


if __name__ == "__main__":
    main()
