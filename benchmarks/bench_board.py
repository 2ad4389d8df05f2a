"""Class board under a class's load: submissions per second and latency, SQLite and PostgreSQL.

    .venv/bin/python benchmarks/bench_board.py [--students 100] [--repeats 3] [--window 0]

Each repeat starts from an empty database and has --students sessions submit once each, every
one from its own thread through `BoardStore.submit` (the app's path, JSON and scrub included)
with a report of about 20 KB (three records and a long note, like a report with chats):

- --window 0 (default): all at once behind a barrier, the worst burst (everyone clicks Submit
  on the instructor's "now");
- --window S: Poisson arrivals spread over S seconds (S=60 is "within one minute").

It prints, per engine, the medians over the repeats of: submissions/s (students / wall time from
the first start to the last commit), latency p50 and p95 (per call, ms) and how many rows
arrived (must equal --students: nothing lost). SQLite is a file in a temp dir with the app's
settings (WAL, BEGIN IMMEDIATE, busy timeout, retries); PostgreSQL is a throwaway cluster with
fsync on (tests/pg_cluster.py, durable=True), skipped when its binaries are missing. On a shared
machine the figures move with the load: quote them as measured under load.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from board_reports import report
from pg_cluster import postgres_bin, postgres_cluster

from quantviz.board.store import BoardStore

CODE = "QV-BENCH"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run_once(url: str, students: int, window: float, seed: int) -> tuple[float, float, float, int]:
    """(submissions/s, p50 ms, p95 ms, rows stored) for one class on a fresh database."""
    engine = sa.create_engine(url, pool_size=10, max_overflow=students)
    store = BoardStore(engine)
    store.ready(CODE)
    payload = report(note="x" * 20_000)
    rng = random.Random(seed)
    offsets = sorted(rng.uniform(0, window) for _ in range(students)) if window else None
    barrier = threading.Barrier(students + 1)
    latencies: list[float] = []
    failures: list[BaseException] = []
    done_at: list[float] = []
    lock = threading.Lock()

    def student(i: int, start: list[float]) -> None:
        barrier.wait()
        if offsets is not None:
            delay = start[0] + offsets[i] - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # the arrival schedule, not a wait for a condition
        t0 = time.perf_counter()
        try:
            store.submit(CODE, f"Student {i:03d}", "reason", f"bench-token-{i:06d}-x", payload)
        except BaseException as exc:
            with lock:
                failures.append(exc)
            return
        t1 = time.perf_counter()
        with lock:
            latencies.append(t1 - t0)
            done_at.append(t1)

    start: list[float] = [0.0]
    threads = [threading.Thread(target=student, args=(i, start)) for i in range(students)]
    for t in threads:
        t.start()
    start[0] = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    stored = len(store.submissions(CODE))
    engine.dispose()
    if failures:
        print(f"  {len(failures)} submissions failed, first: {failures[0]!r}")
    wall = (max(done_at) - start[0]) if done_at else float("inf")
    return (
        len(latencies) / wall,
        1000 * statistics.median(latencies),
        1000 * _percentile(latencies, 0.95),
        stored,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--window", type=float, default=0.0, help="arrival window in s; 0=burst")
    args = parser.parse_args()
    arrivals = f"Poisson over {args.window:g} s" if args.window else "all at once"
    print(f"{args.students} students, {arrivals}, {args.repeats} repeats, medians:")
    print(f"{'engine':<12} {'subm/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'stored':>8}")
    with ExitStack() as stack:
        engines: list[tuple[str, object]] = [("sqlite", None)]
        if postgres_bin() is not None:
            engines.append(("postgresql", stack.enter_context(postgres_cluster(durable=True))))
        else:
            print("postgresql: skipped (no /usr/lib/postgresql/*/bin)")
        for name, server in engines:
            rows = []
            for repeat in range(args.repeats):
                if name == "sqlite":
                    folder = stack.enter_context(tempfile.TemporaryDirectory())
                    url = f"sqlite:///{folder}/board.db"
                else:
                    admin = sa.create_engine(str(server), isolation_level="AUTOCOMMIT")
                    with admin.connect() as conn:
                        conn.exec_driver_sql(f"CREATE DATABASE bench_{repeat}")
                    admin.dispose()
                    url = str(server).rsplit("/", 1)[0] + f"/bench_{repeat}"
                rows.append(run_once(url, args.students, args.window, seed=repeat))
            rate, p50, p95, stored = (statistics.median(col) for col in zip(*rows, strict=True))
            lost = "" if all(r[3] == args.students for r in rows) else "  LOST ROWS"
            print(f"{name:<12} {rate:>8.1f} {p50:>8.1f} {p95:>8.1f} {stored:>8.0f}{lost}")


if __name__ == "__main__":
    main()
