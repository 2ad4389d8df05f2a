"""A client that speaks Streamlit's browser protocol over `/_stcore/stream`, for load tests.

One asyncio process can drive a hundred sessions, which a hundred Chromium tabs could not. It
does what the browser frontend does (streamlit/streamlit `frontend/app/src/App.tsx`,
`sendRerunBackMsg`; `frontend/app/src/app/connection/WebsocketConnection.tsx`), with the
protobufs shipped in the installed streamlit:

- open the websocket with the `streamlit` subprotocol (the frontend's second and third entries,
  an XSRF token and a session id to resume, are optional and only matter for auth cookies and
  reconnects: `streamlit/web/server/starlette/starlette_websocket.py`);
- send a `rerun_script` BackMsg. For a deep link the browser does not know the page's script
  hash yet, so it sends `page_name` (the URL path, e.g. `lab2-objective1`) and the query
  string; later reruns name the `page_script_hash` the server announced in `new_session`;
- read ForwardMsgs until `script_finished`: `new_session`, `navigation`, `page_not_found`,
  `delta` (`new_element` / `add_block` at `metadata.delta_path`) ...;
- a widget change is another `rerun_script` carrying `widget_states` (and the widget's
  `fragment_id` when it lives in an `st.fragment`, which reruns only that fragment).

No `cached_message_hashes` are sent, so the server never answers with `ref_hash` references
(`streamlit/runtime/forward_msg_cache.py`): every element arrives in full.

    async with StreamlitSession(url) as s:
        run = await s.open("lab2-objective1")
        assert not run.exceptions and run.count("plotly_chart") == 7
        run = await s.set_widget("bits", double_array_value=[4])

`burst(url, pages)` opens many sessions at the same instant and times each one. For a load
benchmark (issue 13), open the page once per session, then `await session.set_widget(...)` at
each arrival time (one coroutine per session, all in one event loop); `RunResult.sent_at`,
`last_delta_at` and `finished_at` (time.monotonic()) give the round trip of every move.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

# The registry's notice for a widget that raised (quantviz.ui.registry.render_widget).
WIDGET_FAILURE = re.compile(r"The `[^`]+` widget failed")
T = TypeVar("T")
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # a page with many plotly figures sends large deltas


def run(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coro)` in a thread of its own, so it works where an event loop already runs
    in this thread (Playwright's sync API keeps one in the test session's main thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class ProtocolError(RuntimeError):
    """The server sent something this client does not handle (e.g. a ref_hash reference)."""


@dataclass(frozen=True)
class PageElement:
    kind: str  # the Element oneof: "alert", "exception", "plotly_chart", "slider", "markdown" ...
    path: tuple[int, ...]  # metadata.delta_path: container, then positions
    proto: Element
    fragment_id: str = ""

    @property
    def body(self) -> Any:
        """The element's own message (e.g. the `Alert` of an alert)."""
        return getattr(self.proto, self.kind)

    @property
    def widget_id(self) -> str:
        return getattr(self.body, "id", "") or ""


@dataclass(frozen=True)
class AlertText:
    format: str  # ERROR, WARNING, INFO, SUCCESS
    body: str


@dataclass
class RunResult:
    """What a page shows after one script run, as the browser would hold it."""

    status: str  # FINISHED_SUCCESSFULLY, FINISHED_FRAGMENT_RUN_SUCCESSFULLY, ... or "closed"
    elements: list[PageElement]
    page_not_found: bool = False
    page_script_hash: str = ""
    sent_at: float = 0.0  # time.monotonic() when the rerun request left
    finished_at: float = 0.0  # time.monotonic() when script_finished arrived
    last_delta_at: float = 0.0  # time.monotonic() of the run's last delta (0: none)
    messages: int = 0

    @property
    def finished(self) -> bool:
        return self.status.startswith("FINISHED")

    def of_kind(self, kind: str) -> list[PageElement]:
        return [e for e in self.elements if e.kind == kind]

    def count(self, kind: str) -> int:
        return len(self.of_kind(kind))

    @property
    def exceptions(self) -> list[str]:
        """Every exception element as `Type: message`."""
        return [f"{e.body.type}: {e.body.message}" for e in self.of_kind("exception")]

    @property
    def alerts(self) -> list[AlertText]:
        return [
            AlertText(Alert.Format.Name(e.body.format), e.body.body) for e in self.of_kind("alert")
        ]

    @property
    def widget_failures(self) -> list[str]:
        return [a.body for a in self.alerts if WIDGET_FAILURE.search(a.body)]

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.elements]


class StreamlitSession:
    """One browser tab: a websocket session on a running `streamlit run`."""

    def __init__(self, base_url: str, *, timeout: float = 120) -> None:
        parts = urlsplit(base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.ws_url = f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/_stcore/stream"
        self.timeout = timeout
        self.navigation: list[dict[str, str]] = []  # the app's pages, from the navigation msg
        self.page_script_hash = ""
        self._ws: ClientConnection | None = None
        self._elements: dict[tuple[int, ...], PageElement] = {}
        self._widget_states: dict[str, WidgetState] = {}
        self._last_delta_at = 0.0

    async def __aenter__(self) -> StreamlitSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        self._ws = await connect(
            self.ws_url,
            subprotocols=[Subprotocol("streamlit")],
            origin=Origin(self.origin),
            max_size=MAX_MESSAGE_BYTES,
            open_timeout=self.timeout,
            ping_interval=None,  # a server busy for seconds must not look dead
            compression=None,
        )

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    # ------------------------------------------------------------------ requests

    async def send_open(self, page_name: str = "", query: str = "") -> float:
        """Ask for a page by its URL path, as a deep link does; returns when it was sent."""
        msg = BackMsg()
        msg.rerun_script.page_name = page_name
        msg.rerun_script.query_string = query.removeprefix("?")
        msg.rerun_script.page_script_hash = ""
        return await self._send(msg)

    async def open(self, page_name: str = "", query: str = "") -> RunResult:
        sent = await self.send_open(page_name, query)
        return await self.wait_finished(sent)

    async def set_widget(self, key: str, **value: Any) -> RunResult:
        """Change the widget whose id ends with `-<key>` (a user key) and wait for the rerun.

        `value` is one WidgetState field, as the frontend would set it: a slider is
        `double_array_value=[4]`, a checkbox `bool_value=True`, a number input `int_value=3`
        or `double_value=...`, a selectbox `int_value=index`, a button `trigger_value=True`.
        """
        element = self.widget(key)
        state = WidgetState(id=element.widget_id)
        for name, val in value.items():
            target = getattr(state, name)
            if hasattr(target, "data"):
                target.data.extend(val)
            else:
                setattr(state, name, val)
        if not state.trigger_value:
            self._widget_states[state.id] = state
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.page_script_hash = self.page_script_hash
        rerun.widget_states.widgets.extend([*self._widget_states.values()])
        if state.trigger_value:
            rerun.widget_states.widgets.append(state)
        if element.fragment_id:
            rerun.fragment_id = element.fragment_id
        sent = await self._send(msg)
        return await self.wait_finished(sent)

    def widget(self, key: str) -> PageElement:
        matches = [e for e in self._elements.values() if e.widget_id.endswith(f"-{key}")]
        if len(matches) != 1:
            found = sorted(e.widget_id for e in self._elements.values() if e.widget_id)
            raise LookupError(f"{len(matches)} widgets with key {key!r}; widgets: {found}")
        return matches[0]

    async def _send(self, msg: BackMsg) -> float:
        if self._ws is None:
            raise RuntimeError("not connected")
        sent = time.monotonic()
        await self._ws.send(msg.SerializeToString())
        return sent

    # ------------------------------------------------------------------ responses

    async def wait_finished(self, sent_at: float | None = None) -> RunResult:
        """Read ForwardMsgs until the run ends (a run stopped early for a rerun is skipped)."""
        sent_at = time.monotonic() if sent_at is None else sent_at
        touched: set[tuple[int, ...]] = set()
        not_found = False
        count = 0
        self._last_delta_at = 0.0
        deadline = sent_at + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._result("timeout", not_found, sent_at, count)
            try:
                raw = await asyncio.wait_for(self._recv(), remaining)
            except TimeoutError:
                return self._result("timeout", not_found, sent_at, count)
            if raw is None:
                return self._result("closed", not_found, sent_at, count)
            count += 1
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "ref_hash":
                raise ProtocolError("got a ref_hash reference, though no cached hashes were sent")
            if kind == "new_session":
                self.page_script_hash = msg.new_session.page_script_hash
                touched.clear()
            elif kind == "page_info_changed" or kind == "navigation":
                if kind == "navigation":
                    self.page_script_hash = msg.navigation.page_script_hash
                    self.navigation = [
                        {
                            "url_pathname": p.url_pathname,
                            "page_name": p.page_name,
                            "section": p.section_header,
                            "page_script_hash": p.page_script_hash,
                        }
                        for p in msg.navigation.app_pages
                    ]
            elif kind == "page_not_found":
                not_found = True
            elif kind == "delta":
                self._last_delta_at = time.monotonic()
                path = tuple(msg.metadata.delta_path)
                touched.add(path)
                if msg.delta.WhichOneof("type") == "new_element":
                    element = msg.delta.new_element
                    self._elements[path] = PageElement(
                        element.WhichOneof("type") or "",
                        path,
                        element,
                        msg.delta.fragment_id,
                    )
                elif msg.delta.WhichOneof("type") == "add_block":
                    # A container replaces whatever element stood at its path.
                    self._elements.pop(path, None)
            elif kind == "script_finished":
                status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
                if status == "FINISHED_EARLY_FOR_RERUN":
                    continue
                self._drop_stale(touched, status)
                return self._result(status, not_found, sent_at, count)

    async def _recv(self) -> bytes | None:
        assert self._ws is not None
        try:
            data = await self._ws.recv()
        except Exception:  # closed by the server, or the connection broke
            return None
        return data if isinstance(data, bytes) else data.encode()

    def _drop_stale(self, touched: set[tuple[int, ...]], status: str) -> None:
        """What the frontend's clearStaleNodes does: elements this run did not send go away.

        A fragment run only replaces what lives in that fragment.
        """
        fragment_run = status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"
        fragments = {self._elements[p].fragment_id for p in touched if p in self._elements}
        for path, element in list(self._elements.items()):
            if path in touched:
                continue
            if not fragment_run or (element.fragment_id and element.fragment_id in fragments):
                del self._elements[path]

    def _result(self, status: str, not_found: bool, sent_at: float, count: int) -> RunResult:
        return RunResult(
            status=status,
            elements=[self._elements[p] for p in sorted(self._elements)],
            page_not_found=not_found,
            page_script_hash=self.page_script_hash,
            sent_at=sent_at,
            finished_at=time.monotonic(),
            last_delta_at=self._last_delta_at,
            messages=count,
        )


# ---------------------------------------------------------------------- many sessions at once


@dataclass
class Visit:
    """One session of a burst: which page it asked for, what it got, and when."""

    page: str
    started_at: float  # the burst's common start (time.monotonic())
    connected_at: float = 0.0
    result: RunResult | None = None
    error: str = ""
    navigation: list[dict[str, str]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Burst start until this session's script_finished (inf if it never came)."""
        if self.result is None or not self.result.finished:
            return float("inf")
        return self.result.finished_at - self.started_at

    @property
    def problems(self) -> list[str]:
        """Why this visit is not a good, complete page (empty when it is)."""
        if self.error:
            return [f"{self.page}: {self.error}"]
        assert self.result is not None
        out = [f"{self.page}: exception {e}" for e in self.result.exceptions]
        out += [f"{self.page}: {w}" for w in self.result.widget_failures]
        if self.result.page_not_found:
            out.append(f"{self.page}: page not found")
        if self.result.status != "FINISHED_SUCCESSFULLY":
            out.append(f"{self.page}: script {self.result.status}")
        return out


async def burst(
    base_url: str,
    pages: Sequence[str],
    *,
    connect_first: bool = False,
    timeout: float = 120,
) -> list[Visit]:
    """Open one session per entry of `pages`, all at the same instant; one Visit each.

    `connect_first=False` is a class clicking a link: every session connects and asks for its
    page as soon as its socket is open, and times count from the common start.
    `connect_first=True` opens every socket first and then sends all page requests back to
    back, so the script runs start as close together as the server allows (the harshest race).
    """
    sessions = [StreamlitSession(base_url, timeout=timeout) for _ in pages]
    start = time.monotonic()
    visits = [Visit(page, start) for page in pages]

    async def connect(i: int) -> None:
        try:
            await sessions[i].connect()
            visits[i].connected_at = time.monotonic()
        except Exception as exc:
            visits[i].error = f"connect failed: {exc!r}"

    async def run(i: int, *, send: bool) -> None:
        visit, session = visits[i], sessions[i]
        if visit.error:
            return
        try:
            sent = await session.send_open(visit.page) if send else visit.started_at
            visit.result = await session.wait_finished(sent)
            visit.navigation = session.navigation
        except Exception as exc:
            visit.error = f"{type(exc).__name__}: {exc}"

    async def visit_page(i: int) -> None:
        await connect(i)
        await run(i, send=True)

    try:
        if connect_first:
            await asyncio.gather(*(connect(i) for i in range(len(pages))))
            start = time.monotonic()
            sends = []
            for i, visit in enumerate(visits):
                visit.started_at = start
                if not visit.error:
                    sends.append(sessions[i].send_open(visit.page))
            await asyncio.gather(*sends)
            await asyncio.gather(*(run(i, send=False) for i in range(len(pages))))
        else:
            await asyncio.gather(*(visit_page(i) for i in range(len(pages))))
    finally:
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    return visits
