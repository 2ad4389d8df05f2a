"""Wait for the script run an interaction starts, by the websocket message that ends it.

`page.wait_for_load_state("networkidle")` is no such wait: Playwright fires a document's
lifecycle states once and afterwards answers at once (`Frame.waitForLoadState` returns when
`_firedLifecycleEvents` already holds the state), and a Streamlit rerun travels over the open
websocket, which the network-idle count leaves out anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


def _finishes_a_run(payload: str | bytes) -> bool:
    if isinstance(payload, str):
        return False
    msg = ForwardMsg()
    msg.ParseFromString(payload)
    return msg.WhichOneof("type") == "script_finished"


@contextmanager
def one_run(socket) -> Iterator[None]:
    """After the block's action, wait until the app's websocket `socket` (Playwright's) brings
    the `script_finished` that ends the run it started. No run may be under way on entry."""
    with socket.expect_event("framereceived", predicate=_finishes_a_run):
        yield
