"""Explorer load: many students using the explorer controls that still round-trip, server on
one core, with Streamlit's websocket protocol (tests/streamlit_ws.py).

For each session count (default 30, 60 and 100) on a fresh `streamlit run` pinned with
`taskset -c 0` (this client runs on the other cores):

1. every session opens Lab 2 Objective 1 (ten at a time) and the page is checked complete;
2. for `--seconds`, each session interacts at Poisson arrivals, one per second on average
   (exponential gaps, seeded): each arrival changes one of the explorer controls that rerun
   the explorers' fragment, picked at random (`--controls` narrows the choice): the
   single-weight explorer's weight w or its layer max|w|, or the grid explorer's seed (a new
   layer: all seven widths recomputed). The bits sliders are the figures' own and send
   nothing, so they are not part of this load;
3. it prints p50 / p95 / max interaction latency and the server CPU per interaction (utime +
   stime of the server from /proc over the window, divided by the interactions finished).

Latency is from the arrival (when the student acts) until the fragment rerun's
`script_finished` arrives: if a session's previous interaction is still running when its next
arrival comes, the wait counts, as the student would feel it. A run that does not finish
`FINISHED_FRAGMENT_RUN_SUCCESSFULLY`, or shows an exception, is counted as failed.

Goal (issue 13): 100 sessions at one interaction per second each, p95 <= 150 ms on one core.

    .venv/bin/python benchmarks/bench_load.py [--sessions 30 60 100] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from streamlit_process import streamlit_server
from streamlit_ws import StreamlitSession
from streamlit_ws import run as run_async

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = "lab2-objective1"
CHARTS = 4  # plotly charts on a complete Objective 1 page
WEIGHT = "lab2-objective1-quantization-explorer-0"
GRID = "lab2-objective1-quantization-grid-explorer-0"
OPEN_AT_ONCE = 10


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


CONTROLS = ("w", "max", "seed")


def interaction(rng: random.Random, controls: tuple[str, ...]) -> tuple[str, dict]:
    """One student action on a control that reruns an explorer's fragment."""
    kind = rng.choice(controls)
    if kind == "w":
        return f"{WEIGHT}-w", {"double_value": round(rng.uniform(-0.9, 0.9), 6)}
    if kind == "max":
        return f"{WEIGHT}-max", {"double_value": round(rng.uniform(0.2, 2.0), 6)}
    return f"{GRID}-seed", {"int_value": rng.randrange(10_000)}


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(1, -(-len(ordered) * int(q) // 100)) - 1]


async def one_count(
    url: str, pid: int, sessions: int, seconds: float, seed: int, controls: tuple[str, ...]
) -> dict:
    opened: list[StreamlitSession] = []
    gate = asyncio.Semaphore(OPEN_AT_ONCE)
    incomplete = 0

    async def open_one() -> None:
        nonlocal incomplete
        async with gate:
            session = StreamlitSession(url)
            await session.connect()
            run = await session.open(PAGE)
            if not run.finished or run.exceptions or run.count("plotly_chart") != CHARTS:
                incomplete += 1
            opened.append(session)

    await asyncio.gather(*(open_one() for _ in range(sessions)))
    latencies: list[float] = []
    failed = 0
    start = time.monotonic() + 0.5
    end = start + seconds

    async def student(session: StreamlitSession, rng: random.Random) -> None:
        nonlocal failed
        arrival = start + rng.expovariate(1.0)
        while arrival < end:
            await asyncio.sleep(max(0.0, arrival - time.monotonic()))
            key, value = interaction(rng, controls)
            run = await session.set_widget(key, **value)
            if run.status != "FINISHED_FRAGMENT_RUN_SUCCESSFULLY" or run.exceptions:
                failed += 1
            else:
                latencies.append(run.finished_at - arrival)
            arrival += rng.expovariate(1.0)

    cpu0 = cpu_seconds(pid)
    t0 = time.monotonic()
    await asyncio.gather(
        *(student(s, random.Random(seed * 1000 + i)) for i, s in enumerate(opened))
    )
    wall = time.monotonic() - t0
    cpu = cpu_seconds(pid) - cpu0
    for session in opened:
        await session.close()
    done = len(latencies)
    return {
        "sessions": sessions,
        "interactions": done,
        "per s": done / wall,
        "failed": failed,
        "incomplete pages": incomplete,
        "p50 ms": percentile(latencies, 50) * 1000 if done else float("nan"),
        "p95 ms": percentile(latencies, 95) * 1000 if done else float("nan"),
        "max ms": max(latencies) * 1000 if done else float("nan"),
        "CPU ms/interaction": cpu * 1000 / done if done else float("nan"),
        "server CPU busy": cpu / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[30, 60, 100])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per count")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--controls",
        nargs="+",
        choices=CONTROLS,
        default=list(CONTROLS),
        help="which controls the students use (default: all three, equally often)",
    )
    args = parser.parse_args()
    cpus = None
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        cpus = "0"
        os.sched_setaffinity(0, set(os.sched_getaffinity(0)) - {0})  # the client off core 0
    print(
        f"server pinned to CPU {cpus or '(not pinned: one core only)'}; client on "
        f"{sorted(os.sched_getaffinity(0))}; Poisson arrivals, 1 per second per session; "
        f"{args.seconds:.0f} s per session count; controls {', '.join(args.controls)}; "
        "latency = arrival -> script_finished"
    )
    header = None
    for sessions in args.sessions:
        with streamlit_server(cpus=cpus) as server:
            row = run_async(
                one_count(
                    server.url, server.pid, sessions, args.seconds, args.seed, tuple(args.controls)
                )
            )
        if header is None:
            header = list(row)
            print("  ".join(f"{k:>10}" for k in header))
        print(
            "  ".join(
                f"{row[k]:>10.1f}" if isinstance(row[k], float) else f"{row[k]:>10}" for k in header
            )
        )


if __name__ == "__main__":
    main()
