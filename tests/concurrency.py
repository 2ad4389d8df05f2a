"""Helpers for tests that show a race deterministically: count waiters instead of sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class WatchedLock:
    """A threading.Lock that counts the threads that have asked for it.

    Put it in place of a module's lock, block the first holder inside its work, and wait until
    every other thread has asked: then "nobody did the work twice" is a fact, not a timing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._meta = threading.Lock()
        self.asked = 0

    def __enter__(self) -> WatchedLock:
        with self._meta:
            self.asked += 1
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Poll `condition` until it holds; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.001)  # polling a condition, bounded by the deadline
