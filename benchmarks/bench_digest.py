"""How fast `python -m quantviz digest` reads a Q4/Q6 pair, against gguf's dequantize alone.

    taskset -c 0 .venv/bin/python benchmarks/bench_digest.py [--repeats 3]

The pair is the synthetic one of `make_synthetic_pair.py` (262 M weights per file, written once
to /tmp/quantviz-bench and cached). Figures are medians over `--repeats` runs, wall clock and
this process's CPU time; run it pinned to one core, as the goal is stated per core:

    goal (issue 16): a 4.7 B-weight pair (4.7 B weights per file) in under 3 minutes on one core.

The digest's work has three parts with different speeds, measured separately and scaled:

1. opening both files: gguf.GGUFReader parses the header, token by token for the vocabulary;
   a fixed cost that does not grow with the weights;
2. tensors stored differently in the two files (Q4_K vs Q6_K): both are dequantized;
3. tensors stored byte for byte alike (Q6_K in both, F32 norms): dequantized once.

"gguf alone" is `gguf.quants.dequantize` of both files' rows in the same chunks and nothing
else: the floor the statistics add to.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gguf import GGMLQuantizationType
from gguf import quants as gguf_quants
from make_synthetic_pair import ensure_pair

from quantviz.weights.digest import build_digest
from quantviz.weights.gguf_file import open_gguf
from quantviz.weights.pair import pair_models
from quantviz.weights.stats import CHUNK_WEIGHTS, tensor_stats

GOAL_WEIGHTS = 4.7e9  # per file
GOAL_SECONDS = 180.0
# Gemma 4 E2B (design notes): per-layer embeddings 8960 x 262144 and the tied token embedding
# 1536 x 262144, both Q6_K in the Q4_K_M file as in the Q6_K one, so read once.
GEMMA_SAME_WEIGHTS = 8960 * 262144 + 1536 * 262144


def _rss_mb() -> float:
    """This process's resident memory (Linux /proc), in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `fn()` over `repeats` calls (after one warm-up)."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def gguf_alone(pair, name: str, both: bool = True) -> None:
    """Dequantize a tensor from both files (or only the Q6 file) in the digest's chunks, and
    nothing else: each chunk's weights are dropped at once, as the digest drops them."""
    t = pair.tensor(name)
    q4, q6 = (GGMLQuantizationType[t.q4_type], GGMLQuantizationType[t.q6_type])
    for _, raw4, raw6 in pair.chunks(name, CHUNK_WEIGHTS):
        if both:
            gguf_quants.dequantize(raw4, q4)
        gguf_quants.dequantize(raw6, q6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/quantviz-bench"))
    args = parser.parse_args()
    q4_path, q6_path, n_file = ensure_pair(args.dir)
    cores = sorted(os.sched_getaffinity(0))
    pin = "" if len(cores) == 1 else " (pin it with taskset -c 0)"
    print(
        f"method: medians of {args.repeats} runs after a warm-up, wall and CPU seconds; "
        f"process allowed on cores {cores}{pin}; load average {os.getloadavg()[0]:.2f}"
    )

    open_wall, open_cpu = timed(lambda: pair_models(open_gguf(q4_path), open_gguf(q6_path)), 1)
    gc.collect()
    before = _rss_mb()
    pair = pair_models(open_gguf(q4_path), open_gguf(q6_path))
    gc.collect()
    held = _rss_mb() - before
    differ = [t for t in pair.tensors if t.tileable and t.q4_type != t.q6_type]
    same = [t for t in pair.tensors if t.q4_type == t.q6_type]
    big_diff = max(differ, key=lambda t: t.n_weights)
    big_same = max(same, key=lambda t: t.n_weights)
    n_differ = sum(t.n_weights for t in differ) / 1e6
    n_same = sum(t.n_weights for t in same) / 1e6
    print(
        f"pair: {n_file / 1e6:.0f} M weights per file; {n_differ:.0f} M in tensors stored "
        f"differently, {n_same:.0f} M alike"
    )
    print(
        f"open both files (header, {len(pair.tensors)} tensors, 262144-token vocabulary): "
        f"{open_wall:.1f} s wall, {open_cpu:.1f} s CPU; {held:.0f} MB resident once open"
    )

    rows: list[tuple[str, float, float]] = []
    for label, fn, n in (
        (f"gguf dequantize alone, {big_diff.q4_type}+{big_diff.q6_type} ({big_diff.name})",
         lambda: gguf_alone(pair, big_diff.name), big_diff.n_weights),
        (f"digest statistics, stored differently ({big_diff.name})",
         lambda: tensor_stats(pair, big_diff.name), big_diff.n_weights),
        (f"gguf dequantize alone, one file ({big_same.name}, {big_same.q6_type})",
         lambda: gguf_alone(pair, big_same.name, both=False), big_same.n_weights),
        (f"digest statistics, stored alike ({big_same.name})",
         lambda: tensor_stats(pair, big_same.name), big_same.n_weights),
    ):  # fmt: skip
        wall, cpu = timed(fn, args.repeats)
        rows.append((label, n / wall / 1e6, n / cpu / 1e6))
    for label, w, c in rows:
        print(f"  {label}: {w:.0f} M weights/s per file (wall), {c:.0f} (CPU)")
    digest_wall, digest_cpu = timed(lambda: build_digest(pair), args.repeats)
    rate = n_file / digest_wall / 1e6
    print(
        f"whole digest of the open pair: {digest_wall:.1f} s wall ({rate:.0f} M weights/s per "
        f"file), {digest_cpu:.1f} s CPU"
    )

    tracemalloc.start()
    tensor_stats(pair, big_diff.name)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    size = big_diff.n_weights * 4 / 1e6
    print(
        f"peak memory allocated while reading {big_diff.name} ({big_diff.n_weights / 1e6:.0f} M "
        f"weights, {size:.0f} MB as float32): {peak / 1e6:.0f} MB"
    )

    for clock, col, opened in (("wall", 1, open_wall), ("CPU", 2, open_cpu)):
        rate_diff, rate_same = float(rows[1][col]) * 1e6, float(rows[3][col]) * 1e6
        worst = opened + GOAL_WEIGHTS / rate_diff
        gemma = opened + (GOAL_WEIGHTS - GEMMA_SAME_WEIGHTS) / rate_diff
        gemma += GEMMA_SAME_WEIGHTS / rate_same
        for label, seconds in (
            ("every weight stored differently (worst case)", worst),
            ("Gemma 4 E2B-like, 2.75 B embedding weights stored alike", gemma),
        ):
            verdict = "meets" if seconds < GOAL_SECONDS else "misses"
            print(
                f"scaled to 4.7 B weights per file ({clock} clock), {label}: {seconds:.0f} s, "
                f"{verdict} the {GOAL_SECONDS:.0f} s goal"
            )
    print("(figures are provisional when other processes share the CPU)")


if __name__ == "__main__":
    main()
