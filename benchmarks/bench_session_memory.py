"""How much memory one student's session holds in the shared process, after a long chat.

    .venv/bin/python benchmarks/bench_session_memory.py [--sessions 3] [--turns 40]
        [--reply-chars 60000] [--hostile-mb 40] [--ttl 3]

`streamlit run app.py` serves the real app against the Ollama-protocol test server
(tests/ollama_server.py, real HTTP on 127.0.0.1, in this process). A websocket client speaking
Streamlit's protocol (benchmarks/bench_chat.py's `StreamlitSession`) opens the chat page as a new
session and sends --turns prompts in a row to one model; every reply is --reply-chars characters
(above the default `[limits] reply_chars` of 50,000, so each is cut there, as the biggest a reply
can be). Then one more prompt whose reply would be --hostile-mb megabytes (issue 11: one 40 MB
reply grew the server by ~390 MB): the reply limit stops it after 50,000 characters.

The server's resident memory (VmRSS, /proc/<pid>/status) is read:
  before   the session opens (the baseline of that session);
  chat     after the last long reply;
  hostile  after the hostile reply;
  closed   after the websocket closed and Streamlit dropped the session: the benchmark runs the
           server with server.disconnectedSessionTTL = --ttl seconds (default 120 in production,
           where a closed tab's session is kept that long for a reconnect), waits past it, and
           opens and closes one empty session so the expired one is let go.
Sessions run one after the other; the report gives each session's growth over its baseline and
their median. RSS is what the container is charged for; CPython does not always hand freed memory
back to the system, so "closed" is an upper bound on what a closed session still costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_chat import StreamlitSession  # noqa: E402
from ollama_server import OllamaTestServer  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetStates  # noqa: E402
from streamlit_process import streamlit_process  # noqa: E402

MB = 1024 * 1024


def rss(pid: int) -> int:
    """Resident set size of `pid` in bytes, from /proc/<pid>/status (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def reply_tokens(chars: int, token: int = 2000) -> list[str]:
    """A reply of `chars` characters in tokens of about `token` characters (words, spaces)."""
    word = "quantized "
    text = (word * (chars // len(word) + 1))[:chars]
    return [text[i : i + token] for i in range(0, len(text), token)]


def send(session: StreamlitSession, prompt: str) -> None:
    states = WidgetStates()
    chat = states.widgets.add()
    chat.id = session.ids["input"]
    chat.chat_input_value.data = prompt
    session.rerun(states)
    session.until_finished(lambda *_: None)


def one_session(url: str, pid: int, turns: int) -> dict[str, int]:
    figures = {"before": rss(pid)}
    session = StreamlitSession(url)
    try:
        session.rerun()
        session.until_finished(lambda *_: None)
        for turn in range(turns):
            send(session, f"turn {turn}: a long story please")
        figures["chat"] = rss(pid)
        send(session, "now the hostile one")
        figures["hostile"] = rss(pid)
    finally:
        session.close()
    return figures


def let_go(url: str, ttl: float) -> None:
    """Wait past the disconnected-session TTL, then touch the session store with a new session."""
    time.sleep(ttl + 1.0)  # a measurement interval, not a wait for a condition
    probe = StreamlitSession(url)
    probe.rerun()
    probe.until_finished(lambda *_: None)
    probe.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--reply-chars", type=int, default=60_000)
    parser.add_argument("--hostile-mb", type=int, default=40)
    parser.add_argument("--ttl", type=float, default=3.0)
    args = parser.parse_args()

    with OllamaTestServer() as server:
        server.script("*", "long story", "".join(long := reply_tokens(args.reply_chars)), long)
        hostile = reply_tokens(args.hostile_mb * MB, token=64 * 1024)
        server.script("*", "hostile", "".join(hostile), hostile)
        env = {
            "OLLAMA_HOST": server.url,
            "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(int(args.ttl)),
        }
        with streamlit_process(env) as (url, pid):
            warm = StreamlitSession(url)  # the first session imports the app's modules
            warm.rerun()
            warm.until_finished(lambda *_: None)
            warm.close()
            let_go(url, args.ttl)
            rows = []
            for _ in range(args.sessions):
                figures = one_session(url, pid, args.turns)
                let_go(url, args.ttl)
                figures["closed"] = rss(pid)
                rows.append(figures)
            chats = len(server.requests_to("/api/chat"))

    print(
        f"{args.sessions} sessions one after the other, each {args.turns} replies of "
        f"{args.reply_chars:,} characters (cut at the reply limit) and one of {args.hostile_mb} MB"
    )
    print(f"({chats} chat requests served). Server RSS growth over each session's baseline, MB:")
    print(f"{'session':>8} {'baseline':>9} {'chat':>8} {'+hostile':>9} {'closed':>8}")
    for i, r in enumerate(rows, 1):
        base = r["before"]
        print(
            f"{i:>8} {base / MB:9.1f} {(r['chat'] - base) / MB:8.1f} "
            f"{(r['hostile'] - base) / MB:9.1f} {(r['closed'] - base) / MB:8.1f}"
        )

    def med(key: str) -> float:
        return statistics.median((r[key] - r["before"]) / MB for r in rows)

    print(
        f"{'median':>8} {'':9} {med('chat'):8.1f} {med('hostile'):9.1f} {med('closed'):8.1f}"
        "   (median of the sessions' growths)"
    )


if __name__ == "__main__":
    main()
