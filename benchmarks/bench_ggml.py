"""Throughput of quantviz.quant.ggml in M weights/s, with gguf-py's numpy Q8_0 as the yardstick.

Run pinned to one core, as the goals are stated per core:

    taskset -c 0 .venv/bin/python benchmarks/bench_ggml.py [--repeats 7]

Goals (issue 5): Q4_K quantize >= 3 M weights/s and Q6_K >= 8 M weights/s. llama.cpp's C
reference does about 14 and 24 on such a core. The yardstick row shows how fast this machine
runs plain numpy at the moment, so figures from different runs can be compared. On a shared
machine the wall-clock figures swing with the load; the CPU-time column counts only this
process's own time and swings less.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from gguf import GGMLQuantizationType
from gguf import quants as gguf_quants

from quantviz.quant import ggml

SHAPE = (512, 2048)
GOALS = {"Q4_K": 3.0, "Q6_K": 8.0}  # quantize, M weights/s on one core


def median_rates(fn: Callable[[], object], n_weights: int, repeats: int) -> tuple[float, float]:
    """M weights per second over `repeats` calls (after one warm-up): (wall, CPU time) medians."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return n_weights / statistics.median(wall) / 1e6, n_weights / statistics.median(cpu) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per figure")
    args = parser.parse_args()

    x = np.random.default_rng(0).normal(0, 0.02, SHAPE).astype(np.float32)
    n = x.size
    yardstick = median_rates(
        lambda: gguf_quants.quantize(x, GGMLQuantizationType.Q8_0), n, args.repeats
    )
    rows: list[tuple[str, float, float, float | None]] = [
        ("gguf Q8_0 (yardstick)", *yardstick, None)
    ]
    for name in ggml.FORMATS:
        data = ggml.quantize(x, name)
        q_wall, q_cpu = median_rates(partial(ggml.quantize, x, name), n, args.repeats)
        d_wall, _ = median_rates(partial(ggml.dequantize, data, name), n, args.repeats)
        rows.append((name, q_wall, q_cpu, d_wall))

    print(f"{SHAPE[0]}x{SHAPE[1]} float32 N(0, 0.02), median of {args.repeats}, M weights/s")
    print(f"{'type':<22} {'quantize':>9} {'(cpu)':>8} {'dequantize':>11}  goal")
    for name, q_wall, q_cpu, deq in rows:
        goal = GOALS.get(name)
        verdict = "" if goal is None else f">= {goal:g} {'ok' if q_wall >= goal else 'MISSED'}"
        d_text = "" if deq is None else f"{deq:11.1f}"
        print(f"{name:<22} {q_wall:9.2f} {q_cpu:8.2f} {d_text:>11}  {verdict}")


if __name__ == "__main__":
    main()
