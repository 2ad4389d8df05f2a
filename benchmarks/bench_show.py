"""What the verbose retry of /api/show costs for Gemma 4 E2B: time, bytes and peak memory.

    .venv/bin/python benchmarks/bench_show.py [--repeats 5]

The Ollama-protocol test server (tests/ollama_server.py) runs in a subprocess (so tracemalloc
sees the client alone) and answers like a real Ollama for Gemma 4 E2B: a non-verbose answer
leaves every array out (null), a verbose one carries the 262,144-token vocabulary and 514,906
merges. For each repeat, after one warm-up:

1. `show(tag)`: one non-verbose request (what a widget needing no array pays);
2. `show(tag, needs=WIDGET_ARRAYS)`: the non-verbose request, then the verbose retry the
   widgets trigger because the sliding-window pattern and the FFN widths came back null; the
   arrays over 1024 items are dropped after parsing.

Reported: median wall time of each, the verbose body's size, and the peak Python memory
(tracemalloc) during one `show(needs=...)` against what is still allocated once it returned and a
GC ran (what the result holds). Server and client share this machine, so times
include the server's JSON work; figures taken under load are provisional.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
from ollama_server import Q4_TAG  # noqa: E402
from streamlit_process import free_port  # noqa: E402

from quantviz.ollama.client import Endpoint, check_connection, show  # noqa: E402
from quantviz.ollama.errors import OllamaError  # noqa: E402
from quantviz.ui.ollama_common import WIDGET_ARRAYS  # noqa: E402


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up: the server builds its array JSON once
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/ollama_server.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        ep = Endpoint(url)
        deadline = time.monotonic() + 30
        while True:
            try:
                check_connection(ep)
                break
            except OllamaError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        plain = _median_ms(lambda: show(ep, Q4_TAG), args.repeats)
        retried = _median_ms(lambda: show(ep, Q4_TAG, needs=WIDGET_ARRAYS), args.repeats)
        body = httpx.post(f"{url}/api/show", json={"model": Q4_TAG, "verbose": True}, timeout=60)
        tracemalloc.start()
        meta = show(ep, Q4_TAG, needs=WIDGET_ARRAYS)
        gc.collect()  # what is left is what the result holds, not garbage awaiting the GC
        kept, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        server.terminate()
        server.wait(10)
    print(f"show, non-verbose:               median {plain:7.1f} ms over {args.repeats}")
    print(f"show(needs=...), verbose retry:  median {retried:7.1f} ms over {args.repeats}")
    print(f"verbose /api/show body:          {len(body.content) / 1e6:7.1f} MB")
    print(f"peak Python memory during retry: {peak / 1e6:7.1f} MB (tracemalloc)")
    print(f"held by the result (after GC):   {kept / 1e6:7.1f} MB; arrays dropped: "
          f"{', '.join(f'{k} ({n:,})' for k, n in meta.array_lengths.items())}")  # fmt: skip


if __name__ == "__main__":
    main()
