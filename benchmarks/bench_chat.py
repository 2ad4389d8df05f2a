"""What the compare chat's streaming path adds over the raw `ollama` client, and side by side.

    .venv/bin/python benchmarks/bench_chat.py [--repeats 7] [--tokens 500] [--no-e2e]

The Ollama-protocol test server (tests/ollama_server.py) runs in this process, real HTTP on
127.0.0.1, and streams a scripted reply of --tokens tokens, --token-delay seconds apart.

1. raw: `ollama.Client.chat(stream=True)`, the client built before the clock starts;
2. app path: `ReplyRun(...).display_updates()`, the generator the widget draws from (a client
   per request, reader thread, queue, and each update the whole reply so far rendered inert by
   `quantviz.text.model_markdown`).
   Raw and app runs alternate and the report gives the median of the paired differences, so
   load from other processes on the machine hits both sides alike;
3. end to end (unless --no-e2e): `streamlit run app.py` and a websocket client speaking
   Streamlit's protocol. Each repeat opens the chat page in a new session, submits the prompt
   through the chat input's widget state, and times when the chat request reaches the test
   server (its own timestamp, same clock) and when the deltas carrying the first and the last
   token arrive; also the Streamlit process's CPU time for the whole rerun (/proc/<pid>/stat);
4. side by side: `start_runs` + `pump` (the widget's path) for both tags on a parallel server,
   against the slower of the two single replies of the same repeat; and the same end to end.

TTFT runs from the call (end to end: from the submit) to the first reply text; per token is
first-to-last text time over (tokens - 1). Medians after one warm-up. Goals (issue 4): at most
20 ms added to the first token, at most 0.2 ms per token, side by side at most 1.2x the slower
single reply.

End to end, about 40 ms of the first-token time is Nagle's algorithm on Streamlit's websocket
(uvicorn's listening socket has proto 0, so asyncio's `_set_nodelay` skips TCP_NODELAY) meeting
the client's delayed ACK: the page's deltas wait for the ACK of `new_session`. A client that
sets TCP_QUICKACK receives them ~35 ms sooner. It is not the chat's doing and hits every rerun.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import ollama  # noqa: E402
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer  # noqa: E402

from quantviz.chat.runs import ReplyRun, pump, start_runs  # noqa: E402
from quantviz.ollama.client import Endpoint  # noqa: E402

PAGE = "lab2-objective5"
PROMPT = "Benchmark: tell me a long story."
OPTIONS = {"temperature": 0.0, "seed": 42, "num_predict": 1024}
TAGS = (("Q4", Q4_TAG), ("Q6", Q6_TAG))
GOAL_TTFT_MS = 20.0
GOAL_PER_TOKEN_MS = 0.2
GOAL_SIDE_BY_SIDE = 1.2


@dataclass(frozen=True)
class Stream:
    """One reply: seconds to the first text, per token after it, to the last text; CPU s."""

    ttft: float
    per_token: float
    total: float
    cpu: float


def reply_tokens(n: int) -> list[str]:
    return [f"t{i} " for i in range(n - 1)] + [f"t{n - 1}."]


def _stream(t0: float, cpu0: float, first: float | None, last: float | None, n: int) -> Stream:
    assert first is not None and last is not None
    return Stream(first - t0, (last - first) / max(n - 1, 1), last - t0, time.process_time() - cpu0)


def raw_stream(url: str, tag: str, n_tokens: int) -> Stream:
    client = ollama.Client(host=url)
    cpu0, t0 = time.process_time(), time.perf_counter()
    first = last = None
    for part in client.chat(
        tag, messages=[{"role": "user", "content": PROMPT}], stream=True, options=OPTIONS
    ):
        if part.message.content:
            last = time.perf_counter()
            first = first or last
    client.close()
    return _stream(t0, cpu0, first, last, n_tokens)


def app_stream(endpoint: Endpoint, tag: str, n_tokens: int) -> Stream:
    cpu0, t0 = time.process_time(), time.perf_counter()
    run = ReplyRun(endpoint, tag, [{"role": "user", "content": PROMPT}], options=OPTIONS)
    first = last = None
    for _shown in run.display_updates():
        last = time.perf_counter()
        first = first or last
    assert run.error is None, run.error
    assert run.metrics is not None and run.metrics.output_tokens == n_tokens
    return _stream(t0, cpu0, first, last, n_tokens)


def side_by_side(endpoint: Endpoint) -> float:
    t0 = time.perf_counter()
    runs = start_runs(
        endpoint,
        [(label, tag, [{"role": "user", "content": PROMPT}]) for label, tag in TAGS],
        options=OPTIONS,
    )
    for _changed in pump(runs):
        pass
    assert all(r.error is None for r in runs)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- end to end


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _streamlit_pid(port: int) -> int | None:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(cmd) and str(port).encode() in cmd:
            return int(proc.name)
    return None


@dataclass(frozen=True)
class EndToEnd:
    to_server: float  # prompt submitted -> its chat request reaches the Ollama server
    ttft: float  # prompt submitted -> first token drawn
    per_token: float
    total: float  # prompt submitted -> last token drawn (both columns, side by side)
    server_cpu: float  # the Streamlit process, whole rerun


class StreamlitSession:
    """A websocket client speaking Streamlit's protocol to one new session of the app."""

    def __init__(self, base_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(
            base_url.replace("http", "ws", 1) + "/_stcore/stream",
            subprotocols=["streamlit"],  # type: ignore[list-item]
            max_size=None,
        )
        self.ids: dict[str, str] = {}

    def close(self) -> None:
        self.ws.close()

    def rerun(self, widget_states: object | None = None) -> float:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.util import calc_hash

        msg = BackMsg()
        msg.rerun_script.page_script_hash = calc_hash(PAGE)
        if widget_states is not None:
            msg.rerun_script.widget_states.CopyFrom(widget_states)
        sent = time.monotonic()  # the clock the test server stamps requests with
        self.ws.send(msg.SerializeToString())
        return sent

    def until_finished(self, on_text: Callable[[str, tuple[int, ...], float], None]) -> None:
        """Read ForwardMsgs until the run ends; note widget ids; hand markdown to on_text."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        while True:
            raw = self.ws.recv(timeout=120)
            now = time.monotonic()
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "script_finished":
                return
            if kind != "delta" or msg.delta.WhichOneof("type") != "new_element":
                continue
            element = msg.delta.new_element
            which = element.WhichOneof("type")
            if which in ("chat_input", "radio"):
                widget_id = getattr(element, which).id
                self.ids[widget_id.rsplit("-chat-0-", 1)[-1]] = widget_id
            elif which == "markdown":
                on_text(element.markdown.body, tuple(msg.metadata.delta_path), now)


def e2e_stream(
    server: OllamaTestServer, base_url: str, pid: int | None, n_tokens: int, side: bool = False
) -> EndToEnd:
    """One new session: open the chat page, submit the prompt, time what the browser gets."""
    from streamlit.proto.WidgetStates_pb2 import WidgetStates

    session = StreamlitSession(base_url)
    try:
        session.rerun()
        session.until_finished(lambda *_: None)
        states = WidgetStates()
        if side:
            mode = states.widgets.add()
            mode.id = session.ids["mode"]
            mode.string_value = "Side by side"  # radios send the option's label
        chat = states.widgets.add()
        chat.id = session.ids["input"]
        chat.chat_input_value.data = PROMPT
        first_mark, last_mark = "t0", f"t{n_tokens - 1}."  # as model_markdown shows them
        first: list[float] = []
        last_by_path: dict[tuple[int, ...], float] = {}
        before = len(server.requests_to("/api/chat"))

        def on_text(body: str, path: tuple[int, ...], at: float) -> None:
            if body.startswith(first_mark):
                first.append(at)
            if last_mark in body:
                last_by_path.setdefault(path, at)

        cpu0 = _cpu_seconds(pid) if pid else 0.0
        sent = session.rerun(states)
        session.until_finished(on_text)
        cpu = (_cpu_seconds(pid) - cpu0) if pid else float("nan")
        # The first time each streamed body showed the last token; side by side, the later of
        # the two columns (the final redraws come after both).
        ends = sorted(last_by_path.values())
        done = ends[1] if side else ends[0]
        arrived = min(r.received for r in server.requests_to("/api/chat")[before:])
        return EndToEnd(
            to_server=arrived - sent,
            ttft=min(first) - sent,
            per_token=(ends[0] - min(first)) / max(n_tokens - 1, 1),
            total=done - sent,
            server_cpu=cpu,
        )
    finally:
        session.close()


# --------------------------------------------------------------------------- report


def med(values: list[float]) -> float:
    return statistics.median(values)


def ok(value: float, goal: float) -> str:
    return "ok" if value <= goal else "OVER"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--token-delay", type=float, default=0.002, help="seconds")
    parser.add_argument("--no-e2e", action="store_true", help="skip the streamlit run part")
    args = parser.parse_args()
    n, repeats = args.tokens, args.repeats

    with OllamaTestServer(token_delay=args.token_delay) as server:
        tokens = reply_tokens(n)
        server.script("*", "Benchmark", "".join(tokens), tokens=tokens)
        endpoint = Endpoint(server.url)
        print(
            f"{n}-token reply, {args.token_delay * 1000:g} ms between tokens, "
            f"medians of {repeats} repeats after a warm-up\n"
        )

        # 1-2: raw client and the app's streaming path, alternating.
        raw_stream(server.url, Q4_TAG, n)
        app_stream(endpoint, Q4_TAG, n)
        raw, app = [], []
        for i in range(repeats):
            pair = [
                lambda: raw_stream(server.url, Q4_TAG, n),
                lambda: app_stream(endpoint, Q4_TAG, n),
            ]
            first, second = (
                (pair[0](), pair[1]()) if i % 2 == 0 else tuple(reversed((pair[1](), pair[0]())))
            )
            raw.append(first)
            app.append(second)
        print(f"{'':34} {'TTFT ms':>8} {'per token ms':>13} {'total ms':>9} {'CPU ms':>8}")
        for name, runs in (("raw ollama client", raw), ("app path (display_updates)", app)):
            print(
                f"{name:34} {med([r.ttft for r in runs]) * 1e3:8.2f} "
                f"{med([r.per_token for r in runs]) * 1e3:13.3f} "
                f"{med([r.total for r in runs]) * 1e3:9.1f} {med([r.cpu for r in runs]) * 1e3:8.1f}"
            )
        d_ttft = med([a.ttft - r.ttft for a, r in zip(app, raw, strict=True)]) * 1e3
        d_tok = med([a.per_token - r.per_token for a, r in zip(app, raw, strict=True)]) * 1e3
        d_cpu = med([(a.cpu - r.cpu) / n for a, r in zip(app, raw, strict=True)]) * 1e3
        print(
            f"\napp path adds (median of paired differences): {d_ttft:.2f} ms to the first "
            f"token (goal <= {GOAL_TTFT_MS:g}: {ok(d_ttft, GOAL_TTFT_MS)}), {d_tok:.3f} ms per "
            f"token (goal <= {GOAL_PER_TOKEN_MS:g}: {ok(d_tok, GOAL_PER_TOKEN_MS)}); "
            f"{d_cpu:.3f} ms CPU per token"
        )

        # 4: side by side on the widget's path, against the slower single of the same repeat.
        side_by_side(endpoint)
        ratios, both_ms = [], []
        for _ in range(repeats):
            slower = max(app_stream(endpoint, tag, n).total for _, tag in TAGS)
            both = side_by_side(endpoint)
            ratios.append(both / slower)
            both_ms.append(both * 1e3)
        ratio = med(ratios)
        print(
            f"side by side (app path): {med(both_ms):.0f} ms, {ratio:.2f}x the slower single "
            f"reply (goal <= {GOAL_SIDE_BY_SIDE:g}x: {ok(ratio, GOAL_SIDE_BY_SIDE)})"
        )

        if args.no_e2e:
            return
        from streamlit_process import streamlit_app

        with streamlit_app(env={"OLLAMA_HOST": server.url}) as url:
            pid = _streamlit_pid(int(url.rsplit(":", 1)[1]))
            e2e_stream(server, url, pid, n)  # warms the page and the server's imports
            e2e_stream(server, url, pid, n, side=True)
            single = [e2e_stream(server, url, pid, n) for _ in range(repeats)]
            sides = [e2e_stream(server, url, pid, n, side=True) for _ in range(repeats)]
        raw_ttft = med([r.ttft for r in raw])
        raw_tok = med([r.per_token for r in raw])
        e_ttft = med([e.ttft for e in single])
        e_tok = med([e.per_token for e in single])
        to_server_ms = med([e.to_server for e in single]) * 1e3
        cpu_ms = med([e.server_cpu for e in single]) * 1e3
        print(
            "\nend to end (streamlit run + websocket, new session per repeat):\n"
            f"  prompt submitted -> request at the server      {to_server_ms:7.1f} ms "
            "(Streamlit's rerun, the page, the widget)\n"
            f"  prompt submitted -> first token on the page    {e_ttft * 1e3:7.1f} ms "
            f"({(e_ttft - raw_ttft) * 1e3:+.1f} ms vs raw)\n"
            f"  per token on the page                          {e_tok * 1e3:7.3f} ms "
            f"({(e_tok - raw_tok) * 1e3:+.3f} ms vs raw)\n"
            f"  Streamlit process CPU for the whole rerun      {cpu_ms:7.0f} ms "
            f"({cpu_ms / n:.3f} ms per token)"
        )
        side_ratio = med([s.total for s in sides]) / med([e.total for e in single])
        print(
            f"  side by side {med([s.total for s in sides]) * 1e3:.0f} ms vs one model "
            f"{med([e.total for e in single]) * 1e3:.0f} ms: {side_ratio:.2f}x "
            f"(goal <= {GOAL_SIDE_BY_SIDE:g}x: {ok(side_ratio, GOAL_SIDE_BY_SIDE)}); "
            f"Streamlit CPU {med([s.server_cpu for s in sides]) * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    main()
