"""Cross-check quantviz.ggml against llama.cpp's own C reference, built here from its source.

Not part of the test suite: it needs a llama.cpp source tree and gcc. It compiles
`ggml/src/ggml-quants.c` twice into shared libraries, as llama.cpp's default x86-64 build
compiles `ggml-base` (`-O3 -std=gnu11`, no `-march`: no FMA) and as a build for a CPU with FMA
would (`-march=haswell`; GCC's GNU C default `-ffp-contract=fast` then fuses `a*b + c`), calls
`quantize_row_<type>_ref` through ctypes, and prints how many blocks differ:

* plain C vs the golden file `tests/data/ggml_quant_vectors.npz` (the build is the right one),
* quantviz.ggml vs plain C on the golden inputs and on seeded edge inputs (magnitudes from
  1e-45 to 3.4e38, mixed signs, zeroed values; all finite),
* FMA C vs plain C on 1 M weights of N(0, 0.02) (what "byte-exact" leaves out).

    .venv/bin/python tools/crosscheck_ggml.py --llama-cpp /path/to/llama.cpp [--trials 300]

Any tree with `ggml/src/ggml-quants.c` works, e.g. the `vendor/llama.cpp` of the
llama-cpp-python source distribution. Four symbols that the quantizers never call are given
empty definitions so that the library loads.
"""

from __future__ import annotations

import argparse
import ctypes
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from quantviz import ggml

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "ggml_quant_vectors.npz"
BUILDS = {"plain": ["-O3"], "fma": ["-O3", "-march=haswell"]}
UNUSED = """
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
void ggml_abort(const char *file, int line, const char *fmt, ...) { abort(); }
size_t ggml_row_size(int type, int64_t n) { abort(); }
const char *ggml_type_name(int type) { return "?"; }
size_t ggml_type_size(int type) { abort(); }
"""


def build(llama_cpp: Path, out: Path) -> dict[str, ctypes.CDLL]:
    """Both shared libraries of ggml-quants.c, by build name."""
    src = llama_cpp / "ggml" / "src"
    unused = out / "unused.c"
    unused.write_text(UNUSED)
    includes = [f"-I{llama_cpp / 'ggml' / 'include'}", f"-I{src}", f"-I{src / 'ggml-cpu'}"]
    libs = {}
    for name, flags in BUILDS.items():
        lib = out / f"libquants_{name}.so"
        subprocess.run(
            ["gcc", "-std=gnu11", *flags, "-DNDEBUG", "-fPIC", "-shared", *includes,
             str(src / "ggml-quants.c"), str(unused), "-o", str(lib), "-lm", "-w"],
            check=True,
        )  # fmt: skip
        libs[name] = ctypes.CDLL(str(lib))
    return libs


def c_quantize(lib: ctypes.CDLL, x: np.ndarray, qtype: str) -> np.ndarray:
    """quantize_row_<qtype>_ref over all of x, shaped like ggml.quantize's result."""
    fmt = ggml.FORMATS[qtype]
    x = np.ascontiguousarray(x, np.float32)
    out = np.zeros(x.size // fmt.block_values * fmt.block_bytes, np.uint8)
    fn = getattr(lib, f"quantize_row_{qtype.lower().replace('_k', '_K')}_ref")
    fn.restype = None
    fn(ctypes.c_void_p(x.ctypes.data), ctypes.c_void_p(out.ctypes.data), ctypes.c_int64(x.size))
    return out.reshape(-1, fmt.block_bytes)


def differing(a: np.ndarray, b: np.ndarray, qtype: str) -> tuple[int, int]:
    """(blocks that differ, blocks) between two quantizations."""
    size = ggml.FORMATS[qtype].block_bytes
    bad = (a.reshape(-1, size) != b.reshape(-1, size)).any(axis=1)
    return int(bad.sum()), int(bad.size)


def edge_inputs(trials: int) -> list[np.ndarray]:
    """Seeded finite weights over float32's whole range, 8 super-blocks each."""
    rng = np.random.default_rng(1)
    xs = []
    for trial in range(trials):
        lo, hi = sorted(rng.uniform(-45, 38.5, 2))
        mag = 10 ** rng.uniform(lo, hi, (8, 256))
        sign = rng.choice([-1.0, 1.0], mag.shape) if trial % 3 else (-1.0) ** trial
        x = np.clip(sign * mag, -3.4e38, 3.4e38).astype(np.float32)
        if trial % 5 == 0:
            x[rng.random(x.shape) < 0.3] = 0
        xs.append(x)
    return xs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llama-cpp", type=Path, required=True, help="llama.cpp source tree")
    parser.add_argument("--trials", type=int, default=300, help="edge inputs of 2048 weights")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, np.load(GOLDEN) as golden:
        libs = build(args.llama_cpp, Path(tmp))
        edges = edge_inputs(args.trials)
        normal = np.random.default_rng(11).normal(0, 0.02, (256, 4096)).astype(np.float32)
        print(f"{'type':<6} {'plain C vs golden':>18} {'quantviz vs C':>15} {'edge inputs':>13}"
              f" {'FMA vs plain':>14}")  # fmt: skip
        for qtype in ggml.FORMATS:
            gold = [0, 0]
            ours = [0, 0]
            for case in golden["cases"]:
                x = golden[f"x_{case}"]
                c = c_quantize(libs["plain"], x, qtype)
                gold = np.add(gold, differing(c, golden[f"q_{qtype}_{case}"], qtype))
                ours = np.add(ours, differing(ggml.quantize(x, qtype), c, qtype))
            edge = [0, 0]
            for x in edges:
                c = c_quantize(libs["plain"], x, qtype)
                edge = np.add(edge, differing(ggml.quantize(x, qtype), c, qtype))
            fma = differing(
                c_quantize(libs["fma"], normal, qtype),
                c_quantize(libs["plain"], normal, qtype),
                qtype,
            )
            cells = [f"{d}/{n}" for d, n in (gold, ours, edge, fma)]
            print(f"{qtype:<6} {cells[0]:>18} {cells[1]:>15} {cells[2]:>13} {cells[3]:>14}")


if __name__ == "__main__":
    main()
