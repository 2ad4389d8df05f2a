"""Cold start: a class opening the link right after the app (re)starts, server on one core.

Per repetition, on fresh `streamlit run` processes pinned with `taskset -c 0` (the clients run
on another core when there is one):

1. process spawn until `/_stcore/health` first answers "ok" (polled every 10 ms);
2. on that server, one session opening the page: rerun request until its `script_finished`
   (and, for the whole picture, process spawn until then), and the server CPU time (utime +
   stime from /proc) that page cost: wall times swing with other load on a shared machine, CPU
   time much less, so compare checkouts on it;
3. on another fresh server, a burst of N sessions (default 100) opening the page at the same
   instant: every session connects and sends its request as soon as its socket is open, like a
   browser; the time of each is burst start until its `script_finished`. A page is complete when
   its run finished successfully with no exception, no widget-failure notice and, for
   Objective 1, its 4 plotly charts (one per explorer, counted on the page in Chromium). The
   server CPU the whole burst cost is printed too: with the core to itself the last page cannot
   finish much sooner than that, so it shows what p95 would be on a quiet machine.

It prints each repetition and then medians over the repetitions. Goal (issue 17): burst p95
<= 5 s on one core, every page complete. `--app` runs another checkout's app.py (e.g. an
unpacked older commit) with this client, to compare before and after.

    .venv/bin/python benchmarks/bench_coldstart.py [--repeat 5] [--sessions 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from streamlit_process import ROOT, streamlit_server
from streamlit_ws import StreamlitSession, Visit, burst
from streamlit_ws import run as run_async

TICKS = os.sysconf("SC_CLK_TCK")
OBJECTIVE_1 = "lab2-objective1"
OBJECTIVE_1_CHARTS = 4  # single-weight line, grid heatmaps, GGUF shared scales, GGUF errors


def complete(visit: Visit, page: str) -> bool:
    if visit.problems or visit.result is None:
        return False
    return page != OBJECTIVE_1 or visit.result.count("plotly_chart") == OBJECTIVE_1_CHARTS


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least q% of values at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


async def one_page(url: str, page: str) -> tuple[float, float, bool]:
    """(request -> finished seconds, finished monotonic time, complete) for one session."""
    async with StreamlitSession(url) as session:
        result = await session.open(page)
    visit = Visit(page, result.sent_at, result=result)
    return result.finished_at - result.sent_at, result.finished_at, complete(visit, page)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far, from /proc (what it cost, whatever else ran)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run_once(app: Path, page: str, sessions: int, cpus: str | None) -> dict[str, float]:
    with streamlit_server(app=app, cpus=cpus, poll=0.01) as server:
        health = server.healthy_at - server.started_at
        cpu_before = cpu_seconds(server.pid)
        first, finished_at, first_ok = run_async(one_page(server.url, page))
        first_cpu = cpu_seconds(server.pid) - cpu_before
        from_start = finished_at - server.started_at
    row = {
        "health s": health,
        "first page s": first,
        "first page CPU s": first_cpu,
        "spawn->first page s": from_start,
        "first complete": float(first_ok),
    }
    if not sessions:
        return row
    with streamlit_server(app=app, cpus=cpus, poll=0.01) as server:
        cpu_before = cpu_seconds(server.pid)
        visits = run_async(burst(server.url, [page] * sessions))
        burst_cpu = cpu_seconds(server.pid) - cpu_before
    times = [v.seconds for v in visits]
    done = sum(complete(v, page) for v in visits)
    problems = sorted({p for v in visits for p in v.problems})
    if problems:
        print(f"    burst problems: {problems[:3]}")
    return {
        **row,
        "burst p50 s": percentile(times, 50),
        "burst p95 s": percentile(times, 95),
        "burst max s": max(times),
        "burst complete": done / sessions,
        "burst server CPU s": burst_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh servers per measurement")
    parser.add_argument("--sessions", type=int, default=100, help="per burst; 0: no burst")
    parser.add_argument("--page", default=OBJECTIVE_1)
    parser.add_argument(
        "--app",
        type=Path,
        action="append",
        help="app.py to run (default: this checkout's); repeat it to compare checkouts, which "
        "then take turns within every repetition so they share the same machine load",
    )
    args = parser.parse_args()
    apps = [a.resolve() for a in args.app or [ROOT / "app.py"]]

    cpus = None
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        cpus = "0"
        os.sched_setaffinity(0, set(os.sched_getaffinity(0)) - {0})  # clients off core 0
    print(
        f"apps {', '.join(map(str, apps))}; page {args.page}; "
        f"server pinned to CPU {cpus or '(not pinned)'}, "
        f"clients on {sorted(os.sched_getaffinity(0)) if cpus else 'the same CPUs'}; "
        f"{args.sessions} sessions per burst; {args.repeat} repetitions, fresh servers each"
    )
    rows: dict[Path, list[dict[str, float]]] = {app: [] for app in apps}
    for i in range(args.repeat):
        for app in apps:
            row = run_once(app, args.page, args.sessions, cpus)
            rows[app].append(row)
            where = f" {app}" if len(apps) > 1 else ""
            print(f"  run {i + 1}{where}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
    for app, app_rows in rows.items():
        print(f"median over {len(app_rows)} repetitions, {app}:")
        for key in app_rows[0]:
            print(f"  {key:<22} {statistics.median(r[key] for r in app_rows):8.2f}")
    print(
        "Times: health = spawn until /_stcore/health says ok; first page = rerun request until "
        "script_finished for one session on a fresh server; burst = common start until each "
        "session's script_finished (connect included). 'complete' = fraction of complete pages."
    )


if __name__ == "__main__":
    main()
